"""Tenancy modes: a BU on the shared platform cluster, or a regulated BU with its own cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from estate.offline.gate import render_stack
from estate.offline.project import load_project

ROOT = Path(__file__).resolve().parent.parent


def by_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def test_dedicated_bu_builds_its_own_network_and_cluster(tmp_path):
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("components", "estate"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.fraud-prod.yaml").read_text())
    config = doc["config"]
    config["ai-estate:businessUnit"] = "payments"
    config["ai-estate:cluster"] = {"mode": "dedicated", "gpuProvisioners": ["managed", "karpenter"]}
    config["ai-estate:network"] = {"cidr": "10.60.0.0/16"}
    # A dedicated cluster has no serving plane (issue 12): its endpoints are refused by the schema.
    config.pop("ai-estate:serving", None)
    (tmp_path / "stacks" / "Pulumi.payments-prod.yaml").write_text(yaml.safe_dump(doc))

    inventory = render_stack(load_project(tmp_path), "payments-prod")
    types = {r.urn: r.type for r in inventory.resources}
    assert by_type(inventory, "pulumi:pulumi:StackReference") == []
    [cluster] = by_type(inventory, "aws:eks/cluster:Cluster")
    assert cluster.inputs["name"] == "payments-prod-ai"
    [vpc] = by_type(inventory, "aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.60.0.0/16"
    # the cluster and network hang under the BU's own estate
    parents = {
        types[r.parent]
        for r in (
            *by_type(inventory, "ai-estate:compute:EksCluster"),
            *by_type(inventory, "ai-estate:network:Network"),
        )
    }
    assert parents == {"ai-estate:estate:BuEstate"}
    # its GPU pools join its own cluster, and its key may encrypt EKS's control-plane logs
    for group in by_type(inventory, "aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["clusterName"] == "payments-prod-ai"
    [key] = [k for k in by_type(inventory, "aws:kms/key:Key")]
    assert "/aws/eks/payments-prod-ai/" in key.inputs["policy"]
    assert inventory.outputs["clusterName"] == "payments-prod-ai"


def test_shared_bu_uses_the_platform_cluster(rendered):
    inventory = rendered("fraud-prod")
    assert by_type(inventory, "aws:eks/cluster:Cluster") == []
    platform = rendered("platform-prod").outputs
    for group in by_type(inventory, "aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["clusterName"] == platform["clusterName"]
    # BU node roles live under the path the platform's Karpenter may pass
    [role] = [r for r in by_type(inventory, "aws:iam/role:Role") if "gpu-node" in r.name]
    assert role.inputs["path"] == platform["nodeRolePath"]
    pools = inventory.outputs["gpuPools"]
    assert pools["train-a10g"]["maxGpus"] == 8 and pools["serve-a10g"]["provisioner"] == "managed"
