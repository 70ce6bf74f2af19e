"""Every Kubernetes object the estate renders is valid for the cluster's Kubernetes version."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from estate.offline.project import load_project
from estate.stack.config import ClusterConfig
from tests.conftest import ROOT, SHIPPED_STACKS

# Opaque to schema validation: Helm releases are charts, providers are not objects, and
# custom resources (Karpenter) are checked field by field in tests/test_gpu_pools.py.
NOT_MANIFESTS = ("kubernetes:helm.sh/", "pulumi:providers:")
CORE_GROUPS = (
    "core",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "admissionregistration.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
)


def cluster_version(stack: str) -> str:
    """The Kubernetes version the stack's objects run on: its own cluster's, or for a BU on the
    shared cluster, its platform stack's (`ai-estate:cluster.version`, else the default)."""
    project = load_project(ROOT)
    config = project.stack_config(stack)
    cluster = config.get("ai-estate:cluster") or {}
    cluster = json.loads(cluster) if isinstance(cluster, str) else cluster
    if cluster.get("mode", "shared") == "shared" and config.get("ai-estate:platformStack"):
        return cluster_version(str(config["ai-estate:platformStack"]).rsplit("/", 1)[-1])
    return str(cluster.get("version") or ClusterConfig().version)


def manifest(resource) -> dict:
    _, group_version, kind = resource.type.split(":", 2)
    group, version = group_version.rsplit("/", 1)
    api_version = version if group == "core" else f"{group}/{version}"
    body = {k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **body}


def kubernetes_objects(inventory):
    for r in inventory.resources:
        if not r.type.startswith("kubernetes:") or r.type.startswith(NOT_MANIFESTS):
            continue
        group = r.type.split(":")[1].rsplit("/", 1)[0]
        if group in CORE_GROUPS:
            yield r


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_rendered_kubernetes_object_validates(rendered, stack):
    objects = list(kubernetes_objects(rendered(stack)))
    assert objects, f"{stack} renders no Kubernetes objects"
    version = cluster_version(stack)
    for r in objects:
        try:
            kubernetes_validate.validate(manifest(r), version, strict=True)
        except kubernetes_validate.ValidationError as exc:  # pragma: no cover - failure path
            pytest.fail(f"{stack}: {r.type} {r.name}: {exc.message}")


def test_objects_are_validated_for_the_configured_cluster_version():
    assert {cluster_version(s) for s in SHIPPED_STACKS} == {"1.35"}


def test_bu_stacks_carry_their_tenancy(rendered):
    for stack, bu in (("fraud-prod", "fraud"), ("marketing-dev", "marketing")):
        kinds = {r.type.rsplit(":", 1)[-1] for r in kubernetes_objects(rendered(stack))}
        assert {
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "NetworkPolicy",
            "Role",
            "RoleBinding",
        } <= kinds
        [ns] = [r for r in rendered(stack).resources if r.type == "kubernetes:core/v1:Namespace"]
        assert ns.inputs["metadata"]["labels"]["ai-estate/bu"] == bu
