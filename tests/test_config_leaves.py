"""Every config leaf reaches the inventory.

The leaves are generated from the schema (`StackConfig` and its nested models), so a field added
tomorrow is covered without touching this file. For each leaf we pick a valid value that differs
from what the shipped stack resolves to (derived from the field's type and constraints; `PLANS`
holds the few leaves that need a specific value or a context), set it on a shipped stack, render
the stack through the program under the offline engine, and require the inventory (resource
inputs, options, dependencies, stack outputs) to differ from the stack's baseline render.

A leaf that changes nothing fails, unless `DOCUMENTATION_ONLY` names it with the reason; such a
leaf must then really change nothing (the table cannot go stale either).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

import pytest
import yaml
from pydantic import BaseModel

from estate.offline.engine import render
from estate.stack.config import ConfigError, StackConfig, split_namespace, validate_config

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "ai-estate"

PLATFORM_STACK = "platform-dev"
BU_STACK = "fraud-prod"

PLATFORM_SECTIONS = {
    "network",
    "cluster",
    "activateCostAllocationTags",
    "costGovernance",
    "businessUnits",
    "dataGovernance",
}
"""Top-level keys whose leaves are set on `PLATFORM_STACK`; every other leaf goes on `BU_STACK`."""

WILDCARDS = {"access.personas": "data-scientist", "mlops.families": "card-fraud"}
"""Which key of a map of models (`*` in a leaf path) a leaf is set on."""

_IDENTITY_CENTER = "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_FraudDataScientist_*"
_OIDC = "arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com"
_ENDPOINT = {"name": "card-fraud-scoring", "latencyP99Ms": 250}


@dataclass(frozen=True)
class Plan:
    """How one leaf is exercised when the type alone cannot say."""

    stack: str | None = None
    """Stack to set it on (default: by section)."""
    value: Any = None
    """The value to set (default: derived from the type)."""
    base: dict[str, Any] = field(default_factory=dict)
    """Context set on both the baseline and the variant (leaf paths -> values)."""
    companions: dict[str, Any] = field(default_factory=dict)
    """Values the leaf's new value needs beside it, set on the variant only."""


_FEATURES = "featureStore.featureGroups[].features"
_NUMERIC_FIRST = [
    {"name": "amount_usd", "type": "Fractional", "min": 0, "max": 1000000},
    {"name": "transaction_id", "type": "String"},
    {"name": "event_time", "type": "Fractional"},
]
"""fraud-prod's first feature group with a numeric feature first (ranges apply to numbers)."""

