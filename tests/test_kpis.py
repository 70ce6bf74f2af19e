"""The business KPI contract and the cost per 1,000 inferences, on the shipped stacks.

KPIs are declared per model family in `ai-estate:monitoring.kpis`; the BU's jobs publish them
to `AIEstate/BusinessKPI` (dimensions BusinessUnit, ModelFamily). Each renders an alarm against
its target, routed to the BU topic, and a dashboard graph right after the model-quality graphs.
The serving dashboard computes what 1,000 inferences cost from the endpoint's request count,
its running replicas and its pool's node price.
"""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.monitoring import KPI_NAMESPACE, MODEL_QUALITY_NAMESPACE
from estate.analysis import readiness
from estate.analysis.cost import replica_usd_per_hour
from estate.stack.config import ConfigError, validate_config
from tests.conftest import ROOT

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def _config(stack: str) -> dict[str, Any]:
    from estate.offline.project import load_project

    return copy.deepcopy(load_project(ROOT).stack_config(stack))


def _kpis(stack: str) -> list[dict[str, Any]]:
    return list(_config(stack)["ai-estate:monitoring"]["kpis"])


def test_the_readiness_check_reads_the_namespaces_monitoring_writes():
    assert readiness.KPI_NAMESPACE == KPI_NAMESPACE
    assert readiness.MODEL_QUALITY_NAMESPACE == MODEL_QUALITY_NAMESPACE


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_every_declared_kpi_is_an_alarm_on_the_bu_topic(rendered, stack):
    inventory = rendered(stack)
    bu = inventory.config["ai-estate:businessUnit"]
    alarms = [r for r in inventory.resources if r.type == ALARM]
    kpi_alarms = [a for a in alarms if a.inputs.get("namespace") == KPI_NAMESPACE]
    topic = f"arn:aws:sns:us-east-1:{inventory.config['ai-estate:accountId']}:{stack}-alarms"
    declared = _kpis(stack)
    assert len(kpi_alarms) == len(declared)
    for kpi in declared:
        (alarm,) = [
            a
            for a in kpi_alarms
            if a.inputs["metricName"] == kpi["name"]
            and a.inputs["dimensions"] == {"BusinessUnit": bu, "ModelFamily": kpi["modelFamily"]}
        ]
        floor = kpi["direction"] == "atLeast"
        assert alarm.inputs["comparisonOperator"] == (
            "LessThanThreshold" if floor else "GreaterThanThreshold"
        )
        assert alarm.inputs["threshold"] == kpi["target"]
        # the BU's on-call first, then the family's owners (tests/test_mlops.py)
        owners = f"{topic.removesuffix('-alarms')}-{kpi['modelFamily']}-owners"
        assert alarm.inputs["alarmActions"] == [topic, owners]
        assert alarm.inputs["insufficientDataActions"] == [topic, owners]  # the publisher stopped
        assert alarm.inputs["period"] == 86400
        assert f"({kpi['unit']})" in alarm.inputs["alarmDescription"]
        assert alarm.inputs["tags"]["ai-estate/model-family"] == kpi["modelFamily"]


def test_kpi_graphs_sit_next_to_the_model_quality_graphs(rendered):
    inventory = rendered("fraud-prod")
    (dashboard,) = [
        r
        for r in inventory.resources
        if r.type == DASHBOARD and r.name == "fraud-prod-monitoring-dashboard"
    ]
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    namespaces = [w["properties"]["metrics"][0][0] for w in widgets if w["type"] == "metric"]
    quality = [i for i, n in enumerate(namespaces) if n == MODEL_QUALITY_NAMESPACE]
    kpis = [i for i, n in enumerate(namespaces) if n == KPI_NAMESPACE]
    assert len(kpis) == len(_kpis("fraud-prod")) and quality
    assert kpis[0] == quality[-1] + 1 and kpis == list(range(kpis[0], kpis[0] + len(kpis)))
    kpi_widget = [w for w in widgets if w["type"] == "metric"][kpis[0]]
    target = _kpis("fraud-prod")[0]["target"]
    assert kpi_widget["properties"]["annotations"]["horizontal"][0]["value"] == target


