"""BU tenant: persona rules and quota as plain functions, then the namespace rendered under mocks.

Every Kubernetes object the tenant creates is rebuilt as a manifest from its recorded inputs and
validated with kubernetes-validate against the Kubernetes 1.31 schemas, strictly (no unknown
fields), so a misspelt property fails here rather than at `pulumi up`.
"""

from __future__ import annotations

import re
from functools import cache

import kubernetes_validate
import pulumi_kubernetes as k8s
import pytest

from components.tenant import (
    PERSONAS,
    READ,
    BuTenant,
    BuTenantArgs,
    persona_group,
    persona_rules,
    quota_hard,
    validate_tenant,
)
from estate.offline.engine import ProgramError, render

CLUSTER = "platform-prod-ai"
KUBERNETES_VERSION = "1.31"
ROLE_ARNS = {
    "data-scientist": "arn:aws:iam::222222222222:role/ai-estate/personas/fraud-prod-data-scientist",
    "ml-engineer": "arn:aws:iam::222222222222:role/ai-estate/personas/fraud-prod-ml-engineer",
    "auditor": "arn:aws:iam::222222222222:role/ai-estate/personas/fraud-prod-auditor",
}


def tenant_args(**over) -> BuTenantArgs:
    args = {
        "business_unit": "fraud",
        "environment": "prod",
        "gpu_quota": 16,
        "cpu_quota": "64",
        "memory_quota": "256Gi",
        "default_container_limits": {"cpu": "2", "memory": "4Gi"},
        "persona_role_arns": dict(ROLE_ARNS),
        "cluster_name": CLUSTER,
        "vpc_cidr": "10.20.0.0/16",
        "gpu_pool_names": ["serve-a10g"],
        "k8s_provider": None,
        "tags": {"BusinessUnit": "fraud", "Environment": "prod"},
    }
    args.update(over)
    return args  # type: ignore[return-value]


# -- pure -----------------------------------------------------------------------------------


def rule_map(persona: str, environment: str = "prod") -> dict[str, set[str]]:
    """`group/resource` -> verbs."""
    out: dict[str, set[str]] = {}
    for rule in persona_rules(persona, environment):
        for group in rule.api_groups:
            for resource in rule.resources:
                out.setdefault(f"{group}/{resource}", set()).update(rule.verbs)
    return out


def test_no_persona_reads_secrets_or_uses_wildcards():
    for persona in PERSONAS:
        for env in ("dev", "prod"):
            for rule in persona_rules(persona, env):
                assert "secrets" not in rule.resources
                assert "*" not in rule.resources + rule.verbs + rule.api_groups


def test_data_scientist_runs_jobs_and_execs_only_outside_prod():
    prod, dev = rule_map("data-scientist", "prod"), rule_map("data-scientist", "dev")
    assert {"create", "delete"} <= prod["batch/jobs"] and {"create", "delete"} <= prod["/pods"]
    assert prod["/pods/log"] == set(READ)
    assert "/pods/exec" not in prod and "/pods/portforward" not in prod
    assert "create" in dev["/pods/exec"]
    assert "apps/deployments" not in prod  # shipping services is the ML engineer's job


def test_ml_engineer_ships_services_approver_and_auditor_only_read():
    engineer = rule_map("ml-engineer")
    for kind in ("apps/deployments", "/services", "/configmaps", "batch/jobs"):
        assert {"create", "update", "patch", "delete"} <= engineer[kind], kind
    for persona in ("model-approver", "auditor"):
        assert all(verbs <= set(READ) for verbs in rule_map(persona).values()), persona
    auditor = rule_map("auditor")
    for kind in (
        "/events",
        "/resourcequotas",
        "networking.k8s.io/networkpolicies",
        "rbac.authorization.k8s.io/rolebindings",
    ):
        assert auditor[kind] == set(READ), kind
    with pytest.raises(ValueError, match="unknown persona"):
        persona_rules("intern", "prod")


