"""Data services a BU may add by hand: RDS databases, EFS file systems and Glue jobs.

The estate's own components do not create these, but a BU's program can, and they hold the same
data the estate's buckets and tables do:

- `rds-storage-encrypted`: an `aws.rds.Instance` or `aws.rds.Cluster` sets
  `storage_encrypted=True` (a read replica, `replicate_source_db`, inherits its source's
  encryption and is not judged; neither is an Aurora Serverless v1 cluster, always encrypted).
- `rds-backup-retention`: instances and clusters keep automated backups for at least the
  profile's minimum (7 days in staging and prod, 1 in dev); unset means AWS's default of 1 day.
  Read replicas are exempt (their source keeps the backups).
- `rds-not-publicly-accessible`: no `aws.rds.Instance` or `aws.rds.ClusterInstance` is
  `publicly_accessible`.
- `efs-encrypted-cmk`: an `aws.efs.FileSystem` is `encrypted` with a customer-managed
  `kms_key_id` (unset means the AWS-managed `aws/elasticfilesystem` key).
- `glue-job-security-configuration`: an `aws.glue.Job` names a `security_configuration` (the
  encryption of its S3 output, CloudWatch logs and job bookmarks; its own content is judged by
  `glue-security-configuration-encryption`).
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    BLOCK_IN_PROD,
    Rule,
    Setting,
    Settings,
    checkov,
    cis,
    securityhub,
)
from .properties import as_int, is_customer_managed_key, is_true, text

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
EFS_FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
GLUE_JOB = "aws:glue/job:Job"

AWS_DEFAULT_BACKUP_DAYS = 1
"""What RDS keeps when `backup_retention_period` is not set (the API's default)."""


def _kind(resource_type: str) -> str:
    return {
        RDS_INSTANCE: "RDS instance",
        RDS_CLUSTER: "RDS cluster",
        RDS_CLUSTER_INSTANCE: "RDS cluster instance",
    }[resource_type]


def _is_replica(args: ResourceValidationArgs) -> bool:
    prop = (
        "replicateSourceDb" if args.resource_type == RDS_INSTANCE else "replicationSourceIdentifier"
    )
    return bool(text(args.props.get(prop)))


def validate_rds_encrypted(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if _is_replica(args):
        return
    if args.resource_type == RDS_CLUSTER and text(args.props.get("engineMode")) == "serverless":
        return
    if not is_true(args.props.get("storageEncrypted")):
        report(
            f"{_kind(args.resource_type)} '{args.name}' does not encrypt its storage "
            "(storage_encrypted is not true; it can only be set at creation).",
            None,
        )


def validate_rds_backups(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if _is_replica(args):
        return
    minimum = int(settings["minBackupDays"])
    raw = args.props.get("backupRetentionPeriod")
    days = as_int(raw)
    if raw is None:
        days = AWS_DEFAULT_BACKUP_DAYS
    if days is None or days < minimum:
        shown = "unset (1 day)" if raw is None else f"{raw}"
        report(
            f"{_kind(args.resource_type)} '{args.name}' keeps automated backups for {shown}; "
            f"at least {minimum} day(s) are required here.",
            None,
        )


def validate_rds_not_public(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if is_true(args.props.get("publiclyAccessible")):
        report(
            f"{_kind(args.resource_type)} '{args.name}' is publicly accessible (it gets a "
            "public DNS name and IP).",
            None,
        )


def validate_efs_encrypted(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_true(args.props.get("encrypted")):
        report(f"EFS file system '{args.name}' is not encrypted at rest.", None)
    elif not is_customer_managed_key(args.props.get("kmsKeyId")):
        report(
            f"EFS file system '{args.name}' is encrypted with the AWS-managed key "
            "(aws/elasticfilesystem); set kms_key_id to the BU's key.",
            None,
        )


def validate_glue_job_security_configuration(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not text(args.props.get("securityConfiguration")):
        report(
            f"Glue job '{args.name}' has no security_configuration, so its S3 output, logs "
            "and bookmarks are written without the BU's key.",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="rds-storage-encrypted",
        title="RDS databases encrypt their storage",
        description="Every RDS instance and cluster (but read replicas) sets storage_encrypted.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set storage_encrypted=True and kms_key_id=<the BU's KMS key ARN> on the "
            "aws.rds.Instance or aws.rds.Cluster (only possible at creation: restore an "
            "encrypted copy of a snapshot to fix an existing database)."
        ),
        kind="resource",
        validate=validate_rds_encrypted,
        resource_types=frozenset({RDS_INSTANCE, RDS_CLUSTER}),
        frameworks=(
            cis("2.3.1"),
            checkov("CKV_AWS_16"),
            checkov("CKV_AWS_96"),
            securityhub("RDS.3"),
            securityhub("RDS.27"),
        ),
        domain="data",
    ),
    Rule(
        id="rds-backup-retention",
        title="RDS databases keep a week of backups",
        description=(
            "Every RDS instance and cluster (but read replicas) keeps automated backups for at "
            "least the profile's minimum days (7 in staging and prod)."
        ),
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation="Set backup_retention_period to 7 or more (up to 35).",
        kind="resource",
        validate=validate_rds_backups,
        resource_types=frozenset({RDS_INSTANCE, RDS_CLUSTER}),
        frameworks=(checkov("CKV_AWS_133"), securityhub("RDS.11")),
        settings=(
            Setting(
                name="minBackupDays",
                description="The shortest automated backup retention accepted, in days.",
                schema={"type": "integer", "minimum": 0, "maximum": 35},
                defaults={"dev": 1, "staging": 7, "prod": 7},
            ),
        ),
        domain="data",
        rationale="Unset means AWS's API default of one day, which is not a recovery plan.",
    ),
    Rule(
        id="rds-not-publicly-accessible",
        title="RDS databases are not publicly accessible",
        description="No RDS instance or cluster instance sets publicly_accessible.",
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set publicly_accessible=False and reach the database from the VPC (or through "
            "a VPC endpoint or bastion the platform provides)."
        ),
        kind="resource",
        validate=validate_rds_not_public,
        resource_types=frozenset({RDS_INSTANCE, RDS_CLUSTER_INSTANCE}),
        frameworks=(checkov("CKV_AWS_17"), cis("2.3.3", version="3.0.0"), securityhub("RDS.2")),
        domain="data",
    ),
    Rule(
        id="efs-encrypted-cmk",
        title="EFS file systems encrypt with a customer-managed key",
        description="Every EFS file system is encrypted at rest with a customer-managed KMS key.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set encrypted=True and kms_key_id=<the BU's KMS key ARN> on the aws.efs.FileSystem "
            "(only possible at creation)."
        ),
        kind="resource",
        validate=validate_efs_encrypted,
        resource_types=frozenset({EFS_FILE_SYSTEM}),
        frameworks=(
            checkov("CKV_AWS_42"),
            checkov("CKV_AWS_184"),
            cis("2.4.1", version="3.0.0"),
            securityhub("EFS.1"),
        ),
        domain="data",
    ),
    Rule(
        id="glue-job-security-configuration",
        title="Glue jobs run with a security configuration",
        description="Every Glue job names a security configuration.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Create an aws.glue.SecurityConfiguration with SSE-KMS for S3, CloudWatch and job "
            "bookmarks under the BU's key, and set security_configuration=<its name> on the "
            "aws.glue.Job."
        ),
        kind="resource",
        validate=validate_glue_job_security_configuration,
        resource_types=frozenset({GLUE_JOB}),
        frameworks=(checkov("CKV_AWS_195"),),
        domain="data",
    ),
)
