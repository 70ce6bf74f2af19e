"""The system pool is for the cluster's add-ons only, and BU pods have somewhere to run.

Proved on the shipped stacks rendered through the program: the system node group is tainted
`CriticalAddonsOnly=true:NoSchedule` and keeps the size Cluster Autoscaler gave it; every
workload the platform runs tolerates that taint and selects the pool, or is meant to run on GPU
nodes (or, for EKS add-ons, is known to tolerate it by default); and a BU pod that asks for no
GPU is admitted by exactly one pool, the BU CPU pool, while a BU GPU pod is admitted by its own
BU's GPU pool. Scheduling is modelled with Kubernetes' taint/toleration and nodeSelector rules.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.addons import SYSTEM_POOL_TOLERATION
from components.cluster import BU_CPU_POOL_LABELS, SYSTEM_POOL_LABELS
from estate.offline.engine import render
from estate.offline.project import load_project

ROOT = Path(__file__).resolve().parent.parent
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "aws:eks/addon:Addon"
WORKLOADS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:StatefulSet",
)
EKS_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}
#: Labels the kubelet puts on every node of these (x86_64 Linux) pools.
KUBELET_LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}

#: Where each chart's pods run. `system`: tolerates the taint and selects the system pool;
#: `gpu`: DaemonSets on GPU nodes only; `none`: no pods (CRDs).
CHART_PLACEMENT = {
    "cluster-autoscaler": "system",
    "karpenter": "system",
    "karpenter-crd": "none",
    "nvidia-device-plugin": "gpu",
    "dcgm-exporter": "gpu",
    "gpu-operator": "system",
    # serving (components/serving.py): controllers pinned to the system pool
    "aws-load-balancer-controller": "system",
    "keda": "system",
    # Kueue (components/kueue.py): its controller, on the system pool
    "kueue": "system",
}
#: EKS managed add-ons and why each one's pods schedule with the system pool tainted.
ADDON_PLACEMENT = {
    # DaemonSets that tolerate every taint (`operator: Exists`): on every node.
    "eks-pod-identity-agent": "daemonset",
    "vpc-cni": "daemonset",
    "kube-proxy": "daemonset",
    # Deployments whose manifests tolerate CriticalAddonsOnly by default: the upstream CoreDNS
    # manifest (coredns/deployment kubernetes/coredns.yaml.sed) and the EBS CSI chart's
    # `controller.tolerations` (kubernetes-sigs/aws-ebs-csi-driver charts/.../values.yaml).
    "coredns": "tolerates",
    "aws-ebs-csi-driver": "tolerates",
    # Deployments that run wherever an untainted node is: the BU CPU pool.
    "amazon-cloudwatch-observability": "bu-cpu",
    "kube-state-metrics": "bu-cpu",
    "metrics-server": "bu-cpu",
}


def of_type(inventory, typ: str) -> list:
    return [r for r in inventory.resources if r.type == typ]


def tolerates(toleration: dict[str, Any], taint: dict[str, str]) -> bool:
    """Kubernetes: an empty key with Exists matches every taint; else keys match and, for
    Equal (the default), values too; an empty effect matches every effect."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and toleration.get("value", "") == taint.get(
        "value", ""
    )


def admits(pool: dict[str, Any], pod: dict[str, Any]) -> bool:
    """Whether a pod may be scheduled onto a node of the pool (taints and nodeSelector)."""
    for taint in pool["taints"]:
        if taint["effect"] == "PreferNoSchedule":
            continue
        if not any(tolerates(t, taint) for t in pod.get("tolerations", [])):
            return False
    return all(pool["labels"].get(k) == v for k, v in pod.get("nodeSelector", {}).items())


def pools(*inventories) -> dict[str, dict[str, Any]]:
    """Every node pool of the rendered stacks: managed node groups and Karpenter NodePools."""
    found = {}
    for inventory in inventories:
        for group in of_type(inventory, NODE_GROUP):
            found[group.name] = {
                "labels": {**KUBELET_LABELS, **(group.inputs.get("labels") or {})},
                "taints": [
                    {**t, "effect": EKS_EFFECTS[t["effect"]]}
                    for t in group.inputs.get("taints") or []
                ],
            }
        for pool in of_type(inventory, NODE_POOL):
            template = pool.inputs["spec"]["template"]
            found[pool.name] = {
                "labels": {**KUBELET_LABELS, **template["metadata"]["labels"]},
                "taints": template["spec"].get("taints") or [],
            }
    return found


def system_pool(inventory) -> Any:
    [group] = [
        g for g in of_type(inventory, NODE_GROUP) if g.inputs["labels"] == SYSTEM_POOL_LABELS
    ]
    return group


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_system_pool_is_tainted_for_add_ons_only(rendered, stack):
    group = system_pool(rendered(stack))
    assert group.inputs["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
    ]


