"""GPU node conformance: is every node of a GPU pool fit to run the BU's GPU workloads?

Platform teams run it (pytest-testinfra) against the nodes of one pool, with the pool's
expectations written from the stack outputs:

    estate verify --stack fraud-prod --outputs outputs.json --pool-config serve-a10g -o pool.json
    pytest tests/infra/gpu_node_conformance.py --hosts='ssh://ec2-user@NODE' --sudo \\
        --pool-config=pool.json

Checks: NVIDIA driver >= the pool's minimum; GPU count = the instance type's; `nvidia_uvm`
loaded; `nvidia-persistenced` and `kubelet` running; containerd runs pods with the NVIDIA
runtime by default; the Node object's labels and taints as the pool declares; dcgm-exporter
answering with `DCGM_FI_DEV_GPU_UTIL`. Each failure is one sentence.

Commands run on the node through testinfra (`nvidia-smi`, `systemctl`, `curl`, `kubectl`),
prefixed with `--node-exec` when given (`chroot /host` from a privileged pod); files are read
under `--node-root` (default `/`; `/host` from such a pod). That is also how the suite is tested
against a prepared root with the `local://` backend.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from functools import cached_property
from pathlib import Path
from typing import Any

import node_facts as facts
import pytest


def require(condition: object, message: str) -> None:
    """Fail with `message` alone: one sentence, no assertion rewriting or traceback."""
    if not condition:
        pytest.fail(message, pytrace=False)


class Node:
    """One node as the checks see it, through a testinfra host; answers are read once."""

    def __init__(
        self,
        host: Any,
        pool: dict[str, Any],
        root: str,
        node_json: str | None,
        exec_prefix: str = "",
    ) -> None:
        self.host = host
        self.pool = pool
        self.root = root.rstrip("/")
        self.node_json = node_json
        self.exec_prefix = exec_prefix.strip()

    def run(self, command: str, *args: str) -> Any:
        """A command on the node (through `--node-exec`, e.g. `chroot /host` from a pod)."""
        if self.exec_prefix:
            command = f"{self.exec_prefix} {command}"
        return self.host.run(command, *args)

    def has(self, command: str) -> bool:
        return self.run("sh -c %s", f"command -v {command}").rc == 0

    def path(self, path: str) -> str:
        return f"{self.root}{path}" if self.root else path

    def read(self, path: str) -> str | None:
        file = self.host.file(self.path(path))
        return file.content_string if file.exists else None

    def service_state(self, unit: str) -> str:
        result = self.run("systemctl is-active %s", unit)
        return result.stdout.strip() or f"unknown (systemctl exit {result.rc})"

    @cached_property
    def gpus(self) -> list[dict[str, str]]:
        if not self.has("nvidia-smi"):
            pytest.fail(
                "nvidia-smi is not installed, so the node has no usable NVIDIA driver.",
                pytrace=False,
            )
        result = self.run("nvidia-smi --query-gpu=index,driver_version,name --format=csv,noheader")
        if result.rc != 0:
            detail = " ".join((result.stdout + result.stderr).split())[:200]
            pytest.fail(f"nvidia-smi failed with exit {result.rc}: {detail}", pytrace=False)
        try:
            return facts.parse_gpus(result.stdout)
        except ValueError as exc:
            pytest.fail(f"nvidia-smi printed something unexpected: {exc}.", pytrace=False)

    @cached_property
    def driver_version(self) -> str:
        if self.has("nvidia-smi"):
            versions = {gpu["driver"] for gpu in self.gpus}
            require(versions, "nvidia-smi lists no GPUs, so no NVIDIA driver version can be read.")
            require(
                len(versions) == 1,
                f"GPUs report different driver versions: {', '.join(sorted(versions))}.",
            )
            return versions.pop()
        result = self.run("modinfo -F version nvidia")
        require(
            result.rc == 0 and result.stdout.strip(),
            "Neither nvidia-smi nor the nvidia kernel module is present, so the node has no NVIDIA driver.",
        )
        return result.stdout.strip()

    @cached_property
    def kube_node(self) -> dict[str, Any]:
        """The node's Kubernetes Node object (labels, taints)."""
        if self.node_json:
            source = Path(self.node_json)
            if source.is_dir():
                source = source / f"{self.run('hostname').stdout.strip()}.json"
            try:
                text = source.read_text(encoding="utf-8")
            except OSError as exc:
                pytest.fail(
                    f"Cannot read the Node object from {source}: {exc.strerror}.", pytrace=False
                )
            where = str(source)
        else:
            command = self.pool.get("nodeObjectCommand") or ""
            require(
                command, "The pool config has no nodeObjectCommand and --node-json was not given."
            )
            result = self.run(f"sh -c {shlex.quote(command)}")
            detail = " ".join(result.stderr.split())[:200]
            require(
                result.rc == 0,
                f"Reading the Node object with `{command}` failed with exit {result.rc}: {detail}",
            )
            text, where = result.stdout, f"`{command}`"
        try:
            node = json.loads(text)
        except json.JSONDecodeError as exc:
            pytest.fail(
                f"The Node object from {where} is not JSON ({exc.msg} at line {exc.lineno}).",
                pytrace=False,
            )
        require(
            isinstance(node, dict) and node.get("kind") == "Node",
            f"{where} did not give a Kubernetes Node object.",
        )
        return node

    @property
    def labels(self) -> dict[str, str]:
        return self.kube_node.get("metadata", {}).get("labels") or {}

    @property
    def taints(self) -> list[dict[str, Any]]:
        return self.kube_node.get("spec", {}).get("taints") or []

    def containerd_configs(self, main: str) -> list[tuple[str, dict[str, Any]]]:
        """The main config and the drop-ins its `imports` name (containerd 2 uses config.d)."""
        text = self.read(main)
        require(text is not None, f"containerd config {main} does not exist on the node.")
        try:
            config = facts.parse_toml(text or "")
        except ValueError as exc:
            pytest.fail(f"containerd config {main} is not valid TOML ({exc}).", pytrace=False)
        configs = [(main, config)]
        for pattern in config.get("imports") or []:
            pattern = str(pattern)
            folder, _, name = pattern.rpartition("/")
            listing = self.host.run("ls -1 %s", self.path(folder or "/"))
            for entry in sorted(listing.stdout.split()) if listing.rc == 0 else []:
                if fnmatch.fnmatch(entry, name):
                    path = f"{folder}/{entry}"
                    try:
                        configs.append((path, facts.parse_toml(self.read(path) or "")))
                    except ValueError as exc:
                        pytest.fail(
                            f"containerd drop-in {path} is not valid TOML ({exc}).", pytrace=False
                        )
        return configs

    def fetch(self, url: str) -> tuple[int, str]:
        result = self.run("curl -fsS --max-time 5 %s", url)
        return result.rc, result.stdout if result.rc == 0 else result.stderr


