"""Kubernetes RBAC and EKS access rules: least-privilege roles, no cluster-admin bindings, no
bindings to everyone, and no cluster-wide EKS admin access for a BU.

Every BU shares the platform's cluster, so one over-broad grant reaches every other BU's
namespace, secrets and GPU pods. What is policed, in any program:

- `k8s-rbac-no-wildcards`: a `Role` or `ClusterRole` (and their server-side-apply patches) whose
  rules put `*` in `verbs`, `resources` or `apiGroups` (also inside a name, as `pods/*`): it
  grants what does not exist yet, including every CRD installed later. A ClusterRole with an
  `aggregationRule` has its rules filled in by the controller and is judged by what it selects.
- `k8s-rbac-no-escalation-verbs`: a Role or ClusterRole granting `escalate` or `bind` (on roles,
  a subject can raise its own rights to any role's) or `impersonate` (act as another user, group
  or service account).
- `k8s-rbac-no-cluster-admin-binding`: a `RoleBinding` or `ClusterRoleBinding` to the ClusterRole
  `cluster-admin`, or a ClusterRoleBinding to `admin` or `edit` (namespace roles granted in every
  namespace, secrets included). A RoleBinding to `admin`/`edit` stays allowed: that is how a
  namespace gets its administrators.
- `k8s-rbac-no-broad-subjects`: a binding whose subjects are everyone (`system:authenticated`,
  `system:unauthenticated`, `system:anonymous`), every service account (`system:serviceaccounts`)
  or the API server's superuser group (`system:masters`), plus the `forbiddenSubjects` setting.
- `eks-access-no-cluster-admin-for-bu`: an `aws.eks.AccessPolicyAssociation` of
  AmazonEKSClusterAdminPolicy or AmazonEKSAdminPolicy with `access_scope.type == "cluster"` for a
  BU principal. In a BU stack every principal is the BU's; in a platform stack (config
  `ai-estate:kind: platform`) a principal is a BU's when its ARN names a BU by the estate's naming
  contract (`<bu>-<env>-...` or the role path `/ai-estate/<bu>/`, `identity.business_units_named`).
  The platform's own deployer keeps its cluster admin: an ARN that is unknown until apply is, in a
  platform stack, a role that stack creates, and the platform creates no BU roles.

- `eks-aws-auth-no-masters`: an `aws-auth` ConfigMap (or patch) whose `mapRoles`, `mapUsers` or
  `mapAccounts` puts an IAM principal in `system:masters`: a superuser no RBAC rule can narrow and
  no EKS API lists (access entries replace the ConfigMap; the estate uses them).

Helm releases are opaque (their objects never reach the pack), as in `kubernetes.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .catalog import BLOCK_EVERYWHERE, ENVIRONMENTS, Rule, Setting, Settings, checkov, cis_eks
from .identity import PLATFORM, business_units_named
from .k8s_workloads import is_platform_stack
from .monitoring import stack_kind
from .profiles import stack_config
from .properties import as_list, get, text

RBAC = "kubernetes:rbac.authorization.k8s.io"
_RBAC_VERSIONS = ("v1", "v1beta1", "v1alpha1")
ROLE_TYPES = frozenset(
    f"{RBAC}/{v}:{kind}{patch}"
    for v in _RBAC_VERSIONS
    for kind in ("Role", "ClusterRole")
    for patch in ("", "Patch")
)
"""Every Role/ClusterRole type token pulumi-kubernetes 4.x defines, with the patches."""
BINDING_TYPES = frozenset(
    f"{RBAC}/{v}:{kind}{patch}"
    for v in _RBAC_VERSIONS
    for kind in ("RoleBinding", "ClusterRoleBinding")
    for patch in ("", "Patch")
)
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
CONFIG_MAP_TYPES = frozenset({"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"})
AWS_AUTH = "aws-auth"
AWS_AUTH_KEYS = ("mapRoles", "mapUsers", "mapAccounts")
MASTERS = "system:masters"
ESCALATION_VERBS = ("escalate", "bind", "impersonate")
"""Verbs that let a subject grant itself more than its role says (CIS EKS 4.1.8)."""

WILDCARD_FIELDS = ("verbs", "resources", "apiGroups")
CLUSTER_ADMIN = "cluster-admin"
CLUSTER_WIDE_FORBIDDEN = ("admin", "edit")
"""Namespace-level default ClusterRoles that a ClusterRoleBinding grants in every namespace."""

BROAD_SUBJECTS: dict[str, tuple[str, ...]] = {
    "Group": (
        "system:authenticated",
        "system:unauthenticated",
        "system:serviceaccounts",
        "system:masters",
    ),
    "User": ("system:anonymous",),
}
"""Subjects that stand for everyone, every pod, or the API server's superuser group."""

