"""Detection rules: a GuardDuty detector with S3 protection and managed EKS runtime monitoring."""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from policy_harness import check
from policy_programs import OWNERSHIP_TAGS

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
