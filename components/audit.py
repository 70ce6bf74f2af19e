"""Who read what: a CloudTrail trail of data events on one BU's data stores.

Management events (who changed what) are the account's or the organisation's trail's job; this
trail records only *data* events on what holds the BU's data: object reads and writes in the
data buckets, item reads and writes on the online tables, and record reads and writes on the
feature groups (`PutRecord`, `GetRecord`). It uses advanced event selectors, one per resource
type, naming the resources by ARN.

Log files go to the BU's audit bucket: SSE-KMS with the BU key, versioned, access-logged, and
under S3 Object Lock for `retention_days` (governance mode unless compliance is configured).
Log file validation is on, so a deleted or altered file shows in
`aws cloudtrail validate-logs`. With `log_archive_bucket`, the trail delivers to a central
log-archive account's bucket instead, and no local bucket is created. That bucket's policy and
key are that account's to grant (AWS: "Receiving CloudTrail log files from multiple accounts").
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .options import child
from .storage import ObjectLockMode, PolicyStatements, SecureBucket

TRAIL_S3_PREFIX = "cloudtrail"
"""Key prefix of the log files in the audit bucket (`cloudtrail/AWSLogs/<account>/...`)."""


def trail_name(prefix: str) -> str:
    """`fraud-prod-data-events`: the BU's trail (the BU key's policy names it)."""
    return f"{prefix}-data-events"


class AuditSettings(TypedDict):
    """The BU's audit trail settings (`ai-estate:audit`)."""

    retention_days: int
    """Days each log file stays under Object Lock in the audit bucket."""
    object_lock_mode: ObjectLockMode
    """GOVERNANCE (break-glass deletion possible) or COMPLIANCE (nobody, ever)."""
    log_archive_bucket: str | None
    """A central log-archive account's bucket to deliver to instead of a local one."""
    log_archive_kms_key_arn: str | None
    """The log-archive account's key for that bucket (its policy must admit this trail)."""


class BuAuditTrailArgs(AuditSettings):
    """Inputs of `BuAuditTrail`."""

    name_prefix: str
    """`fraud-prod`: names the trail and the bucket's log prefix."""
    account_id: str
    """The account the trail records (and the bucket policy's `aws:SourceAccount`)."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the log files (its policy must name the trail) and the bucket."""
    bucket_name: str
    """Physical name of the local audit bucket (unused with `log_archive_bucket`)."""
    access_log_bucket: pulumi.Input[str]
    """Where the audit bucket's own server access logs go."""
    bucket_arns: list[pulumi.Input[str]]
    """The data buckets whose object-level events are recorded."""
    table_arns: list[pulumi.Input[str]]
    """The DynamoDB tables whose item-level events are recorded."""
    feature_group_arns: list[pulumi.Input[str]]
    """The SageMaker feature groups whose record-level events are recorded."""
    protect: bool
    """Protect and retain the audit bucket (prod)."""
    tags: dict[str, str]
    """Ownership tags."""
    multi_region: NotRequired[bool]
    """Record the selected data events in every region (default False): a bucket of
    `bucket_arns` lives in another region (the artifacts' DR replica)."""
    extra_bucket_statements: NotRequired[PolicyStatements | None]
    """More bucket-policy statements for the audit bucket (the BU-only data policy)."""


def _selector(name: str, resource_type: str, field: str, values: pulumi.Input[list[str]], op: str):
    return aws.cloudtrail.TrailAdvancedEventSelectorArgs(
        name=name,
        field_selectors=[
            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                field="eventCategory", equals=["Data"]
            ),
            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                field="resources.type", equals=[resource_type]
            ),
            aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(field=field, **{op: values}),
        ],
    )


def trail_bucket_statements(bucket_arn: str, account_id: str, trail_arn: str) -> list[dict]:
    """What CloudTrail needs on its bucket: read the ACL, write under AWSLogs/<account>/ as
    this one trail (AWS: "Amazon S3 bucket policy for CloudTrail")."""
    source = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": source,
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{TRAIL_S3_PREFIX}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {
                    "aws:SourceArn": trail_arn,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                }
            },
        },
    ]


