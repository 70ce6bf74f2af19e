"""Kubernetes workload rules: no privileged pods, no host namespaces or host paths, resource
limits on every container, and a GPU quota wherever GPUs are requested.

Every GPU node of a BU runs other jobs of that BU and the NVIDIA daemons; a privileged container,
a host namespace or a hostPath volume is root on that node, and from there the node's kubelet
credentials, every other pod's service-account token and the GPUs' memory are reachable. So the
three privilege rules block everywhere.

What is policed: the pod template of every workload kind — `Pod` (`spec`); `Deployment`,
`StatefulSet`, `DaemonSet`, `ReplicaSet`, `ReplicationController` and `Job`
(`spec.template.spec`); `CronJob` (`spec.jobTemplate.spec.template.spec`) — in every API version
pulumi-kubernetes still ships, and their server-side-apply `*Patch` twins for the privilege
rules (a patch can add `privileged: true` as easily as a full object). Patches are not checked
for limits or quota: a patch is a fragment, and what it omits is kept from the live object.

What is not: Helm releases (`kubernetes:helm.sh/v3:Release`) are opaque to the engine — their
values are chart-specific and the objects they create never reach the pack — so the estate's
charts (device plugin, DCGM exporter, GPU Operator, Karpenter, Cluster Autoscaler) are judged by
their pinned versions and values in `components/addons.py`, not here.

Exempt namespaces (a setting of each privilege rule, default `kube-system` and `gpu-operator`):
node agents are privileged by design — the VPC CNI and kube-proxy use the host network, CSI node
plugins mount host paths, the NVIDIA device plugin writes its socket into
`/var/lib/kubelet/device-plugins`, and the GPU Operator's validators and MIG manager run
privileged. Those namespaces are the platform's (BU personas have no RBAC there, and
`gpu-operator` is labelled `pod-security.kubernetes.io/enforce: privileged` for the same reason).
`nvidia-device-plugin`, the upstream chart's suggested namespace, is not exempt by default: the
estate installs the device plugin into `kube-system`, and every exempt name is a place a
privileged pod goes unquestioned; a cluster that uses it adds it through policy config.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyProviderResource,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    ENVIRONMENTS,
    Rule,
    RuleValidate,
    Setting,
    Settings,
    checkov,
    cis_eks,
)
from .properties import as_list, get, is_true, text

# -- workload kinds ------------------------------------------------------------------------------

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where each workload kind keeps its pod spec."""

_WORKLOAD_VERSIONS: dict[str, tuple[str, ...]] = {
    "core/v1": ("Pod", "ReplicationController"),
    "apps/v1": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    "apps/v1beta1": ("Deployment", "StatefulSet"),
    "apps/v1beta2": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    "extensions/v1beta1": ("Deployment", "DaemonSet", "ReplicaSet"),
    "batch/v1": ("Job", "CronJob"),
    "batch/v1beta1": ("CronJob",),
    "batch/v2alpha1": ("CronJob",),
}
"""Every workload type token pulumi-kubernetes 4.x defines (`kubernetes:<group/version>:<Kind>`)."""

WORKLOAD_TYPES = frozenset(
    f"kubernetes:{gv}:{kind}" for gv, kinds in _WORKLOAD_VERSIONS.items() for kind in kinds
)
"""Full workload objects: what runs is exactly what is declared."""
WORKLOAD_PATCH_TYPES = frozenset(f"{t}Patch" for t in WORKLOAD_TYPES)
"""Server-side-apply patches of workloads (`DeploymentPatch`, ...): fragments of an object."""

RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
PRIVILEGED_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN", "CAP_SYS_ADMIN"})
"""Capabilities that amount to a privileged container (SYS_ADMIN can mount, load BPF, ...)."""

GPU_RESOURCE_PREFIX = "nvidia.com/"
"""NVIDIA extended resources: `nvidia.com/gpu`, and MIG slices like `nvidia.com/mig-1g.10gb`."""

