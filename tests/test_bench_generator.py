"""The benchmark's generated BU stacks stay valid stacks (benchmarks/bench_check.py): a stack the
schema refuses would make `--ratios` measure config errors instead of checks."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from estate.stack.config import split_namespace, validate_config
from tests.conftest import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location(
        "bench_check", ROOT / "benchmarks" / "bench_check.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_bu_stack


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_each_generated_bu_stack_validates(index):
    name, text = _generator()(index)
    config = yaml.safe_load(text)["config"]
    model = validate_config(split_namespace(config), f"stacks/Pulumi.{name}.yaml")
    assert model.environment == ("prod" if index % 2 else "dev")
    if model.environment == "prod":
        # what the prod rules ask of it: an owned, retrained, carded family; a DR copy
        assert set(model.mlops.families) == {"scoring"}
        assert model.backup.dr_region == "us-west-2"
