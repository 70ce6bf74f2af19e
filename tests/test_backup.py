"""AWS Backup of the shipped BU stacks: what is selected (as AWS Backup matches it), the vaults,
their locks, the DR copy, restore tests, and the access the backup role really has."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from estate.analysis.iam import Principal, Request, evaluate
from estate.offline.model import Inventory, Resource
from tests.conftest import ROOT, render_config, shipped_config
from tests.test_config_hardening import both, make_project

sys.path.insert(0, str(ROOT / "policies"))
from governance.backup import data_stores, selects, uncovered

from tests.policies.policy_harness import stack_args

SELECTION = "aws:backup/selection:Selection"
VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"


def of(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def one(inventory: Inventory, type_: str, name_part: str = "") -> Resource:
    [found] = [r for r in of(inventory, type_) if name_part in r.name]
    return found


def render_changed(stack: str, change) -> Inventory:
    """The shipped stack rendered after `change(config)`."""
    config = shipped_config(stack)
    change(config)
    return render_config(stack, config)


def policy_resources(inventory: Inventory):
    return stack_args(inventory).resources


# -- what the shipped stacks select ---------------------------------------------------------


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_every_data_store_is_selected_and_logs_are_not(rendered, stack):
    resources = policy_resources(rendered(stack))
    stores = data_stores(resources)
    kinds = {r.resource_type for r in stores}
    # liveness: the coverage check sees the stores it must protect
    assert "aws:s3/bucket:Bucket" in kinds
    if stack == "fraud-prod":
        assert "aws:dynamodb/table:Table" in kinds
    assert not any("access-logs" in r.name for r in stores)
    assert uncovered(resources) == []


def test_selection_names_the_stores_and_filters_by_the_bu_tag(rendered):
    inventory = rendered("fraud-prod")
    selection = one(inventory, SELECTION)
    patterns = selection.inputs["resources"]
    assert "arn:aws:dynamodb:us-east-1:222222222222:table/fraud-prod-card-velocity" in patterns
    buckets = {p for p in patterns if p.startswith("arn:aws:s3:::")}
    assert {b.split(":::")[1].split("-")[2] for b in buckets} == {"features", "models"}
    [condition] = selection.inputs["conditions"]
    assert condition["stringEquals"] == [{"key": "aws:ResourceTag/BusinessUnit", "value": "fraud"}]


def test_another_bus_table_is_not_selected(rendered):
    """The selection filters its patterns by the BU tag: a table of another BU with a name the
    pattern would match still stays out (AWS Backup ANDs resources and conditions)."""
    resources = policy_resources(rendered("fraud-prod"))
    [selection] = [r for r in resources if r.resource_type == SELECTION]
    [table] = [r for r in resources if r.resource_type == "aws:dynamodb/table:Table"]
    assert selects(selection, table, {"BusinessUnit": "fraud"})
    assert not selects(selection, table, {"BusinessUnit": "marketing"})
    assert not selects(selection, table, {})


def test_turning_backup_off_leaves_every_store_uncovered():
    inventory = render_changed(
        "marketing-dev", lambda c: c.update({"ai-estate:backup": {"enabled": False}})
    )
    assert not of(inventory, SELECTION)
    resources = policy_resources(inventory)
    assert {r.name for r in uncovered(resources)} == {r.name for r in data_stores(resources)}
    assert uncovered(resources)


# -- vaults, locks, plan, DR and restore tests ----------------------------------------------


def test_prod_vaults_are_compliance_locked_under_their_keys(rendered):
    inventory = rendered("fraud-prod")
    vaults = {v.inputs["name"]: v for v in of(inventory, VAULT)}
    assert set(vaults) == {"fraud-prod-vault", "fraud-prod-dr-vault"}
    locks = {lock.inputs["backupVaultName"]: lock.inputs for lock in of(inventory, LOCK)}
    for name in vaults:
        assert locks[name]["changeableForDays"] == 3
        assert locks[name]["minRetentionDays"] == 35
    dr = vaults["fraud-prod-dr-vault"]
    assert dr.inputs["region"] == "us-west-2"
    dr_keys = [
        k
        for k in of(inventory, "aws:kms/key:Key")
        if k.inputs.get("region") == "us-west-2" and "backup" in k.name
    ]
    assert len(dr_keys) == 1 and dr_keys[0].inputs["enableKeyRotation"] is True
    assert dr.property_dependencies["kmsKeyArn"] == [dr_keys[0].urn]
    main_key = vaults["fraud-prod-vault"].property_dependencies["kmsKeyArn"]
    assert main_key and main_key != [dr_keys[0].urn]


def test_dev_vault_lock_is_governance_mode_and_no_dr_copy(rendered):
    inventory = rendered("marketing-dev")
    [lock] = of(inventory, LOCK)
    assert lock.inputs.get("changeableForDays") is None
    [rule] = one(inventory, PLAN).inputs["rules"]
    assert not rule.get("copyActions")


def test_plan_follows_the_rpo_retention_and_copies_to_the_dr_vault(rendered):
    inventory = rendered("fraud-prod")
    [rule] = one(inventory, PLAN).inputs["rules"]
    assert rule["schedule"] == "cron(0 0/4 * * ? *)"
    assert rule["lifecycle"]["deleteAfter"] == 35
    assert rule["completionWindow"] >= rule["startWindow"] + 60
    [copy_action] = rule["copyActions"]
    destination = copy_action["destinationVaultArn"]
    assert destination.startswith("arn:aws:backup:us-west-2:222222222222:")
    assert destination.endswith("fraud-prod-dr-vault")
    assert copy_action["lifecycle"]["deleteAfter"] == 35


def test_restore_tests_cover_each_store_type_with_valid_names(rendered):
    inventory = rendered("fraud-prod")
    [plan] = of(inventory, "aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert re.fullmatch(r"[A-Za-z0-9_]+", plan.inputs["name"])
    selections = of(inventory, "aws:backup/restoreTestingSelection:RestoreTestingSelection")
    assert {s.inputs["protectedResourceType"] for s in selections} == {"DynamoDB", "S3"}
    for s in selections:
        assert re.fullmatch(r"[A-Za-z0-9_]+", s.inputs["name"])
        assert s.inputs["protectedResourceConditions"]["stringEquals"] == [
            {"key": "aws:ResourceTag/BusinessUnit", "value": "fraud"}
        ]


# -- the backup role can read the BU's data; other BUs still cannot -------------------------


def bucket_policy(inventory: Inventory, purpose: str) -> tuple[str, dict[str, Any]]:
    buckets = {r.urn: r for r in of(inventory, "aws:s3/bucket:Bucket")}
    for r in of(inventory, "aws:s3/bucketPolicy:BucketPolicy"):
        if purpose in r.name:
            [bucket_urn] = r.property_dependencies["bucket"]
            return buckets[bucket_urn].inputs["bucket"], json.loads(r.inputs["policy"])
    raise AssertionError(f"no {purpose} bucket policy")


S3_BACKUP_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject")
ALL = (
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)


@pytest.mark.parametrize("purpose", ["features-offline", "registry-artifacts"])
def test_backup_role_passes_the_bu_only_bucket_policy(rendered, purpose):
    inventory = rendered("fraud-prod")
    name, policy = bucket_policy(inventory, purpose)
    role = one(inventory, "aws:iam/role:Role", "backup-role")
    assert role.inputs["name"] == "fraud-prod-backup"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    backup = Principal(
        arn="arn:aws:iam::222222222222:role/fraud-prod-backup", identity_policies=ALL
    )
    other = Principal(
        arn="arn:aws:iam::222222222222:role/marketing-prod-backup", identity_policies=ALL
    )
    for action in S3_BACKUP_ACTIONS:
        resource = f"arn:aws:s3:::{name}" if action == "s3:ListBucket" else f"arn:aws:s3:::{name}/x"
        decision = evaluate(Request(backup, action, resource, resource_policy=policy))
        assert decision, decision.reason
        assert not evaluate(Request(other, action, resource, resource_policy=policy))


def test_backup_role_key_policy_names_both_keys(rendered):
    inventory = rendered("fraud-prod")
    policy = one(inventory, "aws:iam/rolePolicy:RolePolicy", "backup-role-key")
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert len(statement["Resource"]) == 2
    assert "kms:Decrypt" in statement["Action"]
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in of(inventory, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "backup-role" in a.name
    }
    assert attached == {
        "AWSBackupServiceRolePolicyForBackup",
        "AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Backup",
        "AWSBackupServiceRolePolicyForS3Restore",
    }


# -- config errors: one sentence, file and key, non-zero exit ---------------------------------


def _break(project, stack: str, edit) -> list[str]:
    import yaml

    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["config"])
    path.write_text(yaml.safe_dump(doc))
    return both(project, stack)


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (
            lambda c: c["ai-estate:backup"].update(drRegion="us-east-1"),
            "ai-estate:backup.drRegion",
            "must differ",
        ),
        (
            lambda c: c["ai-estate:backup"].update(enabled=False),
            "ai-estate:backup.enabled",
            "must stay true",
        ),
        (lambda c: c["ai-estate:backup"].update(rpoHours=5), "ai-estate:backup.rpoHours", "24"),
        (
            lambda c: c["ai-estate:backup"].update(drRegion="us-wets-2"),
            "ai-estate:backup.drRegion",
            "AWS region",
        ),
    ],
)
def test_bad_backup_config_names_file_and_key(tmp_path, edit, key, words):
    """validate, check and preview agree: exit 2, one line naming the file and the key."""
    lines = _break(make_project(tmp_path / "project"), "fraud-prod", edit)
    assert len(lines) == 1, lines
    [line] = lines
    assert "Pulumi.fraud-prod.yaml" in line and key in line and words in line, line


def test_cost_itemises_each_vault_and_idle_stays_small(rendered):
    from estate.analysis.cost import cost_for

    items = [i for i in cost_for(rendered("fraud-prod"))["items"] if i["type"] == VAULT]
    assert len(items) == 2  # the BU vault and its DR copy
    for item in items:
        assert 0 < item["idle"] < item["typical"] < item["peak"]
        assert item["description"].startswith("AWS Backup warm storage")


def test_prod_without_a_dr_region_is_refused_by_the_pack_not_the_schema():
    """Leaving `drRegion` out is valid config (data residency may forbid a second region); the
    pack's prod rule then blocks until it is set or waived."""
    from estate.offline.runner import run_pack

    def no_dr(c):
        c["ai-estate:backup"].pop("drRegion")

    inventory = render_changed("fraud-prod", no_dr)
    assert not [v for v in of(inventory, VAULT) if "dr-vault" in v.name]
    run = run_pack(ROOT / "policies", inventory)
    # The model artifacts' replica follows the DR region too (components/replication.py).
    assert {f.policy for f in run.findings} == {
        "backup-copies-out-of-region",
        "artifact-bucket-replicated",
    }
    [finding] = [f for f in run.findings if f.policy == "backup-copies-out-of-region"]
    assert finding.enforcement == "mandatory"


