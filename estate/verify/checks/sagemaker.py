"""SageMaker: feature groups (`components/feature_store.py`) and the model registry's model
package groups."""

from __future__ import annotations

import json
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

FEATURE_GROUP_EXISTS = policy(
    "verify-sagemaker-feature-group-exists",
    "high",
    "Every feature group the stack's outputs declare exists and was created successfully.",
    "Re-run `pulumi up`; a group in CreateFailed must be deleted and recreated.",
)
FEATURE_GROUP_ENCRYPTION = policy(
    "verify-sagemaker-feature-group-encryption",
    "high",
    "The feature group's online and offline stores are encrypted with the stack's customer key.",
    "Feature store encryption cannot change in place: recreate the group with the BU key.",
)
MODEL_GROUP_EXISTS = policy(
    "verify-sagemaker-model-package-group-exists",
    "high",
    "Every model package group the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
MODEL_GROUP_POLICY = policy(
    "verify-sagemaker-model-package-group-policy",
    "medium",
    "The model package group has a resource policy (who may register and read models).",
    "Restore the group's resource policy (`pulumi up` reapplies it).",
)

_FAILED = ("CreateFailed", "DeleteFailed", "Deleting")


def check_feature_group(ctx: Context, target: Target) -> list[Outcome]:
    sm = ctx.client("sagemaker")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("sagemaker", f"feature-group/{name.lower()}"))

    def describe() -> dict[str, Any] | None:
        group = aws_call(sm, "describe_feature_group", FeatureGroupName=name)
        return None if group.get("FeatureGroupStatus") in _FAILED else group

    group = run.exists(FEATURE_GROUP_EXISTS, describe)
    run.check(
        FEATURE_GROUP_ENCRYPTION,
        lambda: _stores(ctx, group),
        f"stores encrypted with {short_key(ctx.key_arn)}",
    )
    return run.outcomes


def _stores(ctx: Context, group: dict[str, Any]) -> Problem:
    problems = []
    online = group.get("OnlineStoreConfig") or {}
    offline = group.get("OfflineStoreConfig") or {}
    if not online.get("EnableOnlineStore") and not offline:
        return "has neither an online nor an offline store"
    if online.get("EnableOnlineStore"):
        key = (online.get("SecurityConfig") or {}).get("KmsKeyId")
        if not key:
            problems.append("the online store is not encrypted with a customer key")
        elif ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
            problems.append(
                f"the online store uses key {short_key(key)}, not {short_key(ctx.key_arn)}"
            )
    if offline:
        key = (offline.get("S3StorageConfig") or {}).get("KmsKeyId")
        if not key:
            problems.append("the offline store is not encrypted with a customer key")
        elif ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
            problems.append(
                f"the offline store uses key {short_key(key)}, not {short_key(ctx.key_arn)}"
            )
    return "; ".join(problems) or None


def check_model_package_group(ctx: Context, target: Target) -> list[Outcome]:
    sm = ctx.client("sagemaker")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("sagemaker", f"model-package-group/{name.lower()}"))

    def describe() -> dict[str, Any] | None:
        found = aws_call(
            sm,
            "describe_model_package_group",
            ModelPackageGroupName=name,
            absent={"ValidationException"},
        )
        if found is None or found.get("ModelPackageGroupStatus") in _FAILED:
            return None
        return found

    run.exists(MODEL_GROUP_EXISTS, describe)
    run.check(MODEL_GROUP_POLICY, lambda: _policy(sm, name), "resource policy present")
    return run.outcomes


def _policy(sm: Any, name: str) -> Problem:
    # SageMaker answers ValidationException when a group has no resource policy.
    found = aws_call(
        sm,
        "get_model_package_group_policy",
        ModelPackageGroupName=name,
        absent={"ValidationException"},
    )
    text = (found or {}).get("ResourcePolicy") or ""
    if not text:
        return "has no resource policy"
    try:
        statements = json.loads(text).get("Statement")
    except (json.JSONDecodeError, AttributeError):
        return "has a resource policy that is not a JSON policy document"
    if not statements:
        return "has a resource policy with no statements"
    return None
