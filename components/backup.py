"""AWS Backup for one BU: a vault under the BU key, a plan, a selection and restore tests.

What is backed up: the BU's online feature tables (DynamoDB) and its data buckets (the offline
feature store and the model artifacts), and the EKS cluster an estate builds (the platform's
shared cluster, backed up by the platform stack under the platform key with `CLUSTER_BACKUP`, or
a regulated BU's dedicated cluster, in the BU's own selection), named explicitly in the selection
and further filtered by the `BusinessUnit` tag (AWS Backup filters the listed resources by the conditions: a resource
must match one ARN pattern *and* every condition). Access-log buckets are not data and are left
out. DynamoDB PITR and S3 versioning stay on: they cover mistakes within 35 days; AWS Backup
covers the rest (a deleted table, a compromised account, a lost region).

- **Vault**: encrypted with the BU's key; in prod a vault lock in *compliance* mode
  (`changeable_for_days` set: after that grace period nobody, not even the account root, can
  shorten retention or delete recovery points early). Elsewhere a *governance*-mode lock
  (no `changeable_for_days`), which users with `backup:DeleteBackupVaultLockConfiguration` can
  lift, so dev stacks stay disposable.
- **Plan**: one rule on `rpo_hours` (a backup at least that often), kept `retention_days`, and,
  with `dr_region`, a copy of every recovery point to a vault in that region, encrypted with a
  key of its own there (a KMS key never leaves its region).
- **EKS** (AWS Backup developer guide, "Amazon EKS backups"): a cluster's recovery point is a
  composite of its state (the Kubernetes objects: secrets, config maps, stateful sets, CRDs,
  RBAC, PVCs, ...) and the EBS/EFS/S3 persistent volumes its PVCs use. AWS Backup reaches the
  cluster through an access entry it creates, which needs the cluster's authentication mode to be
  `API` or `API_AND_CONFIG_MAP` (EksCluster sets `API`); the permissions are in
  `AWSBackupServiceRolePolicyForBackup`/`...ForRestores`. The selection names the cluster's ARN,
  so the resource type is explicitly assigned and the account's service opt-in does not apply.
- **Restore testing**: a weekly restore-testing plan per resource type that restores the latest
  recovery point of the BU's tagged tables and buckets and deletes the copy after the validation
  window, so a restore is proven, not assumed.

The service role `<prefix>-backup` is named, not under the BU's role path: the BU's data buckets
allow it by name (`BuEstate._data_only_for`), and no other BU's deny matches it.
"""

from __future__ import annotations

import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import managed_policy_arn_output, service_trust_policy
from .kms import KmsKey
from .options import child, stateful

BACKUP_MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
"""The AWS managed policies AWS Backup documents for its service role (S3 needs its own two)."""

RPO_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
"""The recovery point objectives a cron schedule can express evenly over a day."""

LOCK_GRACE_DAYS_MIN = 3
"""AWS Backup's minimum `ChangeableForDays` for a compliance-mode vault lock."""

RESTORE_VALIDATION_HOURS = 4
"""How long a restored copy lives for validation before AWS Backup deletes it."""


def schedule_for(rpo_hours: int) -> str:
    """The plan rule's cron for a recovery point objective: every `rpo_hours`, on the hour, UTC
    (daily at 05:00 for 24)."""
    if rpo_hours not in RPO_HOURS:
        raise ValueError(f"rpo_hours must be one of {RPO_HOURS}, got {rpo_hours}")
    if rpo_hours == 24:
        return "cron(0 5 * * ? *)"
    return f"cron(0 0/{rpo_hours} * * ? *)"


def backup_role_name(prefix: str) -> str:
    """`fraud-prod-backup`: the BU's AWS Backup service role (its data buckets allow it)."""
    return f"{prefix}-backup"


def restore_testing_plan_name(prefix: str) -> str:
    """`fraud_prod_restore_tests`: restore-testing plan names allow letters, digits and `_` only."""
    return f"{prefix.replace('-', '_')}_restore_tests"


class BackupSettings(TypedDict):
    """The BU's backup settings (`ai-estate:backup`)."""

    rpo_hours: int
    """Hours between recovery points (the recovery point objective): one of 1, 2, 3, 4, 6, 8,
    12 or 24."""
    retention_days: int
    """Days each recovery point is kept in the BU's vault."""
    dr_region: str | None
    """Region that receives a copy of every recovery point; None keeps backups in-region."""
    dr_retention_days: int | None
    """Days copies are kept in the DR vault; None keeps them as long as the originals."""
    lock_grace_days: int
    """Prod: days the compliance-mode vault lock can still be removed after it is created."""
    restore_test_schedule: str
    """When restore tests run (an EventBridge Scheduler cron, UTC)."""


