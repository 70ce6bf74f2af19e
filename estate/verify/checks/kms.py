"""KMS keys (the platform key, each BU's key): enabled, and rotated every year."""

from __future__ import annotations

from estate.verify.checks.base import Context, Outcome, Run, Target, aws_call, policy, short_key

EXISTS = policy(
    "verify-kms-key-exists",
    "critical",
    "Every KMS key the stack's outputs declare exists: without it, nothing it encrypted can be "
    "read.",
    "Find out who deleted or replaced the key; a key pending deletion can still be cancelled.",
)
ENABLED = policy(
    "verify-kms-key-enabled",
    "critical",
    "The key is enabled (not disabled and not pending deletion).",
    "Enable the key (`aws kms enable-key`) or cancel its deletion (`aws kms cancel-key-deletion`).",
)
ROTATION = policy(
    "verify-kms-key-rotation",
    "medium",
    "Automatic key rotation is enabled.",
    "Enable rotation (`pulumi up` reapplies it, or `aws kms enable-key-rotation`).",
)


def check_key(ctx: Context, target: Target) -> list[Outcome]:
    kms = ctx.client("kms")
    key = target.arn or target.name
    run = Run(target, resource=short_key(key), arn=target.arn or key)
    found = run.exists(EXISTS, lambda: aws_call(kms, "describe_key", KeyId=key)["KeyMetadata"])
    run.check(
        ENABLED,
        lambda: (
            None
            if found.get("KeyState") == "Enabled"
            else f"key state is {found.get('KeyState')}, not Enabled"
        ),
        "enabled",
    )

    def rotation() -> str | None:
        status = aws_call(kms, "get_key_rotation_status", KeyId=key)
        return None if status.get("KeyRotationEnabled") else "automatic rotation is off"

    run.check(ROTATION, rotation, "rotation on")
    return run.outcomes
