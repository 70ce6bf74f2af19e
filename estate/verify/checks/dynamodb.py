"""DynamoDB tables (the feature store's online tables): BU key, PITR, deletion protection in prod."""

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
    "verify-dynamodb-table-exists",
    "high",
    "Every DynamoDB table the stack's outputs declare exists.",
    "Re-run `pulumi up`, or restore the table from a PITR backup.",
)
ENCRYPTION = policy(
    "verify-dynamodb-table-encryption",
    "high",
    "The table is encrypted with the stack's customer KMS key (not an AWS owned or AWS managed "
    "key).",
    "Update the table's SSE specification to the BU key (`pulumi up` reapplies it).",
)
PITR = policy(
    "verify-dynamodb-table-pitr",
    "medium",
    "Point-in-time recovery is enabled on the table.",
    "Enable point-in-time recovery (`pulumi up` reapplies it).",
)
DELETION_PROTECTION = policy(
    "verify-dynamodb-deletion-protection",
    "medium",
    "Tables of prod stacks have deletion protection on.",
    "Turn deletion protection back on (`pulumi up` reapplies it).",
)


def check_table(ctx: Context, target: Target) -> list[Outcome]:
    ddb = ctx.client("dynamodb")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("dynamodb", f"table/{name}"))
    table = run.exists(EXISTS, lambda: aws_call(ddb, "describe_table", TableName=name)["Table"])
    run.check(ENCRYPTION, lambda: _encryption(ctx, table), f"SSE-KMS with {short_key(ctx.key_arn)}")
    run.check(PITR, lambda: _pitr(ddb, name), "point-in-time recovery on")
    if ctx.environment == "prod":
        run.check(
            DELETION_PROTECTION,
            lambda: (
                None
                if table.get("DeletionProtectionEnabled")
                else "deletion protection is off in a prod stack"
            ),
            "deletion protection on",
        )
    else:
        run.skip(DELETION_PROTECTION, f"not required in {ctx.environment}")
    return run.outcomes


def _encryption(ctx: Context, table: dict[str, Any]) -> Problem:
    sse = table.get("SSEDescription") or {}
    if sse.get("Status") not in ("ENABLED", "UPDATING") or sse.get("SSEType") != "KMS":
        return "is encrypted with the AWS owned key, not the stack's customer key"
    key = sse.get("KMSMasterKeyArn")
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    return None


def _pitr(ddb: Any, name: str) -> Problem:
    found = aws_call(ddb, "describe_continuous_backups", TableName=name)
    pitr = found.get("ContinuousBackupsDescription", {}).get("PointInTimeRecoveryDescription", {})
    status = pitr.get("PointInTimeRecoveryStatus", "DISABLED")
    if status != "ENABLED":
        return f"point-in-time recovery is {status.lower()}"
    return None
