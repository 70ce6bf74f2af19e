"""Data quality rule: good and bad hand-written programs built from real SDK resources."""

from __future__ import annotations

import pulumi_aws as aws
from governance import rule as find_rule
from policy_harness import check, names
from policy_programs import KEY_ARN, OWNERSHIP_TAGS
from test_governance_compute import Case

RULE = "dq-ruleset-per-feature-group"
ROLE = "arn:aws:iam::123456789012:role/fraud-prod-feature-store"


def group(name: str = "fraud-prod-transactions", offline: bool = True) -> None:
    aws.sagemaker.FeatureGroup(
        name,
        feature_group_name=name,
        record_identifier_feature_name="id",
        event_time_feature_name="ts",
        role_arn=ROLE,
        feature_definitions=[
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="id", feature_type="String"
            ),
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="ts", feature_type="Fractional"
            ),
        ],
        online_store_config=aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(
            enable_online_store=True,
            security_config=aws.sagemaker.FeatureGroupOnlineStoreConfigSecurityConfigArgs(
                kms_key_id=KEY_ARN
            ),
        ),
        offline_store_config=aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
            s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                s3_uri="s3://fraud-prod-features/offline/", kms_key_id=KEY_ARN
            ),
            data_catalog_config=aws.sagemaker.FeatureGroupOfflineStoreConfigDataCatalogConfigArgs(
                catalog="AwsDataCatalog",
                database="fraud_prod_features",
                table_name=name.replace("-", "_"),
            ),
        )
        if offline
        else None,
        tags=OWNERSHIP_TAGS,
    )


def ruleset(table: str, database: str = "fraud_prod_features") -> None:
    aws.glue.DataQualityRuleset(
        f"dq-{table}",
        name=f"dq-{table}",
        ruleset='Rules = [IsComplete "id"]',
        target_table=aws.glue.DataQualityRulesetTargetTableArgs(
            database_name=database, table_name=table
        ),
        tags=OWNERSHIP_TAGS,
    )


def _unchecked():
    group()


def _checked():
    group()
    ruleset("fraud_prod_transactions")


def _ruleset_on_another_table():
    group()
    ruleset("fraud_prod_merchants")


def _ruleset_in_another_database():
    group()
    ruleset("fraud_prod_transactions", database="marketing_dev_features")


def _online_only():
    group(offline=False)


CASE = Case(_unchecked, {"fraud-prod-transactions"}, _checked)
DATA_QUALITY_CASES: dict[str, Case] = {RULE: CASE}


def test_prod_group_without_a_ruleset_is_caught_and_with_one_passes():
    assert set(names(check(RULE, CASE.bad))) == CASE.flagged
    assert check(RULE, CASE.good) == []


def test_a_ruleset_on_another_table_or_database_does_not_count():
    assert names(check(RULE, _ruleset_on_another_table)) == ["fraud-prod-transactions"]
    assert names(check(RULE, _ruleset_in_another_database)) == ["fraud-prod-transactions"]


def test_online_only_groups_have_no_table_to_check():
    assert check(RULE, _online_only) == []


def test_the_rule_blocks_in_prod_and_is_off_in_dev():
    rule = find_rule(RULE)
    assert rule.enforcement["prod"] == "mandatory"
    assert rule.enforcement["dev"] == "disabled"
