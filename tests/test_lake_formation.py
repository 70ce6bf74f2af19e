"""Lake Formation and lineage, proved on the shipped stacks.

- The platform stacks own what AWS keeps once per account: data lake settings (the configured
  administrators, no IAMAllowedPrincipals default), the LF-tag keys, the catalog's encryption
  (judged by the pack's `glue-data-catalog-encryption`) and the lineage reader role.
- The BU stacks register their offline store, tag their database and tables, and grant their
  personas by tag expression. `estate.analysis.lake_formation` then evaluates every persona
  against every offline table of two BUs rendered into one account: each persona reads exactly
  its own BU's tables (restricted columns hidden unless it is a restricted-column reader), and
  nothing of the other BU.
- Lineage: the IAM evaluator shows no BU role may read SageMaker ML lineage, the roles that run
  jobs may post it (in their own BU's names only), and the platform's lineage reader may read it.
"""

from __future__ import annotations

import json
import re

import pytest

from estate.analysis.iam import Principal, Request, evaluate
from estate.analysis.lake_formation import (
    Grant,
    LakeFormation,
    Table,
    from_inventories,
    tag_values,
)
from estate.stack.config import ConfigError, split_namespace, validate_config
from tests.conftest import render_config, shipped_config
from tests.test_isolation import FRAUD, marketing_beside_fraud, world

LINEAGE_READ_REQUESTS = (
    "sagemaker:QueryLineage",
    "sagemaker:ListArtifacts",
    "sagemaker:ListContexts",
)


def of_type(inventory, suffix: str):
    return [r for r in inventory.resources if r.type.endswith(suffix)]


def persona_arns(inventory, bu: str) -> dict[str, str]:
    account = inventory.config["ai-estate:accountId"]
    env = inventory.config["ai-estate:environment"]
    found = {}
    for role in of_type(inventory, "iam/role:Role"):
        if role.inputs.get("path") == f"/ai-estate/{bu}/":
            who = role.inputs["name"].removeprefix(f"{bu}-{env}-")
            found[who] = f"arn:aws:iam::{account}:role/ai-estate/{bu}/{role.inputs['name']}"
    return found


# -- the evaluator against Lake Formation's documented semantics ------------------------------


def test_a_table_tag_overrides_the_inherited_database_tag_of_the_same_key():
    lf = LakeFormation(
        database_tags={"db": {"BusinessUnit": "fraud", "DataClassification": "restricted"}},
        table_tags={("db", "t"): {"DataClassification": "confidential"}},
    )
    assert lf.tags_of("db", "t") == {"BusinessUnit": "fraud", "DataClassification": "confidential"}
    assert lf.tags_of("db", "u")["DataClassification"] == "restricted"


def test_an_expression_ands_its_keys_and_ors_each_keys_values():
    table = Table("db", "t", ("a", "b"))
    lf = LakeFormation(
        database_tags={"db": {"BusinessUnit": "fraud", "DataClassification": "internal"}}
    )
    both = (
        ("BusinessUnit", frozenset({"fraud"})),
        ("DataClassification", frozenset({"public", "internal"})),
    )
    lf.grants = [Grant("p", frozenset({"SELECT"}), "TABLE", both)]
    assert lf.selectable_columns("p", table) == {"a", "b"}
    lf.grants = [
        Grant(
            "p",
            frozenset({"SELECT"}),
            "TABLE",
            (both[0], ("DataClassification", frozenset({"restricted"}))),
        )
    ]
    assert lf.selectable_columns("p", table) == set()
    assert not lf.describes("p", "db", "t")


def test_a_cells_filter_hides_its_excluded_columns_and_grants_add_up():
    table = Table("db", "t", ("id", "amount", "x"))
    lf = LakeFormation(
        filters={("db", "t", "f"): {"columnWildcard": {"excludedColumnNames": ["amount"]}}},
        grants=[Grant("p", frozenset({"SELECT"}), database="db", table="t", cells_filter="f")],
    )
    assert lf.selectable_columns("p", table) == {"id", "x"}
    lf.grants.append(Grant("p", frozenset({"SELECT"}), database="db", table="t"))
    assert lf.selectable_columns("p", table) == {"id", "amount", "x"}


