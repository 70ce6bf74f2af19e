"""S3 buckets: what `components/storage.py` (SecureBucket, AccessLogBucket) sets on every bucket.

Data buckets: SSE-KMS with the stack's key and an S3 bucket key, versioning, all four public
access blocks, and a bucket policy that denies any request without TLS. The access-log bucket is
the one exception on encryption: S3 server access logging cannot deliver to an SSE-KMS bucket,
so it must stay SSE-S3 (AES256); moving it to KMS silently stops the access logs.
"""

from __future__ import annotations

import json
from typing import Any

from estate.verify.checks.base import (
    Context,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    short_key,
)

EXISTS = policy(
    "verify-s3-bucket-exists",
    "high",
    "Every bucket the stack's outputs declare exists in the account.",
    "Re-run `pulumi up` for the stack, or restore the bucket; then `pulumi refresh`.",
)
ENCRYPTION = policy(
    "verify-s3-bucket-encryption",
    "high",
    "Data buckets use SSE-KMS with the stack's customer key and an S3 bucket key; the access-log "
    "bucket uses SSE-S3, which is the only encryption S3 server access logging can deliver to.",
    "Restore the bucket's default encryption (`pulumi up` reapplies it).",
)
VERSIONING = policy(
    "verify-s3-bucket-versioning",
    "medium",
    "Bucket versioning is enabled, so an overwrite or delete can be undone.",
    "Enable versioning on the bucket (`pulumi up` reapplies it).",
)
PUBLIC_ACCESS = policy(
    "verify-s3-public-access-block",
    "high",
    "All four S3 public access block settings are on for the bucket.",
    "Turn on BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets.",
)
TLS_POLICY = policy(
    "verify-s3-bucket-tls-policy",
    "high",
    "The bucket policy denies every request that does not use TLS (aws:SecureTransport false).",
    "Restore the bucket policy's DenyInsecureTransport statement (`pulumi up` reapplies it).",
)

PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def check_bucket(ctx: Context, target: Target) -> list[Outcome]:
    s3 = ctx.client("s3")
    name = target.name
    run = Run(target, arn=ctx.arn("s3", name, region=False))
    run.exists(EXISTS, lambda: aws_call(s3, "head_bucket", Bucket=name))
    access_logs = target.role == "access-logs"
    run.check(
        ENCRYPTION,
        lambda: _encryption(ctx, s3, name, access_logs),
        "SSE-S3 (access-log bucket)"
        if access_logs
        else f"SSE-KMS with {short_key(ctx.key_arn)} and a bucket key",
    )
    run.check(VERSIONING, lambda: _versioning(s3, name), "versioning enabled")
    run.check(PUBLIC_ACCESS, lambda: _public_access(s3, name), "all four blocks on")
    run.check(TLS_POLICY, lambda: _tls_policy(s3, name), "TLS-only deny present")
    return run.outcomes


def _encryption(ctx: Context, s3: Any, name: str, access_logs: bool) -> Problem:
    found = aws_call(
        s3,
        "get_bucket_encryption",
        Bucket=name,
        absent={"ServerSideEncryptionConfigurationNotFoundError"},
    )
    rules = (found or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    if not rules:
        return "has no default encryption"
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    algorithm = default.get("SSEAlgorithm", "")
    key = default.get("KMSMasterKeyID")
    if access_logs:
        if algorithm != "AES256":
            return (
                f"is encrypted with {algorithm}, but S3 server access logs can only be delivered "
                "to an SSE-S3 (AES256) bucket"
            )
        return None
    if algorithm not in ("aws:kms", "aws:kms:dsse"):
        return f"default encryption is {algorithm or 'none'}, not SSE-KMS with the stack's key"
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    if not rule.get("BucketKeyEnabled"):
        return "has no S3 bucket key (every object costs a KMS request)"
    return None


def _versioning(s3: Any, name: str) -> Problem:
    status = aws_call(s3, "get_bucket_versioning", Bucket=name).get("Status")
    if status != "Enabled":
        return f"versioning is {(status or 'never enabled').lower()}, not enabled"
    return None


def _public_access(s3: Any, name: str) -> Problem:
    found = aws_call(
        s3, "get_public_access_block", Bucket=name, absent={"NoSuchPublicAccessBlockConfiguration"}
    )
    if found is None:
        return "has no public access block"
    config = found.get("PublicAccessBlockConfiguration", {})
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if not config.get(flag)]
    if off:
        return f"public access block has {', '.join(off)} off"
    return None


def _tls_policy(s3: Any, name: str) -> Problem:
    found = aws_call(s3, "get_bucket_policy", Bucket=name, absent={"NoSuchBucketPolicy"})
    if found is None:
        return "has no bucket policy, so nothing denies requests without TLS"
    try:
        document = json.loads(found.get("Policy") or "{}")
    except json.JSONDecodeError:
        return "has a bucket policy that is not valid JSON"
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if any(denies_insecure_transport(s, name) for s in _as_list(statements)):
        return None
    return "bucket policy has no statement denying requests without TLS"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and _as_list(principal.get("AWS")) == ["*"]


def denies_insecure_transport(statement: Any, bucket: str) -> bool:
    """A Deny for everyone, on all S3 actions, on the bucket and its objects, when not TLS.

    A bucket policy is free-form JSON: any shape that is not this statement is "no", never an
    exception.
    """
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    if not _everyone(statement.get("Principal")):
        return False
    actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
    if not actions & {"s3:*", "*"}:
        return False
    arn_suffixes = {str(r).split(":::", 1)[-1] for r in _as_list(statement.get("Resource"))}
    if not ({bucket, "*"} & arn_suffixes and {f"{bucket}/*", "*"} & arn_suffixes):
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator in ("Bool", "BoolIfExists"):
        test = condition.get(operator)
        if not isinstance(test, dict):
            continue
        if [str(v).lower() for v in _as_list(test.get("aws:SecureTransport"))] == ["false"]:
            return True
    return False
