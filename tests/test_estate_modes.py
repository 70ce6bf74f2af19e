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
    # A dedicated cluster has no serving plane (issue 12): its endpoints are refused by the schema.
    config.pop("ai-estate:serving", None)
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
    # the BU key (the other key is the backup copy's, in the DR region)
    [key] = [k for k in by_type(inventory, "aws:kms/key:Key") if not k.inputs.get("region")]
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


def test_the_dedicated_add_on_boundary_still_lets_the_add_ons_work(tmp_path):
    """Liveness beside the boundary's safety: evaluated with the IAM evaluator on the rendered
    policies, the dedicated cluster's Karpenter and Cluster Autoscaler can still do their jobs
    under the boundary, and nothing under it reaches the BU's data."""
    from estate.analysis.iam import Principal, allowed

    inventory = render_stack(load_project(dedicated_project(tmp_path)), "payments-prod")
    [boundary] = [
        p for p in by_type(inventory, "aws:iam/policy:Policy") if "cluster-boundary" in p.name
    ]
    ceiling = json.loads(boundary.inputs["policy"])

    def role(part: str) -> Principal:
        [policy] = [
            p for p in by_type(inventory, "aws:iam/rolePolicy:RolePolicy") if part in p.name
        ]
        return Principal(
            arn=f"arn:aws:iam::222222222222:role/{part}",
            identity_policies=(json.loads(policy.inputs["policy"]),),
            permissions_boundary=ceiling,
        )

    account, region, cluster = "222222222222", "us-east-1", "payments-prod-ai"
    karpenter, autoscaler = role("karpenter-controller-policy"), role("cluster-autoscaler-policy")
    launch_tags = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster,
        "aws:RequestTag/karpenter.sh/nodepool": "payments-train",
    }
    for resource in (
        f"arn:aws:ec2:{region}:{account}:instance/i-1",
        f"arn:aws:ec2:{region}:{account}:capacity-reservation/cr-0a1b2c3d",
        f"arn:aws:ec2:{region}:{account}:volume/vol-1",
    ):
        assert allowed(karpenter, "ec2:RunInstances", resource, context=launch_tags), resource
    assert allowed(karpenter, "ec2:RunInstances", f"arn:aws:ec2:{region}::image/ami-1")
    assert allowed(
        karpenter,
        "iam:PassRole",
        f"arn:aws:iam::{account}:role/ai-estate/nodes/payments-prod-gpu-node",
        context={"iam:PassedToService": "ec2.amazonaws.com"},
    )
    assert allowed(
        karpenter, "sqs:ReceiveMessage", f"arn:aws:sqs:{region}:{account}:{cluster}-karpenter"
    )
    assert allowed(
        karpenter,
        "ssm:GetParameter",
        f"arn:aws:ssm:{region}::parameter/aws/service/eks/optimized-ami/1.35/x",
    )
    assert allowed(
        autoscaler,
        "autoscaling:SetDesiredCapacity",
        f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:1:autoScalingGroupName/g",
        context={f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"},
    )
    # the ceiling holds even against an identity policy that would allow everything
    greedy = Principal(
        arn=f"arn:aws:iam::{account}:role/x",
        identity_policies=(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
        ),
        permissions_boundary=ceiling,
    )
    for action, resource in (
        ("s3:GetObject", "arn:aws:s3:::payments-prod-features-222222222222/x"),
        ("dynamodb:GetItem", f"arn:aws:dynamodb:{region}:{account}:table/payments-prod-online"),
        ("iam:CreateRole", f"arn:aws:iam::{account}:role/escalate"),
        ("iam:DeletePolicy", boundary.inputs.get("arn", f"arn:aws:iam::{account}:policy/x")),
    ):
        assert not allowed(greedy, action, resource), action


def test_a_dedicated_cluster_is_in_its_bus_backup_selection(tmp_path):
    """A dedicated cluster is the BU's: its state and volumes go to the BU's vault, and the
    shipped gate's `backup-covers-data-stores` finds it selected."""
    import sys

    inventory = render_stack(load_project(dedicated_project(tmp_path)), "payments-prod")
    [cluster] = by_type(inventory, "aws:eks/cluster:Cluster")
    [selection] = by_type(inventory, "aws:backup/selection:Selection")
    cluster_arns = [a for a in selection.inputs["resources"] if ":eks:" in a]
    assert cluster_arns == [f"arn:aws:eks:us-east-1:222222222222:cluster/{cluster.inputs['name']}"]
    assert cluster.inputs["tags"]["BusinessUnit"] == "payments"
    sys.path.insert(0, str(ROOT / "policies"))
    sys.path.insert(0, str(ROOT / "tests" / "policies"))
    from policy_harness import check

    assert check("backup-covers-data-stores", inventory, environment="prod") == []
