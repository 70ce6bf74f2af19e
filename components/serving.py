"""Serving: the platform's serving plane and the BU's model endpoints behind it.

Platform (`ServingPlane`, one per cluster):

- AWS Load Balancer Controller (Helm, pinned in `charts.yaml`), IAM through EKS Pod
  Identity with the IAM policy upstream publishes for the pinned version (shipped verbatim in
  `components/data/`), and the Kubernetes Gateway API on it: the standard-channel CRDs at the
  version the controller is built for (v1.6.0, "The LBC is built for Gateway API version v1.6.0",
  docs/guide/gateway/gateway.md at v3.5.0), a `GatewayClass` for ALB (`gateway.k8s.aws/alb`) and
  one `Gateway`. The Gateway is **internal** unless the platform stack says otherwise; an
  internet-facing one always gets a WAF web ACL. TLS terminates on the ALB with an ACM
  certificate (the controller takes certificates from `LoadBalancerConfiguration`, not from
  `certificateRefs`), and port 80 only redirects to 443. The ALB is pinned to the network's
  internal load-balancer subnets (`loadBalancerSubnets`), which no node or pod uses, so "from
  the load balancer's subnets" admits the ALB and no pod of the cluster. Its HTTPS listener admits routes from
  BU namespaces only: namespaces carrying the `ai-estate/bu` label, which `BuTenant` sets and no
  BU persona can edit (personas have no RBAC on namespaces).
- KEDA (Helm) for metric-driven and scheduled scaling, including scale to zero; its operator reads
  CloudWatch through Pod Identity. The EKS `metrics-server` add-on for resource metrics.
- Everything here tolerates the system pool's `CriticalAddonsOnly` taint and is pinned to it.

BU (`BuServing`, one per BU stack, a `ServingEndpoint` per endpoint):

- A Deployment on the endpoint's GPU pool (the pool's node labels and the BU + GPU taints), GPU
  requests equal to limits, non-root, read-only root filesystem, no privilege escalation, no
  capabilities, RuntimeDefault seccomp. An init container copies the model from the BU's
  artifact bucket (`models/<family>/<version>/`) into an emptyDir the server mounts read-only.
- A dedicated ServiceAccount, bound by Pod Identity to a `model-server` role under the BU's
  permission boundary that reads only `models/<family>/*`, the online tables it declares, and
  decrypts with the BU key through S3/DynamoDB.
- A Service; an ALB target group created here (so its CloudWatch dimension is known to the alarms
  and the autoscaler) and bound to the Service with the controller's `TargetGroupBinding`; an
  HTTPRoute under `/<bu>/<endpoint>` that forwards to that target group
  (`backendRefs[].kind: TargetGroupName`) behind a `ListenerRuleConfiguration` that validates the
  caller's JWT at the ALB (`jwt-validation`) before any request reaches the pod.
- A KEDA ScaledObject (it owns the HPA): requests per target or response time from the target
  group, plus, for scale-to-zero endpoints, a cron window outside which it scales to zero.
- A PodDisruptionBudget, NetworkPolicies (ingress on the serving port from the load balancer's
  subnets only; egress to HTTPS in the VPC and the S3/DynamoDB prefix lists), and CloudWatch
  alarms (p95/p99 latency, target 5xx, replicas at max, GPU utilisation) to the BU's alarm topic,
  with a dashboard row per endpoint.
- A canary (`endpoints[].canary`, staged by the deploy workflow): a second Deployment
  `<endpoint>-canary` serving the new version with a fixed replica count, its own Service,
  PodDisruptionBudget, NetworkPolicy, target group and `TargetGroupBinding`, and the HTTPRoute's
  `backendRefs` weighted between the two target groups (the controller turns them into a
  weighted forward action; v3.5.0 `routeutils/backend.go` reads `weight` for `TargetGroupName`
  backends too, at most 999). Canary pods carry `app.kubernetes.io/name: <endpoint>-canary`
  and `ai-estate/track: canary`, so the stable Service, PDB, NetworkPolicy and ScaledObject
  (which select the full stable label set) never select them, and the stable Deployment's
  selector never changes (a selector change would replace it). Its alarms (p99 latency and
  target 5xx on the canary's target group) are what `estate.rollout` watches with the stable
  endpoint's.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import naming
from .access import BuScope, pod_identity_trust_document
from .addons import bind_service_account, helm_release, pod_identity_role
from .charts import chart
from .gpu_pools import GPU_RESOURCE, LABEL_BU, LABEL_POOL
from .monitoring import GPU_METRIC_NAMESPACE, GPU_UTIL_METRIC, metric_widget
from .options import child

# -- pinned versions and the files shipped with them ----------------------------------------

DATA_DIR = Path(__file__).with_name("data")
LBC_VERSION = "v3.5.0"
"""The controller version the IAM policy and CRDs belong to (chart 3.5.0 ships appVersion v3.5.0)."""
GATEWAY_API_VERSION = "v1.6.0"
GATEWAY_API_CRDS = f"components/data/gateway-api-{GATEWAY_API_VERSION}-standard-install.yaml"
"""The standard-channel install, relative to the project root (where Pulumi runs the program)."""
LBC_IAM_POLICY_FILE = DATA_DIR / f"aws-load-balancer-controller-{LBC_VERSION}-iam-policy.json"
MODEL_FETCH_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.17.0"
"""The init container that copies the model from S3 (AWS CLI v2, pinned by tag)."""


def lbc_iam_policy() -> str:
    """The controller's IAM policy exactly as upstream publishes it for `LBC_VERSION`
    (docs/install/iam_policy.json at the tag), minified: IAM counts characters."""
    document = json.loads(LBC_IAM_POLICY_FILE.read_text(encoding="utf-8"))
    return json.dumps(document, separators=(",", ":"))


# -- names and vocabulary -------------------------------------------------------------------

LBC_NAMESPACE = "kube-system"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
GATEWAY_NAMESPACE = "ai-estate-gateway"
GATEWAY_NAME = "serving"
GATEWAY_CLASS = "ai-estate-alb"
ALB_CONTROLLER_NAME = "gateway.k8s.aws/alb"
HTTPS_LISTENER = "https"
HTTP_LISTENER = "http"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
LBC_GATEWAY_GROUP = "gateway.k8s.aws"
TENANT_NAMESPACE_LABEL = LABEL_BU
"""The label every BU namespace carries (`BuTenant`); the Gateway admits routes from these only."""
COMPONENT_LABEL = "app.kubernetes.io/component"
MODEL_SERVER = "model-server"
ENDPOINT_LABEL = "ai-estate/endpoint"
"""Labels the endpoint's pods and tags its alarms (`<endpoint>`), so policies can link them."""
SYSTEM_TOLERATIONS: list[dict[str, str]] = [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
"""The system pool's taint (any effect): platform workloads run there, BU workloads never."""
ALB_NAMESPACE = "AWS/ApplicationELB"
CONTAINER_INSIGHTS_NAMESPACE = "ContainerInsights"
MODEL_DIR = "/models"
JWT_VALIDATION = "jwt-validation"
AUTH_ACTIONS = frozenset({JWT_VALIDATION, "authenticate-oidc", "authenticate-cognito"})

S3_READ = ("s3:GetObject", "s3:GetObjectVersion")
TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")


# -- pure functions: platform ---------------------------------------------------------------


def gateway_load_balancer_name(environment: str) -> str:
    """`ai-estate-prod-serving`: the Gateway's ALB name, fixed so BU stacks can find its
    CloudWatch dimension (ALB names: at most 32 characters)."""
    name = f"ai-estate-{environment}-serving"
    if len(name) > 32:
        raise ValueError(f"load balancer name {name!r} is over 32 characters")
    return name


def lbc_values(
    cluster_name: str, region: str, vpc_id: str, replicas: int, node_selector: dict[str, str]
) -> dict[str, Any]:
    """Values for the controller chart. Region and VPC are set because IMDS is closed to pods
    (hop limit 1), so the controller cannot discover them; Gateway API for ALB is switched on
    explicitly (the controller only auto-enables it when it finds the CRDs at start)."""
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": replicas,
        "serviceAccount": {"create": True, "name": LBC_SERVICE_ACCOUNT},
        "nodeSelector": dict(node_selector),
        "tolerations": list(SYSTEM_TOLERATIONS),
        "podDisruptionBudget": {"maxUnavailable": 1},
        "controllerConfig": {"featureGates": {"ALBGatewayAPI": True, "NLBGatewayAPI": False}},
    }