@pytest.fixture(scope="module")
def pool(request: pytest.FixtureRequest) -> dict[str, Any]:
    path = request.config.getoption("--pool-config")
    require(
        path, "--pool-config POOL.json is required (estate verify --pool-config POOL -o POOL.json)."
    )
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        pytest.fail(f"{path}: cannot read the pool config ({exc.strerror}).", pytrace=False)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}.", pytrace=False)
    try:
        return facts.check_pool_config(data, path)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def node(host: Any, pool: dict[str, Any], request: pytest.FixtureRequest) -> Node:
    return Node(
        host,
        pool,
        request.config.getoption("--node-root") or "/",
        request.config.getoption("--node-json"),
        request.config.getoption("--node-exec") or "",
    )


# ---------------------------------------------------------------------------------------------
# The checks


def test_nvidia_driver_meets_the_pool_minimum(node: Node, pool: dict[str, Any]) -> None:
    version = node.driver_version
    minimum = str(pool["minDriverVersion"])
    try:
        too_old = facts.parse_version(version) < facts.parse_version(minimum)
    except ValueError:
        pytest.fail(
            f"The NVIDIA driver reports version {version!r}, which is not a version number.",
            pytrace=False,
        )
    require(not too_old, f"NVIDIA driver {version} is older than the pool's minimum {minimum}.")


