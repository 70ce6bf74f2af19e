"""MLOps rules: the retraining loop's queues and audit archive are under the BU's key.

- `mlops-queue-and-archive-cmk`: retraining queues and their DLQs (tag `Purpose: retraining`) and
  every EventBridge archive are encrypted with a customer-managed key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_FROM_STAGING, Rule, Settings
from .properties import is_customer_managed_key, string_map, text

QUEUE = "aws:sqs/queue:Queue"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
PURPOSE_TAG = "Purpose"
RETRAINING = "retraining"


# -- mlops-queue-and-archive-cmk ------------------------------------------------------------


def validate_queue_and_archive_cmk(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if args.resource_type == ARCHIVE:
        if not is_customer_managed_key(args.props.get("kmsKeyIdentifier")):
            report(
                f"EventBridge archive '{args.name}' is encrypted with an AWS-owned key "
                "(kmsKeyIdentifier names no customer-managed key).",
                None,
            )
        return
    resource: Mapping[str, Any] = args.props
    tags = {**string_map(resource.get("tagsAll")), **string_map(resource.get("tags"))}
    name = text(resource.get("name"))
    if tags.get(PURPOSE_TAG) != RETRAINING and "-retrain-" not in name:
        return
    if not is_customer_managed_key(resource.get("kmsMasterKeyId")):
        report(
            f"Retraining queue '{args.name}' is not encrypted with a customer-managed key "
            "(kmsMasterKeyId).",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="mlops-queue-and-archive-cmk",
        title="Retraining queues and EventBridge archives use a customer-managed key",
        description="Every retraining queue and its DLQ, and every EventBridge archive, is "
        "encrypted with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set `kms_master_key_id` on the aws.sqs.Queue and `kms_key_identifier` on "
        "the aws.cloudwatch.EventArchive to the BU's key (RetrainingLoop does).",
        kind="resource",
        validate=validate_queue_and_archive_cmk,
        resource_types=frozenset({QUEUE, ARCHIVE}),
        domain="mlops",
        rationale="Retraining messages name model versions and data locations, and the archive "
        "keeps every model-package event for audit; under the BU key, other BUs in the account "
        "cannot read or replay them. Security Hub SQS.1 asks for queue encryption at rest but "
        "accepts SSE-SQS, so it is not cited.",
    ),
)
