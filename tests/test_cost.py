"""The cost model: hand-made inventories with known answers, the price data, shipped stacks."""

from __future__ import annotations

import json

import pytest

from components.gpu_catalog import CATALOG
from estate.analysis.cost import (
    DEFAULT_PRICES,
    SCENARIOS,
    CostError,
    by_type,
    cost_for,
    gpu_peak_monthly,
    load_prices,
    summary_line,
)
from estate.offline.model import Inventory, Resource

HOURS = 730
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def res(name, type_, inputs, **more) -> Resource:
    return Resource(
        urn=f"urn:pulumi:s::ai-estate::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=inputs,
        **more,
    )


def inventory(*resources, region="us-east-1") -> Inventory:
    return Inventory(
        stack="s", project="ai-estate", resources=list(resources), config={"aws:region": region}
    )


def node_group(
    name="serve",
    *,
    types=("g5.xlarge", "g5.2xlarge"),
    capacity="ON_DEMAND",
    sizes=(1, 1, 4),
    disk=200,
):
    template = res(
        f"{name}-lt",
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": disk}}]},
    )
    group = res(
        name,
        NODE_GROUP,
        {
            "instanceTypes": list(types),
            "capacityType": capacity,
            "scalingConfig": {"minSize": sizes[0], "desiredSize": sizes[1], "maxSize": sizes[2]},
        },
        property_dependencies={"launchTemplate": [template.urn]},
    )
    return template, group


def node_pool(name="train", *, types=("g5.12xlarge", "g5.48xlarge"), capacity=("spot",), gpus=8):
    node_class = res(
        f"{name}-class",
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        {
            "metadata": {"name": name},
            "spec": {"blockDeviceMappings": [{"ebs": {"volumeSize": "500Gi"}, "rootVolume": True}]},
        },
    )
    pool = res(
        name,
        NODE_POOL,
        {
            "metadata": {"name": name},
            "spec": {
                "template": {
                    "spec": {
                        "requirements": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": list(types),
                            },
                            {
                                "key": "karpenter.sh/capacity-type",
                                "operator": "In",
                                "values": list(capacity),
                            },
                        ],
                        "nodeClassRef": {"name": name},
                    }
                },
                "limits": {"nvidia.com/gpu": gpus},
            },
        },
    )
    return node_class, pool


def items_of(estimate, name):
    return [i for i in estimate["items"] if i["resource"].endswith(f"::{name}")]


# -- hand-made inventories -----------------------------------------------------------------------


def test_a_managed_pool_runs_min_desired_max_of_first_and_dearest_types():
    estimate = cost_for(inventory(*node_group(sizes=(0, 1, 4))))
    nodes, ebs = sorted(items_of(estimate, "serve"), key=lambda i: -i["peak"])
    assert nodes["idle"] == 0
    assert nodes["typical"] == pytest.approx(1.006 * HOURS, abs=0.01)
    assert nodes["peak"] == pytest.approx(4 * 1.212 * HOURS, abs=0.01)
    assert ebs["typical"] == pytest.approx(200 * 0.08) and ebs["peak"] == pytest.approx(800 * 0.08)
    assert estimate["currency"] == "USD" and estimate["region"] == "us-east-1"


def test_spot_costs_the_familys_fraction_of_on_demand():
    prices = load_prices()["regions"]["us-east-1"]
    factor = prices["spotFactor"]["families"]["g5"]
    on_demand = cost_for(inventory(*node_group(sizes=(2, 2, 2))))
    spot = cost_for(inventory(*node_group(capacity="SPOT", sizes=(2, 2, 2))))
    od_nodes = max(items_of(on_demand, "serve"), key=lambda i: i["peak"])
    spot_nodes = max(items_of(spot, "serve"), key=lambda i: i["peak"])
    assert spot_nodes["idle"] == pytest.approx(od_nodes["idle"] * factor, abs=0.01)


def test_a_karpenter_pool_is_zero_idle_a_fraction_typically_and_its_gpu_limit_at_peak():
    data = load_prices()
    factor = data["regions"]["us-east-1"]["spotFactor"]["families"]["g5"]
    fraction = data["assumptions"]["karpenterTypicalFraction"]
    estimate = cost_for(inventory(*node_pool(gpus=8)))
    nodes = max(items_of(estimate, "train"), key=lambda i: i["peak"])
    # 8 GPUs: one g5.48xlarge (16.288/h) is dearer than two g5.12xlarge (2 x 5.672/h)
    peak = 16.288 * factor * HOURS
    assert nodes["idle"] == 0
    assert nodes["peak"] == pytest.approx(peak, abs=0.01)
    assert nodes["typical"] == pytest.approx(peak * fraction, abs=0.01)
    ebs = min(items_of(estimate, "train"), key=lambda i: i["peak"])
    assert ebs["peak"] == pytest.approx(500 * 0.08)