def keda_values(node_selector: dict[str, str]) -> dict[str, Any]:
    """Values for the KEDA chart: on the system pool, the operator's service account named so
    Pod Identity can bind it."""
    return {
        "nodeSelector": dict(node_selector),
        "tolerations": list(SYSTEM_TOLERATIONS),
        "serviceAccount": {"operator": {"create": True, "name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
    }


def keda_operator_policy() -> str:
    """What KEDA's operator may do for the `aws-cloudwatch` and `aws-sqs-queue` scalers: read
    metrics and queue depth (reads only; it never changes AWS)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadScalingMetrics",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"],
                    "Resource": "*",
                },
                {
                    "Sid": "ReadQueueDepth",
                    "Effect": "Allow",
                    "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                    "Resource": "*",
                },
            ],
        },
        sort_keys=True,
    )


def load_balancer_configuration_spec(
    *,
    scheme: str,
    load_balancer_name: str,
    certificate_arn: str,
    ssl_policy: str,
    waf_acl_arn: str | None,
    deletion_protection: bool,
    tags: dict[str, str],
    subnet_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """The Gateway's `LoadBalancerConfiguration` spec (docs/guide/gateway/loadbalancerconfig.md).

    `subnet_ids` pins the ALB's subnets (`loadBalancerSubnets`, which takes precedence over
    tag discovery): the endpoints' NetworkPolicies admit exactly those subnets' addresses, so
    the ALB must not be placed anywhere else, whatever else carries a role tag."""
    spec: dict[str, Any] = {
        "scheme": scheme,
        "loadBalancerName": load_balancer_name,
        "listenerConfigurations": [
            {
                "protocolPort": "HTTPS:443",
                "defaultCertificate": certificate_arn,
                "sslPolicy": ssl_policy,
            }
        ],
        "loadBalancerAttributes": [
            # Requests with malformed headers are dropped, not passed to model servers.
            {"key": "routing.http.drop_invalid_header_fields.enabled", "value": "true"},
            {"key": "deletion_protection.enabled", "value": str(deletion_protection).lower()},
        ],
        "tags": dict(tags),
    }
    if subnet_ids:
        spec["loadBalancerSubnets"] = [{"identifier": s} for s in subnet_ids]
    if scheme == "internet-facing":
        if not waf_acl_arn:
            raise ValueError("an internet-facing Gateway needs a WAF web ACL")
        spec["wafV2"] = {"webACL": waf_acl_arn}
    return spec


def gateway_spec(hostname: str | None) -> dict[str, Any]:
    """HTTPS for BU routes (from BU namespaces only); HTTP for the redirect only."""
    https: dict[str, Any] = {
        "name": HTTPS_LISTENER,
        "protocol": "HTTPS",
        "port": 443,
        "allowedRoutes": {
            "namespaces": {
                "from": "Selector",
                "selector": {
                    "matchExpressions": [{"key": TENANT_NAMESPACE_LABEL, "operator": "Exists"}]
                },
            },
            "kinds": [{"group": GATEWAY_API_GROUP, "kind": "HTTPRoute"}],
        },
    }
    http: dict[str, Any] = {
        "name": HTTP_LISTENER,
        "protocol": "HTTP",
        "port": 80,
        # Only the redirect route in the Gateway's own namespace attaches here.
        "allowedRoutes": {"namespaces": {"from": "Same"}},
    }
    if hostname:
        https["hostname"] = hostname
        http["hostname"] = hostname
    return {
        "gatewayClassName": GATEWAY_CLASS,
        "infrastructure": {
            "parametersRef": {
                "group": LBC_GATEWAY_GROUP,
                "kind": "LoadBalancerConfiguration",
                "name": GATEWAY_NAME,
            }
        },
        "listeners": [https, http],
    }


def redirect_route_spec() -> dict[str, Any]:
    """Port 80 answers every request with a 301 to the same URL on HTTPS."""
    return {
        "parentRefs": [
            {
                "group": GATEWAY_API_GROUP,
                "kind": "Gateway",
                "name": GATEWAY_NAME,
                "sectionName": HTTP_LISTENER,
            }
        ],
        "rules": [
            {
                "filters": [
                    {
                        "type": "RequestRedirect",
                        "requestRedirect": {"scheme": "https", "port": 443, "statusCode": 301},
                    }
                ]
            }
        ],
    }


def web_acl_rules() -> list[aws.wafv2.WebAclRuleArgs]:
    """AWS managed rule groups for an internet-facing Gateway: common exploits, known bad inputs,
    and IP reputation."""
    groups = (
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    )
    return [
        aws.wafv2.WebAclRuleArgs(
            name=group,
            priority=i,
            override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none={}),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    name=group, vendor_name="AWS"
                )
            ),
            visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=group, sampled_requests_enabled=True
            ),
        )
        for i, group in enumerate(groups)
    ]


# -- pure functions: endpoints --------------------------------------------------------------


class CanarySpec(TypedDict):
    """An endpoint's canary, as the stack config declares it (see `ServingCanaryConfig`)."""

    model_version: int | str
    """The version the canary serves."""
    weight: int
    """Percent of the endpoint's requests routed to the canary (1-50)."""
    replicas: int
    """Fixed replica count of the canary Deployment."""


class EndpointSpec(TypedDict):
    """One endpoint, as the stack config declares it (see `ServingEndpointConfig`)."""

    name: str
    """Endpoint name, unique in the BU."""
    model_family: str
    """The model family served (its artifacts are under `models/<family>/`)."""
    model_version: int | str
    """A model package version, or an artifact key below `models/<family>/`."""
    image_repository: str
    """The BU's ECR repository short name (`card-fraud`)."""
    image_reference: str
    """`:<tag>` or `@sha256:<digest>`, appended to the repository URL."""
    gpu_pool: str
    """The BU's GPU pool the replicas run on."""
    gpus_per_replica: int
    """GPUs per replica (requests equal limits)."""
    cpu: str
    """CPU per replica (requests equal limits)."""
    memory: str
    """Memory per replica (requests equal limits)."""
    min_replicas: int
    """Fewest replicas; 0 scales to zero outside `schedule`."""
    max_replicas: int
    """Most replicas."""
    target_requests_per_second: float | None
    """Scale on requests per replica (one of this and `target_latency_ms`)."""
    target_latency_ms: float | None
    """Scale on average response time."""
    latency_p99_ms: float
    """p99 alarm threshold (p95 alarms at 80% of it)."""
    route_path: str
    """Path prefix on the Gateway (`/<bu>/<name>`)."""
    auth: str
    """`oidc` or `none` (waived)."""
    port: int
    """Container port."""
    health_path: str
    """Probe path."""
    online_tables: list[str]
    """Short names of the BU's online tables the server reads."""
    schedule: NotRequired[dict[str, str] | None]
    """`{timezone, start, end}` for scale-to-zero endpoints."""
    canary: NotRequired[CanarySpec | None]
    """A new model version beside the stable one (see `ServingCanaryConfig`)."""


def model_prefix(family: str, version: int | str) -> str:
    """`models/card-fraud/3/`: where an endpoint's model artifacts live in the artifact bucket."""
    return f"models/{family}/{version}/"


def model_server_role_name(prefix: str, endpoint: str) -> str:
    """`fraud-prod-model-server-card-scoring` (under `/ai-estate/<bu>/`, inside the boundary)."""
    name = f"{prefix}-{MODEL_SERVER}-{endpoint}"
    if len(name) > 64:
        raise ValueError(f"role name {name!r} is over IAM's 64 characters: shorten the endpoint")
    return name


def target_group_name(prefix: str, endpoint: str) -> str:
    """The endpoint's ALB target group (at most 32 characters; a digest keeps long names unique)."""
    name = f"{prefix}-{endpoint}"
    if len(name) <= 32:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:25].rstrip('-')}-{digest}"


