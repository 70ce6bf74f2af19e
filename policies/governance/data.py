"""Data-store rules: DynamoDB tables, SageMaker feature groups and the Glue catalog.

These hold the BU's features and training metadata, so they are encrypted with the BU's own key
(revocable, auditable per BU), recoverable to a point in time, and hard to delete in prod.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import (
    BLOCK_FROM_STAGING,
    BLOCK_IN_PROD,
    PROD_ONLY,
    Rule,
    Settings,
    checkov,
    securityhub,
)
from .properties import get, is_customer_managed_key, is_true, text

TABLE = "aws:dynamodb/table:Table"
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
GLUE_CATALOG_ENCRYPTION = "aws:glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings"
GLUE_SECURITY_CONFIGURATION = "aws:glue/securityConfiguration:SecurityConfiguration"

GLUE_CATALOG_KMS_MODES = frozenset({"SSE-KMS", "SSE-KMS-WITH-SERVICE-ROLE"})


def validate_table_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    sse = args.props.get("serverSideEncryption")
    if not is_true(get(sse, "enabled")):
        report(
            f"DynamoDB table '{args.name}' uses the AWS-owned key "
            "(serverSideEncryption.enabled is not true).",
            None,
        )
    elif not is_customer_managed_key(get(sse, "kmsKeyArn")):
        report(
            f"DynamoDB table '{args.name}' uses the AWS-managed key aws/dynamodb "
            "(serverSideEncryption.kmsKeyArn names no customer-managed key).",
            None,
        )


def validate_table_pitr(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_true(get(args.props, "pointInTimeRecovery", "enabled")):
        report(f"DynamoDB table '{args.name}' has point-in-time recovery off.", None)


def validate_table_deletion_protection(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_true(args.props.get("deletionProtectionEnabled")):
        report(f"DynamoDB table '{args.name}' has deletion protection off.", None)


def validate_feature_group_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    online = args.props.get("onlineStoreConfig")
    if is_true(get(online, "enableOnlineStore")) and not is_customer_managed_key(
        get(online, "securityConfig", "kmsKeyId")
    ):
        report(
            f"Feature group '{args.name}' online store has no KMS key "
            "(onlineStoreConfig.securityConfig.kmsKeyId).",
            None,
        )
    offline = args.props.get("offlineStoreConfig")
    if offline is not None and not is_customer_managed_key(
        get(offline, "s3StorageConfig", "kmsKeyId")
    ):
        report(
            f"Feature group '{args.name}' offline store has no KMS key "
            "(offlineStoreConfig.s3StorageConfig.kmsKeyId).",
            None,
        )


def validate_glue_catalog_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    settings_block = args.props.get("dataCatalogEncryptionSettings")
    at_rest = get(settings_block, "encryptionAtRest")
    mode = text(get(at_rest, "catalogEncryptionMode"))
    if mode not in GLUE_CATALOG_KMS_MODES or not is_customer_managed_key(
        get(at_rest, "sseAwsKmsKeyId")
    ):
        report(
            f"Glue Data Catalog encryption '{args.name}' does not encrypt metadata with a "
            f"customer-managed KMS key (catalogEncryptionMode {mode or 'DISABLED'}).",
            None,
        )
    passwords = get(settings_block, "connectionPasswordEncryption")
    if not is_true(get(passwords, "returnConnectionPasswordEncrypted")) or not (
        is_customer_managed_key(get(passwords, "awsKmsKeyId"))
    ):
        report(
            f"Glue Data Catalog encryption '{args.name}' does not encrypt connection passwords "
            "with a KMS key.",
            None,
        )


_GLUE_TARGETS = (
    ("s3Encryption", "s3EncryptionMode", "SSE-KMS", "S3 data"),
    ("cloudwatchEncryption", "cloudwatchEncryptionMode", "SSE-KMS", "CloudWatch logs"),
    ("jobBookmarksEncryption", "jobBookmarksEncryptionMode", "CSE-KMS", "job bookmarks"),
)


def validate_glue_security_configuration(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    configuration = args.props.get("encryptionConfiguration")
    for block, mode_key, wanted, what in _GLUE_TARGETS:
        target = get(configuration, block)
        mode = text(get(target, mode_key))
        if mode != wanted or not is_customer_managed_key(get(target, "kmsKeyArn")):
            report(
                f"Glue security configuration '{args.name}' does not encrypt {what} with a "
                f"KMS key ({block}.{mode_key} is {mode or 'DISABLED'}; want {wanted}).",
                None,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="dynamodb-table-encryption-cmk",
        title="DynamoDB tables encrypt with a customer-managed KMS key",
        description=(
            "Every DynamoDB table has server-side encryption enabled with a customer-managed "
            "KMS key."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set server_side_encryption={'enabled': True, 'kms_key_arn': <the BU's KMS key ARN>} "
            "on the aws.dynamodb.Table."
        ),
        kind="resource",
        validate=validate_table_encryption,
        resource_types=frozenset({TABLE}),
        frameworks=(checkov("CKV_AWS_119"),),
        domain="data",
    ),
    Rule(
        id="dynamodb-table-pitr",
        title="DynamoDB tables have point-in-time recovery",
        description="Every DynamoDB table has point-in-time recovery enabled.",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation="Set point_in_time_recovery={'enabled': True} on the aws.dynamodb.Table.",
        kind="resource",
        validate=validate_table_pitr,
        resource_types=frozenset({TABLE}),
        frameworks=(checkov("CKV_AWS_28"), securityhub("DynamoDB.2")),
        domain="data",
    ),
    Rule(
        id="dynamodb-table-deletion-protection",
        title="DynamoDB tables are protected from deletion",
        description="Every DynamoDB table has deletion protection enabled.",
        severity="medium",
        enforcement=PROD_ONLY,
        remediation=(
            "Set deletion_protection_enabled=True on the aws.dynamodb.Table (turn it off in a "
            "separate, reviewed change before a planned delete)."
        ),
        kind="resource",
        validate=validate_table_deletion_protection,
        resource_types=frozenset({TABLE}),
        frameworks=(securityhub("DynamoDB.6"),),
        domain="data",
        rationale="Disabled in dev so that throwaway stacks can be destroyed in one command.",
    ),
    Rule(
        id="sagemaker-feature-group-encryption",
        title="SageMaker feature stores encrypt with a KMS key",
        description=(
            "Every SageMaker feature group encrypts its online store and its offline store with "
            "a customer-managed KMS key."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set online_store_config.security_config.kms_key_id and "
            "offline_store_config.s3_storage_config.kms_key_id to the BU's KMS key ARN."
        ),
        kind="resource",
        validate=validate_feature_group_encryption,
        resource_types=frozenset({FEATURE_GROUP}),
        frameworks=(securityhub("SageMaker.17"), securityhub("SageMaker.18")),
        domain="data",
    ),
    Rule(
        id="glue-data-catalog-encryption",
        title="The Glue Data Catalog encrypts metadata and connection passwords",
        description=(
            "Glue Data Catalog encryption settings use SSE-KMS with a customer-managed key for "
            "metadata and KMS for connection passwords."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set data_catalog_encryption_settings.encryption_at_rest to catalog_encryption_mode="
            "'SSE-KMS' with sse_aws_kms_key_id, and connection_password_encryption to "
            "return_connection_password_encrypted=True with aws_kms_key_id."
        ),
        kind="resource",
        validate=validate_glue_catalog_encryption,
        resource_types=frozenset({GLUE_CATALOG_ENCRYPTION}),
        frameworks=(checkov("CKV_AWS_94"),),
        domain="data",
    ),
    Rule(
        id="glue-security-configuration-encryption",
        title="Glue jobs and crawlers encrypt what they write",
        description=(
            "Every Glue security configuration encrypts S3 data (SSE-KMS), CloudWatch logs "
            "(SSE-KMS) and job bookmarks (CSE-KMS) with a KMS key."
        ),
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Set s3_encryption (SSE-KMS), cloudwatch_encryption (SSE-KMS) and "
            "job_bookmarks_encryption (CSE-KMS), each with kms_key_arn, in the "
            "aws.glue.SecurityConfiguration's encryption_configuration."
        ),
        kind="resource",
        validate=validate_glue_security_configuration,
        resource_types=frozenset({GLUE_SECURITY_CONFIGURATION}),
        frameworks=(checkov("CKV_AWS_99"),),
        domain="data",
    ),
)
