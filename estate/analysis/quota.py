"""ResourceQuota arithmetic: does a workload fit its namespace's quota and its GPU pool's cap?

Quantities are parsed exactly (as `fractions.Fraction`) in the Kubernetes quantity syntax
(https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/): a signed
decimal number, then a binary suffix (`Ki`..`Ei`), a decimal suffix (`m`, `k`, `M`..`E`) or a
decimal exponent (`e3`, `E-2`).

The quota rules follow the ResourceQuota and LimitRange pages
(https://kubernetes.io/docs/concepts/policy/resource-quotas/,
https://kubernetes.io/docs/concepts/policy/limit-range/):

- a container without a request or limit takes the namespace LimitRange's `defaultRequest` /
  `default`; a container with a limit and no request requests its limit;
- extended resources (`nvidia.com/gpu`) may not be overcommitted: the request is the limit;
- a pod's usage is the sum of its containers, or its largest init container if that is more;
- when a quota tracks `requests.X`/`limits.X` (or bare `X`, meaning `requests.X`), a pod that
  does not say X after defaulting is refused, and the namespace's total after admitting the
  workload must not exceed `hard`.

Pool caps: a managed node group holds `maxSize` nodes, each advertising its physical GPUs
(components/gpu_catalog.py) times the time-slicing replicas. A Karpenter NodePool's `limits`
caps the `nvidia.com/gpu` its nodes register, which with time-slicing are slices, not physical
GPUs (issue 11 item 5: one time-sliced node can use up a limit written in physical GPUs); the
limit is therefore taken as a cap in the devices nodes advertise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from components.gpu_catalog import instance_info

GPU = "nvidia.com/gpu"

_QUANTITY = re.compile(
    r"^(?P<sign>[+-])?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[mkMGTPE]))?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a quantity (`"500m"` -> 1/2, `"2Gi"` -> 2147483648, `"1e3"` -> 1000)."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    number = Fraction(match["number"])
    if match["binary"]:
        number *= _BINARY[match["binary"]]
    elif match["exponent"]:
        number *= Fraction(10) ** int(match["exponent"][1:])
    elif match["decimal"]:
        number *= _DECIMAL[match["decimal"]]
    return -number if match["sign"] == "-" else number


def show(amount: Fraction) -> str:
    """A readable quantity for sentences (`1/2` -> `500m`, `2**31` -> `2Gi`, `12` -> `12`)."""
    if amount.denominator == 1:
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi"):
            if amount and amount.numerator % _BINARY[suffix] == 0:
                return f"{amount.numerator // _BINARY[suffix]}{suffix}"
        return str(amount.numerator)
    millis = amount * 1000
    if millis.denominator == 1:
        return f"{millis.numerator}m"
    return f"{float(amount):g}"


# -- workloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Pods of one template, `replicas` times."""

    name: str
    namespace: str
    replicas: int
    pod_spec: Mapping[str, Any]

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], replicas: int | None = None) -> Workload:
        """A Deployment/StatefulSet/Job (pod template) or a Pod; `replicas` overrides (e.g. the
        HPA's maximum)."""
        meta = manifest.get("metadata") or {}
        spec = manifest.get("spec") or {}
        if manifest.get("kind") == "Pod":
            pod_spec, count = spec, 1
        else:
            pod_spec = (spec.get("template") or {}).get("spec") or {}
            count = spec.get("parallelism", spec.get("replicas", 1))
        return cls(
            str(meta.get("name", "?")),
            str(meta.get("namespace", "default")),
            int(count if replicas is None else replicas),
            pod_spec,
        )


def _container_defaults(limit_ranges: Iterable[Mapping[str, Any]]) -> tuple[dict, dict]:
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for limit_range in limit_ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") == "Container":
                # The API server defaults `defaultRequest` to `default` where only that is set.
                requests.update(
                    {**(item.get("default") or {}), **(item.get("defaultRequest") or {})}
                )
                limits.update(item.get("default") or {})
    return requests, limits


def _is_extended(resource: str) -> bool:
    return "/" in resource and not resource.startswith("kubernetes.io/")


def container_resources(
    container: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]] = ()
) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """(requests, limits) of one container after LimitRange defaulting."""
    default_requests, default_limits = _container_defaults(limit_ranges)
    resources = container.get("resources") or {}
    limits = {k: parse_quantity(v) for k, v in (resources.get("limits") or {}).items()}
    requests = {k: parse_quantity(v) for k, v in (resources.get("requests") or {}).items()}
    for key, value in default_limits.items():
        limits.setdefault(key, parse_quantity(value))
    for key, value in limits.items():
        # A limit without a request requests the limit (before the LimitRange default request).
        if key not in (resources.get("requests") or {}) and key in (resources.get("limits") or {}):
            requests.setdefault(key, value)
    for key, value in default_requests.items():
        requests.setdefault(key, parse_quantity(value))
    for key, value in limits.items():
        if _is_extended(key):
            requests.setdefault(key, value)
    return requests, limits


