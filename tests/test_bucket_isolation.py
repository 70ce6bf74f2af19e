"""The shipped BU stack's own rendered bucket policies keep other principals of the account out
of its data, even ones whose IAM policies allow everything (defence in depth behind the
permission boundary)."""

from __future__ import annotations

import json

from estate.analysis.iam import Principal, Request, evaluate


def can(who: Principal, action: str, resource: str, policy: dict):
    return evaluate(
        Request(principal=who, action=action, resource=resource, resource_policy=policy)
    )


ADMIN_ALL = (
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)


def bucket_policy(inventory, purpose: str) -> tuple[str, dict]:
    buckets = {r.urn: r for r in inventory.resources if r.type == "aws:s3/bucket:Bucket"}
    for r in inventory.resources:
        if r.type == "aws:s3/bucketPolicy:BucketPolicy" and purpose in r.name:
            [bucket_urn] = r.property_dependencies["bucket"]
            return buckets[bucket_urn].inputs["bucket"], json.loads(r.inputs["policy"])
    raise AssertionError(f"no {purpose} bucket policy")


def test_fraud_data_buckets_deny_data_to_principals_outside_the_bu(rendered):
    inventory = rendered("fraud-prod")
    account = "222222222222"
    for purpose in ("features-offline", "registry-artifacts"):
        name, policy = bucket_policy(inventory, purpose)
        obj = f"arn:aws:s3:::{name}/data/part-0.parquet"
        outsider = Principal(
            arn=f"arn:aws:iam::{account}:role/ai-estate/marketing/marketing-prod-data-scientist",
            identity_policies=ADMIN_ALL,
        )
        platform_admin = Principal(
            arn=f"arn:aws:iam::{account}:role/platform-admin", identity_policies=ADMIN_ALL
        )
        insider = Principal(
            arn=f"arn:aws:iam::{account}:role/ai-estate/fraud/fraud-prod-data-scientist",
            identity_policies=ADMIN_ALL,
        )
        for who in (outsider, platform_admin):
            decision = can(who, "s3:GetObject", obj, policy)
            assert not decision, f"{who.arn} reads {purpose}: {decision.reason}"
        assert can(insider, "s3:GetObject", obj, policy)
        # settings stay manageable by the deployer: the deny covers data, not configuration
        assert can(platform_admin, "s3:GetBucketPolicy", f"arn:aws:s3:::{name}", policy)