def test_gpu_count_matches_the_instance_type(node: Node, pool: dict[str, Any]) -> None:
    instance = facts.instance_type(node.labels)
    require(
        instance,
        "The Node object has no node.kubernetes.io/instance-type label, so the expected GPU count is unknown.",
    )
    expected = pool["gpusPerInstanceType"].get(instance)
    require(
        expected is not None,
        f"Instance type {instance} is not one of the pool's instance types ({', '.join(pool['instanceTypes'])}).",
    )
    count = len(node.gpus)
    require(count == expected, f"nvidia-smi sees {count} GPU(s), but a {instance} has {expected}.")


def test_nvidia_uvm_module_is_loaded(node: Node, pool: dict[str, Any]) -> None:
    path = pool.get("procModules", "/proc/modules")
    modules = node.read(path)
    require(modules is not None, f"{path} cannot be read, so loaded kernel modules are unknown.")
    require(
        "nvidia_uvm" in facts.loaded_modules(modules or ""),
        f"Kernel module nvidia_uvm is not loaded (not in {path}), so CUDA cannot run.",
    )


def test_nvidia_persistenced_is_running(node: Node, pool: dict[str, Any]) -> None:
    unit = pool.get("services", {}).get("persistenced", "nvidia-persistenced")
    state = node.service_state(unit)
    require(
        state == "active",
        f"Service {unit} is {state}, not active, so GPUs reinitialise on every job.",
    )


def test_containerd_runs_pods_with_the_nvidia_runtime(node: Node, pool: dict[str, Any]) -> None:
    main = pool.get("containerdConfig", "/etc/containerd/config.toml")
    configs = node.containerd_configs(main)
    binary, why = facts.nvidia_runtime([config for _, config in configs])
    require(binary, f"containerd ({main}) {why}, so GPU pods would start without their GPUs.")
    assert binary is not None
    exists = (
        node.host.file(node.path(binary)).exists if binary.startswith("/") else node.has(binary)
    )
    require(exists, f"containerd's default runtime {binary} is not installed on the node.")


def test_kubelet_is_running(node: Node, pool: dict[str, Any]) -> None:
    unit = pool.get("services", {}).get("kubelet", "kubelet")
    state = node.service_state(unit)
    require(
        state == "active", f"Service {unit} is {state}, not active, so the node cannot run pods."
    )


def test_node_labels_match_the_pool(node: Node, pool: dict[str, Any]) -> None:
    problems = facts.label_problems(node.labels, pool["expectedLabels"])
    require(not problems, f"Node labels differ from the pool: {'; '.join(problems)}.")


def test_node_taints_match_the_pool(node: Node, pool: dict[str, Any]) -> None:
    problems = facts.taint_problems(node.taints, pool["expectedTaints"])
    require(
        not problems,
        f"Node taint {'; '.join(problems)}, so other BUs' or CPU pods could land here.",
    )


def test_dcgm_exporter_serves_gpu_utilization(node: Node, pool: dict[str, Any]) -> None:
    url = pool.get("dcgmMetricsUrl", "http://127.0.0.1:9400/metrics")
    metric = pool.get("dcgmMetric", "DCGM_FI_DEV_GPU_UTIL")
    rc, text = node.fetch(url)
    detail = " ".join(text.split())[:160]
    require(rc == 0, f"DCGM exporter at {url} did not answer (curl exit {rc}: {detail}).")
    require(
        facts.metric_samples(text, metric),
        f"DCGM exporter at {url} answers but exports no {metric} samples.",
    )