EKS_ADMIN_POLICIES = ("AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy")
"""EKS access policies that amount to cluster-admin / admin (arn:aws:eks::aws:cluster-access-policy/...)."""


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


# -- k8s-rbac-no-wildcards --------------------------------------------------------------------


def wildcard_problems(rules: Iterable[Any]) -> list[str]:
    """Which rules of a Role/ClusterRole grant `*` in verbs, resources or apiGroups."""
    problems = []
    for index, rule in enumerate(rules):
        for field in WILDCARD_FIELDS:
            wild = sorted({text(v) for v in as_list(get(rule, field)) if "*" in text(v)})
            if wild:
                problems.append(f"rule {index + 1} has {field} {', '.join(wild)}")
    return problems


def validate_no_wildcards(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    problems = wildcard_problems(as_list(args.props.get("rules")))
    if problems:
        report(
            f"{_kind(args.resource_type)} '{args.name}' grants wildcards: {'; '.join(problems)}.",
            None,
        )


# -- k8s-rbac-no-escalation-verbs -------------------------------------------------------------


def escalation_problems(rules: Iterable[Any]) -> list[str]:
    """Which rules of a Role/ClusterRole grant escalate, bind or impersonate."""
    problems = []
    for index, rule in enumerate(rules):
        verbs = {text(v).lower() for v in as_list(get(rule, "verbs"))}
        granted = [v for v in ESCALATION_VERBS if v in verbs]
        if granted:
            on = ", ".join(sorted({text(r) for r in as_list(get(rule, "resources"))})) or "?"
            problems.append(f"rule {index + 1} grants {', '.join(granted)} on {on}")
    return problems


def validate_no_escalation_verbs(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    problems = escalation_problems(as_list(args.props.get("rules")))
    if problems:
        report(
            f"{_kind(args.resource_type)} '{args.name}' lets its subjects raise their own "
            f"rights: {'; '.join(problems)}.",
            None,
        )


# -- k8s-rbac-no-cluster-admin-binding -----------------------------------------------------------


def admin_binding_problem(resource_type: str, role_ref: Any) -> str:
    """Why a binding to `role_ref` grants cluster-wide administration ('' when it does not)."""
    if text(get(role_ref, "kind")) != "ClusterRole":
        return ""
    name = text(get(role_ref, "name"))
    if name == CLUSTER_ADMIN:
        return f"binds the ClusterRole '{CLUSTER_ADMIN}'"
    if _kind(resource_type).startswith("ClusterRoleBinding") and name in CLUSTER_WIDE_FORBIDDEN:
        return f"binds the ClusterRole '{name}' in every namespace"
    return ""


def validate_no_cluster_admin_binding(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    problem = admin_binding_problem(args.resource_type, args.props.get("roleRef"))
    if problem:
        report(f"{_kind(args.resource_type)} '{args.name}' {problem}.", None)


# -- k8s-rbac-no-broad-subjects ---------------------------------------------------------------


def broad_subjects(subjects: Iterable[Any], extra: Iterable[str]) -> list[str]:
    """The subjects of a binding that stand for everyone (as `Kind name`)."""
    forbidden = {name for names in BROAD_SUBJECTS.values() for name in names} | set(extra)
    found = []
    for subject in subjects:
        kind, name = text(get(subject, "kind")), text(get(subject, "name"))
        if kind in ("Group", "User") and name in forbidden:
            found.append(f"{kind} {name}")
    return found


def validate_no_broad_subjects(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    extra = [str(s) for s in settings.get("forbiddenSubjects") or []]
    found = broad_subjects(as_list(args.props.get("subjects")), extra)
    if found:
        report(
            f"{_kind(args.resource_type)} '{args.name}' grants its role to {', '.join(found)}.",
            None,
        )


# -- eks-access-no-cluster-admin-for-bu -------------------------------------------------------


def eks_admin_policy(policy_arn: str) -> str:
    """The EKS admin access policy an ARN names ('' for any other policy)."""
    name = policy_arn.rsplit("/", 1)[-1]
    return name if policy_arn.startswith("arn:") and name in EKS_ADMIN_POLICIES else ""


def _principal_business_units(props: Mapping[str, Any]) -> set[str] | None:
    """The BUs the association's principal ARN names; None while the ARN is unknown."""
    try:
        arn = text(props.get("principalArn"))
    except UnknownValueError:
        return None
    return business_units_named(arn) - {PLATFORM}


def validate_no_bu_cluster_admin(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    policy = eks_admin_policy(text(args.props.get("policyArn")))
    if not policy or text(get(args.props, "accessScope", "type")) != "cluster":
        return
    if stack_kind(stack_config()) != PLATFORM and is_platform_stack():
        return  # a dedicated BU cluster is the BU's own: its deployer administers it
    if stack_kind(stack_config()) == PLATFORM:
        named = _principal_business_units(args.props)
        if not named:
            return
        whose = f"BU {', '.join(sorted(named))}'s principal"
    else:
        whose = "a BU stack's principal"
    report(
        f"Access policy association '{args.name}' gives {whose} {policy} on the whole cluster "
        "(access_scope type 'cluster').",
        None,
    )


# -- eks-aws-auth-no-masters ------------------------------------------------------------------

_ENTRY_START = re.compile(r"^\s*-\s+(?=(rolearn|userarn|username|groups)\s*:)", re.MULTILINE)
"""Where an entry of the aws-auth YAML list starts (not the `- system:masters` group items)."""
_ARN = re.compile(r"(role|user)arn\s*:\s*[\"']?(?P<arn>[^\s\"']+)")


def masters_mappings(document: str) -> list[str]:
    """The principals an aws-auth `mapRoles`/`mapUsers`/`mapAccounts` value puts in
    system:masters (YAML as eksctl writes it, or JSON). '?' where an entry names none."""
    try:
        entries: Any = json.loads(document)
    except ValueError:
        entries = None
    found = []
    if isinstance(entries, list):
        for entry in entries:
            groups = (
                [str(g) for g in as_list(entry.get("groups"))] if isinstance(entry, dict) else []
            )
            if MASTERS in groups:
                found.append(str(entry.get("rolearn") or entry.get("userarn") or "?"))
        return found
    starts = [m.start() for m in _ENTRY_START.finditer(document)] or [0]
    for begin, end in zip(starts, [*starts[1:], len(document)], strict=True):
        entry = document[begin:end]
        if MASTERS in entry:
            match = _ARN.search(entry)
            found.append(match.group("arn") if match else "?")
    if not found and MASTERS in document:
        found.append("?")
    return found


def validate_aws_auth_no_masters(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if text(get(args.props, "metadata", "name")) != AWS_AUTH:
        return
    data = args.props.get("data")
    if not isinstance(data, Mapping):
        return
    for key in AWS_AUTH_KEYS:
        value = data.get(key)
        principals = masters_mappings(value) if isinstance(value, str) else []
        if principals:
            report(
                f"ConfigMap '{args.name}' ({AWS_AUTH}) {key} puts {', '.join(principals)} in "
                f"{MASTERS}.",
                None,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="k8s-rbac-no-wildcards",
        title="RBAC roles name what they grant",
        description=(
            "No Role or ClusterRole has '*' in the verbs, resources or apiGroups of a rule."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "List the API groups, resources and verbs the subject needs (split rules per group: "
            "k8s.rbac.v1.PolicyRuleArgs(api_groups=['apps'], resources=['deployments'], "
            "verbs=['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'])); the BU "
            "persona roles of components.tenant are the model."
        ),
        kind="resource",
        validate=validate_no_wildcards,
        resource_types=ROLE_TYPES,
        frameworks=(cis_eks("4.1.3"), checkov("CKV_K8S_49")),
        domain="rbac",
        rationale=(
            "Checkov's CKV_K8S_49 reads only the first rule; this rule reads all of them. A '*' "
            "verb includes escalate, bind and impersonate; a '*' resource includes every CRD "
            "installed after the review."
        ),
    ),
    Rule(
        id="k8s-rbac-no-escalation-verbs",
        title="RBAC roles cannot grant themselves more",
        description="No Role or ClusterRole grants the escalate, bind or impersonate verbs.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Drop escalate/bind/impersonate from the rule; who may create bindings is the "
            "platform's decision (BU persona roles manage workloads, not RBAC)."
        ),
        kind="resource",
        validate=validate_no_escalation_verbs,
        resource_types=ROLE_TYPES,
        frameworks=(
            cis_eks("4.1.8"),
            checkov("CKV_K8S_157"),
            checkov("CKV_K8S_158"),
            checkov("CKV2_K8S_3"),
        ),
        domain="rbac",
        rationale=(
            "escalate lets a subject edit a role beyond its own rights, bind lets it bind any "
            "role, impersonate lets it act as anyone; each reaches cluster-admin."
        ),
    ),
    Rule(
        id="k8s-rbac-no-cluster-admin-binding",
        title="Nothing is bound to cluster-admin",
        description=(
            "No RoleBinding or ClusterRoleBinding binds the ClusterRole cluster-admin, and no "
            "ClusterRoleBinding binds admin or edit."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Bind a role that lists what the subject needs; for namespace administrators use a "
            "RoleBinding in that namespace to the ClusterRole 'admin'. Cluster administrators "
            "get an EKS access entry with AmazonEKSClusterAdminPolicy on the platform deployer "
            "role, which is audited in CloudTrail, instead of an in-cluster binding."
        ),
        kind="resource",
        validate=validate_no_cluster_admin_binding,
        resource_types=BINDING_TYPES,
        frameworks=(cis_eks("4.1.1"),),
        domain="rbac",
        rationale=(
            "A break-glass binding is a reviewed exception: waive this rule for that resource "
            "(ai-estate:waivers) with an expiry."
        ),
    ),
    Rule(
        id="k8s-rbac-no-broad-subjects",
        title="RBAC bindings do not grant to everyone",
        description=(
            "No RoleBinding or ClusterRoleBinding has system:authenticated, "
            "system:unauthenticated, system:serviceaccounts, system:masters or the user "
            "system:anonymous among its subjects."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Bind named subjects: the BU persona groups of its access entries "
            "(ai-estate:<bu>:<persona>) or the service accounts that need the role "
            "(kind ServiceAccount, with namespace)."
        ),
        kind="resource",
        validate=validate_no_broad_subjects,
        resource_types=BINDING_TYPES,
        settings=(
            Setting(
                name="forbiddenSubjects",
                description="More group or user names no binding may grant to.",
                schema={
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                },
                defaults={env: [] for env in ENVIRONMENTS},
            ),
        ),
        domain="rbac",
        rationale=(
            "Every IAM principal with an access entry is system:authenticated; with the "
            "anonymous groups, the role reaches callers that presented no credential at all."
        ),
    ),
    Rule(
        id="eks-access-no-cluster-admin-for-bu",
        title="BU principals get no cluster-wide EKS admin access",
        description=(
            "No EKS access policy association gives a BU principal AmazonEKSClusterAdminPolicy "
            "or AmazonEKSAdminPolicy with access scope 'cluster'."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Scope the association to the BU's namespaces: access_scope=aws.eks."
            "AccessPolicyAssociationAccessScopeArgs(type='namespace', namespaces=['<bu>']) "
            "(platform bu_deployers and BuTenant do this); read-only personas use "
            "AmazonEKSViewPolicy."
        ),
        kind="resource",
        validate=validate_no_bu_cluster_admin,
        resource_types=frozenset({ACCESS_POLICY_ASSOCIATION}),
        frameworks=(cis_eks("4.1.1"),),
        domain="rbac",
        rationale=(
            "Cluster-wide admin for a BU crosses every other BU's namespace; the platform's own "
            "deployer keeps it (module docstring for how a BU principal is recognised)."
        ),
    ),
    Rule(
        id="eks-aws-auth-no-masters",
        title="aws-auth maps no one to system:masters",
        description=(
            "No aws-auth ConfigMap maps an IAM role, user or account into the system:masters group."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Use EKS access entries (aws.eks.AccessEntry with kubernetes_groups naming an RBAC "
            "group, or an AccessPolicyAssociation) and the API authentication mode; map the "
            "remaining aws-auth entries to named RBAC groups, never system:masters."
        ),
        kind="resource",
        validate=validate_aws_auth_no_masters,
        resource_types=CONFIG_MAP_TYPES,
        frameworks=(cis_eks("4.1.7"),),
        domain="rbac",
        rationale=(
            "system:masters bypasses RBAC authorization altogether and cannot be revoked by "
            "deleting a binding; access entries are visible and revocable through the EKS API."
        ),
    ),
)
