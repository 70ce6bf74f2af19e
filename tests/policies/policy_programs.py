"""Building blocks for the small Pulumi programs the policy tests render.

Everything here is built from real pulumi_aws resources with keyword arguments, so the engine
records the provider's own property names; nothing is constructed at import time (resources must
be created inside the program, after the mocks are set).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pulumi
import pulumi_aws as aws

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
"""A customer-managed key, as a BU's key ARN looks."""

OWNERSHIP_TAGS = {
    "BusinessUnit": "fraud",
    "Owner": "fraud-ml@example.com",
    "CostCenter": "cc-1234",
    "Environment": "prod",
    "DataClassification": "confidential",
    "ManagedBy": "ai-estate",
}


def unknown(*depends_on: pulumi.Resource) -> pulumi.Output[Any]:
    """A value unknown during preview (like a new resource's ID), depending on `depends_on`."""
    loop = asyncio.get_event_loop()

    def resolved(value: Any) -> asyncio.Future:
        future = loop.create_future()
        future.set_result(value)
        return future

    return pulumi.Output(set(depends_on), resolved(None), resolved(False), resolved(False))


def tls_only_policy(bucket: aws.s3.Bucket) -> pulumi.Output[str]:
    """A bucket policy with the TLS-only deny, rendered from the bucket's ARN."""
    return bucket.arn.apply(
        lambda arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, f"{arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        )
    )


def kms_encryption(name: str, bucket: aws.s3.Bucket, key: str | None = KEY_ARN) -> None:
    """Default encryption of `bucket` with SSE-KMS under `key` (None: the AWS-managed key)."""
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key
                ),
                bucket_key_enabled=True,
            )
        ],
    )


def s3_encryption(name: str, bucket: aws.s3.Bucket, algorithm: str) -> None:
    """Default encryption of `bucket` with `algorithm` and no key (AES256, or aws:kms managed)."""
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=algorithm
                ),
            )
        ],
    )


def public_access_block(name: str, bucket: aws.s3.Bucket, **flags: bool) -> None:
    """A public access block with all four flags on unless `flags` turns some off."""
    settings = {
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
        **flags,
    }
    aws.s3.BucketPublicAccessBlock(name, bucket=bucket.id, **settings)


def versioning(name: str, bucket: aws.s3.Bucket, status: str = "Enabled") -> None:
    aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status=status),
    )