class BuAuditTrail(pulumi.ComponentResource):
    """The BU's data-event trail and (unless a log archive is used) its object-locked bucket."""

    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str] | None
    multi_region: bool
    """Whether the trail records every region (what `estate verify` expects of it)."""
    log_archive: dict[str, str | None] | None
    """`{bucket, kmsKeyArn}` of the central log archive it delivers to, else None."""

    def __init__(
        self, name: str, args: BuAuditTrailArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:data:BuAuditTrail", name, None, opts)
        prefix, tags = args["name_prefix"], args["tags"]
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        trail = trail_name(prefix)
        trail_arn = pulumi.Output.concat(
            "arn:", partition, ":cloudtrail:", region, ":", args["account_id"], ":trail/", trail
        )
        archive = args["log_archive_bucket"]
        self.bucket_name = None
        self.multi_region = bool(args.get("multi_region", False))
        self.log_archive = (
            None
            if archive is None
            else {"bucket": archive, "kmsKeyArn": args["log_archive_kms_key_arn"]}
        )
        depends: list[pulumi.Resource] = []
        if archive is None:
            extra = args.get("extra_bucket_statements")

            def statements(bucket_arn: pulumi.Output[str]) -> pulumi.Output[list[dict]]:
                own = pulumi.Output.all(bucket_arn, trail_arn).apply(
                    lambda p: trail_bucket_statements(p[0], args["account_id"], p[1])
                )
                if extra is None:
                    return own
                return pulumi.Output.all(own, extra(bucket_arn)).apply(lambda p: [*p[0], *p[1]])

            bucket = SecureBucket(
                f"{name}-bucket",
                {
                    "bucket_name": args["bucket_name"],
                    "kms_key_arn": args["kms_key_arn"],
                    "access_log_bucket": args["access_log_bucket"],
                    "policy_statements": statements,
                    "object_lock": {
                        "mode": args["object_lock_mode"],
                        "retention_days": args["retention_days"],
                    },
                    "noncurrent_version_retention_days": args["retention_days"],
                    "tags": tags,
                    "protect": args["protect"],
                },
                child(self),
            )
            self.bucket_name = bucket.bucket_name
            destination: pulumi.Input[str] = bucket.bucket_name
            key: pulumi.Input[str] = args["kms_key_arn"]
            depends = [bucket]
        else:
            destination = archive
            key = args["log_archive_kms_key_arn"] or args["kms_key_arn"]

        selectors = []
        buckets = pulumi.Output.all(*args["bucket_arns"]).apply(lambda a: [f"{x}/" for x in a])
        if args["bucket_arns"]:
            selectors.append(
                _selector("s3-objects", "AWS::S3::Object", "resources.ARN", buckets, "starts_withs")
            )
        for label, kind, arns in (
            ("dynamodb-items", "AWS::DynamoDB::Table", args["table_arns"]),
            ("feature-records", "AWS::SageMaker::FeatureGroup", args["feature_group_arns"]),
        ):
            if arns:
                values = pulumi.Output.all(*arns).apply(list)
                selectors.append(_selector(label, kind, "resources.ARN", values, "equals"))

        created = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail,
            s3_bucket_name=destination,
            s3_key_prefix=TRAIL_S3_PREFIX,
            kms_key_id=key,
            enable_log_file_validation=True,
            # Management events (where global service events are) are the org trail's job and no
            # selector here records any, but CloudTrail refuses a multi-region trail without
            # them (InvalidParameterCombinationException: "Multi-Region trail must include
            # global service events"), so the flag follows multi_region.
            include_global_service_events=self.multi_region,
            is_multi_region_trail=self.multi_region,
            advanced_event_selectors=selectors,
            tags=tags,
            opts=child(self, depends_on=depends),
        )
        self.trail_arn = created.arn
        self.register_outputs({"trailArn": created.arn, "bucketName": self.bucket_name})
