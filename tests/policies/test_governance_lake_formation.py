"""Lake Formation rules: good and bad hand-written programs, and the shipped composition."""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from governance.lake_formation import covers, s3_uri_as_arn
from policy_harness import check, names
from policy_programs import KEY_ARN, OWNERSHIP_TAGS
from test_governance_compute import Case

ADMIN = "arn:aws:iam::123456789012:role/platform/lake-formation-admin"
ROLE = "arn:aws:iam::123456789012:role/fraud-prod-feature-store"
BUCKET = "fraud-prod-features-1a2b3c4d"


def settings(**overrides):
    aws.lakeformation.DataLakeSettings(
        "settings",
        **{
            "admins": [ADMIN],
            "create_database_default_permissions": [],
            "create_table_default_permissions": [],
            **overrides,
        },
    )


def iam_allowed_default(prop: str = "create_database_default_permissions"):
    block = (
        aws.lakeformation.DataLakeSettingsCreateDatabaseDefaultPermissionArgs
        if prop == "create_database_default_permissions"
        else aws.lakeformation.DataLakeSettingsCreateTableDefaultPermissionArgs
    )
    return [block(principal="IAM_ALLOWED_PRINCIPALS", permissions=["ALL"])]


# -- lake-formation-no-iam-allowed-principals-default ---------------------------------------


def test_settings_with_admins_and_no_default_grants_pass():
    assert check("lake-formation-no-iam-allowed-principals-default", settings) == []


@pytest.mark.parametrize(
    "prop", ["create_database_default_permissions", "create_table_default_permissions"]
)
def test_an_iam_allowed_principals_default_is_caught(prop):
    violations = check(
        "lake-formation-no-iam-allowed-principals-default",
        lambda: settings(**{prop: iam_allowed_default(prop)}),
    )
    assert names(violations) == ["settings"]
    assert "IAMAllowedPrincipals" in violations[0].message


def test_settings_without_administrators_are_caught():
    violations = check(
        "lake-formation-no-iam-allowed-principals-default", lambda: settings(admins=[])
    )
    assert names(violations) == ["settings"]
    assert "administrator" in violations[0].message


# -- lake-formation-governs-offline-store ---------------------------------------------------


def feature_group(classification: str = "restricted", offline: bool = True):
    aws.sagemaker.FeatureGroup(
        "transactions",
        feature_group_name="fraud-prod-transactions",
        record_identifier_feature_name="id",
        event_time_feature_name="t",
        role_arn=ROLE,
        feature_definitions=[
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="id", feature_type="String"
            ),
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="t", feature_type="Fractional"
            ),
        ],
        offline_store_config=aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
            s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                s3_uri=f"s3://{BUCKET}/offline", kms_key_id=KEY_ARN
            ),
            data_catalog_config=aws.sagemaker.FeatureGroupOfflineStoreConfigDataCatalogConfigArgs(
                catalog="AwsDataCatalog", database="fraud_prod_features", table_name="t"
            ),
        )
        if offline
        else None,
        online_store_config=None
        if offline
        else aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(enable_online_store=True),
        tags={**OWNERSHIP_TAGS, "DataClassification": classification},
    )


def registration(path: str = f"{BUCKET}/offline"):
    aws.lakeformation.Resource(
        "location", arn=f"arn:aws:s3:::{path}", role_arn=ROLE, hybrid_access_enabled=True
    )


def database_tags(database: str = "fraud_prod_features"):
    aws.lakeformation.ResourceLfTags(
        "database-tags",
        database=aws.lakeformation.ResourceLfTagsDatabaseArgs(name=database),
        lf_tags=[aws.lakeformation.ResourceLfTagsLfTagArgs(key="BusinessUnit", value="fraud")],
    )


def test_a_registered_and_tagged_restricted_offline_store_passes():
    def program():
        feature_group()
        registration()
        database_tags()

    assert check("lake-formation-governs-offline-store", program) == []


def test_a_registration_of_the_whole_bucket_covers_the_offline_prefix():
    def program():
        feature_group("confidential")
        registration(BUCKET)
        database_tags()

    assert check("lake-formation-governs-offline-store", program) == []


def test_an_unregistered_confidential_offline_store_is_caught():
    def program():
        feature_group("confidential")
        database_tags()

    violations = check("lake-formation-governs-offline-store", program)
    assert names(violations) == ["transactions"]
    assert "no Lake Formation registration" in violations[0].message


def test_another_location_does_not_cover_the_offline_store():
    def program():
        feature_group()
        registration("fraud-prod-features-1a2b3c4d-other/offline")
        database_tags()

    assert names(check("lake-formation-governs-offline-store", program)) == ["transactions"]


def test_an_untagged_database_is_caught():
    def program():
        feature_group()
        registration()
        database_tags("marketing_dev_features")

    violations = check("lake-formation-governs-offline-store", program)
    assert names(violations) == ["transactions"]
    assert "no LF-tags" in violations[0].message


@pytest.mark.parametrize("classification", ["public", "internal"])
def test_less_sensitive_offline_stores_need_no_lake_formation(classification):
    assert (
        check("lake-formation-governs-offline-store", lambda: feature_group(classification)) == []
    )


def test_an_online_only_group_needs_no_lake_formation():
    assert check("lake-formation-governs-offline-store", lambda: feature_group(offline=False)) == []


def test_coverage_is_by_path_segment():
    assert covers("arn:aws:s3:::b/offline", s3_uri_as_arn("s3://b/offline"))
    assert covers("arn:aws:s3:::b", s3_uri_as_arn("s3://b/offline/"))
    assert not covers("arn:aws:s3:::b/off", s3_uri_as_arn("s3://b/offline"))
    assert not covers("arn:aws:s3:::b2", s3_uri_as_arn("s3://b/offline"))


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_the_shipped_bu_stacks_govern_their_offline_stores(rendered, stack):
    assert check("lake-formation-governs-offline-store", rendered(stack)) == []


def test_turning_lake_formation_off_on_a_restricted_bu_is_caught():
    from tests.conftest import render_config, shipped_config

    config = shipped_config("fraud-prod")
    config["ai-estate:lakeFormation"] = {"enabled": False}
    violations = check("lake-formation-governs-offline-store", render_config("fraud-prod", config))
    assert sorted(names(violations)) == [
        "fraud-prod-features-merchants",
        "fraud-prod-features-merchants",
        "fraud-prod-features-transactions",
        "fraud-prod-features-transactions",
    ]


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_the_shipped_platform_settings_pass(rendered, stack):
    inventory = rendered(stack)
    assert any(r.type.endswith("DataLakeSettings") for r in inventory.resources)
    assert check("lake-formation-no-iam-allowed-principals-default", inventory) == []


def _governed():
    feature_group()
    registration()
    database_tags()


def _ungoverned():
    feature_group()


LAKE_FORMATION_CASES: dict[str, Case] = {
    "lake-formation-no-iam-allowed-principals-default": Case(
        lambda: settings(
            create_table_default_permissions=iam_allowed_default("create_table_default_permissions")
        ),
        {"settings"},
        settings,
    ),
    "lake-formation-governs-offline-store": Case(_ungoverned, {"transactions"}, _governed),
}


@pytest.mark.parametrize("rule_id", sorted(LAKE_FORMATION_CASES))
def test_lake_formation_cases(rule_id):
    case = LAKE_FORMATION_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []
