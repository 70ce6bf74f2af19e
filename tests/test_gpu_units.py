"""One GPU unit everywhere: quota, Karpenter limit, autoscaler template and at-max alarm agree.

Time-sliced nodes register `replicas x GPUs` as `nvidia.com/gpu`, and every cap that reads node
capacity counts what nodes register. So with time-slicing on, each cap is in slices, read from
the platform stack (`timeSlicingReplicas`): a pool of 4 T4s sliced 4 ways holds 16, not the 4
one node already registers (issue 11, item 5).

Proved on the shipped stacks (marketing-dev on the time-sliced platform-dev, fraud-prod on the
unsliced platform-prod) and, for random replicas, GPU counts and sizes, on the pure functions the
components build those objects from.
"""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.gpu_catalog import CATALOG, max_gpus
from components.gpu_pools import (
    GPU_TEMPLATE_TAG,
    autoscaler_node_template_tags,
    effective_max_gpus,
    gpu_units,
    gpus_per_node,
    node_labels,
    node_pool_spec,
    node_taints,
    slices_factor,
)
from components.monitoring import DEFAULT_THRESHOLDS, gpu_alarm_specs
from components.tenant import quota_hard

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
QUOTA = "kubernetes:core/v1:ResourceQuota"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ASG_TAG = "aws:autoscaling/tag:Tag"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def of_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def at_max_alarms(inventory) -> dict[str, dict]:
    return {
        r.inputs["tags"]["ai-estate/pool"]: r.inputs
        for r in of_type(inventory, ALARM)
        # the pools' alarms (serving endpoints have replicas-at-max alarms of their own)
        if r.inputs["name"].endswith("-at-max") and "ai-estate/pool" in r.inputs["tags"]
    }


def alarm_value(alarm_inputs: dict, physical_gpus_reporting: int, interval: int = 60) -> float:
    """The at-max alarm's metric math with `physical_gpus_reporting` GPUs sending DCGM samples
    (one per GPU per interval, summed over the alarm's period)."""
    [math] = [q for q in alarm_inputs["metricQueries"] if q.get("expression")]
    [metric] = [q for q in alarm_inputs["metricQueries"] if q.get("metric")]
    samples = physical_gpus_reporting * metric["metric"]["period"] / interval
    expression = math["expression"]
    assert re.fullmatch(r"m1 / [0-9.]+( \* [0-9]+)?", expression), expression
    return eval(expression, {"__builtins__": {}}, {"m1": samples})


# -- the shipped stacks ---------------------------------------------------------------------------


def test_marketing_on_the_time_sliced_platform_counts_slices_everywhere(rendered):
    replicas = rendered("platform-dev").outputs["timeSlicingReplicas"]
    assert replicas == 4
    bu = rendered("marketing-dev")
    [pool] = of_type(bu, NODE_POOL)
    physical = 4  # explore-t4: maxSize 4 of one-GPU T4 instances
    limit = pool.inputs["spec"]["limits"]["nvidia.com/gpu"]
    assert limit == physical * replicas == 16
    assert pool.inputs["metadata"]["annotations"]["ai-estate/gpu-slices-per-gpu"] == "4"
    [quota] = of_type(bu, QUOTA)
    assert quota.inputs["spec"]["hard"]["requests.nvidia.com/gpu"] == "16"
    alarm = at_max_alarms(bu)["explore-t4"]
    assert alarm["threshold"] == 16
    # one node (1 T4 = 4 slices) leaves the pool far from its cap, and the alarm quiet
    assert alarm_value(alarm, 1) == 4 < alarm["threshold"]
    # all four nodes up: the cap is reached, and the alarm fires
    assert alarm_value(alarm, physical) >= alarm["threshold"]


def test_fraud_on_the_unsliced_platform_counts_gpus(rendered):
    assert rendered("platform-prod").outputs["timeSlicingReplicas"] is None
    bu = rendered("fraud-prod")
    [pool] = of_type(bu, NODE_POOL)
    assert pool.inputs["spec"]["limits"]["nvidia.com/gpu"] == 8
    assert pool.inputs["metadata"]["annotations"]["ai-estate/gpu-slices-per-gpu"] == "1"
    [quota] = of_type(bu, QUOTA)
    assert quota.inputs["spec"]["hard"]["requests.nvidia.com/gpu"] == str(4 + 8)
    alarms = at_max_alarms(bu)
    assert alarms["train-a10g"]["threshold"] == 8 and alarms["serve-a10g"]["threshold"] == 4
    assert alarm_value(alarms["serve-a10g"], 4) == 4
    [gpu_tag] = [t for t in of_type(bu, ASG_TAG) if t.inputs["tag"]["key"] == GPU_TEMPLATE_TAG]
    assert gpu_tag.inputs["tag"]["value"] == "1"
    [group] = of_type(bu, NODE_GROUP)
    assert group.inputs["tags"][GPU_TEMPLATE_TAG] == "1"


