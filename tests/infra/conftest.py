"""Options of the GPU node conformance suite (tests/infra/gpu_node_conformance.py).

`--pool-config` is what the nodes are held to (`estate verify --pool-config POOL -o pool.json`);
`--node-root` prefixes every file the suite reads on a node (`/` on the node itself, `/host`
from a pod that mounts it, a prepared directory in tests); `--node-exec` prefixes every command
(`chroot /host` from such a pod); `--node-json` gives the Kubernetes Node object as a local file (or a directory
of `<hostname>.json`) when the node cannot read its own object with the kubelet's credentials.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ai-estate GPU node conformance")
    group.addoption(
        "--pool-config",
        default=os.environ.get("ESTATE_POOL_CONFIG"),
        help="JSON expectations of one GPU pool (estate verify --pool-config POOL -o FILE); "
        "env ESTATE_POOL_CONFIG.",
    )
    group.addoption(
        "--node-root",
        default=os.environ.get("ESTATE_NODE_ROOT", "/"),
        help="Prefix of every file path read on the node (default /); env ESTATE_NODE_ROOT.",
    )
    group.addoption(
        "--node-exec",
        default=os.environ.get("ESTATE_NODE_EXEC", ""),
        help="Prefix of every command run on the node, e.g. 'chroot /host' when the host is a "
        "privileged pod with the node's / mounted at /host; env ESTATE_NODE_EXEC.",
    )
    group.addoption(
        "--node-json",
        default=os.environ.get("ESTATE_NODE_JSON"),
        help="Local file with `kubectl get node NAME -o json`, or a directory of "
        "<hostname>.json; default: the pool's nodeObjectCommand, run on the node.",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Running the suite without a pool config is a usage error, not nine failed checks."""
    suite = [item for item in session.items if item.path.name == "gpu_node_conformance.py"]
    if suite and not session.config.getoption("--pool-config"):
        raise pytest.UsageError(
            "--pool-config POOL.json is required "
            "(estate verify --stack S --outputs F --pool-config POOL -o POOL.json)"
        )
