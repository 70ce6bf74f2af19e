"""The live checks of `estate verify`, one module per component family.

Each module registers its policies (`verify-<service>-<property>`) and exposes one
`check_<thing>(ctx, target)` that returns outcomes for one declared resource. `CHECKS` maps a
target kind to its check; `estate/verify/__init__.py` decides which targets a stack's outputs declare.
"""

from __future__ import annotations

from collections.abc import Callable

from estate.verify.checks import (
    audit,
    backup,
    dynamodb,
    ecr,
    eks,
    kms,
    lake_formation,
    mlops,
    monitoring,
    s3,
    sagemaker,
)
from estate.verify.checks.base import KINDS, PASS, POLICIES, Context, Outcome, Target

CheckFn = Callable[[Context, Target], list[Outcome]]

CHECKS: dict[str, CheckFn] = {
    "kms-key": kms.check_key,
    "s3-bucket": s3.check_bucket,
    "dynamodb-table": dynamodb.check_table,
    "ecr-repository": ecr.check_repository,
    "eks-cluster": eks.check_cluster,
    "eks-nodegroup": eks.check_node_group_pool,
    "sagemaker-feature-group": sagemaker.check_feature_group,
    "sagemaker-model-package-group": sagemaker.check_model_package_group,
    "cloudwatch-alarm": monitoring.check_alarm,
    "sns-topic": monitoring.check_topic,
    "budget": monitoring.check_budget,
    "backup-vault": backup.check_vault,
    "sqs-queue": mlops.check_queue,
    "events-archive": mlops.check_archive,
    "sagemaker-model-card": mlops.check_model_card,
    "cloudtrail-trail": audit.check_trail,
    "lakeformation-location": lake_formation.check_location,
    "lakeformation-settings": lake_formation.check_settings,
}
"""Target kind -> its check, in the order results are shown."""

SERVICES: dict[str, str] = {
    "kms-key": "kms",
    "s3-bucket": "s3",
    "dynamodb-table": "dynamodb",
    "ecr-repository": "ecr",
    "eks-cluster": "eks",
    "eks-nodegroup": "eks",
    "sagemaker-feature-group": "sagemaker",
    "sagemaker-model-package-group": "sagemaker",
    "cloudwatch-alarm": "cloudwatch",
    "sns-topic": "sns",
    "budget": "budgets",
    "backup-vault": "backup",
    "sqs-queue": "sqs",
    "events-archive": "events",
    "sagemaker-model-card": "sagemaker",
    "cloudtrail-trail": "cloudtrail",
    "lakeformation-location": "lakeformation",
    "lakeformation-settings": "lakeformation",
}
"""The boto3 service each kind's check calls (KMS is also used to resolve key aliases)."""

KIND_POLICIES: dict[str, tuple[str, ...]] = {
    "kms-key": (kms.EXISTS, kms.ENABLED, kms.ROTATION),
    "s3-bucket": (s3.EXISTS, s3.ENCRYPTION, s3.VERSIONING, s3.PUBLIC_ACCESS, s3.TLS_POLICY),
    "dynamodb-table": (
        dynamodb.EXISTS,
        dynamodb.ENCRYPTION,
        dynamodb.PITR,
        dynamodb.DELETION_PROTECTION,
    ),
    "ecr-repository": (ecr.EXISTS, ecr.IMMUTABLE, ecr.SCAN, ecr.ENCRYPTION),
    "eks-cluster": (eks.CLUSTER_EXISTS, eks.ENDPOINT, eks.LOGGING, eks.SECRETS, eks.VERSION),
    "eks-nodegroup": (
        eks.NODEGROUP_EXISTS,
        eks.NODEGROUP_SCALING,
        eks.NODEGROUP_INSTANCES,
        eks.NODEGROUP_AMI,
        eks.NODEGROUP_TAINTS,
        eks.NODEGROUP_LABELS,
        eks.NODEGROUP_REMOTE_ACCESS,
    ),
    "sagemaker-feature-group": (sagemaker.FEATURE_GROUP_EXISTS, sagemaker.FEATURE_GROUP_ENCRYPTION),
    "sagemaker-model-package-group": (
        sagemaker.MODEL_GROUP_EXISTS,
        sagemaker.MODEL_GROUP_POLICY,
    ),
    "cloudwatch-alarm": (monitoring.ALARM_EXISTS, monitoring.ALARM_ACTIONS),
    "sns-topic": (monitoring.TOPIC_EXISTS, monitoring.TOPIC_ENCRYPTION),
    "budget": (monitoring.BUDGET_EXISTS,),
    "backup-vault": (backup.EXISTS, backup.ENCRYPTION, backup.LOCK, backup.PLAN),
    "sqs-queue": (
        mlops.QUEUE_EXISTS,
        mlops.QUEUE_ENCRYPTION,
        mlops.QUEUE_DLQ,
        mlops.QUEUE_TRIGGERED,
    ),
    "events-archive": (mlops.ARCHIVE_EXISTS,),
    "sagemaker-model-card": (mlops.CARD_EXISTS, mlops.CARD_ENCRYPTION, mlops.CARD_APPROVED),
    "cloudtrail-trail": (
        audit.TRAIL_EXISTS,
        audit.TRAIL_LOGGING,
        audit.TRAIL_VALIDATION,
        audit.TRAIL_ENCRYPTION,
        audit.TRAIL_MULTI_REGION,
        audit.TRAIL_DATA_EVENTS,
    ),
    "lakeformation-location": (
        lake_formation.LOCATION_REGISTERED,
        lake_formation.LOCATION_ROLE,
        lake_formation.LOCATION_HYBRID,
    ),
    "lakeformation-settings": (
        lake_formation.SETTINGS_DEFAULTS,
        lake_formation.SETTINGS_ADMINS,
        lake_formation.LF_TAGS,
    ),
}
"""The policies each kind's check can report (what is not applicable when none is declared)."""

__all__ = [
    "CHECKS",
    "KINDS",
    "KIND_POLICIES",
    "PASS",
    "POLICIES",
    "SERVICES",
    "Context",
    "Outcome",
    "Target",
]
