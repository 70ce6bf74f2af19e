"""Serving rules: the Gateway stays internal, every route authenticates its callers, model
servers run the BU's own images, prod endpoints survive a node drain, and every endpoint alarms.

What is policed is what the estate's serving components render (components/serving.py), in any
program: Gateway API `HTTPRoute`s and the AWS Load Balancer Controller's
`LoadBalancerConfiguration` / `ListenerRuleConfiguration` custom resources
(`kubernetes:<group>/<version>:<Kind>`), workloads whose pod template carries
`app.kubernetes.io/component: model-server`, KEDA `ScaledObject`s, HPAs, PodDisruptionBudgets and
CloudWatch alarms tagged `ai-estate/endpoint`.

- `serving-gateway-internal`: a load balancer configuration with `scheme: internet-facing`
  exposes every BU's routes to the internet. It is a deliberate, reviewed choice: waive this rule
  for the resource (`ai-estate:waivers`) to make it.
- `serving-public-gateway-has-waf`: an internet-facing one always has a WAF web ACL (not waived
  with the previous rule: a waiver to go public is not a waiver to go unprotected).
- `serving-route-authenticated` (stack): every HTTPRoute rule that forwards traffic carries an
  `ExtensionRef` to a ListenerRuleConfiguration in its namespace whose actions authenticate
  (`jwt-validation`, `authenticate-oidc`, `authenticate-cognito`). Redirect-only rules forward
  nothing and pass.
- `serving-image-from-bu-registry`: in a BU stack, a model server's containers come from the BU's
  own ECR repositories (`<account>.dkr.ecr.<region>.amazonaws.com/<bu>-<env>/...`); init
  containers may also use the pinned tool images in the `allowedToolImages` setting.
- `serving-endpoint-resilient` (stack, prod): a model server has a PodDisruptionBudget selecting
  its pods and keeps at least 2 replicas (its ScaledObject's `minReplicaCount`, its HPA's
  `minReplicas`, or the Deployment's `replicas`).
- `serving-endpoint-has-alarms` (stack): every model server has CloudWatch alarms tagged with its
  endpoint on latency (`TargetResponseTime`) and target errors (`HTTPCode_Target_5XX_Count`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    ENVIRONMENTS,
    PROD_ONLY,
    Rule,
    Setting,
    Settings,
)
from .profiles import environment_from_config, stack_config
from .properties import as_int, as_list, get, text

COMPONENT_LABEL = "app.kubernetes.io/component"
MODEL_SERVER = "model-server"
ENDPOINT_TAG = "ai-estate/endpoint"
AUTH_ACTIONS = frozenset({"jwt-validation", "authenticate-oidc", "authenticate-cognito"})
LBC_GROUP = "gateway.k8s.aws"
DEFAULT_TOOL_IMAGES = ["public.ecr.aws/aws-cli/aws-cli:2.17.0"]
"""Duplicated by value from `components/serving.py` MODEL_FETCH_IMAGE (the pack cannot import
components); tests/test_serving_policies.py keeps the two equal."""

LOAD_BALANCER_CONFIGURATION_TYPES = frozenset(
    f"kubernetes:{LBC_GROUP}/{v}:LoadBalancerConfiguration" for v in ("v1", "v1beta1")
)
HTTP_ROUTE_TYPES = frozenset(
    f"kubernetes:gateway.networking.k8s.io/{v}:HTTPRoute" for v in ("v1", "v1beta1")
)
LISTENER_RULE_TYPES = frozenset(
    f"kubernetes:{LBC_GROUP}/{v}:ListenerRuleConfiguration" for v in ("v1", "v1beta1")
)
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA_TYPES = frozenset(
    f"kubernetes:autoscaling/{v}:HorizontalPodAutoscaler" for v in ("v1", "v2", "v2beta2")
)
PDB_TYPES = frozenset(f"kubernetes:policy/{v}:PodDisruptionBudget" for v in ("v1", "v1beta1"))
DEPLOYMENT_TYPES = frozenset(
    f"kubernetes:{gv}:Deployment" for gv in ("apps/v1", "apps/v1beta1", "apps/v1beta2")
)
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LATENCY_METRICS = frozenset({"TargetResponseTime"})
ERROR_METRICS = frozenset({"HTTPCode_Target_5XX_Count"})


# -- helpers --------------------------------------------------------------------------------


def _of(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    wanted = set(types)
    return [r for r in resources if r.resource_type in wanted]


def _namespace(props: Mapping[str, Any]) -> str:
    return text(get(props, "metadata", "namespace"))


def _name(props: Mapping[str, Any]) -> str:
    return text(get(props, "metadata", "name"))


def is_model_server(props: Mapping[str, Any]) -> bool:
    """A workload whose pods are model servers (the label `ServingEndpoint` sets)."""
    labels = get(props, "spec", "template", "metadata", "labels")
    return isinstance(labels, Mapping) and labels.get(COMPONENT_LABEL) == MODEL_SERVER


def _pod_labels(props: Mapping[str, Any]) -> dict[str, str]:
    labels = get(props, "spec", "template", "metadata", "labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector's matchLabels against pod labels (matchExpressions: not used here, so a
    selector that has them is not counted as selecting)."""
    if not isinstance(selector, Mapping) or selector.get("matchExpressions"):
        return False
    match = selector.get("matchLabels")
    if not isinstance(match, Mapping) or not match:
        return False
    return all(labels.get(str(k)) == str(v) for k, v in match.items())