def model_server_statements(
    scope: BuScope,
    *,
    bucket_name: str,
    family: str,
    kms_key_arn: str,
    table_names: list[str],
) -> list[dict[str, Any]]:
    """The model server's identity policy: read its family's artifacts and the online tables it
    declares, decrypt with the BU key through those services. Nothing else, and no writes."""
    bucket_arn = scope.bucket_arn(bucket_name)
    services = ["s3", *(["dynamodb"] if table_names else [])]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadModelArtifacts",
            "Effect": "Allow",
            "Action": list(S3_READ),
            "Resource": f"{bucket_arn}/models/{family}/*",
        },
        {
            "Sid": "ListModelArtifacts",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"models/{family}/*"]}},
        },
        {
            "Sid": "DecryptWithBuKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": scope.via(*services)}},
        },
    ]
    if table_names:
        statements.append(
            {
                "Sid": "ReadOnlineFeatures",
                "Effect": "Allow",
                "Action": list(TABLE_READ),
                "Resource": [scope.arn("dynamodb", f"table/{t}") for t in table_names],
            }
        )
    return statements


def endpoint_labels(business_unit: str, endpoint: str) -> dict[str, str]:
    """Labels of an endpoint's pods (and the selector of its Service, PDB and policies)."""
    return {
        "app.kubernetes.io/name": endpoint,
        COMPONENT_LABEL: MODEL_SERVER,
        ENDPOINT_LABEL: endpoint,
        LABEL_BU: business_unit,
    }


TRACK_LABEL = "ai-estate/track"
"""`canary` on a canary's pods and alarms (the stable pods carry no track label: adding one
would change the stable Deployment's selector, which forces its replacement)."""
CANARY = "canary"
ROLLOUT_ALARMS = ("latency-p99", "target-5xx")
"""The alarms a rollout watches, on the stable endpoint and on its canary."""


def canary_name(endpoint: str) -> str:
    """`card-scoring-canary`: the canary's Deployment, Service, PDB and alarm names."""
    return f"{endpoint}-{CANARY}"


def canary_labels(business_unit: str, endpoint: str) -> dict[str, str]:
    """Labels of a canary's pods: the endpoint's, with its own name and the canary track, so
    no stable selector (which requires `app.kubernetes.io/name: <endpoint>`) selects them."""
    return {
        **endpoint_labels(business_unit, endpoint),
        "app.kubernetes.io/name": canary_name(endpoint),
        TRACK_LABEL: CANARY,
    }


def alarm_name(prefix: str, endpoint: str, key: str) -> str:
    """`fraud-prod-card-scoring-latency-p99` (a canary's: `...-card-scoring-canary-latency-p99`)."""
    return f"{prefix}-{endpoint}-{key}"


def rollout_alarm_names(prefix: str, endpoint: str) -> list[str]:
    """The alarms `estate.rollout` watches while a canary of `endpoint` bakes: the stable
    endpoint's and the canary's p99 latency and target 5xx."""
    return [
        alarm_name(prefix, e, key)
        for e in (endpoint, canary_name(endpoint))
        for key in ROLLOUT_ALARMS
    ]


def pod_tolerations(business_unit: str) -> list[dict[str, str]]:
    """The two taints of a BU GPU node: GPUs, and this BU (`Equal`, as the toleration guard
    admits, so the pod lands on its own BU's nodes only)."""
    return [
        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
        {"key": LABEL_BU, "operator": "Equal", "value": business_unit, "effect": "NoSchedule"},
    ]


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def deployment_spec(
    business_unit: str,
    endpoint: EndpointSpec,
    *,
    image: str,
    service_account: str,
    bucket_name: str,
    region: str,
    canary: CanarySpec | None = None,
) -> dict[str, Any]:
    """The endpoint's Deployment spec (replicas left to its autoscaler); with `canary`, the
    canary's (its labels, its version, a fixed replica count)."""
    labels = (
        canary_labels(business_unit, endpoint["name"])
        if canary
        else endpoint_labels(business_unit, endpoint["name"])
    )
    version = canary["model_version"] if canary else endpoint["model_version"]
    resources = {
        "cpu": endpoint["cpu"],
        "memory": endpoint["memory"],
        GPU_RESOURCE: str(endpoint["gpus_per_replica"]),
    }
    source = f"s3://{bucket_name}/{model_prefix(endpoint['model_family'], version)}"
    probe = {"httpGet": {"path": endpoint["health_path"], "port": "http"}, "periodSeconds": 10}
    tmp_mount = {"name": "tmp", "mountPath": "/tmp"}
    replicas = {"replicas": canary["replicas"]} if canary else {}
    return {
        **replicas,
        "selector": {"matchLabels": labels},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": service_account,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65532,
                    "runAsGroup": 65532,
                    "fsGroup": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "nodeSelector": {LABEL_BU: business_unit, LABEL_POOL: endpoint["gpu_pool"]},
                "tolerations": pod_tolerations(business_unit),
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": labels},
                    }
                ],
                "initContainers": [
                    {
                        "name": "fetch-model",
                        "image": MODEL_FETCH_IMAGE,
                        "args": [
                            "s3",
                            "cp",
                            "--recursive",
                            "--only-show-errors",
                            source,
                            MODEL_DIR,
                        ],
                        "env": [
                            {"name": "AWS_REGION", "value": region},
                            {"name": "HOME", "value": "/tmp"},
                        ],
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "512Mi"},
                            "limits": {"cpu": "1", "memory": "1Gi"},
                        },
                        "securityContext": container_security_context(),
                        "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR}, tmp_mount],
                    }
                ],
                "containers": [
                    {
                        "name": MODEL_SERVER,
                        "image": image,
                        "ports": [
                            {"name": "http", "containerPort": endpoint["port"], "protocol": "TCP"}
                        ],
                        "env": [
                            {"name": "MODEL_DIR", "value": MODEL_DIR},
                            {"name": "PORT", "value": str(endpoint["port"])},
                            {"name": "AWS_REGION", "value": region},
                        ],
                        "resources": {"requests": dict(resources), "limits": dict(resources)},
                        "readinessProbe": probe,
                        "livenessProbe": {
                            **probe,
                            "initialDelaySeconds": 30,
                            "failureThreshold": 6,
                        },
                        "securityContext": container_security_context(),
                        "volumeMounts": [
                            {"name": "model", "mountPath": MODEL_DIR, "readOnly": True},
                            tmp_mount,
                        ],
                    }
                ],
                "volumes": [{"name": "model", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
            },
        },
    }


def scaled_object_spec(
    endpoint: EndpointSpec,
    *,
    deployment: str,
    region: str,
    target_group_dimension: str,
    load_balancer_dimension: str,
    trigger_authentication: str,
) -> dict[str, Any]:
    """KEDA ScaledObject (it creates and owns the HPA): the target group's requests per target
    or its response time, and for scale-to-zero endpoints a cron window."""
    dims = "TargetGroup;LoadBalancer"
    values = f"{target_group_dimension};{load_balancer_dimension}"
    if endpoint["target_requests_per_second"] is not None:
        metric, stat = "RequestCountPerTarget", "Sum"
        # RequestCountPerTarget is already per target: compare it as a Value, per minute.
        target = endpoint["target_requests_per_second"] * 60
    else:
        assert endpoint["target_latency_ms"] is not None
        metric, stat = "TargetResponseTime", "Average"
        target = endpoint["target_latency_ms"] / 1000
    triggers: list[dict[str, Any]] = [
        {
            "type": "aws-cloudwatch",
            "metricType": "Value",
            "authenticationRef": {"name": trigger_authentication},
            "metadata": {
                "namespace": ALB_NAMESPACE,
                "metricName": metric,
                "dimensionName": dims,
                "dimensionValue": values,
                "metricStat": stat,
                "metricStatPeriod": "60",
                "metricCollectionTime": "300",
                "targetMetricValue": f"{target:g}",
                "minMetricValue": "0",
                "awsRegion": region,
            },
        }
    ]
    schedule = endpoint.get("schedule")
    if endpoint["min_replicas"] == 0 and schedule:
        triggers.append(
            {
                "type": "cron",
                "metadata": {
                    "timezone": schedule["timezone"],
                    "start": schedule["start"],
                    "end": schedule["end"],
                    "desiredReplicas": "1",
                },
            }
        )
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicaCount": endpoint["min_replicas"],
        "maxReplicaCount": endpoint["max_replicas"],
        "pollingInterval": 30,
        "cooldownPeriod": 900,
        "triggers": triggers,
    }