# -- the property ---------------------------------------------------------------------------------

MODELS: dict[str, list[str]] = {}
for instance in CATALOG.values():
    MODELS.setdefault(instance.gpu_model, []).append(instance.instance_type)


@st.composite
def pools(draw):
    model = draw(st.sampled_from(sorted(MODELS)))
    types = draw(
        st.lists(st.sampled_from(MODELS[model]), min_size=1, max_size=3, unique=True).map(sorted)
    )
    provisioner = draw(st.sampled_from(["managed", "karpenter"]))
    if provisioner == "managed":
        # a managed pool's types share one GPU count (validate_pool)
        gpus = CATALOG[types[0]].gpus
        types = [t for t in types if CATALOG[t].gpus == gpus]
    max_size = draw(st.integers(min_value=1, max_value=100))
    cap = None
    if provisioner == "karpenter" and draw(st.booleans()):
        cap = draw(st.integers(min_value=1, max_value=max_gpus(types, max_size)))
    return {
        "name": "pool-a",
        "provisioner": provisioner,
        "instance_types": types,
        "capacity_type": "on-demand",
        "min_size": 0,
        "desired_size": 0,
        "max_size": max_size,
        "disk_gib": 100,
        "ami_type": "AL2023_x86_64_NVIDIA",
        "max_gpus": cap,
    }


@settings(max_examples=200, deadline=None)
@given(pool=pools(), replicas=st.one_of(st.none(), st.integers(min_value=2, max_value=48)))
def test_quota_karpenter_limit_autoscaler_template_and_alarm_agree(pool, replicas):
    physical = effective_max_gpus(pool)
    unit = slices_factor(replicas)
    limit = node_pool_spec(
        node_class_name="x",
        instance_types=pool["instance_types"],
        capacity_type="on-demand",
        labels={},
        taints=[],
        gpu_limit=gpu_units(physical, replicas),
    )["limits"]["nvidia.com/gpu"]
    quota = quota_hard(
        {
            "business_unit": "bu",
            "environment": "dev",
            "gpu_quota": physical,
            "gpu_slices_per_gpu": replicas,
            "cpu_quota": "8",
            "memory_quota": "8Gi",
            "default_container_limits": {},
            "persona_role_arns": {},
            "cluster_name": "c",
            "vpc_cidr": "10.0.0.0/16",
            "k8s_provider": None,  # type: ignore[typeddict-item]
            "tags": {},
        }
    )["requests.nvidia.com/gpu"]
    [alarm] = [
        s
        for s in gpu_alarm_specs(
            "bu", "c", [{"name": "pool-a", "max_gpus": physical}], DEFAULT_THRESHOLDS, 60, replicas
        )
        if s.key.endswith("-at-max")
    ]
    # one unit: all three are the pool's cap in what nodes register
    assert limit == int(quota) == alarm.threshold == physical * unit
    # the alarm reaches its threshold exactly when the pool holds its physical cap
    inputs = {
        "metricQueries": [
            {"metric": {"period": alarm.metrics[0].period}},
            {"expression": alarm.expression},
        ]
    }
    assert alarm_value(inputs, physical) >= alarm.threshold
    assert alarm_value(inputs, physical - 1) < alarm.threshold
    # a new node of the pool registers its GPUs in the same unit (what CA is told, what
    # Karpenter counts): a full pool of max_size such nodes never registers beyond the cap
    per_node = gpu_units(gpus_per_node(pool["instance_types"]), replicas)
    tags = autoscaler_node_template_tags(node_labels("bu", pool), node_taints("bu"), per_node)
    assert int(tags[GPU_TEMPLATE_TAG]) == per_node == gpus_per_node(pool["instance_types"]) * unit
    if pool["provisioner"] == "managed":
        assert pool["max_size"] * per_node == limit


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_replicas_must_be_a_whole_positive_number(bad):
    with pytest.raises(ValueError, match="whole number"):
        slices_factor(bad)
    assert slices_factor(4.0) == 4  # what a stack output carries for 4


def test_the_cost_model_buys_physical_gpus_for_a_time_sliced_pool(rendered):
    """The NodePool limit counts slices (16); the estimate still buys 4 one-T4 nodes, a quarter
    of what the same limit would cost read as physical GPUs."""
    from estate.analysis.cost import gpu_peak_monthly

    bu = rendered("marketing-dev")
    peak = gpu_peak_monthly(bu)
    assert peak > 0
    assert gpu_peak_monthly(_without_slices(bu)) == pytest.approx(4 * peak)


def _without_slices(inventory):
    broken = copy.deepcopy(inventory)
    for r in broken.resources:
        if r.type == NODE_POOL:
            r.inputs["metadata"]["annotations"] = {}
    return broken