# -- the platform: account-wide settings -------------------------------------------------------


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_the_platform_owns_the_account_wide_settings(rendered, stack):
    inventory = rendered(stack)
    config = inventory.config
    [settings] = of_type(inventory, "DataLakeSettings")
    assert settings.inputs["admins"] == config["ai-estate:dataGovernance"]["lakeFormationAdmins"]
    assert not settings.inputs.get("createDatabaseDefaultPermissions")
    assert not settings.inputs.get("createTableDefaultPermissions")
    tags = {t.inputs["key"]: t.inputs["values"] for t in of_type(inventory, "lfTag:LfTag")}
    assert tags == {
        "BusinessUnit": sorted(config["ai-estate:businessUnits"]),
        "DataClassification": ["public", "internal", "confidential", "restricted"],
    }
    [encryption] = of_type(inventory, "DataCatalogEncryptionSettings")
    rest = encryption.inputs["dataCatalogEncryptionSettings"]["encryptionAtRest"]
    platform_key = inventory.outputs["platformKeyArn"]
    assert rest["catalogEncryptionMode"] == "SSE-KMS-WITH-SERVICE-ROLE"
    assert rest["sseAwsKmsKeyId"] == platform_key
    passwords = encryption.inputs["dataCatalogEncryptionSettings"]["connectionPasswordEncryption"]
    assert passwords == {"returnConnectionPasswordEncrypted": True, "awsKmsKeyId": platform_key}
    # Glue uses the key as its own role: BU roles (whose boundary denies other keys) still read.
    [role] = [
        r for r in of_type(inventory, "iam/role:Role") if r.name.endswith("catalog-encryption-role")
    ]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "glue.amazonaws.com"
    }
    # No BU stack renders an account-wide setting.
    for bu in ("fraud-prod", "marketing-dev"):
        types = {r.type for r in rendered(bu).resources}
        assert not {
            t
            for t in types
            if t.endswith(("DataLakeSettings", "LfTag", "DataCatalogEncryptionSettings"))
        }


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_the_pack_judges_the_shipped_catalog_encryption(rendered, stack):
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "tests" / "policies"))
    sys.path.insert(0, str(ROOT / "policies"))
    from policy_harness import check

    inventory = rendered(stack)
    assert of_type(inventory, "DataCatalogEncryptionSettings")
    assert check("glue-data-catalog-encryption", inventory) == []


# -- the BUs: registration, tags, grants -------------------------------------------------------


def test_the_offline_store_is_registered_in_hybrid_mode_as_the_bu_role(rendered):
    inventory = rendered(FRAUD)
    [location] = of_type(inventory, "lakeformation/resource:Resource")
    bucket = inventory.outputs["featureStore"]["offlineBucketName"]
    assert location.inputs["arn"] == f"arn:aws:s3:::{bucket}/offline"
    assert location.inputs["hybridAccessEnabled"] is True
    assert location.inputs["roleArn"].endswith(":role/fraud-prod-lake-formation")
    # The bucket's BU-only data deny lets that role vend the data.
    [policy] = [
        json.loads(p.inputs["policy"])
        for p in of_type(inventory, "bucketPolicy:BucketPolicy")
        if bucket in p.inputs["policy"] and "fraud-prod-lake-formation" in p.inputs["policy"]
    ]
    assert policy


def test_hybrid_access_off_registers_in_lake_formation_mode_without_opt_ins():
    config = shipped_config(FRAUD)
    config["ai-estate:lakeFormation"]["hybridAccess"] = False
    inventory = render_config(FRAUD, config)
    [location] = of_type(inventory, "lakeformation/resource:Resource")
    assert location.inputs["hybridAccessEnabled"] is False
    assert not of_type(inventory, "optIn:OptIn")


def test_database_and_tables_carry_the_bu_and_classification_tags(rendered):
    lf = from_inventories(rendered(FRAUD))
    assert lf.database_tags == {
        "fraud_prod_features": {"BusinessUnit": "fraud", "DataClassification": "restricted"}
    }
    assert {t.name: lf.tags_of(t.database, t.name)["DataClassification"] for t in lf.tables} == {
        "fraud_prod_transactions": "restricted",  # it has a restricted column
        "fraud_prod_merchants": "confidential",
    }


