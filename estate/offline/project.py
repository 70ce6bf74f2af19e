"""Pulumi projects and their stacks on disk: what `estate` renders and checks.

A project is a directory with `Pulumi.yaml`; its stacks are the `Pulumi.<stack>.yaml` files in
its `stackConfigDir` (this project: `stacks/`). `--project DIR` points at any Pulumi Python
program, ours or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from estate.stack.config import ConfigError, load_stack, read_stack_file, warning_lines

ROOT = Path(__file__).resolve().parents[2]
ROOT_PROJECT_NAME = "ai-estate"


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory."""

    path: Path
    name: str
    stack_dir: Path
    is_estate: bool
    """True for this repo's own program, whose stack files get the full schema validation."""

    def display(self, path: Path) -> str:
        """A path as users should read it: relative to the project (or cwd) where possible."""
        for base in (Path.cwd(), self.path):
            try:
                return path.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                continue
        return str(path)

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        """Stack names, platform stacks first (BU stacks reference them), then by name."""
        names = [
            p.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for p in self.stack_dir.glob("Pulumi.*.yaml")
        ]
        return sorted(names, key=lambda n: (not n.startswith("platform-"), n))

    def stack_config(self, stack: str) -> dict[str, Any]:
        """The stack's config map, validated against our schema for our own project."""
        path = self.stack_file(stack)
        if not path.is_file():
            if self.is_estate:
                raise ConfigError([f"{self.display(path)}: no such stack file (stack '{stack}')"])
            return {}
        if self.is_estate:
            return dict(load_stack(path, self.display(path)).raw)
        return dict(read_stack_file(path, self.display(path)))

    def stack_warnings(self, stack: str) -> list[str]:
        """Advice on a valid stack file (`file: key: warning: ...` lines); none for programs
        that are not the estate's."""
        path = self.stack_file(stack)
        if not (self.is_estate and path.is_file()):
            return []
        return warning_lines(self.display(path), load_stack(path, self.display(path)).config)

    def source_for(self, stack: str) -> str:
        """The file a finding should point a reviewer at."""
        path = self.stack_file(stack)
        return self.display(path if path.is_file() else self.path / "__main__.py")


def load_project(path: Path | None = None) -> Project:
    """Read `Pulumi.yaml` in `path` (default: this repository)."""
    root = (path or ROOT).resolve()
    manifest = root / "Pulumi.yaml"
    if not manifest.is_file():
        raise ConfigError([f"{root}: no Pulumi.yaml here (is this a Pulumi project?)"])
    try:
        doc = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{manifest}: not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict) or not doc.get("name"):
        raise ConfigError([f"{manifest}: name: is required"])
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ConfigError(
            [f"{manifest}: runtime: estate renders Python programs only (got {runtime_name!r})"]
        )
    stack_dir = root / str(doc.get("stackConfigDir") or ".")
    return Project(
        path=root,
        name=str(doc["name"]),
        stack_dir=stack_dir,
        is_estate=str(doc["name"]) == ROOT_PROJECT_NAME and (root / "__main__.py").is_file(),
    )
