"""Kubernetes versions against the EKS calendar (estate/data/eks_versions.yaml): the schema
refuses a version past extended support and asks for `supportType: EXTENDED` inside it, the
shipped platform runs a version in standard support with the upgrade policy said explicitly,
and the cost model prices extended support when a cluster is in it."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from estate.analysis.cost import cost_for, eks_support_tier
from estate.stack.config import ConfigError, split_namespace, validate_config
from estate.stack.eks_versions import calendar, check_version, support_status

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 12, 3)
CLUSTER = "aws:eks/cluster:Cluster"


def months_after(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + year, month=month + 1)


def test_calendar_follows_the_14_plus_12_month_rule():
    for version, entry in calendar().items():
        assert abs((entry.end_of_standard - months_after(entry.released, 14)).days) <= 3, version
        assert entry.end_of_extended == months_after(entry.end_of_standard, 12), version


def test_support_on_2026_12_03():
    # 1.31's extended support ended 2026-11-26; 1.34's standard support ended the day before.
    assert support_status("1.31", TODAY) == "ended"
    assert support_status("1.32", TODAY) == "extended"
    assert support_status("1.34", TODAY) == "extended"
    assert support_status("1.35", TODAY) == "standard"


def test_a_version_in_extended_support_needs_extended_said_explicitly():
    assert "set supportType: EXTENDED" in check_version("1.34", "STANDARD", TODAY)
    assert check_version("1.34", "EXTENDED", TODAY) is None
    assert "past the end of EKS extended support" in check_version("1.31", "EXTENDED", TODAY)
    assert "not in eks_versions.yaml" in check_version("1.39", "STANDARD", TODAY)
    assert "Kubernetes 1.28 is too old" in check_version("1.28", "STANDARD", TODAY)
    assert check_version("1.35", "STANDARD", TODAY) is None


def platform_values(**cluster) -> dict:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.platform-dev.yaml").read_text())
    values = split_namespace(doc["config"])
    values["cluster"] = {**values["cluster"], **cluster}
    return values


def test_schema_refuses_a_version_past_extended_support_naming_file_and_key():
    with pytest.raises(ConfigError) as err:
        validate_config(platform_values(version="1.29"), "stacks/Pulumi.platform-dev.yaml")
    [line] = err.value.lines
    assert line.startswith("stacks/Pulumi.platform-dev.yaml: ai-estate:cluster.version: ")
    assert "Kubernetes 1.29 is past the end of EKS extended support (2026-03-23)" in line


def test_the_default_and_shipped_versions_are_in_standard_support(rendered):
    assert validate_config(platform_values(), "x").cluster.version == "1.35"
    for stack in ("platform-prod", "platform-dev"):
        [cluster] = [r for r in rendered(stack).resources if r.type == CLUSTER]
        assert support_status(cluster.inputs["version"], TODAY) == "standard"
        # EKS's API default is EXTENDED: said explicitly, a forgotten cluster is upgraded
        # instead of billed at six times the rate.
        assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def with_cluster(inventory, **inputs):
    resources = [
        dataclasses.replace(r, inputs={**copy.deepcopy(r.inputs), **inputs})
        if r.type == CLUSTER
        else r
        for r in inventory.resources
    ]
    return dataclasses.replace(inventory, resources=resources)


def control_plane_item(estimate) -> dict:
    [item] = [i for i in estimate["items"] if i["type"] == CLUSTER]
    return item


def test_cost_prices_extended_support_when_the_cluster_is_in_it(rendered):
    inventory = rendered("platform-prod")
    standard = control_plane_item(cost_for(inventory, on=TODAY))
    assert standard["description"] == "EKS control plane (standard support)"
    assert standard["peak"] == pytest.approx(0.10 * 730)

    extended = with_cluster(inventory, version="1.34", upgradePolicy={"supportType": "EXTENDED"})
    item = control_plane_item(cost_for(extended, on=TODAY))
    assert item["description"] == "EKS control plane (extended support)"
    assert item["peak"] == pytest.approx(0.60 * 730)
    # the same cluster before 1.34 left standard support pays the standard rate
    assert control_plane_item(cost_for(extended, on=dt.date(2026, 12, 2)))["peak"] == (
        pytest.approx(0.10 * 730)
    )


def test_support_tier_follows_the_upgrade_policy(rendered):
    [cluster] = [r for r in rendered("platform-prod").resources if r.type == CLUSTER]
    for policy, tier in (({"supportType": "EXTENDED"}, "extended"), ({}, "extended")):
        r = dataclasses.replace(
            cluster, inputs={**cluster.inputs, "version": "1.33", "upgradePolicy": policy}
        )
        assert eks_support_tier(r, TODAY) == tier
    r = dataclasses.replace(
        cluster,
        inputs={**cluster.inputs, "version": "1.33", "upgradePolicy": {"supportType": "STANDARD"}},
    )
    assert eks_support_tier(r, TODAY) == "standard"  # EKS upgrades it instead


def test_kubernetes_validate_has_schemas_for_every_calendar_version_still_deployable():
    # tests/test_kubernetes_manifests.py validates against the shipped cluster's version.
    for version, entry in calendar().items():
        if entry.status(TODAY) != "ended":
            kubernetes_validate.validate(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
                version,
                strict=True,
            )