def listener_rule_spec(oidc: dict[str, Any]) -> dict[str, Any]:
    """`jwt-validation` before forwarding: the ALB rejects a request without a valid bearer token
    from the platform's issuer (exp, iss, nbf, iat always checked; scopes when required)."""
    config: dict[str, Any] = {"issuer": oidc["issuer"], "jwksEndpoint": oidc["jwks_endpoint"]}
    scopes = list(oidc.get("required_scopes") or [])
    if scopes:
        config["additionalClaims"] = [
            {"name": "scope", "format": "space-separated-values", "values": scopes}
        ]
    return {"actions": [{"type": JWT_VALIDATION, "jwtValidationConfig": config}]}


def http_route_spec(
    endpoint: EndpointSpec,
    *,
    gateway_name: str,
    gateway_namespace: str,
    target_group: str,
    listener_rule: str | None,
    canary_target_group: str | None = None,
) -> dict[str, Any]:
    """The endpoint's route on the Gateway's HTTPS listener, forwarding to its target group;
    with a canary, `canary.weight` percent to the canary's target group and the rest to the
    stable one (the ALB's weighted forward)."""
    canary = endpoint.get("canary")
    backends = [{"group": "", "kind": "TargetGroupName", "name": target_group, "weight": 1}]
    if canary and canary_target_group:
        backends = [
            {**backends[0], "weight": 100 - canary["weight"]},
            {**backends[0], "name": canary_target_group, "weight": canary["weight"]},
        ]
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": endpoint["route_path"]}}],
        "backendRefs": backends,
        # The model server sees `/invocations`, not the BU's prefix on the shared Gateway.
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
        ],
    }
    if listener_rule:
        rule["filters"].append(
            {
                "type": "ExtensionRef",
                "extensionRef": {
                    "group": LBC_GATEWAY_GROUP,
                    "kind": "ListenerRuleConfiguration",
                    "name": listener_rule,
                },
            }
        )
    return {
        "parentRefs": [
            {
                "group": GATEWAY_API_GROUP,
                "kind": "Gateway",
                "name": gateway_name,
                "namespace": gateway_namespace,
                "sectionName": HTTPS_LISTENER,
            }
        ],
        "rules": [rule],
    }