CLUSTER_BACKUP: BackupSettings = {
    "rpo_hours": 24,
    "retention_days": 35,
    "dr_region": None,
    "dr_retention_days": None,
    "lock_grace_days": LOCK_GRACE_DAYS_MIN,
    "restore_test_schedule": "cron(0 6 ? * SUN *)",
}
"""The platform's backup of its shared cluster: the BU defaults (`ai-estate:backup`), daily,
kept 35 days; the platform sets `dr_region` from `dataGovernance.drRegion`. No restore tests are
scheduled for it (BuBackup schedules them for DynamoDB and S3 only); restoring a cluster is a
documented runbook step (README, "Backup and restore")."""


class BuBackupArgs(BackupSettings):
    """Inputs of `BuBackup`."""

    name_prefix: str
    """`fraud-prod`: names the vault, the plan, the role and the restore tests."""
    business_unit: str
    """The BU slug: the selection and the restore tests only pick resources tagged with it."""
    environment: str
    """`prod` locks the vault in compliance mode."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the vault's recovery points."""
    table_arn_patterns: list[pulumi.Input[str]]
    """The BU's tables, as ARNs or ARN patterns (`*` matches any characters)."""
    bucket_names: list[pulumi.Input[str]]
    """The BU's data buckets (versioned, as AWS Backup for S3 requires)."""
    cluster_arns: NotRequired[list[pulumi.Input[str]]]
    """EKS clusters to back up (state and persistent volumes): the one this estate builds."""
    protect: bool
    """Protect and retain the vaults and the DR key (prod)."""
    tags: dict[str, str]
    """Ownership tags."""
    dr_key_admin_principals: NotRequired[list[pulumi.Input[str]]]
    """Roles that may administer the DR region's key (the BU's key admins)."""