DEFAULT_EXEMPT_NAMESPACES = ["kube-system", "gpu-operator"]
DEFAULT_REQUIRED_LIMITS = ["cpu", "memory"]

_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_SUFFIXES = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


# -- reading Kubernetes objects -------------------------------------------------------------------


def quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity (`8`, `8.0`, `"8"`, `"500m"`, `"16Gi"`) as a number.

    None when absent or not a quantity. Numbers arrive as floats from the engine.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _QUANTITY.match(text(value))
        if not match:
            return None
        suffix = match.group(2) or ""
        try:
            scale = 10.0 ** int(suffix[1:]) if suffix[:1] in ("e", "E") else _SUFFIXES[suffix]
            number = float(match.group(1)) * scale
        except OverflowError:
            return None
    return number if math.isfinite(number) else None


def kind_of(resource_type: str) -> str:
    """`kubernetes:apps/v1:DeploymentPatch` -> `Deployment`."""
    return resource_type.rsplit(":", 1)[-1].removesuffix("Patch")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec a workload object declares (None for other kinds or when absent)."""
    path = _POD_SPEC_PATHS.get(kind_of(resource_type))
    if path is None:
        return None
    spec = get(props, *path)
    return spec if isinstance(spec, Mapping) else None


def containers(spec: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """Every container of a pod spec (init, regular, ephemeral) as (label, container)."""
    found = []
    for field in CONTAINER_LISTS:
        for index, container in enumerate(as_list(get(spec, field))):
            if isinstance(container, Mapping):
                name = text(container.get("name")) or f"#{index}"
                label = name if field == "containers" else f"{name} ({field[:-1]})"
                found.append((label, container))
    return found


def namespace_of(props: Mapping[str, Any], provider: PolicyProviderResource | None) -> str:
    """The namespace a namespaced object lands in.

    `metadata.namespace`, else the namespace of its Kubernetes provider (`k8s.Provider(
    namespace=...)` or the stack's `kubernetes:namespace` config), else `default`.
    """
    namespace = text(get(props, "metadata", "namespace"))
    if namespace:
        return namespace
    if provider is not None and str(provider.resource_type).startswith(KUBERNETES_PROVIDER):
        namespace = text(provider.props.get("namespace"))
    return namespace or "default"


def _exempt(namespace: str, settings: Settings) -> bool:
    return namespace in {str(n) for n in settings.get("exemptNamespaces") or []}


# -- k8s-no-privileged / k8s-no-host-namespaces / k8s-no-hostpath ---------------------------------


def privilege_problems(spec: Mapping[str, Any] | None) -> list[str]:
    """Containers that are privileged, may escalate, or add root-equivalent capabilities."""
    problems = []
    for label, container in containers(spec):
        context = container.get("securityContext")
        if is_true(get(context, "privileged")):
            problems.append(f"container '{label}' is privileged")
        if is_true(get(context, "allowPrivilegeEscalation")):
            problems.append(f"container '{label}' sets allowPrivilegeEscalation: true")
        added = {text(c).upper() for c in as_list(get(context, "capabilities", "add"))}
        for capability in sorted(added & PRIVILEGED_CAPABILITIES):
            problems.append(f"container '{label}' adds capability {capability}")
    return problems


def host_namespace_problems(spec: Mapping[str, Any] | None) -> list[str]:
    """The host namespaces a pod spec shares."""
    return [f"{field}: true" for field in HOST_NAMESPACES if is_true(get(spec, field))]


def host_path_problems(spec: Mapping[str, Any] | None) -> list[str]:
    """The hostPath volumes of a pod spec."""
    return [
        f"volume '{text(get(v, 'name')) or '?'}' mounts host path "
        f"{text(get(v, 'hostPath', 'path')) or '?'}"
        for v in as_list(get(spec, "volumes"))
        if get(v, "hostPath") is not None
    ]


def _pod_spec_rule(
    problems_of: Callable[[Mapping[str, Any] | None], list[str]], what: str
) -> RuleValidate:
    """A validate function reporting `problems_of(pod spec)` outside the exempt namespaces."""

    def validate(args: ResourceValidationArgs, report: ReportViolation, settings: Settings) -> None:
        problems = problems_of(pod_spec(args.resource_type, args.props))
        if not problems:
            return
        # The namespace is read only when there is something to excuse, so an unknown namespace
        # never stops a compliant workload from being judged in preview.
        namespace = namespace_of(args.props, args.provider)
        if _exempt(namespace, settings):
            return
        kind = args.resource_type.rsplit(":", 1)[-1]  # `DeploymentPatch` stays a patch
        report(
            f"{kind} '{args.name}' in namespace '{namespace}' {what}: {'; '.join(problems)}.",
            None,
        )

    return validate


validate_no_privileged = _pod_spec_rule(privilege_problems, "runs privileged")
validate_no_host_namespaces = _pod_spec_rule(host_namespace_problems, "shares host namespaces")
validate_no_host_path = _pod_spec_rule(host_path_problems, "mounts the node's filesystem")


# -- stack helpers --------------------------------------------------------------------------------


def workloads(resources: Iterable[PolicyResource]) -> list[tuple[PolicyResource, Mapping]]:
    """The full workload objects of a stack with their pod specs (patches left out)."""
    found = []
    for resource in resources:
        if resource.resource_type in WORKLOAD_TYPES:
            spec = pod_spec(resource.resource_type, resource.props)
            if spec is not None:
                found.append((resource, spec))
    return found


def _resource_names(resources: Any) -> set[str]:
    return {str(k) for k in resources} if isinstance(resources, Mapping) else set()


# -- k8s-resource-limits ------------------------------------------------------------------------


def missing_limits(container: Mapping[str, Any], required: Iterable[str]) -> list[str]:
    """The required resource names the container sets no limit for."""
    limits = get(container, "resources", "limits")
    present = {
        k for k in _resource_names(limits) if text(limits[k]) or isinstance(limits[k], (int, float))
    }
    return [r for r in required if r not in present]


def limit_range_defaults(limit_range: PolicyResource) -> set[str]:
    """The resources a LimitRange gives containers a default limit for.

    The API server defaults a `Container` item's `default` to its `max` where `default` is not
    set (SetDefaults_LimitRangeItem), so either one gives containers a limit at admission.
    """
    covered: set[str] = set()
    for item in as_list(get(limit_range.props, "spec", "limits")):
        if text(get(item, "type")) == "Container":
            covered |= _resource_names(get(item, "default"))
            covered |= _resource_names(get(item, "max"))
    return covered


def validate_resource_limits(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    required = [str(r) for r in settings["requiredLimits"]]
    defaults: dict[str, set[str]] | None = None
    for workload, spec in workloads(resources):
        gaps = {
            label: missing
            for label, container in containers(spec)
            if (missing := missing_limits(container, required))
        }
        if not gaps:
            continue
        namespace = namespace_of(workload.props, workload.provider)
        if _exempt(namespace, settings):
            continue
        if defaults is None:
            defaults = {}
            for lr in resources:
                if lr.resource_type == LIMIT_RANGE:
                    ns = namespace_of(lr.props, lr.provider)
                    defaults[ns] = defaults.get(ns, set()) | limit_range_defaults(lr)
        covered = defaults.get(namespace, set())
        uncovered = {label: [m for m in gap if m not in covered] for label, gap in gaps.items()}
        uncovered = {label: gap for label, gap in uncovered.items() if gap}
        if uncovered:
            detail = "; ".join(f"'{c}' has no {'/'.join(g)} limit" for c, g in uncovered.items())
            report(
                f"{kind_of(workload.resource_type)} '{workload.name}' in namespace '{namespace}': "
                f"{detail}, and no LimitRange in this stack gives '{namespace}' a default.",
                workload.urn,
            )


# -- k8s-gpu-requests-need-quota -------------------------------------------------------------------


def gpu_resources_requested(spec: Mapping[str, Any]) -> set[str]:
    """The NVIDIA extended resources any container requests or limits (a non-zero amount)."""
    requested = set()
    for _label, container in containers(spec):
        for part in ("requests", "limits"):
            amounts = get(container, "resources", part)
            for name in _resource_names(amounts):
                if name.startswith(GPU_RESOURCE_PREFIX):
                    amount = quantity(amounts[name])
                    if amount is None or amount > 0:
                        requested.add(name)
    return requested


def quota_gpu_resources(quota: PolicyResource) -> set[str]:
    """The extended resources an unscoped ResourceQuota caps (`requests.<name>` in spec.hard).

    A quota with `scopes` or a `scopeSelector` only counts the pods it selects (a priority
    class, BestEffort pods...), so it does not cap every GPU request of the namespace.
    """
    spec = get(quota.props, "spec")
    if as_list(get(spec, "scopes")) or get(spec, "scopeSelector") is not None:
        return set()
    return {
        key.removeprefix("requests.")
        for key in _resource_names(get(spec, "hard"))
        if key.startswith(f"requests.{GPU_RESOURCE_PREFIX}")
    }


def validate_gpu_quota(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    quotas: dict[str, set[str]] | None = None
    for workload, spec in workloads(resources):
        wanted = gpu_resources_requested(spec)
        if not wanted:
            continue
        if quotas is None:
            quotas = {}
            for q in resources:
                if q.resource_type == RESOURCE_QUOTA:
                    ns = namespace_of(q.props, q.provider)
                    quotas[ns] = quotas.get(ns, set()) | quota_gpu_resources(q)
        namespace = namespace_of(workload.props, workload.provider)
        missing = sorted(wanted - quotas.get(namespace, set()))
        if missing:
            keys = ", ".join(f"requests.{m}" for m in missing)
            report(
                f"{kind_of(workload.resource_type)} '{workload.name}' requests {', '.join(missing)} "
                f"in namespace '{namespace}', which has no unscoped ResourceQuota in this stack with "
                f"spec.hard[{keys}].",
                workload.urn,
            )


# -- the rules ------------------------------------------------------------------------------------


def _exempt_setting(default: list[str], why: str) -> Setting:
    return Setting(
        name="exemptNamespaces",
        description=f"Namespaces this rule does not judge ({why}).",
        schema={"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        defaults={env: list(default) for env in ENVIRONMENTS},
    )


_NODE_AGENTS = "node agents of the platform: CNI, CSI, NVIDIA software"
_PRIVILEGE_TYPES = WORKLOAD_TYPES | WORKLOAD_PATCH_TYPES

RULES: tuple[Rule, ...] = (
    Rule(
        id="k8s-no-privileged",
        title="Containers do not run privileged",
        description=(
            "No container is privileged, sets allowPrivilegeEscalation: true or adds the ALL or "
            "SYS_ADMIN capability, outside the exempt system namespaces."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Remove securityContext.privileged and capabilities.add; set "
            "allowPrivilegeEscalation=False, run_as_non_root=True and capabilities.drop=['ALL'] "
            "(the BU namespaces enforce the restricted Pod Security Standard anyway). GPU access "
            "needs no privilege: request nvidia.com/gpu instead."
        ),
        kind="resource",
        validate=validate_no_privileged,
        resource_types=_PRIVILEGE_TYPES,
        frameworks=(checkov("CKV_K8S_16"), cis_eks("4.2.1"), cis_eks("4.2.5")),
        settings=(_exempt_setting(DEFAULT_EXEMPT_NAMESPACES, _NODE_AGENTS),),
        domain="kubernetes",
        rationale=(
            "CKV_K8S_20 is not claimed: Checkov also fails an unset allowPrivilegeEscalation, "
            "which this rule leaves to Pod Security Admission's restricted profile."
        ),
    ),
    Rule(
        id="k8s-no-host-namespaces",
        title="Pods do not share the node's namespaces",
        description=(
            "No pod sets hostNetwork, hostPID or hostIPC, outside the exempt system namespaces."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Drop host_network/host_pid/host_ipc from the pod spec; expose ports through a "
            "Service, and read node metrics from the DCGM exporter instead of the host."
        ),
        kind="resource",
        validate=validate_no_host_namespaces,
        resource_types=_PRIVILEGE_TYPES,
        frameworks=(
            checkov("CKV_K8S_17"),
            checkov("CKV_K8S_18"),
            checkov("CKV_K8S_19"),
            cis_eks("4.2.2"),
            cis_eks("4.2.3"),
            cis_eks("4.2.4"),
        ),
        settings=(_exempt_setting(DEFAULT_EXEMPT_NAMESPACES, _NODE_AGENTS),),
        domain="kubernetes",
    ),
    Rule(
        id="k8s-no-hostpath",
        title="Pods do not mount host paths",
        description="No pod mounts a hostPath volume, outside the exempt system namespaces.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Use an emptyDir for scratch space, a PersistentVolumeClaim (EBS CSI) for data, or a "
            "ConfigMap/projected volume for configuration instead of host_path."
        ),
        kind="resource",
        validate=validate_no_host_path,
        resource_types=_PRIVILEGE_TYPES,
        settings=(_exempt_setting(DEFAULT_EXEMPT_NAMESPACES, _NODE_AGENTS),),
        domain="kubernetes",
    ),
    Rule(
        id="k8s-resource-limits",
        title="Containers have CPU and memory limits",
        description=(
            "Every container and init container of a workload sets limits for cpu and memory, "
            "or its namespace gets default limits from a LimitRange in the same stack."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set resources.limits={'cpu': ..., 'memory': ...} on every container, or create a "
            "k8s.core.v1.LimitRange of type Container with default limits in the namespace "
            "(BU namespaces get one from BuTenant)."
        ),
        kind="stack",
        validate=validate_resource_limits,
        frameworks=(checkov("CKV_K8S_11"), checkov("CKV_K8S_13")),
        settings=(
            Setting(
                name="requiredLimits",
                description=(
                    "Resources every container must have a limit for (drop cpu to allow "
                    "unthrottled CPU bursting)."
                ),
                schema={
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                },
                defaults={env: list(DEFAULT_REQUIRED_LIMITS) for env in ENVIRONMENTS},
            ),
            _exempt_setting([], "none by default"),
        ),
        domain="kubernetes",
        rationale=(
            "A stack rule, so a LimitRange created beside the workload counts: the API server "
            "fills in its defaults at admission, which is what Checkov's manifest-only checks "
            "cannot see. A LimitRange made by another stack is not visible here; set the limits "
            "explicitly in that case."
        ),
    ),
    Rule(
        id="k8s-gpu-requests-need-quota",
        title="GPU workloads run under a namespace GPU quota",
        description=(
            "A workload that requests or limits an NVIDIA GPU resource runs in a namespace with "
            "an unscoped ResourceQuota, in the same stack, capping requests.<that resource>."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Create a k8s.core.v1.ResourceQuota in the workload's namespace with "
            "spec.hard={'requests.nvidia.com/gpu': '<n>'} (BuTenant does this for BU "
            "namespaces), or deploy the workload into the BU's namespace."
        ),
        kind="stack",
        validate=validate_gpu_quota,
        domain="kubernetes",
        rationale=(
            "Extended resources take only `requests.` quota items (requests always equal limits "
            "for them). MIG slices (nvidia.com/mig-*) need a quota on the same resource name."
        ),
    ),
)
