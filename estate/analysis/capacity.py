"""GPU capacity of a BU stack, in physical GPUs: per pool and GPU model, against its quota and
budget (what the HTML report charts per BU).

Read from the rendered inventory with the same arithmetic the quota proof uses
(`estate.analysis.quota.PoolCap`): a managed node group holds `maxSize` nodes of its largest
type, a Karpenter NodePool its `nvidia.com/gpu` limit. On a time-sliced platform the NodePool
limit and the namespace quota count slices; they are divided back into physical GPUs here, so
every bar of the chart is in the same unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from estate.analysis.cost import CostError, gpu_peak_monthly
from estate.analysis.quota import PoolCap, parse_quantity
from estate.offline.model import Inventory

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
BUDGET = "aws:budgets/budget:Budget"
GPU = "nvidia.com/gpu"
SLICES_ANNOTATION = "ai-estate/gpu-slices-per-gpu"


@dataclass(frozen=True)
class PoolCapacity:
    """One GPU pool at its cap."""

    pool: str
    gpu_model: str
    capacity_type: str
    provisioner: str
    max_gpus: float
    """Physical GPUs the pool can hold at its cap."""


@dataclass
class BuCapacity:
    """A BU stack's GPU capacity, quota and budget."""

    stack: str
    business_unit: str
    pools: list[PoolCapacity] = field(default_factory=list)
    quota_gpus: float | None = None
    """The namespace `requests.nvidia.com/gpu` quota in physical GPUs (None: no quota)."""
    budget_usd: float | None = None
    gpu_peak_usd: float | None = None
    """Monthly cost of every GPU pool at its cap, On-Demand (the budget policy's arithmetic)."""

    def by_model(self) -> dict[str, float]:
        models: dict[str, float] = {}
        for p in self.pools:
            models[p.gpu_model] = models.get(p.gpu_model, 0.0) + p.max_gpus
        return dict(sorted(models.items()))

    @property
    def max_gpus(self) -> float:
        return sum(p.max_gpus for p in self.pools)


def _labels(inputs: dict[str, Any], r_type: str) -> dict[str, Any]:
    if r_type == NODE_GROUP:
        return dict(inputs.get("labels") or {})
    template = ((inputs.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return dict(template.get("labels") or {})


def bu_capacity(inventory: Inventory, slices: int | None = None) -> BuCapacity:
    """`slices`: what one GPU advertises on the BU's cluster (the platform's
    `timeSlicingReplicas`); None reads it from the BU's NodePools, else 1."""
    bu = str(inventory.config.get("ai-estate:businessUnit") or inventory.stack)
    found = BuCapacity(inventory.stack, bu)
    seen_slices: list[int] = []
    for r in inventory.resources:
        if r.type not in (NODE_GROUP, NODE_POOL):
            continue
        labels = _labels(r.inputs, r.type)
        if r.type == NODE_POOL:
            annotations = (r.inputs.get("metadata") or {}).get("annotations") or {}
            per_gpu = int(annotations.get(SLICES_ANNOTATION) or 1)
            seen_slices.append(per_gpu)
            try:
                cap = PoolCap.from_node_pool(r.inputs, per_gpu)
            except ValueError:
                continue
            physical = cap.max_gpus / max(per_gpu, 1)
        else:
            cap = PoolCap.from_node_group(r.inputs)
            physical = cap.device_cap
        if physical <= 0:
            continue
        found.pools.append(
            PoolCapacity(
                pool=str(labels.get("ai-estate/pool") or cap.name),
                gpu_model=str(labels.get("ai-estate/gpu-model") or "gpu"),
                capacity_type=str(labels.get("ai-estate/capacity-type") or ""),
                provisioner=cap.provisioner,
                max_gpus=float(physical),
            )
        )
    per_gpu = slices or (max(seen_slices) if seen_slices else 1)
    for r in inventory.resources:
        if r.type == RESOURCE_QUOTA:
            hard = ((r.inputs.get("spec") or {}).get("hard")) or {}
            value = hard.get(f"requests.{GPU}")
            if value is not None:
                found.quota_gpus = float(parse_quantity(value)) / max(per_gpu, 1)
        elif r.type == BUDGET and r.inputs.get("limitAmount") is not None:
            found.budget_usd = float(r.inputs["limitAmount"])
    try:
        found.gpu_peak_usd = gpu_peak_monthly(inventory)
    except CostError:
        found.gpu_peak_usd = None
    return found