def network_policy_spec(
    business_unit: str,
    endpoint: EndpointSpec,
    *,
    load_balancer_cidrs: list[str],
    vpc_cidr: str,
    prefix_list_cidrs: list[str],
    pod_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Ingress on the serving port from the load balancer's subnets only (ALB IP targets see the
    ALB's private addresses); egress HTTPS to the VPC's interface endpoints and the S3/DynamoDB
    gateway endpoints' prefix lists. DNS and the Pod Identity agent are the tenant's
    namespace-wide policies; policies add up, so nothing else is opened."""
    https = [{"protocol": "TCP", "port": 443}]
    return {
        "podSelector": {
            "matchLabels": pod_labels or endpoint_labels(business_unit, endpoint["name"])
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [{"ipBlock": {"cidr": c}} for c in load_balancer_cidrs],
                "ports": [{"protocol": "TCP", "port": endpoint["port"]}],
            }
        ],
        "egress": [
            {
                "to": [
                    {"ipBlock": {"cidr": c}} for c in [vpc_cidr, *sorted(set(prefix_list_cidrs))]
                ],
                "ports": https,
            }
        ],
    }


@dataclass(frozen=True)
class EndpointAlarm:
    """One endpoint alarm before it is a resource (plain data, unit-testable)."""

    key: str
    description: str
    namespace: str
    metric_name: str
    dimensions: dict[str, Any]
    statistic: str
    """`Sum`, `Maximum`, `Average` or a percentile (`p99`)."""
    comparison: str
    threshold: float
    evaluation_periods: int
    period: int = 60
    treat_missing_data: str = "notBreaching"


def endpoint_alarms(
    business_unit: str,
    endpoint: EndpointSpec,
    *,
    cluster_name: Any,
    target_group_dimension: Any,
    load_balancer_dimension: Any,
) -> list[EndpointAlarm]:
    """Latency p95/p99 and target 5xx from the ALB target group, replicas at max (Container
    Insights), and GPU utilisation of the endpoint's pool (the DCGM series AI Estate publishes)."""
    name = endpoint["name"]
    tg = {"TargetGroup": target_group_dimension, "LoadBalancer": load_balancer_dimension}
    p99 = endpoint["latency_p99_ms"] / 1000
    return [
        EndpointAlarm(
            "latency-p99",
            f"Endpoint {name}: p99 response time over {p99:g}s for 5 minutes.",
            ALB_NAMESPACE,
            "TargetResponseTime",
            tg,
            "p99",
            "GreaterThanThreshold",
            p99,
            5,
        ),
        EndpointAlarm(
            "latency-p95",
            f"Endpoint {name}: p95 response time over {p99 * 0.8:g}s for 5 minutes.",
            ALB_NAMESPACE,
            "TargetResponseTime",
            tg,
            "p95",
            "GreaterThanThreshold",
            round(p99 * 0.8, 6),
            5,
        ),
        EndpointAlarm(
            "target-5xx",
            f"Endpoint {name}: model servers answered 5xx more than 5 times a minute for 3 minutes.",
            ALB_NAMESPACE,
            "HTTPCode_Target_5XX_Count",
            tg,
            "Sum",
            "GreaterThanThreshold",
            5,
            3,
        ),
        EndpointAlarm(
            "replicas-at-max",
            f"Endpoint {name}: running {endpoint['max_replicas']} replicas (its maximum) for 15 "
            "minutes; more load will queue.",
            CONTAINER_INSIGHTS_NAMESPACE,
            "service_number_of_running_pods",
            {"ClusterName": cluster_name, "Namespace": business_unit, "Service": name},
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            endpoint["max_replicas"],
            3,
            period=300,
        ),
        EndpointAlarm(
            "gpu-util-high",
            f"Endpoint {name}: GPUs of pool {endpoint['gpu_pool']} averaged over 90% for 15 "
            "minutes (saturated).",
            GPU_METRIC_NAMESPACE,
            GPU_UTIL_METRIC,
            {
                "ClusterName": cluster_name,
                "BusinessUnit": business_unit,
                "Pool": endpoint["gpu_pool"],
            },
            "Average",
            "GreaterThanThreshold",
            90,
            3,
            period=300,
        ),
    ]


def canary_alarms(
    business_unit: str,
    endpoint: EndpointSpec,
    *,
    cluster_name: Any,
    target_group_dimension: Any,
    load_balancer_dimension: Any,
) -> list[EndpointAlarm]:
    """The canary's p99 latency and target 5xx alarms: the endpoint's, on the canary's target
    group, keyed `canary-<key>` (so named `<prefix>-<endpoint>-canary-<key>`)."""
    return [
        dataclasses.replace(
            alarm,
            key=f"{CANARY}-{alarm.key}",
            description=f"Canary: {alarm.description}",
        )
        for alarm in endpoint_alarms(
            business_unit,
            endpoint,
            cluster_name=cluster_name,
            target_group_dimension=target_group_dimension,
            load_balancer_dimension=load_balancer_dimension,
        )
        if alarm.key in ROLLOUT_ALARMS
    ]


def target_group_binding_spec(
    service: str, port: int, target_group_arn: str, load_balancer_cidrs: Sequence[str]
) -> dict[str, Any]:
    """Bind `service`'s pods to our target group; the controller opens the pods' security
    group to the ALB's subnets only."""
    return {
        "serviceRef": {"name": service, "port": port},
        "targetGroupARN": target_group_arn,
        "targetType": "ip",
        "networking": {
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": c}} for c in load_balancer_cidrs],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ]
        },
    }


class _CanaryContext(NamedTuple):
    """What a canary shares with its stable endpoint (`ServingEndpoint._canary`)."""

    business_unit: str
    prefix: str
    namespace: pulumi.Input[str]
    k8s_opts: pulumi.ResourceOptions
    k8s_provider: k8s.Provider
    image: pulumi.Output[str]
    region: pulumi.Output[str]
    service_account: str
    bucket_name: str
    load_balancer_cidrs: pulumi.Input[list[str]]
    load_balancer_dimension: pulumi.Output[str]
    cluster: pulumi.Output[str]
    alarm_topic_arn: pulumi.Input[str]
    tags: dict[str, str]


def _endpoint_row(
    parts: list[Any], endpoint: str, y: int, namespace: str, replica_usd: float | None
) -> list[dict[str, Any]]:
    """`dashboard_row` from resolved (region, target group, load balancer, cluster) values."""
    row = dashboard_row(endpoint, parts[0], y, parts[1] or "", parts[2] or "")
    if replica_usd is not None:
        row.append(
            cost_per_inference_widget(
                endpoint, parts[0], y + 6, parts[1] or "", parts[2] or "", parts[3] or "",
                namespace, replica_usd,
            )
        )  # fmt: skip
    return row


def _row_of(
    parts: list[Any], endpoint: str, y: int, replica_usd: float | None
) -> list[dict[str, Any]]:
    """`_endpoint_row` with the namespace taken from the resolved values (the tenant's output)."""
    return _endpoint_row(parts, endpoint, y, str(parts[4] or ""), replica_usd)


COST_PER_1000_LABEL = "USD per 1,000 inferences"


def cost_per_inference_widget(
    endpoint: str,
    region: str,
    y: int,
    target_group_dimension: str,
    load_balancer_dimension: str,
    cluster_name: str,
    namespace: str,
    replica_usd_per_hour: float,
) -> dict[str, Any]:
    """What 1,000 inferences cost: the replicas running (Container Insights) times what one
    replica's share of its pool's node costs per hour, over the period, per 1,000 requests the
    endpoint's target group served (metric math; CloudWatch has no cost metric)."""
    dims = ["TargetGroup", target_group_dimension, "LoadBalancer", load_balancer_dimension]
    pods = ["ClusterName", cluster_name, "Namespace", namespace, "Service", endpoint]
    expression = (
        f"1000 * replicas * {replica_usd_per_hour:.6g} * PERIOD(requests) / 3600 / requests"
    )
    return metric_widget(
        x=0,
        y=y,
        title=f"{endpoint}: cost per 1,000 inferences (USD, On-Demand node share)",
        region=region,
        period=3600,
        metrics=[
            [ALB_NAMESPACE, "RequestCount", *dims, {"stat": "Sum", "id": "requests", "visible": False}],
            [
                CONTAINER_INSIGHTS_NAMESPACE, "service_number_of_running_pods", *pods,
                {"stat": "Average", "id": "replicas", "visible": False},
            ],
            [{"expression": expression, "label": COST_PER_1000_LABEL, "id": "cost"}],
        ],
    )  # fmt: skip


def dashboard_row(
    endpoint: str, region: str, y: int, target_group_dimension: str, load_balancer_dimension: str
) -> list[dict[str, Any]]:
    """One dashboard row: latency percentiles, requests and 5xx, for one endpoint."""
    dims = ["TargetGroup", target_group_dimension, "LoadBalancer", load_balancer_dimension]
    return [
        metric_widget(
            x=0,
            y=y,
            title=f"{endpoint}: response time",
            region=region,
            metrics=[
                [ALB_NAMESPACE, "TargetResponseTime", *dims, {"stat": s, "label": s}]
                for s in ("p50", "p95", "p99")
            ],
        ),
        metric_widget(
            x=12,
            y=y,
            title=f"{endpoint}: requests and target 5xx",
            region=region,
            metrics=[
                [ALB_NAMESPACE, "RequestCount", *dims, {"stat": "Sum"}],
                [ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", *dims, {"stat": "Sum"}],
            ],
        ),
    ]


def _crd(
    name: str,
    api_version: str,
    kind: str,
    metadata: k8s.meta.v1.ObjectMetaArgs,
    spec: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name, api_version=api_version, kind=kind, metadata=metadata, spec=spec, opts=opts
    )


# -- ServingPlane (platform) ----------------------------------------------------------------


class ServingPlaneArgs(TypedDict):
    """Inputs of `ServingPlane`."""

    environment: str
    """The platform's environment (names the Gateway's ALB)."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (its output, so everything here waits for it)."""
    kubernetes_version: str
    """The cluster's Kubernetes version (selects the metrics-server add-on version)."""
    vpc_id: pulumi.Input[str]
    """The cluster's VPC (the controller cannot discover it without IMDS)."""
    load_balancer_subnet_ids: pulumi.Input[list[str]]
    """The subnets the Gateway's ALB is pinned to: the network's internal load-balancer
    subnets (no node or pod there) for `internal`, its public subnets for `internet-facing`."""
    k8s_provider: k8s.Provider
    """Provider of the cluster."""
    node_selector: dict[str, str]
    """The system pool's labels: every platform workload here runs there."""
    certificate_arn: str
    """ACM certificate of the HTTPS listener."""
    scheme: str
    """`internal` or `internet-facing`."""
    waf_acl_arn: str | None
    """An existing web ACL for an internet-facing Gateway (one is created when None)."""
    hostname: str | None
    """The host name clients call, or None for any."""
    ssl_policy: str
    """The HTTPS listener's security policy."""
    protect: bool
    """Prod: two controller replicas and ALB deletion protection."""
    tags: dict[str, str]
    """Tags of every AWS resource (and the ALB, through the controller)."""


class ServingPlane(pulumi.ComponentResource):
    """The load-balancer controller with the Gateway API, the Gateway, KEDA and metrics-server."""

    gateway_name: str
    gateway_namespace: str
    load_balancer_name: str
    controller_role_arn: pulumi.Output[str]
    keda_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServingPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:serving:ServingPlane", name, None, opts)
        provider = args["k8s_provider"]
        deps = _depends_on_of(opts)
        tags = args["tags"]
        cluster = pulumi.Output.from_input(args["cluster_name"])
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        self.load_balancer_name = gateway_load_balancer_name(args["environment"])
        self.gateway_name, self.gateway_namespace = GATEWAY_NAME, GATEWAY_NAMESPACE

        # -- load balancer controller: IAM, Gateway API CRDs, chart ------------------------
        lbc_role = pod_identity_role(
            self, f"{name}-lbc-role", "AWS Load Balancer Controller (EKS Pod Identity)", tags
        )
        lbc_policy = aws.iam.Policy(
            f"{name}-lbc-policy",
            description=f"AWS Load Balancer Controller {LBC_VERSION} (upstream iam_policy.json)",
            policy=lbc_iam_policy(),
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-lbc-policy-attachment",
            role=lbc_role.name,
            policy_arn=lbc_policy.arn,
            opts=child(self),
        )
        lbc_identity = bind_service_account(
            self,
            f"{name}-lbc-pod-identity",
            cluster_name=cluster,
            namespace=LBC_NAMESPACE,
            service_account=LBC_SERVICE_ACCOUNT,
            role=lbc_role,
            tags=tags,
        )
        # The controller enables its Gateway reconcilers only if the CRDs exist when it starts.
        gateway_crds = k8s.yaml.v2.ConfigFile(
            f"{name}-gateway-api-crds",
            file=GATEWAY_API_CRDS,
            opts=child(self, provider=provider, depends_on=deps),
        )
        lbc = helm_release(
            self,
            f"{name}-lbc",
            chart("aws-load-balancer-controller"),
            namespace=LBC_NAMESPACE,
            values=pulumi.Output.all(cluster, region, args["vpc_id"]).apply(
                lambda p: lbc_values(
                    p[0], p[1], p[2], 2 if args["protect"] else 1, args["node_selector"]
                )
            ),
            provider=provider,
            depends_on=[*deps, lbc_identity, gateway_crds],
        )

        # -- the Gateway ---------------------------------------------------------------------
        k8s_opts = child(self, provider=provider, depends_on=[lbc])
        namespace = k8s.core.v1.Namespace(
            f"{name}-gateway-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GATEWAY_NAMESPACE,
                labels={
                    "app.kubernetes.io/managed-by": "pulumi",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            opts=child(self, provider=provider, depends_on=deps),
        )
        ns = namespace.metadata.apply(lambda m: m.name)

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns)

        waf_arn: pulumi.Input[str] | None = args["waf_acl_arn"]
        if args["scheme"] == "internet-facing" and not waf_arn:
            acl = aws.wafv2.WebAcl(
                f"{name}-waf",
                scope="REGIONAL",
                description="AI Estate internet-facing Gateway: AWS managed rule groups",
                default_action=aws.wafv2.WebAclDefaultActionArgs(allow={}),
                rules=web_acl_rules(),
                visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                    cloudwatch_metrics_enabled=True,
                    metric_name=f"{self.load_balancer_name}-waf",
                    sampled_requests_enabled=True,
                ),
                tags=tags,
                opts=child(self),
            )
            waf_arn = acl.arn
        lb_config = _crd(
            f"{name}-lb-config",
            f"{LBC_GATEWAY_GROUP}/v1",
            "LoadBalancerConfiguration",
            meta(GATEWAY_NAME),
            pulumi.Output.all(waf_arn, args["load_balancer_subnet_ids"]).apply(
                lambda p: load_balancer_configuration_spec(
                    scheme=args["scheme"],
                    load_balancer_name=self.load_balancer_name,
                    certificate_arn=args["certificate_arn"],
                    ssl_policy=args["ssl_policy"],
                    waf_acl_arn=p[0],
                    deletion_protection=args["protect"],
                    tags=tags,
                    subnet_ids=list(p[1] or []),
                )
            ),
            k8s_opts,
        )
        gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-gateway-class",
            api_version=f"{GATEWAY_API_GROUP}/v1",
            kind="GatewayClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GATEWAY_CLASS),
            spec={"controllerName": ALB_CONTROLLER_NAME},
            opts=k8s_opts,
        )
        gateway = _crd(
            f"{name}-gateway",
            f"{GATEWAY_API_GROUP}/v1",
            "Gateway",
            meta(GATEWAY_NAME),
            gateway_spec(args["hostname"]),
            child(self, provider=provider, depends_on=[lbc, lb_config, gateway_class]),
        )
        _crd(
            f"{name}-https-redirect",
            f"{GATEWAY_API_GROUP}/v1",
            "HTTPRoute",
            meta("https-redirect"),
            redirect_route_spec(),
            child(self, provider=provider, depends_on=[gateway]),
        )

        # -- KEDA and metrics-server ---------------------------------------------------------
        keda_role = pod_identity_role(
            self, f"{name}-keda-role", "KEDA operator: CloudWatch and SQS scalers", tags
        )
        aws.iam.RolePolicy(
            f"{name}-keda-policy",
            role=keda_role.id,
            policy=keda_operator_policy(),
            opts=child(self),
        )
        keda_identity = bind_service_account(
            self,
            f"{name}-keda-pod-identity",
            cluster_name=cluster,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            role=keda_role,
            tags=tags,
        )
        keda_namespace = k8s.core.v1.Namespace(
            f"{name}-keda-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=KEDA_NAMESPACE, labels={"app.kubernetes.io/managed-by": "pulumi"}
            ),
            opts=child(self, provider=provider, depends_on=deps),
        )
        helm_release(
            self,
            f"{name}-keda",
            chart("keda"),
            namespace=KEDA_NAMESPACE,
            values=keda_values(args["node_selector"]),
            provider=provider,
            depends_on=[*deps, keda_identity, keda_namespace],
        )
        metrics_server_version = aws.eks.get_addon_version_output(
            addon_name="metrics-server",
            kubernetes_version=args["kubernetes_version"],
            most_recent=False,  # EKS's default, never the newest (issue 11)
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=cluster,
            addon_name="metrics-server",
            addon_version=metrics_server_version.version,
            configuration_values=json.dumps(
                {"tolerations": SYSTEM_TOLERATIONS, "nodeSelector": args["node_selector"]},
                sort_keys=True,
            ),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=child(self, depends_on=deps),
        )

        self.controller_role_arn = lbc_role.arn
        self.keda_role_arn = keda_role.arn
        self.register_outputs(
            {
                "gatewayName": self.gateway_name,
                "gatewayNamespace": self.gateway_namespace,
                "loadBalancerName": self.load_balancer_name,
            }
        )