def render_with_options(stack: str):
    """Render a shipped stack and capture every resource's options (the mock monitor does not
    record ignore_changes; a stack transformation in the SDK sees them)."""
    project = load_project(ROOT)
    captured: dict[str, pulumi.ResourceOptions] = {}

    def capture(args: pulumi.ResourceTransformationArgs):
        captured[args.name] = args.opts
        return None

    def program():
        pulumi.runtime.register_stack_transformation(capture)
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    inventory = render(
        program, stack=stack, project=project.name, config=project.stack_config(stack)
    )
    return inventory, captured


def test_platform_node_groups_leave_the_desired_size_to_the_autoscaler():
    inventory, options = render_with_options("platform-prod")
    groups = of_type(inventory, NODE_GROUP)
    assert {g.inputs["labels"]["ai-estate/pool"] for g in groups} == {"system", "bu-cpu"}
    for group in groups:
        # the property path the engine diffs: a `pulumi up` must not reset what CA scaled
        assert options[group.name].ignore_changes == ["scalingConfig.desiredSize"], group.name


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_every_platform_workload_tolerates_the_system_pool_or_runs_elsewhere(rendered, stack):
    inventory = rendered(stack)
    system = pools(inventory)[system_pool(inventory).name]
    for release in of_type(inventory, RELEASE):
        name, values = release.inputs["name"], release.inputs.get("values") or {}
        placement = CHART_PLACEMENT.get(name)
        assert placement, f"{stack}: chart {name} is new: say where its pods run"
        if placement == "system":
            # the GPU Operator and Kueue nest their controller's own
            scheduling = values.get("operator", values.get("controllerManager", values))
            pod = {
                "tolerations": scheduling.get("tolerations", []),
                "nodeSelector": scheduling.get("nodeSelector", {}),
            }
            assert SYSTEM_POOL_TOLERATION in pod["tolerations"], name
            assert admits(system, pod), f"{stack}: {name} cannot run on the system pool"
            assert pod["nodeSelector"].items() >= SYSTEM_POOL_LABELS.items(), name
        elif placement == "gpu":
            terms = values["affinity"]["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]["nodeSelectorTerms"]
            assert terms and not admits(system, {"tolerations": values["tolerations"]}), name
    for workload in (r for t in WORKLOADS for r in of_type(inventory, t)):
        spec = workload.inputs["spec"]["template"]["spec"]
        pod = {
            "tolerations": spec.get("tolerations", []),
            "nodeSelector": spec.get("nodeSelector", {}),
        }
        assert admits(system, pod), f"{stack}: {workload.name} cannot run on the system pool"
    untolerating = {"tolerations": [], "nodeSelector": {}}
    for addon in of_type(inventory, ADDON):
        placement = ADDON_PLACEMENT.get(addon.inputs["addonName"])
        assert placement, f"{stack}: add-on {addon.inputs['addonName']} is new: say where it runs"
        if placement == "bu-cpu":
            assert [p for p in pools(inventory).values() if admits(p, untolerating)], addon.name


def bu_pod(bu: str, **spec: Any) -> dict[str, Any]:
    return {"namespace": bu, **spec}


@pytest.mark.parametrize(
    ("platform", "bu"), [("platform-prod", "fraud-prod"), ("platform-dev", "marketing-dev")]
)
def test_a_bu_cpu_pod_fits_the_bu_cpu_pool_and_nothing_else(rendered, platform, bu):
    every_pool = pools(rendered(platform), rendered(bu))
    cpu_pod = bu_pod(bu.split("-")[0])  # no GPU: no tolerations, no selector
    fits = [name for name, pool in every_pool.items() if admits(pool, cpu_pod)]
    assert len(fits) == 1, fits
    assert every_pool[fits[0]]["labels"].items() >= BU_CPU_POOL_LABELS.items(), fits
    # the pool exists to be scaled: a managed group with room to grow, and an autoscaler on
    # the cluster to grow it (platform-dev provisions GPUs with Karpenter alone)
    [group] = [g for g in of_type(rendered(platform), NODE_GROUP) if g.name == fits[0]]
    assert group.inputs["scalingConfig"]["maxSize"] > group.inputs["scalingConfig"]["minSize"]
    releases = {r.inputs["name"] for r in of_type(rendered(platform), RELEASE)}
    assert "cluster-autoscaler" in releases


def test_a_bu_gpu_pod_fits_its_own_gpu_pool_never_the_system_pool(rendered):
    platform, fraud = rendered("platform-prod"), rendered("fraud-prod")
    every_pool = pools(platform, fraud)
    system = system_pool(platform).name
    for name, pool in pools(fraud).items():
        gpu_pod = {
            "tolerations": [
                {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
                for t in pool["taints"]
            ],
            "nodeSelector": {
                "ai-estate/pool": pool["labels"]["ai-estate/pool"],
                "ai-estate/bu": "fraud",
            },
        }
        fits = [n for n, p in every_pool.items() if admits(p, gpu_pod)]
        assert name in fits and system not in fits, (name, fits)