def _stack_identity() -> tuple[str, str, str]:
    config = stack_config()
    kind = text(config.get("ai-estate:kind")).strip('"').lower()
    bu = text(config.get("ai-estate:businessUnit")).strip('"')
    return kind, bu, environment_from_config(config)


# -- serving-gateway-internal / serving-public-gateway-has-waf --------------------------------


def validate_gateway_internal(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    scheme = text(get(args.props, "spec", "scheme")) or "internal"
    if scheme == "internet-facing":
        report(
            f"Load balancer configuration '{args.name}' is internet-facing: every route on the "
            "Gateway becomes reachable from the internet.",
            None,
        )


def validate_public_gateway_waf(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    scheme = text(get(args.props, "spec", "scheme")) or "internal"
    if scheme == "internet-facing" and not text(get(args.props, "spec", "wafV2", "webACL")):
        report(
            f"Load balancer configuration '{args.name}' is internet-facing without a WAF web ACL "
            "(spec.wafV2.webACL).",
            None,
        )


# -- serving-route-authenticated ------------------------------------------------------------


def authenticating_rules(resources: Iterable[PolicyResource]) -> set[tuple[str, str]]:
    """(namespace, name) of every ListenerRuleConfiguration whose actions authenticate."""
    found = set()
    for r in _of(resources, LISTENER_RULE_TYPES):
        actions = {
            text(a.get("type"))
            for a in as_list(get(r.props, "spec", "actions"))
            if isinstance(a, Mapping)
        }
        if actions & AUTH_ACTIONS:
            found.add((_namespace(r.props), _name(r.props)))
    return found


def unauthenticated_rules(route: PolicyResource, authenticating: set[tuple[str, str]]) -> list[int]:
    """Indexes of the route's forwarding rules with no authenticating ListenerRuleConfiguration."""
    namespace = _namespace(route.props)
    bad = []
    for index, rule in enumerate(as_list(get(route.props, "spec", "rules"))):
        if not isinstance(rule, Mapping) or not as_list(rule.get("backendRefs")):
            continue  # redirects and fixed responses forward nothing
        refs = {
            text(get(f, "extensionRef", "name"))
            for f in as_list(rule.get("filters"))
            if isinstance(f, Mapping)
            and text(f.get("type")) == "ExtensionRef"
            and text(get(f, "extensionRef", "group")) == LBC_GROUP
            and text(get(f, "extensionRef", "kind")) == "ListenerRuleConfiguration"
        }
        if not any((namespace, ref) in authenticating for ref in refs):
            bad.append(index)
    return bad


def validate_route_authenticated(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    authenticating = authenticating_rules(resources)
    for route in _of(resources, HTTP_ROUTE_TYPES):
        bad = unauthenticated_rules(route, authenticating)
        if bad:
            report(
                f"HTTPRoute '{route.name}' forwards rule(s) {bad} without authentication: no "
                "ExtensionRef to a ListenerRuleConfiguration with a jwt-validation, "
                "authenticate-oidc or authenticate-cognito action.",
                route.urn,
            )


# -- serving-image-from-bu-registry ---------------------------------------------------------


def registry_pattern(business_unit: str, environment: str) -> re.Pattern[str]:
    """The BU's own ECR repositories, in any account and region of the estate."""
    return re.compile(
        rf"^\d{{12}}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/{re.escape(business_unit)}-"
        rf"{re.escape(environment)}/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{{64}})$"
    )


def validate_image_registry(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not is_model_server(args.props):
        return
    kind, bu, env = _stack_identity()
    if kind == "platform":
        return
    pattern = registry_pattern(bu or "<bu>", env)
    tools = set(settings["allowedToolImages"])
    spec = get(args.props, "spec", "template", "spec")
    for field in ("containers", "initContainers"):
        for container in as_list(get(spec, field)):
            image = text(get(container, "image"))
            if pattern.match(image) or (field == "initContainers" and image in tools):
                continue
            report(
                f"Model server '{args.name}' container '{text(get(container, 'name'))}' runs "
                f"image '{image}', not one of BU {bu or '?'}'s ECR repositories "
                f"({bu or '<bu>'}-{env}/...).",
                None,
            )


# -- serving-endpoint-resilient -------------------------------------------------------------


def min_replicas(deployment: PolicyResource, resources: list[PolicyResource]) -> int | None:
    """The fewest replicas the workload can run: its autoscaler's floor, else `spec.replicas`."""
    namespace, name = _namespace(deployment.props), _name(deployment.props)
    for r in _of(resources, [SCALED_OBJECT, *HPA_TYPES]):
        target = get(r.props, "spec", "scaleTargetRef")
        if _namespace(r.props) != namespace or text(get(target, "name")) != name:
            continue
        if r.resource_type == SCALED_OBJECT:
            floor = as_int(get(r.props, "spec", "minReplicaCount"))
            return 0 if floor is None else floor  # KEDA's default is 0
        floor = as_int(get(r.props, "spec", "minReplicas"))
        return 1 if floor is None else floor  # the HPA's default is 1
    replicas = as_int(get(deployment.props, "spec", "replicas"))
    return 1 if replicas is None else replicas


def validate_endpoint_resilient(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    pdbs = _of(resources, PDB_TYPES)
    for deployment in _of(resources, DEPLOYMENT_TYPES):
        if not is_model_server(deployment.props):
            continue
        labels = _pod_labels(deployment.props)
        namespace = _namespace(deployment.props)
        if not any(
            _namespace(p.props) == namespace and _selects(get(p.props, "spec", "selector"), labels)
            for p in pdbs
        ):
            report(
                f"Model server '{deployment.name}' has no PodDisruptionBudget selecting its pods: "
                "a node drain can take every replica at once.",
                deployment.urn,
            )
        floor = min_replicas(deployment, resources)
        if floor is not None and floor < settings["minReplicas"]:
            report(
                f"Model server '{deployment.name}' can run {floor} replica(s); it must keep at "
                f"least {settings['minReplicas']}.",
                deployment.urn,
            )


# -- serving-endpoint-has-alarms ------------------------------------------------------------


def _alarm_metrics(alarm: PolicyResource) -> set[str]:
    names = {text(alarm.props.get("metricName"))}
    for query in as_list(alarm.props.get("metricQueries")):
        names.add(text(get(query, "metric", "metricName")))
    return names - {""}


def validate_endpoint_alarms(args: Any, report: ReportViolation, settings: Settings) -> None:
    resources = list(args.resources)
    alarms = _of(resources, [METRIC_ALARM])
    for deployment in _of(resources, DEPLOYMENT_TYPES):
        if not is_model_server(deployment.props):
            continue
        endpoint = _pod_labels(deployment.props).get(ENDPOINT_TAG) or _name(deployment.props)
        watched: set[str] = set()
        for alarm in alarms:
            tags = alarm.props.get("tags")
            if isinstance(tags, Mapping) and tags.get(ENDPOINT_TAG) == endpoint:
                watched |= _alarm_metrics(alarm)
        missing = [
            what
            for what, metrics in (("latency", LATENCY_METRICS), ("5xx errors", ERROR_METRICS))
            if not watched & metrics
        ]
        if missing:
            report(
                f"Model server '{deployment.name}' (endpoint {endpoint}) has no alarm on "
                f"{' or '.join(missing)} (CloudWatch alarms tagged {ENDPOINT_TAG}={endpoint}).",
                deployment.urn,
            )


# -- the rules ------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        id="serving-gateway-internal",
        title="Serving Gateways are internal",
        description="The serving Gateway's load balancer is internal (scheme: internal).",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Keep ai-estate:serving.scheme internal. To expose the Gateway publicly, waive "
            "serving-gateway-internal for the load balancer configuration in ai-estate:waivers "
            "with the reason and ticket that approved it."
        ),
        kind="resource",
        validate=validate_gateway_internal,
        resource_types=LOAD_BALANCER_CONFIGURATION_TYPES,
        domain="serving",
        rationale="Model endpoints serve internal business processes; public exposure is an exception.",
    ),
    Rule(
        id="serving-public-gateway-has-waf",
        title="Public Gateways have a WAF",
        description="An internet-facing Gateway load balancer has a WAF web ACL attached.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Leave ai-estate:serving.wafAclArn unset (ServingPlane creates a web ACL with AWS "
            "managed rule groups) or set it to an existing regional web ACL."
        ),
        kind="resource",
        validate=validate_public_gateway_waf,
        resource_types=LOAD_BALANCER_CONFIGURATION_TYPES,
        domain="serving",
    ),
    Rule(
        id="serving-route-authenticated",
        title="Every route authenticates its callers",
        description=(
            "Every HTTPRoute rule that forwards traffic validates the caller at the load "
            "balancer (a ListenerRuleConfiguration with an authentication action)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set auth: oidc on the endpoint (ServingEndpoint adds a jwt-validation "
            "ListenerRuleConfiguration and references it from the route), or waive "
            "serving-route-authenticated for the route with a reason and a ticket."
        ),
        kind="stack",
        validate=validate_route_authenticated,
        domain="serving",
        rationale=(
            "Behind the Gateway a model server trusts its caller; the ALB is the only place every "
            "request passes, so authentication happens there."
        ),
    ),
    Rule(
        id="serving-image-from-bu-registry",
        title="Model servers run the BU's own images",
        description=(
            "In a BU stack, model server containers run images from the BU's own ECR "
            "repositories (<bu>-<env>/...) by tag or digest."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Push the image to the BU's registry (modelRegistry.imageNames) and reference it as "
            "serving.endpoints[].image: <repository>:<tag> or <repository>@sha256:<digest>."
        ),
        kind="resource",
        validate=validate_image_registry,
        resource_types=DEPLOYMENT_TYPES,
        settings=(
            Setting(
                name="allowedToolImages",
                description="Pinned tool images init containers of model servers may run.",
                schema={"type": "array", "items": {"type": "string"}},
                defaults={env: list(DEFAULT_TOOL_IMAGES) for env in ENVIRONMENTS},
            ),
        ),
        domain="serving",
        rationale=(
            "The BU's registry scans on push and keeps tagged images; an image from elsewhere has "
            "passed neither the BU's review nor its scanning."
        ),
    ),
    Rule(
        id="serving-endpoint-resilient",
        title="Prod endpoints survive a node drain",
        description=(
            "A model server has a PodDisruptionBudget selecting its pods and keeps at least "
            "minReplicas replicas."
        ),
        severity="medium",
        enforcement=PROD_ONLY,
        remediation=(
            "Set serving.endpoints[].minReplicas to 2 or more (ServingEndpoint always adds a "
            "PodDisruptionBudget with maxUnavailable: 1)."
        ),
        kind="stack",
        validate=validate_endpoint_resilient,
        settings=(
            Setting(
                name="minReplicas",
                description="Fewest replicas a model server keeps.",
                schema={"type": "integer", "minimum": 0},
                # dev endpoints may scale to zero (the rule is disabled there anyway)
                defaults={"dev": 0, "staging": 2, "prod": 2},
            ),
        ),
        domain="serving",
    ),
    Rule(
        id="serving-endpoint-has-alarms",
        title="Endpoints alarm on latency and errors",
        description=(
            "Every model server has CloudWatch alarms, tagged with its endpoint, on response time "
            "and target 5xx errors."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Build the endpoint with ServingEndpoint (it adds p95/p99 latency, 5xx, "
            "replicas-at-max and GPU alarms), or add alarms tagged ai-estate/endpoint=<name>."
        ),
        kind="stack",
        validate=validate_endpoint_alarms,
        domain="serving",
    ),
)