def test_kpi_config_errors_name_the_key():
    values = {
        k.removeprefix("ai-estate:"): v
        for k, v in _config("fraud-prod").items()
        if k.startswith("ai-estate:")
    }
    values["monitoring"]["kpis"].append(
        {
            "modelFamily": "no-such-family",
            "name": "x",
            "unit": "USD",
            "target": 1,
            "direction": "atLeast",
        }
    )
    values["monitoring"]["kpis"].append(dict(values["monitoring"]["kpis"][0]))
    with pytest.raises(ConfigError) as info:
        validate_config(values, "stacks/Pulumi.fraud-prod.yaml")
    lines = "\n".join(info.value.lines)
    assert "ai-estate:monitoring.kpis[3].modelFamily" in lines and "card-fraud" in lines
    assert "ai-estate:monitoring.kpis[4].name" in lines and "repeats KPI" in lines
    bad = copy.deepcopy(values)
    bad["monitoring"]["kpis"] = [{**values["monitoring"]["kpis"][0], "direction": "up"}]
    with pytest.raises(ConfigError) as info:
        validate_config(bad, "stacks/Pulumi.fraud-prod.yaml")
    assert "ai-estate:monitoring.kpis[0].direction" in "\n".join(info.value.lines)


# -- cost per 1,000 inferences ----------------------------------------------------------------


def _cost_widget(inventory, endpoint: str) -> dict[str, Any]:
    (dashboard,) = [
        r
        for r in inventory.resources
        if r.type == DASHBOARD and r.name.endswith("-serving-dashboard")
    ]
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    (widget,) = [w for w in widgets if "cost per 1,000" in w["properties"]["title"]]
    assert widget["properties"]["title"].startswith(f"{endpoint}:")
    return widget


def _evaluate(expression: str, period: int, requests: float, replicas: float) -> float:
    """CloudWatch metric math for this expression's subset: numbers, ids, + - * /, PERIOD()."""
    tree = ast.parse(expression.replace("PERIOD(requests)", str(period)), mode="eval")
    names = {"requests": requests, "replicas": replicas}
    allowed = (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.Mult, ast.Div)
    assert all(isinstance(node, allowed) for node in ast.walk(tree)), expression
    return float(eval(compile(tree, "<metric-math>", "eval"), {"__builtins__": {}}, names))


@pytest.mark.parametrize(
    ("stack", "endpoint", "instance_type", "gpus"),
    [
        ("fraud-prod", "card-scoring", "g5.xlarge", 1),
        ("marketing-dev", "propensity", "g4dn.xlarge", 1),
    ],
)
def test_cost_widget_reads_the_endpoints_requests_and_replicas(
    rendered, stack, endpoint, instance_type, gpus
):
    inventory = rendered(stack)
    widget = _cost_widget(inventory, endpoint)
    requests, replicas, math = widget["properties"]["metrics"]
    # the same target group and load balancer as the endpoint's latency alarm
    (latency,) = [
        r
        for r in inventory.resources
        if r.type == ALARM and r.name.endswith(f"{endpoint}-latency-p99")
    ]
    dims = latency.inputs["dimensions"]
    assert requests[:6] == [
        "AWS/ApplicationELB",
        "RequestCount",
        "TargetGroup",
        dims["TargetGroup"],
        "LoadBalancer",
        dims["LoadBalancer"],
    ]
    (at_max,) = [
        r
        for r in inventory.resources
        if r.type == ALARM and r.name.endswith(f"{endpoint}-replicas-at-max")
    ]
    pods = at_max.inputs["dimensions"]
    assert replicas[:8] == [
        "ContainerInsights", "service_number_of_running_pods",
        "ClusterName", pods["ClusterName"], "Namespace", pods["Namespace"], "Service", pods["Service"],
    ]  # fmt: skip
    price = replica_usd_per_hour("us-east-1", instance_type, gpus)
    assert price is not None and f"* {price:.6g} *" in math[0]["expression"]
    assert _evaluate(math[0]["expression"], 3600, 2000, 2) == pytest.approx(1000 * 2 * price / 2000)


@given(
    period=st.sampled_from([60, 300, 3600, 86400]),
    requests=st.floats(min_value=1, max_value=1e9),
    replicas=st.floats(min_value=0, max_value=64),
    price=st.floats(min_value=0.01, max_value=100),
)
def test_cost_per_1000_is_replica_cost_over_requests(period, requests, replicas, price):
    from components.serving import cost_per_inference_widget

    widget = cost_per_inference_widget("e", "us-east-1", 0, "tg", "lb", "c", "ns", price)
    expression = widget["properties"]["metrics"][2][0]["expression"]
    spent = replicas * float(f"{price:.6g}") * period / 3600  # USD over the period
    assert _evaluate(expression, period, requests, replicas) == pytest.approx(
        1000 * spent / requests, rel=1e-9
    )