def test_a_karpenter_pool_allowed_on_demand_is_priced_on_demand():
    estimate = cost_for(inventory(*node_pool(capacity=("spot", "on-demand"), gpus=4)))
    nodes = max(items_of(estimate, "train"), key=lambda i: i["peak"])
    # 4 GPUs: one g5.12xlarge (5.672) or one g5.48xlarge (16.288): the dearer is the cap
    assert nodes["peak"] == pytest.approx(16.288 * HOURS, abs=0.01)


def test_nat_endpoints_cluster_and_addresses():
    nat = res("nat", "aws:ec2/natGateway:NatGateway", {})
    eip = res("eip", "aws:ec2/eip:Eip", {})
    interface = res(
        "sts",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {
            "vpcEndpointType": "Interface",
            "serviceName": "com.amazonaws.us-east-1.sts",
            "subnetIds": ["a", "b", "c"],
        },
    )
    gateway = res("s3", "aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Gateway"})
    cluster = res("eks", "aws:eks/cluster:Cluster", {})
    estimate = cost_for(inventory(nat, eip, interface, gateway, cluster))
    [nat_item] = items_of(estimate, "nat")
    assert nat_item["idle"] == pytest.approx(0.045 * HOURS)  # hours only: nothing processed
    assert nat_item["typical"] == pytest.approx(0.045 * HOURS + 100 * 0.045)
    [endpoint] = items_of(estimate, "sts")
    assert endpoint["idle"] == pytest.approx(3 * 0.01 * HOURS)
    assert "sts, 3 AZ(s)" in endpoint["description"]
    assert items_of(estimate, "s3") == []  # gateway endpoints are free
    [eks] = items_of(estimate, "eks")
    assert eks["idle"] == eks["peak"] == pytest.approx(73.0)
    [ip] = items_of(estimate, "eip")
    assert ip["idle"] == pytest.approx(0.005 * HOURS)


def test_monitoring_resources_are_priced():
    alarm = res("alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", {"metricName": "x"})
    math_alarm = res(
        "math",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {"metricQueries": [{"id": "m1", "metric": {}}, {"id": "m2", "metric": {}}, {"id": "e1"}]},
    )
    dashboard = res("dash", "aws:cloudwatch/dashboard:Dashboard", {})
    workspace = res("amp", "aws:amp/workspace:Workspace", {})
    metric = res("reqs", "aws:s3/bucketMetric:BucketMetric", {})
    estimate = cost_for(inventory(alarm, math_alarm, dashboard, workspace, metric))
    assert items_of(estimate, "alarm")[0]["idle"] == pytest.approx(0.10)
    assert items_of(estimate, "math")[0]["idle"] == pytest.approx(0.20)
    assert items_of(estimate, "dash")[0]["peak"] == pytest.approx(3.0)
    amp = items_of(estimate, "amp")[0]
    assert 0 < amp["idle"] < amp["typical"] < amp["peak"]
    assert items_of(estimate, "reqs")[0]["idle"] == pytest.approx(16 * 0.30)


def test_totals_are_the_sum_of_items_and_ordered_dearest_first():
    estimate = cost_for(inventory(*node_group(), *node_pool()))
    for s in SCENARIOS:
        assert estimate[s] == pytest.approx(sum(i[s] for i in estimate["items"]), abs=0.05)
    peaks = [i["peak"] for i in estimate["items"]]
    assert peaks == sorted(peaks, reverse=True)
    assert set(by_type(estimate)) == {NODE_GROUP, NODE_POOL}
    assert "idle" in summary_line(estimate) and "peak" in summary_line(estimate)


