"""Deploy-path properties of the platform cluster on the rendered shipped stacks: pinned EKS
add-on versions (never "most recent"), one DCGM exporter per GPU node, and create/delete
ordering (the Kubernetes provider waits for the API-access rules; GPU nodes and node classes
wait for the node role's access entry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pulumi_aws as aws
import pytest
import yaml

from components import cluster as cluster_module
from components.cluster import EksCluster, EksClusterArgs, addon_names
from estate.offline.engine import render
from estate.stack.config import ConfigError, split_namespace, validate_config

ROOT = Path(__file__).resolve().parent.parent
ADDON = "aws:eks/addon:Addon"
RELEASE = "kubernetes:helm.sh/v3:Release"


def of_type(inventory, typ: str) -> list:
    return [r for r in inventory.resources if r.type == typ]


def stack_config(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return split_namespace(doc["config"])


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_managed_addons_run_the_pinned_versions(rendered, stack):
    pins = stack_config(stack)["cluster"]["addonVersions"]
    cluster_addons = {
        a.inputs["addonName"]: a.inputs["addonVersion"]
        for a in of_type(rendered(stack), ADDON)
        if a.inputs["addonName"] in addon_names()
    }
    assert cluster_addons == pins


def test_prod_refuses_an_unpinned_addon_naming_the_key():
    values = stack_config("platform-prod")
    del values["cluster"]["addonVersions"]["coredns"]
    with pytest.raises(ConfigError) as err:
        validate_config(values, "stacks/Pulumi.platform-prod.yaml")
    [line] = err.value.lines
    assert line.startswith("stacks/Pulumi.platform-prod.yaml: ai-estate:cluster.addonVersions:")
    assert "missing coredns" in line
    values = stack_config("platform-dev")  # dev may leave one to EKS's default
    del values["cluster"]["addonVersions"]["coredns"]
    assert "coredns" not in validate_config(values, "x").cluster.addon_versions


def test_an_unpinned_addon_gets_the_default_version_never_the_newest(monkeypatch):
    from tests.test_cluster import PROD_ARGS

    asked: list[dict[str, Any]] = []
    real = aws.eks.get_addon_version_output

    def spy(**kwargs):
        asked.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(cluster_module.aws.eks, "get_addon_version_output", spy)
    args = {**PROD_ARGS, "addon_versions": {"vpc-cni": "v1.21.1-eksbuild.3"}}
    inventory = render(
        lambda: EksCluster("platform-prod-cluster", cast(EksClusterArgs, args)),
        stack="platform-prod",
        project="ai-estate",
        config={"aws:region": "us-east-1"},
    )
    assert {a["addon_name"] for a in asked} == set(addon_names()) - {"vpc-cni"}
    assert all(a["most_recent"] is False for a in asked)
    [cni] = [a for a in of_type(inventory, ADDON) if a.inputs["addonName"] == "vpc-cni"]
    assert cni.inputs["addonVersion"] == "v1.21.1-eksbuild.3"


def dcgm_exporters(inventory) -> list[str]:
    """Who runs a DCGM exporter on GPU nodes: our chart, the GPU Operator, the CloudWatch add-on."""
    found = []
    for release in of_type(inventory, RELEASE):
        values = release.inputs.get("values") or {}
        if release.inputs["name"] == "dcgm-exporter":
            found.append("dcgm-exporter chart")
        if release.inputs["name"] == "gpu-operator" and values.get("dcgmExporter", {}).get(
            "enabled", True
        ):
            found.append("gpu-operator")
    for addon in of_type(inventory, ADDON):
        if addon.inputs["addonName"] == "amazon-cloudwatch-observability":
            config = json.loads(addon.inputs.get("configurationValues") or "{}")
            # the add-on chart's `dcgmExporter.enabled` defaults to true
            if config.get("dcgmExporter", {}).get("enabled", True):
                found.append("amazon-cloudwatch-observability")
    return found


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_one_dcgm_exporter_per_gpu_node(rendered, stack):
    assert dcgm_exporters(rendered(stack)) == ["dcgm-exporter chart"]


def test_the_kubernetes_provider_waits_for_the_api_access_rules(rendered):
    inventory = rendered("platform-prod")
    rules = [
        r.urn
        for r in of_type(inventory, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if "api-access" in r.name
    ]
    [provider] = of_type(inventory, "pulumi:providers:kubernetes")
    assert rules and set(rules) <= set(provider.dependencies)


def test_gpu_nodes_and_node_classes_depend_on_the_node_access_entry(rendered):
    inventory = rendered("fraud-prod")
    [entry] = [
        e for e in of_type(inventory, "aws:eks/accessEntry:AccessEntry") if "gpu-node" in e.name
    ]
    for typ in ("aws:eks/nodeGroup:NodeGroup", "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"):
        found = of_type(inventory, typ)
        assert found, typ
        for r in found:
            assert entry.urn in r.dependencies, r.name


def test_no_addon_of_the_shipped_platform_floats_to_the_newest_version(monkeypatch):
    from estate.offline.project import load_project

    asked: list[dict[str, Any]] = []
    real = aws.eks.get_addon_version_output

    def spy(**kwargs):
        asked.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(aws.eks, "get_addon_version_output", spy)
    project = load_project(ROOT)
    render(
        ROOT,
        stack="platform-dev",
        project=project.name,
        config=project.stack_config("platform-dev"),
    )
    # the cluster's own add-ons are pinned (never looked up); the others take EKS's default
    assert {"amazon-cloudwatch-observability", "kube-state-metrics"} <= {
        a["addon_name"] for a in asked
    }
    assert not {a["addon_name"] for a in asked} & set(addon_names())
    assert [a["addon_name"] for a in asked if a.get("most_recent") is not False] == []


def test_the_bu_cpu_pool_can_be_switched_off():
    from tests.test_cluster import PROD_ARGS

    pool = {"instance_types": ["m6i.xlarge"], "min_size": 1, "desired_size": 1, "max_size": 3}
    groups = {}
    for enabled in (True, False):
        args = {**PROD_ARGS, "bu_cpu_nodes": {**pool, "disk_gib": 50, "enabled": enabled}}
        inventory = render(
            lambda a=args: EksCluster("platform-prod-cluster", cast(EksClusterArgs, a)),
            stack="platform-prod",
            project="ai-estate",
            config={"aws:region": "us-east-1"},
        )
        groups[enabled] = sorted(
            g.inputs["labels"]["ai-estate/pool"]
            for g in of_type(inventory, "aws:eks/nodeGroup:NodeGroup")
        )
    assert groups == {True: ["bu-cpu", "system"], False: ["system"]}
