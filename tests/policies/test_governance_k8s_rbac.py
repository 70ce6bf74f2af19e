"""Kubernetes RBAC and EKS access rules: a bad and a good program per rule, built from real
`pulumi_kubernetes` and `pulumi_aws` resources, the platform/BU distinction of the EKS access rule
(the stack kind comes from `PULUMI_CONFIG`, as the CLI passes it), and the shipped stacks.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance import rbac
from policy_harness import check, names
from policy_programs import unknown

from estate.offline.engine import config_to_wire

Program = Callable[[], None]
rbac_v1, meta = k8s.rbac.v1, k8s.meta.v1
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
BU_ROLE = "arn:aws:iam::222222222222:role/ai-estate/fraud/fraud-prod-ml-engineer"


@dataclass(frozen=True)
class Case:
    bad: Program
    flagged: set[str]
    good: Program


def rule(api_groups: list[str], resources: list[str], verbs: list[str]) -> rbac_v1.PolicyRuleArgs:
    return rbac_v1.PolicyRuleArgs(api_groups=api_groups, resources=resources, verbs=verbs)


READ_PODS = rule([""], ["pods", "pods/log"], ["get", "list", "watch"])


def role(name: str, *rules: rbac_v1.PolicyRuleArgs, namespace: str = "fraud") -> None:
    rbac_v1.Role(name, metadata=meta.ObjectMetaArgs(namespace=namespace), rules=list(rules))


def cluster_role(name: str, *rules: rbac_v1.PolicyRuleArgs) -> None:
    rbac_v1.ClusterRole(name, rules=list(rules))


def group(name: str) -> rbac_v1.SubjectArgs:
    return rbac_v1.SubjectArgs(kind="Group", name=name, api_group="rbac.authorization.k8s.io")


def binding(
    name: str,
    role_name: str,
    *subjects: rbac_v1.SubjectArgs,
    role_kind: str = "ClusterRole",
    cluster_wide: bool = False,
) -> None:
    ref = rbac_v1.RoleRefArgs(kind=role_kind, name=role_name, api_group="rbac.authorization.k8s.io")
    subjects_ = list(subjects) or [group("ai-estate:fraud:ml-engineer")]
    if cluster_wide:
        rbac_v1.ClusterRoleBinding(name, role_ref=ref, subjects=subjects_)
    else:
        rbac_v1.RoleBinding(
            name, metadata=meta.ObjectMetaArgs(namespace="fraud"), role_ref=ref, subjects=subjects_
        )


def association(name: str, policy: str, scope: str, principal=BU_ROLE) -> None:
    aws.eks.AccessPolicyAssociation(
        name,
        cluster_name="platform-prod-ai",
        policy_arn=policy,
        principal_arn=principal,
        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
            type=scope, namespaces=["fraud"] if scope == "namespace" else None
        ),
    )


# -- cases ------------------------------------------------------------------------------------


def bad_wildcards() -> None:
    role("all-verbs", rule(["apps"], ["deployments"], ["*"]))
    role("all-resources", READ_PODS, rule([""], ["*"], ["get"]))
    cluster_role("all-groups", rule(["*"], ["configmaps"], ["get"]))
    role("subresources", rule([""], ["pods/*"], ["get", "create"]))
    rbac_v1.ClusterRolePatch(
        "patched",
        metadata=meta.ObjectMetaPatchArgs(name="reader"),
        rules=[rbac_v1.PolicyRulePatchArgs(api_groups=[""], resources=["*"], verbs=["get"])],
    )


def good_wildcards() -> None:
    role("reader", READ_PODS, rule(["apps"], ["deployments", "statefulsets"], ["get", "list"]))
    cluster_role("metrics", rbac_v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"]))
    rbac_v1.ClusterRole(
        "aggregated",
        aggregation_rule=rbac_v1.AggregationRuleArgs(
            cluster_role_selectors=[meta.LabelSelectorArgs(match_labels={"ai-estate/view": "true"})]
        ),
    )


def bad_escalation() -> None:
    cluster_role("binder", rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"]))
    role("escalator", READ_PODS, rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate"]))
    cluster_role(
        "impersonator", rule([""], ["users", "groups", "serviceaccounts"], ["impersonate"])
    )


def good_escalation() -> None:
    role(
        "rbac-reader",
        rule(["rbac.authorization.k8s.io"], ["roles", "rolebindings"], ["get", "list"]),
    )
    cluster_role("metrics", rbac_v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"]))


MASTERS_YAML = """- rolearn: arn:aws:iam::222222222222:role/fraud-prod-ml-engineer
  username: ml
  groups:
    - system:masters
