"""The pack: every rule, turned into CrossGuard policies for the stack's profile.

`build_policies` is pure (constructing policies starts nothing) and is what the tests check;
`build_pack` hands the policies to `pulumi_policy.PolicyPack`, which starts the Analyzer gRPC
server, prints its port for the CLI and serves until the CLI kills the process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from . import (
    audit,
    backup,
    compute,
    data,
    data_quality,
    detection,
    eks,
    eks_support,
    encryption,
    exposure,
    federation,
    gpu,
    guardrails,
    identity,
    k8s_workloads,
    kubernetes,
    kueue,
    lake_formation,
    lifecycle,
    mlops,
    monitoring,
    network,
    observability,
    privilege,
    rbac,
    registry,
    resource_policies,
    sagemaker,
    services,
    serving,
    storage,
    tagging,
    waiver_rules,
    waivers,
    wire,
)
from .catalog import Rule, bind
from .profiles import Profile, current_profile, stack_config

PACK_NAME = "ai-estate-governance"

RULES: tuple[Rule, ...] = (
    *storage.RULES,
    *data.RULES,
    *backup.RULES,
    *data_quality.RULES,
    *audit.RULES,
    *lake_formation.RULES,
    *detection.RULES,
    *encryption.RULES,
    *observability.RULES,
    *network.RULES,
    *compute.RULES,
    *eks.RULES,
    *gpu.RULES,
    *kubernetes.RULES,
    *rbac.RULES,
    *k8s_workloads.RULES,
    *tagging.RULES,
    *lifecycle.RULES,
    *registry.RULES,
    *mlops.RULES,
    *monitoring.RULES,
    *identity.RULES,
    *serving.RULES,
    *kueue.RULES,
    *resource_policies.RULES,
    *federation.RULES,
    *privilege.RULES,
    *guardrails.RULES,
    *services.RULES,
    *exposure.RULES,
    *eks_support.RULES,
    *sagemaker.RULES,
)


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError names the id when there is none)."""
    for candidate in RULES:
        if candidate.id == rule_id:
            return candidate
    raise KeyError(f"no rule {rule_id!r}")


def config_schema(rule_: Rule, profile: Profile) -> PolicyConfigSchema | None:
    """The rule's settings as a policy config schema, defaulting to this profile's values."""
    if not rule_.settings:
        return None
    defaults = profile.settings(rule_)
    return PolicyConfigSchema(
        properties={
            s.name: {**s.schema, "description": s.description, "default": defaults[s.name]}
            for s in rule_.settings
        }
    )


def framework(rule_: Rule) -> PolicyComplianceFramework | None:
    """The first CIS control the rule implements (a policy names one framework; tags carry all)."""
    names = {
        "CIS AWS Foundations": "CIS Amazon Web Services Foundations Benchmark",
        "CIS Amazon EKS": "CIS Amazon Elastic Kubernetes Service (EKS) Benchmark",
    }
    for ref in rule_.frameworks:
        if ref.framework in names:
            return PolicyComplianceFramework(
                name=names[ref.framework], version=ref.version, reference=ref.control
            )
    return None


def build_policy(rule_: Rule, profile: Profile, waiver_set: object = None) -> Policy:
    """One CrossGuard policy for `rule_`, enforced and configured as `profile` says."""
    common: dict[str, Any] = {
        "name": rule_.id,
        "description": rule_.description,
        "validate": bind(rule_, profile.settings(rule_), waiver_set),
        "enforcement_level": EnforcementLevel(profile.enforcement(rule_)),
        "config_schema": config_schema(rule_, profile),
        "display_name": rule_.title,
        "severity": Severity(rule_.severity),
        "framework": framework(rule_),
        "tags": rule_.tags,
        "remediation_steps": rule_.remediation,
    }
    if rule_.kind == "stack":
        return StackValidationPolicy(**common)
    return ResourceValidationPolicy(**common)


def build_policies(profile: Profile, waiver_set: object = None) -> list[Policy]:
    """Every rule as a policy for this profile, in catalog order, the waiver policies last
    (`waiver-applied` must run after the rules whose violations it reports)."""
    return [build_policy(r, profile, waiver_set) for r in (*RULES, *waiver_rules.RULES)]


def known_policy_ids() -> list[str]:
    """The ids a waiver may name: the rules, the waiver policies and the `--base` policies."""
    return [*(r.id for r in (*RULES, *waiver_rules.RULES)), *waiver_rules.BASE_POLICIES]


def build_pack(environ: Mapping[str, str] | None = None) -> PolicyPack:
    """Start the pack for the stack the CLI is running (its config is in `PULUMI_CONFIG`).

    Never returns in practice: `PolicyPack` serves the Analyzer protocol until it is killed.
    """
    env = os.environ if environ is None else environ
    wire.install()  # each resource's properties are read off the wire once, not per policy
    profile = current_profile(env)
    waiver_set = waivers.activate(stack_config(env), known_policy_ids())
    return PolicyPack(
        name=PACK_NAME,
        policies=build_policies(profile, waiver_set),
        enforcement_level=EnforcementLevel.ADVISORY,
        description=(
            f"AI Estate governance for AWS ({profile.environment} profile): encryption with BU "
            "keys, no public exposure, ownership tags, audit logging and protected data stores."
        ),
        display_name="AI Estate governance",
        provider="aws",
        tags=["aws", "ai-estate", profile.environment],
    )
