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


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    bindings: Iterable[Mapping[str, Any]],
    request: AdmissionRequest,
) -> Verdict:
    """Run every bound policy; the first refusal decides, else the request is admitted."""
    by_name = {_name(p): p for p in policies}
    what = f"{request.kind} {request.namespace}/{request.name} {request.operation}"
    admitted: list[str] = []
    warnings: list[str] = []
    for binding in bindings:
        name = (binding.get("spec") or {}).get("policyName")
        policy = by_name.get(name)
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
