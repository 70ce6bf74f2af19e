"""The BU's data-event trail on the shipped stacks: what it records (as CloudTrail matches
selectors), where the log files go, who may write them, and the log-archive variant."""

from __future__ import annotations

import json
import sys

import pytest

from estate.analysis.iam import Principal, Request, evaluate
from tests.conftest import ROOT
from tests.test_backup import bucket_policy, of, one, render_changed
from tests.test_config_hardening import both, make_project

sys.path.insert(0, str(ROOT / "policies"))
from governance.audit import audited_stores, unaudited

from tests.policies.policy_harness import stack_args

TRAIL = "aws:cloudtrail/trail:Trail"


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_every_read_of_every_data_store_is_recorded(rendered, stack):
    resources = stack_args(rendered(stack)).resources
    stores = audited_stores(resources)
    types = {s.resource_type for s in stores}
    assert "aws:s3/bucket:Bucket" in types
    if stack == "fraud-prod":  # marketing's feature groups are offline-only (their bucket)
        assert {"aws:dynamodb/table:Table", "aws:sagemaker/featureGroup:FeatureGroup"} <= types
    assert not any("audit" in s.name or "access-logs" in s.name for s in stores)
    assert unaudited(resources) == []


def test_turning_audit_off_leaves_every_store_unrecorded():
    inventory = render_changed(
        "marketing-dev", lambda c: c.update({"ai-estate:audit": {"enabled": False}})
    )
    assert not of(inventory, TRAIL)
    resources = stack_args(inventory).resources
    assert unaudited(resources) and len(unaudited(resources)) == len(audited_stores(resources))


def test_trail_validates_encrypts_and_writes_to_the_locked_audit_bucket(rendered):
    inventory = rendered("fraud-prod")
    trail = one(inventory, TRAIL)
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    # fraud-prod replicates its artifacts to the DR region: a multi-region trail, which
    # CloudTrail accepts only with global service events (its selectors still record data
    # events only; management events are the org trail's)
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert all(
        {"field": "eventCategory", "equals": ["Data"]} in s["fieldSelectors"]
        for s in trail.inputs["advancedEventSelectors"]
    )
    bucket = trail.inputs["s3BucketName"]
    assert "-audit-" in bucket
    [lock] = [
        r
        for r in of(inventory, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
        if "audit" in r.name
    ]
    retention = lock.inputs["rule"]["defaultRetention"]
    assert retention == {"mode": "GOVERNANCE", "days": 365}


def test_only_the_trail_may_write_log_files_and_other_bus_cannot_read_them(rendered):
    inventory = rendered("fraud-prod")
    name, policy = bucket_policy(inventory, "audit-bucket")
    trail_arn = "arn:aws:cloudtrail:us-east-1:222222222222:trail/fraud-prod-data-events"
    obj = f"arn:aws:s3:::{name}/cloudtrail/AWSLogs/222222222222/CloudTrail/x.json.gz"
    cloudtrail = Principal(arn="cloudtrail.amazonaws.com", kind="service")
    write = {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
    assert evaluate(Request(cloudtrail, "s3:PutObject", obj, context=write, resource_policy=policy))
    other = {**write, "aws:SourceArn": trail_arn.replace("fraud-prod", "marketing-prod")}
    assert not evaluate(
        Request(cloudtrail, "s3:PutObject", obj, context=other, resource_policy=policy)
    )
    everything = (
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
    )
    outsider = Principal(
        arn="arn:aws:iam::222222222222:role/ai-estate/marketing/marketing-prod-auditor",
        identity_policies=everything,
    )
    assert not evaluate(Request(outsider, "s3:GetObject", obj, resource_policy=policy))


def test_bu_key_lets_only_this_trail_encrypt(rendered):
    inventory = rendered("fraud-prod")
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if not k.inputs.get("region")]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    encrypt = statements["CloudTrailEncryptLogs"]
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"] == [
        "arn:aws:cloudtrail:us-east-1:222222222222:trail/fraud-prod-data-events"
    ]
    assert "CloudTrailDescribeKey" in statements


def test_log_archive_replaces_the_local_bucket():
    def archive(c):
        c["ai-estate:audit"] = {
            "logArchiveBucket": "acme-log-archive",
            "logArchiveKmsKeyArn": "arn:aws:kms:us-east-1:999999999999:key/abc",
        }

    inventory = render_changed("fraud-prod", archive)
    trail = one(inventory, TRAIL)
    assert trail.inputs["s3BucketName"] == "acme-log-archive"
    assert trail.inputs["kmsKeyId"] == "arn:aws:kms:us-east-1:999999999999:key/abc"
    assert not [b for b in of(inventory, "aws:s3/bucket:Bucket") if "-audit-" in b.inputs["bucket"]]
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if not k.inputs.get("region")]
    assert "CloudTrailEncryptLogs" not in key.inputs["policy"]  # the archive's key, not ours


@pytest.mark.parametrize(
    ("audit", "key", "words"),
    [
        ({"enabled": False}, "ai-estate:audit.enabled", "must stay true"),
        (
            {"logArchiveKmsKeyArn": "arn:aws:kms:us-east-1:9:key/a"},
            "ai-estate:audit",
            "needs logArchiveBucket",
        ),
        ({"retentionDays": 0}, "ai-estate:audit.retentionDays", "1"),
    ],
)
def test_bad_audit_config_names_file_and_key(tmp_path, audit, key, words):
    import yaml

    project = make_project(tmp_path / "project")
    path = project / "stacks" / "Pulumi.fraud-prod.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["ai-estate:audit"] = audit
    path.write_text(yaml.safe_dump(doc))
    [line] = both(project, "fraud-prod")
    assert "Pulumi.fraud-prod.yaml" in line and key in line and words in line, line
