"""The GPU node conformance suite, run against hosts these tests prepare.

A "prepared root" is a directory laid out like a GPU node: `proc/modules`,
`etc/containerd/config.toml`, the NVIDIA runtime binary, and a `bin/` of stand-ins for the
node's tools (`nvidia-smi`, `systemctl`, `kubectl`) that answer from state files in the root.
A small HTTP server on 127.0.0.1 serves dcgm-exporter metrics in the real exposition format.
The suite runs through testinfra's `local://` backend with `PATH` starting at the root's `bin/`
and `--node-root` pointing at it; everything else is the same code that runs over SSH.

(No sshd or network namespaces are available on these machines, so no real SSH host.)
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import node_facts as facts
import pytest

from estate.verify import pool_conformance_config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SUITE = HERE / "gpu_node_conformance.py"
FIXTURE_OUTPUTS = ROOT / "tests" / "fixtures" / "outputs" / "fraud-prod.json"

DRIVER = "550.90.07"
DCGM_METRICS = """\
# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-5b8f6a2e-1c7d-4f0e-9a51-3d2b8c4e6f10",pci_bus_id="00000000:00:1E.0",device="nvidia0",modelName="NVIDIA A10G",Hostname="ip-10-20-1-23.ec2.internal",DCGM_FI_DRIVER_VERSION="550.90.07"} 1710
# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-5b8f6a2e-1c7d-4f0e-9a51-3d2b8c4e6f10",pci_bus_id="00000000:00:1E.0",device="nvidia0",modelName="NVIDIA A10G",Hostname="ip-10-20-1-23.ec2.internal",DCGM_FI_DRIVER_VERSION="550.90.07",container="scorer",namespace="fraud",pod="scorer-7d9c"} 37
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-5b8f6a2e-1c7d-4f0e-9a51-3d2b8c4e6f10",pci_bus_id="00000000:00:1E.0",device="nvidia0",modelName="NVIDIA A10G",Hostname="ip-10-20-1-23.ec2.internal",DCGM_FI_DRIVER_VERSION="550.90.07"} 10240
"""

PROC_MODULES = """\
nvidia_uvm 1904640 4 - Live 0x0000000000000000 (POE)
nvidia_drm 122880 0 - Live 0x0000000000000000 (POE)
nvidia_modeset 1568768 1 nvidia_drm, Live 0x0000000000000000 (POE)
nvidia 62889984 40 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 (POE)
overlay 151552 12 - Live 0x0000000000000000
"""

CONTAINERD_NVIDIA = """\
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "nvidia"
discard_unpacked_layers = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
runtime_type = "io.containerd.runc.v2"
base_runtime_spec = "/etc/containerd/base-runtime-spec.json"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
BinaryName = "/usr/bin/nvidia-container-runtime"
SystemdCgroup = true
"""

CONTAINERD_RUNC_ONLY = CONTAINERD_NVIDIA.replace(
    'default_runtime_name = "nvidia"', 'default_runtime_name = "runc"'
)

FAKE_NVIDIA_SMI = """\
#!/bin/sh
# Stands in for nvidia-smi: prints the GPUs in state/gpus.csv, or fails as the real one does
# when it cannot talk to the driver.
if [ ! -s "{root}/state/gpus.csv" ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
  exit 9
fi
cat "{root}/state/gpus.csv"
"""

FAKE_SYSTEMCTL = """\
#!/bin/sh
# Stands in for `systemctl is-active UNIT`: the state is in state/units/UNIT.
[ "$1" = "is-active" ] || exit 2
state=$(cat "{root}/state/units/$2" 2>/dev/null || echo inactive)
echo "$state"
[ "$state" = active ]
"""

FAKE_KUBECTL = """\
#!/bin/sh
# Stands in for `kubectl get node NAME -o json` with the kubelet's credentials.
cat "{root}/state/node.json"
"""


# ---------------------------------------------------------------------------------------------
# Hosts


class _Metrics(BaseHTTPRequestHandler):
    body = DCGM_METRICS.encode()

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def dcgm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    thread.join(timeout=5)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/metrics"


def pool_config(dcgm_url: str) -> dict[str, Any]:
    """The serve-a10g pool of fraud-prod, as `estate verify --pool-config` writes it."""
    outputs = json.loads(FIXTURE_OUTPUTS.read_text())
    config = pool_conformance_config("fraud-prod", outputs, "serve-a10g")
    config["dcgmMetricsUrl"] = dcgm_url
    return config


@dataclass
class PreparedNode:
    """A GPU node of the pool, as files and stand-in tools under one directory."""

    root: Path
    pool: dict[str, Any]
    gpus: list[str] = field(default_factory=lambda: [f"0, {DRIVER}, NVIDIA A10G"])
    units: dict[str, str] = field(
        default_factory=lambda: {
            "nvidia-persistenced": "active",
            "kubelet": "active",
            "containerd": "active",
        }
    )
    proc_modules: str = PROC_MODULES
    containerd: str = CONTAINERD_NVIDIA
    runtime_installed: bool = True
    node: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "ip-10-20-1-23.ec2.internal",
                "labels": {
                    **self.pool["expectedLabels"],
                    "kubernetes.io/hostname": "ip-10-20-1-23.ec2.internal",
                    "node.kubernetes.io/instance-type": "g5.xlarge",
                    "topology.kubernetes.io/zone": "us-east-1a",
                    "eks.amazonaws.com/nodegroup": "fraud-prod-serve-a10g-20250101",
                },
            },
            "spec": {"taints": copy.deepcopy(self.pool["expectedTaints"])},
        }

    def write(self) -> None:
        root = self.root
        for folder in ("bin", "proc", "etc/containerd", "usr/bin", "state/units"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        tools = {
            "nvidia-smi": FAKE_NVIDIA_SMI,
            "systemctl": FAKE_SYSTEMCTL,
            "kubectl": FAKE_KUBECTL,
        }
        for name, script in tools.items():
            path = root / "bin" / name
            path.write_text(script.format(root=root))
            path.chmod(0o755)
        runtime = root / "usr" / "bin" / "nvidia-container-runtime"
        if self.runtime_installed:
            runtime.write_text("#!/bin/sh\nexit 0\n")
            runtime.chmod(0o755)
        (root / "state" / "gpus.csv").write_text("".join(f"{g}\n" for g in self.gpus))
        for unit, state in self.units.items():
            (root / "state" / "units" / unit).write_text(state + "\n")
        (root / "proc" / "modules").write_text(self.proc_modules)
        (root / "etc" / "containerd" / "config.toml").write_text(self.containerd)
        (root / "state" / "node.json").write_text(json.dumps(self.node, indent=2))
        (root / "pool.json").write_text(json.dumps(self.pool, indent=2))


def run_suite(node: PreparedNode, *extra: str, tools_on_path: bool = True) -> dict[str, str | None]:
    """Run the suite against the prepared node; check name -> failure message (None: passed)."""
    node.write()
    report = node.root / "junit.xml"
    env = dict(os.environ)
    if tools_on_path:
        env["PATH"] = f"{node.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "--hosts=local://",
            f"--pool-config={node.root / 'pool.json'}",
            f"--node-root={node.root}",
            f"--junitxml={report}",
            "-p",
            "no:cacheprovider",
            "-q",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.is_file(), done.stdout + done.stderr
    results: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "").split("[", 1)[0]
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        # pytest's JUnit message of `pytest.fail(msg)` is "Failed: msg".
        results[name] = (
            None if problem is None else problem.get("message", "").removeprefix("Failed: ")
        )
    assert results, done.stdout + done.stderr
    return results


# ---------------------------------------------------------------------------------------------
# Non-conformances, one at a time


def _set(attr: str, value: Any) -> Callable[[PreparedNode], None]:
    return lambda node: setattr(node, attr, value)


def _unit(unit: str, state: str) -> Callable[[PreparedNode], None]:
    return lambda node: node.units.__setitem__(unit, state)


def _drop_label(key: str) -> Callable[[PreparedNode], None]:
    return lambda node: node.node["metadata"]["labels"].pop(key)


def _drop_taint(key: str) -> Callable[[PreparedNode], None]:
    def drop(node: PreparedNode) -> None:
        node.node["spec"]["taints"] = [t for t in node.node["spec"]["taints"] if t["key"] != key]

    return drop


def _dcgm_down(node: PreparedNode) -> None:
    node.pool["dcgmMetricsUrl"] = _closed_port_url()


BREAKS: dict[str, tuple[Callable[[PreparedNode], None], str, str]] = {
    # case: (the break, the failing check, its message)
    "driver too old": (
        _set("gpus", ["0, 470.57.02, NVIDIA A10G"]),
        "test_nvidia_driver_meets_the_pool_minimum",
        "NVIDIA driver 470.57.02 is older than the pool's minimum 550.54.14.",
    ),
    "GPU missing": (
        _set("gpus", [f"0, {DRIVER}, NVIDIA A10G", f"1, {DRIVER}, NVIDIA A10G"]),
        "test_gpu_count_matches_the_instance_type",
        "nvidia-smi sees 2 GPU(s), but a g5.xlarge has 1.",
    ),
    "nvidia_uvm not loaded": (
        _set(
            "proc_modules",
            "".join(
                line + "\n"
                for line in PROC_MODULES.splitlines()
                if not line.startswith("nvidia_uvm")
            ),
        ),
        "test_nvidia_uvm_module_is_loaded",
        "Kernel module nvidia_uvm is not loaded (not in /proc/modules), so CUDA cannot run.",
    ),
    "persistenced stopped": (
        _unit("nvidia-persistenced", "inactive"),
        "test_nvidia_persistenced_is_running",
        "Service nvidia-persistenced is inactive, not active, so GPUs reinitialise on every job.",
    ),
    "containerd default runtime is runc": (
        _set("containerd", CONTAINERD_RUNC_ONLY),
        "test_containerd_runs_pods_with_the_nvidia_runtime",
        "containerd (/etc/containerd/config.toml) has an NVIDIA runtime (nvidia) but the default "
        "runtime is runc, so GPU pods would start without their GPUs.",
    ),
    "NVIDIA runtime not installed": (
        _set("runtime_installed", False),
        "test_containerd_runs_pods_with_the_nvidia_runtime",
        "containerd's default runtime /usr/bin/nvidia-container-runtime is not installed on the node.",
    ),
    "kubelet stopped": (
        _unit("kubelet", "failed"),
        "test_kubelet_is_running",
        "Service kubelet is failed, not active, so the node cannot run pods.",
    ),
    "BU label missing": (
        _drop_label("ai-estate/bu"),
        "test_node_labels_match_the_pool",
        "Node labels differ from the pool: ai-estate/bu is missing (the pool expects fraud).",
    ),
    "GPU taint missing": (
        _drop_taint("nvidia.com/gpu"),
        "test_node_taints_match_the_pool",
        "Node taint nvidia.com/gpu=true:NoSchedule is missing, so other BUs' or CPU pods could land here.",
    ),
    "DCGM exporter down": (
        _dcgm_down,
        "test_dcgm_exporter_serves_gpu_utilization",
        "DCGM exporter at {url} did not answer (curl exit 7:",
    ),
}


def prepared(case: str, dcgm_url: str, tmp_path: Path) -> PreparedNode:
    node = PreparedNode(tmp_path, pool_config(dcgm_url))
    if case != "conforming":
        BREAKS[case][0](node)
    return node


CHECKS = (
    "test_nvidia_driver_meets_the_pool_minimum",
    "test_gpu_count_matches_the_instance_type",
    "test_nvidia_uvm_module_is_loaded",
    "test_nvidia_persistenced_is_running",
    "test_containerd_runs_pods_with_the_nvidia_runtime",
    "test_kubelet_is_running",
    "test_node_labels_match_the_pool",
    "test_node_taints_match_the_pool",
    "test_dcgm_exporter_serves_gpu_utilization",
)


def test_a_conforming_node_passes_every_check(dcgm_url, tmp_path):
    results = run_suite(prepared("conforming", dcgm_url, tmp_path))
    assert results == dict.fromkeys(CHECKS)


def test_node_exec_prefixes_every_command(dcgm_url, tmp_path):
    """From a pod the suite runs commands as `chroot /host CMD`; here the prefix is what puts
    the node's tools on PATH, so a command run without it would not find them."""
    node = prepared("conforming", dcgm_url, tmp_path)
    prefix = f"env PATH={node.root / 'bin'}:/usr/bin:/bin"
    results = run_suite(node, f"--node-exec={prefix}", tools_on_path=False)
    assert results == dict.fromkeys(CHECKS)
    assert run_suite(node, tools_on_path=False)["test_kubelet_is_running"] is not None


@pytest.mark.parametrize("case", list(BREAKS))
def test_each_non_conformance_fails_one_check_with_one_sentence(dcgm_url, tmp_path, case):
    node = prepared(case, dcgm_url, tmp_path)
    results = run_suite(node)
    _, check, message = BREAKS[case]
    failed = {name: text for name, text in results.items() if text is not None}
    assert list(failed) == [check], failed
    expected = message.format(url=node.pool["dcgmMetricsUrl"])
    assert failed[check].startswith(expected), failed[check]
    assert "\n" not in failed[check] and "Traceback" not in failed[check]


def test_a_missing_pool_config_is_a_usage_error_in_one_line():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "--hosts=local://",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ESTATE_POOL_CONFIG"},
        timeout=120,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stderr.strip() == (
        "ERROR: --pool-config POOL.json is required "
        "(estate verify --stack S --outputs F --pool-config POOL -o POOL.json)"
    )


# ---------------------------------------------------------------------------------------------
# The parsing rules, on text


def test_driver_versions_compare_numerically():
    assert facts.parse_version("550.90.07") > facts.parse_version("550.54.14")
    assert facts.parse_version("535.104.05") < facts.parse_version("550.54.14")
    assert facts.parse_version("1000.1") > facts.parse_version("999.99.99")
    with pytest.raises(ValueError, match="not a version"):
        facts.parse_version("N/A")


def test_nvidia_smi_csv_and_proc_modules_parse():
    gpus = facts.parse_gpus("0, 550.90.07, NVIDIA A10G\n1, 550.90.07, NVIDIA A10G\n")
    assert [g["index"] for g in gpus] == ["0", "1"] and gpus[0]["name"] == "NVIDIA A10G"
    assert "nvidia_uvm" in facts.loaded_modules(PROC_MODULES)
    lsmod = "Module                  Size  Used by\nnvidia_uvm           1904640  4\n"
    assert facts.loaded_modules(lsmod) == {"nvidia_uvm"}


def test_containerd_v3_config_with_nvidia_default_is_recognised():
    v3 = """
version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd]
default_runtime_name = 'nvidia'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]
runtime_type = 'io.containerd.runc.v2'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia.options]
BinaryName = '/usr/bin/nvidia-container-runtime'
"""
    binary, _ = facts.nvidia_runtime([facts.parse_toml(v3)])
    assert binary == "/usr/bin/nvidia-container-runtime"
    binary, why = facts.nvidia_runtime(
        [facts.parse_toml('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n')]
    )
    assert binary is None and why == "defines no CRI runtimes"


def test_dcgm_metric_samples_are_found_by_name():
    assert len(facts.metric_samples(DCGM_METRICS, "DCGM_FI_DEV_GPU_UTIL")) == 1
    assert facts.metric_samples(DCGM_METRICS, "DCGM_FI_DEV_GPU") == []
    assert facts.metric_samples("DCGM_FI_DEV_GPU_UTIL 5\n", "DCGM_FI_DEV_GPU_UTIL") == [
        "DCGM_FI_DEV_GPU_UTIL 5"
    ]


def test_pool_config_written_by_estate_verify_is_accepted(dcgm_url):
    config = pool_config(dcgm_url)
    assert facts.check_pool_config(config, "pool.json") is config
    with pytest.raises(
        facts.PoolConfigError, match=r"pool.json: minDriverVersion, expectedTaints: missing"
    ):
        facts.check_pool_config(
            {k: v for k, v in config.items() if k not in ("minDriverVersion", "expectedTaints")},
            "pool.json",
        )
