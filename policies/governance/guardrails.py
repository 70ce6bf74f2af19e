"""Guardrail resources judged on their own, whether or not what they guard is in the stack.

The S3 stack rules in `storage.py` judge a bucket together with its satellites, so they only run
when the bucket is in the same stack. A platform team often keeps the guardrails elsewhere — an
account baseline stack holding the account-wide public access block, EBS encryption by default
and the locked-down default security groups, or a satellite for a bucket imported from another
stack — and a guardrail that is switched off is a finding wherever it is declared:

- `s3-public-access-block-all-flags`: an `aws.s3.AccountPublicAccessBlock` or
  `aws.s3.BucketPublicAccessBlock` sets all four flags to true (unset means false).
- `s3-versioning-not-suspended`: an `aws.s3.BucketVersioning` says `Enabled` (not `Suspended`,
  nor `Disabled`).
- `ebs-encryption-by-default-on`: an `aws.ebs.EncryptionByDefault` is not `enabled: false`
  (unset means true, the provider's default).
- `ec2-default-security-group-no-rules`: an `aws.ec2.DefaultSecurityGroup` (which adopts the
  VPC's default group) declares no ingress and no egress rule, so nothing placed in it by
  accident can talk to anything.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, BLOCK_IN_PROD, Rule, Settings, checkov, cis, securityhub
from .properties import as_list, get, is_true, text
from .storage import (
    ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES,
    PUBLIC_ACCESS_BLOCK_TYPES,
    PUBLIC_ACCESS_FLAGS,
    VERSIONING_TYPES,
)

EBS_ENCRYPTION_BY_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"


def validate_public_access_block_flags(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    missing = [f for f in PUBLIC_ACCESS_FLAGS if not is_true(args.props.get(f))]
    if missing:
        scope = "account" if args.resource_type in ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES else "bucket"
        report(
            f"{scope.capitalize()} public access block '{args.name}' leaves "
            f"{', '.join(missing)} off (unset counts as off).",
            None,
        )


def validate_versioning_not_suspended(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    status = text(get(args.props, "versioningConfiguration", "status"))
    if status != "Enabled":
        report(
            f"Bucket versioning '{args.name}' is {status or 'without a status'}; set "
            "versioning_configuration status to Enabled.",
            None,
        )


def validate_ebs_encryption_by_default(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    enabled = args.props.get("enabled")
    if enabled is False or (isinstance(enabled, str) and enabled.strip().lower() == "false"):
        report(
            f"EBS encryption by default '{args.name}' is switched off: every new volume in the "
            "region would be unencrypted unless its creator asks.",
            None,
        )


def validate_default_security_group(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for direction in ("ingress", "egress"):
        rules = as_list(args.props.get(direction))
        if rules:
            report(
                f"Default security group '{args.name}' declares {len(rules)} {direction} "
                "rule(s); the default group must allow no traffic at all.",
                None,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="s3-public-access-block-all-flags",
        title="Public access blocks switch on all four flags",
        description=(
            "Every S3 account or bucket public access block sets block_public_acls, "
            "block_public_policy, ignore_public_acls and restrict_public_buckets to true."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set all four flags to True on the aws.s3.AccountPublicAccessBlock or "
            "aws.s3.BucketPublicAccessBlock (unset counts as off)."
        ),
        kind="resource",
        validate=validate_public_access_block_flags,
        resource_types=frozenset((*ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES, *PUBLIC_ACCESS_BLOCK_TYPES)),
        frameworks=(
            cis("2.1.5"),
            checkov("CKV_AWS_53"),
            checkov("CKV_AWS_54"),
            checkov("CKV_AWS_55"),
            checkov("CKV_AWS_56"),
            securityhub("S3.1"),
            securityhub("S3.8"),
        ),
        domain="storage",
        rationale=(
            "A block with a flag off is a deliberate hole, and the bucket it guards may live in "
            "another stack where the bucket rules never see this satellite."
        ),
    ),
    Rule(
        id="s3-versioning-not-suspended",
        title="Bucket versioning resources keep versioning on",
        description="Every aws.s3.BucketVersioning sets the status Enabled (never Suspended).",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Set versioning_configuration={'status': 'Enabled'} and expire noncurrent versions "
            "with a lifecycle rule instead of suspending versioning."
        ),
        kind="resource",
        validate=validate_versioning_not_suspended,
        resource_types=frozenset(VERSIONING_TYPES),
        frameworks=(checkov("CKV_AWS_21"), securityhub("S3.14")),
        domain="storage",
        rationale=(
            "Suspending versioning on a bucket of another stack is how a program quietly "
            "removes the recovery path for overwritten or deleted objects."
        ),
    ),
    Rule(
        id="ebs-encryption-by-default-on",
        title="EBS encryption by default stays on",
        description="No aws.ebs.EncryptionByDefault switches default EBS encryption off.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set enabled=True (or leave it unset) on the aws.ebs.EncryptionByDefault, and set "
            "the region's default key with aws.ebs.DefaultKmsKey."
        ),
        kind="resource",
        validate=validate_ebs_encryption_by_default,
        resource_types=frozenset({EBS_ENCRYPTION_BY_DEFAULT}),
        frameworks=(cis("2.2.1"), checkov("CKV_AWS_106"), securityhub("EC2.7")),
        domain="compute",
    ),
    Rule(
        id="ec2-default-security-group-no-rules",
        title="Default security groups allow no traffic",
        description="Every aws.ec2.DefaultSecurityGroup declares no ingress and no egress rules.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Declare the aws.ec2.DefaultSecurityGroup with no ingress and no egress (that "
            "removes AWS's default rules) and give workloads security groups of their own."
        ),
        kind="resource",
        validate=validate_default_security_group,
        resource_types=frozenset({DEFAULT_SECURITY_GROUP}),
        frameworks=(cis("5.3"), checkov("CKV2_AWS_12"), securityhub("EC2.2")),
        domain="network",
        rationale=(
            "Anything launched without a security group lands in the default group; with no "
            "rules it is isolated instead of open to every other member."
        ),
    ),
)