def test_every_bu_grant_by_tag_names_only_its_own_bu():
    fraud, marketing = _render_both()
    for inventory, bu in ((fraud, "fraud"), (marketing, "marketing")):
        mine = set(persona_arns(inventory, bu).values())
        grants = from_inventories(inventory).grants
        assert grants
        for g in grants:
            if g.resource_type:
                assert tag_values(g, "BusinessUnit") == frozenset({bu}), g
                assert g.principal in mine, g


def _render_both():
    from tests.conftest import _render

    return _render(FRAUD), marketing_beside_fraud()


def test_each_persona_reads_exactly_its_own_bus_offline_tables():
    fraud, marketing = _render_both()
    lf = from_inventories(fraud, marketing)
    tables = {t.name: t for t in lf.tables}
    everything = {name: set(t.columns) for name, t in tables.items()}
    expected: dict[tuple[str, str], dict[str, set[str]]] = {}
    for inventory, bu in ((fraud, "fraud"), (marketing, "marketing")):
        own = {n for n in tables if n.startswith(f"{bu}_")}
        arns = persona_arns(inventory, bu)
        for persona in arns:
            reads: dict[str, set[str]] = {}
            # the retraining jobs' role reads what it trains on, restricted columns only if
            # it is a restrictedColumnReader (fraud-prod names only the ml-engineer)
            if persona in ("data-scientist", "ml-engineer", "model-trainer"):
                reads = {n: everything[n] for n in own}
                if bu == "fraud" and persona in ("data-scientist", "model-trainer"):
                    reads["fraud_prod_transactions"] = everything["fraud_prod_transactions"] - {
                        "amount_usd"
                    }
            expected[(bu, persona)] = reads
    for inventory, bu in ((fraud, "fraud"), (marketing, "marketing")):
        for persona, arn in persona_arns(inventory, bu).items():
            got = {
                name: cols for name, t in tables.items() if (cols := lf.selectable_columns(arn, t))
            }
            assert got == expected[(bu, persona)], (bu, persona)
            described = {n for n, t in tables.items() if lf.describes(arn, t.database, t.name)}
            own = {n for n in tables if n.startswith(f"{bu}_")}
            describers = ("data-scientist", "ml-engineer", "auditor", "model-trainer")
            assert described == (own if persona in describers else set()), (bu, persona)


def test_restricted_column_readers_come_from_config():
    config = shipped_config(FRAUD)
    config["ai-estate:lakeFormation"]["restrictedColumnReaders"] = ["data-scientist"]
    inventory = render_config(FRAUD, config)
    lf = from_inventories(inventory)
    arns = persona_arns(inventory, "fraud")
    [transactions] = [t for t in lf.tables if t.name == "fraud_prod_transactions"]
    assert "amount_usd" in lf.selectable_columns(arns["data-scientist"], transactions)
    assert "amount_usd" not in lf.selectable_columns(arns["ml-engineer"], transactions)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            {"restrictedColumns": {"transactions": ["card_number"]}},
            "restrictedColumns.transactions[0]",
        ),
        ({"restrictedColumns": {"payments": ["amount_usd"]}}, "restrictedColumns.payments"),
        ({"restrictedColumnReaders": ["auditor"]}, "restrictedColumnReaders[0]"),
    ],
)
def test_restricted_columns_must_name_offline_features_and_reading_personas(change, key):
    config = shipped_config(FRAUD)
    config["ai-estate:lakeFormation"] = change
    with pytest.raises(ConfigError, match=re.escape(f"lakeFormation.{key}")):
        validate(config)


def validate(config):
    values = split_namespace(config)
    return validate_config(values, "stacks/Pulumi.x.yaml")


def test_account_wide_settings_are_refused_on_bu_stacks():
    config = shipped_config(FRAUD)
    config["ai-estate:dataGovernance"] = {"lineageReaders": ["arn:aws:iam::222222222222:role/x"]}
    with pytest.raises(ConfigError, match=r"dataGovernance.*platform stacks"):
        validate(config)
    config = shipped_config("platform-prod")
    config["ai-estate:lakeFormation"] = {"hybridAccess": False}
    with pytest.raises(ConfigError, match=r"lakeFormation.*BU stacks"):
        validate(config)


