"""GPU rules: which GPU instance types an environment may launch, how large a GPU pool and a BU's
GPU capacity may grow, and the taints that keep GPU nodes for GPU pods of their own BU.

A GPU pool is an EKS managed node group with GPU instance types (or an NVIDIA/GPU AMI and no
types of its own), or a Karpenter `NodePool` (`kubernetes:karpenter.sh/v1:NodePool`, a custom
resource) that pins GPU instance types or families, selects on a Karpenter GPU label, or limits
`nvidia.com/gpu`. Its GPU cap is what the cluster can ever hold of it: for a node group,
`scalingConfig.maxSize` x the GPUs of its largest type; for a NodePool, `spec.limits
["nvidia.com/gpu"]`, which Karpenter enforces itself. Stand-alone EC2 instances of GPU types
count toward the BU's total with their own GPUs.

A Karpenter NodePool whose requirements neither pin instance types nor exclude GPU instances can
launch any GPU type when a GPU pod appears (Karpenter picks instance types to fit pending pods),
so `gpu-instance-type-allowed` flags it; a CPU pool excludes GPUs with
`karpenter.k8s.aws/instance-category In [c, m, r]` or
`karpenter.k8s.aws/instance-gpu-count DoesNotExist`.

The GPU counts are copied from `components/gpu_catalog.py` on purpose: the pack runs as its own
process with only `policies/` on `sys.path`, so it cannot import the blueprint. A test asserts
the two tables are equal. An instance type is a GPU type if it is in that table or its family
is a GPU family (g*, gr*, p*: every EC2 family with NVIDIA or AMD GPUs, and nothing else);
a GPU type outside the table has no known GPU count, so a node group of it has no provable cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import BLOCK_EVERYWHERE, BLOCK_FROM_STAGING, Rule, Setting, Settings
from .compute import EC2_NODE_CLASSES
from .kubernetes import quantity
from .properties import as_int, as_list, get, text

# -- the GPU catalog (copy of components/gpu_catalog.py) -----------------------------------------


@dataclass(frozen=True)
class GpuType:
    """What the pack needs to know of one GPU instance type."""

    gpu_model: str
    gpus: int
    """GPUs per instance: what the NVIDIA device plugin advertises as `nvidia.com/gpu`."""


GPU_CATALOG: dict[str, GpuType] = {
    "g4dn.xlarge": GpuType("t4", 1),
    "g4dn.2xlarge": GpuType("t4", 1),
    "g4dn.12xlarge": GpuType("t4", 4),
    "g5.xlarge": GpuType("a10g", 1),
    "g5.2xlarge": GpuType("a10g", 1),
    "g5.12xlarge": GpuType("a10g", 4),
    "g5.48xlarge": GpuType("a10g", 8),
    "g6.xlarge": GpuType("l4", 1),
    "g6.12xlarge": GpuType("l4", 4),
    "g6e.xlarge": GpuType("l40s", 1),
    "g6e.12xlarge": GpuType("l40s", 4),
    "p4d.24xlarge": GpuType("a100", 8),
    "p5.48xlarge": GpuType("h100", 8),
    "p3.2xlarge": GpuType("v100", 1),
}
"""Instance type -> GPU model and GPUs per instance, exactly as components/gpu_catalog.py."""

_GPU_FAMILY = re.compile(r"^(g|gr|p)\d[a-z0-9-]*$")


def instance_family(instance_type: str) -> str:
    """`g5.12xlarge` -> `g5`; `p6-b200.48xlarge` -> `p6-b200`."""
    return instance_type.split(".", 1)[0].lower()


def is_gpu_family(family: str) -> bool:
    """Whether an EC2 instance family carries GPUs (g4dn, g5, g6e, gr6, p4d, p5en, ...)."""
    return bool(_GPU_FAMILY.match(family.lower()))


def is_gpu_instance_type(instance_type: str) -> bool:
    """Whether an EC2 instance type carries GPUs (catalog types and every GPU family)."""
    return instance_type in GPU_CATALOG or is_gpu_family(instance_family(instance_type))


def gpus_per_instance(instance_type: str) -> int | None:
    """GPUs of one instance of this type; None when the catalog does not know it."""
    known = GPU_CATALOG.get(instance_type)
    return known.gpus if known else None


def type_allowed(instance_type: str, patterns: Iterable[str]) -> bool:
    """Whether an instance type matches an allow-list entry (shell-style: `g5.*`, `g6.?xlarge`)."""
    return any(fnmatchcase(instance_type, str(p)) for p in patterns)


def family_allowed(family: str, patterns: Iterable[str]) -> bool:
    """Whether every size of a family is allowed: an entry `<family-glob>.*` or `*` matches it."""
    for pattern in (str(p) for p in patterns):
        if pattern == "*" or (pattern.endswith(".*") and fnmatchcase(family, pattern[:-2])):
            return True
    return False


# -- resource types ------------------------------------------------------------------------------

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
KARPENTER_NODE_POOLS = frozenset(
    {"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool"}
)
SINGLE_TYPE_RESOURCES = frozenset(
    {LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION, INSTANCE, SPOT_INSTANCE_REQUEST}
)
"""Resources with one `instanceType`."""
POOL_TYPES = frozenset({NODE_GROUP, *KARPENTER_NODE_POOLS})

NVIDIA_GPU = "nvidia.com/gpu"
BU_TAINT_KEY = "ai-estate/bu"
"""The taint (and node label) key of a BU's GPU nodes, as components/addons.py sets it."""
BLOCKING_EFFECTS = frozenset({"noschedule", "noexecute"})
"""Taint effects that keep pods without a toleration off a node (EKS or Kubernetes spelling)."""

