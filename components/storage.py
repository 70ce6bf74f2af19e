"""Secure S3 buckets: the one way this project creates a bucket.

Every bucket gets the same hardening — owner-enforced ownership, all four public-access blocks,
default encryption with a bucket key, versioning, a TLS-only policy, server access logs, and a
lifecycle that tidies old versions and failed uploads without ever expiring current data.
Buckets whose contents are evidence (a prod model registry's artifacts) add S3 Object Lock, so
the versions a deployment was approved on cannot be overwritten or deleted while retained.
Feature stores and model registries use `SecureBucket`; the access-log target each stack writes
to is an `AccessLogBucket`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .options import child, stateful

PolicyStatements = Callable[[pulumi.Output[str]], pulumi.Input[list[dict[str, Any]]]]
"""Given the bucket's ARN, the extra bucket-policy statements to add after the TLS-only one."""


def tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    """Deny any request to the bucket or its objects that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy_document(bucket_arn: str, extra_statements: list[dict[str, Any]]) -> str:
    """The bucket policy: TLS-only first, then the caller's statements."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [tls_only_statement(bucket_arn), *extra_statements],
        },
        sort_keys=True,
    )


def log_delivery_statement(bucket_arn: str, account_id: str) -> dict[str, Any]:
    """Let the S3 logging service write access logs here, for this account's buckets only."""
    return {
        "Sid": "S3ServerAccessLogsDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
"""S3 Object Lock retention modes (see `ObjectLockSpec`)."""


class ObjectLockSpec(TypedDict):
    """S3 Object Lock default retention: every new object version is write-once for a while.

    GOVERNANCE: nobody can overwrite or delete a locked version, except a principal holding
    `s3:BypassGovernanceRetention` who asks to bypass it explicitly (break glass).
    COMPLIANCE: nobody at all, the account root included, until the retention ends; the retention
    can be lengthened but never shortened. Choose it only when a regulation demands WORM storage.
    """

    mode: ObjectLockMode
    retention_days: int
    """Days each new object version stays locked (1-36500)."""


def object_lock_rule(spec: ObjectLockSpec) -> aws.s3.BucketObjectLockConfigurationRuleArgs:
    """The default-retention rule of a bucket's Object Lock configuration; validates `spec`."""
    if spec["mode"] not in ("GOVERNANCE", "COMPLIANCE"):
        raise ValueError(f"object lock mode {spec['mode']!r} must be GOVERNANCE or COMPLIANCE")
    if not 1 <= spec["retention_days"] <= 36500:
        raise ValueError(
            f"object lock retention_days {spec['retention_days']} must be between 1 and 36500"
        )
    return aws.s3.BucketObjectLockConfigurationRuleArgs(
        default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
            mode=spec["mode"], days=spec["retention_days"]
        )
    )


class SecureBucketArgs(TypedDict):
    """Inputs of `SecureBucket`."""

    tags: dict[str, str]
    """Tags for the bucket (ownership tags included)."""
    protect: bool
    """Protect and retain the bucket (prod): it holds data that must outlive the stack."""
    kms_key_arn: NotRequired[pulumi.Input[str] | None]
    """Customer-managed KMS key for SSE-KMS. None means SSE-S3, which only log targets use."""
    bucket_name: NotRequired[str]
    """Physical name; autonamed when absent."""
    access_log_bucket: NotRequired[pulumi.Input[str] | None]
    """Name of the bucket that receives this bucket's server access logs."""
    access_log_prefix: NotRequired[str]
    """Key prefix for the access logs (default `<logical name>/`)."""
    policy_statements: NotRequired[PolicyStatements]
    """Extra bucket-policy statements (e.g. which principals may read), after TLS-only."""
    noncurrent_version_retention_days: NotRequired[int]
    """Days an overwritten or deleted version is kept (default 90)."""
    infrequent_access_after_days: NotRequired[int | None]
    """Move current objects to Standard-IA after this many days (default: never)."""
    region: NotRequired[str | None]
    """Create the bucket and its settings in this region instead of the provider's (a DR
    replica). Its access-log target must be in the same region (an S3 requirement)."""
    object_lock: NotRequired[ObjectLockSpec | None]
    """S3 Object Lock with this default retention (default: none). Object Lock can only be
    switched on when the bucket is created: adding it to an existing bucket replaces the bucket
    (which `protect` refuses), and it can never be switched off again."""