def test_without_administrators_the_accounts_settings_are_left_alone():
    config = shipped_config("platform-prod")
    config["ai-estate:dataGovernance"] = {"lineageReaders": []}
    inventory = render_config("platform-prod", config)
    assert not of_type(inventory, "DataLakeSettings")
    assert not [r for r in inventory.resources if r.name.endswith("lineage-reader")]
    assert of_type(inventory, "DataCatalogEncryptionSettings")  # still encrypted


# -- lineage -----------------------------------------------------------------------------------


def _lineage_reader(platform) -> Principal:
    account = platform.config["ai-estate:accountId"]
    [role] = [r for r in of_type(platform, "iam/role:Role") if r.name.endswith("lineage-reader")]
    [policy] = [
        json.loads(p.inputs["policy"])
        for p in of_type(platform, "rolePolicy:RolePolicy")
        if p.property_dependencies.get("role") == [role.urn]
    ]
    return Principal(
        f"arn:aws:iam::{account}:role/{role.inputs['name']}", identity_policies=(policy,)
    )


def test_no_bu_role_reads_lineage_and_the_platform_reader_does(rendered):
    platform = rendered("platform-prod")
    reader = _lineage_reader(platform)
    for action in LINEAGE_READ_REQUESTS:
        assert evaluate(Request(reader, action, "*")).allowed, action
    for inventory in (rendered(FRAUD), rendered("marketing-dev"), marketing_beside_fraud()):
        w = world(inventory)
        for who, principal in {**w.principals, **w.service_roles}.items():
            for action in LINEAGE_READ_REQUESTS:
                decision = evaluate(Request(principal, action, "*"))
                assert not decision.allowed, f"{w.stack} {who} {action}: {decision.reason}"


def test_the_roles_that_run_jobs_post_lineage_in_their_own_bu_only(rendered):
    fraud, marketing = world(rendered(FRAUD)), world(marketing_beside_fraud())
    for w, other in ((fraud, marketing), (marketing, fraud)):
        own = f"arn:aws:sagemaker:{w.region}:{w.account}:action/{w.prefix}-train-42"
        theirs = f"arn:aws:sagemaker:{other.region}:{other.account}:action/{other.prefix}-train-42"
        # contexts are named the same way; CreateContext on the other BU's is refused too
        for who in ("model-publisher", "ml-engineer"):
            principal = w.principals[who]
            for action in ("sagemaker:CreateAction", "sagemaker:CreateContext"):
                assert evaluate(Request(principal, action, own)).allowed, (w.stack, who, action)
                assert not evaluate(Request(principal, action, theirs)).allowed, (w.stack, who)
        for who in ("data-scientist", "feature-reader"):
            if who in w.principals:
                assert not evaluate(
                    Request(w.principals[who], "sagemaker:CreateAction", own)
                ).allowed


def test_lineage_readers_are_the_configured_platform_principals(rendered):
    platform = rendered("platform-prod")
    [role] = [r for r in of_type(platform, "iam/role:Role") if r.name.endswith("lineage-reader")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == sorted(
        platform.config["ai-estate:dataGovernance"]["lineageReaders"]
    )
    assert platform.outputs["dataGovernance"]["lineageReaderRoleArn"].endswith(
        ":role/platform-prod-lineage-reader"
    )


# -- cost and critical path ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", [FRAUD, "platform-prod"])
def test_the_new_types_cost_nothing_and_take_api_call_time(rendered, stack):
    from estate.analysis.cost import cost_for
    from estate.analysis.critical_path import critical_path, load_create_times

    inventory = rendered(stack)
    new = {
        r.type
        for r in inventory.resources
        if r.type.startswith("aws:lakeformation/")
        or r.type.endswith("DataCatalogEncryptionSettings")
    }
    assert new
    estimate = cost_for(inventory)
    assert not [i for i in estimate["items"] if i["type"] in new]
    times = load_create_times()
    assert all(times.of(t) == 0.05 for t in new)
    assert critical_path(inventory)["criticalPathMinutes"] > 0