# -- the shared EKS cluster: backed up by the platform stack ----------------------------------


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_platform_stacks_back_up_the_shared_cluster_under_the_platform_key(rendered, stack):
    inventory = rendered(stack)
    cluster = one(inventory, "aws:eks/cluster:Cluster")
    selection = one(inventory, "aws:backup/selection:Selection")
    [arn] = selection.inputs["resources"]
    assert arn.endswith(f":cluster/{cluster.inputs['name']}") and arn.startswith("arn:aws:eks:")
    assert cluster.inputs["accessConfig"]["authenticationMode"] in ("API", "API_AND_CONFIG_MAP")
    assert cluster.inputs["tags"]["BusinessUnit"] == "platform"
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if k.name == f"{stack}-key-key"]
    [vault] = [
        v for v in of(inventory, "aws:backup/vault:Vault") if v.name == f"{stack}-backup-vault"
    ]
    assert vault.inputs["kmsKeyArn"].startswith("arn:aws:kms:")
    assert key.urn in vault.property_dependencies["kmsKeyArn"]  # the platform key, not a BU's
    [lock] = [
        lock
        for lock in of(inventory, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")
        if lock.name == f"{stack}-backup-vault-lock"
    ]
    assert ("changeableForDays" in lock.inputs) is (stack == "platform-prod")
    [role] = [r for r in of(inventory, "aws:iam/role:Role") if r.name == f"{stack}-backup-role"]
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in of(inventory, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith(f"{stack}-backup-role-")
    }
    assert {"AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"} <= (
        attached
    )
    assert role.inputs["name"] == f"{stack}-backup"
    # nothing of a cluster-only backup has restore tests
    assert of(inventory, "aws:backup/restoreTestingPlan:RestoreTestingPlan") == []


def test_the_prod_platform_copies_cluster_backups_to_the_dr_region(rendered):
    plan = one(rendered("platform-prod"), "aws:backup/plan:Plan")
    [rule] = plan.inputs["rules"]
    assert rule["copyActions"][0]["destinationVaultArn"]


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_shipped_platform_stacks_pass_the_backup_rules(rendered, stack):
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "policies"))
    sys.path.insert(0, str(ROOT / "tests" / "policies"))
    from policy_harness import check

    environment = stack.split("-", 1)[1]
    rules = ["backup-covers-data-stores", "backup-vault-cmk"]
    if environment == "prod":  # dev vaults stay in governance mode and in-region, by design
        rules += ["backup-vault-compliance-lock", "backup-copies-out-of-region"]
    for rule_id in rules:
        assert check(rule_id, rendered(stack), environment=environment) == [], rule_id
