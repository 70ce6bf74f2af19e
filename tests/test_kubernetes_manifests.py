"""Every Kubernetes object the estate renders is valid for the cluster's Kubernetes version."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.conftest import SHIPPED_STACKS

KUBERNETES_VERSION = "1.31"
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
    for r in objects:
        try:
            kubernetes_validate.validate(manifest(r), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:  # pragma: no cover - failure path
            pytest.fail(f"{stack}: {r.type} {r.name}: {exc.message}")


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