def pod_usage(
    pod_spec: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Fraction | None]:
    """Quota usage of one pod: `requests.X` / `limits.X` -> amount, None when some container
    does not say X (a quota tracking X then refuses the pod)."""
    limit_ranges = list(limit_ranges)

    def total(containers: list[Mapping[str, Any]], kind: int) -> dict[str, Fraction | None]:
        sums: dict[str, Fraction | None] = {}
        per_container = [container_resources(c, limit_ranges)[kind] for c in containers]
        keys = {k for resources in per_container for k in resources}
        for key in keys:
            values = [resources.get(key) for resources in per_container]
            if _is_extended(key):
                values = [v or Fraction(0) for v in values]  # not asked for: none used
            known = [v for v in values if v is not None]
            sums[key] = None if len(known) < len(values) else sum(known, Fraction(0))
        return sums

    containers = list(pod_spec.get("containers") or [])
    inits = list(pod_spec.get("initContainers") or [])
    usage: dict[str, Fraction | None] = {}
    for kind, prefix in ((0, "requests"), (1, "limits")):
        main = total(containers, kind)
        for init in inits:
            for key, value in container_resources(init, limit_ranges)[kind].items():
                current = main.get(key, Fraction(0))
                if current is not None and value > current:
                    main[key] = value
        for key, amount in main.items():
            usage[f"{prefix}.{key}"] = amount
    usage["pods"] = Fraction(1)
    return usage


@dataclass(frozen=True)
class Verdict:
    """Fits or not, with the sentence naming the quota or pool and the arithmetic."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _quota_id(quota: Mapping[str, Any]) -> str:
    meta = quota.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


def fits_quota(
    workload: Workload,
    quotas: Iterable[Mapping[str, Any]],
    limit_ranges: Iterable[Mapping[str, Any]] = (),
    used: Mapping[str, str] | None = None,
) -> Verdict:
    """Whether `workload.replicas` pods fit every ResourceQuota of the namespace."""
    usage = pod_usage(workload.pod_spec, limit_ranges)
    what = f"{workload.namespace}/{workload.name} ({workload.replicas} replicas)"
    checked = []
    for quota in quotas:
        if (quota.get("metadata") or {}).get("namespace", "default") != workload.namespace:
            continue
        hard = (quota.get("spec") or {}).get("hard") or {}
        for item, limit in sorted(hard.items()):
            key = item if item.startswith(("requests.", "limits.")) or item == "pods" else None
            if key is None and item in ("cpu", "memory", "ephemeral-storage"):
                key = f"requests.{item}"
            if key is None:
                continue  # object counts and storage classes are not about pods
            per_pod = usage.get(key, Fraction(0) if not _tracked_by_every_pod(key) else None)
            if per_pod is None:
                return Verdict(
                    False,
                    f"{what}: refused by ResourceQuota {_quota_id(quota)}: it tracks {item} and "
                    f"a container of the pod does not set {key.split('.', 1)[-1]}",
                )
            already = parse_quantity((used or {}).get(item, "0"))
            need = per_pod * workload.replicas
            if already + need > parse_quantity(limit):
                return Verdict(
                    False,
                    f"{what}: refused by ResourceQuota {_quota_id(quota)}: {item} "
                    f"{workload.replicas} x {show(per_pod)} = {show(need)} + used {show(already)}"
                    f" > hard {limit}",
                )
            checked.append(f"{item} {show(already + need)}/{limit}")
    if not checked:
        return Verdict(True, f"{what}: no ResourceQuota in namespace {workload.namespace}")
    return Verdict(True, f"{what}: fits ResourceQuota ({', '.join(checked)})")


def _tracked_by_every_pod(key: str) -> bool:
    # cpu and memory must be stated by every container once a quota tracks them; an extended
    # resource a pod does not ask for is simply zero.
    return key.split(".", 1)[-1] in ("cpu", "memory", "ephemeral-storage")


# -- GPU pools -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCap:
    """How many GPUs (in the devices nodes advertise) a pool can hold, and in what node sizes."""

    name: str
    provisioner: str
    """`karpenter` (a NodePool's limit) or `managed` (a node group's maxSize)."""
    instance_types: tuple[str, ...]
    max_gpus: int
    """The NodePool's `nvidia.com/gpu` limit (in advertised devices), or maxSize x physical
    GPUs of the largest node."""
    max_nodes: int | None = None
    """Managed node groups: maxSize."""
    slices: int = 1
    """Devices each physical GPU advertises (time-slicing replicas; 1 without)."""
    source: str = ""
    """What the cap was read from, for sentences."""
    gpus_per_node: tuple[int, ...] = field(default=())

    @property
    def device_cap(self) -> int:
        """Most `nvidia.com/gpu` devices the pool's nodes advertise together."""
        if self.provisioner == "karpenter":
            return self.max_gpus
        assert self.max_nodes is not None
        return self.max_nodes * max(self.gpus_per_node) * self.slices

    @property
    def smallest_node_devices(self) -> int:
        return min(self.gpus_per_node) * self.slices

    @classmethod
    def from_node_pool(cls, node_pool: Mapping[str, Any], slices: int = 1) -> PoolCap:
        """A rendered `karpenter.sh/v1` NodePool."""
        spec = node_pool.get("spec") or {}
        requirements = ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []
        types = next(
            (
                tuple(r.get("values") or [])
                for r in requirements
                if r.get("key") == "node.kubernetes.io/instance-type" and r.get("operator") == "In"
            ),
            (),
        )
        limit = (spec.get("limits") or {}).get(GPU)
        if limit is None:
            raise ValueError(f"NodePool {node_pool['metadata']['name']} sets no {GPU} limit")
        name = (node_pool.get("metadata") or {}).get("name", "?")
        return cls(
            name,
            "karpenter",
            types,
            int(parse_quantity(limit)),
            None,
            slices,
            f"NodePool {name} limits.{GPU} {limit}",
            tuple(instance_info(t).gpus for t in types),
        )

    @classmethod
    def from_node_group(cls, node_group: Mapping[str, Any], slices: int = 1) -> PoolCap:
        """A rendered `aws:eks/nodeGroup:NodeGroup` (its inputs)."""
        types = tuple(node_group.get("instanceTypes") or [])
        max_size = int((node_group.get("scalingConfig") or {})["maxSize"])
        per_node = tuple(instance_info(t).gpus for t in types)
        name = str(
            node_group.get("nodeGroupName")
            or (node_group.get("labels") or {}).get("ai-estate/pool", "?")
        )
        return cls(
            name,
            "managed",
            types,
            max_size * max(per_node),
            max_size,
            slices,
            f"node group {name} maxSize {max_size}",
            per_node,
        )


