"""Readiness: every item is judged from the rendered stack and its policy results.

Each item that this tree can render evidence for is flipped by changing the config of a shipped
stack and rendering it through the program (and, for the policy-derived items, running the real
pack over it): the item's status must change, and its evidence or its missing text must say why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest

from estate.analysis import readiness
from estate.analysis.readiness import CAPABILITIES, CHECKS, Scorecard, scorecard
from estate.offline.engine import render
from estate.offline.model import StackResult
from estate.offline.runner import run_pack
from tests.conftest import ROOT, _render, render_config, shipped_config

PACK = ROOT / "policies"
TODAY = dt.date.today()


def _platform(config: dict[str, Any]) -> str:
    return str(config["ai-estate:platformStack"]).rsplit("/", 1)[-1]


def card_of(stack: str, config: dict[str, Any], *, policies: bool = False) -> Scorecard:
    """Render `config` as `stack` through the program and score it (with the pack's results)."""
    platform = _platform(config)
    inventory = render_config(stack, config)
    result = None
    if policies:
        run = run_pack(PACK, inventory)
        result = StackResult(stack=stack, source=inventory.source, policies=run.policies)
        result.findings = run.findings
        result.inventory = inventory
    return scorecard(inventory, platform=_render(platform), result=result)


def shipped_card(stack: str, *, policies: bool = False) -> Scorecard:
    return card_of(stack, shipped_config(stack), policies=policies)


def status(card: Scorecard, item: str) -> str:
    return card.item(item).status


# -- the catalogue ---------------------------------------------------------------------------


def test_every_capability_has_items_and_ids_are_unique():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    assert {c.capability for c in CHECKS} == {cap for cap, _ in CAPABILITIES}
    assert all(c.id.startswith(c.capability[:4]) for c in CHECKS)
    assert all(c.fix for c in CHECKS)


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_evidence_names_real_resources_and_input_keys(stack):
    card = shipped_card(stack, policies=True)
    inventory = _render(stack)
    platform = _render(_platform(inventory.config))
    by_urn = {**platform.by_urn(), **inventory.by_urn()}
    for item in card.items:
        assert item.status in ("met", "partial", "missing"), item.id
        if item.status != "met":
            assert item.missing and item.fix, item.id  # what is missing, and what adds it
        for e in item.evidence:
            if not e.urn:
                continue  # policy or waiver evidence
            r = by_urn[e.urn]
            assert r.type == e.type
            top = e.key.split(".")[0]
            assert top in r.inputs, f"{item.id}: {e.key} not an input of {r.type}"


def test_scores_follow_the_items():
    card = shipped_card("marketing-dev", policies=True)
    caps = card.capability_scores()
    for cap, _title in CAPABILITIES:
        items = [i for i in card.items if i.capability == cap]
        expected = 100 * sum(readiness.POINTS[i.status] for i in items) / len(items)
        assert caps[cap] == round(expected)
    assert card.score == round(sum(caps.values()) / len(caps))  # type: ignore[arg-type]
    assert card.level == readiness.level_of(card.score)


# -- flips through the program (no policy results needed) ---------------------------------------


def _no_endpoints(config: dict[str, Any]) -> None:
    config["ai-estate:serving"] = {"endpoints": []}


FLIPS: dict[str, tuple[str, Any, str, str]] = {}
"""item -> (stack, how the config changes, status before, status after)."""


def flip(item: str, stack: str, before: str, after: str):
    def register(fn):
        FLIPS[item] = (stack, fn, before, after)
        return fn

    return register


@flip("data-feature-store", "marketing-dev", "met", "missing")
def _no_feature_groups(c):
    c["ai-estate:featureStore"] = {"featureGroups": []}


@flip("infra-gpu-pools", "marketing-dev", "met", "missing")
def _no_gpu_pools(c):
    _no_endpoints(c)
    c.pop("ai-estate:mlops", None)  # training jobs run on a pool
    c["ai-estate:gpuPools"] = []
    c["ai-estate:tenant"] = {"cpuQuota": "32", "memoryQuota": "128Gi"}


@flip("infra-fair-share", "marketing-dev", "met", "partial")
def _no_gpu_quota(c):
    c["ai-estate:tenant"]["gpuQuota"] = 0  # the ClusterQueue admits no GPU job of the BU


@flip("infra-node-health", "marketing-dev", "met", "missing")
def _no_gpu_pools_to_watch(c):
    _no_gpu_pools(c)


@flip("infra-autoscaling", "marketing-dev", "met", "partial")
def _fixed_replicas(c):
    c["ai-estate:serving"]["endpoints"][0].update({"minReplicas": 2, "maxReplicas": 2})
    c["ai-estate:serving"]["endpoints"][0].pop("schedule")


@flip("mlops-registry", "marketing-dev", "met", "missing")
def _no_registry(c):
    _no_endpoints(c)
    c["ai-estate:modelRegistry"] = {"enabled": False}
    c.pop("ai-estate:mlops", None)  # the loop retrains registry families
    c["ai-estate:monitoring"]["kpis"] = []  # KPIs name registry families


@flip("mlops-approval", "marketing-dev", "missing", "met")
def _approver(c):
    c["ai-estate:access"]["personas"]["model-approver"] = {
        "samlProviderArn": "arn:aws:iam::111111111111:saml-provider/corporate-idp"
    }


@flip("integration-endpoints", "marketing-dev", "met", "missing")
def _endpoints_gone(c):
    _no_endpoints(c)


@flip("integration-slo-alarms", "marketing-dev", "met", "missing")
def _slo_gone(c):
    _no_endpoints(c)


@flip("ownership-on-call", "marketing-dev", "partial", "met")
def _pager(c):
    c["ai-estate:monitoring"]["alarmSubscriptions"] = [
        {"protocol": "email", "endpoint": "marketing-data@example.com"},
        {"protocol": "https", "endpoint": "https://events.pagerduty.com/integration/m/enqueue"},
    ]


@flip("ownership-approvers", "marketing-dev", "missing", "met")
def _approval_emails(c):
    c["ai-estate:modelRegistry"]["approvalEmails"] = ["marketing-approvals@example.com"]


@flip("outcomes-budget", "marketing-dev", "met", "missing")
def _no_budget(c):
    del c["ai-estate:budget"]


@flip("outcomes-model-quality", "fraud-prod", "partial", "met")
def _merchant_risk_watched(c):
    c["ai-estate:monitoring"]["modelMetrics"].append(
        {"model": "merchant-risk", "metric": "auc", "threshold": 0.8, "direction": "below"}
    )


@flip("outcomes-kpis", "fraud-prod", "met", "missing")
def _no_kpis(c):
    c["ai-estate:monitoring"]["kpis"] = []
    for family in c["ai-estate:mlops"]["families"].values():
        family["modelCard"].pop("kpi", None)  # model cards name the KPI they move


@flip("governance-audit-trail", "marketing-dev", "met", "missing")
def _no_audit(c):
    c["ai-estate:audit"] = {"enabled": False}


@flip("data-lake-formation", "fraud-prod", "met", "partial")
def _no_lake_formation(c):
    c["ai-estate:lakeFormation"] = {"enabled": False}


@flip("data-backup", "marketing-dev", "met", "missing")
def _no_backup(c):
    c["ai-estate:backup"] = {"enabled": False}


@flip("outcomes-cost-per-inference", "marketing-dev", "met", "missing")
def _no_cost_per_inference(c):
    _no_endpoints(c)


@flip("outcomes-cost-anomaly", "fraud-prod", "met", "missing")
def _no_cost_anomaly(c):
    del c["ai-estate:monitoring"]["costAnomaly"]


@pytest.mark.parametrize("item", sorted(FLIPS))
def test_item_flips_with_the_config(item):
    stack, change, before, after = FLIPS[item]
    assert status(shipped_card(stack), item) == before
    config = shipped_config(stack)
    change(config)
    flipped = card_of(stack, config)
    found = flipped.item(item)
    assert found.status == after, (found.missing, found.evidence)
    if after == "met":
        assert found.evidence
    else:
        assert found.missing and found.fix.startswith("ai-estate:")


def test_lake_formation_is_partial_while_the_platform_grants_iam_allowed_principals():
    inventory = render_config("fraud-prod", shipped_config("fraud-prod"))
    platform = _render("platform-prod")
    settings = [r for r in platform.resources if r.type == readiness.LF_SETTINGS]
    default = [{"principal": "IAM_ALLOWED_PRINCIPALS", "permissions": ["ALL"]}]
    legacy = [
        dataclasses.replace(r, inputs={**r.inputs, "createDatabaseDefaultPermissions": default})
        for r in settings
    ]
    others = [r for r in platform.resources if r.type != readiness.LF_SETTINGS]
    legacy_platform = dataclasses.replace(platform, resources=[*others, *legacy])
    item = scorecard(inventory, platform=legacy_platform).item("data-lake-formation")
    assert item.status == "partial"
    assert "IAMAllowedPrincipals" in item.missing
    assert scorecard(inventory, platform=platform).item("data-lake-formation").status == "met"


def test_cost_anomaly_alerting_no_topic_is_partial():
    config = shipped_config("fraud-prod")
    inventory = render_config("fraud-prod", config)
    for r in inventory.resources:
        if r.type == readiness.ANOMALY_SUBSCRIPTION:
            r.inputs["subscribers"] = [{"type": "EMAIL", "address": "finance@example.com"}]
    item = scorecard(inventory, platform=_render("platform-prod")).item("outcomes-cost-anomaly")
    assert item.status == "partial" and "alerts no BU alarm topic" in item.missing


def _platform_card(bu_stack: str, platform_change) -> Scorecard:
    """`bu_stack`'s shipped scorecard against its platform rendered with `platform_change`."""
    bu = shipped_config(bu_stack)
    platform = _platform(bu)
    config = shipped_config(platform)
    platform_change(config)
    platform_inventory = render(
        ROOT,
        stack=platform,
        project="ai-estate",
        config=config,
        source=f"stacks/Pulumi.{platform}.yaml",
    )
    return scorecard(_render(bu_stack), platform=platform_inventory)


def test_cost_allocation_flips_with_the_platform_config():
    """`governance-cost-allocation` reads the platform stack: its cost category must have the BU
    and its CUR 2.0 export must split EKS costs."""
    assert status(shipped_card("fraud-prod"), "governance-cost-allocation") == "met"

    def other_bus(c):
        c["ai-estate:businessUnits"] = ["payments"]

    item = _platform_card("fraud-prod", other_bus).item("governance-cost-allocation")
    assert item.status == "partial" and "no cost category has a value for BU fraud" in item.missing

    def no_split(c):
        c.setdefault("ai-estate:costGovernance", {})["export"] = {"splitCostAllocationData": False}

    item = _platform_card("fraud-prod", no_split).item("governance-cost-allocation")
    assert item.status == "partial" and "splits EKS costs" in item.missing

    def nothing(c):
        c["ai-estate:costGovernance"] = {"export": {"enabled": False}}
        c["ai-estate:businessUnits"] = []

    item = _platform_card("fraud-prod", nothing).item("governance-cost-allocation")
    assert item.status == "missing" and item.fix.startswith("ai-estate:payerAccount")


def test_marketing_quality_alarm_flips_missing_to_met():
    config = shipped_config("marketing-dev")
    assert status(card_of("marketing-dev", config), "outcomes-model-quality") == "missing"
    config["ai-estate:monitoring"]["modelMetrics"] = [
        {"model": "propensity", "metric": "auc", "threshold": 0.7, "direction": "below"}
    ]
    item = card_of("marketing-dev", config).item("outcomes-model-quality")
    assert item.status == "met"
    assert [e.type for e in item.evidence] == [readiness.METRIC_ALARM]


# -- flips that need the pack's results -------------------------------------------------------------


def _waiver(policy: str, days: int, resource: str = "*") -> dict[str, Any]:
    return {
        "policy": policy,
        "resource": resource,
        "reason": "a reason long enough for the schema",
        "ticket": "SEC-1",
        "expires": (TODAY + dt.timedelta(days=days)).isoformat(),
    }


@pytest.mark.slow
def test_policy_items_on_the_shipped_stacks():
    card = shipped_card("fraud-prod", policies=True)
    for item in ("governance-policies", "governance-waivers", "governance-isolation"):
        assert status(card, item) == "met", card.item(item).missing
    assert status(card, "ownership-stack") == "met"


@pytest.mark.slow
def test_blocking_finding_fails_the_policy_item_and_the_budget_fit():
    config = shipped_config("fraud-prod")
    config["ai-estate:budget"]["monthlyLimitUsd"] = 4000  # below the GPU pools at their caps
    card = card_of("fraud-prod", config, policies=True)
    item = card.item("governance-policies")
    assert item.status == "missing"
    assert "gpu-peak-cost-within-budget" in {e.key for e in item.evidence}
    assert status(card, "outcomes-budget") == "partial"
    assert "exceed the budget" in card.item("outcomes-budget").missing


@pytest.mark.slow
def test_waiver_expiring_soon_is_partial():
    config = shipped_config("fraud-prod")
    config["ai-estate:waivers"] = [_waiver("s3-bucket-access-logging", 10)]
    item = card_of("fraud-prod", config, policies=True).item("governance-waivers")
    assert item.status == "partial"
    assert "s3-bucket-access-logging" in item.missing and "in 10 days" in item.missing


@pytest.mark.slow
def test_waived_isolation_rule_weakens_the_isolation_proof():
    config = shipped_config("fraud-prod")
    config["ai-estate:waivers"] = [_waiver("iam-no-cross-bu-arns", 200)]
    card = card_of("fraud-prod", config, policies=True)
    item = card.item("governance-isolation")
    assert item.status == "partial"
    assert "iam-no-cross-bu-arns" in item.missing
    assert status(card, "governance-waivers") == "met"  # the waiver itself is current


@pytest.mark.slow
def test_waived_ownership_rule_is_partial():
    config = shipped_config("marketing-dev")
    config["ai-estate:waivers"] = [_waiver("required-ownership-tags", 200)]
    item = card_of("marketing-dev", config, policies=True).item("ownership-stack")
    assert item.status == "partial" and "waived" in item.missing


def test_route_without_auth_is_missing():
    config = shipped_config("marketing-dev")
    assert status(card_of("marketing-dev", config), "integration-auth") == "met"
    config["ai-estate:serving"]["endpoints"][0]["auth"] = "none"
    config["ai-estate:waivers"] = [
        _waiver("serving-route-authenticated", 100, "marketing-dev-serving-propensity-route")
    ]
    item = card_of("marketing-dev", config).item("integration-auth")
    assert item.status == "missing" and "propensity" in item.missing


def test_policy_items_are_unknown_without_policy_results():
    card = shipped_card("fraud-prod")
    assert status(card, "governance-policies") == "unknown"
    assert status(card, "governance-waivers") == "unknown"
    assert "governance-policies" not in {i.id for i in card.items if i.status in readiness.POINTS}


# -- the MLOps loop (issue 13): its items flip with its config ---------------------------------


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_the_mlops_items_flip_with_the_mlops_config(stack):
    """The loop's items read what `ai-estate:mlops` renders (the retraining queues and their
    ScaledJobs, the gate's rule and target, the owners' tags): met on the shipped stacks,
    missing once the families' loop is gone (a dev stack may go without it; a prod stack
    cannot, so fraud-prod drops its registry with it)."""
    platform = _render(_platform(shipped_config(stack)))
    before = scorecard(_render(stack), platform=platform)
    config = shipped_config(stack)
    del config["ai-estate:mlops"]
    if stack == "fraud-prod":
        config["ai-estate:modelRegistry"] = {"enabled": False}
        config["ai-estate:serving"] = {"endpoints": []}
        # the KPIs and model metrics name the registry's families
        for key in ("kpis", "modelMetrics"):
            del config["ai-estate:monitoring"][key]
    after = scorecard(render_config(stack, config), platform=platform)
    for item in ("mlops-retraining", "mlops-validation-gate", "ownership-model-families"):
        assert before.item(item).status == "met", (item, before.item(item).missing)
        assert after.item(item).status == "missing", (item, after.item(item).evidence)
    assert after.score < before.score


# -- the CLI ------------------------------------------------------------------------------------


def _estate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "estate", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.slow
def test_cli_json_scores_every_bu_stack_and_exits_zero():
    done = _estate("readiness", "--all", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["stack"] for s in data["stacks"]] == ["fraud-prod", "marketing-dev"]
    fraud = data["stacks"][0]
    assert [c["id"] for c in fraud["capabilities"]] == [c for c, _ in CAPABILITIES]
    items = {i["id"]: i for c in fraud["capabilities"] for i in c["items"]}
    assert items["governance-policies"]["status"] == "met"  # the pack ran
    node_health = items["infra-node-health"]["evidence"]
    assert any(e["stack"] == "platform-prod" for e in node_health)  # the platform was read


@pytest.mark.slow
def test_cli_min_score_and_formats():
    low = _estate("readiness", "--stack", "marketing-dev", "--min-score", "100")
    assert low.returncode == 1
    assert "marketing-dev: readiness" in low.stderr and "below --min-score 100" in low.stderr
    md = _estate(
        "readiness", "--stack", "marketing-dev", "--format", "markdown", "--min-score", "0"
    )
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# AI Estate readiness") and "| ✘ |" in md.stdout
    table = _estate("readiness", "--stack", "marketing-dev")
    words = " ".join(table.stdout.split())  # cells wrap wherever the terminal width says
    assert table.returncode == 0 and "readiness" in words and "→ add ai-estate:" in words


def test_cli_refuses_platform_stacks_and_bad_options():
    done = _estate("readiness", "--stack", "platform-dev")
    assert done.returncode == 2 and "readiness scores BU stacks" in done.stderr
    assert _estate("readiness", "--all", "--format", "yaml").returncode == 2
    assert _estate("readiness", "--all", "--min-score", "101").returncode == 2


# -- the PR comment ------------------------------------------------------------------------------


def test_markdown_report_shows_readiness_and_the_change_against_base():
    from estate.analysis.readiness import attach_readiness
    from estate.reports.markdown import to_markdown

    head_inventory = _render("marketing-dev")
    config = shipped_config("marketing-dev")
    del config["ai-estate:budget"]
    base_inventory = render(
        ROOT,
        stack="marketing-dev",
        project="ai-estate",
        config=config,
        stack_outputs=lambda ref: _render(ref.rsplit("/", 1)[-1]).outputs,
    )
    run = run_pack(PACK, head_inventory)
    head = StackResult("marketing-dev", "stacks/Pulumi.marketing-dev.yaml", policies=run.policies)
    head.findings, head.inventory, head.resource_count = run.findings, head_inventory, 1
    platform = StackResult("platform-dev", "stacks/Pulumi.platform-dev.yaml")
    platform.inventory = _render("platform-dev")
    base = [
        StackResult("marketing-dev", "x", inventory=base_inventory),
        StackResult("platform-dev", "y", inventory=_render("platform-dev")),
    ]
    attach_readiness([head, platform], base)
    assert platform.readiness is None  # platform stacks are context, not scored
    assert head.readiness is not None
    prior = head.readiness["base"]
    assert prior["comparableScore"] > prior["score"]  # adding the budget raised outcomes
    text = to_markdown([head, platform])
    assert "### Readiness (BU stacks, 0-100) (1)" in text
    row = next(line for line in text.splitlines() if line.startswith("| `marketing-dev` | "))
    change = prior["comparableScore"] - prior["score"]
    assert f"+{change} ({prior['score']} → {prior['comparableScore']})" in row


def test_fair_share_names_the_quota_and_the_cohort():
    card = shipped_card("marketing-dev")
    item = card.item("infra-fair-share")
    details = " ".join(e.detail for e in item.evidence)
    assert (
        "marketing-gpu: 16 nvidia.com/gpu nominal" in details
    )  # 4 GPUs x 4 slices and "cohort" in details
    config = shipped_config("marketing-dev")
    config["ai-estate:tenant"]["gpuQuota"] = 0
    flipped = card_of("marketing-dev", config).item("infra-fair-share")
    assert "holds no GPU quota" in flipped.missing
    assert flipped.fix.startswith("ai-estate:tenant.gpuQuota")
