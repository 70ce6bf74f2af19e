"""Monitoring and cost rules: alarms that reach someone, GPU pools and feature tables that are
watched, and BU stacks whose GPU spending is capped by a budget.

Linking an alarm to what it watches (stack rules), in this order:

1. property dependencies: an alarm whose `dimensions` or `metricQueries` were computed from the
   resource (an ASG name read from a node group, a table name from a table) depends on it;
2. metric dimensions: `TableName` equal to a table's `name`; `Pool` equal to a pool's
   `ai-estate/pool` label (and `BusinessUnit`, when the alarm sets it, equal to its
   `ai-estate/bu` label) - how the estate's own alarms on `AIEstate/GPU` name a pool;
3. alarm tags: `ai-estate/pool` (and `BusinessUnit`) naming the pool the same way.

A dimension or tag value that is unknown during preview cannot name anything yet and is skipped
(as in `linking.known_names`); it never decides compliance on its own.

The stack kind (`ai-estate:kind`) and the monthly budget (`ai-estate:budget`) come from the stack
config the CLI passes in `PULUMI_CONFIG` (`profiles.stack_config`). When a program carries no
`ai-estate:kind`, a stack that declares an `ai-estate:estate:BuEstate` is treated as a BU stack.

The pack cannot import `estate/` (it is published and run on its own), so the GPU prices the
budget rule uses are a small table here; `tests/test_cost.py` holds it equal to
`estate/data/prices.json` and `components/gpu_catalog.py`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .catalog import BLOCK_FROM_STAGING, BLOCK_IN_PROD, Rule, Settings
from .gpu import gpu_slices_per_gpu
from .linking import of_types
from .profiles import stack_config
from .properties import as_int, as_list, is_true, text

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
BUDGET = "aws:budgets/budget:Budget"
BU_ESTATE = "ai-estate:estate:BuEstate"

LABEL_BU = "ai-estate/bu"
LABEL_POOL = "ai-estate/pool"
LABEL_ACCELERATOR = "ai-estate/accelerator"
GPU_RESOURCE = "nvidia.com/gpu"
THROTTLE_METRICS = frozenset({"ThrottledRequests", "ReadThrottleEvents", "WriteThrottleEvents"})

KIND_KEY = "ai-estate:kind"
BUDGET_KEY = "ai-estate:budget"
REGION_KEY = "aws:region"

HOURS_PER_MONTH = 730
PRICE_REGION = "us-east-1"
GPU_PRICES: Mapping[str, tuple[int, float]] = {
    # instance type: (GPUs, On-Demand USD per hour, Linux, us-east-1, mid-2025) - the same
    # figures as estate/data/prices.json and components/gpu_catalog.py (a test keeps them equal).
    "g4dn.xlarge": (1, 0.526),
    "g4dn.2xlarge": (1, 0.752),
    "g4dn.12xlarge": (4, 3.912),
    "g5.xlarge": (1, 1.006),
    "g5.2xlarge": (1, 1.212),
    "g5.12xlarge": (4, 5.672),
    "g5.48xlarge": (8, 16.288),
    "g6.xlarge": (1, 0.8048),
    "g6.12xlarge": (4, 4.6016),
    "g6e.xlarge": (1, 1.861),
    "g6e.12xlarge": (4, 10.493),
    "p4d.24xlarge": (8, 21.96),
    "p5.48xlarge": (8, 55.04),
    "p3.2xlarge": (1, 3.06),
}


# -- reading values without tripping over unknowns ------------------------------------------


def _known(read: Any) -> Any:
    """`read()`, or None when the value is unknown during preview."""
    try:
        return read()
    except UnknownValueError:
        return None


def _known_str(mapping: Any, key: str) -> str | None:
    value = _known(lambda: mapping.get(key) if isinstance(mapping, Mapping) else None)
    return value if isinstance(value, str) and value else None


def _known_map(mapping: Any, key: str) -> dict[str, str]:
    """A string map property, keeping only the entries whose values are known."""
    value = _known(lambda: mapping.get(key) if isinstance(mapping, Mapping) else None)
    if not isinstance(value, Mapping):
        return {}
    result = {}
    for k in list(_known(lambda: list(value.keys())) or []):
        v = _known(lambda k=k: value[k])
        if isinstance(v, str):
            result[str(k)] = v
    return result


def _items(value: Any) -> list[Any]:
    """The known elements of a list-like property (unknown elements are skipped)."""
    if value is None or isinstance(value, (str, Mapping)):
        return [] if value is None else [value]
    if not isinstance(value, Sequence):
        return [value]
    found = []
    length = _known(lambda: len(value)) or 0
    for i in range(length):
        item = _known(lambda i=i: value[i])
        if item is not None:
            found.append(item)
    return found


def _mapping(value: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at `path` inside `value`, or {} when any step is missing, unknown or not a
    mapping (the engine may send anything)."""
    for step in path:
        if not isinstance(value, Mapping):
            return {}
        value = _known(lambda v=value, s=step: v.get(s))
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in _items(value) if isinstance(v, str)]