# Karpenter well-known requirement keys (karpenter.sh/v1, karpenter.k8s.aws/v1).
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
CATEGORY_LABEL = "karpenter.k8s.aws/instance-category"
FAMILY_LABEL = "karpenter.k8s.aws/instance-family"
GPU_LABELS = frozenset(
    {
        "karpenter.k8s.aws/instance-gpu-count",
        "karpenter.k8s.aws/instance-gpu-name",
        "karpenter.k8s.aws/instance-gpu-manufacturer",
        "karpenter.k8s.aws/instance-gpu-memory",
    }
)
"""Labels only GPU instance types carry: `DoesNotExist` excludes GPUs, `In`/`Exists`/`Gt` want them."""
GPU_CATEGORIES = frozenset({"g", "p"})


# -- reading pools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodePoolScope:
    """What a Karpenter NodePool's requirements say about the instance types it may launch."""

    pinned: tuple[str, ...] | None
    """The `node.kubernetes.io/instance-type In` values (intersected); None when not pinned."""
    families: tuple[str, ...] | None
    """The `karpenter.k8s.aws/instance-family In` values; None when not restricted."""
    excludes_gpus: bool
    """A requirement rules GPU instances out (category, family or a GPU label)."""
    wants_gpus: bool
    """A requirement, the GPU limit or the nvidia.com/gpu taint says it is meant for GPUs."""

    @property
    def gpu_types(self) -> list[str]:
        """The pinned GPU instance types."""
        return [t for t in self.pinned or () if is_gpu_instance_type(t)]

    @property
    def gpu_families(self) -> list[str]:
        """The GPU families the family requirement allows."""
        return [f for f in self.families or () if is_gpu_family(f)]

    @property
    def is_gpu_pool(self) -> bool:
        """Whether this NodePool is a GPU pool (see the module docstring)."""
        if self.pinned is not None:
            return bool(self.gpu_types)
        if self.families is not None:
            return bool(self.gpu_families)
        return self.wants_gpus and not self.excludes_gpus


def node_pool_scope(props: Mapping[str, Any]) -> NodePoolScope:
    """Read a Karpenter NodePool's `spec.template.spec.requirements`, limits and taints."""
    spec = get(props, "spec")
    pinned: list[str] | None = None
    families: list[str] | None = None
    excludes = wants = False
    for requirement in as_list(get(spec, "template", "spec", "requirements")):
        key, operator = text(get(requirement, "key")), text(get(requirement, "operator"))
        values = [text(v) for v in as_list(get(requirement, "values"))]
        if key in INSTANCE_TYPE_LABELS and operator == "In":
            pinned = values if pinned is None else [v for v in pinned if v in values]
        elif key == FAMILY_LABEL and operator == "In":
            families = values if families is None else [v for v in families if v in values]
        elif key == CATEGORY_LABEL and operator == "In":
            if GPU_CATEGORIES & set(values):
                wants = True
            else:
                excludes = True
        elif key == CATEGORY_LABEL and operator == "NotIn":
            excludes = excludes or set(values) >= GPU_CATEGORIES
        elif key in GPU_LABELS:
            if operator == "DoesNotExist":
                excludes = True
            elif operator in ("In", "Exists", "Gt"):
                wants = True
    limits = get(spec, "limits")
    if isinstance(limits, Mapping) and NVIDIA_GPU in limits:
        wants = True
    if any(text(get(t, "key")) == NVIDIA_GPU for t in node_pool_taints(props)):
        wants = True
    return NodePoolScope(
        pinned=None if pinned is None else tuple(pinned),
        families=None if families is None else tuple(families),
        excludes_gpus=excludes,
        wants_gpus=wants,
    )