def test_quota_caps_gpus_with_requests_only():
    hard = quota_hard(tenant_args())
    assert hard == {
        "requests.nvidia.com/gpu": "16",
        "requests.cpu": "64",
        "requests.memory": "256Gi",
        "limits.cpu": "64",
        "limits.memory": "256Gi",
        "pods": "200",
    }
    # Kubernetes rejects limits.<extended resource> in a quota
    assert not any(k.startswith("limits.nvidia.com") for k in hard)
    burst = quota_hard(tenant_args(cpu_limit_quota="128", memory_limit_quota="512Gi", pod_quota=50))
    assert (burst["limits.cpu"], burst["limits.memory"], burst["pods"]) == ("128", "512Gi", "50")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"business_unit": "Fraud"}, "lower-case DNS label"),
        ({"business_unit": "kube-system"}, "system namespace"),
        ({"gpu_quota": -1}, "gpu_quota must not be negative"),
        ({"cpu_quota": "lots"}, "cpu_quota must be a Kubernetes quantity"),
        ({"memory_quota": "256GB"}, "memory_quota must be a Kubernetes quantity"),
        ({"default_container_limits": {"nvidia.com/gpu": "1"}}, "a default GPU"),
        ({"persona_role_arns": {"intern": "arn:aws:iam::1:role/x"}}, "unknown personas"),
        ({"pod_quota": 0}, "pod_quota must be at least 1"),
    ],
)
def test_tenant_validation(over, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        validate_tenant(tenant_args(**over))
    assert "tenant of BU" in str(err.value)


# -- rendered -------------------------------------------------------------------------------


@cache
def rendered(environment: str = "prod", with_roles: bool = True):
    def program():
        provider = k8s.Provider("cluster", kubeconfig="{}")
        BuTenant(
            "fraud-tenant",
            tenant_args(
                environment=environment,
                k8s_provider=provider,
                persona_role_arns=dict(ROLE_ARNS) if with_roles else {},
            ),
        )

    return render(
        program,
        stack=f"fraud-{environment}",
        project="ai-estate",
        config={"aws:region": "us-east-1"},
    )


def by_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def by_name(inventory, typ):
    return {r.inputs["metadata"]["name"]: r for r in by_type(inventory, typ)}


def manifest_of(resource) -> dict:
    keys = ("apiVersion", "kind", "metadata", "spec", "rules", "subjects", "roleRef")
    return {k: resource.inputs[k] for k in keys if k in resource.inputs}


NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"


@pytest.mark.parametrize("environment", ["prod", "dev"])
def test_every_kubernetes_object_validates_against_the_1_31_schema(environment):
    inventory = rendered(environment)
    objects = [r for r in inventory.resources if r.type.startswith("kubernetes:") and r.custom]
    kinds = sorted({r.inputs["kind"] for r in objects})
    assert kinds == [
        "LimitRange",
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    for resource in objects:
        try:
            kubernetes_validate.validate(manifest_of(resource), KUBERNETES_VERSION, strict=True)
        except (
            kubernetes_validate.ValidationError
        ) as exc:  # the schema dump is huge; name the field
            pytest.fail(f"{resource.name}: {exc.message} at {list(exc.path)}")


def test_namespace_is_the_bu_with_restricted_pod_security():
    inventory = rendered()
    [namespace] = by_type(inventory, NAMESPACE)
    assert namespace.inputs["metadata"]["name"] == "fraud"
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["ai-estate/bu"] == "fraud" and labels["ai-estate/environment"] == "prod"
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    # every namespaced object lands in it, after it, through the explicit provider
    [provider] = by_type(inventory, "pulumi:providers:kubernetes")
    namespaced = [
        r
        for r in inventory.resources
        if r.type.startswith("kubernetes:")
        and r.custom
        and r.type != NAMESPACE
        and "ValidatingAdmissionPolicy" not in r.type  # cluster-scoped
    ]
    assert len(namespaced) == 1 + 1 + 6 + 4 + 4  # quota, limits, policies, roles, bindings
    for r in namespaced:
        assert r.inputs["metadata"]["namespace"] == "fraud", r.name
        assert namespace.urn in r.property_dependencies["metadata"], r.name
        assert r.provider.startswith(provider.urn), r.name


def test_quota_and_limit_range():
    inventory = rendered()
    [quota] = by_type(inventory, "kubernetes:core/v1:ResourceQuota")
    assert quota.inputs["spec"]["hard"]["requests.nvidia.com/gpu"] == "16"
    assert "limits.nvidia.com/gpu" not in quota.inputs["spec"]["hard"]
    [limits] = by_type(inventory, "kubernetes:core/v1:LimitRange")
    assert limits.inputs["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "2", "memory": "4Gi"},
            "defaultRequest": {"cpu": "2", "memory": "4Gi"},
        }
    ]


def test_network_policies_deny_by_default_and_allow_dns_pod_identity_and_the_namespace():
    policies = {name: r.inputs["spec"] for name, r in by_name(rendered(), NETPOL).items()}
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-pod-identity",
        "allow-same-namespace",
        "allow-aws-gateway-endpoints",
        "allow-aws-interface-endpoints",
    }
    deny = policies["default-deny"]
    assert (
        deny["policyTypes"] == ["Ingress", "Egress"]
        and "ingress" not in deny
        and "egress" not in deny
    )
    assert deny["podSelector"].get("matchLabels", {}) == {}  # every pod
    [dns] = policies["allow-dns"]["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
    [agent] = policies["allow-pod-identity"]["egress"]
    assert agent["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]
    assert agent["ports"] == [{"protocol": "TCP", "port": 80}]
    same = policies["allow-same-namespace"]
    assert same["ingress"] == [{"from": [{"podSelector": {"matchLabels": {}}}]}]
    assert same["egress"] == [{"to": [{"podSelector": {"matchLabels": {}}}]}]


def test_each_persona_role_is_bound_to_its_group():
    inventory = rendered()
    roles, bindings = by_name(inventory, ROLE), by_name(inventory, BINDING)
    assert set(roles) == set(bindings) == {f"ai-estate-{p}" for p in PERSONAS}
    for persona in PERSONAS:
        binding = bindings[f"ai-estate-{persona}"].inputs
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": f"ai-estate-{persona}",
        }
        assert binding["subjects"] == [
            {
                "kind": "Group",
                "name": f"ai-estate:fraud:{persona}",
                "apiGroup": "rbac.authorization.k8s.io",
            }
        ]
        rules = roles[f"ai-estate-{persona}"].inputs["rules"]
        assert rules == [
            {
                "apiGroups": list(r.api_groups),
                "resources": list(r.resources),
                "verbs": list(r.verbs),
            }
            for r in persona_rules(persona, "prod")
        ]
    dev_rules = by_name(rendered("dev"), ROLE)["ai-estate-data-scientist"].inputs["rules"]
    assert any("pods/exec" in r["resources"] for r in dev_rules)
    assert not any(
        "pods/exec" in r["resources"] for r in roles["ai-estate-data-scientist"].inputs["rules"]
    )


def test_access_entries_map_persona_roles_to_groups_and_auditors_view_the_namespace():
    inventory = rendered()
    entries = {r.inputs["principalArn"]: r for r in by_type(inventory, ACCESS_ENTRY)}
    assert set(entries) == set(ROLE_ARNS.values())  # model-approver has no role yet: no entry
    for persona, arn in ROLE_ARNS.items():
        entry = entries[arn].inputs
        assert entry["type"] == "STANDARD" and entry["clusterName"] == CLUSTER
        assert entry["kubernetesGroups"] == [persona_group("fraud", persona)]
        assert entry["tags"]["BusinessUnit"] == "fraud"
    [view] = by_type(inventory, ASSOCIATION)
    assert view.inputs["principalArn"] == ROLE_ARNS["auditor"]
    assert view.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    assert view.inputs["accessScope"] == {"type": "namespace", "namespaces": ["fraud"]}
    assert entries[ROLE_ARNS["auditor"]].urn in view.dependencies
    assert by_type(rendered(with_roles=False), ACCESS_ENTRY) == []
    assert by_type(rendered(with_roles=False), ASSOCIATION) == []


def test_invalid_tenant_fails_the_render():
    def program():
        BuTenant(
            "bad",
            tenant_args(business_unit="default", k8s_provider=k8s.Provider("c", kubeconfig="{}")),
        )

    with pytest.raises(ProgramError, match="'default' is a system namespace"):
        render(program, stack="fraud-prod", project="ai-estate", config={"aws:region": "us-east-1"})