def alarm_metrics(alarm: PolicyResource) -> list[tuple[str, dict[str, str]]]:
    """(metric name, known dimensions) of every metric an alarm reads, single or metric math."""
    props = alarm.props
    found = []
    name = _known_str(props, "metricName")
    if name:
        found.append((name, _known_map(props, "dimensions")))
    for query in _items(_known(lambda: props.get("metricQueries"))):
        metric = _mapping(query, "metric")
        metric_name = _known_str(metric, "metricName")
        if metric_name:
            found.append((metric_name, _known_map(metric, "dimensions")))
    return found


def _depends_on(resource: PolicyResource, target_urn: str) -> bool:
    for deps in resource.property_dependencies.values():
        if any(d.urn == target_urn for d in deps):
            return True
    return any(d.urn == target_urn for d in resource.dependencies)


# -- stack identity -------------------------------------------------------------------------


def stack_kind(config: Mapping[str, str]) -> str:
    """`bu`, `platform`, or '' when the stack does not say."""
    return text(config.get(KIND_KEY)).strip('"').lower()


def is_bu_stack(resources: Iterable[PolicyResource], config: Mapping[str, str]) -> bool:
    kind = stack_kind(config)
    if kind:
        return kind == "bu"
    return any(r.resource_type == BU_ESTATE for r in resources)


