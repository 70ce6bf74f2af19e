"""The admission evaluator: upstream ValidatingAdmissionPolicy examples, then the policies the
shipped platform stacks render (each with an object it admits and one it refuses)."""

from __future__ import annotations

import pytest

from estate.analysis.admission import AdmissionRequest, evaluate

# -- the ValidatingAdmissionPolicy page's examples ---------------------------------------------
# https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/

DEMO_POLICY = {
    "metadata": {"name": "demo-policy.example.com"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["deployments"],
                }
            ]
        },
        "validations": [{"expression": "object.spec.replicas <= 5"}],
    },
}
DEMO_BINDING = {
    "metadata": {"name": "demo-binding-test.example.com"},
    "spec": {
        "policyName": "demo-policy.example.com",
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchLabels": {"environment": "test"}}},
    },
}
PARAM_POLICY = {
    "metadata": {"name": "replicalimit-policy.example.com"},
    "spec": {
        "paramKind": {"apiVersion": "rules.example.com/v1", "kind": "ReplicaLimit"},
        "matchConstraints": DEMO_POLICY["spec"]["matchConstraints"],
        "validations": [
            {
                "expression": "object.spec.replicas <= params.maxReplicas",
                "messageExpression": "'object.spec.replicas must be no greater than ' + "
                "string(params.maxReplicas)",
                "reason": "Invalid",
            }
        ],
    },
}
PARAM_BINDING = {
    "metadata": {"name": "replicalimit-binding-test.example.com"},
    "spec": {
        "policyName": "replicalimit-policy.example.com",
        "validationActions": ["Deny"],
        "paramRef": {"name": "replica-limit-test.example.com", "namespace": "default"},
    },
}
MATCH_CONDITIONS_POLICY = {
    "metadata": {"name": "demo-policy.example.com"},
    "spec": {
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["*"],
                    "apiVersions": ["*"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["*"],
                }
            ]
        },
        "matchConditions": [
            {
                "name": "exclude-leases",
                "expression": '!(request.resource.group == "coordination.k8s.io" && '
                'request.resource.resource == "leases")',
            },
            {
                "name": "exclude-kubelet-requests",
                "expression": '!("system:nodes" in request.userInfo.groups)',
            },
            {"name": "rbac", "expression": 'request.resource.group != "rbac.authorization.k8s.io"'},
        ],
        "validations": [
            {
                "expression": "!object.metadata.name.contains('demo') || object.metadata.namespace == 'demo'"
            }
        ],
    },
}
ALL_BINDING = {
    "metadata": {"name": "demo-binding"},
    "spec": {"policyName": "demo-policy.example.com", "validationActions": ["Deny"]},
}
VARIABLES_POLICY = {
    "metadata": {"name": "image-matches-namespace-environment.policy.example.com"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": DEMO_POLICY["spec"]["matchConstraints"],
        "variables": [
            {
                "name": "environment",
                "expression": "'environment' in namespaceObject.metadata.labels ? "
                "namespaceObject.metadata.labels['environment'] : 'prod'",
            },
            {
                "name": "exempt",
                "expression": "has(object.metadata.labels) && 'exempt' in object.metadata.labels "
                "&& object.metadata.labels['exempt'] == 'true'",
            },
            {"name": "containers", "expression": "object.spec.template.spec.containers"},
            {
                "name": "containersToCheck",
                "expression": "variables.containers.filter(c, c.image.contains('example.com/'))",
            },
        ],
        "validations": [
            {
                "expression": "variables.exempt || variables.containersToCheck.all(c, "
                "c.image.startsWith(variables.environment + '.'))",
                "messageExpression": "'only ' + variables.environment + ' images are allowed in "
                "namespace ' + namespaceObject.metadata.name",
            }
        ],
    },
}
VARIABLES_BINDING = {
    "metadata": {"name": "image-matches-namespace-environment.binding"},
    "spec": {
        "policyName": "image-matches-namespace-environment.policy.example.com",
        "validationActions": ["Deny"],
    },
}


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(name: str, ns: str, replicas: int, image: str = "nginx", labels=None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "c", "image": image}]}},
        },
    }


def test_demo_policy_replicas_at_most_5_in_test_namespaces():
    test_ns = namespace("t", environment="test")
    ok = evaluate(
        [DEMO_POLICY],
        [DEMO_BINDING],
        AdmissionRequest(deployment("d", "t", 5), namespace_object=test_ns),
    )
    assert ok
    refused = evaluate(
        [DEMO_POLICY],
        [DEMO_BINDING],
        AdmissionRequest(deployment("d", "t", 6), namespace_object=test_ns),
    )
    assert not refused
    assert (
        "demo-policy.example.com (binding demo-binding-test.example.com) validation #0"
        in refused.reason
    )
    assert "failed expression: object.spec.replicas <= 5" in refused.reason
    # the binding's namespaceSelector: other namespaces are not checked
    prod = namespace("p", environment="prod")
    assert evaluate(
        [DEMO_POLICY],
        [DEMO_BINDING],
        AdmissionRequest(deployment("d", "p", 50), namespace_object=prod),
    )


