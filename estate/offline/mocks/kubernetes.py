"""Kubernetes objects: inputs echoed back, plus what the API server adds, by kind.

The generic answer names (autonaming as the Kubernetes provider does), namespaces, and stamps
uid, resourceVersion, generation and creationTimestamp on every object; a kind's
`@kubernetes_status` handler adds the status the controllers would report (a Service's cluster IP
and load balancer, a Deployment's ready replicas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from estate.offline.mocks.common import (
    CREATED_AT,
    dig,
    stable_digits,
    stable_hex,
    stable_int,
    stable_uuid,
)
from estate.offline.mocks.registry import KUBERNETES_STATUS, invoke, kubernetes_status

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks

#: Kubernetes kinds that are not namespaced.
CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CertificateSigningRequest",
    "PodSecurityPolicy",
    "FlowSchema",
    "PriorityLevelConfiguration",
}


def new_resource(
    m: EstateMocks, args: pulumi.runtime.MockResourceArgs, typ: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Inputs echoed back, plus what the API server adds: name, namespace, uid, status."""
    kind = inputs.get("kind") or typ.rsplit(":", 1)[-1]
    metadata = dict(inputs.get("metadata") or {})
    if not metadata.get("name"):
        # The Kubernetes provider autonames as `<logical name>-<8 hex>` and says so.
        metadata["name"] = f"{args.name}-{stable_hex(typ, args.name, m.salt, length=8)}"
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            "pulumi.com/autonamed": "true",
        }
    namespaced = kind not in CLUSTER_SCOPED and not typ.endswith("List")
    if namespaced:
        metadata["namespace"] = metadata.get("namespace") or "default"
    else:
        metadata.pop("namespace", None)
    # A name or namespace that is another resource's output is unknown at preview: the state
    # keeps it unknown, and the ID (which must be a stable string) uses the logical name.
    name = metadata["name"] if isinstance(metadata["name"], str) else args.name
    namespace = metadata.get("namespace")
    ident = f"{namespace if isinstance(namespace, str) else '-'}/{name}" if namespaced else name
    metadata.setdefault("uid", stable_uuid(typ, ident, m.salt))
    metadata.setdefault("resourceVersion", str(stable_int(typ, ident, modulo=900000) + 1000))
    metadata.setdefault("generation", 1)
    metadata.setdefault("creationTimestamp", CREATED_AT)
    state = {**inputs, "metadata": metadata}
    state.setdefault("kind", kind)

    spec = inputs.get("spec")
    spec = dict(spec) if isinstance(spec, dict) else None
    handler = KUBERNETES_STATUS.get(kind)
    status = handler(m, spec if spec is not None else {}, ident) if handler else None
    if spec is not None:
        state["spec"] = spec
    if status is not None:
        state["status"] = status
    return ident, state


@kubernetes_status("Service")
def _service(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    """Completes the spec as the API server does (cluster IP, node ports) and adds the LB."""
    svc_type = spec.setdefault("type", "ClusterIP")
    if svc_type != "ExternalName" and not spec.get("clusterIP"):
        h = stable_hex("clusterip", ident, length=4)
        ip = f"172.20.{int(h[:2], 16)}.{int(h[2:], 16) % 254 + 1}"
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("sessionAffinity", "None")
    ports = []
    for i, port in enumerate(spec.get("ports") or []):
        port = dict(port)
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if svc_type in ("LoadBalancer", "NodePort") and not port.get("nodePort"):
            port["nodePort"] = 30000 + stable_int("nodeport", ident, str(i), modulo=2768)
        ports.append(port)
    if ports:
        spec["ports"] = ports
    if svc_type == "LoadBalancer":
        lb = stable_hex("elb", ident, length=32)
        digits = stable_digits("elb", ident, length=10)
        host = f"a{lb}-{digits}.{m.region}.elb.amazonaws.com"
        return {"loadBalancer": {"ingress": [{"hostname": host}]}}
    return {"loadBalancer": {}}


@kubernetes_status("StatefulSet", "ReplicaSet")
def _replicated(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    replicas = spec.get("replicas", 1)
    return {
        "observedGeneration": 1,
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
    }


@kubernetes_status("Deployment")
def _deployment(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    status = _replicated(m, spec, ident)
    status["conditions"] = [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
    ]
    return status


@kubernetes_status("DaemonSet")
def _daemon_set(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "currentNumberScheduled": 2,
        "desiredNumberScheduled": 2,
        "numberAvailable": 2,
        "numberReady": 2,
        "numberMisscheduled": 0,
        "updatedNumberScheduled": 2,
    }


@kubernetes_status("Job")
def _job(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    return {"succeeded": 1, "startTime": CREATED_AT, "completionTime": CREATED_AT}


@kubernetes_status("Namespace")
def _namespace(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    return {"phase": "Active"}


@kubernetes_status("PersistentVolumeClaim")
def _claim(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    return {"phase": "Bound", "capacity": dig(spec, "resources", "requests") or {}}


@kubernetes_status("Pod")
def _pod(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    h = stable_hex("podip", ident, length=4)
    return {"phase": "Running", "podIP": f"10.0.{int(h[:2], 16)}.{int(h[2:], 16)}"}


@kubernetes_status("Ingress")
def _ingress(m: EstateMocks, spec: dict[str, Any], ident: str) -> dict[str, Any]:
    lb = stable_hex("alb", ident, length=8)
    digits = stable_digits("alb", ident, length=10)
    host = f"k8s-{lb}-{digits}.{m.region}.elb.amazonaws.com"
    return {"loadBalancer": {"ingress": [{"hostname": host}]}}


@invoke("kubernetes:yaml:decode")
def _decode_yaml(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    """What `kubernetes.yaml.ConfigFile` asks the provider: the YAML's documents, parsed."""
    import yaml

    docs = [d for d in yaml.safe_load_all(str(a.get("text") or "")) if d is not None]
    return {"result": docs}
