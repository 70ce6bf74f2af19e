"""KMS rules: key rotation, and KMS encryption of the services with no domain of their own.

Each BU owns a KMS key; SNS topics (alarms), SQS queues (pipelines) and ECR repositories (model
images) encrypt with a customer-managed key like the data stores do. The AWS-managed keys
(`alias/aws/sns`, ...) are refused: their key policies cannot be edited, so CloudWatch alarms
cannot publish to such a topic and the BU cannot revoke or share access.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_FROM_STAGING, BLOCK_IN_PROD, Rule, Settings, checkov, cis, securityhub
from .properties import as_list, get, is_customer_managed_key, is_true, text

KMS_KEY = "aws:kms/key:Key"
SNS_TOPIC = "aws:sns/topic:Topic"
SQS_QUEUE = "aws:sqs/queue:Queue"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

ECR_KMS_TYPES = frozenset({"KMS", "KMS_DSSE"})


def rotation_exemption(props) -> str:
    """Why a key cannot have automatic rotation, or '' when it can.

    AWS rotates only symmetric encryption keys with AWS-generated material: asymmetric and HMAC
    keys, and keys in custom key stores (CloudHSM, external), have no automatic rotation.
    """
    usage = text(props.get("keyUsage")) or "ENCRYPT_DECRYPT"
    spec = text(props.get("customerMasterKeySpec")) or "SYMMETRIC_DEFAULT"
    if usage != "ENCRYPT_DECRYPT" or spec != "SYMMETRIC_DEFAULT":
        return f"{spec} {usage} keys cannot rotate automatically"
    if text(props.get("customKeyStoreId")):
        return "keys in a custom key store cannot rotate automatically"
    return ""


def validate_key_rotation(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if rotation_exemption(args.props):
        return
    if not is_true(args.props.get("enableKeyRotation")):
        report(f"KMS key '{args.name}' has automatic key rotation off.", None)


def validate_topic_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    key = text(args.props.get("kmsMasterKeyId"))
    if not key:
        report(f"SNS topic '{args.name}' is not encrypted with KMS (kmsMasterKeyId unset).", None)
    elif not is_customer_managed_key(key):
        report(f"SNS topic '{args.name}' uses the AWS-managed key {key}.", None)


def validate_queue_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    key = text(args.props.get("kmsMasterKeyId"))
    if not key:
        how = "SSE-SQS" if is_true(args.props.get("sqsManagedSseEnabled")) else "no"
        report(f"SQS queue '{args.name}' uses {how} encryption, not a KMS key.", None)
    elif not is_customer_managed_key(key):
        report(f"SQS queue '{args.name}' uses the AWS-managed key {key}.", None)


def validate_repository_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    configs = as_list(args.props.get("encryptionConfigurations"))
    kind = text(get(configs[0], "encryptionType")) if configs else ""
    key = get(configs[0], "kmsKey") if configs else None
    if kind not in ECR_KMS_TYPES:
        report(f"ECR repository '{args.name}' uses {kind or 'AES256'} encryption, not KMS.", None)
    elif not is_customer_managed_key(key):
        report(f"ECR repository '{args.name}' uses the AWS-managed key aws/ecr.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="kms-key-rotation",
        title="KMS keys rotate automatically",
        description="Every symmetric customer-managed KMS key has automatic rotation enabled.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set enable_key_rotation=True on the aws.kms.Key.",
        kind="resource",
        validate=validate_key_rotation,
        resource_types=frozenset({KMS_KEY}),
        frameworks=(checkov("CKV_AWS_7"), cis("3.8"), securityhub("KMS.4")),
        domain="encryption",
        rationale="Asymmetric, HMAC and custom-key-store keys are exempt: AWS cannot rotate them.",
    ),
    Rule(
        id="sns-topic-encryption-cmk",
        title="SNS topics encrypt with a customer-managed KMS key",
        description="Every SNS topic is encrypted with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set kms_master_key_id=<the BU's KMS key ARN> on the aws.sns.Topic, and allow the "
            "publishing services (cloudwatch.amazonaws.com, events.amazonaws.com) in the key "
            "policy."
        ),
        kind="resource",
        validate=validate_topic_encryption,
        resource_types=frozenset({SNS_TOPIC}),
        frameworks=(checkov("CKV_AWS_26"),),
        domain="encryption",
    ),
    Rule(
        id="sqs-queue-encryption-cmk",
        title="SQS queues encrypt with a customer-managed KMS key",
        description="Every SQS queue is encrypted with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set kms_master_key_id=<the BU's KMS key ARN> (and leave sqs_managed_sse_enabled "
            "unset) on the aws.sqs.Queue."
        ),
        kind="resource",
        validate=validate_queue_encryption,
        resource_types=frozenset({SQS_QUEUE}),
        frameworks=(checkov("CKV_AWS_27"), securityhub("SQS.1")),
        domain="encryption",
    ),
    Rule(
        id="ecr-repository-encryption-cmk",
        title="ECR repositories encrypt with a customer-managed KMS key",
        description="Every ECR repository encrypts images with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Set encryption_configurations=[{'encryption_type': 'KMS', 'kms_key': <the BU's KMS "
            "key ARN>}] on the aws.ecr.Repository (it can only be set at creation)."
        ),
        kind="resource",
        validate=validate_repository_encryption,
        resource_types=frozenset({ECR_REPOSITORY}),
        frameworks=(checkov("CKV_AWS_136"), securityhub("ECR.5")),
        domain="encryption",
    ),
)
