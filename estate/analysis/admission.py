"""Evaluate ValidatingAdmissionPolicies (CEL, with cel-python) on admission requests we build.

The API server's steps, as the ValidatingAdmissionPolicy page describes them
(https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/):

1. A policy applies through each binding that names it (`policyName`). The request must match
   the policy's `matchConstraints` and the binding's `matchResources` (resource rules with
   `apiGroups`/`apiVersions`/`resources`/`operations`, `*` wildcards, `excludeResourceRules`,
   `namespaceSelector`, `objectSelector`).
2. Every `matchConditions` expression must be true, or the policy is skipped for the request.
3. Every `validations` expression must be true. A false one refuses the request (binding action
   `Deny`) with its `messageExpression` (when it evaluates to a non-empty string), else its
   `message`, else `failed expression: <expression>`. `Warn`/`Audit` bindings never refuse.
4. An expression that errors is a refusal under `failurePolicy: Fail` (the default) and is
   ignored under `Ignore`.

CEL variables: `object`, `oldObject`, `request`, `params`, `namespaceObject`, `variables`
(the policy's `spec.variables`, evaluated in order). `authorizer` is not modelled: an expression
using it errors, which `failurePolicy` then decides. Kubernetes' CEL library extensions beyond
the CEL standard (quantity, url, ip, ...) are not available either.

Pod Security Admission runs first, as the built-in admission plugin does: a pod in a namespace
labelled `pod-security.kubernetes.io/enforce: baseline|restricted` must meet that Pod Security
Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/; `pod_security`).

cel-python comes with the `test` extra: the tests use this module and the CLI never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy

from estate.analysis.netpol import selector_matches

RESOURCES = {
    "Pod": ("", "v1", "pods", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "StatefulSet": ("apps", "v1", "statefulsets", True),
    "Job": ("batch", "v1", "jobs", True),
    "Service": ("", "v1", "services", True),
    "Namespace": ("", "v1", "namespaces", False),
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes", True),
    "Gateway": ("gateway.networking.k8s.io", "v1", "gateways", True),
}
"""Kind -> (group, version, resource, namespaced): what a request for an object names."""


@dataclass(frozen=True)
class AdmissionRequest:
    """What the API server hands the admission chain for one write."""

    object: Mapping[str, Any] | None
    operation: str = "CREATE"
    old_object: Mapping[str, Any] | None = None
    namespace_object: Mapping[str, Any] | None = None
    """The namespace the object is in (its labels feed `namespaceSelector`)."""
    params: Any = None
    user: Mapping[str, Any] = field(
        default_factory=lambda: {
            "username": "system:serviceaccount:kube-system:deployer",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        }
    )

    @property
    def _subject(self) -> Mapping[str, Any]:
        return self.object or self.old_object or {}

    @property
    def kind(self) -> str:
        return str(self._subject.get("kind", ""))

    @property
    def resource(self) -> tuple[str, str, str, bool]:
        try:
            return RESOURCES[self.kind]
        except KeyError:
            raise ValueError(
                f"kind {self.kind!r} is not in estate.analysis.admission.RESOURCES"
            ) from None

    @property
    def name(self) -> str:
        return str((self._subject.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        meta = self._subject.get("metadata") or {}
        if meta.get("namespace"):
            return str(meta["namespace"])
        ns_meta = (self.namespace_object or {}).get("metadata") or {}
        return str(ns_meta.get("name", ""))

    def review_request(self) -> dict[str, Any]:
        """The `request` variable: an AdmissionReview request's fields."""
        group, version, resource, namespaced = self.resource
        return {
            "uid": "00000000-0000-0000-0000-000000000000",
            "kind": {"group": group, "version": version, "kind": self.kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": self.name,
            "namespace": self.namespace if namespaced else "",
            "operation": self.operation,
            "userInfo": dict(self.user),
            "dryRun": False,
        }


@dataclass(frozen=True)
class Verdict:
    """Admitted or refused, with the sentence naming the policy and validation that decided."""

    allowed: bool
    reason: str
    warnings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def _rule_matches(rule: Mapping[str, Any], request: AdmissionRequest) -> bool:
    group, version, resource, _ = request.resource

    def hit(values: Iterable[str] | None, value: str) -> bool:
        values = list(values or [])
        return "*" in values or value in values

    return (
        hit(rule.get("apiGroups"), group)
        and hit(rule.get("apiVersions"), version)
        and hit(rule.get("resources"), resource)
        and hit(rule.get("operations"), request.operation)
        and (not rule.get("resourceNames") or request.name in rule["resourceNames"])
    )


def matches_resources(match: Mapping[str, Any] | None, request: AdmissionRequest) -> bool:
    """`matchConstraints` / `matchResources`: rules, exclusions, namespace and object selectors."""
    if not match:
        return True
    rules = match.get("resourceRules")
    if rules is not None and not any(_rule_matches(r, request) for r in rules):
        return False
    if any(_rule_matches(r, request) for r in match.get("excludeResourceRules") or []):
        return False
    _, _, resource, namespaced = request.resource
    if "namespaceSelector" in match:
        if resource == "namespaces":
            labels = ((request._subject.get("metadata") or {}).get("labels")) or {}
            if not selector_matches(match["namespaceSelector"], labels):
                return False
        elif namespaced:
            ns_labels = dict(
                ((request.namespace_object or {}).get("metadata") or {}).get("labels") or {}
            )
            ns_labels.setdefault("kubernetes.io/metadata.name", request.namespace)
            if not selector_matches(match["namespaceSelector"], ns_labels):
                return False
    if "objectSelector" in match:
        labels = ((request._subject.get("metadata") or {}).get("labels")) or {}
        if not selector_matches(match["objectSelector"], labels):
            return False
    return True


class _CelError(Exception):
    pass


_ENV = celpy.Environment()


def _cel(expression: str, activation: dict[str, Any]) -> Any:
    try:
        program = _ENV.program(_ENV.compile(expression))
        result = program.evaluate(activation)
    except Exception as error:  # celpy raises its own errors and Python ones (KeyError, ...)
        raise _CelError(f"{type(error).__name__}: {error}") from error
    if isinstance(result, celpy.CELEvalError):
        raise _CelError(str(result))
    return result


def _activation(request: AdmissionRequest) -> dict[str, Any]:
    def cel(value: Any) -> Any:
        return celpy.json_to_cel(value) if value is not None else None

    return {
        "object": cel(request.object),
        "oldObject": cel(request.old_object),
        "request": cel(request.review_request()),
        "params": cel(request.params),
        "namespaceObject": cel(request.namespace_object),
    }


def _variables(policy: Mapping[str, Any], activation: dict[str, Any]) -> None:
    """`spec.variables`: each may use the ones before it as `variables.<name>`."""
    values: dict[str, Any] = {}
    for variable in (policy.get("spec") or {}).get("variables") or []:
        activation["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in values.items()}
        )
        values[variable["name"]] = _cel(variable["expression"], activation)
    activation["variables"] = celpy.celtypes.MapType(
        {celpy.celtypes.StringType(k): v for k, v in values.items()}
    )


def evaluate_policy(
    policy: Mapping[str, Any], binding: Mapping[str, Any], request: AdmissionRequest
) -> Verdict:
    """One policy through one binding."""
    spec, bspec = policy.get("spec") or {}, binding.get("spec") or {}
    where = f"ValidatingAdmissionPolicy {_name(policy)} (binding {_name(binding)})"
    if not matches_resources(spec.get("matchConstraints"), request) or not matches_resources(
        bspec.get("matchResources"), request
    ):
        return Verdict(True, f"{where} does not match {request.kind} {request.operation}")
    fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
    actions = list(bspec.get("validationActions") or [])
    refuses = "Deny" in actions
    activation = _activation(request)
    try:
        _variables(policy, activation)
        for condition in spec.get("matchConditions") or []:
            if not bool(_cel(condition["expression"], activation)):
                return Verdict(True, f"{where}: matchCondition {condition['name']} is false")
    except _CelError as error:
        if fail_closed and refuses:
            return Verdict(False, f"refused by {where}: expression error ({error})")
        return Verdict(True, f"{where}: expression error ignored ({error})")
    for index, validation in enumerate(spec.get("validations") or []):
        expression = validation["expression"]
        try:
            ok = bool(_cel(expression, activation))
        except _CelError as error:
            if fail_closed and refuses:
                return Verdict(
                    False, f"refused by {where} validation #{index}: expression error ({error})"
                )
            continue
        if ok:
            continue
        message = ""
        if validation.get("messageExpression"):
            try:
                message = str(_cel(validation["messageExpression"], activation))
            except _CelError:
                message = ""
        message = message or validation.get("message") or f"failed expression: {expression}"
        reason = validation.get("reason", "Invalid")
        sentence = f"{where} validation #{index} ({reason}): {message}"
        if refuses:
            return Verdict(False, f"refused by {sentence}")
        return Verdict(True, f"admitted with warning: {sentence}", (message,))
    return Verdict(True, f"admitted by {where}: every validation holds")


# -- Pod Security Standards ----------------------------------------------------------------------

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def pod_security(spec: Mapping[str, Any], level: str) -> list[str]:
    """The Pod Security Standard controls a pod spec violates at `level` (baseline/restricted),
    worded as the admission plugin words them."""
    if level not in ("baseline", "restricted"):
        return []
    problems: list[str] = []
    pod_ctx = spec.get("securityContext") or {}
    containers = _containers(spec)

    def ctx(c: Mapping[str, Any]) -> Mapping[str, Any]:
        return c.get("securityContext") or {}

    # baseline
    if any((ctx(c).get("windowsOptions") or {}).get("hostProcess") for c in containers) or (
        pod_ctx.get("windowsOptions") or {}
    ).get("hostProcess"):
        problems.append("hostProcess")
    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if host:
        problems.append(f"host namespaces ({', '.join(host)})")
    privileged = [c["name"] for c in containers if ctx(c).get("privileged")]
    if privileged:
        problems.append(
            f"privileged (containers {', '.join(map(repr, privileged))} must not set privileged=true)"
        )
    added = sorted(
        {cap for c in containers for cap in (ctx(c).get("capabilities") or {}).get("add") or []}
        - BASELINE_CAPABILITIES
    )
    if added:
        problems.append(f"non-default capabilities ({', '.join(added)})")
    host_paths = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    if host_paths:
        problems.append(f"hostPath volumes ({', '.join(host_paths)})")
    if any(p.get("hostPort") for c in containers for p in c.get("ports") or []):
        problems.append("hostPort")
    for where in [pod_ctx, *map(ctx, containers)]:
        options = where.get("seLinuxOptions") or {}
        if (
            options.get("type", "") not in SELINUX_TYPES
            or options.get("user")
            or options.get("role")
        ):
            problems.append("seLinuxOptions")
            break
    if any(ctx(c).get("procMount", "Default") != "Default" for c in containers):
        problems.append("procMount")
    profiles = [
        (where.get("seccompProfile") or {}).get("type")
        for where in [pod_ctx, *map(ctx, containers)]
    ]
    if "Unconfined" in profiles:
        problems.append("seccompProfile (type must not be Unconfined)")
    unsafe = [s["name"] for s in pod_ctx.get("sysctls") or [] if s["name"] not in SAFE_SYSCTLS]
    if unsafe:
        problems.append(f"forbidden sysctls ({', '.join(unsafe)})")
    if level == "baseline":
        return problems
    # restricted
    volumes = sorted(
        {next(iter(k for k in v if k != "name"), "?") for v in spec.get("volumes") or []}
        - RESTRICTED_VOLUMES
        - {"hostPath"}
    )
    if volumes:
        problems.append(f"restricted volume types ({', '.join(volumes)})")
    escalating = [
        c["name"] for c in containers if ctx(c).get("allowPrivilegeEscalation") is not False
    ]
    if escalating:
        problems.append(
            f"allowPrivilegeEscalation != false (containers {', '.join(map(repr, escalating))} "
            "must set securityContext.allowPrivilegeEscalation=false)"
        )
    pod_non_root = pod_ctx.get("runAsNonRoot")
    root_possible = [
        c["name"]
        for c in containers
        if ctx(c).get("runAsNonRoot") is False
        or (ctx(c).get("runAsNonRoot") is None and pod_non_root is not True)
    ]
    if root_possible or pod_non_root is False:
        problems.append(
            "runAsNonRoot != true (pod or containers "
            f"{', '.join(map(repr, root_possible))} must set securityContext.runAsNonRoot=true)"
        )
    if pod_ctx.get("runAsUser") == 0 or any(ctx(c).get("runAsUser") == 0 for c in containers):
        problems.append("runAsUser=0")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    unset = [
        c["name"]
        for c in containers
        if (ctx(c).get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost")
        and not (
            (ctx(c).get("seccompProfile") or {}).get("type") is None
            and pod_seccomp in ("RuntimeDefault", "Localhost")
        )
    ]
    if unset:
        problems.append(
            "seccompProfile (pod or containers "
            f"{', '.join(map(repr, unset))} must set securityContext.seccompProfile.type to "
            '"RuntimeDefault" or "Localhost")'
        )
    no_drop = [
        c["name"]
        for c in containers
        if "ALL" not in ((ctx(c).get("capabilities") or {}).get("drop") or [])
    ]
    if no_drop:
        problems.append(
            f"unrestricted capabilities (containers {', '.join(map(repr, no_drop))} must set "
            'securityContext.capabilities.drop=["ALL"])'
        )
    extra = sorted(
        {cap for c in containers for cap in (ctx(c).get("capabilities") or {}).get("add") or []}
        - {"NET_BIND_SERVICE"}
    )
    if extra:
        problems.append(f"unrestricted capabilities (add {', '.join(extra)})")
    return problems


def pod_security_verdict(request: AdmissionRequest) -> Verdict | None:
    """Pod Security Admission for a pod write (None: it does not apply)."""
    if (
        request.kind != "Pod"
        or request.object is None
        or request.operation not in ("CREATE", "UPDATE")
    ):
        return None
    labels = ((request.namespace_object or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get(POD_SECURITY_ENFORCE, "privileged")
    problems = pod_security(request.object.get("spec") or {}, level)
    if problems:
        return Verdict(
            False,
            f"refused by Pod Security Admission: namespace {request.namespace} enforces "
            f'"{level}", and the pod violates {"; ".join(problems)}',
        )
    return Verdict(True, f'Pod Security "{level}" holds')


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    bindings: Iterable[Mapping[str, Any]],
    request: AdmissionRequest,
) -> Verdict:
    """Pod Security first, then every bound policy; the first refusal decides."""
    by_name = {_name(p): p for p in policies}
    what = f"{request.kind} {request.namespace}/{request.name} {request.operation}"
    pss = pod_security_verdict(request)
    if pss is not None and not pss:
        return Verdict(False, f"{what}: {pss.reason}")
    admitted: list[str] = [pss.reason] if pss is not None else []
    warnings: list[str] = []
    for binding in bindings:
        name = (binding.get("spec") or {}).get("policyName")
        policy = by_name.get(name) if isinstance(name, str) else None
        if policy is None:
            continue  # a binding to a missing policy is ignored (and reported by the API server)
        verdict = evaluate_policy(policy, binding, request)
        if not verdict:
            return Verdict(False, f"{what}: {verdict.reason}")
        warnings += verdict.warnings
        admitted.append(verdict.reason)
    return Verdict(
        True, f"{what} admitted: " + ("; ".join(admitted) or "no policy bound"), tuple(warnings)
    )