def node_pool_taints(props: Mapping[str, Any]) -> list[Any]:
    """The taints a Karpenter NodePool puts on its nodes (startup taints are removed later)."""
    return as_list(get(props, "spec", "template", "spec", "taints"))


def node_group_gpu_types(props: Mapping[str, Any]) -> list[str]:
    """The GPU instance types of an EKS managed node group."""
    return [
        t for t in (text(i) for i in as_list(props.get("instanceTypes"))) if is_gpu_instance_type(t)
    ]


def node_group_is_gpu_pool(props: Mapping[str, Any]) -> bool:
    """GPU instance types, or a GPU AMI with the instance type left to the launch template."""
    if node_group_gpu_types(props):
        return True
    ami = text(props.get("amiType")).upper()
    return not as_list(props.get("instanceTypes")) and ("NVIDIA" in ami or "_GPU" in ami)


@dataclass(frozen=True)
class GpuCap:
    """The most GPUs one pool can hold, or why that cannot be known."""

    gpus: int | None
    reason: str = ""
    """Why `gpus` is None."""


def node_group_cap(props: Mapping[str, Any]) -> GpuCap:
    """`scalingConfig.maxSize` x the GPUs of the node group's largest GPU type."""
    types = node_group_gpu_types(props)
    if not types:
        return GpuCap(None, "its instance types are not declared on the node group")
    unknown = [t for t in types if gpus_per_instance(t) is None]
    if unknown:
        return GpuCap(None, f"the pack's GPU catalog has no GPU count for {', '.join(unknown)}")
    max_size = as_int(get(props, "scalingConfig", "maxSize"))
    if max_size is None:
        return GpuCap(None, "scalingConfig.maxSize is not set")
    return GpuCap(max_size * max(gpus_per_instance(t) or 0 for t in types))


GPU_SLICES_ANNOTATION = "ai-estate/gpu-slices-per-gpu"
"""On a NodePool: how many `nvidia.com/gpu` each physical GPU registers as (time-slicing
replicas). Its limit counts registered units; caps and costs count physical GPUs."""


def gpu_slices_per_gpu(props: Mapping[str, Any]) -> int:
    """The NodePool's `ai-estate/gpu-slices-per-gpu` annotation (1 when absent or not a count)."""
    annotations = get(props, "metadata", "annotations")
    raw = annotations.get(GPU_SLICES_ANNOTATION) if isinstance(annotations, Mapping) else None
    value = as_int(raw)
    return value if value is not None and value >= 1 else 1


