"""Detection rules: a GuardDuty detector watches S3 data events and EKS runtime behaviour."""

from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .catalog import BLOCK_IN_PROD, Rule, Settings, securityhub
from .linking import of_types
from .properties import as_list, get, text

DETECTOR = "aws:guardduty/detector:Detector"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"

REQUIRED_FEATURES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "S3 protection": (("S3_DATA_EVENTS",), None),
    "EKS runtime monitoring": (
        ("EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING"),
        "EKS_ADDON_MANAGEMENT",
    ),
}
"""What must be on: the feature (either name), and the agent management it needs."""


def _enabled(value: object) -> bool:
    return text(value).upper() == "ENABLED"


def missing_features(args: StackValidationArgs) -> list[tuple[PolicyResource, str]]:
    """(detector, what is off) for each detector of the stack."""
    resources = list(args.resources)
    features = of_types(resources, (DETECTOR_FEATURE,))
    found: list[tuple[PolicyResource, str]] = []
    for detector in of_types(resources, (DETECTOR,)):
        if detector.props.get("enable") is False:
            found.append((detector, "the detector itself"))
            continue
        # One detector per account and Region: the stack's features are its features.
        mine = features
        for label, (names, agent) in REQUIRED_FEATURES.items():
            on = [
                f
                for f in mine
                if text(f.props.get("name")) in names and _enabled(f.props.get("status"))
            ]
            if not on:
                found.append((detector, label))
            elif agent is not None and not any(
                text(get(c, "name")) == agent and _enabled(get(c, "status"))
                for f in on
                for c in as_list(f.props.get("additionalConfigurations"))
            ):
                found.append((detector, f"{label}'s managed agent ({agent})"))
    return found


def validate_detector_features(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for detector, what in missing_features(args):
        report(f"GuardDuty detector '{detector.name}' has {what} off.", detector.urn)


RULES: tuple[Rule, ...] = (
    Rule(
        id="guardduty-detector-features",
        title="GuardDuty watches S3 and EKS runtime",
        description="Every GuardDuty detector is enabled with S3 protection and EKS runtime "
        "monitoring, its security agent managed by GuardDuty.",
        severity="high",
        enforcement=BLOCK_IN_PROD,
        remediation="Keep the platform stack's PlatformDetection; a hand-written program adds "
        "aws.guardduty.DetectorFeature resources S3_DATA_EVENTS and EKS_RUNTIME_MONITORING "
        "(additional configuration EKS_ADDON_MANAGEMENT) with status ENABLED.",
        kind="stack",
        validate=validate_detector_features,
        frameworks=(
            securityhub("GuardDuty.1"),
            securityhub("GuardDuty.7"),
            securityhub("GuardDuty.10"),
        ),
        domain="audit",
        rationale="A detector without S3 protection misses exfiltration from data buckets, and "
        "without runtime monitoring it never sees what runs inside the cluster's pods; an "
        "unmanaged agent goes stale silently.",
    ),
)
