"""Federated trust pins the subject: an OIDC trust says which workload may assume the role.

An IAM OIDC provider vouches for every token its issuer signs. The audience (`<host>:aud`,
usually `sts.amazonaws.com`) is the same for every repository on GitHub and every service
account of an EKS cluster, so a trust held only to `:aud` lets any GitHub repository in the
world, or any pod of the cluster, assume the role. The subject (`<host>:sub`) names the workload:

- GitHub Actions (`token.actions.githubusercontent.com`): `repo:<owner>/<repo>:<context>`, the
  context being `ref:refs/heads/main`, `environment:prod`, `pull_request`, ... Owner and
  repository must be literal (no `*` or `?`) and the context must say something (`repo:o/r:*`
  admits every branch and every pull request). A customised subject template (values not
  starting with `repo:`) must be literal.
- EKS IRSA (`oidc.eks.<region>.amazonaws.com/id/<id>`): `system:serviceaccount:<ns>:<sa>` with a
  literal namespace and a service account that is not only a wildcard.
- Any other OIDC issuer: every subject value says something besides wildcards, and more than a
  prefix (`project_path:*` says nothing).

Only positive string operators count (`StringEquals`, `StringLike`, `StringEqualsIgnoreCase`,
optionally `ForAnyValue:`); negated, `…IfExists` and `ForAllValues:` operators admit tokens the
owner never named. One broad value among several opens the role to everyone it matches, so every
value is judged. SAML providers and Cognito identity pools carry no `:sub` of this kind and are
left to `iam-trust-specific-principals`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, Rule, Settings, checkov
from .identity import ROLE, allows
from .properties import as_list, json_document, text

WEB_IDENTITY = "sts:assumerolewithwebidentity"
GITHUB_HOST = "token.actions.githubusercontent.com"
_OIDC_PROVIDER = re.compile(r"^arn:[^:]*:iam::[^:]*:oidc-provider/(?P<host>.+)$")
_EKS_HOST = re.compile(r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/", re.IGNORECASE)
_GITHUB_SUBJECT = re.compile(r"^repo:(?P<owner>[^/:]*)/(?P<repo>[^:]*):(?P<context>.*)$")
_IRSA_SUBJECT = re.compile(r"^system:serviceaccount:(?P<ns>[^:]*):(?P<sa>.*)$")
_NOT_OIDC = ("cognito-identity.amazonaws.com",)
_POSITIVE_STRING_OPERATORS = frozenset({"stringequals", "stringlike", "stringequalsignorecase"})


def _wild(value: str) -> bool:
    return "*" in value or "?" in value


def _says_something(value: str) -> bool:
    return bool(value.strip("*?"))


def subject_problem(host: str, subject: str) -> str:
    """Why this `:sub` value admits more than one workload ('' when it pins one)."""
    if host.lower() == GITHUB_HOST:
        if not subject.startswith("repo:"):
            return "" if not _wild(subject) else "a custom subject template with a wildcard"
        match = _GITHUB_SUBJECT.match(subject)
        if not match:
            return "no repository and ref or environment"
        owner, repo, context = match.group("owner", "repo", "context")
        if not owner or _wild(owner):
            return "any owner's repositories"
        if not repo or _wild(repo):
            return f"every repository of {owner}"
        if not _says_something(context):
            return f"every branch, tag and pull request of {owner}/{repo}"
        return ""
    if _EKS_HOST.match(host):
        match = _IRSA_SUBJECT.match(subject)
        if not match:
            return "no namespace and service account"
        namespace, account = match.group("ns", "sa")
        if not namespace or _wild(namespace):
            return "service accounts of any namespace"
        if not _says_something(account):
            return f"every service account of namespace {namespace}"
        return ""
    head = re.sub(r"[*?]+$", "", subject)
    if not _says_something(subject) or head.endswith(":"):
        return "any subject of the issuer"
    return ""


def oidc_hosts(principal: Any) -> list[str]:
    """The OIDC issuers a statement's `Federated` principal names (provider ARN or host)."""
    if not isinstance(principal, Mapping):
        return []
    hosts = []
    for value in as_list(principal.get("Federated")):
        value = text(value)
        match = _OIDC_PROVIDER.match(value)
        if match:
            hosts.append(match.group("host"))
        elif value and not value.startswith("arn:") and value not in _NOT_OIDC:
            hosts.append(value)  # web identity without an IAM provider: accounts.google.com
    return hosts


def subject_values(condition: Any, host: str) -> list[str] | None:
    """Every `<host>:sub` value under a positive string operator; None when there is none."""
    if not isinstance(condition, Mapping):
        return None
    wanted = f"{host.lower()}:sub"
    found: list[str] | None = None
    for operator, block in condition.items():
        op = str(operator).lower().removeprefix("foranyvalue:")
        if op not in _POSITIVE_STRING_OPERATORS or not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            if str(key).lower() == wanted:
                found = (found or []) + [str(v) for v in as_list(values)]
    return found


def _web_identity(statement: Mapping[str, Any]) -> bool:
    actions = [str(a).lower() for a in as_list(statement.get("Action"))]
    return any(a in (WEB_IDENTITY, "sts:*", "*") for a in actions)


def federation_problems(trust: Mapping[str, Any] | None) -> list[str]:
    """Why a trust policy lets more than named workloads of an OIDC issuer in."""
    problems: list[str] = []
    for statement in allows(trust):
        hosts = oidc_hosts(statement.get("Principal"))
        if not hosts or not _web_identity(statement):
            continue
        sid = text(statement.get("Sid")) or "a statement"
        for host in hosts:
            values = subject_values(statement.get("Condition"), host)
            if not values:
                problems.append(
                    f"{sid} trusts {host} without a StringEquals/StringLike condition on "
                    f"{host}:sub (an audience condition admits every workload of the issuer)"
                )
                continue
            problems.extend(_value_problems(sid, host, values))
    return problems


def _value_problems(sid: str, host: str, values: Iterable[str]) -> list[str]:
    found = []
    for value in values:
        why = subject_problem(host, value)
        if why:
            found.append(f"{sid} trusts {host}:sub {value!r}, which admits {why}")
    return found


def validate_oidc_subject(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for problem in federation_problems(json_document(args.props.get("assumeRolePolicy"))):
        report(f"Role '{args.name}': {problem}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="iam-oidc-trust-pins-subject",
        title="OIDC trust names the workload that may assume the role",
        description=(
            "Every role trusting an OIDC provider (GitHub Actions, EKS IRSA, ...) for "
            "sts:AssumeRoleWithWebIdentity constrains <host>:sub to named workloads: repository "
            "and ref or environment, or namespace and service account, not only :aud."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Add Condition StringEquals (or StringLike) {'<host>:sub': "
            "'repo:<owner>/<repo>:ref:refs/heads/main'} for GitHub Actions, or "
            "'system:serviceaccount:<namespace>:<service-account>' for EKS IRSA, next to "
            "'<host>:aud': 'sts.amazonaws.com' (components.iam.oidc_trust_statement)."
        ),
        kind="resource",
        validate=validate_oidc_subject,
        resource_types=frozenset({ROLE}),
        frameworks=(checkov("CKV_AWS_358"),),
        domain="identity",
        rationale=(
            "The audience is the same for every GitHub repository and every pod of a cluster; "
            "only the subject tells one workload from another, so a trust without it (or with "
            "'repo:*', 'repo:org/*', 'system:serviceaccount:*') hands the role to strangers."
        ),
    ),
)
