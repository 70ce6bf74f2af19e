"""The habits are enforced by tools, and the three places that run them agree: `make check`,
the pre-commit hooks and CI (`.ci/run`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, with the Makefile's variables spelled out."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}\b[^\n]*:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"Makefile has no {target} target"
    lines = [line.strip() for line in match.group(1).splitlines()]
    return [
        line.replace("$(VENV)/bin/", ".venv/bin/").replace("$(PY)", ".venv/bin/python")
        for line in lines
    ]


def _normalised(command: str) -> str:
    # pre-commit passes file names where `make check` passes `.`; --force-exclude makes ruff
    # honour its excludes for names passed explicitly, which `.` needs no flag for.
    words = [w for w in command.split() if w not in (".", "--force-exclude")]
    return " ".join(words)


def test_make_check_runs_lint_format_types_and_staleness_checks() -> None:
    assert make_recipe("check") == [
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        ".venv/bin/python -m estate.docgen.config_docs --check",
        ".venv/bin/python -m estate.docgen.policy_docs --check",
        ".venv/bin/python -m estate.docgen.pulumi_yaml --check",
    ]


def test_pre_commit_runs_what_make_check_runs() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])
    assert all(hook["language"] == "system" for hook in hooks)
    assert [_normalised(h["entry"]) for h in hooks] == [
        _normalised(c) for c in make_recipe("check")
    ]


def test_ci_runs_make_check_then_make_test_and_stops_on_failure() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line for line in script if line and not line.startswith("#")]
    assert commands[0] == "set -euo pipefail"
    assert commands[-2:] == ["make check", "make test"]


def test_mypy_uses_the_pydantic_plugin_and_skips_the_provider_sdks() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mypy = pyproject["tool"]["mypy"]
    assert "pydantic.mypy" in mypy["plugins"]
    assert {"estate", "components", "policies", "__main__.py"} <= set(mypy["files"])
    skipped = {
        module
        for override in mypy["overrides"]
        if override.get("follow_imports") == "skip"
        for module in override["module"]
    }
    assert {"pulumi_aws.*", "pulumi_kubernetes.*"} <= skipped
    test_deps = " ".join(pyproject["project"]["optional-dependencies"]["test"])
    for tool in ("mypy", "ruff", "pre-commit"):
        assert re.search(rf"\b{tool}>=[\d.]+,<\d", test_deps), f"{tool} is not pinned"