def test_missing_prices_and_regions_are_one_sentence_naming_the_file_key():
    _, group = node_group(types=("x9.huge",))
    with pytest.raises(
        CostError, match=r"prices\.json: regions\.us-east-1\.ec2\.x9\.huge: no price"
    ):
        cost_for(inventory(group))
    with pytest.raises(CostError, match=r"regions\.ap-south-2: no prices for this region"):
        cost_for(inventory(*node_group(), region="ap-south-2"))
    _, p5 = node_group(types=("p5.48xlarge",))
    with pytest.raises(CostError, match=r"regions\.eu-west-1\.ec2\.p5\.48xlarge"):
        cost_for(inventory(p5, region="eu-west-1"))


def test_a_user_prices_file_overrides_key_by_key(tmp_path):
    custom = tmp_path / "prices.json"
    custom.write_text(
        json.dumps(
            {
                "regions": {"us-east-1": {"ec2": {"g5.xlarge": {"usdPerHour": 2.0}}}},
                "assumptions": {"karpenterTypicalFraction": 0.5},
            }
        )
    )
    estimate = cost_for(inventory(*node_group(sizes=(1, 1, 1))), prices_path=custom)
    nodes = max(items_of(estimate, "serve"), key=lambda i: i["peak"])
    assert nodes["idle"] == pytest.approx(2.0 * HOURS)
    # untouched keys keep the shipped values
    assert load_prices(custom)["regions"]["us-east-1"]["ec2"]["g5.xlarge"]["gpus"] == 1
    broken = tmp_path / "broken.json"
    broken.write_text("[1,")
    with pytest.raises(CostError, match=r"broken\.json: not valid JSON"):
        cost_for(inventory(), prices_path=broken)
    with pytest.raises(CostError, match="cannot read the prices file"):
        cost_for(inventory(), prices_path=tmp_path / "nowhere.json")


def test_a_node_pool_without_limits_is_refused():
    _, pool = node_pool()
    del pool.inputs["spec"]["limits"]
    with pytest.raises(CostError, match="peak cost is unbounded"):
        cost_for(inventory(pool))


# -- the price data ------------------------------------------------------------------------------


def test_every_region_says_where_its_prices_come_from_and_when():
    data = json.loads(DEFAULT_PRICES.read_text(encoding="utf-8"))
    assert {"us-east-1", "eu-west-1"} <= set(data["regions"])
    for region, prices in data["regions"].items():
        assert prices["source"].startswith("AWS"), region
        assert prices["date"] and prices["spotFactor"]["source"], region
    assert data["assumptions"]["source"]


def test_gpu_prices_match_the_gpu_catalog():
    ec2 = load_prices()["regions"]["us-east-1"]["ec2"]
    for instance_type, info in CATALOG.items():
        assert ec2[instance_type]["usdPerHour"] == info.on_demand_usd_per_hour, instance_type
        assert ec2[instance_type]["gpus"] == info.gpus, instance_type
        assert ec2[instance_type]["vcpus"] == info.vcpus, instance_type


def test_spot_factors_are_discounts():
    for region, prices in load_prices()["regions"].items():
        spot = prices["spotFactor"]
        for family, factor in {**spot["families"], "default": spot["default"]}.items():
            assert 0 < factor < 1, (region, family)


# -- shipped stacks ------------------------------------------------------------------------------

SHIPPED = ("platform-dev", "platform-prod", "fraud-prod", "marketing-dev")


@pytest.mark.parametrize("stack", SHIPPED)
def test_idle_typical_peak_are_ordered_for_every_item(rendered, stack):
    estimate = cost_for(rendered(stack))
    assert 0 < estimate["idle"] <= estimate["typical"] <= estimate["peak"]
    for item in estimate["items"]:
        assert 0 <= item["idle"] <= item["typical"] <= item["peak"], item


def test_platform_costs_include_its_fixed_infrastructure(rendered):
    types = set(by_type(cost_for(rendered("platform-prod"))))
    assert {
        "aws:eks/cluster:Cluster",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        NODE_GROUP,
    } <= types


def test_a_gpu_pool_at_its_cap_dominates_a_bu_stacks_peak(rendered):
    estimate = cost_for(rendered("fraud-prod"))
    top = estimate["items"][0]
    assert top["type"] in (NODE_GROUP, NODE_POOL)
    gpu_lines = [i for i in estimate["items"] if i["type"] in (NODE_GROUP, NODE_POOL)]
    assert sum(i["peak"] for i in gpu_lines) > 0.8 * estimate["peak"]
    # idle keeps the one warm serving node: min size 1 of g5.xlarge
    assert estimate["idle"] >= 1.006 * HOURS


