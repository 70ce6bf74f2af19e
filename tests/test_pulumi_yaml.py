"""`Pulumi.yaml`'s `config:` block is generated from the schema and means what the schema means.

`pulumi up` merges the block's defaults into the config the program gets (pulumi/pulumi
sdk/go/common/workspace/config.go, `mergeConfig`) while `estate` renders from the stack file
alone, so a default that validated differently from leaving the key out would make the real
deploy differ from every offline check. These tests hold the block to Pulumi's own rules
(project.go, `Validate`) and to the schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from estate.docgen import pulumi_yaml
from estate.offline.project import load_project
from estate.stack.config import (
    NAMESPACE,
    ConfigError,
    StackConfig,
    split_namespace,
    validate_config,
)

PULUMI_TYPES = {"string", "integer", "boolean", "array"}


def project() -> dict[str, Any]:
    return yaml.safe_load(pulumi_yaml.PROJECT_FILE.read_text(encoding="utf-8"))


def test_the_config_block_is_not_stale() -> None:
    assert pulumi_yaml.main(["--check"]) == 0, (
        "Pulumi.yaml's config: block is stale: run `.venv/bin/python -m estate.docgen.pulumi_yaml`"
    )


def test_the_check_fails_on_a_stale_block_and_rewrites_only_the_block() -> None:
    current = pulumi_yaml.PROJECT_FILE.read_text(encoding="utf-8")
    stale = current.replace("ai-estate:owner:", "ai-estate:ownerEmail:")
    assert stale != current
    rendered = pulumi_yaml.render(stale)
    assert rendered == current
    head = current[: current.index("# Generated from")]
    assert rendered.startswith(head) and "stackConfigDir: stacks" in head


def test_the_check_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "estate.docgen.pulumi_yaml", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_top_level_key_is_declared_with_its_description() -> None:
    declared = project()["config"]
    expected = {f"{NAMESPACE}:{f.alias or name}": f for name, f in StackConfig.model_fields.items()}
    assert list(declared) == list(expected)
    for key, field in expected.items():
        assert declared[key]["description"] == " ".join((field.description or "").split())
        assert declared[key]["description"], f"{key}: the schema field has no docstring"


def test_declarations_follow_pulumi_s_rules() -> None:
    doc = project()
    for key, entry in doc["config"].items():
        # Only keys in the project's namespace may carry a type or a default.
        assert key.startswith(f"{doc['name']}:"), key
        assert set(entry) <= {"type", "items", "description", "default", "secret"}, key
        if "type" in entry:
            assert entry["type"] in PULUMI_TYPES, key
            if entry["type"] == "array":
                assert entry["items"]["type"] in PULUMI_TYPES, key
            if "default" in entry:
                python = {"string": str, "integer": int, "boolean": bool, "array": list}
                assert isinstance(entry["default"], python[entry["type"]]), key


def test_exactly_the_schema_s_required_keys_have_no_default() -> None:
    # Pulumi refuses to run a stack that leaves out a declared key without a default.
    declared = project()["config"]
    without_default = {k for k, v in declared.items() if "default" not in v}
    required = {
        f"{NAMESPACE}:{f.alias or name}"
        for name, f in StackConfig.model_fields.items()
        if f.is_required()
    }
    assert without_default == required


def _outcome(values: dict[str, Any]) -> Any:
    try:
        return validate_config(values, "stack")
    except ConfigError as exc:
        return exc.lines


def _wire(value: Any) -> Any:
    """A value as the Pulumi CLI hands it to the program: objects and lists as JSON text."""
    return json.dumps(value) if isinstance(value, dict | list) else value


SHIPPED = [name for name in load_project().stacks()]


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_default_means_unset_on_the_shipped_stacks(stack: str) -> None:
    values = split_namespace(load_project().stack_config(stack))
    baseline = _outcome(values)
    assert isinstance(baseline, StackConfig), baseline
    for key, entry in project()["config"].items():
        if "default" not in entry:
            continue
        name = key.split(":", 1)[1]
        without = {k: v for k, v in values.items() if k != name}
        expected = _outcome(without)
        for form in (entry["default"], _wire(entry["default"])):
            assert _outcome({**without, name: form}) == expected, (stack, key, form)