def _depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """A component's `depends_on`, handed on to its Kubernetes children (Pulumi does not)."""
    deps = opts.depends_on if opts is not None else None
    if deps is None:
        return []
    if isinstance(deps, pulumi.Resource):
        return [deps]
    return list(deps)  # type: ignore[arg-type]


# -- ServingEndpoint (BU) -------------------------------------------------------------------


class GatewayRef(TypedDict):
    """What a BU stack knows of the platform's Gateway (the platform's `serving` output)."""

    gateway_name: pulumi.Input[str]
    """The Gateway routes attach to (`serving`)."""
    gateway_namespace: pulumi.Input[str]
    """Its namespace (`ai-estate-gateway`)."""
    load_balancer_name: pulumi.Input[str]
    """The Gateway ALB's name, fixed by the platform (the alarms look its dimension up)."""
    load_balancer_cidrs: pulumi.Input[list[str]]
    """The subnets the Gateway's ALB lives in (its private addresses reach the pods)."""
    vpc_cidr: pulumi.Input[str]
    """The VPC's block: the interface endpoints the model server calls on 443 live in it."""
    vpc_id: pulumi.Input[str]
    """The VPC the endpoint's target group is created in."""
    oidc: pulumi.Input[dict[str, Any] | None]
    """`{issuer, jwks_endpoint, required_scopes}` of the platform's token issuer."""


class EndpointCommonArgs(TypedDict):
    """What every endpoint of a BU shares (`BuServing` hands it to each `ServingEndpoint`)."""

    business_unit: str
    """The BU (its namespace and labels)."""
    environment: str
    """The environment (names)."""
    account_id: str
    """The BU's account (ARNs, image registry)."""
    cluster_name: pulumi.Input[str]
    """The cluster the BU runs on (Pod Identity, alarm dimensions)."""
    k8s_provider: k8s.Provider
    """Provider of that cluster."""
    namespace: pulumi.Input[str]
    """The BU's namespace (the tenant's output, so objects wait for it)."""
    gateway: GatewayRef
    """The platform's Gateway."""
    kms_key_arn: pulumi.Input[str]
    """The BU key the artifacts and tables are encrypted with."""
    model_bucket_name: str
    """The BU's artifact bucket."""
    boundary_arn: pulumi.Input[str]
    """The BU's permission boundary (every BU role carries it)."""
    alarm_topic_arn: pulumi.Input[str]
    """The BU's alarm topic."""
    tags: dict[str, str]
    """Tags of every AWS resource."""


class ServingEndpointArgs(EndpointCommonArgs):
    """Inputs of `ServingEndpoint`."""

    endpoint: EndpointSpec
    """The endpoint as the stack declares it."""


class ServingEndpoint(pulumi.ComponentResource):
    """One model endpoint of a BU (see the module docstring)."""

    role_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    alarm_arns: dict[str, pulumi.Output[str]]
    rollout_alarm_names: list[str]
    """With a canary: the alarms `estate.rollout` watches (stable and canary); else empty."""

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:serving:ServingEndpoint", name, None, opts)
        bu, env, ep = args["business_unit"], args["environment"], args["endpoint"]
        prefix = naming.prefix(bu, env)
        scope = BuScope(bu, env, args["account_id"], "")
        tags = {**args["tags"], ENDPOINT_LABEL: ep["name"]}
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        k8s_opts = child(self, provider=args["k8s_provider"])
        gw = args["gateway"]
        service_account = f"{ep['name']}-{MODEL_SERVER}"
        labels = endpoint_labels(bu, ep["name"])

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=args["namespace"], labels=labels
            )

        # -- identity ------------------------------------------------------------------------
        table_names = [f"{prefix}-{t}" for t in ep["online_tables"]]
        cluster = pulumi.Output.from_input(args["cluster_name"])
        role = aws.iam.Role(
            f"{name}-role",
            name=model_server_role_name(prefix, ep["name"]),
            path=scope.role_path,
            description=f"AI Estate model server {ep['name']} of {prefix} ({bu}/{service_account})",
            assume_role_policy=cluster.apply(
                lambda c: pod_identity_trust_document(
                    account_id=args["account_id"],
                    cluster_name=c,
                    namespace=bu,
                    service_account=service_account,
                )
            ),
            permissions_boundary=args["boundary_arn"],
            max_session_duration=3600,
            tags={**tags, "Workload": MODEL_SERVER},
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            name=model_server_role_name(prefix, ep["name"]),
            role=role.id,
            policy=pulumi.Output.all(partition, region, args["kms_key_arn"]).apply(
                lambda p: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": model_server_statements(
                            BuScope(bu, env, args["account_id"], p[1], p[0]),
                            bucket_name=args["model_bucket_name"],
                            family=ep["model_family"],
                            kms_key_arn=p[2],
                            table_names=table_names,
                        ),
                    },
                    sort_keys=True,
                )
            ),
            opts=child(self),
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=meta(service_account), opts=k8s_opts
        )
        aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=cluster,
            namespace=bu,
            service_account=service_account,
            role_arn=role.arn,
            # The trust policy requires Pod Identity's session tags: never switch them off.
            disable_session_tags=False,
            tags=tags,
            opts=child(self),
        )

        # -- workload ------------------------------------------------------------------------
        image = pulumi.Output.concat(
            args["account_id"],
            ".dkr.ecr.",
            region,
            ".amazonaws.com/",
            f"{prefix}/{ep['image_repository']}{ep['image_reference']}",
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(ep["name"]),
            spec=pulumi.Output.all(image, region).apply(
                lambda p: deployment_spec(
                    bu,
                    ep,
                    image=p[0],
                    service_account=service_account,
                    bucket_name=args["model_bucket_name"],
                    region=p[1],
                )
            ),
            opts=k8s_opts,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(ep["name"]),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=ep["port"], target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=k8s_opts,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(ep["name"]),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            ),
            opts=k8s_opts,
        )

        # -- load balancing: our target group, bound to the Service, routed by the Gateway ----
        tg_name = target_group_name(prefix, ep["name"])
        target_group = self._target_group(f"{name}-target-group", tg_name, ep, gw["vpc_id"], tags)
        _crd(
            f"{name}-target-group-binding",
            "elbv2.k8s.aws/v1beta1",
            "TargetGroupBinding",
            meta(ep["name"]),
            pulumi.Output.all(target_group.arn, gw["load_balancer_cidrs"]).apply(
                lambda p: target_group_binding_spec(ep["name"], ep["port"], p[0], p[1])
            ),
            child(self, provider=args["k8s_provider"], depends_on=[service]),
        )
        canary = ep.get("canary")
        canary_tg = (
            self._canary_target_group(name, prefix, ep, gw["vpc_id"], tags) if canary else None
        )
        listener_rule = None
        if ep["auth"] == "oidc":
            listener_rule = f"{ep['name']}-auth"
            _crd(
                f"{name}-auth",
                f"{LBC_GATEWAY_GROUP}/v1",
                "ListenerRuleConfiguration",
                meta(listener_rule),
                pulumi.Output.from_input(gw["oidc"]).apply(_require_oidc).apply(listener_rule_spec),
                k8s_opts,
            )
        _crd(
            f"{name}-route",
            f"{GATEWAY_API_GROUP}/v1",
            "HTTPRoute",
            meta(ep["name"]),
            pulumi.Output.all(gw["gateway_name"], gw["gateway_namespace"]).apply(
                lambda p: http_route_spec(
                    ep,
                    gateway_name=p[0],
                    gateway_namespace=p[1],
                    target_group=tg_name,
                    listener_rule=listener_rule,
                    canary_target_group=target_group_name(prefix, canary_name(ep["name"])),
                )
            ),
            child(
                self,
                provider=args["k8s_provider"],
                depends_on=[target_group, *([canary_tg] if canary_tg else [])],
            ),
        )
        s3_list = aws.ec2.get_managed_prefix_list_output(
            name=pulumi.Output.concat("com.amazonaws.", region, ".s3"), opts=invoke
        )
        ddb_list = aws.ec2.get_managed_prefix_list_output(
            name=pulumi.Output.concat("com.amazonaws.", region, ".dynamodb"), opts=invoke
        )

        def netpol_spec(pod_labels: dict[str, str] | None) -> pulumi.Output[dict[str, Any]]:
            return pulumi.Output.all(
                gw["load_balancer_cidrs"], gw["vpc_cidr"], s3_list.entries, ddb_list.entries
            ).apply(
                lambda p: network_policy_spec(
                    bu,
                    ep,
                    load_balancer_cidrs=list(p[0] or []),
                    vpc_cidr=p[1],
                    prefix_list_cidrs=[
                        e["cidr"] if isinstance(e, dict) else e.cidr
                        for e in [*(p[2] or []), *(p[3] or [])]
                    ],
                    pod_labels=pod_labels,
                )
            )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(f"{ep['name']}-serving"),
            spec=netpol_spec(None),
            opts=k8s_opts,
        )

        # -- scaling -------------------------------------------------------------------------
        lb = aws.lb.get_load_balancer_output(name=gw["load_balancer_name"], opts=invoke)
        # The CloudWatch dimensions are the resource part of each ARN (what `arn_suffix` holds).
        self.load_balancer_dimension = lb.arn.apply(_arn_resource)
        self.target_group_arn_suffix = target_group.arn.apply(_arn_resource)
        trigger_auth = f"{ep['name']}-keda-aws"
        auth = _crd(
            f"{name}-keda-auth",
            "keda.sh/v1alpha1",
            "TriggerAuthentication",
            meta(trigger_auth),
            # KEDA's operator reads CloudWatch with its own Pod Identity role (platform).
            {"podIdentity": {"provider": "aws"}},
            k8s_opts,
        )
        _crd(
            f"{name}-scaler",
            "keda.sh/v1alpha1",
            "ScaledObject",
            meta(ep["name"]),
            pulumi.Output.all(
                region, self.target_group_arn_suffix, self.load_balancer_dimension
            ).apply(
                lambda p: scaled_object_spec(
                    ep,
                    deployment=ep["name"],
                    region=p[0],
                    target_group_dimension=p[1],
                    load_balancer_dimension=p[2],
                    trigger_authentication=trigger_auth,
                )
            ),
            child(self, provider=args["k8s_provider"], depends_on=[deployment, auth]),
        )

        # -- alarms --------------------------------------------------------------------------
        self.alarm_arns = {}
        for alarm in endpoint_alarms(
            bu,
            ep,
            cluster_name=cluster,
            target_group_dimension=self.target_group_arn_suffix,
            load_balancer_dimension=self.load_balancer_dimension,
        ):
            self.alarm_arns[alarm.key] = self._alarm(
                name, prefix, ep["name"], alarm, tags, args["alarm_topic_arn"]
            )

        # -- canary --------------------------------------------------------------------------
        if canary and canary_tg is not None:
            self._canary(
                name,
                ep,
                canary,
                canary_tg,
                _CanaryContext(
                    business_unit=bu,
                    prefix=prefix,
                    namespace=args["namespace"],
                    k8s_opts=k8s_opts,
                    k8s_provider=args["k8s_provider"],
                    image=image,
                    region=region,
                    service_account=service_account,
                    bucket_name=args["model_bucket_name"],
                    load_balancer_cidrs=gw["load_balancer_cidrs"],
                    load_balancer_dimension=self.load_balancer_dimension,
                    cluster=cluster,
                    alarm_topic_arn=args["alarm_topic_arn"],
                    tags=tags,
                ),
                netpol_spec,
            )
        self.rollout_alarm_names = rollout_alarm_names(prefix, ep["name"]) if canary else []

        self.role_arn = role.arn
        self.register_outputs(
            {
                "roleArn": self.role_arn,
                "alarmArns": self.alarm_arns,
                "rolloutAlarmNames": self.rollout_alarm_names,
            }
        )

    def _alarm(
        self,
        name: str,
        prefix: str,
        endpoint: str,
        alarm: EndpointAlarm,
        tags: dict[str, str],
        topic_arn: pulumi.Input[str],
    ) -> pulumi.Output[str]:
        """One endpoint alarm to the BU's topic; returns its ARN."""
        stat: dict[str, Any] = (
            {"extended_statistic": alarm.statistic}
            if re.fullmatch(r"p\d+(\.\d+)?", alarm.statistic)
            else {"statistic": alarm.statistic}
        )
        resource = aws.cloudwatch.MetricAlarm(
            f"{name}-{alarm.key}",
            name=alarm_name(prefix, endpoint, alarm.key),
            alarm_description=alarm.description,
            namespace=alarm.namespace,
            metric_name=alarm.metric_name,
            dimensions=alarm.dimensions,
            period=alarm.period,
            comparison_operator=alarm.comparison,
            threshold=alarm.threshold,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.evaluation_periods,
            treat_missing_data=alarm.treat_missing_data,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=tags,
            opts=child(self),
            **stat,
        )
        return resource.arn

    def _target_group(
        self,
        logical: str,
        physical: str,
        ep: EndpointSpec,
        vpc_id: pulumi.Input[str],
        tags: dict[str, str],
    ) -> aws.lb.TargetGroup:
        """An IP target group of the endpoint's pods (health-checked on its probe path)."""
        return aws.lb.TargetGroup(
            logical,
            name=physical,
            target_type="ip",
            protocol="HTTP",
            port=ep["port"],
            vpc_id=vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=ep["health_path"],
                protocol="HTTP",
                matcher="200",
                interval=15,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=tags,
            opts=child(self),
        )

    def _canary_target_group(
        self,
        name: str,
        prefix: str,
        ep: EndpointSpec,
        vpc_id: pulumi.Input[str],
        tags: dict[str, str],
    ) -> aws.lb.TargetGroup:
        return self._target_group(
            f"{name}-canary-target-group",
            target_group_name(prefix, canary_name(ep["name"])),
            ep,
            vpc_id,
            {**tags, TRACK_LABEL: CANARY},
        )

    def _canary(
        self,
        name: str,
        ep: EndpointSpec,
        canary: CanarySpec,
        target_group: aws.lb.TargetGroup,
        ctx: _CanaryContext,
        netpol_spec: Any,
    ) -> None:
        """The canary's Deployment, Service, PDB, binding, NetworkPolicy and alarms."""
        labels = canary_labels(ctx.business_unit, ep["name"])
        object_name = canary_name(ep["name"])
        meta = k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ctx.namespace, labels=labels)
        k8s.apps.v1.Deployment(
            f"{name}-canary-deployment",
            metadata=meta,
            spec=pulumi.Output.all(ctx.image, ctx.region).apply(
                lambda p: deployment_spec(
                    ctx.business_unit,
                    ep,
                    image=p[0],
                    service_account=ctx.service_account,
                    bucket_name=ctx.bucket_name,
                    region=p[1],
                    canary=canary,
                )
            ),
            opts=ctx.k8s_opts,
        )
        service = k8s.core.v1.Service(
            f"{name}-canary-service",
            metadata=meta,
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=ep["port"], target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=ctx.k8s_opts,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-canary-pdb",
            metadata=meta,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            ),
            opts=ctx.k8s_opts,
        )
        _crd(
            f"{name}-canary-target-group-binding",
            "elbv2.k8s.aws/v1beta1",
            "TargetGroupBinding",
            meta,
            pulumi.Output.all(target_group.arn, ctx.load_balancer_cidrs).apply(
                lambda p: target_group_binding_spec(object_name, ep["port"], p[0], p[1])
            ),
            child(self, provider=ctx.k8s_provider, depends_on=[service]),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-canary-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{object_name}-serving", namespace=ctx.namespace, labels=labels
            ),
            spec=netpol_spec(labels),
            opts=ctx.k8s_opts,
        )
        dimension = target_group.arn.apply(_arn_resource)
        for alarm in canary_alarms(
            ctx.business_unit,
            ep,
            target_group_dimension=dimension,
            load_balancer_dimension=ctx.load_balancer_dimension,
            cluster_name=ctx.cluster,
        ):
            self._alarm(
                name,
                ctx.prefix,
                ep["name"],
                alarm,
                {**ctx.tags, TRACK_LABEL: CANARY},
                ctx.alarm_topic_arn,
            )


