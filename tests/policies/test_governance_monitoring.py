"""Monitoring and cost rules: a bad and a good program each (real pulumi_aws / pulumi_kubernetes
resources under mocks), the estate's own monitoring components, the pack's price table, and one
run of the real pack process over the Analyzer protocol.

Stack rules that read the stack kind or budget get them from `PULUMI_CONFIG`, as the CLI passes
them; the tests set it with `monkeypatch`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance.monitoring import GPU_PRICES, HOURS_PER_MONTH, gpu_pools, worst_case_gpu_cost
from policy_harness import POLICIES_DIR, check, names, render_program, stack_args
from policy_programs import KEY_ARN, OWNERSHIP_TAGS

from components.gpu_catalog import CATALOG
from components.monitoring import BuMonitoring, PlatformMonitoring
from estate.analysis.cost import gpu_peak_monthly, load_prices

TOPIC = "arn:aws:sns:us-east-1:123456789012:fraud-prod-alarms"
MONITORING_RULES = (
    "cloudwatch-alarm-has-actions",
    "gpu-pool-has-alarm",
    "feature-store-has-alarms",
    "bu-stack-has-budget",
    "gpu-peak-cost-within-budget",
)


@dataclass(frozen=True)
class Case:
    """Same shape as `test_governance_rules.Case`, so these can join its table."""

    bad: Any
    flagged: set[str | None]
    good: Any


@pytest.fixture
def stack_config(monkeypatch):
    """Set the stack config the pack reads from `PULUMI_CONFIG` (as the CLI does)."""

    def set_config(**config: Any) -> None:
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))

    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    return set_config


# -- building blocks ------------------------------------------------------------------------


class FakeBuEstate(pulumi.ComponentResource):
    """Stands in for `BuEstate`: the type token is what marks a BU stack."""

    def __init__(self, name: str) -> None:
        super().__init__("ai-estate:estate:BuEstate", name, None, None)


def gpu_node_group(name: str, pool: str, *, max_size: int = 4, types=None) -> aws.eks.NodeGroup:
    return aws.eks.NodeGroup(
        name,
        cluster_name="platform-prod-ai",
        node_role_arn="arn:aws:iam::123456789012:role/ai-estate/nodes/fraud-prod-gpu-node",
        subnet_ids=["subnet-1", "subnet-2"],
        ami_type="AL2023_x86_64_NVIDIA",
        instance_types=types or ["g5.xlarge", "g5.2xlarge"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=0, desired_size=0, max_size=max_size
        ),
        labels={"ai-estate/bu": "fraud", "ai-estate/pool": pool, "ai-estate/accelerator": "nvidia"},
        tags=OWNERSHIP_TAGS,
    )


def system_node_group() -> aws.eks.NodeGroup:
    return aws.eks.NodeGroup(
        "system",
        cluster_name="platform-prod-ai",
        node_role_arn="arn:aws:iam::123456789012:role/system",
        subnet_ids=["subnet-1"],
        ami_type="AL2023_x86_64_STANDARD",
        instance_types=["m6i.large"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=2, desired_size=2, max_size=4),
        labels={"ai-estate/pool": "system"},
    )


def karpenter_pool(
    name: str, pool: str, *, gpus: int = 8, types=None
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version="karpenter.sh/v1",
        kind="NodePool",
        metadata={"name": f"fraud-{pool}"},
        spec={
            "template": {
                "metadata": {
                    "labels": {
                        "ai-estate/bu": "fraud",
                        "ai-estate/pool": pool,
                        "ai-estate/accelerator": "nvidia",
                    }
                },
                "spec": {
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": types or ["g5.12xlarge", "g5.48xlarge"],
                        },
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
                    ],
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": f"fraud-{pool}",
                    },
                },
            },
            "limits": {"nvidia.com/gpu": gpus},
        },
    )


def alarm(name: str, **args: Any) -> aws.cloudwatch.MetricAlarm:
    base: dict[str, Any] = {
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "evaluation_periods": 1,
        "threshold": 1,
        "period": 300,
        "statistic": "Sum",
        "alarm_actions": [TOPIC],
    }
    base.update(args)
    return aws.cloudwatch.MetricAlarm(name, **base)


def pool_alarm(name: str, pool: str) -> aws.cloudwatch.MetricAlarm:
    return alarm(
        name,
        namespace="AIEstate/GPU",
        metric_name="DCGM_FI_DEV_GPU_UTIL",
        statistic="SampleCount",
        dimensions={"ClusterName": "platform-prod-ai", "BusinessUnit": "fraud", "Pool": pool},
    )


def table(name: str) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        name,
        name=f"fraud-prod-{name}",
        billing_mode="PAY_PER_REQUEST",
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=KEY_ARN
        ),
        tags=OWNERSHIP_TAGS,
    )


def budget(name: str, limit: float) -> aws.budgets.Budget:
    return aws.budgets.Budget(
        name,
        budget_type="COST",
        limit_amount=f"{limit:.2f}",
        limit_unit="USD",
        time_unit="MONTHLY",
        cost_filters=[
            aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=["user:BusinessUnit$fraud"])
        ],
        tags=OWNERSHIP_TAGS,
    )


# -- the cases ------------------------------------------------------------------------------


def bad_alarm_actions() -> None:
    alarm("silent", namespace="AWS/S3", metric_name="5xxErrors", alarm_actions=[])
    alarm("muted", namespace="AWS/S3", metric_name="5xxErrors", actions_enabled=False)


def good_alarm_actions() -> None:
    alarm("paging", namespace="AWS/S3", metric_name="5xxErrors", ok_actions=[TOPIC])


def bad_pool_alarms() -> None:
    gpu_node_group("serve-nodes", "serve-a10g")
    karpenter_pool("train-pool", "train-a10g")
    pool_alarm("other-pool-alarm", "explore-t4")
    # the same pool name in another BU does not count
    alarm(
        "wrong-bu",
        namespace="AIEstate/GPU",
        metric_name="DCGM_FI_DEV_GPU_UTIL",
        dimensions={"BusinessUnit": "marketing", "Pool": "serve-a10g"},
    )
    system_node_group()


def good_pool_alarms() -> None:
    gpu_node_group("serve-nodes", "serve-a10g")
    pool_alarm("serve-at-max", "serve-a10g")
    karpenter_pool("train-pool", "train-a10g")
    alarm(
        "train-tagged",
        namespace="AIEstate/GPU",
        metric_name="DCGM_FI_DEV_GPU_UTIL",
        dimensions={"ClusterName": "platform-prod-ai"},
        tags={"ai-estate/pool": "train-a10g", "BusinessUnit": "fraud"},
    )
    # linked by data flow: the alarm's dimension is computed from the node group
    batch = gpu_node_group("batch-nodes", "batch-a10g")
    alarm(
        "batch-asg",
        namespace="AWS/AutoScaling",
        metric_name="GroupInServiceInstances",
        statistic="Maximum",
        dimensions={"AutoScalingGroupName": batch.node_group_name},
    )
    system_node_group()


def bad_table_alarms() -> None:
    table("features")
    latency = table("latency-only")
    alarm(
        "latency",
        namespace="AWS/DynamoDB",
        metric_name="SuccessfulRequestLatency",
        statistic="Average",
        dimensions={"TableName": latency.name, "Operation": "GetItem"},
    )


def good_table_alarms() -> None:
    table("features")
    alarm(
        "features-throttles",
        namespace="AWS/DynamoDB",
        metric_name="ReadThrottleEvents",
        dimensions={"TableName": "fraud-prod-features"},
    )
    velocity = table("velocity")
    alarm(
        "velocity-throttles",
        metric_queries=[
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="m1",
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/DynamoDB",
                    metric_name="WriteThrottleEvents",
                    dimensions={"TableName": velocity.name},
                    period=300,
                    stat="Sum",
                ),
            ),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(id="e1", expression="m1", return_data=True),
        ],
        period=None,
        statistic=None,
    )


def bad_budget() -> None:
    FakeBuEstate("fraud-prod")
    aws.s3.Bucket("features")


def good_budget() -> None:
    FakeBuEstate("fraud-prod")
    budget("fraud-monthly", 20_000)


def bad_peak_cost() -> None:
    budget("fraud-monthly", 20_000)
    gpu_node_group("serve-nodes", "serve-a10g", max_size=4)  # 4 x 1.212 x 730 = 3,539
    karpenter_pool("train-pool", "train-h100", gpus=16, types=["p5.48xlarge"])  # 80,358


def good_peak_cost() -> None:
    budget("fraud-monthly", 20_000)
    gpu_node_group("serve-nodes", "serve-a10g", max_size=4)
    karpenter_pool("train-pool", "train-a10g", gpus=8)  # 1 x g5.48xlarge: 11,890


MONITORING_CASES: dict[str, Case] = {
    "cloudwatch-alarm-has-actions": Case(
        bad_alarm_actions, {"silent", "muted"}, good_alarm_actions
    ),
    "gpu-pool-has-alarm": Case(bad_pool_alarms, {"serve-nodes", "train-pool"}, good_pool_alarms),
    "feature-store-has-alarms": Case(
        bad_table_alarms, {"features", "latency-only"}, good_table_alarms
    ),
    "bu-stack-has-budget": Case(bad_budget, {"fraud-prod"}, good_budget),
    "gpu-peak-cost-within-budget": Case(bad_peak_cost, {None}, good_peak_cost),
}
"""Bad/good cases of the monitoring rules, ready for `test_governance_rules.CASES`."""


@pytest.mark.parametrize("rule_id", MONITORING_RULES)
def test_bad_program_is_caught(rule_id, stack_config):
    case = MONITORING_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", MONITORING_RULES)
def test_good_program_passes(rule_id, stack_config):
    assert check(rule_id, MONITORING_CASES[rule_id].good, environment="prod") == []


# -- stack config ---------------------------------------------------------------------------


def test_platform_stacks_are_not_asked_for_pool_or_table_alarms(stack_config):
    stack_config(**{"ai-estate:kind": "platform", "ai-estate:environment": "prod"})
    assert check("gpu-pool-has-alarm", bad_pool_alarms) == []
    assert check("feature-store-has-alarms", bad_table_alarms) == []
    assert check("bu-stack-has-budget", bad_budget) == []


def test_a_stack_configured_as_a_bu_needs_a_budget_without_a_bu_estate(stack_config):
    stack_config(**{"ai-estate:kind": "bu", "ai-estate:environment": "prod"})
    violations = check("bu-stack-has-budget", lambda: aws.s3.Bucket("features"))
    assert [v.urn for v in violations] == [None]
    assert "no AWS Budget" in violations[0].message


def test_the_configured_budget_wins_over_the_budget_resource(stack_config):
    stack_config(**{"ai-estate:budget": json.dumps({"monthlyLimitUsd": 5000})})
    violations = check("gpu-peak-cost-within-budget", good_peak_cost)
    [violation] = violations
    assert "$15,429" in violation.message and "$5,000" in violation.message
    assert "ai-estate:budget.monthlyLimitUsd" in violation.message
    stack_config(**{"ai-estate:budget": json.dumps({"monthlyLimitUsd": 100_000})})
    assert check("gpu-peak-cost-within-budget", bad_peak_cost) == []


def test_without_any_budget_the_peak_rule_leaves_it_to_the_budget_rule(stack_config):
    def program():
        karpenter_pool("train-pool", "train-h100", gpus=64, types=["p5.48xlarge"])

    assert check("gpu-peak-cost-within-budget", program) == []


def test_an_unpriced_gpu_type_is_reported_not_ignored(stack_config):
    def program():
        budget("b", 1_000_000)
        karpenter_pool("train-pool", "train-b200", gpus=8, types=["p6-b200.48xlarge"])

    [violation] = check("gpu-peak-cost-within-budget", program)
    assert "p6-b200.48xlarge has no price" in violation.message


def test_other_regions_say_they_were_priced_at_us_east_1(stack_config):
    stack_config(**{"aws:region": "eu-west-1", "ai-estate:budget": "1000"})
    [violation] = check("gpu-peak-cost-within-budget", good_peak_cost)
    assert "priced at us-east-1 list prices" in violation.message


# -- the pack's price table -----------------------------------------------------------------


def test_the_packs_gpu_prices_match_the_estates_price_data_and_catalog():
    ec2 = load_prices()["regions"]["us-east-1"]["ec2"]
    assert set(GPU_PRICES) == set(CATALOG)
    for instance_type, (gpus, hourly) in GPU_PRICES.items():
        assert ec2[instance_type]["usdPerHour"] == hourly, instance_type
        assert ec2[instance_type]["gpus"] == gpus, instance_type
        assert CATALOG[instance_type].on_demand_usd_per_hour == hourly, instance_type
    assert load_prices()["hoursPerMonth"] == HOURS_PER_MONTH


def test_the_pack_and_the_cost_model_agree_on_worst_case_gpu_cost(rendered):
    for stack in ("fraud-prod", "marketing-dev"):
        inventory = rendered(stack)
        pools = gpu_pools(stack_args(inventory).resources)
        assert pools
        pack_total = sum(worst_case_gpu_cost(p)[0] for p in pools)
        assert pack_total == pytest.approx(gpu_peak_monthly(inventory), abs=0.01)


# -- the estate's own monitoring components -------------------------------------------------


def monitored_bu() -> None:
    FakeBuEstate("fraud-prod")
    gpu_node_group("serve-nodes", "serve-a10g", max_size=4)
    karpenter_pool("train-pool", "train-a10g", gpus=8)
    card = table("card-velocity")
    BuMonitoring(
        "fraud-prod-monitoring",
        {
            "business_unit": "fraud",
            "environment": "prod",
            "account_id": "123456789012",
            "cluster_name": "platform-prod-ai",
            "kms_key_arn": KEY_ARN,
            "subscriptions": [{"protocol": "email", "endpoint": "oncall@example.com"}],
            "gpu_pools": [
                {"name": "serve-a10g", "max_gpus": 4},
                {"name": "train-a10g", "max_gpus": 8},
            ],
            "online_tables": {"card-velocity": card.name},
            "buckets": {},
            "model_metrics": [],
            "sagemaker_endpoints": [],
            "budget": {"monthly_limit_usd": 20_000},
            "tags": OWNERSHIP_TAGS,
        },
    )


def monitored_platform() -> None:
    PlatformMonitoring(
        "platform-prod-monitoring",
        {
            "name_prefix": "platform-prod",
            "cluster_name": "platform-prod-ai",
            "kubernetes_version": "1.31",
            "private_subnet_ids": ["subnet-1", "subnet-2"],
            "cluster_security_group_id": "sg-1",
            "kms_key_arn": KEY_ARN,
            "log_retention_days": 365,
            "k8s_provider": k8s.Provider("cluster-k8s", kubeconfig="{}"),
            "protect": True,
            "tags": {**OWNERSHIP_TAGS, "BusinessUnit": "platform"},
        },
    )


@pytest.fixture(scope="module")
def bu_inventory():
    return render_program(monitored_bu, environment="prod")


@pytest.fixture(scope="module")
def platform_inventory():
    return render_program(monitored_platform, environment="prod")


@pytest.mark.parametrize(
    "rule_id",
    [*MONITORING_RULES, "sns-topic-encryption-cmk", "required-ownership-tags"],
)
def test_the_bu_monitoring_component_complies(bu_inventory, rule_id, stack_config):
    assert check(rule_id, bu_inventory) == []


@pytest.mark.parametrize(
    "rule_id",
    [
        "log-group-retention",
        "log-group-encryption",
        "stateful-resource-protected",
        "cloudwatch-alarm-has-actions",
    ],
)
def test_the_platform_monitoring_component_complies(platform_inventory, rule_id, stack_config):
    assert check(rule_id, platform_inventory) == []


def test_the_real_pack_judges_a_monitored_bu_over_the_analyzer_protocol():
    from estate.offline.runner import run_pack

    config = {
        "aws:region": "us-east-1",
        "ai-estate:kind": "bu",
        "ai-estate:environment": "prod",
        "ai-estate:budget": {"monthlyLimitUsd": 10_000},
    }
    good = render_program(monitored_bu, environment="prod", config=config)
    findings = [f for f in run_pack(POLICIES_DIR, good).findings if f.policy in MONITORING_RULES]
    # 3,539 (serve) + 11,890 (train) at their caps is above the configured 10,000
    assert [f.policy for f in findings] == ["gpu-peak-cost-within-budget"]
    assert findings[0].enforcement == "mandatory"

    def unmonitored() -> None:
        gpu_node_group("serve-nodes", "serve-a10g")
        table("card-velocity")
        alarm("silent", namespace="AWS/S3", metric_name="5xxErrors", alarm_actions=[])

    bad = render_program(unmonitored, environment="prod", config=config)
    policies = sorted(
        f.policy for f in run_pack(POLICIES_DIR, bad).findings if f.policy in MONITORING_RULES
    )
    assert policies == [
        "bu-stack-has-budget",
        "cloudwatch-alarm-has-actions",
        "feature-store-has-alarms",
        "gpu-pool-has-alarm",
    ]
