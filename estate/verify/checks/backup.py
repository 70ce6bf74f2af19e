"""AWS Backup vaults of BU stacks: under the BU key, locked, and the target of a backup plan."""

from __future__ import annotations

from typing import Any

from estate.verify.checks.base import (
    Context,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    short_key,
)

EXISTS = policy(
    "verify-backup-vault-exists",
    "high",
    "Every AWS Backup vault the stack's outputs declare exists.",
    "Re-run `pulumi up`; a vault with recovery points cannot be deleted, so look for a rename.",
)
ENCRYPTION = policy(
    "verify-backup-vault-encryption",
    "high",
    "The vault encrypts recovery points with the stack's customer KMS key.",
    "A vault's key cannot change: create a vault under the BU key and copy the recovery points.",
)
LOCK = policy(
    "verify-backup-vault-lock",
    "high",
    "The vault is locked: in prod in compliance mode (a lock date is set), elsewhere at least in "
    "governance mode.",
    "Re-run `pulumi up` (it puts the vault lock configuration back).",
)
PLAN = policy(
    "verify-backup-plan-targets-vault",
    "high",
    "A backup plan with at least one rule writes to the vault (recovery points are being made).",
    "Re-run `pulumi up`; check that nobody deleted the plan `<bu>-<env>-backup`.",
)


def check_vault(ctx: Context, target: Target) -> list[Outcome]:
    backup = ctx.client("backup")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("backup", f"backup-vault:{name}"))
    vault = run.exists(
        EXISTS, lambda: aws_call(backup, "describe_backup_vault", BackupVaultName=name)
    )
    run.check(
        ENCRYPTION, lambda: _encryption(ctx, vault), f"encrypted with {short_key(ctx.key_arn)}"
    )
    prod = ctx.environment == "prod"
    run.check(LOCK, lambda: _lock(vault, prod), "compliance-mode lock" if prod else "locked")
    run.check(PLAN, lambda: _plan(backup, name), "a backup plan writes to it")
    return run.outcomes


def _encryption(ctx: Context, vault: dict[str, Any]) -> Problem:
    key = vault.get("EncryptionKeyArn")
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    return None


def _lock(vault: dict[str, Any], prod: bool) -> Problem:
    if not vault.get("Locked") and vault.get("MinRetentionDays") is None:
        return "has no vault lock: recovery points can be deleted before their retention ends"
    if prod and vault.get("LockDate") is None:
        return "is locked in governance mode only (no lock date): prod needs compliance mode"
    return None


def _plan(backup: Any, vault: str) -> Problem:
    plans = aws_call(backup, "list_backup_plans").get("BackupPlansList", [])
    for summary in plans:
        found = aws_call(backup, "get_backup_plan", BackupPlanId=summary["BackupPlanId"])
        rules = found.get("BackupPlan", {}).get("Rules", [])
        if any(rule.get("TargetBackupVaultName") == vault for rule in rules):
            return None
    return "no backup plan writes to it: no recovery points are being made"
