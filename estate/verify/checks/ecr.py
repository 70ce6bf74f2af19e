"""ECR repositories (model serving images): immutable tags, scan on push, KMS encryption."""

from __future__ import annotations

import fnmatch
from typing import Any

from estate.verify.checks.base import (
    CannotVerifyError,
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
    "verify-ecr-repository-exists",
    "high",
    "Every ECR repository the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
IMMUTABLE = policy(
    "verify-ecr-tag-immutability",
    "medium",
    "Image tags are immutable, so a deployed tag always names the image that was scanned.",
    "Set image tag mutability to IMMUTABLE (`pulumi up` reapplies it).",
)
SCAN = policy(
    "verify-ecr-scan-on-push",
    "medium",
    "Images are scanned on push (repository scan-on-push, or registry enhanced scanning that "
    "covers the repository).",
    "Turn scan on push back on (`pulumi up` reapplies it).",
)
ENCRYPTION = policy(
    "verify-ecr-encryption",
    "high",
    "The repository is encrypted with KMS using the stack's customer key.",
    "ECR encryption cannot be changed in place: recreate the repository with KMS encryption.",
)


def check_repository(ctx: Context, target: Target) -> list[Outcome]:
    ecr = ctx.client("ecr")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("ecr", f"repository/{name}"))
    repo = run.exists(
        EXISTS,
        lambda: aws_call(ecr, "describe_repositories", repositoryNames=[name])["repositories"][0],
    )
    run.check(
        IMMUTABLE,
        lambda: (
            None
            if str(repo.get("imageTagMutability", "")).startswith("IMMUTABLE")
            else f"image tags are {repo.get('imageTagMutability', 'MUTABLE')}, not IMMUTABLE"
        ),
        "tags immutable",
    )
    run.check(SCAN, lambda: _scan(ctx, ecr, repo), "scanned on push")
    run.check(ENCRYPTION, lambda: _encryption(ctx, repo), f"KMS with {short_key(ctx.key_arn)}")
    return run.outcomes


def _scan(ctx: Context, ecr: Any, repo: dict[str, Any]) -> Problem:
    if repo.get("imageScanningConfiguration", {}).get("scanOnPush"):
        return None
    # Enhanced scanning (Amazon Inspector) is configured on the registry and overrides the
    # repository's basic scan-on-push setting for the repositories its filters match.
    try:
        registry = ctx.cached(
            "ecr-registry-scanning",
            lambda: aws_call(ecr, "get_registry_scanning_configuration"),
        )
    except CannotVerifyError:
        registry = None
    config = (registry or {}).get("scanningConfiguration", {})
    if config.get("scanType") == "ENHANCED":
        for rule in config.get("rules", []):
            if rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                continue
            for repo_filter in rule.get("repositoryFilters", []):
                if fnmatch.fnmatchcase(repo["repositoryName"], repo_filter.get("filter", "")):
                    return None
    return "scan on push is off (and no registry enhanced-scanning rule covers the repository)"


def _encryption(ctx: Context, repo: dict[str, Any]) -> Problem:
    encryption = repo.get("encryptionConfiguration", {})
    kind = encryption.get("encryptionType", "AES256")
    if not kind.startswith("KMS"):
        return f"is encrypted with {kind}, not KMS with the stack's key"
    key = encryption.get("kmsKey")
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    return None
