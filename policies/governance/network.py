"""Network rules: flow logs on every VPC, no security group open to the internet, endpoint
policies on the VPC's endpoints.

Security-group ingress can be written three ways in pulumi-aws v7 — inline `ingress` blocks on
`aws.ec2.SecurityGroup`, `aws.vpc.SecurityGroupIngressRule` (one CIDR per rule) and the older
`aws.ec2.SecurityGroupRule` (type "ingress") — and all three are checked, so a hand-written
program cannot step around the rule by picking another resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    ENVIRONMENTS,
    PROD_ONLY,
    Rule,
    Setting,
    Settings,
    checkov,
    cis,
    securityhub,
)
from .linking import group_by_target, known_names, of_types
from .properties import (
    actions,
    as_int,
    as_list,
    condition_restricts_who,
    get,
    json_document,
    principal_is_everyone,
    statements,
    text,
)

VPC_TYPES = ("aws:ec2/vpc:Vpc", "aws:ec2/defaultVpc:DefaultVpc")
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
POLICY_ENDPOINT_TYPES = frozenset({"Interface", "Gateway"})
"""Endpoint types that take a policy (Gateway Load Balancer endpoints do not)."""

ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
ALL_PROTOCOLS = frozenset({"-1", "all"})
PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17"})
DEFAULT_ALLOWED_PORTS = [80, 443]


# -- vpc-flow-logs ---------------------------------------------------------------------------


def validate_flow_logs(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    vpcs = {v.urn: v for v in of_types(resources, VPC_TYPES)}
    if not vpcs:
        return
    flow_logs = group_by_target(
        of_types(resources, [FLOW_LOG]), "vpcId", vpcs, lambda v: known_names(v, ("id",))
    )
    for urn, vpc in vpcs.items():
        if not flow_logs[urn]:
            report(f"VPC '{vpc.name}' has no flow log.", urn)


# -- security-group-no-public-ingress --------------------------------------------------------


def open_ingress_problem(
    *,
    cidrs: Iterable[Any],
    protocol: Any,
    from_port: Any,
    to_port: Any,
    allowed_ports: Iterable[int],
) -> str:
    """Why one ingress permission is open to the internet beyond the allowed ports ('' if not)."""
    sources = sorted({text(c) for c in cidrs} & ANYWHERE)
    if not sources:
        return ""
    source = " and ".join(sources)
    if isinstance(protocol, (int, float)) and not isinstance(protocol, bool):
        number = as_int(protocol)
        protocol = "" if number is None else str(number)
    proto = text(protocol).lower()
    if proto in ALL_PROTOCOLS:
        return f"all traffic from {source}"
    if proto not in PORT_PROTOCOLS:
        return f"protocol {proto or '?'} from {source}"
    low, high = as_int(from_port), as_int(to_port)
    if low is None or high is None:
        return f"{proto} (unspecified ports) from {source}"
    allowed = set(allowed_ports)
    # Count before listing: a range like 0-1e20 must not be materialised (or len()'d).
    if high - low + 1 > len(allowed) or not set(range(low, high + 1)) <= allowed:
        span = str(low) if low == high else f"{low}-{high}"
        return f"{proto} port {span} from {source}"
    return ""


def _ingress_permissions(args: ResourceValidationArgs) -> list[dict[str, Any]]:
    """Every (cidrs, protocol, ports) ingress permission a resource declares."""
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        return [
            {
                "cidrs": [*as_list(get(i, "cidrBlocks")), *as_list(get(i, "ipv6CidrBlocks"))],
                "protocol": get(i, "protocol"),
                "from_port": get(i, "fromPort"),
                "to_port": get(i, "toPort"),
            }
            for i in as_list(props.get("ingress"))
        ]
    if args.resource_type == INGRESS_RULE:
        return [
            {
                "cidrs": [props.get("cidrIpv4"), props.get("cidrIpv6")],
                "protocol": props.get("ipProtocol"),
                "from_port": props.get("fromPort"),
                "to_port": props.get("toPort"),
            }
        ]
    if text(props.get("type")) != "ingress":
        return []
    return [
        {
            "cidrs": [*as_list(props.get("cidrBlocks")), *as_list(props.get("ipv6CidrBlocks"))],
            "protocol": props.get("protocol"),
            "from_port": props.get("fromPort"),
            "to_port": props.get("toPort"),
        }
    ]


def validate_public_ingress(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    allowed = [int(p) for p in settings["allowedPorts"]]
    for permission in _ingress_permissions(args):
        problem = open_ingress_problem(allowed_ports=allowed, **permission)
        if problem:
            report(
                f"'{args.name}' allows {problem}; only ports {allowed} may be open to the "
                "internet.",
                None,
            )


# -- vpc-endpoint-policy ---------------------------------------------------------------------


def full_access_statement(document: dict[str, Any]) -> str:
    """The Sid (or `#<n>`) of a statement letting anyone do anything through the endpoint: an
    Allow of every action on every resource to every principal, with no condition on who (the
    policy AWS attaches when none is given); '' when there is none."""
    for index, statement in enumerate(statements(document)):
        if text(statement.get("Effect")) != "Allow" or "NotAction" in statement:
            continue
        if not principal_is_everyone(statement.get("Principal")):
            continue
        every_action = any(a == "*" or a.endswith(":*") for a in actions(statement))
        every_resource = "*" in [text(r) for r in as_list(statement.get("Resource"))]
        if (
            every_action
            and every_resource
            and not condition_restricts_who(statement.get("Condition"))
        ):
            return text(statement.get("Sid")) or f"#{index}"
    return ""


def validate_endpoint_policy(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    props = args.props
    endpoint_type = text(props.get("vpcEndpointType")) or "Gateway"
    if endpoint_type not in POLICY_ENDPOINT_TYPES:
        return
    service = text(props.get("serviceName")) or "its service"
    raw = props.get("policy")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        report(
            f"{endpoint_type} endpoint '{args.name}' to {service} has no policy: AWS gives it "
            "full access for any principal to any resource.",
            None,
        )
        return
    document = json_document(raw)
    if document is None:
        return  # malformed documents are the provider's to refuse
    sid = full_access_statement(document)
    if sid:
        report(
            f"{endpoint_type} endpoint '{args.name}' to {service} allows every principal every "
            f"action on every resource (statement {sid}).",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="vpc-flow-logs",
        title="VPCs record flow logs",
        description="Every VPC has a flow log.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Add an aws.ec2.FlowLog with vpc_id=<the VPC's id>, traffic_type='ALL' and a "
            "destination (a KMS-encrypted log group with retention, or the log bucket)."
        ),
        kind="stack",
        validate=validate_flow_logs,
        frameworks=(checkov("CKV2_AWS_11"), cis("3.9"), securityhub("EC2.6")),
        domain="network",
    ),
    Rule(
        id="security-group-no-public-ingress",
        title="Security groups accept internet traffic only on web ports",
        description=(
            "No security group ingress is open to 0.0.0.0/0 or ::/0 except on the allowed ports "
            "(80 and 443 by default)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Restrict the ingress source to a VPC CIDR, a prefix list or a security group "
            "(referenced_security_group_id / source_security_group_id); put administrative "
            "access behind SSM Session Manager instead of open SSH/RDP."
        ),
        kind="resource",
        validate=validate_public_ingress,
        resource_types=frozenset({SECURITY_GROUP, INGRESS_RULE, SECURITY_GROUP_RULE}),
        frameworks=(
            checkov("CKV_AWS_24"),
            checkov("CKV_AWS_25"),
            cis("5.2"),
            cis("5.3", version="3.0.0"),
            securityhub("EC2.18"),
        ),
        settings=(
            Setting(
                name="allowedPorts",
                description="Ports that may accept TCP/UDP traffic from 0.0.0.0/0 or ::/0.",
                schema={
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                    "uniqueItems": True,
                },
                defaults={env: list(DEFAULT_ALLOWED_PORTS) for env in ENVIRONMENTS},
            ),
        ),
        domain="network",
        rationale=(
            "CKV_AWS_260 (port 80 open) is deliberately not claimed: 80 is allowed by default so "
            "load balancers can redirect to 443."
        ),
    ),
    Rule(
        id="vpc-endpoint-policy",
        title="Prod VPC endpoints have a policy other than full access",
        description=(
            "Every prod interface and gateway VPC endpoint has a policy, and no statement of it "
            "allows every principal every action on every resource without a condition on who."
        ),
        severity="high",
        enforcement=PROD_ONLY,
        remediation=(
            "Give the aws.ec2.VpcEndpoint a `policy` that admits the estate's accounts only "
            "(`aws:PrincipalAccount`, and `aws:ResourceAccount` on the S3 and DynamoDB gateways, "
            "with the AWS-owned buckets the nodes read); components.network.Network does, for "
            "its own account and `ai-estate:network.endpointAccountIds`. Waive the rule for a "
            "service whose endpoints take no policy."
        ),
        kind="resource",
        validate=validate_endpoint_policy,
        resource_types=frozenset({VPC_ENDPOINT}),
        domain="network",
        rationale=(
            "Without a policy, the VPC's private path to AWS serves anyone's credentials and "
            "any bucket: a pod can copy data to a bucket of another account through the S3 "
            "gateway, and no NAT or firewall sees it. A data perimeter on the endpoints closes "
            'that path (AWS whitepaper "Building a data perimeter on AWS").'
        ),
    ),
)
