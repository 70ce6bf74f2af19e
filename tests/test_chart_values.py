"""Every key the components set in a chart's values exists in that chart version's own
values.yaml (vendored under tests/vendor/charts): Helm silently ignores a misspelt or renamed
key, so without this a value can stop applying on an upgrade and nobody notices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components import addons
from components.charts import all_charts, chart
from components.cluster import SYSTEM_POOL_LABELS

VENDOR = Path(__file__).resolve().parent / "vendor" / "charts"
RELEASE = "kubernetes:helm.sh/v3:Release"

#: Keys whose values are free-form maps in every chart (label maps, scheduler terms, resource
#: quantities, CLI flags): what is under them is Kubernetes' or the program's, not the chart's.
FREE_FORM = {"nodeSelector", "affinity", "resources", "extraArgs", "annotations", "labels"}


def vendored(chart_name: str, version: str) -> dict[str, Any]:
    return yaml.safe_load((VENDOR / f"{chart_name}-{version}" / "values.yaml").read_text()) or {}


def unknown_keys(
    ours: Any, theirs: Any, where: str, subcharts: dict[str, Any], templates: str = ""
) -> list[str]:
    """Paths in `ours` that `theirs` (the chart's values.yaml) does not have, unless a vendored
    template of the chart reads `.Values.<path>` (a few keys are documented only there)."""
    if not isinstance(ours, dict):
        return []
    if not isinstance(theirs, dict):
        return (
            [] if theirs in (None, {}) else [f"{where} (the chart has a {type(theirs).__name__})"]
        )
    if theirs == {}:
        return []  # an empty map in the chart: its keys are the user's
    problems = []
    for key, value in ours.items():
        path = f"{where}.{key}" if where else key
        if key in subcharts and not where:
            problems += unknown_keys(value, subcharts[key], path, {})
        elif key not in theirs:
            if f".Values.{path}" not in templates:
                problems.append(path)
        elif key not in FREE_FORM:
            problems += unknown_keys(value, theirs[key], path, {}, templates)
    return problems


def subcharts_of(chart_name: str, version: str) -> dict[str, Any]:
    base = VENDOR / f"{chart_name}-{version}" / "charts"
    if not base.is_dir():
        return {}
    return {d.name: yaml.safe_load((d / "values.yaml").read_text()) for d in base.iterdir()}


def templates_of(chart_name: str, version: str) -> str:
    base = VENDOR / f"{chart_name}-{version}" / "templates"
    return "".join(p.read_text() for p in sorted(base.glob("*.yaml"))) if base.is_dir() else ""


def check(chart_name: str, values: dict[str, Any]) -> list[str]:
    pin = chart(chart_name)
    return unknown_keys(
        values,
        vendored(pin.chart, pin.version),
        "",
        subcharts_of(pin.chart, pin.version),
        templates_of(pin.chart, pin.version),
    )


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_every_value_the_shipped_platform_sets_is_a_chart_key(rendered, stack):
    releases = [r for r in rendered(stack).resources if r.type == RELEASE]
    releases = [r for r in releases if r.inputs["name"] in all_charts()]  # serving checks its own
    assert {r.inputs["name"] for r in releases} >= {"karpenter", "dcgm-exporter"}
    for release in releases:
        problems = check(release.inputs["name"], release.inputs.get("values") or {})
        assert problems == [], f"{stack} {release.inputs['name']}: not in values.yaml: {problems}"


def test_gpu_operator_values_are_chart_keys():
    # No shipped stack runs the GPU Operator; the builder's output for every mode is checked.
    for mig, slices in (("none", None), ("single", None), ("mixed", 4)):
        values = addons.gpu_operator_values(mig, slices, SYSTEM_POOL_LABELS)
        assert check("gpu-operator", values) == []


def test_device_plugin_values_with_and_without_time_slicing_are_chart_keys():
    for slices in (None, 4):
        assert check("nvidia-device-plugin", addons.device_plugin_values(slices)) == []


def test_a_misspelt_key_is_caught():
    values = addons.karpenter_values("c", "q", "us-east-1", 2, SYSTEM_POOL_LABELS)
    values["settings"]["interuptionQueue"] = "q"  # sic
    values["tolerration"] = []  # sic
    assert check("karpenter", values) == ["settings.interuptionQueue", "tolerration"]
    ops = addons.gpu_operator_values("none", None, SYSTEM_POOL_LABELS)
    ops["node-feature-discovery"]["master"]["tollerations"] = []  # sic, in the subchart
    assert check("gpu-operator", ops) == ["node-feature-discovery.master.tollerations"]
