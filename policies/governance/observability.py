"""CloudWatch Logs rules: bounded, environment-appropriate retention and KMS encryption.

An unset (or 0) `retentionInDays` keeps logs forever — an unbounded bill and personal data kept
past any purpose. Each environment has its own minimum (audit needs a year of prod logs; dev logs
are for debugging), tunable through policy config `minimumRetentionDays`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, BLOCK_IN_PROD, Rule, Setting, Settings, checkov
from .properties import as_int, is_customer_managed_key

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

MINIMUM_RETENTION_DAYS = {"dev": 30, "staging": 90, "prod": 365}


def validate_retention(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    minimum = int(settings["minimumRetentionDays"])
    days = as_int(args.props.get("retentionInDays"))
    if not days:
        report(
            f"Log group '{args.name}' keeps logs forever (retentionInDays unset or 0); "
            f"set it to at least {minimum} days.",
            None,
        )
    elif days < minimum:
        report(
            f"Log group '{args.name}' keeps logs {days} days; this environment needs at least "
            f"{minimum}.",
            None,
        )


def validate_log_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_customer_managed_key(args.props.get("kmsKeyId")):
        report(f"Log group '{args.name}' is not encrypted with a KMS key (kmsKeyId unset).", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="log-group-retention",
        title="Log groups expire logs, after long enough",
        description=(
            "Every CloudWatch log group sets a retention of at least the environment's minimum "
            "(never 0 or unset, which keeps logs forever)."
        ),
        severity="medium",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set retention_in_days on the aws.cloudwatch.LogGroup to a CloudWatch-supported value "
            "at or above the minimum (dev 30, staging 90, prod 365 by default)."
        ),
        kind="resource",
        validate=validate_retention,
        resource_types=frozenset({LOG_GROUP}),
        frameworks=(checkov("CKV_AWS_66"), checkov("CKV_AWS_338")),
        settings=(
            Setting(
                name="minimumRetentionDays",
                description="The shortest retention (days) a log group may have.",
                schema={"type": "integer", "minimum": 1},
                defaults=MINIMUM_RETENTION_DAYS,
            ),
        ),
        domain="observability",
    ),
    Rule(
        id="log-group-encryption",
        title="Log groups encrypt with a KMS key",
        description="Every CloudWatch log group is encrypted with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Set kms_key_id=<the BU's KMS key ARN> on the aws.cloudwatch.LogGroup and allow "
            "logs.<region>.amazonaws.com to use the key in its key policy."
        ),
        kind="resource",
        validate=validate_log_encryption,
        resource_types=frozenset({LOG_GROUP}),
        frameworks=(checkov("CKV_AWS_158"),),
        domain="observability",
    ),
)