def configured_budget(config: Mapping[str, str]) -> float | None:
    """`ai-estate:budget.monthlyLimitUsd` from the stack config (an object, or a bare number)."""
    raw = config.get(BUDGET_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(value, Mapping):
        value = value.get("monthlyLimitUsd")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def budget_resource_limit(resources: Iterable[PolicyResource]) -> float | None:
    """The smallest monthly USD cost budget declared in the stack, if any."""
    limits = []
    for b in of_types(resources, [BUDGET]):
        props = b.props
        if (
            _known_str(props, "budgetType") == "COST"
            and _known_str(props, "timeUnit") == "MONTHLY"
            and (_known_str(props, "limitUnit") or "USD") == "USD"
        ):
            try:
                limit = float(_known_str(props, "limitAmount") or "")
            except ValueError:
                continue
            limits.append(limit)
    return min(limits) if limits else None


# -- GPU pools --------------------------------------------------------------------------------


def _node_group_is_gpu(group: PolicyResource) -> bool:
    props = group.props
    labels = _known_map(props, "labels")
    ami = _known_str(props, "amiType") or ""
    types = _strings(_known(lambda: props.get("instanceTypes")))
    return (
        labels.get(LABEL_ACCELERATOR) == "nvidia"
        or "NVIDIA" in ami
        or any(t in GPU_PRICES for t in types)
    )


def _node_pool_is_gpu(pool: PolicyResource) -> bool:
    limits = _mapping(pool.props, "spec", "limits")
    labels = _known_map(_mapping(pool.props, "spec", "template", "metadata"), "labels")
    return GPU_RESOURCE in limits or labels.get(LABEL_ACCELERATOR) == "nvidia"


def pool_labels(pool: PolicyResource) -> dict[str, str]:
    """The `ai-estate/*` labels of a GPU pool's nodes (node group labels or NodePool template)."""
    if pool.resource_type == NODE_GROUP:
        return _known_map(pool.props, "labels")
    return _known_map(_mapping(pool.props, "spec", "template", "metadata"), "labels")


def gpu_pools(resources: Iterable[PolicyResource]) -> list[PolicyResource]:
    resources = list(resources)
    return [g for g in of_types(resources, [NODE_GROUP]) if _node_group_is_gpu(g)] + [
        p for p in of_types(resources, [NODE_POOL]) if _node_pool_is_gpu(p)
    ]


def alarm_watches_pool(alarm: PolicyResource, pool: PolicyResource) -> bool:
    if _depends_on(alarm, pool.urn):
        return True
    labels = pool_labels(pool)
    name, bu = labels.get(LABEL_POOL), labels.get(LABEL_BU)
    if not name:
        return False
    for _, dims in alarm_metrics(alarm):
        if dims.get("Pool") == name and dims.get("BusinessUnit", bu) == bu:
            return True
    tags = _known_map(alarm.props, "tags")
    return tags.get(LABEL_POOL) == name and tags.get("BusinessUnit", bu) == bu


def _pool_instance_types(pool: PolicyResource) -> list[str]:
    if pool.resource_type == NODE_GROUP:
        return _strings(_known(lambda: pool.props.get("instanceTypes")))
    types: list[str] = []
    requirements = _mapping(pool.props, "spec", "template", "spec").get("requirements")
    for req in _items(requirements):
        if (
            isinstance(req, Mapping)
            and _known_str(req, "key") == "node.kubernetes.io/instance-type"
            and _known_str(req, "operator") == "In"
        ):
            types.extend(_strings(_known(lambda r=req: r.get("values"))))
    return types


def worst_case_gpu_cost(pool: PolicyResource) -> tuple[float, list[str]]:
    """(USD per month with the pool at its cap, On-Demand; instance types with no price).

    A managed node group: `maxSize` nodes of its dearest type. A Karpenter NodePool: its
    `nvidia.com/gpu` limit held the dearest way its types allow (`ceil(limit / GPUs)` nodes).
    """
    types = _pool_instance_types(pool)
    unknown = sorted({t for t in types if t not in GPU_PRICES})
    priced = [t for t in types if t in GPU_PRICES and GPU_PRICES[t][0] > 0]
    if not priced:
        return 0.0, unknown
    if pool.resource_type == NODE_GROUP:
        high = as_int(_known(lambda: _mapping(pool.props, "scalingConfig").get("maxSize")))
        if not high or high < 0:
            return 0.0, unknown
        return high * max(GPU_PRICES[t][1] for t in priced) * HOURS_PER_MONTH, unknown
    limit = as_int(_known(lambda: _mapping(pool.props, "spec", "limits").get(GPU_RESOURCE)))
    if not limit or limit < 0:
        return 0.0, unknown
    # A time-sliced pool's limit counts slices; nodes are bought by the physical GPU.
    limit //= gpu_slices_per_gpu(pool.props)
    worst = max(math.ceil(limit / GPU_PRICES[t][0]) * GPU_PRICES[t][1] for t in priced)
    return worst * HOURS_PER_MONTH, unknown


# -- validations --------------------------------------------------------------------------------


def validate_alarm_actions(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    actions = as_list(args.props.get("alarmActions"))
    if not actions:
        report(
            f"CloudWatch alarm '{args.name}' has no alarmActions: when it fires, nobody hears.",
            None,
        )
    enabled = args.props.get("actionsEnabled")
    if enabled is not None and not is_true(enabled):
        report(f"CloudWatch alarm '{args.name}' has its actions disabled (actionsEnabled).", None)


def validate_gpu_pool_alarms(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    if stack_kind(stack_config()) == "platform":
        return
    alarms = of_types(resources, [METRIC_ALARM])
    for pool in gpu_pools(resources):
        if not any(alarm_watches_pool(a, pool) for a in alarms):
            labels = pool_labels(pool)
            report(
                f"GPU pool '{pool.name}' (ai-estate/pool={labels.get(LABEL_POOL, '?')}) has no "
                "CloudWatch alarm watching it: nobody learns when it sits at its cap.",
                pool.urn,
            )


def validate_table_alarms(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    if stack_kind(stack_config()) == "platform":
        return
    alarms = of_types(resources, [METRIC_ALARM])
    for table in of_types(resources, [DYNAMODB_TABLE]):
        table_name = _known_str(table.props, "name")
        watched = False
        for alarm in alarms:
            metrics = alarm_metrics(alarm)
            if not any(m in THROTTLE_METRICS for m, _ in metrics):
                continue
            if _depends_on(alarm, table.urn) or any(
                m in THROTTLE_METRICS and table_name and dims.get("TableName") == table_name
                for m, dims in metrics
            ):
                watched = True
                break
        if not watched:
            report(
                f"DynamoDB table '{table.name}' has no throttling alarm (ThrottledRequests, "
                "ReadThrottleEvents or WriteThrottleEvents on its TableName).",
                table.urn,
            )


def validate_bu_budget(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    if not is_bu_stack(resources, stack_config()):
        return
    if any(
        _known_str(b.props, "budgetType") in ("COST", None) for b in of_types(resources, [BUDGET])
    ):
        return
    estates = of_types(resources, [BU_ESTATE])
    report(
        "This BU stack declares no AWS Budget (aws.budgets.Budget of type COST): the BU's "
        "spending is not tracked against a limit.",
        estates[0].urn if estates else None,
    )


def validate_gpu_peak_cost(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    config = stack_config()
    limit = configured_budget(config)
    source = f"{BUDGET_KEY}.monthlyLimitUsd"
    if limit is None:
        limit = budget_resource_limit(resources)
        source = "the stack's AWS Budget"
    if limit is None:
        return  # no budget to compare against: bu-stack-has-budget reports that
    total, lines, unpriced = 0.0, [], set()
    for pool in gpu_pools(resources):
        cost, unknown = worst_case_gpu_cost(pool)
        unpriced.update(unknown)
        if cost:
            total += cost
            lines.append(f"{pool.name} ${cost:,.0f}")
    for instance_type in sorted(unpriced):
        report(
            f"GPU instance type {instance_type} has no price in the pack's table "
            "(policies/governance/monitoring.py GPU_PRICES): its peak cost cannot be checked.",
            None,
        )
    if total > limit:
        region = text(config.get(REGION_KEY)) or PRICE_REGION
        note = "" if region == PRICE_REGION else f", priced at {PRICE_REGION} list prices"
        report(
            f"At their caps the stack's GPU pools cost ${total:,.0f} a month On-Demand "
            f"({'; '.join(lines)}{note}), above the ${limit:,.0f} monthly budget from {source}. "
            "Lower max sizes or GPU limits, or raise the budget.",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="cloudwatch-alarm-has-actions",
        title="CloudWatch alarms notify someone",
        description=(
            "Every CloudWatch metric alarm has at least one alarm action and its actions enabled."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set alarm_actions (and ok_actions) on the aws.cloudwatch.MetricAlarm to the BU's "
            "alarm topic ARN (BuMonitoring.topic_arn), and leave actions_enabled at its default."
        ),
        kind="resource",
        validate=validate_alarm_actions,
        resource_types=frozenset({METRIC_ALARM}),
        domain="monitoring",
        rationale="An alarm without actions only changes colour in a console nobody watches.",
    ),
    Rule(
        id="gpu-pool-has-alarm",
        title="GPU pools are watched",
        description=(
            "Every GPU node pool (EKS node group or Karpenter NodePool) outside platform stacks "
            "has a CloudWatch alarm that references it."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Build the BU's BuMonitoring with the pool in gpu_pools (it adds a "
            "gpu-pool-<name>-at-max alarm), or add an alarm whose dimensions name the pool "
            "(Pool=<ai-estate/pool label>) or that is computed from the node group."
        ),
        kind="stack",
        validate=validate_gpu_pool_alarms,
        domain="monitoring",
    ),
    Rule(
        id="feature-store-has-alarms",
        title="Feature tables alarm on throttling",
        description=(
            "Every DynamoDB table outside platform stacks has a CloudWatch alarm on its "
            "throttling (ThrottledRequests, ReadThrottleEvents or WriteThrottleEvents)."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "List the table in BuMonitoring's online_tables (it adds a ddb-<label>-throttles "
            "alarm), or add an aws.cloudwatch.MetricAlarm on AWS/DynamoDB ReadThrottleEvents / "
            "WriteThrottleEvents with TableName=<the table's name>."
        ),
        kind="stack",
        validate=validate_table_alarms,
        domain="monitoring",
    ),
    Rule(
        id="bu-stack-has-budget",
        title="BU stacks have a budget",
        description="Every BU stack declares an AWS Budget of type COST for the BU's spending.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set ai-estate:budget.monthlyLimitUsd in the BU's stack file so BuMonitoring creates "
            "the BU's monthly cost budget (an aws.budgets.Budget filtered on "
            "user:BusinessUnit$<bu>)."
        ),
        kind="stack",
        validate=validate_bu_budget,
        domain="cost",
    ),
    Rule(
        id="gpu-peak-cost-within-budget",
        title="GPU pools at their caps fit the budget",
        description=(
            "The stack's GPU pools at their caps, priced On-Demand, cost no more a month than "
            "the BU's monthly budget."
        ),
        severity="high",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Lower the pools' maxSize / maxGpus, or raise ai-estate:budget.monthlyLimitUsd "
            "after the BU's finance owner agrees."
        ),
        kind="stack",
        validate=validate_gpu_peak_cost,
        domain="cost",
        rationale=(
            "Spot pools are priced On-Demand because a Spot price may rise to it; the cap must "
            "hold in the worst month, not the average one."
        ),
    ),
)
