"""BU pipelines deploy their stacks onto the shared cluster as their own roles: the platform
stack grants each listed deployer namespace-scoped EKS access, RBAC for exactly the
cluster-scoped objects its BU stack creates, and an admission policy keeps those cluster-wide
grants on the BU's own names. Proved on the rendered shipped stacks."""

from __future__ import annotations

import celpy
import pytest

from components.cluster import BU_DEPLOYER_GUARDED, bu_deployer_match_condition

ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
FRAUD_DEPLOYER = "arn:aws:iam::222222222222:role/fraud-prod-deployer"
#: Namespaced kinds the Kubernetes `admin` role (the namespace-scoped `AmazonEKSAdminPolicy`)
#: writes. A kind a BU stack creates outside this set must be granted, or the test names it
#: (`admin` only reads ResourceQuota and LimitRange; cluster-scoped kinds are not in it).
IN_ADMIN = {
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("apps", "deployments"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("policy", "poddisruptionbudgets"),
    ("autoscaling", "horizontalpodautoscalers"),
}


def of_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def resource_of(r) -> str:
    """`kubernetes:karpenter.sh/v1:NodePool` -> (`karpenter.sh`, `nodepools`)."""
    group = r.type.split(":")[1].rsplit("/", 1)[0]
    kind = r.type.rsplit(":", 1)[-1]
    lower = kind.lower()
    plural = (
        lower[:-1] + "ies"
        if lower.endswith("y")
        else lower + "es"
        if lower.endswith(("s", "x"))
        else lower + "s"
    )
    return ("" if group == "core" else group), plural


def test_the_fraud_deployer_gets_namespace_scoped_admin_and_a_group(rendered):
    platform = rendered("platform-prod")
    [entry] = [
        e for e in of_type(platform, ACCESS_ENTRY) if e.inputs.get("principalArn") == FRAUD_DEPLOYER
    ]
    assert entry.inputs["type"] == "STANDARD"
    assert entry.inputs["kubernetesGroups"] == ["ai-estate:bu-deployer:fraud"]
    [association] = [a for a in of_type(platform, ASSOCIATION) if "bu-deployer" in a.name]
    assert association.inputs["policyArn"].endswith("cluster-access-policy/AmazonEKSAdminPolicy")
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": ["fraud"]}


def test_rbac_covers_exactly_what_the_bu_stack_creates_beyond_its_namespace(rendered):
    platform, fraud = rendered("platform-prod"), rendered("fraud-prod")
    [role] = [r for r in of_type(platform, CLUSTER_ROLE) if "bu-deployer" in r.name]
    granted = {
        (g, res)
        for rule in role.inputs["rules"]
        for g in rule["apiGroups"]
        for res in rule["resources"]
    }
    created = {
        resource_of(r)
        for r in fraud.resources
        if r.type.startswith("kubernetes:") and "helm" not in r.type
    }
    beyond_admin = created - IN_ADMIN
    assert beyond_admin <= granted, f"the BU stack creates {beyond_admin - granted} ungranted"
    assert {("", "namespaces"), ("", "resourcequotas"), ("karpenter.sh", "nodepools")} <= (
        beyond_admin
    )
    # and nothing else: no RBAC, no workloads cluster-wide; every grant is guarded
    assert granted == set(BU_DEPLOYER_GUARDED)
    assert not {r for _, r in granted} & {"clusterroles", "clusterrolebindings", "pods"}
    named = [r for r in role.inputs["rules"] if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["fraud"],
            "verbs": ["get", "update", "patch", "delete"],
        }
    ]
    [binding] = [b for b in of_type(platform, BINDING) if "bu-deployer" in b.name]
    assert binding.inputs["roleRef"]["name"] == role.inputs["metadata"]["name"]
    assert binding.inputs["subjects"] == [
        {
            "kind": "Group",
            "name": "ai-estate:bu-deployer:fraud",
            "apiGroup": "rbac.authorization.k8s.io",
        }
    ]


