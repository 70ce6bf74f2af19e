"""Cost governance on the shipped stacks: the CUR 2.0 export (split cost allocation for EKS), the
per-BU cost category (platform), and the cost anomaly monitor per BU alerting the BU's topic.

Access is proved with the IAM evaluator on the rendered policies: the export services may write
the export bucket for this account's exports only, Cost Anomaly Detection may publish to the BU
topic for this account only, and both may use the key that encrypts their target.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cost_governance import (
    COST_ALERTS_SERVICE,
    CUR2_COLUMNS,
    CUR2_TABLE,
    DATA_EXPORT_SERVICES,
    RESOURCE_COLUMNS,
    SPLIT_COST_COLUMNS,
    CostExportSpec,
    anomaly_threshold_expression,
    cur2_query,
    cur2_table_configuration,
)
from estate.analysis.iam import Principal, Request, evaluate
from estate.offline.model import Inventory, Resource
from estate.stack.config import ConfigError, validate_config
from tests.conftest import _render, render_config, shipped_config

EXPORT = "aws:bcmdata/export:Export"
COST_CATEGORY = "aws:costexplorer/costCategory:CostCategory"
MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KEY = "aws:kms/key:Key"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def _of(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def _one(inventory: Inventory, type_: str, contains: str = "") -> Resource:
    found = [r for r in _of(inventory, type_) if contains in r.name]
    if type_ == KEY:  # the stack's key, not the DR backup copies' key in another region
        found = [r for r in found if not r.inputs.get("region")]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _policy(r: Resource) -> dict[str, Any]:
    policy = r.inputs["policy"]
    return json.loads(policy) if isinstance(policy, str) else policy


def _account(inventory: Inventory) -> str:
    return str(inventory.config["ai-estate:accountId"])


# -- the query and its table configuration (pure) ---------------------------------------------


@given(
    granularity=st.sampled_from(["HOURLY", "DAILY", "MONTHLY"]),
    resources=st.booleans(),
    split=st.booleans(),
)
def test_query_selects_exactly_the_columns_its_table_configuration_adds(
    granularity, resources, split
):
    spec = CostExportSpec(
        time_granularity=granularity,
        include_resources=resources,
        split_cost_allocation_data=split,
        format="PARQUET",
    )
    query = cur2_query(spec)
    head, table = query.removeprefix("SELECT ").split(" FROM ")
    assert table == CUR2_TABLE
    columns = head.split(", ")
    assert len(columns) == len(set(columns))
    assert set(CUR2_COLUMNS) <= set(columns)
    assert bool(set(RESOURCE_COLUMNS) & set(columns)) is resources
    assert bool(set(SPLIT_COST_COLUMNS) & set(columns)) is split
    config = cur2_table_configuration(spec, "aws", "123456789012")[CUR2_TABLE]
    # When any table configuration is set, all must be (BILLING_VIEW_ARN too).
    assert set(config) == {
        "BILLING_VIEW_ARN",
        "TIME_GRANULARITY",
        "INCLUDE_RESOURCES",
        "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY",
        "INCLUDE_SPLIT_COST_ALLOCATION_DATA",
    }
    assert config["TIME_GRANULARITY"] == granularity
    assert config["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == ("TRUE" if split else "FALSE")
    assert config["INCLUDE_RESOURCES"] == ("TRUE" if resources else "FALSE")
    assert config["BILLING_VIEW_ARN"] == "arn:aws:billing::123456789012:billingview/primary"


@given(
    usd=st.floats(min_value=0.01, max_value=1e9, allow_nan=False),
    percent=st.none() | st.floats(min_value=0.01, max_value=1e4, allow_nan=False),
)
def test_threshold_expression_holds_the_configured_impacts(usd, percent):
    expression = anomaly_threshold_expression(usd, percent)
    dims = [a["dimension"] for a in expression["ands"]] if percent else [expression["dimension"]]
    by_key = {d["key"]: d for d in dims}
    assert float(by_key["ANOMALY_TOTAL_IMPACT_ABSOLUTE"]["values"][0]) == pytest.approx(
        usd, rel=1e-5
    )
    if percent:
        assert float(by_key["ANOMALY_TOTAL_IMPACT_PERCENTAGE"]["values"][0]) == pytest.approx(
            percent, rel=1e-5
        )
    assert all(d["match_options"] == ["GREATER_THAN_OR_EQUAL"] for d in dims)


def test_threshold_expression_refuses_non_positive_thresholds():
    with pytest.raises(ValueError, match="above 0"):
        anomaly_threshold_expression(0, None)


# -- the CUR 2.0 export on the shipped platform stacks ----------------------------------------


@pytest.mark.parametrize(
    ("stack", "granularity"), [("platform-prod", "HOURLY"), ("platform-dev", "DAILY")]
)
def test_platform_exports_cur2_with_split_cost_allocation(stack, granularity):
    inventory = _render(stack)
    export = _one(inventory, EXPORT).inputs["export"]
    query = export["dataQueries"][0]
    assert query["queryStatement"].endswith(f"FROM {CUR2_TABLE}")
    assert "split_line_item_split_cost" in query["queryStatement"]
    table = query["tableConfigurations"][CUR2_TABLE]
    assert table["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == "TRUE"
    assert table["INCLUDE_RESOURCES"] == "TRUE"
    assert table["TIME_GRANULARITY"] == granularity
    assert table["BILLING_VIEW_ARN"].endswith(f"::{_account(inventory)}:billingview/primary")
    s3 = export["destinationConfigurations"][0]["s3Destinations"][0]
    bucket = _one(inventory, "aws:s3/bucket:Bucket", "cost-export")
    assert s3["s3Bucket"] == bucket.inputs["bucket"]
    assert s3["s3Region"] == inventory.config["aws:region"]
    assert export["refreshCadences"] == [{"frequency": "SYNCHRONOUS"}]


def test_export_bucket_is_encrypted_with_the_platform_key_and_logged():
    inventory = _render("platform-prod")
    encryption = _one(inventory, ENCRYPTION, "cost-export")
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"] == inventory.outputs["platformKeyArn"]
    logging = _one(inventory, LOGGING, "cost-export")
    log_bucket = _one(inventory, "aws:s3/bucket:Bucket", "cost-access-logs")
    assert logging.inputs["targetBucket"] == log_bucket.inputs["bucket"]


def _s3_put(service: str, bucket_arn: str, policy: Any, account: str, source_arn: str):
    return evaluate(
        Request(
            principal=Principal(service, kind="service"),
            action="s3:PutObject",
            resource=f"{bucket_arn}/cur2/data.parquet",
            context={"aws:SourceAccount": account, "aws:SourceArn": source_arn},
            resource_policy=policy,
        )
    )


def test_only_this_accounts_exports_may_write_the_bucket():
    inventory = _render("platform-prod")
    account = _account(inventory)
    bucket = _one(inventory, "aws:s3/bucket:Bucket", "cost-export")
    arn = f"arn:aws:s3:::{bucket.inputs['bucket']}"
    policy = _policy(_one(inventory, BUCKET_POLICY, "cost-export"))
    export_arn = f"arn:aws:bcm-data-exports:us-east-1:{account}:export/ai-estate-cur2-abc"
    for service in DATA_EXPORT_SERVICES:
        assert _s3_put(service, arn, policy, account, export_arn), service
    other = "999999999999"
    assert not _s3_put(
        "bcm-data-exports.amazonaws.com",
        arn,
        policy,
        other,
        f"arn:aws:bcm-data-exports:us-east-1:{other}:export/theirs",
    )
    assert not _s3_put("s3.amazonaws.com", arn, policy, account, export_arn)


def test_the_platform_key_admits_the_export_services_only_when_exporting():
    inventory = _render("platform-prod")
    account = _account(inventory)
    key = _one(inventory, KEY)

    def may_encrypt(policy: Any, service: str) -> bool:
        return bool(
            evaluate(
                Request(
                    principal=Principal(service, kind="service"),
                    action="kms:GenerateDataKey",
                    resource=f"arn:aws:kms:us-east-1:{account}:key/k",
                    context={"aws:SourceAccount": account},
                    resource_policy=policy,
                )
            )
        )

    for service in DATA_EXPORT_SERVICES:
        assert may_encrypt(_policy(key), service)
    config = shipped_config("platform-prod")
    config.setdefault("ai-estate:costGovernance", {})["export"] = {"enabled": False}
    off = render_config("platform-prod", config)
    assert not _of(off, EXPORT)
    assert not [r for r in off.resources if "cost-export" in r.name]
    assert _of(off, COST_CATEGORY)  # the cost category does not need the export
    for service in DATA_EXPORT_SERVICES:
        assert not may_encrypt(_policy(_one(off, KEY)), service)


def test_disabling_split_cost_allocation_drops_the_split_columns():
    config = shipped_config("platform-prod")
    config.setdefault("ai-estate:costGovernance", {})["export"] = {"splitCostAllocationData": False}
    query = _one(render_config("platform-prod", config), EXPORT).inputs["export"]["dataQueries"][0]
    assert query["tableConfigurations"][CUR2_TABLE]["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == "FALSE"
    assert "split_line_item" not in query["queryStatement"]


# -- cost categories -----------------------------------------------------------------------------


def test_cost_category_has_a_rule_per_bu_on_its_tag():
    platform, bu = "platform-prod", "fraud"
    category = _one(_render(platform), COST_CATEGORY)
    assert category.inputs["ruleVersion"] == "CostCategoryExpression.v1"
    assert category.inputs["defaultValue"] == "unallocated"
    rules = category.inputs["rules"]
    assert [r["value"] for r in rules] == [bu]
    assert rules[0]["rule"]["tags"] == {
        "key": "BusinessUnit",
        "values": [bu],
        "matchOptions": ["EQUALS"],
    }
    assert _render(platform).outputs["costGovernance"]["costCategoryArn"]


def test_only_a_payer_account_owns_the_cost_category():
    """AWS creates cost categories in management (or standalone) accounts only: platform-dev is
    an Organizations member, so it lists its BUs for alert routing but builds no category."""
    assert not _of(_render("platform-dev"), COST_CATEGORY)
    config = shipped_config("platform-dev")
    config["ai-estate:payerAccount"] = True
    rules = _one(render_config("platform-dev", config), COST_CATEGORY).inputs["rules"]
    assert [r["value"] for r in rules] == ["marketing"]


def test_cost_category_lists_every_configured_bu_and_none_without_them():
    config = shipped_config("platform-prod")
    config["ai-estate:businessUnits"] = ["fraud", "payments"]
    rules = _one(render_config("platform-prod", config), COST_CATEGORY).inputs["rules"]
    assert [r["value"] for r in rules] == ["fraud", "payments"]
    config["ai-estate:businessUnits"] = []
    assert not _of(render_config("platform-prod", config), COST_CATEGORY)


# -- the cost anomaly monitor per BU ------------------------------------------------------------


def test_anomaly_monitor_watches_the_bu_tag_and_alerts_its_topic():
    stack, bu = "fraud-prod", "fraud"
    inventory = _render(stack)
    monitor = _one(inventory, MONITOR)
    assert monitor.inputs["monitorType"] == "CUSTOM"
    assert json.loads(monitor.inputs["monitorSpecification"]) == {
        "Tags": {"Key": "BusinessUnit", "Values": [bu], "MatchOptions": ["EQUALS"]}
    }
    subscription = _one(inventory, SUBSCRIPTION)
    assert subscription.inputs["frequency"] == "IMMEDIATE"  # SNS takes individual alerts only
    assert subscription.inputs["subscribers"] == [
        {"type": "SNS", "address": inventory.outputs["alarmTopicArn"]}
    ]
    assert subscription.inputs["monitorArnLists"] == [inventory.outputs["costAnomalyMonitorArn"]]
    # it is created only after the topic admits Cost Anomaly Detection
    topic_policy = _one(inventory, TOPIC_POLICY, "alarms")
    assert topic_policy.urn in subscription.depends_on


def test_thresholds_come_from_config():
    expression = _one(_render("fraud-prod"), SUBSCRIPTION).inputs["thresholdExpression"]
    values = {a["dimension"]["key"]: a["dimension"]["values"] for a in expression["ands"]}
    assert values == {
        "ANOMALY_TOTAL_IMPACT_ABSOLUTE": ["500"],
        "ANOMALY_TOTAL_IMPACT_PERCENTAGE": ["20"],
    }
    config = shipped_config("fraud-prod")
    config["ai-estate:monitoring"]["costAnomaly"] = {"thresholdUsd": 1250}
    expression = _one(render_config("fraud-prod", config), SUBSCRIPTION).inputs[
        "thresholdExpression"
    ]
    assert expression == {
        "dimension": {
            "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
            "matchOptions": ["GREATER_THAN_OR_EQUAL"],
            "values": ["1250"],
        }
    }


def test_cost_alerts_may_publish_for_this_account_and_use_the_bu_key():
    inventory = _render("fraud-prod")
    account = _account(inventory)
    topic = inventory.outputs["alarmTopicArn"]
    policy = _policy(_one(inventory, TOPIC_POLICY, "alarms"))
    service = Principal(COST_ALERTS_SERVICE, kind="service")

    def publish(source_account: str) -> bool:
        return bool(
            evaluate(
                Request(
                    principal=service,
                    action="sns:Publish",
                    resource=topic,
                    context={"aws:SourceAccount": source_account},
                    resource_policy=policy,
                )
            )
        )

    assert publish(account)
    assert not publish("999999999999")
    key = _one(inventory, KEY)
    assert evaluate(
        Request(
            principal=service,
            action="kms:GenerateDataKey",
            resource=f"arn:aws:kms:us-east-1:{account}:key/k",
            context={"aws:SourceAccount": account},
            resource_policy=_policy(key),
        )
    )


def test_no_cost_anomaly_config_builds_no_monitor():
    config = shipped_config("fraud-prod")
    del config["ai-estate:monitoring"]["costAnomaly"]
    inventory = render_config("fraud-prod", config)
    assert not _of(inventory, MONITOR) and not _of(inventory, SUBSCRIPTION)
    assert inventory.outputs["costAnomalyMonitorArn"] is None


def test_a_member_account_bu_is_told_the_anomaly_monitor_needs_a_payer_account():
    values = _values("marketing-dev")
    values["monitoring"]["costAnomaly"] = {"thresholdUsd": 100}
    with pytest.raises(ConfigError) as info:
        validate_config(values, "stacks/Pulumi.marketing-dev.yaml")
    assert "ai-estate:monitoring.costAnomaly: needs ai-estate:payerAccount: true" in "\n".join(
        info.value.lines
    )
    config = shipped_config("marketing-dev")
    config["ai-estate:payerAccount"] = True
    config["ai-estate:monitoring"]["costAnomaly"] = {"thresholdUsd": 100}
    monitor = _one(render_config("marketing-dev", config), MONITOR)
    assert "marketing" in monitor.inputs["monitorSpecification"]


# -- schema ---------------------------------------------------------------------------------------


def _values(stack: str) -> dict[str, Any]:
    return {
        k.removeprefix("ai-estate:"): v
        for k, v in shipped_config(stack).items()
        if k.startswith("ai-estate:")
    }


def test_cost_config_errors_name_the_key():
    bu = _values("fraud-prod")
    bu["businessUnits"] = ["fraud"]
    bu["monitoring"]["costAnomaly"] = {"thresholdUsd": 0}
    with pytest.raises(ConfigError) as info:
        validate_config(bu, "stacks/Pulumi.fraud-prod.yaml")
    lines = "\n".join(info.value.lines)
    assert "ai-estate:monitoring.costAnomaly.thresholdUsd" in lines
    platform = _values("platform-prod")
    platform["businessUnits"] = ["fraud", "fraud"]
    platform.setdefault("costGovernance", {})["export"] = {"timeGranularity": "WEEKLY"}
    with pytest.raises(ConfigError) as info:
        validate_config(platform, "stacks/Pulumi.platform-prod.yaml")
    lines = "\n".join(info.value.lines)
    assert "ai-estate:costGovernance.export.timeGranularity" in lines
    bu = _values("fraud-prod")
    bu["businessUnits"] = ["fraud"]
    with pytest.raises(ConfigError) as info:
        validate_config(bu, "stacks/Pulumi.fraud-prod.yaml")
    assert "ai-estate:businessUnits: belongs in platform stacks" in "\n".join(info.value.lines)
    platform = _values("platform-prod")
    platform["businessUnits"] = ["fraud", "fraud"]
    with pytest.raises(ConfigError) as info:
        validate_config(platform, "stacks/Pulumi.platform-prod.yaml")
    assert "ai-estate:businessUnits" in "\n".join(info.value.lines)
