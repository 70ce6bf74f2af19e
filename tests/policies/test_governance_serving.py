"""Serving rules: a bad and a good program each, built from real pulumi_kubernetes / pulumi_aws
resources under mocks, with the specs the estate's own serving component renders
(components/serving.py), and the rules run on the shipped stacks' rendered inventories.

The image rule reads the stack's BU and environment from `PULUMI_CONFIG`, as the CLI passes them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance.serving import DEFAULT_TOOL_IMAGES
from policy_harness import check, names

from components import serving

IMAGE = "222222222222.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/card-fraud:1.4.2"
ENDPOINT: serving.EndpointSpec = {
    "name": "card-scoring",
    "model_family": "card-fraud",
    "model_version": 3,
    "image_repository": "card-fraud",
    "image_reference": ":1.4.2",
    "gpu_pool": "serve-a10g",
    "gpus_per_replica": 1,
    "cpu": "2",
    "memory": "8Gi",
    "min_replicas": 2,
    "max_replicas": 4,
    "target_requests_per_second": 50,
    "target_latency_ms": None,
    "latency_p99_ms": 150,
    "route_path": "/fraud/card-scoring",
    "auth": "oidc",
    "port": 8080,
    "health_path": "/ping",
    "online_tables": [],
}
OIDC = {
    "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool",
    "jwks_endpoint": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool/.well-known/jwks.json",
}


@dataclass(frozen=True)
class Case:
    bad: Any
    flagged: set[str | None]
    good: Any


def meta(name: str, namespace: str = "fraud") -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace)


def crd(name: str, api_version: str, kind: str, spec: dict, namespace: str = "fraud"):
    return k8s.apiextensions.CustomResource(
        name, api_version=api_version, kind=kind, metadata=meta(name, namespace), spec=spec
    )


def lb_config(name: str, scheme: str, waf: str | None = None):
    return crd(
        name,
        "gateway.k8s.aws/v1",
        "LoadBalancerConfiguration",
        serving.load_balancer_configuration_spec(
            scheme=scheme,
            load_balancer_name=name,
            certificate_arn="arn:aws:acm:us-east-1:222222222222:certificate/x",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            waf_acl_arn=waf or "placeholder",
            deletion_protection=True,
            tags={},
        )
        if scheme == "internal" or waf
        else {"scheme": scheme},
        namespace="ai-estate-gateway",
    )


def deployment(name: str, endpoint: dict, image: str = IMAGE, init_image: str | None = None):
    spec = serving.deployment_spec(
        "fraud", endpoint, image=image, service_account="sa", bucket_name="b", region="us-east-1"
    )
    if init_image:
        spec["template"]["spec"]["initContainers"][0]["image"] = init_image
    return k8s.apps.v1.Deployment(name, metadata=meta(endpoint["name"]), spec=spec)


def route(name: str, listener_rule: str | None, endpoint: dict = ENDPOINT):
    return crd(
        name,
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        serving.http_route_spec(
            endpoint,
            gateway_name="serving",
            gateway_namespace="ai-estate-gateway",
            target_group="fraud-prod-card-scoring",
            listener_rule=listener_rule,
        ),
    )


# -- programs -----------------------------------------------------------------------------------


def bad_internal():
    lb_config(
        "public", "internet-facing", waf="arn:aws:wafv2:us-east-1:222222222222:regional/webacl/a/b"
    )


def good_internal():
    lb_config("private", "internal")


def bad_waf():
    lb_config("public-bare", "internet-facing")
    lb_config("private", "internal")


def good_waf():
    lb_config(
        "public", "internet-facing", waf="arn:aws:wafv2:us-east-1:222222222222:regional/webacl/a/b"
    )


def bad_auth():
    crd(
        "no-auth-action",
        "gateway.k8s.aws/v1",
        "ListenerRuleConfiguration",
        {"conditions": [{"field": "source-ip", "sourceIPConfig": {"values": ["10.0.0.0/8"]}}]},
    )
    route("open", None)
    route("source-ip-only", "no-auth-action")
    # a rule in another namespace does not authenticate this one's routes
    crd(
        "elsewhere",
        "gateway.k8s.aws/v1",
        "ListenerRuleConfiguration",
        serving.listener_rule_spec(OIDC),
        namespace="marketing",
    )
    route("cross-namespace-ref", "elsewhere")


def good_auth():
    crd(
        "card-scoring-auth",
        "gateway.k8s.aws/v1",
        "ListenerRuleConfiguration",
        serving.listener_rule_spec(OIDC),
    )
    route("card-scoring", "card-scoring-auth")
    # the platform's redirect forwards nothing
    crd(
        "https-redirect",
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        serving.redirect_route_spec(),
        namespace="ai-estate-gateway",
    )


def bad_image():
    deployment("docker-hub", ENDPOINT, image="docker.io/library/python:3.12")
    deployment(
        "other-bu",
        {**ENDPOINT, "name": "b"},
        image="222222222222.dkr.ecr.us-east-1.amazonaws.com/marketing-prod/propensity:1",
    )
    deployment("odd-init", {**ENDPOINT, "name": "c"}, init_image="docker.io/amazon/aws-cli:latest")


def good_image():
    deployment("card-scoring", ENDPOINT)
    deployment(
        "by-digest",
        {**ENDPOINT, "name": "d"},
        image="222222222222.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/card-fraud@sha256:"
        + "a" * 64,
    )


def scaled(name: str, target: str, floor: int):
    crd(
        name,
        "keda.sh/v1alpha1",
        "ScaledObject",
        {
            "scaleTargetRef": {"name": target},
            "minReplicaCount": floor,
            "maxReplicaCount": 4,
            "triggers": [{"type": "cpu", "metadata": {"value": "60"}}],
        },
    )


def pdb(name: str, endpoint: str):
    k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=meta(name),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels=serving.endpoint_labels("fraud", endpoint)
            ),
        ),
    )


def bad_resilient():
    deployment("no-pdb", {**ENDPOINT, "name": "no-pdb"})
    scaled("no-pdb-scaler", "no-pdb", 2)
    deployment("one-replica", {**ENDPOINT, "name": "one-replica"})
    scaled("one-replica-scaler", "one-replica", 1)
    pdb("one-replica-pdb", "one-replica")


def good_resilient():
    deployment("card-scoring", ENDPOINT)
    scaled("card-scoring-scaler", "card-scoring", 2)
    pdb("card-scoring-pdb", "card-scoring")


def alarm(name: str, endpoint: str, metric: str):
    aws.cloudwatch.MetricAlarm(
        name,
        namespace="AWS/ApplicationELB",
        metric_name=metric,
        comparison_operator="GreaterThanThreshold",
        threshold=1,
        evaluation_periods=1,
        period=60,
        statistic="Sum",
        alarm_actions=["arn:aws:sns:us-east-1:222222222222:fraud-prod-alarms"],
        tags={"ai-estate/endpoint": endpoint},
    )


def bad_alarms():
    deployment("unwatched", {**ENDPOINT, "name": "unwatched"})
    deployment("latency-only", {**ENDPOINT, "name": "latency-only"})
    alarm("latency-only-p99", "latency-only", "TargetResponseTime")
    alarm("someone-elses", "card-scoring", "HTTPCode_Target_5XX_Count")


def good_alarms():
    deployment("card-scoring", ENDPOINT)
    alarm("card-scoring-p99", "card-scoring", "TargetResponseTime")
    alarm("card-scoring-5xx", "card-scoring", "HTTPCode_Target_5XX_Count")


SERVING_CASES: dict[str, Case] = {
    "serving-gateway-internal": Case(bad_internal, {"public"}, good_internal),
    "serving-public-gateway-has-waf": Case(bad_waf, {"public-bare"}, good_waf),
    "serving-route-authenticated": Case(
        bad_auth, {"open", "source-ip-only", "cross-namespace-ref"}, good_auth
    ),
    "serving-image-from-bu-registry": Case(
        bad_image, {"docker-hub", "other-bu", "odd-init"}, good_image
    ),
    "serving-endpoint-resilient": Case(bad_resilient, {"no-pdb", "one-replica"}, good_resilient),
    "serving-endpoint-has-alarms": Case(bad_alarms, {"unwatched", "latency-only"}, good_alarms),
}
"""Bad/good cases of the serving rules (collected by `test_governance_rules`)."""


@pytest.fixture(autouse=True)
def fraud_prod_config(monkeypatch):
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps(
            {
                "ai-estate:kind": "bu",
                "ai-estate:businessUnit": "fraud",
                "ai-estate:environment": "prod",
            }
        ),
    )


@pytest.mark.parametrize("rule_id", sorted(SERVING_CASES))
def test_bad_program_is_caught(rule_id: str):
    case = SERVING_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged, [v.message for v in violations]
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(SERVING_CASES))
def test_good_program_passes(rule_id: str):
    assert check(rule_id, SERVING_CASES[rule_id].good, environment="prod") == []


def test_image_rule_names_each_foreign_image():
    messages = [v.message for v in check("serving-image-from-bu-registry", bad_image)]
    assert any("docker.io/library/python:3.12" in m for m in messages)
    assert any("marketing-prod/propensity" in m for m in messages)
    assert any("docker.io/amazon/aws-cli:latest" in m for m in messages)


def test_tool_image_default_is_the_component_pin():
    assert DEFAULT_TOOL_IMAGES == [serving.MODEL_FETCH_IMAGE]


def test_resilience_is_a_prod_rule_only():
    from governance import rule

    assert rule("serving-endpoint-resilient").enforcement["dev"] == "disabled"
    assert rule("serving-route-authenticated").enforcement["prod"] == "mandatory"


@pytest.mark.parametrize(
    ("stack", "kind", "bu", "env"),
    [("fraud-prod", "bu", "fraud", "prod"), ("marketing-dev", "bu", "marketing", "dev")],
)
def test_shipped_stacks_pass_every_serving_rule_and_a_broken_route_is_caught(
    rendered, monkeypatch, stack, kind, bu, env
):
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps(
            {"ai-estate:kind": kind, "ai-estate:businessUnit": bu, "ai-estate:environment": env}
        ),
    )
    inventory = rendered(stack)
    for rule_id in SERVING_CASES:
        assert check(rule_id, inventory, environment=env) == [], rule_id
    # Drop the auth filter from the shipped route: the rule now refuses it.
    broken = copy.deepcopy(inventory)
    for r in broken.resources:
        if r.type.endswith(":HTTPRoute") and r.inputs["metadata"]["namespace"] == bu:
            rule = r.inputs["spec"]["rules"][0]
            rule["filters"] = [f for f in rule["filters"] if f["type"] != "ExtensionRef"]
    assert check("serving-route-authenticated", broken, environment=env)
