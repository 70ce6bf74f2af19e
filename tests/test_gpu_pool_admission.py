"""A GPU pod selects exactly one of its BU's pools: the rendered ValidatingAdmissionPolicy's CEL,
run with cel-python on admission requests built here (issue 11, item 19).

Without the rule a GPU pod that fits both a managed pool (cluster-autoscaler) and a Karpenter
pool makes both provision a node for it. The policy and its binding are fraud-prod's, rendered
through the program; the CEL is evaluated as the API server does: variables in order, then each
validation, and a false validation denies the request with its message.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"


def one(inventory, typ):
    # The BU's GPU pool-selection policy (its Kueue queue-name policy is tests/test_kueue.py's).
    [resource] = [r for r in inventory.resources if r.type == typ and "gpu-pool" in r.name]
    return resource


def evaluate(policy_spec: dict[str, Any], pod: dict[str, Any]) -> tuple[bool, str]:
    """(admitted, message) for a CREATE of `pod` under the policy's variables and validations."""
    env = celpy.Environment()
    activation: dict[str, Any] = {"object": celpy.json_to_cel(pod)}
    variables: dict[str, Any] = {}
    for variable in policy_spec.get("variables", []):
        activation["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in variables.items()}
        )
        program = env.program(env.compile(variable["expression"]))
        variables[variable["name"]] = program.evaluate(activation)
    activation["variables"] = celpy.celtypes.MapType(
        {celpy.celtypes.StringType(k): v for k, v in variables.items()}
    )
    for validation in policy_spec["validations"]:
        result = env.program(env.compile(validation["expression"])).evaluate(activation)
        assert isinstance(result, celpy.celtypes.BoolType), result  # an error is not a verdict
        if not result:
            return False, validation["message"]
    return True, ""


def pod(
    *,
    gpu: bool = True,
    node_selector: dict[str, str] | None = None,
    affinity_terms: list[list[dict[str, Any]]] | None = None,
    init_gpu: bool = False,
) -> dict[str, Any]:
    def container(name: str, wants_gpu: bool) -> dict[str, Any]:
        resources: dict[str, Any] = {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}
        if wants_gpu:
            resources["limits"]["nvidia.com/gpu"] = "1"
        return {"name": name, "image": "example/model:1", "resources": resources}

    spec: dict[str, Any] = {"containers": [container("main", gpu)]}
    if init_gpu:
        spec["initContainers"] = [container("warm", True)]
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if affinity_terms is not None:
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": t} for t in affinity_terms]
                }
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "fraud"},
        "spec": spec,
    }


def pool_in(*pools: str) -> dict[str, Any]:
    return {"key": "ai-estate/pool", "operator": "In", "values": list(pools)}


@pytest.fixture(scope="module")
def fraud(rendered):
    inventory = rendered("fraud-prod")
    return one(inventory, POLICY), one(inventory, BINDING)


ADMITTED = {
    "gpu pod selecting serve-a10g": pod(node_selector={"ai-estate/pool": "serve-a10g"}),
    "gpu pod with one affinity term on train-a10g": pod(affinity_terms=[[pool_in("train-a10g")]]),
    "gpu pod, affinity plus another expression": pod(
        affinity_terms=[[pool_in("train-a10g"), {"key": "zone", "operator": "Exists"}]]
    ),
    "selector and affinity naming the same pool": pod(
        node_selector={"ai-estate/pool": "serve-a10g"}, affinity_terms=[[pool_in("serve-a10g")]]
    ),
    "cpu pod with no pool": pod(gpu=False),
}
DENIED = {
    "gpu pod with no pool": pod(),
    "gpu pod selecting only the GPU model": pod(node_selector={"ai-estate/gpu-model": "a10g"}),
    "gpu pod selecting another BU's pool": pod(node_selector={"ai-estate/pool": "explore-t4"}),
    "affinity on two pools": pod(affinity_terms=[[pool_in("serve-a10g", "train-a10g")]]),
    "two affinity terms (ORed)": pod(
        affinity_terms=[[pool_in("serve-a10g")], [pool_in("train-a10g")]]
    ),
    "NotIn is not a selection": pod(
        affinity_terms=[[{"key": "ai-estate/pool", "operator": "NotIn", "values": ["x"]}]]
    ),
    "selector and affinity naming different pools": pod(
        node_selector={"ai-estate/pool": "serve-a10g"}, affinity_terms=[[pool_in("train-a10g")]]
    ),
    "gpu init container with no pool": pod(gpu=False, init_gpu=True),
}


@pytest.mark.parametrize("case", sorted(ADMITTED))
def test_admitted(fraud, case):
    policy, _ = fraud
    admitted, message = evaluate(policy.inputs["spec"], ADMITTED[case])
    assert admitted, message


@pytest.mark.parametrize("case", sorted(DENIED))
def test_denied_naming_the_rule(fraud, case):
    policy, _ = fraud
    admitted, message = evaluate(policy.inputs["spec"], DENIED[case])
    assert not admitted
    assert "exactly one GPU pool" in message and "serve-a10g, train-a10g" in message


def test_policy_fails_closed_on_pod_writes_and_binds_to_the_bu_namespace_only(fraud):
    policy, binding = fraud
    spec = policy.inputs["spec"]
    assert spec["failurePolicy"] == "Fail"
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["pods"] and rule["apiGroups"] == [""]
    assert set(rule["operations"]) == {"CREATE", "UPDATE"}
    assert (
        binding.inputs["apiVersion"]
        == policy.inputs["apiVersion"]
        == ("admissionregistration.k8s.io/v1")
    )
    bspec = binding.inputs["spec"]
    assert bspec["policyName"] == policy.inputs["metadata"]["name"]
    assert bspec["validationActions"] == ["Deny"]
    assert bspec["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "fraud"}
    }
    assert policy.urn in binding.dependencies


def test_each_bu_gets_its_own_policy_for_its_own_pools(rendered):
    marketing = one(rendered("marketing-dev"), POLICY)
    admitted, _ = evaluate(
        marketing.inputs["spec"], pod(node_selector={"ai-estate/pool": "explore-t4"})
    )
    assert admitted
    assert not evaluate(
        marketing.inputs["spec"], pod(node_selector={"ai-estate/pool": "serve-a10g"})
    )[0]
    assert (
        marketing.inputs["metadata"]["name"]
        != one(rendered("fraud-prod"), POLICY).inputs["metadata"]["name"]
    )