class BuBackup(pulumi.ComponentResource):
    """The BU's backup vault, plan, selection, DR copy and restore-testing plans."""

    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    plan_id: pulumi.Output[str]
    role_name: str
    role_arn: pulumi.Output[str]
    dr_vault_arn: pulumi.Output[str] | None
    restore_testing_plan_name: str | None
    """None when nothing in the selection has restore tests (a cluster-only backup)."""

    def __init__(
        self, name: str, args: BuBackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:data:BuBackup", name, None, opts)
        prefix, tags, protect = args["name_prefix"], args["tags"], args["protect"]
        prod = args["environment"] == "prod"
        schedule = schedule_for(args["rpo_hours"])
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        vault = aws.backup.Vault(
            f"{name}-vault",
            name=f"{prefix}-vault",
            kms_key_arn=args["kms_key_arn"],
            # Never delete recovery points with the stack: a vault with points refuses deletion.
            force_destroy=False,
            tags=tags,
            opts=stateful(self, protect),
        )
        retention = args["retention_days"]
        grace = args["lock_grace_days"] if prod else None
        self._lock(f"{name}-vault-lock", vault, retention, grace, None, protect)

        copy_actions: list[aws.backup.PlanRuleCopyActionArgs] = []
        self.dr_vault_arn = None
        dr_key_arn: pulumi.Output[str] | None = None
        dr_region = args["dr_region"]
        if dr_region is not None:
            dr_key = KmsKey(
                f"{name}-dr-key",
                {
                    "alias": f"ai-estate/{prefix}-backup-dr",
                    "description": f"AI Estate DR backup key of {prefix} in {dr_region}",
                    "region": dr_region,
                    "admin_principals": list(args.get("dr_key_admin_principals") or []),
                    "tags": tags,
                    "protect": protect,
                },
                child(self),
            )
            dr_vault = aws.backup.Vault(
                f"{name}-dr-vault",
                name=f"{prefix}-dr-vault",
                region=dr_region,
                kms_key_arn=dr_key.arn,
                force_destroy=False,
                tags=tags,
                opts=stateful(self, protect),
            )
            dr_retention = args["dr_retention_days"] or retention
            self._lock(f"{name}-dr-vault-lock", dr_vault, dr_retention, grace, dr_region, protect)
            self.dr_vault_arn, dr_key_arn = dr_vault.arn, dr_key.arn
            copy_actions.append(
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=dr_vault.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=dr_retention),
                )
            )

        plan = aws.backup.Plan(
            f"{name}-plan",
            name=f"{prefix}-backup",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name=f"every-{args['rpo_hours']}h",
                    target_vault_name=vault.name,
                    schedule=schedule,
                    # AWS Backup wants the completion window at least an hour past the start.
                    start_window=60,
                    completion_window=180,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=retention),
                    copy_actions=copy_actions or None,
                    recovery_point_tags=tags,
                )
            ],
            tags=tags,
            opts=child(self),
        )

        self.role_name = backup_role_name(prefix)
        role = aws.iam.Role(
            f"{name}-role",
            name=self.role_name,
            description=f"AWS Backup service role of {prefix}",
            assume_role_policy=service_trust_policy("backup.amazonaws.com"),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        for policy in BACKUP_MANAGED_POLICIES:
            short = policy.rsplit("/", 1)[-1].removeprefix("AWSBackupServiceRolePolicyFor")
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{short.lower()}",
                role=role.name,
                policy_arn=managed_policy_arn_output(partition.partition, policy),
                opts=child(self),
            )
        # The BU key encrypts the tables and objects it reads and the recovery points it writes;
        # the DR key, the copies in the DR region.
        keys = [args["kms_key_arn"], *([dr_key_arn] if dr_key_arn is not None else [])]
        aws.iam.RolePolicy(
            f"{name}-role-key",
            role=role.id,
            policy=pulumi.Output.all(*keys).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "UseTheBuKeysForBackupAndRestore",
                                "Effect": "Allow",
                                "Action": [
                                    "kms:Decrypt",
                                    "kms:Encrypt",
                                    "kms:GenerateDataKey",
                                    "kms:DescribeKey",
                                    "kms:CreateGrant",
                                ],
                                "Resource": sorted(arns),
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=child(self),
        )
        self.role_arn = role.arn

        bu_tag = aws.backup.SelectionConditionStringEqualArgs(
            key="aws:ResourceTag/BusinessUnit", value=args["business_unit"]
        )
        bucket_arns = [
            pulumi.Output.concat("arn:", partition.partition, ":s3:::", b)
            for b in args["bucket_names"]
        ]
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{prefix}-data",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[
                *args["table_arn_patterns"],
                *bucket_arns,
                *(args.get("cluster_arns") or []),
            ],
            conditions=[aws.backup.SelectionConditionArgs(string_equals=[bu_tag])],
            opts=child(self),
        )

        restore_types = (["DynamoDB"] if args["table_arn_patterns"] else []) + (
            ["S3"] if args["bucket_names"] else []
        )
        self.restore_testing_plan_name = None
        if restore_types:
            self._restore_tests(name, prefix, args, vault, role, restore_types)

        self.vault_name, self.vault_arn, self.plan_id = vault.name, vault.arn, plan.id
        self.register_outputs(
            {"vaultArn": vault.arn, "planId": plan.id, "drVaultArn": self.dr_vault_arn}
        )

    def _restore_tests(
        self,
        name: str,
        prefix: str,
        args: BuBackupArgs,
        vault: aws.backup.Vault,
        role: aws.iam.Role,
        restore_types: list[str],
    ) -> None:
        """A restore-testing plan restoring the latest recovery point of each resource type."""
        self.restore_testing_plan_name = restore_testing_plan_name(prefix)
        testing = aws.backup.RestoreTestingPlan(
            f"{name}-restore-tests",
            name=self.restore_testing_plan_name,
            schedule_expression=args["restore_test_schedule"],
            recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.arn],
                recovery_point_types=["SNAPSHOT"],
                selection_window_days=7,
            ),
            tags=args["tags"],
            opts=child(self),
        )
        for resource_type in restore_types:
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-{resource_type.lower()}",
                name=f"{prefix.replace('-', '_')}_{resource_type.lower()}",
                restore_testing_plan_name=testing.name,
                protected_resource_type=resource_type,
                iam_role_arn=role.arn,
                protected_resource_arns=["*"],
                protected_resource_conditions=aws.backup.RestoreTestingSelectionProtectedResourceConditionsArgs(
                    string_equals=[
                        aws.backup.RestoreTestingSelectionProtectedResourceConditionsStringEqualArgs(
                            key="aws:ResourceTag/BusinessUnit", value=args["business_unit"]
                        )
                    ]
                ),
                validation_window_hours=RESTORE_VALIDATION_HOURS,
                opts=child(self),
            )

    def _lock(
        self,
        name: str,
        vault: aws.backup.Vault,
        retention: int,
        grace_days: int | None,
        region: str | None,
        protect: bool,
    ) -> aws.backup.VaultLockConfiguration:
        """Every recovery point stays at least as long as the plan keeps it; with `grace_days`
        (prod) the lock is in compliance mode, otherwise in governance mode (removable)."""
        return aws.backup.VaultLockConfiguration(
            name,
            backup_vault_name=vault.name,
            min_retention_days=retention,
            changeable_for_days=grace_days,
            region=region,
            opts=stateful(self, protect),
        )
