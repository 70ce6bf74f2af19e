"""Detection rules: a GuardDuty detector with S3 protection and managed EKS runtime monitoring."""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from policy_harness import check, names
from policy_programs import OWNERSHIP_TAGS
from test_governance_compute import Case

AC = aws.guardduty.DetectorFeatureAdditionalConfigurationArgs


def detector(enable=True, s3="ENABLED", runtime="ENABLED", agent="ENABLED", runtime_name=None):
    d = aws.guardduty.Detector("detector", enable=enable, tags=OWNERSHIP_TAGS)
    if s3:
        aws.guardduty.DetectorFeature("s3", detector_id=d.id, name="S3_DATA_EVENTS", status=s3)
    if runtime:
        aws.guardduty.DetectorFeature(
            "runtime",
            detector_id=d.id,
            name=runtime_name or "EKS_RUNTIME_MONITORING",
            status=runtime,
            additional_configurations=[AC(name="EKS_ADDON_MANAGEMENT", status=agent)]
            if agent
            else None,
        )


@pytest.mark.parametrize(
    ("kwargs", "violations"),
    [
        ({}, 0),
        ({"runtime_name": "RUNTIME_MONITORING"}, 0),
        ({"s3": None}, 1),
        ({"s3": "DISABLED"}, 1),
        ({"runtime": None}, 1),
        ({"agent": "DISABLED"}, 1),
        ({"agent": None}, 1),
        ({"s3": None, "runtime": None}, 2),
        ({"enable": False}, 1),
    ],
)
def test_detector_needs_s3_and_managed_runtime_monitoring(kwargs, violations):
    found = check("guardduty-detector-features", lambda: detector(**kwargs))
    assert len(found) == violations, found


DETECTION_CASES: dict[str, Case] = {
    "guardduty-detector-features": Case(lambda: detector(runtime=None), {"detector"}, detector),
}


@pytest.mark.parametrize("rule_id", sorted(DETECTION_CASES))
def test_detection_cases(rule_id):
    case = DETECTION_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []
