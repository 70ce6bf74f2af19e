"""Pure parsing for the GPU node conformance suite: what a node's tools print, turned into facts.

No testinfra here, so every rule is unit-tested on text (tests/infra/test_gpu_node_conformance.py)
and the suite itself stays a list of one-sentence checks.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

POOL_CONFIG_SCHEMA = "ai-estate/gpu-pool-conformance/v1"
"""What `estate verify --pool-config POOL -o pool.json` writes (estate/verify/__init__.py)."""

REQUIRED_POOL_KEYS = (
    "pool",
    "instanceTypes",
    "gpusPerInstanceType",
    "minDriverVersion",
    "expectedLabels",
    "expectedTaints",
)

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")


class PoolConfigError(ValueError):
    """The pool config file is unusable; the message names the file and key."""


def check_pool_config(config: Any, where: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise PoolConfigError(
            f"{where}: must be a JSON object (write it with `estate verify --pool-config`)"
        )
    schema = config.get("schema", POOL_CONFIG_SCHEMA)
    if schema != POOL_CONFIG_SCHEMA:
        raise PoolConfigError(f"{where}: schema: expected {POOL_CONFIG_SCHEMA} (got {schema!r})")
    missing = [k for k in REQUIRED_POOL_KEYS if k not in config]
    if missing:
        raise PoolConfigError(f"{where}: {', '.join(missing)}: missing")
    parse_version(str(config["minDriverVersion"]), f"{where}: minDriverVersion")
    return config


def parse_version(text: str, what: str = "version") -> tuple[int, ...]:
    """`550.54.14` -> (550, 54, 14); a driver version compares part by part."""
    text = text.strip()
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"{what}: {text!r} is not a version like 550.54.14")
    return tuple(int(part) for part in text.split("."))


def parse_gpus(csv_text: str) -> list[dict[str, str]]:
    """`nvidia-smi --query-gpu=index,driver_version,name --format=csv,noheader` -> one per GPU."""
    gpus = []
    for line in csv_text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) != 3:
            raise ValueError(f"unexpected nvidia-smi line: {line.strip()!r}")
        gpus.append({"index": parts[0], "driver": parts[1], "name": parts[2]})
    return gpus


def loaded_modules(proc_modules: str) -> set[str]:
    """Module names from /proc/modules (or `lsmod`, whose first column is the same)."""
    names = set()
    for line in proc_modules.splitlines():
        fields = line.split()
        if fields and fields[0] != "Module":
            names.add(fields[0])
    return names


def _runtime_sections(config: Any) -> Iterator[dict[str, Any]]:
    """Every table that holds `runtimes` (CRI plugin of containerd config v2 or v3)."""
    if isinstance(config, dict):
        if isinstance(config.get("runtimes"), dict):
            yield config
        for value in config.values():
            yield from _runtime_sections(value)


def _is_nvidia_binary(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith("nvidia-container-runtime")


def _binary(runtime: Any) -> str:
    options = runtime.get("options") if isinstance(runtime, dict) else None
    return str(options.get("BinaryName", "")) if isinstance(options, dict) else ""


def nvidia_runtime(configs: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(the NVIDIA runtime's binary if containerd runs pods with it by default, else None; why).

    The estate deploys no RuntimeClass: GPU pods (and the device plugin) get the GPU only if the
    CRI plugin's default runtime is one whose BinaryName is nvidia-container-runtime, as the EKS
    NVIDIA AMIs configure it.
    """
    sections = [s for c in configs for s in _runtime_sections(c)]
    if not sections:
        return None, "defines no CRI runtimes"
    nvidia_names = []
    for section in sections:
        runtimes = section["runtimes"]
        nvidia_names += [name for name, rt in runtimes.items() if _is_nvidia_binary(_binary(rt))]
        default = str(section.get("default_runtime_name", "runc"))
        binary = _binary(runtimes.get(default))
        if _is_nvidia_binary(binary):
            return binary, f"default runtime {default} runs {binary}"
    if nvidia_names:
        defaults = {str(s.get("default_runtime_name", "runc")) for s in sections}
        return None, (
            f"has an NVIDIA runtime ({', '.join(sorted(set(nvidia_names)))}) but the default "
            f"runtime is {', '.join(sorted(defaults))}"
        )
    return None, "defines no runtime whose BinaryName is nvidia-container-runtime"


def parse_toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def metric_samples(exposition: str, metric: str) -> list[str]:
    """The sample lines of one metric in Prometheus text exposition format."""
    pattern = re.compile(rf"^{re.escape(metric)}(\{{[^}}]*\}})?\s+\S+")
    return [line for line in exposition.splitlines() if pattern.match(line)]


def label_problems(labels: dict[str, str], expected: dict[str, str]) -> list[str]:
    problems = []
    for key, value in sorted(expected.items()):
        if key not in labels:
            problems.append(f"{key} is missing (the pool expects {value})")
        elif labels[key] != value:
            problems.append(f"{key} is {labels[key]} (the pool expects {value})")
    return problems


def taint_problems(taints: list[dict[str, Any]], expected: list[dict[str, str]]) -> list[str]:
    live = {(t.get("key"), t.get("value") or "", t.get("effect")) for t in taints}
    return [
        f"{t['key']}={t.get('value', '')}:{t['effect']} is missing"
        for t in expected
        if (t["key"], t.get("value") or "", t["effect"]) not in live
    ]


def instance_type(labels: dict[str, str]) -> str | None:
    for key in INSTANCE_TYPE_LABELS:
        if labels.get(key):
            return labels[key]
    return None