def fits_pool(workload: Workload, pool: PoolCap) -> Verdict:
    """Whether `workload.replicas` pods, each asking for its GPUs, fit the pool at its cap.

    A managed node group may come up with its smallest instance type, so the guarantee is
    `maxSize` nodes of the smallest size; pods do not span nodes. A Karpenter NodePool may
    launch any of its types until the GPUs of its nodes reach the limit.
    """
    per_pod = pod_usage(workload.pod_spec).get(f"requests.{GPU}") or Fraction(0)
    what = f"{workload.namespace}/{workload.name} ({workload.replicas} x {show(per_pod)} {GPU})"
    if per_pod == 0:
        return Verdict(True, f"{what}: asks for no GPU")
    largest = max(pool.gpus_per_node) * pool.slices
    if per_pod > largest:
        return Verdict(
            False,
            f"{what}: refused by pool {pool.name}: one pod needs {show(per_pod)} and its largest "
            f"node ({', '.join(pool.instance_types)}) has {largest}",
        )
    if pool.provisioner == "managed":
        assert pool.max_nodes is not None
        per_node = math.floor(Fraction(min(pool.gpus_per_node) * pool.slices) / per_pod)
        capacity = pool.max_nodes * per_node
        if workload.replicas > capacity:
            return Verdict(
                False,
                f"{what}: refused by pool {pool.name} ({pool.source}): at most {capacity} such "
                f"pods ({pool.max_nodes} nodes x {per_node} on the smallest type)",
            )
        return Verdict(True, f"{what}: fits pool {pool.name} ({workload.replicas}/{capacity} pods)")
    cap = pool.device_cap
    need = per_pod * workload.replicas
    if need > cap:
        return Verdict(
            False,
            f"{what}: refused by pool {pool.name} ({pool.source}): needs {show(need)} > {cap}",
        )
    return Verdict(True, f"{what}: fits pool {pool.name} ({show(need)}/{cap} {GPU})")
