"""Pulumi projects and their stacks on disk: what `estate` renders and checks.

A project is a directory with `Pulumi.yaml`; its stacks are the `Pulumi.<stack>.yaml` files in
its `stackConfigDir` (this project: `stacks/`). `--project DIR` points at any Pulumi Python
program, ours or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from estate.stack.config import (
    ConfigError,
    load_stack,
    read_stack_file,
    stack_errors,
    warning_lines,
)

ROOT = Path(__file__).resolve().parents[2]
ROOT_PROJECT_NAME = "ai-estate"

SECRET_PLACEHOLDER = "[secret]"
"""What a `secure:` stack-file value renders as: its ciphertext can only be decrypted by the
stack's secrets provider (the Pulumi service, a passphrase, a KMS key), which an offline render
does not have. The key is still marked secret, so the program reads it as a secret Output, as
`pulumi preview` would; `--config-secret KEY=VALUE` gives it a real value."""


@dataclass(frozen=True)
class ConfigOverrides:
    """Config given on the command line, as `pulumi preview` takes it.

    Precedence is the Pulumi CLI's: the project's `config:` defaults in `Pulumi.yaml`, then the
    stack file (`Pulumi.<stack>.yaml`, or `file` instead of it, as `--config-file` does), then
    `values` (`--config` / `--config-secret`), each over the one before.
    """

    file: Path | None = None
    values: dict[str, str] = field(default_factory=dict)
    """Full keys (`project:key`, `aws:region`) to values, as strings like the CLI's."""
    secrets: frozenset[str] = frozenset()
    """The keys of `values` given with `--config-secret`: marked secret in the render."""

    def __bool__(self) -> bool:
        return self.file is not None or bool(self.values)


def parse_config_args(
    pairs: list[str], secret_pairs: list[str], project_name: str
) -> tuple[dict[str, str], frozenset[str]]:
    """`--config KEY=VALUE` / `--config-secret KEY=VALUE` as the Pulumi CLI reads them: a key
    without a namespace belongs to the project (`size` -> `<project>:size`); the value is text."""
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for flag, items in (("--config", pairs), ("--config-secret", secret_pairs)):
        for item in items:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key or key.startswith(":") or key.endswith(":"):
                raise ConfigError(
                    [f"{flag} {item!r}: expected KEY=VALUE (e.g. aws:region=eu-west-1)"]
                )
            full = key if ":" in key else f"{project_name}:{key}"
            values[full] = value
            if flag == "--config-secret":
                secrets.add(full)
            else:
                secrets.discard(full)
    return values, frozenset(secrets)