def test_worst_case_gpu_cost_is_on_demand_at_every_cap(rendered):
    # serve-a10g: 4 x g5.2xlarge; train-a10g: 8 GPUs as one g5.48xlarge, On-Demand
    expected = (4 * 1.212 + 16.288) * HOURS
    assert gpu_peak_monthly(rendered("fraud-prod")) == pytest.approx(expected, abs=0.01)
    assert gpu_peak_monthly(rendered("platform-prod")) == 0


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_rendered_type_is_priced_or_an_explicit_zero(rendered, stack):
    """Each type the shipped stacks render is priced, or listed under `zeroCost` with why."""
    from estate.analysis.cost import uncosted_types

    assert uncosted_types(rendered(stack)) == []


def test_every_zero_cost_entry_gives_a_reason_and_matches_no_priced_type():

    from estate.analysis.cost import PRICED_TYPES

    zero = json.loads(DEFAULT_PRICES.read_text())["zeroCost"]
    assert zero["source"]
    for pattern, reason in zero["types"].items():
        assert len(reason) > 10, pattern
        assert not [t for t in PRICED_TYPES if t == pattern], pattern


def test_a_type_neither_priced_nor_zero_is_reported():
    from estate.analysis.cost import uncosted_types

    inventory = Inventory(
        stack="s",
        project="p",
        resources=[
            Resource(
                urn="urn:x::aws:neptune/cluster:Cluster::db",
                type="aws:neptune/cluster:Cluster",
                name="db",
                inputs={},
                custom=True,
            ),
            Resource(
                urn="urn:x::aws:iam/role:Role::r",
                type="aws:iam/role:Role",
                name="r",
                custom=True,
                inputs={},
            ),
        ],
    )
    assert uncosted_types(inventory) == ["aws:neptune/cluster:Cluster"]


def test_data_governance_types_are_priced_and_idle_stays_itemised(rendered):
    """Issue 14's types: CloudTrail data events, Data Quality runs, restore tests, queues and
    the event archive are their own lines in a BU's idle estimate; GuardDuty and Inspector in
    the platform's."""
    types = {i["type"] for i in cost_for(rendered("fraud-prod"))["items"] if i["idle"] > 0}
    assert {
        "aws:cloudtrail/trail:Trail",
        "aws:scheduler/schedule:Schedule",
        "aws:backup/restoreTestingPlan:RestoreTestingPlan",
        "aws:sqs/queue:Queue",
        "aws:backup/vault:Vault",
    } <= types
    platform = {i["type"] for i in cost_for(rendered("platform-prod"))["items"]}
    assert {
        "aws:guardduty/detector:Detector",
        "aws:guardduty/detectorFeature:DetectorFeature",
        "aws:inspector2/enabler:Enabler",
    } <= platform
    [run, *_] = [
        i
        for i in cost_for(rendered("fraud-prod"))["items"]
        if i["type"] == "aws:scheduler/schedule:Schedule"
    ]
    # daily, 2 G.1X workers, an assumed quarter hour at USD 0.44 per DPU-hour
    assert run["idle"] == pytest.approx(730 / 24 * 2 * 0.25 * 0.44, abs=0.01)


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("cron(0 6 * * ? *)", 730 / 24),
        ("cron(0 6 ? * SUN *)", 730 / 24 / 7),
        ("cron(0 */6 * * ? *)", 730 / 24 * 4),
        ("rate(1 hour)", 730),
        ("rate(30 minutes)", 1460),
        ("rate(7 days)", 730 / 24 / 7),
        ("at(2027-01-01T00:00:00)", 1),
        ("cron(0 9 ? * MON-FRI *)", 730 / 24 / 7 * 5),
        ("cron(0,30 8-17 * * ? *)", 730 / 24 * 2 * 10),
        ("cron(0 3 1 * ? *)", 730 / 24 / 30.4),
        ("cron(5/15 * * * ? *)", 730 * 4),
    ],
)
def test_runs_per_month_of_schedule_expressions(expression, runs):
    from estate.analysis.cost import runs_per_month

    assert runs_per_month(expression) == pytest.approx(runs, rel=0.01)


def test_an_unreadable_schedule_expression_is_one_sentence():
    from estate.analysis.cost import runs_per_month

    with pytest.raises(CostError, match="cannot tell how often 'rate\\(2 fortnights\\)' runs"):
        runs_per_month("rate(2 fortnights)")
