"""Kubernetes workload rules at deploy time: the rest of the restricted pod-security baseline,
GPU isolation through tolerations and namespaces, pinned images and no credentials in literals.

`kubernetes.py` already refuses privileged containers, host namespaces and host paths; these
rules complete what the BU namespaces' restricted Pod Security Standard and the platform's
toleration guard (a ValidatingAdmissionPolicy) refuse at admission, so a program learns it at
`pulumi preview` rather than from a pod that never starts:

- pod security: no container runs as UID 0 or with `runAsNonRoot: false`, no seccomp profile is
  `Unconfined`; outside platform stacks every container must also *say* it runs as non-root
  (`runAsNonRoot: true` or a non-zero `runAsUser`) and set a RuntimeDefault or Localhost seccomp
  profile, as the restricted profile requires. No Namespace outside a platform stack is labelled
  `pod-security.kubernetes.io/enforce: privileged` (or left without an enforce label: EKS admits
  everything there).
- namespaces: a BU stack places nothing in the platform's system namespaces (`kube-system`, the
  GPU Operator's, the add-ons'), and no stack runs workloads in `default`.
- GPU isolation: no toleration without a key and `operator: Exists` (it tolerates every taint,
  every BU's GPU nodes included); outside platform stacks no toleration of another BU's
  `ai-estate/bu` taint (or of all of them with `Exists`), nor of the system pool's
  `CriticalAddonsOnly`.
- images: every image has a fixed tag or a digest, never `:latest` or none; in a BU stack an
  image comes from the account's ECR (whose repositories are IMMUTABLE, see
  `ecr-repository-immutable-tags`) or is pinned by digest.
- secrets: no container env value and no ConfigMap entry holds a credential-looking literal (an
  AWS access key id, a private key, a password in a URL or an assignment, or any non-empty
  literal under a name like `*_PASSWORD`, `*_SECRET`, `*_TOKEN`).

Platform stacks are those whose config says `ai-estate:kind: platform`; a program that does not
say is judged as a BU stack (the stricter reading, as `profiles.STRICTEST` does for environments).
The `exemptNamespaces` setting of the pod-security and toleration rules (node agents: kube-system,
gpu-operator) applies in platform stacks only: a BU stack cannot reach those namespaces at all.

Workloads are the kinds of `kubernetes.py` plus KEDA's `ScaledJob`, whose pod template sits at
`spec.jobTargetRef.template.spec` (`workload_pod_spec`). Server-side-apply patches are judged for
what they set (a patch can add `runAsUser: 0` or an image), never for what they leave out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

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
from .gpu import BU_TAINT_KEY
from .identity import PLATFORM
from .kubernetes import (
    DEFAULT_EXEMPT_NAMESPACES,
    WORKLOAD_PATCH_TYPES,
    WORKLOAD_TYPES,
    containers,
    namespace_of,
    pod_spec,
)
from .monitoring import stack_kind
from .profiles import stack_config
from .properties import as_int, as_list, get, is_true, string_map, text
from .serving import DEFAULT_TOOL_IMAGES

SCALED_JOB_TYPES = frozenset({"kubernetes:keda.sh/v1alpha1:ScaledJob"})
"""KEDA ScaledJobs: a Job template (`spec.jobTargetRef`) that KEDA instantiates per event."""
FULL_WORKLOAD_TYPES = WORKLOAD_TYPES | SCALED_JOB_TYPES
POD_TEMPLATE_TYPES = FULL_WORKLOAD_TYPES | WORKLOAD_PATCH_TYPES
NAMESPACE_TYPES = frozenset({"kubernetes:core/v1:Namespace", "kubernetes:core/v1:NamespacePatch"})
CONFIG_MAP_TYPES = frozenset({"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"})
HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
"""Helm releases keep their namespace in a top-level `namespace` input."""

_NAMESPACED = {
    "core/v1": (
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "ResourceQuota",
        "LimitRange",
    ),
    "rbac.authorization.k8s.io/v1": ("Role", "RoleBinding"),
    "networking.k8s.io/v1": ("NetworkPolicy",),
    "policy/v1": ("PodDisruptionBudget",),
    "autoscaling/v2": ("HorizontalPodAutoscaler",),
}
NAMESPACED_TYPES = (
    POD_TEMPLATE_TYPES
    | HELM_TYPES
    | frozenset(
        f"kubernetes:{gv}:{kind}{patch}"
        for gv, kinds in _NAMESPACED.items()
        for kind in kinds
        for patch in ("", "Patch")
    )
    | frozenset(
        f"kubernetes:keda.sh/v1alpha1:{kind}" for kind in ("ScaledObject", "TriggerAuthentication")
    )
)
"""Namespaced objects a BU stack could place in a system namespace (what the BU rule reads)."""

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
SYSTEM_POOL_TAINT_KEY = "CriticalAddonsOnly"
"""Duplicated by value from `components/addons.py` SYSTEM_POOL_TAINT (the pack cannot import it)."""
DEFAULT_SYSTEM_NAMESPACES = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gpu-operator",
    "amazon-cloudwatch",
    "keda",
    "karpenter",
    "kueue-system",
    "ai-estate-gateway",
]
"""Kubernetes' own namespaces and the platform add-ons' (components: addons, monitoring,
serving; `karpenter` and `kueue-system` are the upstream charts' defaults)."""
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+"
)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