def test_demo_policy_matches_only_deployment_writes():
    test_ns = namespace("t", environment="test")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "t"},
        "spec": {},
    }
    assert evaluate([DEMO_POLICY], [DEMO_BINDING], AdmissionRequest(pod, namespace_object=test_ns))
    delete = AdmissionRequest(
        None, "DELETE", old_object=deployment("d", "t", 9), namespace_object=test_ns
    )
    assert evaluate([DEMO_POLICY], [DEMO_BINDING], delete)


def test_replicalimit_params_and_message_expression():
    request = AdmissionRequest(deployment("d", "default", 4), params={"maxReplicas": 3})
    refused = evaluate([PARAM_POLICY], [PARAM_BINDING], request)
    assert not refused
    assert "(Invalid): object.spec.replicas must be no greater than 3" in refused.reason
    assert evaluate(
        [PARAM_POLICY],
        [PARAM_BINDING],
        AdmissionRequest(deployment("d", "default", 3), params={"maxReplicas": 3}),
    )


def test_match_conditions_skip_requests_they_exclude():
    demo_pod = {"kind": "Pod", "metadata": {"name": "demo-1", "namespace": "default"}, "spec": {}}
    refused = evaluate([MATCH_CONDITIONS_POLICY], [ALL_BINDING], AdmissionRequest(demo_pod))
    assert not refused
    in_demo = {"kind": "Pod", "metadata": {"name": "demo-1", "namespace": "demo"}, "spec": {}}
    assert evaluate([MATCH_CONDITIONS_POLICY], [ALL_BINDING], AdmissionRequest(in_demo))
    kubelet = {"username": "system:node:n1", "groups": ["system:nodes"]}
    skipped = evaluate(
        [MATCH_CONDITIONS_POLICY], [ALL_BINDING], AdmissionRequest(demo_pod, user=kubelet)
    )
    assert skipped and "matchCondition exclude-kubelet-requests is false" in skipped.reason


def test_variables_compose_and_message_expression_names_the_environment():
    staging = namespace("staging-ns", environment="staging")
    good = deployment("d", "staging-ns", 1, image="staging.example.com/nginx")
    bad = deployment("d", "staging-ns", 1, image="prod.example.com/nginx")
    exempt = deployment(
        "d", "staging-ns", 1, image="prod.example.com/nginx", labels={"exempt": "true"}
    )
    assert evaluate(
        [VARIABLES_POLICY], [VARIABLES_BINDING], AdmissionRequest(good, namespace_object=staging)
    )
    refused = evaluate(
        [VARIABLES_POLICY], [VARIABLES_BINDING], AdmissionRequest(bad, namespace_object=staging)
    )
    assert not refused
    assert "only staging images are allowed in namespace staging-ns" in refused.reason
    assert evaluate(
        [VARIABLES_POLICY], [VARIABLES_BINDING], AdmissionRequest(exempt, namespace_object=staging)
    )


def test_warn_binding_admits_with_a_warning_and_failure_policy_decides_errors():
    warn = {**DEMO_BINDING, "spec": {**DEMO_BINDING["spec"], "validationActions": ["Warn"]}}
    test_ns = namespace("t", environment="test")
    warned = evaluate(
        [DEMO_POLICY], [warn], AdmissionRequest(deployment("d", "t", 9), namespace_object=test_ns)
    )
    assert warned and warned.warnings
    no_replicas = deployment("d", "t", 1)
    del no_replicas["spec"]["replicas"]
    failed = evaluate(
        [DEMO_POLICY], [DEMO_BINDING], AdmissionRequest(no_replicas, namespace_object=test_ns)
    )
    assert not failed and "expression error" in failed.reason
    ignore = {**DEMO_POLICY, "spec": {**DEMO_POLICY["spec"], "failurePolicy": "Ignore"}}
    assert evaluate(
        [ignore], [DEMO_BINDING], AdmissionRequest(no_replicas, namespace_object=test_ns)
    )


# -- the policies the shipped stacks render ------------------------------------------------------


def rendered_policies(inventory):
    policies, bindings = [], []
    for r in inventory.resources:
        if r.type.endswith(":ValidatingAdmissionPolicy"):
            policies.append(r.inputs)
        elif r.type.endswith(":ValidatingAdmissionPolicyBinding"):
            bindings.append(r.inputs)
    return policies, bindings


def gpu_pod(ns: str, bu_toleration: str | None, **spec) -> dict:
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if bu_toleration is not None:
        tolerations.append(
            {
                "key": "ai-estate/bu",
                "operator": "Equal",
                "value": bu_toleration,
                "effect": "NoSchedule",
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "trainer", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "x"}], "tolerations": tolerations, **spec},
    }