def _arn_resource(arn: str) -> str:
    """The CloudWatch dimension value of an ELB ARN (what the provider's `arn_suffix` holds):
    `targetgroup/<name>/<id>` for a target group, `app/<name>/<id>` for a load balancer."""
    return arn.split(":", 5)[5].removeprefix("loadbalancer/")


def _require_oidc(oidc: dict[str, Any] | None) -> dict[str, Any]:
    if not oidc or not oidc.get("issuer"):
        raise ValueError(
            "an auth: oidc endpoint needs the platform stack's ai-estate:serving.oidc "
            "(issuer and jwksEndpoint)"
        )
    return oidc


class BuServingArgs(TypedDict):
    """Inputs of `BuServing`: the shared parts; `endpoints` one each."""

    endpoints: list[EndpointSpec]
    """The BU's endpoints."""
    common: EndpointCommonArgs
    """Everything the endpoints share."""
    replica_usd_per_hour: NotRequired[dict[str, float]]
    """Endpoint name -> On-Demand USD per hour of one replica's share of its pool's node (GPUs
    per replica / GPUs per node x the node's price): the dashboard's cost per 1,000 inferences.
    An endpoint without a price gets no cost widget."""


class BuServing(pulumi.ComponentResource):
    """The BU's endpoints and their dashboard (one row per endpoint)."""

    endpoints: dict[str, ServingEndpoint]

    def __init__(
        self, name: str, args: BuServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:serving:BuServing", name, None, opts)
        common = args["common"]
        self.endpoints = {}
        for spec in args["endpoints"]:
            self.endpoints[spec["name"]] = ServingEndpoint(
                f"{name}-{spec['name']}",
                ServingEndpointArgs(**common, endpoint=spec),
                child(self),
            )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        prices = args.get("replica_usd_per_hour") or {}
        rows = [
            pulumi.Output.all(
                region,
                e.target_group_arn_suffix,
                e.load_balancer_dimension,
                common["cluster_name"],
                common["namespace"],
            ).apply(functools.partial(_row_of, endpoint=n, y=i * 12, replica_usd=prices.get(n)))
            for i, (n, e) in enumerate(self.endpoints.items())
        ]
        prefix = naming.prefix(common["business_unit"], common["environment"])
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{prefix}-serving",
            dashboard_body=pulumi.Output.all(*rows).apply(
                lambda widgets: json.dumps(
                    {"widgets": [w for row in widgets for w in row]}, sort_keys=True
                )
            ),
            opts=child(self),
        )
        self.register_outputs({"endpoints": list(self.endpoints)})