def guard(platform):
    [policy] = [
        p
        for p in of_type(platform, VAP)
        if p.inputs["metadata"]["name"] == "ai-estate-bu-deployer-scope"
    ]
    env = celpy.Environment()
    [validation] = policy.inputs["spec"]["validations"]
    [condition] = policy.inputs["spec"]["matchConditions"]
    assert condition["expression"] == bu_deployer_match_condition()
    check = env.program(env.compile(validation["expression"]))
    matches = env.program(env.compile(condition["expression"]))
    return policy, check, matches


def request(groups, resource, name, namespace="", group=""):
    return celpy.json_to_cel(
        {
            "request": {
                "userInfo": {"username": "arn:aws:sts::1:assumed-role/x/y", "groups": groups},
                "resource": {"group": group, "version": "v1", "resource": resource},
                "name": name,
                "namespace": namespace,
            }
        }
    )


FRAUD = ["system:authenticated", "ai-estate:bu-deployer:fraud"]


@pytest.mark.parametrize(
    ("resource", "name", "namespace", "group", "allowed"),
    [
        ("namespaces", "fraud", "", "", True),
        ("namespaces", "marketing", "", "", False),
        ("resourcequotas", "compute", "fraud", "", True),
        ("resourcequotas", "compute", "marketing", "", False),
        ("limitranges", "container-defaults", "marketing", "", False),
        ("nodepools", "fraud-train-a10g", "", "karpenter.sh", True),
        ("nodepools", "marketing-train-a10g", "", "karpenter.sh", False),
        ("ec2nodeclasses", "fraud-train-a10g", "", "karpenter.k8s.aws", True),
        ("ec2nodeclasses", "fraudster-x", "", "karpenter.k8s.aws", False),
        ("httproutes", "card-fraud", "fraud", "gateway.networking.k8s.io", True),
        ("scaledobjects", "card-fraud", "marketing", "keda.sh", False),
        # Kueue (issue 13): the BU's own ClusterQueue and LocalQueue, nobody else's
        ("clusterqueues", "fraud-gpu", "", "kueue.x-k8s.io", True),
        ("clusterqueues", "marketing-gpu", "", "kueue.x-k8s.io", False),
        ("localqueues", "fraud-gpu", "fraud", "kueue.x-k8s.io", True),
        ("localqueues", "marketing-gpu", "marketing", "kueue.x-k8s.io", False),
        (
            "validatingadmissionpolicies",
            "ai-estate-fraud-gpu-pool-selection",
            "",
            "admissionregistration.k8s.io",
            True,
        ),
        (
            "validatingadmissionpolicies",
            "ai-estate-bu-toleration-guard",
            "",
            "admissionregistration.k8s.io",
            False,
        ),
    ],
)
def test_the_guard_keeps_a_deployer_on_its_own_names(
    rendered, resource, name, namespace, group, allowed
):
    policy, check, matches = guard(rendered("platform-prod"))
    rules = policy.inputs["spec"]["matchConstraints"]["resourceRules"]
    assert any(resource in r["resources"] and group in r["apiGroups"] for r in rules)
    activation = request(FRAUD, resource, name, namespace, group)
    assert bool(matches.evaluate(activation))
    assert bool(check.evaluate(activation)) is allowed


def test_a_bu_named_like_a_platform_policy_cannot_touch_it():
    from components.cluster import bu_deployer_scope_expression

    env = celpy.Environment()
    check = env.program(env.compile(bu_deployer_scope_expression(["bu-deployer", "bu-toleration"])))
    for group, name in (
        ("ai-estate:bu-deployer:bu-deployer", "ai-estate-bu-deployer-scope"),
        ("ai-estate:bu-deployer:bu-toleration", "ai-estate-bu-toleration-guard"),
    ):
        activation = request(
            [group], "validatingadmissionpolicies", name, "", "admissionregistration.k8s.io"
        )
        assert not bool(check.evaluate(activation)), name


def test_the_guard_ignores_everyone_else(rendered):
    _, _, matches = guard(rendered("platform-prod"))
    platform_deployer = request(["system:authenticated"], "namespaces", "marketing")
    assert not bool(matches.evaluate(platform_deployer))
