"""Threat detection of a platform account: GuardDuty and Inspector, findings to one topic.

GuardDuty's detector and Inspector's enablement are account-wide and regional, so they live in
the platform stack (every BU of an environment shares the platform's account and region). The
detector turns on S3 protection (`S3_DATA_EVENTS`) and EKS runtime monitoring
(`EKS_RUNTIME_MONITORING`) with GuardDuty managing the security agent add-on
(`EKS_ADDON_MANAGEMENT`). Inspector v2 scans ECR images.

Findings at or above `HIGH` go to the platform's security topic through one EventBridge rule
per service; the topic, encrypted with the platform key, admits `events.amazonaws.com` only
from those two rules (`aws:SourceArn`).
"""

from __future__ import annotations

import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from .iam import account_region_partition
from .options import child

GUARDDUTY_HIGH = 7
"""GuardDuty's numeric severity where `High` starts (AWS: "Severity levels of findings")."""

INSPECTOR_SEVERITIES = ["HIGH", "CRITICAL"]
"""Inspector v2 finding severities routed to the topic."""

DETECTOR_FEATURES: dict[str, list[str]] = {
    "S3_DATA_EVENTS": [],
    "EKS_RUNTIME_MONITORING": ["EKS_ADDON_MANAGEMENT"],
}
"""GuardDuty features on, with their additional configurations."""


def guardduty_pattern() -> dict:
    """EventBridge pattern of GuardDuty findings of severity High or above."""
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", GUARDDUTY_HIGH]}]},
    }


def inspector_pattern() -> dict:
    """EventBridge pattern of Inspector v2 findings of severity HIGH or CRITICAL."""
    return {
        "source": ["aws.inspector2"],
        "detail-type": ["Inspector2 Finding"],
        "detail": {"severity": INSPECTOR_SEVERITIES},
    }


def security_topic_policy(topic_arn: str, rule_arns: list[str]) -> str:
    """EventBridge may publish to the topic only for the finding rules."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "FindingRules",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
                }
            ],
        }
    )


class PlatformDetectionArgs(TypedDict):
    """Inputs of `PlatformDetection`."""

    name_prefix: str
    """`platform-prod`: names the topic and rules."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: encrypts the security topic (its policy admits EventBridge)."""
    tags: dict[str, str]
    """Ownership tags."""


class PlatformDetection(pulumi.ComponentResource):
    """GuardDuty (S3, EKS runtime), Inspector for ECR, and the findings topic of a platform."""

    topic_arn: pulumi.Output[str]
    detector_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: PlatformDetectionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:security:PlatformDetection", name, None, opts)
        prefix, tags = args["name_prefix"], args["tags"]
        account, _, _ = account_region_partition(self)
        detector = aws.guardduty.Detector(
            f"{name}-guardduty", enable=True, tags=tags, opts=child(self)
        )
        for feature, extras in DETECTOR_FEATURES.items():
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=detector.id,
                name=feature,
                status="ENABLED",
                additional_configurations=[
                    aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(
                        name=extra, status="ENABLED"
                    )
                    for extra in extras
                ],
                opts=child(self),
            )
        aws.inspector2.Enabler(
            f"{name}-inspector",
            account_ids=[account],
            resource_types=["ECR"],
            opts=child(self),
        )
        topic = aws.sns.Topic(
            f"{name}-findings",
            name=f"{prefix}-security-findings",
            display_name=f"AI Estate security findings of {prefix}",
            kms_master_key_id=args["kms_key_arn"],
            tags=tags,
            opts=child(self),
        )
        rules = {
            "guardduty": guardduty_pattern(),
            "inspector": inspector_pattern(),
        }
        created = {
            label: aws.cloudwatch.EventRule(
                f"{name}-{label}-findings",
                name=f"{prefix}-{label}-findings",
                description=f"{label} findings of severity HIGH or above to the security topic",
                event_pattern=json.dumps(pattern),
                tags=tags,
                opts=child(self),
            )
            for label, pattern in rules.items()
        }
        policy = aws.sns.TopicPolicy(
            f"{name}-findings-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, *(r.arn for r in created.values())).apply(
                lambda p: security_topic_policy(p[0], list(p[1:]))
            ),
            opts=child(self),
        )
        for label, rule in created.items():
            aws.cloudwatch.EventTarget(
                f"{name}-{label}-findings-target",
                rule=rule.name,
                arn=topic.arn,
                opts=child(self, depends_on=[policy]),
            )
        self.topic_arn = topic.arn
        self.detector_id = detector.id
        self.register_outputs({"topicArn": topic.arn, "detectorId": detector.id})