# -- reading workloads ---------------------------------------------------------------------------


def workload_pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec any workload kind declares: `kubernetes.pod_spec`'s kinds, their patches and
    KEDA ScaledJobs (None for other types or when absent)."""
    if resource_type in SCALED_JOB_TYPES:
        spec = get(props, "spec", "jobTargetRef", "template", "spec")
        return spec if isinstance(spec, Mapping) else None
    if resource_type in POD_TEMPLATE_TYPES:
        return pod_spec(resource_type, props)
    return None


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def is_platform_stack() -> bool:
    """A platform stack, or a BU stack that builds its own cluster (`cluster.mode: dedicated`):
    both install the cluster's add-ons in its system namespaces."""
    config = stack_config()
    if stack_kind(config) == PLATFORM:
        return True
    cluster = config.get("ai-estate:cluster")
    if isinstance(cluster, str):
        try:
            cluster = json.loads(cluster)
        except ValueError:
            cluster = None
    return isinstance(cluster, dict) and cluster.get("mode") == "dedicated"


def own_business_unit() -> str:
    return text(stack_config().get("ai-estate:businessUnit")).strip('"')


def _setting(name: str, description: str, default: list[str]) -> Setting:
    return Setting(
        name=name,
        description=description,
        schema={"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        defaults={env: list(default) for env in ENVIRONMENTS},
    )


def _exempt_in_platform(args: ResourceValidationArgs, settings: Settings, platform: bool) -> bool:
    if not platform:
        return False
    namespace = namespace_of(args.props, args.provider)
    return namespace in {str(n) for n in settings.get("exemptNamespaces") or []}


def _workload_rule(problems_of: Any, what: str) -> RuleValidate:
    """A validate function reporting `problems_of(spec, strict)` of a workload's pod spec.

    `strict` is True for full objects outside platform stacks (what must be set, not only what
    must not); the platform's exempt namespaces are read only when there is something to excuse.
    """

    def validate(args: ResourceValidationArgs, report: ReportViolation, settings: Settings) -> None:
        spec = workload_pod_spec(args.resource_type, args.props)
        if spec is None:
            return
        platform = is_platform_stack()
        strict = not platform and args.resource_type in FULL_WORKLOAD_TYPES
        problems = problems_of(spec, strict)
        if not problems or _exempt_in_platform(args, settings, platform):
            return
        report(f"{_kind(args.resource_type)} '{args.name}' {what}: {'; '.join(problems)}.", None)

    return validate


# -- k8s-run-as-non-root ---------------------------------------------------------------------------


def _effective(spec: Mapping[str, Any], container: Mapping[str, Any], *path: str) -> Any:
    """A security-context field as the kubelet applies it: the container's, else the pod's."""
    value = get(container, "securityContext", *path)
    return get(spec, "securityContext", *path) if value is None else value


def _windows(spec: Mapping[str, Any]) -> bool:
    return text(get(spec, "os", "name")) == "windows"


def root_problems(spec: Mapping[str, Any], strict: bool) -> list[str]:
    """Containers that run as root, or (strict) do not say they do not."""
    if _windows(spec):
        return []
    problems = []
    for label, container in containers(spec):
        user = as_int(_effective(spec, container, "runAsUser"))
        non_root = _effective(spec, container, "runAsNonRoot")
        if user == 0:
            problems.append(f"container '{label}' runs as UID 0")
        elif non_root is not None and not is_true(non_root):
            problems.append(f"container '{label}' sets runAsNonRoot: false")
        elif strict and not is_true(non_root) and not (user and user > 0):
            problems.append(
                f"container '{label}' sets neither runAsNonRoot: true nor a non-zero runAsUser"
            )
    return problems


# -- k8s-seccomp-confined --------------------------------------------------------------------------


def seccomp_problems(spec: Mapping[str, Any], strict: bool) -> list[str]:
    """Containers whose seccomp profile is Unconfined, or (strict) not RuntimeDefault/Localhost."""
    if _windows(spec):
        return []
    problems = []
    for label, container in containers(spec):
        profile = text(_effective(spec, container, "seccompProfile", "type"))
        if profile == "Unconfined":
            problems.append(f"container '{label}' runs with seccomp Unconfined")
        elif strict and profile not in ALLOWED_SECCOMP:
            problems.append(
                f"container '{label}' has no RuntimeDefault or Localhost seccomp profile"
            )
    return problems


validate_run_as_non_root = _workload_rule(root_problems, "may run as root")
validate_seccomp = _workload_rule(seccomp_problems, "runs without a seccomp filter")


# -- k8s-namespace-not-privileged -----------------------------------------------------------------


def validate_namespace_pod_security(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    labels = string_map(get(args.props, "metadata", "labels"))
    level = labels.get(PSA_ENFORCE, "").strip()
    full = not args.resource_type.endswith("Patch")
    if level != "privileged" and (level or not full):
        return
    if is_platform_stack():
        return
    name = text(get(args.props, "metadata", "name")) or args.name
    if level:
        why = f"is labelled {PSA_ENFORCE}: privileged"
    else:
        why = f"has no {PSA_ENFORCE} label, so Pod Security Admission admits privileged pods"
    report(f"Namespace '{name}' {why}, outside a platform stack.", None)


# -- k8s-bu-no-system-namespace --------------------------------------------------------------------


def object_namespace(args: ResourceValidationArgs) -> str:
    """The namespace an object lands in (Helm releases keep it in a top-level input)."""
    if args.resource_type in HELM_TYPES:
        namespace = text(args.props.get("namespace"))
        if namespace:
            return namespace
    return namespace_of(args.props, args.provider)


def validate_bu_no_system_namespace(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if is_platform_stack():
        return
    namespace = object_namespace(args)
    if namespace in {str(n) for n in settings.get("systemNamespaces") or []}:
        report(
            f"{_kind(args.resource_type)} '{args.name}' is placed in the system namespace "
            f"'{namespace}' by a BU stack.",
            None,
        )


# -- k8s-no-default-namespace ----------------------------------------------------------------------


def validate_no_default_namespace(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if workload_pod_spec(args.resource_type, args.props) is None:
        return
    if namespace_of(args.props, args.provider) == "default":
        report(
            f"{_kind(args.resource_type)} '{args.name}' runs in the 'default' namespace, which "
            "has no BU quota, network policy or pod-security label.",
            None,
        )


# -- k8s-tolerations-isolated ----------------------------------------------------------------------


def toleration_problems(spec: Mapping[str, Any], platform: bool, own_bu: Any) -> list[str]:
    """Tolerations that reach nodes the pod should not: every taint, another BU's GPU nodes, or
    the system pool. `own_bu` is called only when a BU taint is tolerated."""
    problems = []
    for toleration in as_list(get(spec, "tolerations")):
        key = text(get(toleration, "key"))
        operator = text(get(toleration, "operator")) or "Equal"
        if not key:
            if operator == "Exists":
                problems.append(
                    "a toleration with no key and operator Exists tolerates every taint"
                )
            continue
        if platform:
            continue
        if key == SYSTEM_POOL_TAINT_KEY:
            problems.append(f"it tolerates the system pool's {SYSTEM_POOL_TAINT_KEY} taint")
        elif key == BU_TAINT_KEY:
            if operator == "Exists":
                problems.append(f"it tolerates every BU's {BU_TAINT_KEY} taint (operator Exists)")
                continue
            value, mine = text(get(toleration, "value")), own_bu()
            if value != mine:
                problems.append(
                    f"it tolerates {BU_TAINT_KEY}={value or '<empty>'}, not its own BU's "
                    f"({mine or '?'})"
                )
    return problems


def validate_tolerations(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    spec = workload_pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    platform = is_platform_stack()

    def own_bu() -> str:
        # The stack's BU, else the namespace's name (the estate names a BU's namespace after it).
        return own_business_unit() or namespace_of(args.props, args.provider)

    problems = toleration_problems(spec, platform, own_bu)
    if not problems or _exempt_in_platform(args, settings, platform):
        return
    report(
        f"{_kind(args.resource_type)} '{args.name}' escapes GPU isolation: {'; '.join(problems)}.",
        None,
    )


# -- k8s-image-pinned / k8s-image-from-estate-registry --------------------------------------------


def image_reference(image: str) -> tuple[str, str, str]:
    """`registry/repo:tag@sha256:...` -> (name, tag, digest); '' for the parts it lacks."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def _images(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(label, text(get(c, "image"))) for label, c in containers(spec)]


def unpinned_images(spec: Mapping[str, Any], full: bool) -> list[str]:
    """Containers whose image has no fixed tag and no digest (a patch may leave image unset)."""
    problems = []
    for label, image in _images(spec):
        if not image:
            if full:
                problems.append(f"container '{label}' has no image")
            continue
        _, tag, digest = image_reference(image)
        if digest and DIGEST.search(f"@{digest}"):
            continue
        if digest:
            problems.append(f"container '{label}' image '{image}' has a malformed digest")
        elif not tag:
            problems.append(f"container '{label}' image '{image}' has no tag (means latest)")
        elif tag.lower() == "latest":
            problems.append(f"container '{label}' image '{image}' uses the moving tag latest")
    return problems


def validate_image_pinned(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    spec = workload_pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    problems = unpinned_images(spec, args.resource_type in FULL_WORKLOAD_TYPES)
    if problems:
        report(f"{_kind(args.resource_type)} '{args.name}': {'; '.join(problems)}.", None)


def foreign_images(spec: Mapping[str, Any], account: str, allowed: Iterable[str]) -> list[str]:
    """Images neither from the account's ECR, nor pinned by digest, nor explicitly allowed."""
    allowed_set = set(allowed)
    problems = []
    for label, image in _images(spec):
        if not image or image in allowed_set or DIGEST.search(image):
            continue
        match = ECR_IMAGE.match(image)
        if match and (not account or match.group("account") == account):
            continue
        where = f"account {account}'s ECR" if account else "an ECR registry of the estate"
        problems.append(
            f"container '{label}' runs '{image}', neither from {where} nor pinned by digest"
        )
    return problems


def validate_image_registry(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    spec = workload_pod_spec(args.resource_type, args.props)
    if spec is None or is_platform_stack():
        return
    account = text(stack_config().get("ai-estate:accountId")).strip('"')
    problems = foreign_images(spec, account, [str(i) for i in settings["allowedImages"]])
    if problems:
        report(f"{_kind(args.resource_type)} '{args.name}': {'; '.join(problems)}.", None)


# -- k8s-no-literal-credentials --------------------------------------------------------------------

CREDENTIAL_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    (
        "a password in a URL",
        re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?![$<{])[^/\s@]+@"),
    ),
    (
        "a password assignment",
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token)\s*[=:]\s*"
            r"(?![\s$<{\"'/]|\*+\b)[^\s&;,\"'}]{4,}"
        ),
    ),
)
"""What a credential looks like inside a value (Checkov's secret scanners look for the same)."""
CREDENTIAL_NAME = re.compile(
    r"(?i)(^|[_.-])(password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|"
    r"private[_-]?key|credentials?)$"
)
"""Names (env vars, ConfigMap keys) whose literal value is a credential."""
_REFERENCE = re.compile(r"^(/|arn:|\$\{|\$\(|\{\{|<)")
"""Values that point at a credential (a mounted file, an ARN, a placeholder) rather than hold it."""


_ARN = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[^\s\"',;&]*")
"""An ARN inside a value: it names a resource (`...:secret:fraud-prod/db-AbCdEf` is a Secrets
Manager secret's name, not a secret), so it is left out before the value patterns run."""


def credential_kind(name: str, value: str) -> str:
    """What credential a literal looks like ('' when none). The value itself is never echoed."""
    scanned = _ARN.sub("arn", value)
    for what, pattern in CREDENTIAL_VALUE_PATTERNS:
        if pattern.search(scanned):
            return what
    if value.strip() and CREDENTIAL_NAME.search(name) and not _REFERENCE.match(value.strip()):
        return "a literal secret"
    return ""


def env_credentials(spec: Mapping[str, Any]) -> list[str]:
    problems = []
    for label, container in containers(spec):
        for env in as_list(get(container, "env")):
            name = text(get(env, "name"))
            value = get(env, "value")
            if isinstance(value, str):
                what = credential_kind(name, value)
                if what:
                    problems.append(f"container '{label}' env {name or '?'} holds {what}")
    return problems


def validate_no_literal_credentials(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if args.resource_type in CONFIG_MAP_TYPES:
        data = args.props.get("data")
        problems = []
        if isinstance(data, Mapping):
            for key in data:
                value = data[key]
                what = credential_kind(str(key), value) if isinstance(value, str) else ""
                if what:
                    problems.append(f"key {key} holds {what}")
        if problems:
            report(f"ConfigMap '{args.name}': {'; '.join(problems)}.", None)
        return
    spec = workload_pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    problems = env_credentials(spec)
    if problems:
        report(f"{_kind(args.resource_type)} '{args.name}': {'; '.join(problems)}.", None)


# -- the rules ---------------------------------------------------------------------------------------

_EXEMPT = _setting(
    "exemptNamespaces",
    "Namespaces this rule does not judge in platform stacks (node agents of the platform).",
    DEFAULT_EXEMPT_NAMESPACES,
)

RULES: tuple[Rule, ...] = (
    Rule(
        id="k8s-run-as-non-root",
        title="Containers run as non-root",
        description=(
            "No container runs as UID 0 or sets runAsNonRoot: false; outside platform stacks "
            "every container sets runAsNonRoot: true or a non-zero runAsUser (pod or container)."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set security_context=k8s.core.v1.PodSecurityContextArgs(run_as_non_root=True, "
            "run_as_user=65532, run_as_group=65532) on the pod spec (components.serving does) "
            "and build the image with a numeric non-root USER."
        ),
        kind="resource",
        validate=validate_run_as_non_root,
        resource_types=POD_TEMPLATE_TYPES,
        frameworks=(checkov("CKV_K8S_23"),),
        settings=(_EXEMPT,),
        domain="k8s_workloads",
        rationale=(
            "BU namespaces enforce the restricted Pod Security Standard, which rejects such pods "
            "at admission; this rule says so at preview. Platform add-ons run vendor images "
            "whose user the platform reviews with the chart pin, so only explicit root is "
            "refused there."
        ),
    ),
    Rule(
        id="k8s-seccomp-confined",
        title="Containers run under a seccomp profile",
        description=(
            "No container's seccomp profile is Unconfined; outside platform stacks every "
            "container has a RuntimeDefault or Localhost profile (pod or container)."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set seccomp_profile=k8s.core.v1.SeccompProfileArgs(type='RuntimeDefault') in the "
            "pod's security_context, and remove any Unconfined profile from containers."
        ),
        kind="resource",
        validate=validate_seccomp,
        resource_types=POD_TEMPLATE_TYPES,
        frameworks=(checkov("CKV_K8S_31"),),
        settings=(_EXEMPT,),
        domain="k8s_workloads",
        rationale=(
            "Without a profile the kubelet runs containers Unconfined (unless its seccompDefault "
            "is on, which EKS does not set): every syscall, including those of kernel escapes, "
            "is open to a GPU job."
        ),
    ),
    Rule(
        id="k8s-namespace-not-privileged",
        title="Only platform namespaces admit privileged pods",
        description=(
            "Outside platform stacks, every Namespace carries pod-security.kubernetes.io/enforce "
            "and it is not privileged."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Label the namespace pod-security.kubernetes.io/enforce: restricted (BuTenant does, "
            "with warn and audit); node agents that need privilege belong in the platform's "
            "namespaces, created by the platform stack."
        ),
        kind="resource",
        validate=validate_namespace_pod_security,
        resource_types=NAMESPACE_TYPES,
        domain="k8s_workloads",
        rationale=(
            "The enforce label is the namespace's whole pod-security policy; EKS's cluster "
            "default is privileged, so an unlabelled namespace is a privileged one."
        ),
    ),
    Rule(
        id="k8s-bu-no-system-namespace",
        title="BU stacks stay out of system namespaces",
        description=(
            "A BU stack places no workload, role, binding, config, service or Helm release in "
            "kube-system or another system or platform add-on namespace."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Deploy into the BU's own namespace (metadata.namespace=<bu>); what must run in a "
            "system namespace is the platform's, and goes into the platform stack."
        ),
        kind="resource",
        validate=validate_bu_no_system_namespace,
        resource_types=NAMESPACED_TYPES,
        settings=(
            _setting(
                "systemNamespaces",
                "Namespaces only platform stacks may place objects in.",
                DEFAULT_SYSTEM_NAMESPACES,
            ),
        ),
        domain="k8s_workloads",
        rationale=(
            "The privilege rules exempt kube-system and gpu-operator for node agents; this rule "
            "makes that exemption the platform's alone. Secrets of kube-system include "
            "controllers' tokens, so even a ConfigMap or RoleBinding there is refused."
        ),
    ),
    Rule(
        id="k8s-no-default-namespace",
        title="No workloads in the default namespace",
        description="No workload (pod template of any kind) runs in the default namespace.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set metadata.namespace to the BU's namespace (or give the Kubernetes provider a "
            "namespace); `default` has no quota, network policy or pod-security label."
        ),
        kind="resource",
        validate=validate_no_default_namespace,
        resource_types=FULL_WORKLOAD_TYPES,
        frameworks=(checkov("CKV_K8S_21"), cis_eks("4.5.3")),
        domain="k8s_workloads",
    ),
    Rule(
        id="k8s-tolerations-isolated",
        title="Tolerations keep pods on their own nodes",
        description=(
            "No toleration without a key uses operator Exists; outside platform stacks no "
            "toleration accepts another BU's ai-estate/bu taint, every BU's, or the system "
            "pool's CriticalAddonsOnly."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Tolerate by key: {'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': "
            "'NoSchedule'} and {'key': 'ai-estate/bu', 'operator': 'Equal', 'value': '<own "
            "bu>', 'effect': 'NoSchedule'} (components.serving does), and select the pool with "
            "node_selector."
        ),
        kind="resource",
        validate=validate_tolerations,
        resource_types=POD_TEMPLATE_TYPES,
        settings=(_EXEMPT,),
        domain="k8s_workloads",
        rationale=(
            "The same conditions as the platform's ai-estate-bu-toleration-guard admission "
            "policy, checked before deploy and in any cluster. The BU is the stack's "
            "ai-estate:businessUnit, else the workload's namespace name."
        ),
    ),
    Rule(
        id="k8s-image-pinned",
        title="Images have a fixed tag or a digest",
        description="Every container image names a tag other than latest, or a sha256 digest.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Use a version tag from an IMMUTABLE ECR repository "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<bu>-<env>/<name>:1.4.2) or pin by "
            "digest (image@sha256:<digest>)."
        ),
        kind="resource",
        validate=validate_image_pinned,
        resource_types=POD_TEMPLATE_TYPES,
        frameworks=(checkov("CKV_K8S_14"),),
        domain="k8s_workloads",
    ),
    Rule(
        id="k8s-image-from-estate-registry",
        title="BU workloads run images from the estate's registry",
        description=(
            "In a BU stack, every container image comes from the account's ECR (when "
            "ai-estate:accountId is set, that account's), is pinned by digest, or is listed in "
            "allowedImages."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Push the image to the BU's ECR repository (model_registry creates it IMMUTABLE and "
            "scanned) and reference it by tag, or pin a public image by digest."
        ),
        kind="resource",
        validate=validate_image_registry,
        resource_types=POD_TEMPLATE_TYPES,
        frameworks=(cis_eks("5.1.4"),),
        settings=(
            _setting(
                "allowedImages",
                "Exact image references BU workloads may run from elsewhere (reviewed tools).",
                DEFAULT_TOOL_IMAGES,
            ),
        ),
        domain="k8s_workloads",
        rationale=(
            "A tag from the estate's ECR is immutable (ecr-repository-immutable-tags) and was "
            "scanned on push; a public tag can be re-pushed by its owner. CKV_K8S_43 (digest "
            "always) is not claimed: an immutable ECR tag is accepted. Platform stacks pin "
            "their add-on images by version in components and are not judged here."
        ),
    ),
    Rule(
        id="k8s-no-literal-credentials",
        title="No credentials in env literals or ConfigMaps",
        description=(
            "No container env value and no ConfigMap entry holds an AWS access key id, a "
            "private key, a password in a URL or assignment, or a literal under a credential "
            "name (*_PASSWORD, *_SECRET, *_TOKEN, *_API_KEY, ...)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Keep the credential in Secrets Manager and mount it (secrets-store CSI) or read it "
            "with the pod's IAM role; for Kubernetes Secrets use env value_from="
            "k8s.core.v1.EnvVarSourceArgs(secret_key_ref=...). Rotate any key that was committed."
        ),
        kind="resource",
        validate=validate_no_literal_credentials,
        resource_types=POD_TEMPLATE_TYPES | CONFIG_MAP_TYPES,
        frameworks=(
            checkov("CKV_SECRET_2"),
            checkov("CKV_SECRET_4"),
            checkov("CKV_SECRET_10"),
            checkov("CKV_SECRET_13"),
        ),
        domain="k8s_workloads",
        rationale=(
            "A literal lands in the Pulumi state, the pod spec (readable by anyone who may get "
            "pods) and every preview diff. Values that point at a credential (a file path, an "
            "ARN, a ${placeholder}) pass; messages never repeat the value."
        ),
    ),
)
