"""AMP rule groups per BU and the alert manager definition, on the shipped stacks.

Every rule expression is parsed with a maintained PromQL parser (`promql-parser`, GreptimeTeam's
Rust parser); each rule file is validated against SchemaStore's Prometheus rule-file schema
(vendored, tests/vendor/SOURCES.md); the alert manager definition is loaded, linted and routed
with `amlint`, which follows Alertmanager's own routing. The metrics the rules read are the ones
the platform's collector scrapes (kubelet probes, the DCGM exporter, Kueue).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest
import yaml
from amlint import linter
from amlint import rules as amlint_rules
from amlint.routing import Router
from hypothesis import given
from hypothesis import strategies as st

from components.monitoring import AMP_SERVICE, scrape_configuration
from components.prometheus_rules import (
    BU_LABEL,
    BURN_RATE_ALERTS,
    GPU_METRIC,
    KUEUE_WAIT_METRIC,
    PROBE_METRIC,
    WINDOWS,
    rule_file,
    slo_rules,
    window_seconds,
)
from estate.analysis.iam import Principal, Request, evaluate
from estate.offline.model import Inventory, Resource
from tests.conftest import ROOT, _render, render_config, shipped_config

RULES = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"
ALERT_MANAGER = "aws:amp/alertManagerDefinition:AlertManagerDefinition"
SCHEMA = json.loads((ROOT / "tests/vendor/schemastore/prometheus.rules.json").read_text())
SCRAPED = {PROBE_METRIC, GPU_METRIC, f"{KUEUE_WAIT_METRIC}_bucket"}
"""The raw series the rules may read: what the collector scrapes (see the module docstring)."""
BU_STACKS = [
    ("fraud-prod", "fraud", "platform-prod"),
    ("marketing-dev", "marketing", "platform-dev"),
]


def _of(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def _rule_file(inventory: Inventory) -> dict[str, Any]:
    (namespace,) = _of(inventory, RULES)
    return yaml.safe_load(namespace.inputs["data"])


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in document["groups"] for r in g["rules"]]


def _selectors(expr: str) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def _alert_manager(inventory: Inventory) -> dict[str, Any]:
    (definition,) = _of(inventory, ALERT_MANAGER)
    return yaml.safe_load(yaml.safe_load(definition.inputs["definition"])["alertmanager_config"])


# -- the rule files of the shipped BU stacks -----------------------------------------------------


@pytest.mark.parametrize(("stack", "bu", "platform"), BU_STACKS)
def test_rule_file_is_a_valid_prometheus_rule_file_of_parsing_promql(stack, bu, platform):
    inventory = _render(stack)
    document = _rule_file(inventory)
    jsonschema.validate(document, SCHEMA)
    names = [g["name"] for g in document["groups"]]
    assert len(names) == len(set(names))
    recorded = {r["record"] for r in _rules(document) if "record" in r}
    for rule in _rules(document):
        selectors = _selectors(rule["expr"])  # raises on PromQL the parser refuses
        assert selectors, rule
        for s in selectors:
            # raw series the collector scrapes, or series a rule of this file records
            assert s.name in SCRAPED | recorded, (rule.get("alert") or rule["record"], s.name)
        # every rule belongs to the BU and reads only the BU's series
        assert rule["labels"][BU_LABEL] == bu
        raw = [s for s in selectors if s.name in SCRAPED]
        for s in raw:
            matchers = {m.name: m.value for m in s.matchers.matchers}
            assert bu in matchers.values(), (s.name, matchers)


@pytest.mark.parametrize(("stack", "bu", "platform"), BU_STACKS)
def test_every_endpoint_has_fast_and_slow_burn_alerts_and_the_bu_its_waste_and_wait(
    stack, bu, platform
):
    inventory = _render(stack)
    document = _rule_file(inventory)
    alerts = {(r["alert"], r["labels"].get("endpoint")) for r in _rules(document) if "alert" in r}
    endpoints = [e["name"] for e in shipped_config(stack)["ai-estate:serving"]["endpoints"]]
    assert endpoints
    for endpoint in endpoints:
        assert ("EndpointErrorBudgetBurnFast", endpoint) in alerts
        assert ("EndpointErrorBudgetBurnSlow", endpoint) in alerts
    assert ("GpuIdleWaste", None) in alerts and ("KueueAdmissionWaitHigh", None) in alerts
    severities = {r["labels"]["severity"] for r in _rules(document) if "alert" in r}
    assert severities == {"page", "ticket"}
    (namespace,) = _of(inventory, RULES)
    workspace = _render(platform).outputs["prometheusWorkspaceArn"]
    assert namespace.inputs["workspaceId"] == workspace.rsplit("/", 1)[-1]
    assert namespace.inputs["name"] == stack


def test_gpu_idle_rule_takes_the_bus_low_utilisation_thresholds():
    config = shipped_config("fraud-prod")
    config["ai-estate:monitoring"]["thresholds"] = {
        "gpuUtilizationLowPercent": 25,
        "gpuUtilizationLowMinutes": 90,
    }
    (idle,) = [
        r
        for r in _rules(_rule_file(render_config("fraud-prod", config)))
        if r.get("alert") == "GpuIdleWaste"
    ]
    assert idle["expr"].endswith("< 25") and idle["for"] == "90m"


def test_rules_follow_their_config():
    config = shipped_config("fraud-prod")
    config["ai-estate:monitoring"]["prometheusRules"] = {
        "availabilityObjective": 0.99,
        "queueWaitP90Minutes": 10,
    }
    rules = _rules(_rule_file(render_config("fraud-prod", config)))
    (fast,) = [r for r in rules if r.get("alert") == "EndpointErrorBudgetBurnFast"]
    assert "> 14.4 * 0.01" in fast["expr"]
    (wait,) = [r for r in rules if r.get("alert") == "KueueAdmissionWaitHigh"]
    assert wait["expr"].endswith("> 600")
    config["ai-estate:monitoring"]["prometheusRules"] = {"enabled": False}
    assert not _of(render_config("fraud-prod", config), RULES)


# -- burn-rate arithmetic ---------------------------------------------------------------------------


def test_burn_rates_spend_the_workbooks_share_of_a_30_day_budget():
    month = 30 * 86400
    spent = {
        (rate, long): round(rate * window_seconds(long) / month, 4)
        for _, rate, long, _, _ in BURN_RATE_ALERTS
    }
    assert spent == {(14.4, "1h"): 0.02, (6.0, "6h"): 0.05, (3.0, "1d"): 0.1, (1.0, "3d"): 0.1}
    for _, _, long, short, _ in BURN_RATE_ALERTS:
        assert window_seconds(short) * 12 == window_seconds(long)  # short window = 1/12 long
    assert list(WINDOWS) == sorted(WINDOWS, key=window_seconds)


@given(
    objective=st.floats(min_value=0.9, max_value=0.9999),
    name=st.from_regex(r"[a-z][a-z0-9-]{2,20}[a-z0-9]", fullmatch=True),
)
def test_slo_thresholds_are_burn_rate_times_error_budget(objective, name):
    rules = slo_rules("fraud", name, objective)
    budget = 1 - objective
    for rule in rules:
        promql_parser.parse(rule["expr"])
    alerts = [r for r in rules if "alert" in r]
    assert len(alerts) == 2
    for alert in alerts:
        severity = alert["labels"]["severity"]
        expected = [rate for sev, rate, *_ in BURN_RATE_ALERTS if sev == severity]
        for rate in expected:
            factor = f"{rate:g} * {round(budget, 10):g}"
            assert alert["expr"].count(f"> {factor}") == 2  # long and short window
            assert rate * float(f"{round(budget, 10):g}") == pytest.approx(rate * budget, rel=1e-5)


def test_slo_objective_outside_zero_and_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        slo_rules("fraud", "card-scoring", 1.0)


def test_rule_file_without_endpoints_keeps_waste_and_wait():
    document = rule_file(
        "fraud", [], {"availability_objective": 0.995, "queue_wait_p90_minutes": 30}, 10, 60
    )
    assert [g["name"] for g in document["groups"]] == ["fraud-gpu-waste", "fraud-kueue-wait"]


# -- the scrape jobs the rules need ------------------------------------------------------------------


def test_collector_scrapes_the_kubelets_probe_results():
    config = yaml.safe_load(scrape_configuration("arn:aws:eks:us-east-1:1:cluster/c", 30))
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    relabel = jobs["kubelet-probes"]["relabel_configs"]
    paths = [r.get("replacement") for r in relabel if r.get("target_label") == "__metrics_path__"]
    assert paths == ["/api/v1/nodes/$1/proxy/metrics/probes"]
    assert "dcgm-exporter" in jobs


# -- alert routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "bu", "platform"), BU_STACKS)
def test_alert_manager_routes_each_bus_alerts_to_its_topic(stack, bu, platform, tmp_path: Path):
    bu_inventory = _render(stack)
    config = _alert_manager(_render(platform))
    findings = linter.lint(config)
    assert [(f.level, f.code) for f in findings if f.level != "info"] == []
    receivers = {r["name"]: r for r in config["receivers"]}
    router = Router(config["route"])
    (match,) = router.match({BU_LABEL: bu, "alertname": "GpuIdleWaste", "severity": "ticket"})
    sns = receivers[match.receiver]["sns_configs"]
    assert [s["topic_arn"] for s in sns] == [bu_inventory.outputs["alarmTopicArn"]]
    assert sns[0]["sigv4"] == {"region": bu_inventory.config["aws:region"]}
    (other,) = router.match({BU_LABEL: "someone-else", "alertname": "GpuIdleWaste"})
    assert other.receiver == "unrouted" and "sns_configs" not in receivers["unrouted"]
    # every alert the BU's rule file can raise reaches the BU's receiver, not the default one
    rules_path = tmp_path / "rules.yaml"
    (namespace,) = _of(bu_inventory, RULES)
    rules_path.write_text(namespace.inputs["data"])
    loaded, notes = amlint_rules.load_rules([str(rules_path)])
    assert loaded and not notes
    with_rules = linter.lint(config, rules=loaded)
    assert [f.code for f in with_rules if f.level != "info"] == []
    for rule in _rules(_rule_file(bu_inventory)):
        if "alert" in rule:
            (hit,) = router.match({**rule["labels"], "alertname": rule["alert"]})
            assert hit.receiver == bu


def test_no_business_units_no_alert_manager_definition():
    config = shipped_config("platform-dev")
    config["ai-estate:businessUnits"] = []
    assert not _of(render_config("platform-dev", config), ALERT_MANAGER)


def test_the_workspace_may_publish_to_the_bu_topic_and_use_its_key():
    inventory = _render("fraud-prod")
    account = str(inventory.config["ai-estate:accountId"])
    topic = inventory.outputs["alarmTopicArn"]
    (policy,) = [
        json.loads(r.inputs["policy"])
        for r in inventory.resources
        if r.type == "aws:sns/topicPolicy:TopicPolicy" and "alarms" in r.name
    ]
    workspace = f"arn:aws:aps:us-east-1:{account}:workspace/ws-1234"

    def request(action: str, resource: str, source_account: str, source_arn: str, doc: Any):
        return evaluate(
            Request(
                principal=Principal(AMP_SERVICE, kind="service"),
                action=action,
                resource=resource,
                context={"aws:SourceAccount": source_account, "aws:SourceArn": source_arn},
                resource_policy=doc,
            )
        )

    assert request("sns:Publish", topic, account, workspace, policy)
    assert request("sns:GetTopicAttributes", topic, account, workspace, policy)
    other = "999999999999"
    assert not request(
        "sns:Publish", topic, other, f"arn:aws:aps:us-east-1:{other}:workspace/ws-9", policy
    )
    (key,) = [
        r
        for r in inventory.resources
        if r.type == "aws:kms/key:Key" and not r.inputs.get("region")  # not the DR backup key
    ]
    key_policy = json.loads(key.inputs["policy"])
    assert request(
        "kms:GenerateDataKey",
        f"arn:aws:kms:us-east-1:{account}:key/k",
        account,
        workspace,
        key_policy,
    )
