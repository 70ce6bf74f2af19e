"""The GPU instance types a BU may put in a node pool, and what each one carries.

Pure data and functions, no Pulumi runtime: the node pool component, the cost model and the
policy pack read the same table, so a GPU count or a price is corrected in one place.

Prices are On-Demand, Linux, us-east-1, USD per instance-hour, as published on the Amazon EC2
On-Demand pricing page (https://aws.amazon.com/ec2/pricing/on-demand/) and read in mid-2025,
after AWS's June 2025 price reduction for P4d/P5 instances. They are estimates for budgets and
reports, not billing: the cost issue moves them into a dated data file refreshed from the AWS
Price List API. Hardware figures (GPUs, GPU memory, vCPUs, memory) are from the EC2
accelerated-computing instance type pages and do not drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstance:
    """One EC2 GPU instance type."""

    instance_type: str
    gpu_model: str
    """Lower-case slug of the NVIDIA part (`t4`, `a10g`, `l4`, `l40s`, `a100`, `h100`, `v100`);
    it becomes the `ai-estate/gpu-model` node label, so it must stay a valid label value."""
    gpus: int
    """GPUs per instance: what the NVIDIA device plugin advertises as `nvidia.com/gpu`."""
    gpu_memory_gib: int
    """Total GPU memory of the instance (all GPUs together)."""
    vcpus: int
    memory_gib: int
    on_demand_usd_per_hour: float
    """On-Demand Linux price in us-east-1 (see the module docstring for source and date)."""


_CATALOG: tuple[GpuInstance, ...] = (
    # NVIDIA T4 (16 GiB each): cheapest inference and notebooks.
    GpuInstance("g4dn.xlarge", "t4", 1, 16, 4, 16, 0.526),
    GpuInstance("g4dn.2xlarge", "t4", 1, 16, 8, 32, 0.752),
    GpuInstance("g4dn.12xlarge", "t4", 4, 64, 48, 192, 3.912),
    # NVIDIA A10G (24 GiB each): inference and fine-tuning.
    GpuInstance("g5.xlarge", "a10g", 1, 24, 4, 16, 1.006),
    GpuInstance("g5.2xlarge", "a10g", 1, 24, 8, 32, 1.212),
    GpuInstance("g5.12xlarge", "a10g", 4, 96, 48, 192, 5.672),
    GpuInstance("g5.48xlarge", "a10g", 8, 192, 192, 768, 16.288),
    # NVIDIA L4 (24 GiB each): efficient inference.
    GpuInstance("g6.xlarge", "l4", 1, 24, 4, 16, 0.8048),
    GpuInstance("g6.12xlarge", "l4", 4, 96, 48, 192, 4.6016),
    # NVIDIA L40S (48 GiB each): larger-model inference and fine-tuning.
    GpuInstance("g6e.xlarge", "l40s", 1, 48, 4, 32, 1.861),
    GpuInstance("g6e.12xlarge", "l40s", 4, 192, 48, 384, 10.493),
    # NVIDIA A100 40 GB and H100 80 GB: training.
    GpuInstance("p4d.24xlarge", "a100", 8, 320, 96, 1152, 21.96),
    GpuInstance("p5.48xlarge", "h100", 8, 640, 192, 2048, 55.04),
    # NVIDIA V100 (16 GiB): legacy training jobs that still pin it.
    GpuInstance("p3.2xlarge", "v100", 1, 16, 8, 61, 3.06),
)

CATALOG: dict[str, GpuInstance] = {i.instance_type: i for i in _CATALOG}
"""Instance type -> its `GpuInstance`."""

GPU_MODELS: frozenset[str] = frozenset(i.gpu_model for i in _CATALOG)


def is_gpu_instance(instance_type: str) -> bool:
    """Whether `instance_type` is a GPU instance type this blueprint knows."""
    return instance_type in CATALOG


def instance_info(instance_type: str) -> GpuInstance:
    """The catalog entry of one instance type; KeyError naming the known types when absent."""
    try:
        return CATALOG[instance_type]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise KeyError(
            f"{instance_type!r} is not a GPU instance type in the AI Estate catalog "
            f"(components/gpu_catalog.py); known types: {known}"
        ) from None


def gpu_model_of(instance_types: Iterable[str]) -> str:
    """The one GPU model shared by `instance_types`.

    A pool mixes sizes of one GPU model (capacity diversity) but never two models: the
    `ai-estate/gpu-model` label, the per-model GPU cap and the cost estimate all assume one.
    """
    types = list(instance_types)
    if not types:
        raise ValueError("a GPU pool needs at least one instance type")
    models = {instance_info(t).gpu_model for t in types}
    if len(models) != 1:
        by_model = ", ".join(f"{t} ({instance_info(t).gpu_model})" for t in types)
        raise ValueError(f"instance types must share one GPU model, got {by_model}")
    return models.pop()


def max_gpus(instance_types: Iterable[str], max_size: int) -> int:
    """The most GPUs a pool of at most `max_size` nodes can hold.

    With several sizes in one pool the autoscaler may pick the largest, so the cap assumes it.
    """
    if max_size < 0:
        raise ValueError(f"max_size must not be negative (got {max_size})")
    types = list(instance_types)
    if not types:
        raise ValueError("a GPU pool needs at least one instance type")
    return max_size * max(instance_info(t).gpus for t in types)
