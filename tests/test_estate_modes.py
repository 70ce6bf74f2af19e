"""Tenancy modes: a BU on the shared platform cluster, or a regulated BU with its own cluster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from estate.offline.gate import Job, render_stack, run_job
from estate.offline.project import load_project

ROOT = Path(__file__).resolve().parent.parent


def by_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def dedicated_project(tmp_path: Path) -> Path:
    """A project with one regulated BU (`payments-prod`) on its own cluster: fraud-prod's stack
    with `cluster: {mode: dedicated}` and the platform's add-on pins (prod requires them)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("components", "estate"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "stacks").mkdir()
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.fraud-prod.yaml").read_text())
    platform = yaml.safe_load((ROOT / "stacks" / "Pulumi.platform-prod.yaml").read_text())
    config = doc["config"]
    config["ai-estate:businessUnit"] = "payments"
    config["ai-estate:cluster"] = {
        "mode": "dedicated",
        "gpuProvisioners": ["managed", "karpenter"],
        "addonVersions": platform["config"]["ai-estate:cluster"]["addonVersions"],
    }
    config["ai-estate:network"] = {"cidr": "10.60.0.0/16"}
    (tmp_path / "stacks" / "Pulumi.payments-prod.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_dedicated_bu_builds_its_own_network_and_cluster(tmp_path):
    inventory = render_stack(load_project(dedicated_project(tmp_path)), "payments-prod")
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


def test_dedicated_mode_passes_the_pack(tmp_path):
    """A documented mode passes the project's own gate: the dedicated cluster's add-on roles
    (VPC CNI, EBS CSI, Cluster Autoscaler, Karpenter, the two CloudWatch agents) are BU roles
    that pods assume, so they carry the cluster's add-on boundary."""
    result = run_job(Job(project_path=dedicated_project(tmp_path), stack="payments-prod"))
    assert result.error is None
    assert [f"{f.policy}: {f.message}" for f in result.findings] == []
    inventory = result.inventory
    [boundary] = [
        p
        for p in by_type(inventory, "aws:iam/policy:Policy")
        if "addon" in p.name or "cluster-boundary" in p.name
    ]
    assert boundary.inputs["name"] == "payments-prod-ai-addon-boundary"
    pod_roles = [
        r
        for r in by_type(inventory, "aws:iam/role:Role")
        if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]
    ]
    cluster_roles = [r for r in pod_roles if "-cluster-" in r.name or "-monitoring-" in r.name]
    assert len(cluster_roles) == 6
    for role in cluster_roles:
        assert boundary.urn in role.property_dependencies.get("permissionsBoundary", []), role.name
    # the ceiling reaches no BU data
    document = json.loads(boundary.inputs["policy"])
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert not {a for a in actions if a.split(":")[0] in {"s3", "dynamodb", "sagemaker", "glue"}}
