"""Threat detection in the shipped platform stacks: GuardDuty's features, Inspector for ECR,
and which findings reach the security topic (as EventBridge matches them)."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from estate.analysis.iam import Principal, Request, evaluate
from tests.test_backup import of, one

FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
RULE = "aws:cloudwatch/eventRule:EventRule"
STACKS = ["platform-dev", "platform-prod"]


def _finding(source: str, detail_type: str, severity) -> dict:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-12-04T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"severity": severity, "type": "x"},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_guardduty_watches_s3_and_eks_runtime_with_managed_agent(rendered, stack):
    inventory = rendered(stack)
    detector = one(inventory, "aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True
    features = {f.inputs["name"]: f.inputs for f in of(inventory, FEATURE)}
    assert set(features) == {"S3_DATA_EVENTS", "EKS_RUNTIME_MONITORING"}
    assert all(f["status"] == "ENABLED" for f in features.values())
    assert features["EKS_RUNTIME_MONITORING"]["additionalConfigurations"] == [
        {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}
    ]
    enabler = one(inventory, "aws:inspector2/enabler:Enabler")
    assert enabler.inputs["resourceTypes"] == ["ECR"]


@pytest.mark.parametrize(
    ("label", "source", "detail_type", "severity", "routed"),
    [
        ("guardduty", "aws.guardduty", "GuardDuty Finding", 8.0, True),
        ("guardduty", "aws.guardduty", "GuardDuty Finding", 7, True),
        ("guardduty", "aws.guardduty", "GuardDuty Finding", 5.5, False),
        ("inspector", "aws.inspector2", "Inspector2 Finding", "CRITICAL", True),
        ("inspector", "aws.inspector2", "Inspector2 Finding", "HIGH", True),
        ("inspector", "aws.inspector2", "Inspector2 Finding", "MEDIUM", False),
    ],
)
def test_findings_above_the_threshold_reach_the_topic(
    rendered, label, source, detail_type, severity, routed
):
    inventory = rendered("platform-prod")
    rule = one(inventory, RULE, f"-{label}-findings")
    pattern = EventPattern.load(rule.inputs["eventPattern"])
    assert pattern.matches_event(_finding(source, detail_type, severity)) is routed
    # the other service's findings never match this rule
    other = ("aws.inspector2", "Inspector2 Finding", "CRITICAL")
    if label == "inspector":
        other = ("aws.guardduty", "GuardDuty Finding", 9.0)
    assert not pattern.matches_event(_finding(*other))
    target = one(inventory, "aws:cloudwatch/eventTarget:EventTarget", f"-{label}-findings")
    topic = one(inventory, "aws:sns/topic:Topic", "-detection-findings")
    topic_policy = one(inventory, "aws:sns/topicPolicy:TopicPolicy", "-detection-findings")
    assert target.inputs["arn"] == topic_policy.inputs["arn"]
    assert target.inputs["rule"] == rule.inputs["name"]
    assert topic.inputs["kmsMasterKeyId"]


def test_topic_admits_eventbridge_only_from_the_finding_rules(rendered):
    inventory = rendered("platform-prod")
    policy = json.loads(
        one(inventory, "aws:sns/topicPolicy:TopicPolicy", "-detection-findings").inputs["policy"]
    )
    [statement] = policy["Statement"]
    topic_arn = statement["Resource"]
    rules = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert len(rules) == 2
    events = Principal(arn="events.amazonaws.com", kind="service")

    def publish(source_arn: str) -> bool:
        return evaluate(
            Request(events, "sns:Publish", topic_arn, {"aws:SourceArn": source_arn}, policy)
        ).allowed

    assert all(publish(rule_arn) for rule_arn in rules)
    assert not publish(rules[0] + "-other")


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_platform_stacks_pass_the_detector_rule(rendered, stack):
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "policies"))
    sys.path.insert(0, str(ROOT / "tests" / "policies"))
    from policy_harness import check

    environment = stack.split("-", 1)[1]
    assert check("guardduty-detector-features", rendered(stack), environment=environment) == []