class SecureBucket(pulumi.ComponentResource):
    """An S3 bucket with the estate's hardening; see the module docstring for what that is."""

    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    """The bucket's physical name."""
    arn: pulumi.Output[str]
    """The bucket's ARN."""

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:storage:SecureBucket", name, None, opts)
        kms_key_arn = args.get("kms_key_arn")
        object_lock = args.get("object_lock")
        lock_rule = object_lock_rule(object_lock) if object_lock else None
        region = args.get("region")
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            region=region,
            bucket=args.get("bucket_name"),
            force_destroy=False,
            # Left unset (not False) without a lock, so buckets created before this option
            # existed keep exactly the inputs they were created with.
            object_lock_enabled=True if lock_rule else None,
            tags=args["tags"],
            opts=stateful(self, args["protect"]),
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn

        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            region=region,
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child(self),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            region=region,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        if kms_key_arn is not None:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
            )
        else:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            region=region,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default,
                    bucket_key_enabled=kms_key_arn is not None,
                )
            ],
            opts=child(self),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            region=region,
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child(self),
        )
        if lock_rule is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                region=region,
                bucket=self.bucket.id,
                object_lock_enabled="Enabled",
                rule=lock_rule,
                # Object Lock works on object versions: S3 requires versioning to be on first.
                opts=child(self, depends_on=[versioning]),
            )

        make_statements = args.get("policy_statements")
        extra = pulumi.Output.from_input(make_statements(self.arn) if make_statements else [])
        aws.s3.BucketPolicy(
            f"{name}-policy",
            region=region,
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.arn, extra).apply(
                lambda parts: bucket_policy_document(parts[0], list(parts[1]))
            ),
            # S3 refuses policy changes while the public access block is still being applied.
            opts=child(self, depends_on=[public_access]),
        )

        log_target = args.get("access_log_bucket")
        if log_target is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logs",
                region=region,
                bucket=self.bucket.id,
                target_bucket=log_target,
                target_prefix=args.get("access_log_prefix", f"{name}/"),
                opts=child(self),
            )

        ia_days = args.get("infrequent_access_after_days")
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            region=region,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="tidy-versions-and-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.get("noncurrent_version_retention_days", 90)
                    ),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=ia_days, storage_class="STANDARD_IA"
                        )
                    ]
                    if ia_days
                    else None,
                )
            ],
            opts=child(self),
        )
        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})


class AccessLogBucketArgs(TypedDict):
    """Inputs of `AccessLogBucket`."""

    account_id: pulumi.Input[str]
    """The account whose buckets may deliver logs here (`aws:SourceAccount`)."""
    tags: dict[str, str]
    protect: bool
    """Protect and retain the bucket (prod): access logs are audit evidence."""
    bucket_name: NotRequired[str]
    """Physical name; autonamed when absent."""
    region: NotRequired[str | None]
    """Create the bucket in this region (the log target of a DR replica's region)."""


class AccessLogBucket(pulumi.ComponentResource):
    """The target for the S3 server access logs of a stack's buckets.

    S3 cannot deliver server access logs to a bucket that uses SSE-KMS by default, so this is the
    one bucket with SSE-S3 (AES256); it holds request logs, not data. Delivery is granted to the
    S3 logging service for this account only, as AWS recommends for owner-enforced buckets.
    """

    bucket_name: pulumi.Output[str]
    """The bucket's physical name (the `target_bucket` of other buckets' logging)."""
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:storage:AccessLogBucket", name, None, opts)
        account_id = pulumi.Output.from_input(args["account_id"])
        bucket_args: SecureBucketArgs = {
            "tags": args["tags"],
            "protect": args["protect"],
            "kms_key_arn": None,
            "policy_statements": lambda arn: pulumi.Output.all(arn, account_id).apply(
                lambda parts: [log_delivery_statement(parts[0], parts[1])]
            ),
            "noncurrent_version_retention_days": 30,
        }
        if "bucket_name" in args:
            bucket_args["bucket_name"] = args["bucket_name"]
        if args.get("region"):
            bucket_args["region"] = args["region"]
        self.secure = SecureBucket(f"{name}-logs", bucket_args, child(self))
        self.bucket_name = self.secure.bucket_name
        self.arn = self.secure.arn
        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})
