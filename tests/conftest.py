"""Shared fixtures: the repository root, stack loading, and rendered shipped stacks."""

from __future__ import annotations

import copy
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHIPPED_STACKS = ("platform-dev", "platform-prod", "fraud-prod", "marketing-dev")


@cache
def _render(stack: str):
    from estate.offline.gate import render_stack
    from estate.offline.project import load_project

    project = load_project(ROOT)
    known = {}
    config = project.stack_config(stack)
    ref = config.get("ai-estate:platformStack")
    if ref:
        short = ref.rsplit("/", 1)[-1]
        known[short] = _render(short).outputs
    return render_stack(project, stack, known)


def shipped_config(stack: str) -> dict[str, Any]:
    """A deep copy of a shipped stack's config map, for a test to change."""
    from estate.offline.project import load_project

    return copy.deepcopy(load_project(ROOT).stack_config(stack))


def render_config(stack: str, config: dict[str, Any]):
    """Render `config` as shipped stack `stack` through the program, against the shipped
    platform stack's outputs (what `estate check` does with a changed stack file)."""
    from estate.offline.engine import render

    return render(
        ROOT,
        stack=stack,
        project="ai-estate",
        config=config,
        stack_outputs=lambda ref: _render(ref.rsplit("/", 1)[-1]).outputs,
        source=f"stacks/Pulumi.{stack}.yaml",
    )


@pytest.fixture(scope="session")
def rendered():
    """Render a shipped stack once per test session (renders are deterministic)."""
    return _render


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of the estate project whose stack files a test may break."""
    import shutil

    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("components", "estate"):
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    return tmp_path