def node_pool_cap(props: Mapping[str, Any]) -> GpuCap:
    """A Karpenter NodePool's `spec.limits["nvidia.com/gpu"]`, in physical GPUs (the limit
    divided by the time-slicing replicas its `ai-estate/gpu-slices-per-gpu` annotation names)."""
    limits = get(props, "spec", "limits")
    raw = limits.get(NVIDIA_GPU) if isinstance(limits, Mapping) else None
    if raw is None:
        return GpuCap(None, f'spec.limits["{NVIDIA_GPU}"] is not set')
    amount = quantity(raw)
    if amount is None:
        return GpuCap(None, f'spec.limits["{NVIDIA_GPU}"] ({raw!r}) is not a quantity')
    return GpuCap(int(amount) // gpu_slices_per_gpu(props))


def pool_cap(resource_type: str, props: Mapping[str, Any]) -> GpuCap | None:
    """The GPU cap of a GPU pool or GPU instance; None when the resource holds no GPUs."""
    if resource_type == NODE_GROUP:
        return node_group_cap(props) if node_group_is_gpu_pool(props) else None
    if resource_type in KARPENTER_NODE_POOLS:
        return node_pool_cap(props) if node_pool_scope(props).is_gpu_pool else None
    if resource_type in (INSTANCE, SPOT_INSTANCE_REQUEST):
        instance_type = text(props.get("instanceType"))
        if not is_gpu_instance_type(instance_type):
            return None
        gpus = gpus_per_instance(instance_type)
        reason = "" if gpus else f"the pack's GPU catalog has no GPU count for {instance_type}"
        return GpuCap(gpus, reason)
    return None


def pool_taints(resource_type: str, props: Mapping[str, Any]) -> list[Any]:
    """The taints of a node group (`taints`) or a Karpenter NodePool."""
    if resource_type == NODE_GROUP:
        return as_list(props.get("taints"))
    return node_pool_taints(props)


def pool_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The labels a pool puts on its nodes."""
    if resource_type == NODE_GROUP:
        labels = props.get("labels")
    else:
        labels = get(props, "spec", "template", "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


def is_gpu_pool(resource_type: str, props: Mapping[str, Any]) -> bool:
    """Whether a node group or NodePool is a GPU pool."""
    if resource_type == NODE_GROUP:
        return node_group_is_gpu_pool(props)
    return resource_type in KARPENTER_NODE_POOLS and node_pool_scope(props).is_gpu_pool


_KINDS = {
    NODE_GROUP: "node group",
    LAUNCH_TEMPLATE: "launch template",
    LAUNCH_CONFIGURATION: "launch configuration",
    INSTANCE: "EC2 instance",
    SPOT_INSTANCE_REQUEST: "spot instance request",
    AUTOSCALING_GROUP: "Auto Scaling group",
    **{t: "Karpenter NodePool" for t in KARPENTER_NODE_POOLS},
}


def _kind(resource_type: str) -> str:
    """How messages name a resource type: `node group`, `Karpenter NodePool`, ..."""
    return _KINDS.get(resource_type, resource_type.rsplit(":", 1)[-1])


def _what(resource_type: str, name: str, *, gpu: bool = False) -> str:
    """`GPU node group 'serve'`, `Launch template 'lt'`: the subject of a message."""
    kind = _kind(resource_type)
    subject = f"GPU {kind}" if gpu else kind[0].upper() + kind[1:]
    return f"{subject} '{name}'"


# -- gpu-instance-type-allowed ------------------------------------------------------------------


def declared_instance_types(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The instance types an AWS resource names (node group, template, instance, ASG)."""
    if resource_type == NODE_GROUP:
        return [text(t) for t in as_list(props.get("instanceTypes"))]
    if resource_type in SINGLE_TYPE_RESOURCES:
        return [t] if (t := text(props.get("instanceType"))) else []
    if resource_type == AUTOSCALING_GROUP:
        overrides = get(props, "mixedInstancesPolicy", "launchTemplate", "overrides")
        return [t for o in as_list(overrides) if (t := text(get(o, "instanceType")))]
    return []


def validate_allowed_types(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    allowed = [str(p) for p in settings["allowedInstanceTypes"]]
    what = _what(args.resource_type, args.name)
    if args.resource_type in KARPENTER_NODE_POOLS:
        scope = node_pool_scope(args.props)
        if scope.pinned is not None:
            types = scope.gpu_types
        elif scope.families is not None:
            refused = [f for f in scope.gpu_families if not family_allowed(f, allowed)]
            if refused:
                report(
                    f"{what} may launch every size of the GPU families {', '.join(refused)}; this "
                    f"environment allows only {', '.join(allowed) or 'no GPU types'}.",
                    None,
                )
            return
        elif scope.excludes_gpus:
            return
        else:
            report(
                f"{what} can launch any GPU instance type: its requirements neither pin "
                "node.kubernetes.io/instance-type nor exclude GPU instances, so the GPU "
                "allow-list cannot hold.",
                None,
            )
            return
    else:
        types = [
            t
            for t in declared_instance_types(args.resource_type, args.props)
            if is_gpu_instance_type(t)
        ]
    refused = [t for t in types if not type_allowed(t, allowed)]
    if refused:
        report(
            f"{what} uses the GPU instance types {', '.join(refused)}, which this environment "
            f"does not allow (allowed: {', '.join(allowed) or 'none'}).",
            None,
        )


# -- gpu-pool-size-cap ----------------------------------------------------------------------------


def validate_pool_size(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_gpu_pool(args.resource_type, args.props):
        return
    max_nodes, max_gpus = int(settings["maxPoolNodes"]), int(settings["maxPoolGpus"])
    what = _what(args.resource_type, args.name, gpu=True)
    if args.resource_type == NODE_GROUP:
        size = as_int(get(args.props, "scalingConfig", "maxSize"))
        if size is not None and size > max_nodes:
            report(f"{what} may grow to {size} nodes; the limit is {max_nodes}.", None)
        cap = node_group_cap(args.props)
    else:
        cap = node_pool_cap(args.props)
    if cap.gpus is None:
        report(f"{what} has no provable GPU cap: {cap.reason}.", None)
    elif cap.gpus > max_gpus:
        report(f"{what} may hold {cap.gpus} GPUs; the limit per pool is {max_gpus}.", None)


# -- gpu-bu-gpu-cap -------------------------------------------------------------------------------


def stack_gpu_caps(resources: Sequence[PolicyResource]) -> list[tuple[PolicyResource, GpuCap]]:
    """Every GPU pool and GPU instance of a stack with its cap, in stack order."""
    caps = []
    for resource in resources:
        cap = pool_cap(resource.resource_type, resource.props)
        if cap is not None:
            caps.append((resource, cap))
    return caps


def validate_bu_gpus(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    limit = int(settings["maxBuGpus"])
    caps = stack_gpu_caps(list(args.resources))
    uncapped = [f"'{r.name}' ({cap.reason})" for r, cap in caps if cap.gpus is None]
    if uncapped:
        report(
            f"The stack's GPU capacity is unbounded, so it cannot be held to {limit} GPUs: "
            f"{'; '.join(uncapped)}.",
            None,
        )
        return
    total = sum(cap.gpus or 0 for _, cap in caps)
    if total > limit:
        parts = ", ".join(f"'{r.name}' {cap.gpus}" for r, cap in caps)
        report(
            f"The stack's GPU pools may hold {total} GPUs together ({parts}); the limit per BU "
            f"stack is {limit}.",
            None,
        )


# -- gpu-pool-nvidia-taint / gpu-pool-bu-taint ----------------------------------------------------


def _blocking(taint: Any) -> bool:
    return text(get(taint, "effect")).replace("_", "").lower() in BLOCKING_EFFECTS


def unpinned_ami_aliases(props: Mapping[str, Any]) -> list[str]:
    """The EC2NodeClass's `amiSelectorTerms[].alias` values that track `@latest`."""
    return [
        alias
        for term in as_list(get(props, "spec", "amiSelectorTerms"))
        if (alias := text(get(term, "alias"))) and alias.endswith("@latest")
    ]


def validate_ami_pinned(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if settings["allowLatestAmi"]:
        return
    for alias in unpinned_ami_aliases(args.props):
        report(
            f"EC2NodeClass '{args.name}' selects its AMI with alias {alias!r}: every AMI release "
            "drifts (replaces) all of its nodes, untested.",
            None,
        )


def validate_nvidia_taint(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_gpu_pool(args.resource_type, args.props):
        return
    taints = pool_taints(args.resource_type, args.props)
    if not any(text(get(t, "key")) == NVIDIA_GPU and _blocking(t) for t in taints):
        report(
            f"{_what(args.resource_type, args.name, gpu=True)} has no {NVIDIA_GPU} NoSchedule "
            "taint, so pods that need no GPU can land on its nodes.",
            None,
        )


def validate_bu_taint(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_gpu_pool(args.resource_type, args.props):
        return
    what = _what(args.resource_type, args.name, gpu=True)
    taints = [
        t
        for t in pool_taints(args.resource_type, args.props)
        if text(get(t, "key")) == BU_TAINT_KEY and _blocking(t)
    ]
    values = {text(get(t, "value")) for t in taints}
    if not taints or "" in values:
        report(
            f"{what} has no '{BU_TAINT_KEY}=<bu>' NoSchedule taint, so other BUs' pods can land "
            "on its nodes.",
            None,
        )
        return
    label = text(pool_labels(args.resource_type, args.props).get(BU_TAINT_KEY))
    if label and values != {label}:
        report(
            f"{what} is labelled {BU_TAINT_KEY}={label} but tainted for "
            f"{', '.join(sorted(values))}.",
            None,
        )


# -- the rules ------------------------------------------------------------------------------------

DEFAULT_ALLOWED_TYPES: dict[str, list[str]] = {
    # T4, single-A10G and L4 nodes: enough to build and try models, at most ~$4.60/h a node.
    "dev": ["g4dn.*", "g5.xlarge", "g5.2xlarge", "g6.*"],
    # Staging rehearses what prod serves: every A10G size and L40S inference nodes.
    "staging": ["g4dn.*", "g5.*", "g6.*", "g6e.*"],
    # Training: 8-GPU A100/H100 nodes, and the V100 the catalog keeps for pinned legacy jobs.
    "prod": [
        "g4dn.*",
        "g5.*",
        "g6.*",
        "g6e.*",
        "p3.2xlarge",
        "p4d.24xlarge",
        "p5.48xlarge",
    ],
}
DEFAULT_MAX_POOL_NODES = {"dev": 4, "staging": 8, "prod": 16}
DEFAULT_MAX_POOL_GPUS = {"dev": 8, "staging": 16, "prod": 64}
DEFAULT_MAX_BU_GPUS = {"dev": 16, "staging": 32, "prod": 128}

_COUNT_SCHEMA = {"type": "integer", "minimum": 0}

RULES: tuple[Rule, ...] = (
    Rule(
        id="gpu-instance-type-allowed",
        title="GPU instance types are allowed for the environment",
        description=(
            "Every GPU instance type a node group, launch template, launch configuration, Auto "
            "Scaling group, EC2 instance or Karpenter NodePool may launch is on the "
            "environment's allow-list."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Pick an allowed type (dev: T4, single A10G and L4 nodes; staging adds every A10G "
            "size and L40S; prod adds p4d/p5 and p3.2xlarge), pin Karpenter NodePools with a "
            "node.kubernetes.io/instance-type In requirement, or change allowedInstanceTypes "
            "through --policy-pack-config after a platform review."
        ),
        kind="resource",
        validate=validate_allowed_types,
        resource_types=frozenset(
            {NODE_GROUP, AUTOSCALING_GROUP, *SINGLE_TYPE_RESOURCES, *KARPENTER_NODE_POOLS}
        ),
        settings=(
            Setting(
                name="allowedInstanceTypes",
                description=(
                    "GPU instance types the environment may launch; shell-style patterns "
                    "(`g5.*`, `g6e.xlarge`). Non-GPU types are not affected."
                ),
                schema={
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                },
                defaults={env: list(types) for env, types in DEFAULT_ALLOWED_TYPES.items()},
            ),
        ),
        domain="gpu",
        rationale=(
            "An 8-GPU p5.48xlarge costs about $55 an hour: the allow-list keeps that spend to "
            "environments where it was planned. It blocks in dev too, where a forgotten pool "
            "costs the same."
        ),
    ),
    Rule(
        id="gpu-pool-size-cap",
        title="GPU pools are capped in nodes and GPUs",
        description=(
            "Every GPU node group grows to at most maxPoolNodes nodes, and every GPU pool (node "
            "group maxSize x GPUs of its largest type, or a Karpenter NodePool's "
            'spec.limits["nvidia.com/gpu"], which must be set) holds at most maxPoolGpus GPUs.'
        ),
        severity="medium",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Lower scaling_config.max_size of the node group, or set the NodePool's "
            "limits={'nvidia.com/gpu': <n>} (GpuNodePool does both from max_size and max_gpus); "
            "split a larger need across environments or raise the caps through policy config."
        ),
        kind="resource",
        validate=validate_pool_size,
        resource_types=POOL_TYPES,
        settings=(
            Setting(
                name="maxPoolNodes",
                description="Most nodes one GPU node group may scale to (scalingConfig.maxSize).",
                schema=_COUNT_SCHEMA,
                defaults=DEFAULT_MAX_POOL_NODES,
            ),
            Setting(
                name="maxPoolGpus",
                description="Most GPUs one GPU pool may hold.",
                schema=_COUNT_SCHEMA,
                defaults=DEFAULT_MAX_POOL_GPUS,
            ),
        ),
        domain="gpu",
        rationale=(
            "Karpenter NodePools have no node count; their GPU limit is the cap. A node group "
            "must list its instance types and use catalog types so its cap can be computed."
        ),
    ),
    Rule(
        id="gpu-bu-gpu-cap",
        title="A BU stack's GPU capacity is capped",
        description=(
            "The GPU caps of all GPU pools and GPU instances of a stack add up to at most "
            "maxBuGpus, and none of them is unbounded."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Lower the pools' max_size/max_gpus, remove a pool, or have the platform team raise "
            "maxBuGpus for this BU through --policy-pack-config."
        ),
        kind="stack",
        validate=validate_bu_gpus,
        settings=(
            Setting(
                name="maxBuGpus",
                description="Most GPUs the pools of one stack (one BU) may hold together.",
                schema=_COUNT_SCHEMA,
                defaults=DEFAULT_MAX_BU_GPUS,
            ),
        ),
        domain="gpu",
        rationale=(
            "Each BU has its own stacks, so the stack total is the BU's total in that "
            "environment. Auto Scaling groups made outside EKS node groups are not counted."
        ),
    ),
    Rule(
        id="karpenter-ami-pinned",
        title="Karpenter nodes boot a pinned AMI release",
        description=(
            "Every Karpenter EC2NodeClass selects its AMI by a versioned alias "
            "(`al2023@v20251120`, `bottlerocket@v1.26.2`), not `@latest`."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set amiVersion on the stack's Karpenter GPU pools (ai-estate:gpuPools[].amiVersion) "
            "to the AMI release dev has run; raise it release by release."
        ),
        kind="resource",
        validate=validate_ami_pinned,
        resource_types=EC2_NODE_CLASSES,
        settings=(
            Setting(
                name="allowLatestAmi",
                description=(
                    "Accept `@latest` aliases: dev tracks new AMI releases on purpose, so they "
                    "are tried there before staging and prod pin them."
                ),
                schema={"type": "boolean"},
                defaults={"dev": True, "staging": False, "prod": False},
            ),
        ),
        domain="gpu",
        rationale=(
            "Karpenter recommends against `@latest` outside pre-production (karpenter.sh, "
            "Managing AMIs): a new AMI drifts every node of the class at once. Dev tracks latest "
            "on purpose, to try new AMIs first."
        ),
    ),
    Rule(
        id="gpu-pool-nvidia-taint",
        title="GPU nodes are tainted for GPU pods",
        description=(
            "Every GPU node group carries the taint nvidia.com/gpu with effect NO_SCHEDULE, and "
            "every GPU Karpenter NodePool the taint nvidia.com/gpu:NoSchedule."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Add taints=[{'key': 'nvidia.com/gpu', 'value': 'true', 'effect': 'NO_SCHEDULE'}] to "
            "the node group (NoSchedule in a NodePool's spec.template.spec.taints); GPU pods "
            "tolerate it. GpuNodePool sets it."
        ),
        kind="resource",
        validate=validate_nvidia_taint,
        resource_types=POOL_TYPES,
        domain="gpu",
        rationale=(
            "Without it CPU-only pods fill GPU nodes and keep them from scaling to zero. "
            "NoExecute is accepted too (it also evicts)."
        ),
    ),
    Rule(
        id="gpu-pool-bu-taint",
        title="GPU nodes are tainted for their BU",
        description=(
            "Every GPU node group and GPU Karpenter NodePool carries the taint ai-estate/bu=<bu> "
            "with effect NoSchedule, matching its ai-estate/bu node label."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Add the taint {'key': 'ai-estate/bu', 'value': '<bu>', 'effect': 'NO_SCHEDULE'} "
            "(NoSchedule in a NodePool) and the label ai-estate/bu=<bu>; GpuNodePool sets both, "
            "and the cluster's toleration guard lets only that BU's namespace tolerate it."
        ),
        kind="resource",
        validate=validate_bu_taint,
        resource_types=POOL_TYPES,
        domain="gpu",
        rationale=(
            "The taint is what the TolerationGuard admission policy keys on: without it another "
            "BU's pods share the node, its GPUs and its local disks."
        ),
    ),
)