BU_NAMESPACE = namespace("fraud", **{"ai-estate/bu": "fraud"})


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_toleration_guard_admits_a_pod_tolerating_its_own_bu(rendered, stack):
    policies, bindings = rendered_policies(rendered(stack))
    assert policies and bindings
    verdict = evaluate(
        policies,
        bindings,
        AdmissionRequest(gpu_pod("fraud", "fraud"), namespace_object=BU_NAMESPACE),
    )
    assert verdict, verdict.reason
    assert "admitted by ValidatingAdmissionPolicy ai-estate-bu-toleration-guard" in verdict.reason


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
@pytest.mark.parametrize(
    ("pod", "validation", "message"),
    [
        (gpu_pod("fraud", "marketing"), 0, "only with their own namespace's BU"),
        (
            {
                **gpu_pod("fraud", None),
                "spec": {"containers": [], "tolerations": [{"operator": "Exists"}]},
            },
            0,
            "every toleration must name a key",
        ),
        (
            gpu_pod("fraud", "fraud", nodeName="ip-10-20-1-1.ec2.internal"),
            1,
            "may not set spec.nodeName",
        ),
    ],
    ids=["other-bu-toleration", "wildcard-toleration", "node-name"],
)
def test_toleration_guard_refuses(rendered, stack, pod, validation, message):
    policies, bindings = rendered_policies(rendered(stack))
    verdict = evaluate(policies, bindings, AdmissionRequest(pod, namespace_object=BU_NAMESPACE))
    assert not verdict
    assert (
        f"ai-estate-bu-toleration-guard (binding ai-estate-bu-toleration-guard) validation #{validation} (Forbidden)"
        in verdict.reason
    )
    assert message in verdict.reason


def test_toleration_guard_leaves_non_bu_namespaces_alone(rendered):
    policies, bindings = rendered_policies(rendered("platform-prod"))
    system = namespace("kube-system")
    assert evaluate(
        policies,
        bindings,
        AdmissionRequest(gpu_pod("kube-system", "fraud"), namespace_object=system),
    )


# -- Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/)

RESTRICTED_NS = namespace("apps", **{"pod-security.kubernetes.io/enforce": "restricted"})
BASELINE_NS = namespace("legacy", **{"pod-security.kubernetes.io/enforce": "baseline"})


def restricted_pod(**overrides) -> dict:
    """A pod that meets "restricted": non-root, RuntimeDefault seccomp, no escalation, drop ALL."""
    container = {
        "name": "app",
        "image": "x",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    for key, value in overrides.items():
        if key == "container":
            container["securityContext"].update(value)
        else:
            spec[key] = value
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": "apps"}, "spec": spec}


def pss(pod, ns=RESTRICTED_NS):
    return evaluate([], [], AdmissionRequest(pod, namespace_object=ns))


def test_restricted_pod_is_admitted():
    verdict = pss(restricted_pod())
    assert verdict and 'Pod Security "restricted" holds' in verdict.reason


@pytest.mark.parametrize(
    ("overrides", "control"),
    [
        ({"container": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation != false"),
        ({"container": {"runAsNonRoot": False}}, "runAsNonRoot != true"),
        ({"container": {"runAsUser": 0}}, "runAsUser=0"),
        ({"container": {"capabilities": {"drop": []}}}, "unrestricted capabilities"),
        (
            {"container": {"capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}}},
            "non-default capabilities (NET_RAW)",
        ),
        ({"container": {"seccompProfile": {"type": "Unconfined"}}}, "seccompProfile"),
        ({"container": {"privileged": True}}, "privileged"),
        ({"hostNetwork": True}, "host namespaces (hostNetwork=true)"),
        ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "hostPath volumes (h)"),
        (
            {"volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]},
            "restricted volume types (nfs)",
        ),
    ],
    ids=[
        "privilege-escalation",
        "run-as-root",
        "uid-0",
        "capabilities-not-dropped",
        "capability-added",
        "seccomp-unconfined",
        "privileged",
        "host-network",
        "host-path",
        "nfs-volume",
    ],
)
def test_restricted_refuses_each_control(overrides, control):
    verdict = pss(restricted_pod(**overrides))
    assert not verdict
    assert (
        'refused by Pod Security Admission: namespace apps enforces "restricted"' in verdict.reason
    )
    assert control in verdict.reason


def test_restricted_needs_seccomp_on_the_pod_or_every_container():
    pod = restricted_pod()
    del pod["spec"]["securityContext"]["seccompProfile"]
    assert not pss(pod)
    pod["spec"]["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert pss(pod)


def test_baseline_allows_what_only_restricted_forbids():
    # root, escalation and default capabilities are baseline; privileged and hostPath are not
    loose = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "legacy"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    assert pss(loose, BASELINE_NS)
    assert not pss(loose, RESTRICTED_NS)
    privileged = {
        **loose,
        "spec": {
            "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]
        },
    }
    assert not pss(privileged, BASELINE_NS)


def test_namespaces_without_the_label_are_privileged():
    loose = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "x"},
        "spec": {
            "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]
        },
    }
    assert pss(loose, namespace("x"))
