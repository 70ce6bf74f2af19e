"""Nothing reachable from the internet by accident: LoadBalancer Services and GPU instances.

- `k8s-loadbalancer-service-internal`: a Kubernetes `Service` of type `LoadBalancer` carries
  `service.beta.kubernetes.io/aws-load-balancer-scheme: internal` (the AWS Load Balancer
  Controller's annotation) or the in-tree provider's `aws-load-balancer-internal: "true"`. The
  annotation is required even though the controller defaults to internal: which controller
  reconciles a Service depends on the cluster (the in-tree provider defaults to
  internet-facing), so only the annotation says what the owner meant. A public Service is a
  decision for a waiver (`ai-estate:waivers`), with an owner and an expiry.
- `gpu-instance-no-public-ip`: no GPU instance asks for a public IP: an `aws.ec2.Instance` or
  `SpotInstanceRequest` of a GPU type with `associate_public_ip_address`, a
  `LaunchConfiguration` of a GPU type with it, or an `aws.ec2.LaunchTemplate` with a network
  interface that associates one whose instance type is a GPU type or which an EKS node group
  of GPU instance types (or a GPU AMI) in the stack launches. GPU nodes hold model weights and
  cost the most per hour to hijack; they reach the internet through NAT, never directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import BLOCK_EVERYWHERE, Rule, Settings, checkov
from .gpu import (
    INSTANCE,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    SPOT_INSTANCE_REQUEST,
    is_gpu_instance_type,
    node_group_is_gpu_pool,
)
from .linking import known_names, of_types
from .properties import as_list, get, is_true, string_map, text

SERVICE = "kubernetes:core/v1:Service"
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
LEGACY_INTERNAL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-internal"


# -- k8s-loadbalancer-service-internal ----------------------------------------------------------


def service_exposure(props: Mapping[str, Any]) -> str:
    """Why a LoadBalancer Service may face the internet ('' when it is internal or no LB)."""
    if text(get(props, "spec", "type")) != "LoadBalancer":
        return ""
    annotations = string_map(get(props, "metadata", "annotations"))
    scheme = annotations.get(SCHEME_ANNOTATION, "").strip().lower()
    if scheme == "internet-facing":
        return f"it asks for an internet-facing load balancer ({SCHEME_ANNOTATION})"
    if scheme == "internal":
        return ""
    if annotations.get(LEGACY_INTERNAL_ANNOTATION, "").strip().lower() == "true":
        return ""
    return f"it does not say {SCHEME_ANNOTATION}: internal"


def validate_lb_service_internal(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    why = service_exposure(args.props)
    if why:
        report(f"LoadBalancer Service '{args.name}' may be public: {why}.", None)


# -- gpu-instance-no-public-ip -------------------------------------------------------------------


def _template_public(template: PolicyResource) -> bool:
    return any(
        is_true(get(ni, "associatePublicIpAddress"))
        for ni in as_list(template.props.get("networkInterfaces"))
    )


def _templates_of(group: PolicyResource, templates: Mapping[str, PolicyResource]) -> list[str]:
    deps = [d.urn for d in group.property_dependencies.get("launchTemplate") or []]
    by_dependency = [u for u in deps if u in templates]
    if by_dependency:
        return by_dependency
    spec = group.props.get("launchTemplate")
    wanted = {text(get(spec, "id")), text(get(spec, "name"))} - {""}
    return [urn for urn, t in templates.items() if wanted & known_names(t, ("id", "name", "arn"))]


def validate_gpu_no_public_ip(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    for resource in of_types(resources, (INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_CONFIGURATION)):
        instance_type = text(resource.props.get("instanceType"))
        if is_gpu_instance_type(instance_type) and is_true(
            resource.props.get("associatePublicIpAddress")
        ):
            report(
                f"'{resource.name}' launches GPU instances ({instance_type}) with a public IP "
                "(associate_public_ip_address).",
                resource.urn,
            )
    templates = {t.urn: t for t in of_types(resources, (LAUNCH_TEMPLATE,)) if _template_public(t)}
    if not templates:
        return
    gpu_templates: dict[str, str] = {}
    for urn, template in templates.items():
        instance_type = text(template.props.get("instanceType"))
        if is_gpu_instance_type(instance_type):
            gpu_templates[urn] = f"its instance type {instance_type}"
    for group in of_types(resources, (NODE_GROUP,)):
        if not node_group_is_gpu_pool(group.props):
            continue
        for urn in _templates_of(group, templates):
            gpu_templates.setdefault(urn, f"GPU node group '{group.name}' launches it")
    for urn, why in gpu_templates.items():
        report(
            f"Launch template '{templates[urn].name}' gives GPU nodes a public IP (a network "
            f"interface with associate_public_ip_address; {why}).",
            urn,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="k8s-loadbalancer-service-internal",
        title="LoadBalancer Services are internal",
        description=(
            "Every Kubernetes Service of type LoadBalancer is annotated "
            "service.beta.kubernetes.io/aws-load-balancer-scheme: internal (public ones are "
            "waived explicitly)."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Annotate the Service with service.beta.kubernetes.io/aws-load-balancer-scheme: "
            "internal, or serve it through the estate's Gateway (ClusterIP + HTTPRoute). To "
            "expose it publicly, add a waiver for this rule with an owner and an expiry."
        ),
        kind="resource",
        validate=validate_lb_service_internal,
        resource_types=frozenset({SERVICE}),
        domain="network",
        rationale=(
            "The AWS Load Balancer Controller defaults to internal but the in-tree cloud "
            "provider defaults to internet-facing; only the annotation makes the intent hold "
            "on either."
        ),
    ),
    Rule(
        id="gpu-instance-no-public-ip",
        title="GPU instances get no public IP",
        description=(
            "No GPU instance, spot request, launch configuration or GPU node group launch "
            "template associates a public IP address."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set associate_public_ip_address=False (or leave it unset) and place GPU nodes in "
            "private subnets that reach the internet through NAT."
        ),
        kind="stack",
        validate=validate_gpu_no_public_ip,
        frameworks=(checkov("CKV_AWS_88"),),
        domain="gpu",
    ),
)