- rolearn: arn:aws:iam::222222222222:role/ai-estate/nodes/fraud-prod-gpu-node
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
"""
NODES_YAML = MASTERS_YAML.split("- rolearn: arn:aws:iam::222222222222:role/ai-estate", 1)[1]


def aws_auth(name: str, data: dict[str, str], config_map_name: str = "aws-auth") -> None:
    k8s.core.v1.ConfigMap(
        name,
        metadata=meta.ObjectMetaArgs(name=config_map_name, namespace="kube-system"),
        data=data,
    )


def bad_aws_auth() -> None:
    aws_auth("yaml-roles", {"mapRoles": MASTERS_YAML})
    aws_auth(
        "json-users",
        {
            "mapUsers": json.dumps(
                [
                    {
                        "userarn": "arn:aws:iam::222222222222:user/alice",
                        "username": "alice",
                        "groups": ["system:masters"],
                    }
                ]
            )
        },
    )
    k8s.core.v1.ConfigMapPatch(
        "patched",
        metadata=meta.ObjectMetaPatchArgs(name="aws-auth", namespace="kube-system"),
        data={"mapRoles": "- groups: [system:masters]\n  rolearn: arn:aws:iam::1:role/x\n"},
    )


def good_aws_auth() -> None:
    aws_auth(
        "nodes-only",
        {"mapRoles": "- rolearn: arn:aws:iam::222222222222:role/ai-estate" + NODES_YAML},
    )
    # Another ConfigMap that merely mentions the group is not aws-auth.
    aws_auth("notes", {"README": "never map anyone to system:masters"}, config_map_name="notes")


def bad_admin_bindings() -> None:
    binding("ns-cluster-admin", "cluster-admin")
    binding("crb-cluster-admin", "cluster-admin", cluster_wide=True)
    binding("crb-admin", "admin", cluster_wide=True)
    binding("crb-edit", "edit", cluster_wide=True)


def good_admin_bindings() -> None:
    binding("ns-admin", "admin")
    binding("ns-edit", "edit")
    binding("own-role", "ai-estate-ml-engineer", role_kind="Role")
    # A namespaced Role that happens to be called cluster-admin is not the ClusterRole.
    binding("odd-name", "cluster-admin", role_kind="Role")
    binding("crb-view", "view", cluster_wide=True)


def bad_subjects() -> None:
    binding("everyone", "view", group("system:authenticated"), cluster_wide=True)
    binding(
        "anonymous", "ai-estate-auditor", rbac_v1.SubjectArgs(kind="User", name="system:anonymous")
    )
    binding("unauthenticated", "view", group("system:unauthenticated"))
    binding("all-pods", "view", group("system:serviceaccounts"), cluster_wide=True)
    binding(
        "masters", "ai-estate-auditor", group("ai-estate:fraud:auditor"), group("system:masters")
    )


def good_subjects() -> None:
    binding("persona", "ai-estate-auditor", group("ai-estate:fraud:auditor"), role_kind="Role")
    binding(
        "workload",
        "ai-estate-reader",
        rbac_v1.SubjectArgs(kind="ServiceAccount", name="trainer", namespace="fraud"),
        role_kind="Role",
    )
    # The namespace's own service accounts group is narrow enough.
    binding("fraud-pods", "view", group("system:serviceaccounts:fraud"))


def bad_eks_access() -> None:
    association("cluster-admin", CLUSTER_ADMIN_POLICY, "cluster")
    association("admin", ADMIN_POLICY, "cluster")


def good_eks_access() -> None:
    association("namespace-admin", ADMIN_POLICY, "namespace")
    association("cluster-view", VIEW_POLICY, "cluster")


RBAC_CASES: dict[str, Case] = {
    "k8s-rbac-no-wildcards": Case(
        bad_wildcards,
        {"all-verbs", "all-resources", "all-groups", "subresources", "patched"},
        good_wildcards,
    ),
    "k8s-rbac-no-escalation-verbs": Case(
        bad_escalation, {"binder", "escalator", "impersonator"}, good_escalation
    ),
    "eks-aws-auth-no-masters": Case(
        bad_aws_auth, {"yaml-roles", "json-users", "patched"}, good_aws_auth
    ),
    "k8s-rbac-no-cluster-admin-binding": Case(
        bad_admin_bindings,
        {"ns-cluster-admin", "crb-cluster-admin", "crb-admin", "crb-edit"},
        good_admin_bindings,
    ),
    "k8s-rbac-no-broad-subjects": Case(
        bad_subjects,
        {"everyone", "anonymous", "unauthenticated", "all-pods", "masters"},
        good_subjects,
    ),
    "eks-access-no-cluster-admin-for-bu": Case(
        bad_eks_access, {"cluster-admin", "admin"}, good_eks_access
    ),
}
"""Bad/good cases of the RBAC rules (collected by `test_governance_rules`)."""


def set_stack(monkeypatch, kind: str, bu: str, env: str = "prod") -> None:
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps(
            {"ai-estate:kind": kind, "ai-estate:businessUnit": bu, "ai-estate:environment": env}
        ),
    )


@pytest.fixture(autouse=True)
def fraud_prod(monkeypatch):
    set_stack(monkeypatch, "bu", "fraud")


def test_every_rbac_rule_has_a_bad_and_a_good_case():
    assert set(RBAC_CASES) == {r.id for r in rbac.RULES}


@pytest.mark.parametrize("rule_id", sorted(RBAC_CASES))
def test_bad_program_is_caught(rule_id: str):
    case = RBAC_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged, [v.message for v in violations]
    assert all(v.message.endswith(".") for v in violations)


@pytest.mark.parametrize("rule_id", sorted(RBAC_CASES))
def test_good_program_passes(rule_id: str):
    assert check(rule_id, RBAC_CASES[rule_id].good, environment="prod") == []


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_rbac_rules_block_in_every_environment(environment):
    assert all(r.enforcement[environment] == "mandatory" for r in rbac.RULES)


def test_wildcard_message_names_the_rule_and_field():
    [violation] = check(
        "k8s-rbac-no-wildcards", lambda: role("r", READ_PODS, rule([""], ["*"], ["get"]))
    )
    assert "rule 2 has resources *" in violation.message


def test_more_subjects_can_be_forbidden_by_policy_config():
    def program():
        binding("contractors", "view", group("contractors"))

    assert check("k8s-rbac-no-broad-subjects", program) == []
    config = {"forbiddenSubjects": ["contractors"]}
    assert names(check("k8s-rbac-no-broad-subjects", program, policy_config=config)) == [
        "contractors"
    ]


def test_aws_auth_message_names_only_the_masters_principal():
    [violation] = check(
        "eks-aws-auth-no-masters", lambda: aws_auth("a", {"mapRoles": MASTERS_YAML})
    )
    assert "fraud-prod-ml-engineer in system:masters" in violation.message
    assert "gpu-node" not in violation.message


# -- EKS access: platform and BU stacks -------------------------------------------------------


def platform_associations() -> None:
    # The platform's own deployer (its ARN an output of a role the stack creates).
    association("deployer-admin", CLUSTER_ADMIN_POLICY, "cluster", principal=unknown())
    association(
        "platform-ops",
        CLUSTER_ADMIN_POLICY,
        "cluster",
        principal="arn:aws:iam::111111111111:role/platform-prod-operator",
    )
    # A BU deployer the platform admits, properly scoped, and one that is not.
    association(
        "marketing-scoped",
        ADMIN_POLICY,
        "namespace",
        principal="arn:aws:iam::111111111111:role/marketing-prod-deployer",
    )
    association(
        "marketing-cluster",
        ADMIN_POLICY,
        "cluster",
        principal="arn:aws:iam::111111111111:role/marketing-prod-deployer",
    )


def test_in_a_platform_stack_only_bu_principals_are_refused_cluster_admin(monkeypatch):
    set_stack(monkeypatch, "platform", "platform")
    violations = check("eks-access-no-cluster-admin-for-bu", platform_associations)
    assert names(violations) == ["marketing-cluster"]
    assert "BU marketing's principal" in violations[0].message


def test_in_a_bu_stack_every_principal_is_the_bus(monkeypatch):
    assert set(names(check("eks-access-no-cluster-admin-for-bu", platform_associations))) == {
        "deployer-admin",
        "platform-ops",
        "marketing-cluster",
    }


def test_a_program_without_a_stack_kind_is_judged_as_a_bu_stack(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    assert set(names(check("eks-access-no-cluster-admin-for-bu", bad_eks_access))) == {
        "cluster-admin",
        "admin",
    }


# -- shipped stacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_shipped_stacks_pass_every_rbac_rule(rendered, monkeypatch, stack):
    inventory = rendered(stack)
    # The pack gets the stack's own config, as the CLI passes it.
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config_to_wire(inventory.config)))
    assert any(r.type.startswith(rbac.RBAC) for r in inventory.resources)
    for rule_ in rbac.RULES:
        assert check(rule_.id, inventory) == [], rule_.id


def test_the_shipped_bu_deployer_association_is_read(rendered, monkeypatch):
    """Liveness: widening the platform's namespaced BU deployer association to the cluster is
    caught, and its principal is named as marketing's."""
    inventory = rendered("platform-dev")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config_to_wire(inventory.config)))
    widened = dataclasses.replace(
        inventory,
        resources=[
            dataclasses.replace(r, inputs={**r.inputs, "accessScope": {"type": "cluster"}})
            if r.type == rbac.ACCESS_POLICY_ASSOCIATION
            else r
            for r in inventory.resources
        ],
    )
    violations = check("eks-access-no-cluster-admin-for-bu", widened)
    assert [v.resource_name for v in violations] == [
        "platform-dev-cluster-bu-deployer-marketing-dev-deployer-admin"
    ]
    assert "BU marketing's principal AmazonEKSAdminPolicy" in violations[0].message


@pytest.mark.parametrize("token", sorted(rbac.ROLE_TYPES | rbac.BINDING_TYPES))
def test_every_watched_type_token_is_a_pulumi_kubernetes_resource(token):
    _, group_version, kind = token.split(":")
    group, version = group_version.split("/")
    module = importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}")
    assert isinstance(getattr(module, kind), type)
