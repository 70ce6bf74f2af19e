"""A small IAM policy evaluator: the subset of the policy language AI Estate's policies use.

It exists to *prove* BU isolation offline: the isolation tests render two BUs' roles, boundaries,
bucket and key policies, and ask this evaluator whether every role can reach every resource.
It follows AWS's documented logic for requests within one account, and is tested against the
worked examples of those pages (tests/test_iam_eval.py):

- "Policy evaluation logic" and "Policy evaluation for requests within a single account"
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
- "Permissions boundaries for IAM entities"
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
- the element pages for Action, NotAction, Resource, NotResource and the condition operators
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html

The decision, in the order AWS applies it (same account only):

1. An explicit `Deny` in any policy that applies (identity, boundary, resource) wins.
2. KMS keys and role trust policies must themselves allow the request: a key policy (or trust
   policy) statement naming the principal grants directly; one naming the account root only
   delegates to IAM, so the identity policy must allow too.
3. Otherwise an `Allow` in the identity policies or in the resource policy is needed.
4. A permissions boundary caps identity-policy grants, and resource-policy grants to a role ARN;
   grants to a role *session* ARN (or to an IAM user) are not capped by it.

Policy variables (`${aws:username}`) are substituted from the request context in Resource and
condition values; an element whose variable is absent from the context matches nothing.

Cross-account requests ("Cross-account policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)
are allowed only when both sides allow: the caller's identity policies (capped by its boundary)
in its own account, and the resource policy in the resource's account, naming the caller or its
account; an explicit deny on either side wins. A resource without a policy is closed to other
accounts.

Out of scope, and refused loudly rather than evaluated wrongly: SCPs and session policies, `NotPrincipal`, and condition operators this project never emits (numeric,
date, IP, binary). Principal `"*"` in a resource policy is
treated as a grant to the calling session (not capped by a boundary): the generous reading, so a
"no access" proof stays sound.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Document = Mapping[str, Any]
ContextValue = str | bool | Sequence[str]
PrincipalKind = Literal["role", "user", "service", "federated", "anonymous"]
GrantKind = Literal["account", "principal", "session"]

_GRANT_STRENGTH: dict[str, int] = {"account": 1, "principal": 2, "session": 3}

RESOURCE_POLICY_REQUIRED_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
)
"""Actions whose resource policy (the role's trust policy) must allow them, like KMS keys."""


class UnsupportedPolicyError(ValueError):
    """The document uses a part of the policy language this evaluator does not model."""


@dataclass(frozen=True)
class Principal:
    """Who makes the request, with the policies that apply to them."""

    arn: str
    """A role or user ARN (with its path), a service principal (`pods.eks.amazonaws.com`), a
    federated provider ARN, or `anonymous`."""
    kind: PrincipalKind = "role"
    identity_policies: tuple[Document, ...] = ()
    permissions_boundary: Document | None = None
    session_name: str = "session"
    """Role sessions: the session name in `assumed-role/<role>/<session>`."""

    @property
    def account(self) -> str:
        """The principal's account ('' for services and anonymous callers)."""
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""

    @property
    def session_arn(self) -> str:
        """The ARN a role session acts as (`arn:aws:sts::<account>:assumed-role/<name>/<s>`)."""
        if self.kind != "role":
            return self.arn
        partition = self.arn.split(":")[1]
        name = self.arn.rsplit("/", 1)[-1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{name}/{self.session_name}"


@dataclass(frozen=True)
class Request:
    """One API request: who, what, on which resource, in which context."""

    principal: Principal
    action: str
    resource: str
    """The resource ARN, or `*` for actions that act on no particular resource."""
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    """Extra request-context keys (`kms:ViaService`, `sagemaker:ModelApprovalStatus`, ...).
    `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalIsAWSService`, `aws:username`
    (users) and `aws:SecureTransport` (true) are filled in unless given."""
    resource_policy: Document | None = None
    """The bucket, key or trust policy of the resource, if it has one."""
    resource_account: str = ""
    """The account owning the resource (default: the principal's)."""


@dataclass(frozen=True)
class Decision:
    """The answer, and the reason a reviewer can read in a failing test."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


# -- matching -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """`*` matches any run of characters, `?` exactly one; everything else is literal."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Wildcard match of a whole string (StringLike semantics: case-sensitive by default)."""
    return bool(_glob(pattern, ignore_case).match(value))


def action_matches(pattern: str, action: str) -> bool:
    """Whether an `Action` entry covers `action`. Prefixes and names are case-insensitive
    ("iam:ListAccessKeys is the same as IAM:listaccesskeys", Action element page)."""
    return pattern == "*" or glob_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, value: str) -> bool:
    """ArnLike / Resource matching: each of the six colon-separated parts is matched on its own
    (so `*` in the region cannot swallow the account), case-sensitively; the last part (the
    resource) may itself contain colons and slashes. Non-ARN values fall back to a plain glob."""
    if pattern == "*":
        return True
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return glob_match(pattern, value)
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def substitute(values: Iterable[Any], context: Mapping[str, ContextValue]) -> list[str]:
    """Replace `${key}` with the request's value; drop values whose key is absent.

    `${*}`, `${?}` and `${$}` stand for the literal characters. A multivalued key cannot be a
    variable, so one value is taken.
    """
    out = []
    for value in values:
        text = "true" if value is True else "false" if value is False else str(value)
        missing = False

        def replace(match: re.Match[str]) -> str:
            nonlocal missing
            key = match.group(1)
            if key in _ESCAPES:
                return _ESCAPES[key]
            found = _context_values(context, key)
            if not found:
                missing = True
                return ""
            return found[0]

        text = _VARIABLE.sub(replace, text)
        if not missing:
            out.append(text)
    return out


# -- conditions -----------------------------------------------------------------------------


def _string_op(negated: bool, like: bool, ignore_case: bool = False):
    def test(request_value: str, policy_values: list[str]) -> bool:
        if like:
            hit = any(glob_match(p, request_value) for p in policy_values)
        elif ignore_case:
            hit = request_value.lower() in {p.lower() for p in policy_values}
        else:
            hit = request_value in policy_values
        return not hit if negated else hit

    return test


def _arn_op(negated: bool):
    def test(request_value: str, policy_values: list[str]) -> bool:
        hit = any(arn_matches(p, request_value) for p in policy_values)
        return not hit if negated else hit

    return test


def _bool_op(request_value: str, policy_values: list[str]) -> bool:
    return request_value.lower() in {p.lower() for p in policy_values}


_OPERATORS = {
    "StringEquals": (_string_op(False, False), False),
    "StringNotEquals": (_string_op(True, False), True),
    "StringEqualsIgnoreCase": (_string_op(False, False, True), False),
    "StringNotEqualsIgnoreCase": (_string_op(True, False, True), True),
    "StringLike": (_string_op(False, True), False),
    "StringNotLike": (_string_op(True, True), True),
    "ArnEquals": (_arn_op(False), False),
    "ArnLike": (_arn_op(False), False),
    "ArnNotEquals": (_arn_op(True), True),
    "ArnNotLike": (_arn_op(True), True),
    "Bool": (_bool_op, False),
}
"""Operator -> (test of one request value against the policy values, whether it is negated)."""


def _context_values(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    """The request's values for a key (keys are case-insensitive); None when absent."""
    for candidate, value in context.items():
        if candidate.lower() == key.lower():
            if isinstance(value, bool):
                return ["true" if value else "false"]
            return [str(v) for v in _as_list(value)]
    return None


def _policy_values(value: Any, context: Mapping) -> list[str]:
    return substitute(_as_list(value), context)


def condition_holds(operator: str, key: str, policy_value: Any, context: Mapping) -> bool:
    """One `operator: {key: values}` entry of a Condition block, per the operator page."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    values = _policy_values(policy_value, context)
    present = _context_values(context, key)
    if base == "Null":
        if qualifier or if_exists:
            raise UnsupportedPolicyError(f"{operator} is not a valid operator")
        # "true": the key must be absent; "false": present.
        return (present is None) == (values[0].lower() == "true")
    if base not in _OPERATORS:
        raise UnsupportedPolicyError(f"condition operator {operator!r} is not modelled")
    test, negated = _OPERATORS[base]
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicyError(f"set operator {qualifier!r} is not modelled")
    if present is None:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True  # an empty request set satisfies ForAllValues
        if qualifier == "ForAnyValue":
            return False
        # A missing key never matches; a negated operator then holds.
        return negated
    if qualifier == "ForAllValues":
        return all(test(v, values) for v in present)
    if qualifier == "ForAnyValue":
        return any(test(v, values) for v in present)
    # A single-valued key with several request values is treated as "any of them".
    return any(test(v, values) for v in present)


def conditions_hold(condition: Mapping[str, Any] | None, context: Mapping) -> bool:
    """Every operator and every key of a Condition block must hold (values are OR-ed)."""
    for operator, entries in (condition or {}).items():
        for key, value in entries.items():
            if not condition_holds(operator, key, value, context):
                return False
    return True


# -- statements -----------------------------------------------------------------------------


def statements(document: Document | None) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement may be an object)."""
    if not document:
        return []
    return [s for s in _as_list(document.get("Statement"))]


def _covers_action(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(action_matches(p, action) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in _as_list(statement["NotAction"]))
    raise UnsupportedPolicyError("statement has neither Action nor NotAction")


def _covers_resource(
    statement: Mapping[str, Any], resource: str, implied: bool, context: Mapping
) -> bool:
    if "Resource" in statement:
        patterns = substitute(_as_list(statement["Resource"]), context)
        return any(arn_matches(p, resource) for p in patterns)
    if "NotResource" in statement:
        patterns = substitute(_as_list(statement["NotResource"]), context)
        return not any(arn_matches(p, resource) for p in patterns)
    # A trust policy has no Resource: it is about the role it is attached to.
    if implied:
        return True
    raise UnsupportedPolicyError("statement has neither Resource nor NotResource")


def principal_grant(statement: Mapping[str, Any], principal: Principal) -> GrantKind | None:
    """How a resource-policy statement's Principal covers the caller (None: it does not)."""
    if "NotPrincipal" in statement:
        raise UnsupportedPolicyError("NotPrincipal is not modelled")
    spec = statement.get("Principal")
    if spec is None:
        raise UnsupportedPolicyError("resource-policy statement without a Principal")
    if spec == "*":
        return "session"
    best: GrantKind | None = None

    def better(kind: GrantKind) -> None:
        nonlocal best
        if best is None or _GRANT_STRENGTH[kind] > _GRANT_STRENGTH[best]:
            best = kind

    for key, values in spec.items():
        for value in _as_list(values):
            if key == "AWS":
                if value == "*":
                    better("session")
                elif principal.kind in ("role", "user"):
                    account_root = re.fullmatch(r"(?:arn:[^:]+:iam::)?(\d{12})(?::root)?", value)
                    if account_root and account_root.group(1) == principal.account:
                        better("account")
                    elif value == principal.arn:
                        better("session" if principal.kind == "user" else "principal")
                    elif value == principal.session_arn:
                        better("session")
            elif key == "Service":
                if principal.kind == "service" and value == principal.arn:
                    better("session")
            elif key == "Federated":
                if principal.kind == "federated" and value == principal.arn:
                    better("session")
            elif key == "CanonicalUser":
                continue
            else:
                raise UnsupportedPolicyError(f"principal type {key!r} is not modelled")
    return best


def _applies(
    statement: Mapping[str, Any], request: Request, context: Mapping, *, implied_resource: bool
) -> bool:
    return (
        _covers_action(statement, request.action)
        and _covers_resource(statement, request.resource, implied_resource, context)
        and conditions_hold(statement.get("Condition"), context)
    )


def _sid(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Sid") or "unnamed statement")


# -- evaluation -----------------------------------------------------------------------------


def request_context(request: Request) -> dict[str, ContextValue]:
    """The request context AWS would build, plus whatever the request adds."""
    principal = request.principal
    context: dict[str, ContextValue] = {"aws:SecureTransport": True}
    if principal.kind in ("role", "user"):
        context.update(
            {
                "aws:PrincipalArn": principal.arn,
                "aws:PrincipalAccount": principal.account,
                "aws:PrincipalIsAWSService": False,
            }
        )
        if principal.kind == "user":
            context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    elif principal.kind == "service":
        context["aws:PrincipalIsAWSService"] = True
    if request.action.lower().startswith("kms:") and principal.account:
        # KMS sets the caller's account on every request.
        context["kms:CallerAccount"] = principal.account
    for key, value in request.context.items():
        context = {k: v for k, v in context.items() if k.lower() != key.lower()}
        context[key] = value
    return context


def _needs_resource_policy(action: str) -> bool:
    return action.lower().startswith("kms:") or any(
        action.lower() == a.lower() for a in RESOURCE_POLICY_REQUIRED_ACTIONS
    )


def evaluate(request: Request) -> Decision:
    """Allow or deny one same-account request; see the module docstring for the logic."""
    principal = request.principal
    cross_account = bool(
        request.resource_account
        and principal.account
        and request.resource_account != principal.account
    )
    context = request_context(request)
    is_trust = any(request.action.lower() == a.lower() for a in RESOURCE_POLICY_REQUIRED_ACTIONS)

    identity = [
        (f"identity policy #{i}", s)
        for i, doc in enumerate(principal.identity_policies)
        for s in statements(doc)
    ]
    boundary = [("permissions boundary", s) for s in statements(principal.permissions_boundary)]
    resource_statements = statements(request.resource_policy)

    # 1. Explicit deny anywhere wins.
    for where, statement in [*identity, *boundary]:
        if statement.get("Effect") == "Deny" and _applies(
            statement, request, context, implied_resource=False
        ):
            return Decision(False, f"explicit deny in {where} ({_sid(statement)})")
    for statement in resource_statements:
        if (
            statement.get("Effect") == "Deny"
            and principal_grant(statement, principal) is not None
            and _applies(statement, request, context, implied_resource=is_trust)
        ):
            return Decision(False, f"explicit deny in resource policy ({_sid(statement)})")

    identity_allow = next(
        (
            (w, s)
            for w, s in identity
            if s.get("Effect") == "Allow" and _applies(s, request, context, implied_resource=False)
        ),
        None,
    )
    boundary_allows = principal.permissions_boundary is None or any(
        s.get("Effect") == "Allow" and _applies(s, request, context, implied_resource=False)
        for _, s in boundary
    )
    grant: GrantKind | None = None
    grant_sid = ""
    for statement in resource_statements:
        if statement.get("Effect") != "Allow":
            continue
        kind = principal_grant(statement, principal)
        if kind is None or not _applies(statement, request, context, implied_resource=is_trust):
            continue
        if grant is None or _GRANT_STRENGTH[kind] > _GRANT_STRENGTH[grant]:
            grant, grant_sid = kind, _sid(statement)

    via_identity = identity_allow is not None and boundary_allows
    granted_by = f"{identity_allow[0]} ({_sid(identity_allow[1])})" if identity_allow else ""
    capped = principal.kind == "role" and not boundary_allows
    if cross_account:
        # Both accounts must allow: the resource side by naming the caller (or its account),
        # the caller's side through its own identity policies within its boundary.
        if grant is None:
            return Decision(
                False, "implicit deny: the resource policy does not allow the other account"
            )
        if not via_identity:
            reason = "the boundary" if identity_allow else "no identity policy"
            return Decision(
                False, f"implicit deny: {reason} in the caller's account allows it ({grant_sid})"
            )
        return Decision(True, f"allowed by {granted_by} and resource policy ({grant_sid})")
    if _needs_resource_policy(request.action):
        # Key and trust policies are the gate: without a statement covering the caller, no
        # identity policy can grant access ("they must explicitly allow access for principals").
        if grant is None:
            return Decision(False, "implicit deny: the key/trust policy does not allow it")
        if grant == "account":
            if via_identity:
                return Decision(True, f"allowed by {granted_by} via account delegation")
            reason = "the boundary" if identity_allow else "no identity policy"
            return Decision(False, f"implicit deny: {reason} allows it ({grant_sid} delegates)")
        if grant == "principal" and capped:
            return Decision(False, "implicit deny: the permissions boundary does not allow it")
        return Decision(True, f"allowed by resource policy ({grant_sid})")

    if grant == "session" or (grant == "principal" and not capped):
        return Decision(True, f"allowed by resource policy ({grant_sid})")
    if via_identity:
        return Decision(True, f"allowed by {granted_by}")
    if identity_allow is not None or grant is not None:
        return Decision(False, "implicit deny: the permissions boundary does not allow it")
    return Decision(False, "implicit deny: no policy allows it")


def allowed(
    principal: Principal,
    action: str,
    resource: str,
    *,
    resource_policy: Document | None = None,
    context: Mapping[str, ContextValue] | None = None,
) -> Decision:
    """Shorthand for `evaluate(Request(...))`."""
    return evaluate(
        Request(
            principal=principal,
            action=action,
            resource=resource,
            context=dict(context or {}),
            resource_policy=resource_policy,
        )
    )
