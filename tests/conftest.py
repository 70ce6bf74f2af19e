"""Shared fixtures: the repository root, stack loading, and rendered shipped stacks."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

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


@pytest.fixture(scope="session")
def rendered():
    """Render a shipped stack once per test session (renders are deterministic)."""
    return _render