PLANS: dict[str, Plan] = {
    # -- backup and audit (issue 14) ------------------------------------------------------------
    "backup.drRegion": Plan(value="eu-central-1"),
    "backup.restoreTestSchedule": Plan(value="cron(0 7 ? * MON *)"),
    "audit.logArchiveBucket": Plan(value="acme-log-archive"),
    "audit.logArchiveKmsKeyArn": Plan(
        value="arn:aws:kms:us-east-1:999999999999:key/abc",
        companions={"audit.logArchiveBucket": "acme-log-archive"},
    ),
    # -- Lake Formation and data governance (issue 14) -----------------------------------------
    "dataGovernance.lakeFormationAdmins": Plan(
        value=["arn:aws:iam::111111111111:role/platform/other-admin"]
    ),
    "dataGovernance.drRegion": Plan(value="us-west-2"),
    "dataGovernance.lineageReaders": Plan(value=["arn:aws:iam::111111111111:role/auditors"]),
    "lakeFormation.restrictedColumns": Plan(value={"merchants": ["chargeback_rate_30d"]}),
    "lakeFormation.restrictedColumnReaders": Plan(value=["data-scientist"]),
    # fraud-prod restricts a column of its first group's offline store: an online-only group
    # has no table to filter
    "featureStore.featureGroups[].offline": Plan(
        value=False, companions={"lakeFormation.restrictedColumns": {}}
    ),
    # -- common keys -------------------------------------------------------------------------
    # a platform stack turned into a BU stack: a BU name, its platform, no Gateway settings
    "kind": Plan(
        stack=PLATFORM_STACK,
        value="bu",
        companions={
            "businessUnit": "research",
            "platformStack": "acme/ai-estate/platform-dev",
            "serving": {},
            "costGovernance": {},
            "businessUnits": [],
            "dataGovernance": {},
        },
    ),
    "businessUnit": Plan(value="payments"),
    "owner": Plan(value="someone-else@example.com"),
    "accountId": Plan(stack="marketing-dev", value="333333333333"),
    # the same environment's platform under another organisation (another env's or another
    # account's platform is refused, and fraud-prod's managed pool needs platform-prod's
    # cluster-autoscaler)
    "platformStack": Plan(stack="marketing-dev", value="acme-ml/ai-estate/platform-dev"),
    # -- platform ----------------------------------------------------------------------------
    "network.cidr": Plan(value="10.30.0.0/16"),
    "network.azCount": Plan(value=2),
    "network.endpointAccountIds": Plan(value=["444444444444"]),
    # 1.34 left standard support on 2026-12-02: it needs (and is billed for) extended support
    "cluster.version": Plan(value="1.34", companions={"cluster.supportType": "EXTENDED"}),
    "cluster.buDeployers[].namespaces": Plan(value=["marketing", "research"]),
    "cluster.publicAccessCidrs": Plan(value=["203.0.113.0/24"]),
    # a dedicated cluster has no serving plane yet, and its VPC must not overlap the platform's
    "cluster.mode": Plan(
        stack="marketing-dev",
        value="dedicated",
        companions={"serving.endpoints": [], "network.cidr": "10.40.0.0/16"},
    ),
    "cluster.systemNodes.instanceTypes": Plan(value=["m6i.xlarge"]),
    "cluster.systemNodes.minSize": Plan(value=1),
    "cluster.migStrategy": Plan(
        base={"cluster.gpuSoftware": "gpu-operator", "cluster.timeSlicingReplicas": None}
    ),
    "cluster.gpuSoftware": Plan(
        value="gpu-operator", companions={"cluster.timeSlicingReplicas": None}
    ),
    # -- feature store -----------------------------------------------------------------------
    "featureStore.featureGroups[].recordIdentifier": Plan(value="amount_usd"),
    "featureStore.featureGroups[].eventTime": Plan(value="merchant_category"),
    "featureStore.featureGroups[].features[].name": Plan(
        value="txn_id", companions={"featureStore.featureGroups[].recordIdentifier": "txn_id"}
    ),
    "featureStore.featureGroups[].features[].type": Plan(
        value="Integral",
        companions={"featureStore.featureGroups[].recordIdentifier": "transaction_id"},
    ),
    # declared ranges become Glue Data Quality rules: the first feature must be numeric
    "featureStore.featureGroups[].features[].min": Plan(value=1, base={_FEATURES: _NUMERIC_FIRST}),
    "featureStore.featureGroups[].features[].max": Plan(
        value=999, base={_FEATURES: _NUMERIC_FIRST}
    ),
    "featureStore.featureGroups[].features[].allowedValues": Plan(value=["t-1", "t-2"]),
    "dataQuality.schedule": Plan(value="cron(0 5 * * ? *)"),
    # the mlops loop cross-references families, images and KPIs: a new one comes with its loop
    "modelRegistry.modelFamilies": Plan(
        value=["card-fraud", "merchant-risk", "chargeback"],
        companions={
            "mlops.families.chargeback": {
                "owners": {
                    "business": "fraud-ops-lead@example.com",
                    "technical": "fraud-ml-oncall@example.com",
                    "risk": "model-risk@example.com",
                },
                "retraining": {"schedule": "rate(7 days)", "image": "chargeback:trainer-1.0.0"},
                "modelCard": {
                    "intendedUse": "Predict chargebacks for review.",
                    "riskRating": "low",
                },
            }
        },
    ),
    # the endpoint's and the trainers' repositories stay among them
    "modelRegistry.imageNames": Plan(value=["card-fraud", "merchant-risk", "scoring"]),
    "monitoring.kpis[].modelFamily": Plan(
        value="merchant-risk",
        companions={"mlops.families.card-fraud.modelCard.kpi": "false_positive_rate"},
    ),
    "monitoring.kpis[].name": Plan(
        value="fraud_loss_usd",
        companions={"mlops.families.card-fraud.modelCard.kpi": "fraud_loss_usd"},
    ),
    # the card names another of the family's declared KPIs
    "mlops.families.*.modelCard.kpi": Plan(value="false_positive_rate"),
    # card-fraud trains on the other pool of fraud-prod, on another schedule and size
    "mlops.families.*.retraining.pool": Plan(
        value="serve-a10g", companions={"mlops.families.card-fraud.retraining.gpus": 1}
    ),
    # a prod endpoint serves approved cards only: the status changes with no endpoint on it
    "mlops.families.*.modelCard.status": Plan(base={"serving.endpoints": []}, value="Draft"),
    "mlops.families.*.retraining.schedule": Plan(value="rate(14 days)"),
    "mlops.families.*.retraining.cpu": Plan(value="8"),
    "mlops.families.*.retraining.memory": Plan(value="64Gi"),
    "featureStore.onlineTables[].hashKey": Plan(value="account_id"),
    "featureStore.onlineTables[].rangeKey": Plan(value="bucket"),
    "featureStore.onlineTables[].name": Plan(
        value="card-history", companions={"serving.endpoints[].onlineTables": ["card-history"]}
    ),
    "featureStore.onlineTables[].ttlAttribute": Plan(value="ttl"),
    # -- GPU pools ---------------------------------------------------------------------------
    "gpuPools[].labels": Plan(value={"team": "scoring"}),
    # a rename (tests/test_renames.py): the alias from the previous name is in the inventory
    "gpuPools[].previousName": Plan(value="serve-old"),
    "featureStore.onlineTables[].previousName": Plan(value="velocity-old"),
    "featureStore.featureGroups[].previousName": Plan(value="transactions-old"),
    # the endpoint on the renamed pool follows it
    "gpuPools[].name": Plan(
        value="scoring-a10g", companions={"serving.endpoints[].gpuPool": "scoring-a10g"}
    ),
    # fraud-prod's managed serving pool as a Karpenter pool, which in prod pins its AMI release
    # (on marketing-dev the reverse is refused: platform-dev installs Karpenter only)
    "gpuPools[].provisioner": Plan(
        value="karpenter", companions={"gpuPools[].amiVersion": "v20251120"}
    ),
    # reservations and pinned AMIs are Karpenter pools' (marketing-dev's first pool is one)
    "gpuPools[].capacityReservationIds": Plan(
        stack="marketing-dev", value=["cr-0a1b2c3d4e5f67890"]
    ),
    "gpuPools[].amiVersion": Plan(stack="marketing-dev", value="v20251120"),
    # a managed pool is capped by maxSize alone: the cap is a Karpenter pool's
    "gpuPools[].maxGpus": Plan(stack="marketing-dev", value=2),
    # -- tenant ------------------------------------------------------------------------------
    "tenant.cpuQuota": Plan(value="96"),
    "tenant.memoryQuota": Plan(value="384Gi"),
    "tenant.defaultContainerLimits": Plan(value={"cpu": "4", "memory": "8Gi"}),
    # -- model registry ----------------------------------------------------------------------
    # endpoints need the registry and the BU's roles: the baseline serves none
    # the MLOps loop runs on the registry, and under the BU's boundary (estate/stack/config.py)
    "modelRegistry.enabled": Plan(base={"serving.endpoints": [], "mlops": {}}, value=False),
    "modelRegistry.principalArns": Plan(value=["arn:aws:iam::222222222222:role/release-bot"]),
    "modelRegistry.deployAccountIds": Plan(value=["333333333333"]),
    "modelRegistry.approvalHttpsEndpoints": Plan(value=["https://hooks.example.com/approvals"]),
    "modelRegistry.mlflow.size": Plan(stack="marketing-dev"),
    "modelRegistry.mlflow.mlflowVersion": Plan(stack="marketing-dev", value="2.16"),
    "modelRegistry.mlflow.weeklyMaintenanceWindowStart": Plan(
        stack="marketing-dev", value="TUE:03:30"
    ),
    # -- monitoring --------------------------------------------------------------------------
    "monitoring.alarmSubscriptions[].protocol": Plan(
        value="https",
        companions={"monitoring.alarmSubscriptions[].endpoint": "https://hooks.example.com/a"},
    ),
    "monitoring.alarmSubscriptions[].endpoint": Plan(value="fraud-pager@example.com"),
    "monitoring.modelMetrics[].model": Plan(value="merchant-risk"),
    "monitoring.modelMetrics[].metric": Plan(value="precision"),
    "monitoring.modelMetrics[].direction": Plan(
        companions={"monitoring.modelMetrics[].threshold": 0.5}
    ),
    # fraud-prod's anomaly monitor needs a payer account: turning it off drops the monitor too
    "payerAccount": Plan(value=False, companions={"monitoring.costAnomaly": None}),
    # an SLO must stay under 1 (and, here, at least 0.9)
    "monitoring.prometheusRules.availabilityObjective": Plan(value=0.999),
    "monitoring.sagemakerEndpoints[].name": Plan(
        base={"monitoring.sagemakerEndpoints": [_ENDPOINT]}, value="merchant-risk-scoring"
    ),
    "monitoring.sagemakerEndpoints[].variant": Plan(
        base={"monitoring.sagemakerEndpoints": [_ENDPOINT]}, value="Shadow"
    ),
    "monitoring.sagemakerEndpoints[].latencyP99Ms": Plan(
        base={"monitoring.sagemakerEndpoints": [_ENDPOINT]}
    ),
    "monitoring.sagemakerEndpoints[].max5XxPerPeriod": Plan(
        base={"monitoring.sagemakerEndpoints": [_ENDPOINT]}
    ),
    # -- access ------------------------------------------------------------------------------
    "access.enabled": Plan(base={"serving.endpoints": [], "mlops": {}}, value=False),
    "access.keyAdminRoleArns": Plan(value=["arn:aws:iam::222222222222:role/key-admins"]),
    "access.serviceAccounts": Plan(
        value={
            "feature-reader": "scorer",
            "model-publisher": "model-publisher",
            "model-trainer": "trainer",
        }
    ),
    "access.personas.*.samlProviderArn": Plan(
        value="arn:aws:iam::222222222222:saml-provider/corporate-idp"
    ),
    "access.personas.*.samlAudience": Plan(
        stack="marketing-dev", value="https://idp.example.com/saml"
    ),
    "access.personas.*.identityCenterRoleArns": Plan(
        value=[_IDENTITY_CENTER.replace("FraudDataScientist", "FraudAnalyst")]
    ),
    "access.personas.*.oidcProviderArn": Plan(
        value=_OIDC, companions={"access.personas.*.oidcSubjects": ["repo:acme/fraud:*"]}
    ),
    "access.personas.*.oidcAudience": Plan(
        base={
            "access.personas.*.oidcProviderArn": _OIDC,
            "access.personas.*.oidcSubjects": ["repo:acme/fraud:*"],
        },
        value="sts.example.com",
    ),
    "access.personas.*.oidcSubjects": Plan(
        base={
            "access.personas.*.oidcProviderArn": _OIDC,
            "access.personas.*.oidcSubjects": ["repo:acme/fraud:*"],
        },
        value=["repo:acme/fraud:ref:refs/heads/main"],
    ),
    "access.personas.*.crossAccountRoleArns": Plan(
        value=["arn:aws:iam::333333333333:role/deploy-pipeline"]
    ),
    # -- serving -----------------------------------------------------------------------------
    "serving.enabled": Plan(stack=PLATFORM_STACK, value=False),
    "serving.certificateArn": Plan(
        stack=PLATFORM_STACK,
        value="arn:aws:acm:us-east-1:111111111111:certificate/5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    ),
    # an existing web ACL instead of the one an internet-facing Gateway otherwise gets
    "serving.wafAclArn": Plan(
        stack=PLATFORM_STACK,
        base={"serving.scheme": "internet-facing"},
        value="arn:aws:wafv2:us-east-1:111111111111:regional/webacl/corp-edge/0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d",
    ),
    "serving.endpoints[].modelFamily": Plan(value="merchant-risk"),
    "serving.endpoints[].modelVersion": Plan(value=4),
    "serving.endpoints[].gpuPool": Plan(value="train-a10g"),
    # two GPUs per replica need a pool whose nodes have (at least) two
    "serving.endpoints[].gpusPerReplica": Plan(
        value=2, companions={"gpuPools[].instanceTypes": ["g5.12xlarge"]}
    ),
    # a canary (staged by estate.rollout) exists on both sides; each leaf changes it
    "serving.endpoints[].canary.modelVersion": Plan(
        stack="fraud-prod", value=5, base={"serving.endpoints[].canary.modelVersion": 4}
    ),
    "serving.endpoints[].canary.weight": Plan(
        stack="fraud-prod", value=25, base={"serving.endpoints[].canary.modelVersion": 4}
    ),
    "serving.endpoints[].canary.replicas": Plan(
        stack="fraud-prod", value=3, base={"serving.endpoints[].canary.modelVersion": 4}
    ),
    # an existing secret's value reaches the connection (instead of the placeholder)
    "mlops.deployDispatch.tokenSecretArn": Plan(
        value="arn:aws:secretsmanager:us-east-1:222222222222:secret:ci/github-dispatch-AbCdEf"
    ),
}

DOCUMENTATION_ONLY: dict[str, str] = {
    "activateCostAllocationTags": "removed key: the schema refuses true (AWS activates "
    "cost-allocation tags from the Organizations management account only), so only the default "
    "can be set",
    "waivers[].policy": "read by the policy pack (estate check), not by the program",
    "waivers[].resource": "read by the policy pack (estate check), not by the program",
    "waivers[].reason": "read by the policy pack (estate check), not by the program",
    "waivers[].ticket": "read by the policy pack (estate check), not by the program",
    "waivers[].expires": "read by the policy pack (estate check), not by the program",
}
"""Leaves that by design change no resource, with the reason. Waivers are proved where they
act: tests/test_waivers.py runs the pack with them."""

_WAIVER = {
    "policy": "s3-access-logging",
    "resource": "scratch-*",
    "reason": "scratch buckets are deleted nightly",
    "ticket": "SEC-1",
    "expires": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
}
for _leaf, _value in {
    "policy": "kms-key-rotation",
    "resource": "other-*",
    "reason": "another reason, long enough",
    "ticket": "SEC-2",
    "expires": (dt.date.today() + dt.timedelta(days=60)).isoformat(),
}.items():
    PLANS[f"waivers[].{_leaf}"] = Plan(base={"waivers": [_WAIVER]}, value=_value)


# -- the schema's leaves ------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    path: str
    """camelCase path as a stack file writes it: `gpuPools[].maxGpus`, `access.personas.*.x`."""
    annotation: Any
    metadata: tuple[Any, ...]


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X; `Annotated[X, ...]` -> X."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is Union or isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def schema_leaves(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[Leaf]:
    """Every leaf of the schema, walking nested models, lists of models and maps of models."""
    leaves: list[Leaf] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        inner = _unwrap(info.annotation)
        args = typing.get_args(inner)
        if _is_model(inner):
            leaves.extend(schema_leaves(inner, f"{key}."))
        elif typing.get_origin(inner) is tuple and args and _is_model(_unwrap(args[0])):
            leaves.extend(schema_leaves(_unwrap(args[0]), f"{key}[]."))
        elif typing.get_origin(inner) is dict and _is_model(_unwrap(args[1])):
            leaves.extend(schema_leaves(_unwrap(args[1]), f"{key}.*."))
        else:
            leaves.append(Leaf(key, info.annotation, tuple(info.metadata)))
    return leaves


LEAVES = schema_leaves()

pytestmark = pytest.mark.slow


# -- stack configs --------------------------------------------------------------------------


@cache
def shipped_config(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return dict(doc["config"])


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    so_far: list[str] = []
    for token in path.split("."):
        if token == "*":
            token = WILDCARDS[".".join(so_far)]
        if token.endswith("[]"):
            parts.extend([token[:-2], 0])
        else:
            parts.append(token)
        so_far.append(token)
    return parts


def set_leaf(config: dict[str, Any], path: str, value: Any) -> None:
    """Set a leaf path on a stack config map (items and map entries must exist or be created)."""
    parts = _parts(path)
    node: Any = config
    key: str | int = f"{NAMESPACE}:{parts[0]}"
    for part in parts[1:]:
        if isinstance(node, dict) and key not in node:
            node[key] = [] if isinstance(part, int) else {}
        node = node[key]
        if isinstance(node, list) and isinstance(part, int) and len(node) <= part:
            raise KeyError(f"{path}: the stack has no item to set this on (add one in base)")
        key = part
    node[key] = value


def get_resolved(model: StackConfig, path: str) -> Any:
    """The value a validated stack resolves a leaf path to (defaults filled in)."""
    node: Any = model
    for part in _parts(path):
        if isinstance(part, int):
            node = node[part] if len(node) > part else None
        elif isinstance(node, dict):
            node = node.get(part)
        elif node is None:
            return None
        else:
            fields = type(node).model_fields
            name = next(n for n, f in fields.items() if (f.alias or n) == part)
            node = getattr(node, name)
    return node


def validated(config: dict[str, Any]) -> StackConfig | None:
    return validation(config)[0]


def validation(config: dict[str, Any]) -> tuple[StackConfig | None, list[str]]:
    """(the validated stack, or None and the schema's error lines)."""
    try:
        return validate_config(split_namespace(config), "leaf-test"), []
    except ConfigError as exc:
        return None, exc.lines


def _bounds(leaf: Leaf) -> dict[str, float]:
    found: dict[str, float] = {}
    for meta in leaf.metadata:
        for attr in ("ge", "gt", "le", "lt", "multiple_of"):
            if getattr(meta, attr, None) is not None:
                found[attr] = getattr(meta, attr)
    return found


def candidates(leaf: Leaf, current: Any) -> list[Any]:
    """Values of the leaf's type that differ from `current`, most likely valid first."""
    inner = _unwrap(leaf.annotation)
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if inner is bool:
        return [not current]
    if origin is Literal:
        return [m for m in args if m != current]
    if inner in (int, float):
        bounds = _bounds(leaf)
        step = bounds.get("multiple_of", 1)
        if current is None:
            low = bounds.get("ge", bounds.get("gt", 0) + step)
            return [low, low + step, 2 * low + step]
        return [current + step, current - step, current * 2, current / 2]
    if origin is tuple:
        item = _unwrap(args[0]) if args else Any
        if typing.get_origin(item) is Literal:
            missing = [m for m in typing.get_args(item) if m not in current]
            return [[*current, m] for m in missing] + ([list(current[:-1])] if current else [])
        return [list(current[:-1])] if current else []
    if inner is str and isinstance(current, str):
        return [f"{current}x", f"{current}-2"]
    if origin is dict and current:
        # one entry fewer: an optional map's entries are each settings of their own
        return [dict(list(current.items())[:-1])]
    return []


SHIPPED = ("platform-dev", "fraud-prod", "marketing-dev", "platform-prod")


def stacks_for(leaf: Leaf) -> list[str]:
    """Where to try a leaf: the plan's stack only, else the preferred one, then the others (a
    section a helper adds for both kinds of stack is found without a table entry)."""
    plan = PLANS.get(leaf.path, Plan())
    if plan.stack:
        return [plan.stack]
    top = leaf.path.split(".")[0].split("[")[0]
    preferred = PLATFORM_STACK if top in PLATFORM_SECTIONS else BU_STACK
    return [preferred, *(s for s in SHIPPED if s != preferred)]


def plan_for(leaf: Leaf, stack: str | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(stack, baseline config, variant config) for one leaf on one stack."""
    plan = PLANS.get(leaf.path, Plan())
    stack = stack or stacks_for(leaf)[0]
    base = copy.deepcopy(shipped_config(stack))
    for path, value in plan.base.items():
        set_leaf(base, path, value)
    resolved = validated(base)
    assert resolved is not None, f"{leaf.path}: the plan's base config is not valid on {stack}"
    current = get_resolved(resolved, leaf.path)
    values = [plan.value] if plan.value is not None else candidates(leaf, current)
    refused: list[str] = []
    for value in values:
        variant = copy.deepcopy(base)
        set_leaf(variant, leaf.path, value)
        for path, companion in plan.companions.items():
            set_leaf(variant, path, companion)
        model, errors = validation(variant)
        if model is not None and get_resolved(model, leaf.path) != current:
            return stack, base, variant
        # the schema's first reason, so a failing plan says which cross-key rule it broke
        refused.append(f"{value!r}: {errors[0] if errors else 'resolves to the current value'}")
    raise AssertionError(
        f"{leaf.path}: no valid non-default value on {stack} derived from its type "
        f"(tried {'; '.join(refused) or 'nothing'}); add one to PLANS"
    )


# -- rendering ------------------------------------------------------------------------------


def _stack_name(config: dict[str, Any]) -> str:
    model = validated(config)
    assert model is not None
    return f"{model.business_unit}-{model.environment}"


_OUTPUTS: dict[str, dict[str, Any]] = {}
"""Outputs of the shipped platform stacks, for the BU stacks' `StackReference`s."""


def _render_json(config: dict[str, Any]) -> dict[str, Any]:
    inventory = render(
        ROOT,
        stack=_stack_name(config),
        project=NAMESPACE,
        config=config,
        stack_outputs=lambda ref: _OUTPUTS[ref.rsplit("/", 1)[-1]],
        source="leaf-test",
    )
    return inventory.to_json()


@cache
def fingerprint(config_json: str) -> str:
    """The rendered inventory (resources with inputs and options, and outputs) of a config."""
    for platform in ("platform-dev", "platform-prod"):
        if platform not in _OUTPUTS:
            _OUTPUTS[platform] = _render_json(shipped_config(platform))["outputs"]
    return json.dumps(_render_json(json.loads(config_json)), sort_keys=True, default=str)


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


# -- the tests ------------------------------------------------------------------------------


def test_the_walk_finds_the_schema_leaves():
    paths = {leaf.path for leaf in LEAVES}
    # one of each shape: scalar, nested, list of models, map of models, list of scalars
    assert {
        "environment",
        "cluster.systemNodes.minSize",
        "gpuPools[].maxGpus",
        "access.personas.*.samlAudience",
        "network.interfaceEndpoints",
        "access.keyAdminRoleArns",
    } <= paths
    assert len(paths) == len(LEAVES)


def test_the_tables_name_real_leaves():
    paths = {leaf.path for leaf in LEAVES}
    assert set(PLANS) - paths == set()
    assert set(DOCUMENTATION_ONLY) - paths == set()


@pytest.mark.parametrize("leaf", LEAVES, ids=[leaf.path for leaf in LEAVES])
def test_every_leaf_reaches_the_inventory(leaf):
    if leaf.path in DOCUMENTATION_ONLY:
        try:
            stack, base, variant = plan_for(leaf)
        except AssertionError:
            return  # the schema admits no other value: nothing can reach the inventory
        assert fingerprint(_key(variant)) == fingerprint(_key(base)), (
            f"{leaf.path} is listed as documentation-only but changes the inventory of {stack}"
        )
        return
    tried = []
    for stack in stacks_for(leaf):
        try:
            _, base, variant = plan_for(leaf, stack)
        except (AssertionError, KeyError) as exc:
            tried.append(f"{stack}: {exc}")
            continue
        if fingerprint(_key(variant)) != fingerprint(_key(base)):
            return
        tried.append(f"{stack}: changes nothing in the rendered inventory")
    pytest.fail(
        f"{leaf.path} reaches no resource ({'; '.join(tried)}): wire it to the resources, or "
        "list it in DOCUMENTATION_ONLY with the reason"
    )