def _project_defaults(
    config: Any, project: str, manifest: str
) -> tuple[dict[str, Any], frozenset[str]]:
    """A project's `config:` block in `Pulumi.yaml`: each key's `default` (or `value`, or a bare
    value), and the keys declared `secret: true`. Keys without a namespace are the project's."""
    if config is None:
        return {}, frozenset()
    if not isinstance(config, dict):
        raise ConfigError([f"{manifest}: config: must be a mapping of keys to settings"])
    defaults: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, spec in config.items():
        full = str(key) if ":" in str(key) else f"{project}:{key}"
        if isinstance(spec, dict) and (
            {"type", "default", "value", "secret", "description"} & set(spec)
        ):
            for which in ("value", "default"):
                if which in spec:
                    defaults[full] = spec[which]
                    break
            if spec.get("secret") is True:
                secrets.add(full)
        else:
            defaults[full] = spec
    return defaults, frozenset(secrets)


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory."""

    path: Path
    name: str
    stack_dir: Path
    is_estate: bool
    """True for this repo's own program, whose stack files get the full schema validation."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """The project's `config:` defaults from `Pulumi.yaml` (other programs only: the estate's
    schema owns its defaults)."""
    declared_secrets: frozenset[str] = frozenset()
    """Keys `Pulumi.yaml` declares `secret: true`."""
    runtime_options: dict[str, Any] = field(default_factory=dict)
    """`runtime.options` of `Pulumi.yaml` (`virtualenv`, `toolchain`)."""

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

    def stack_config(self, stack: str, overrides: ConfigOverrides | None = None) -> dict[str, Any]:
        """The stack's config map, validated against our schema for our own project."""
        return self.stack_settings(stack, overrides)[0]

    def stack_settings(
        self, stack: str, overrides: ConfigOverrides | None = None
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """The stack's config map and its secret keys, as the Pulumi CLI assembles them:
        project defaults, then the stack file (or `--config-file`), then `--config` values."""
        given = overrides or ConfigOverrides()
        path = given.file or self.stack_file(stack)
        shown = self.display(path)
        if given.file is not None and not path.is_file():
            raise ConfigError([f"{shown}: --config-file: no such file"])
        if not path.is_file():
            if self.is_estate:
                raise ConfigError([f"{shown}: no such stack file (stack '{stack}')"])
            raw: dict[str, Any] = {}
        elif self.is_estate and not given:
            return dict(load_stack(path, shown).raw), frozenset()
        else:
            raw = dict(read_stack_file(path, shown, require_config=self.is_estate))
        secrets = set(self.declared_secrets)
        for key, value in list(raw.items()):
            if isinstance(value, dict) and set(value) == {"secure"}:
                raw[key] = SECRET_PLACEHOLDER
                secrets.add(key)
        config = {**self.defaults, **raw, **given.values}
        secrets = (secrets - set(given.values)) | set(given.secrets)
        if self.is_estate:
            _, errors = stack_errors(config, stack, shown, self.stack_dir)
            if errors:
                raise ConfigError(errors)
        return config, frozenset(k for k in secrets if k in config)

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
    name = str(doc["name"])
    is_estate = name == ROOT_PROJECT_NAME and (root / "__main__.py").is_file()
    defaults, secrets = (
        (dict[str, Any](), frozenset[str]())
        if is_estate
        else _project_defaults(doc.get("config"), name, str(manifest))
    )
    options = runtime.get("options") if isinstance(runtime, dict) else None
    return Project(
        path=root,
        name=name,
        stack_dir=stack_dir,
        is_estate=is_estate,
        defaults=defaults,
        declared_secrets=secrets,
        runtime_options=dict(options) if isinstance(options, dict) else {},
    )


@dataclass(frozen=True)
class Interpreter:
    """The Python a program runs with, from its `Pulumi.yaml` (`runtime.options`)."""

    virtualenv: Path | None
    """The virtualenv the project names (absolute), or None when it names none."""
    python: Path | None
    """Its interpreter when it exists and is not the one running estate, else None."""

    @property
    def missing(self) -> bool:
        """The project names a virtualenv that has not been created."""
        return self.virtualenv is not None and not (self.virtualenv / "bin" / "python").exists()


def program_interpreter(project: Project) -> Interpreter:
    """Where the Pulumi CLI would find the program's Python: `runtime.options.virtualenv`
    (relative to the project), or `.venv` for `toolchain: uv`; estate's own interpreter when the
    project names neither (the CLI would use `python3` from PATH: estate's, here) or names the
    virtualenv estate itself runs in (this repository's `.venv`). `toolchain: poetry` keeps its
    environment outside the project: estate asks `poetry env info --executable`, if poetry is
    installed."""
    import shutil
    import subprocess
    import sys

    options = project.runtime_options
    toolchain = str(options.get("toolchain") or "pip")
    venv = options.get("virtualenv") or (".venv" if toolchain == "uv" else None)
    python: Path | None = None
    where: Path | None = None
    if venv:
        where = (project.path / str(venv)).resolve()
        python = where / "bin" / "python"
    elif toolchain == "poetry" and shutil.which("poetry"):
        done = subprocess.run(
            ["poetry", "env", "info", "--executable"],
            cwd=project.path,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            python = Path(done.stdout.strip())
            where = python.parent.parent
    if python is None or not python.exists():
        return Interpreter(virtualenv=where, python=None)
    if where is not None and where == Path(sys.prefix).resolve():
        return Interpreter(virtualenv=where, python=None)  # estate runs in it already
    return Interpreter(virtualenv=where, python=python)
