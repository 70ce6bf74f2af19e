"""Network: the VPC every workload of an environment runs in.

Private subnets for workloads (EKS nodes, SageMaker, endpoints), small public subnets only for
NAT gateways and internet-facing load balancers, small internal load-balancer subnets that no
node or pod uses (so a NetworkPolicy can admit "the load balancer" by address without admitting
every pod of the cluster: vpc-cni gives pods addresses of the private subnets), gateway endpoints for S3 and DynamoDB (free, and
they keep data traffic off NAT), interface endpoints for the AWS APIs workloads call, flow logs to
an encrypted, retained log group, and a default security group with no rules.

Every endpoint has a policy instead of the default full access (`endpoint_policy`): only
principals of the estate's accounts (the network's own and `endpoint_account_ids`) may use it, and
the gateway endpoints reach only those accounts' buckets and tables, so a pod holding foreign
credentials, or writing to a foreign bucket, cannot use the VPC's private path to AWS to move
data out. What the cluster needs from AWS-owned S3 buckets stays reachable: ECR serves image
layers from `prod-<region>-starport-layer-bucket` (ECR user guide, "Minimum Amazon S3 bucket
permissions for Amazon ECR") and Amazon Linux 2023 its packages from `al2023-repos-<region>-*`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import service_trust_policy
from .options import child


@dataclass(frozen=True)
class SubnetPlan:
    """The CIDR blocks of one availability zone."""

    az_index: int
    private_cidr: str
    """Nodes and pods (vpc-cni gives every pod an address here)."""
    public_cidr: str
    """NAT gateways and internet-facing load balancers."""
    load_balancer_cidr: str
    """Internal load balancers only: no node, pod or endpoint interface is placed here."""


# An ALB needs subnets of at least a /27 with 8 free addresses (ELB: "Subnets for your load
# balancer"); the controller's discovery also skips subnets with fewer than 8 free.
_MIN_LB_PREFIX = 27


def _service_name(region: str, service: str) -> str:
    """`com.amazonaws.<region>.<service>`: the name of an AWS service's VPC endpoint service."""
    return f"com.amazonaws.{region}.{service}"


AWS_OWNED_S3_OBJECTS = (
    "prod-{region}-starport-layer-bucket/*",
    "al2023-repos-{region}-de612dc2/*",
)
"""AWS-owned buckets (`<bucket>/<key>` patterns, per region) that nodes read through the S3 gateway
endpoint: ECR image layers (ECR's VPC endpoint guide) and the Amazon Linux 2023 package
repositories (AL2023 user guide). They are in AWS's accounts, so `aws:ResourceAccount` cannot
allow them; ECR hands out pre-signed layer URLs, so no condition on the caller can either."""

GATEWAY_SERVICES = ("s3", "dynamodb")
"""Services reached through gateway endpoints (free, in the route tables)."""


def endpoint_policy(
    service: str, account_ids: list[str], region: str, partition: str = "aws"
) -> str:
    """The VPC endpoint policy of `service`: the estate's principals only and, on the gateway
    endpoints, the estate's buckets and tables only (see the module docstring).

    Interface endpoints do not limit the resource account: ECR pulls add-on images from AWS's
    registries and STS vends credentials for roles, both through the caller's own identity. A
    web-identity role assumption is unsigned (it has no principal account), so STS also allows
    `AssumeRoleWithWebIdentity` on the estate's roles.
    """
    accounts = sorted(set(account_ids))
    if not accounts or not all(re.fullmatch(r"\d{12}", a) for a in accounts):
        raise ValueError(f"endpoint policy of {service}: account ids must be 12 digits: {accounts}")
    condition: dict[str, Any] = {"StringEquals": {"aws:PrincipalAccount": accounts}}
    if service in GATEWAY_SERVICES:
        condition["StringEquals"]["aws:ResourceAccount"] = accounts
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EstateAccountsOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": condition,
        }
    ]
    if service == "s3":
        statements.append(
            {
                "Sid": "AwsOwnedBucketsTheNodesRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [
                    f"arn:{partition}:s3:::{o.format(region=region)}" for o in AWS_OWNED_S3_OBJECTS
                ],
            }
        )
    if service == "sts":
        statements.append(
            {
                "Sid": "WebIdentityIntoEstateRoles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Resource": [f"arn:{partition}:iam::{a}:role/*" for a in accounts],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def plan_subnets(vpc_cidr: str, az_count: int) -> list[SubnetPlan]:
    """Split a VPC block into a large private, a small public and a small internal
    load-balancer subnet per AZ.

    The block is cut into the fewest equal parts that leave one spare: the first `az_count`
    parts become private subnets (EKS gives every pod a VPC address, so they must be large), and
    the spare part is cut 16 ways: its first `az_count` pieces are the public subnets, which only
    hold NAT gateways and load balancers. The spare part's second half holds the internal
    load-balancer subnets: cut 4 ways for up to 4 AZs (two sixteenths each), 8 ways for 5-6
    (one sixteenth each), leaving the pieces between the public and load-balancer subnets free.
    The layout is a pure function of its inputs, so it never shifts under running subnets when
    something else in the stack changes; the private and public blocks are the ones this
    function returned before the load-balancer subnets existed.
    """
    if not 2 <= az_count <= 6:
        raise ValueError(f"az_count must be between 2 and 6 (got {az_count})")
    network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    bits = math.ceil(math.log2(az_count + 1))
    parts = list(network.subnets(prefixlen_diff=bits))
    spare = parts[-1]
    public = list(spare.subnets(prefixlen_diff=4))
    lb_half = list(spare.subnets(prefixlen_diff=1))[1]
    load_balancer = list(lb_half.subnets(prefixlen_diff=2 if az_count <= 4 else 3))
    if public[0].prefixlen > 28 or load_balancer[0].prefixlen > _MIN_LB_PREFIX:
        raise ValueError(
            f"{vpc_cidr} is too small for {az_count} availability zones (its load-balancer "
            f"subnets would be /{load_balancer[0].prefixlen}; an ALB needs a /{_MIN_LB_PREFIX})"
        )
    return [
        SubnetPlan(
            az_index=i,
            private_cidr=str(parts[i]),
            public_cidr=str(public[i]),
            load_balancer_cidr=str(load_balancer[i]),
        )
        for i in range(az_count)
    ]


def flow_log_role_policy(log_group_arn: str) -> str:
    """What the VPC Flow Logs service may do: write to its own log group, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                }
            ],
        },
        sort_keys=True,
    )


class NetworkSettings(TypedDict):
    """The VPC settings a stack file chooses (`ai-estate:network`); `NetworkArgs` adds the
    wiring the estate supplies."""

    cidr: str
    """The VPC block (a /16 to /22 RFC 1918 range)."""
    az_count: int
    """Availability zones to spread subnets over (2-6)."""
    nat_gateways: Literal["single", "perAz"]
    """One NAT gateway for the VPC, or one per AZ so an AZ outage strands no other AZ."""
    interface_endpoints: list[str]
    """Service names for interface endpoints (`ecr.api`, `sts`, ...)."""
    flow_log_retention_days: int
    """Retention of the flow log group, in days (a CloudWatch Logs retention value)."""
    endpoint_account_ids: NotRequired[list[str]]
    """Accounts besides the network's own whose principals and resources the VPC endpoints
    serve (BU accounts of a shared cluster); see `endpoint_policy`."""


class NetworkArgs(NetworkSettings):
    """Inputs of `Network`."""

    name_prefix: str
    """Prefix of physical names and `Name` tags, e.g. `platform-prod`."""
    flow_log_kms_key_arn: pulumi.Input[str]
    """Customer-managed key that encrypts the flow log group."""
    tags: dict[str, str]
    cluster_name: str | None
    """EKS cluster that will use the subnets; tags the public and load-balancer subnets for
    load balancer discovery."""


_AZ_LETTERS = "abcdef"


class _Vpc(NamedTuple):
    vpc: aws.ec2.Vpc
    igw: aws.ec2.InternetGateway
    public_route_table: aws.ec2.RouteTable


class _Subnets(NamedTuple):
    public: list[aws.ec2.Subnet]
    private: list[aws.ec2.Subnet]
    load_balancer: list[aws.ec2.Subnet]


class Network(pulumi.ComponentResource):
    """A three-tier-less VPC for AI workloads; see the module docstring."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    load_balancer_subnet_ids: pulumi.Output[list[str]]
    """The internal load-balancer subnets, one per AZ (no node or pod is ever placed there)."""
    endpoint_security_group_id: pulumi.Output[str]
    s3_gateway_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint (`vpce-...`): BU data buckets admit their pods' roles only
    through it (`aws:SourceVpce`)."""
    flow_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:network:Network", name, None, opts)
        self._net_name, self._net_prefix, self._net_tags = name, args["name_prefix"], args["tags"]
        plan = plan_subnets(args["cidr"], args["az_count"])
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region

        vpc = self._vpc(args)
        subnets = self._subnets(args, vpc, plan)
        nats = self._nat_gateways(args, vpc, subnets, len(plan))
        private_rts = self._private_routes(vpc, subnets, nats)
        self._load_balancer_routes(subnets, private_rts)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition
        accounts = identity.account_id.apply(
            lambda own: [own, *args.get("endpoint_account_ids", [])]
        )

        def policy_of(service: str) -> pulumi.Output[str]:
            return pulumi.Output.all(accounts, region, partition).apply(
                lambda parts: endpoint_policy(service, parts[0], parts[1], parts[2])
            )

        gateways = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc.vpc.id,
                vpc_endpoint_type="Gateway",
                service_name=region.apply(functools.partial(_service_name, service=service)),
                route_table_ids=[rt.id for rt in private_rts],
                policy=policy_of(service),
                tags=self._named(f"{service}-gateway"),
                opts=child(self),
            )
            for service in GATEWAY_SERVICES
        }
        endpoint_sg = self._interface_endpoints(args, vpc, subnets, region, policy_of)
        log_group = self._flow_logs(args, vpc)

        self.vpc_id = vpc.vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets.private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets.public])
        self.load_balancer_subnet_ids = pulumi.Output.all(*[s.id for s in subnets.load_balancer])
        self.endpoint_security_group_id = endpoint_sg.id
        self.s3_gateway_endpoint_id = gateways["s3"].id
        self.flow_log_group_name = log_group.name
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
                "loadBalancerSubnetIds": self.load_balancer_subnet_ids,
                "endpointSecurityGroupId": self.endpoint_security_group_id,
                "s3GatewayEndpointId": self.s3_gateway_endpoint_id,
            }
        )

    def _named(self, suffix: str, **more: str) -> dict[str, str]:
        """Tags with a `Name` of `<prefix>-<suffix>`."""
        return {**self._net_tags, "Name": f"{self._net_prefix}-{suffix}", **more}

    def _vpc(self, args: NetworkArgs) -> _Vpc:
        """The VPC, its locked-down default security group, internet gateway and public routes."""
        name = self._net_name
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr"],
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=self._named("vpc"),
            opts=child(self),
        )
        # CIS AWS 5.4: the default security group must allow nothing; adopting it strips its rules.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=self._named("default-deny"),
            opts=child(self),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=self._named("igw"), opts=child(self)
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=self._named("public"),
            opts=child(self),
        )
        return _Vpc(vpc, igw, public_rt)

    def _subnets(self, args: NetworkArgs, vpc: _Vpc, plan: list[SubnetPlan]) -> _Subnets:
        """A public, a private and an internal load-balancer subnet per AZ.

        Only the load-balancer subnets carry `kubernetes.io/role/internal-elb`: the AWS Load
        Balancer Controller's discovery takes only role-tagged subnets when any has the tag
        (docs/deploy/subnet_discovery.md, v3.5.0), so an internal load balancer nobody pinned
        still lands outside the node and pod subnets.
        """
        name = self._net_name
        azs = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        cluster_tags = (
            {f"kubernetes.io/cluster/{args['cluster_name']}": "shared"}
            if args["cluster_name"]
            else {}
        )
        result = _Subnets(public=[], private=[], load_balancer=[])
        for p in plan:
            az = azs.names.apply(lambda names, i=p.az_index: names[i])
            letter = _AZ_LETTERS[p.az_index]
            pub = aws.ec2.Subnet(
                f"{name}-public-{letter}",
                vpc_id=vpc.vpc.id,
                cidr_block=p.public_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=self._named(
                    f"public-{letter}", **{"kubernetes.io/role/elb": "1"}, **cluster_tags
                ),
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{letter}-rta",
                subnet_id=pub.id,
                route_table_id=vpc.public_route_table.id,
                opts=child(self),
            )
            priv = aws.ec2.Subnet(
                f"{name}-private-{letter}",
                vpc_id=vpc.vpc.id,
                cidr_block=p.private_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=self._named(f"private-{letter}", **cluster_tags),
                opts=child(self),
            )
            lb = aws.ec2.Subnet(
                f"{name}-lb-{letter}",
                vpc_id=vpc.vpc.id,
                cidr_block=p.load_balancer_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=self._named(
                    f"lb-{letter}", **{"kubernetes.io/role/internal-elb": "1"}, **cluster_tags
                ),
                opts=child(self),
            )
            result.public.append(pub)
            result.private.append(priv)
            result.load_balancer.append(lb)
        return result

    def _nat_gateways(
        self, args: NetworkArgs, vpc: _Vpc, subnets: _Subnets, az_count: int
    ) -> list[aws.ec2.NatGateway]:
        """One NAT gateway, or one per AZ, in the public subnets."""
        nat_count = az_count if args["nat_gateways"] == "perAz" else 1
        nats = []
        for i in range(nat_count):
            letter = _AZ_LETTERS[i]
            eip = aws.ec2.Eip(
                f"{self._net_name}-nat-{letter}-eip",
                domain="vpc",
                tags=self._named(f"nat-{letter}"),
                opts=child(self),
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{self._net_name}-nat-{letter}",
                    allocation_id=eip.id,
                    subnet_id=subnets.public[i].id,
                    connectivity_type="public",
                    tags=self._named(f"nat-{letter}"),
                    opts=child(self, depends_on=[vpc.igw]),
                )
            )
        return nats

    def _private_routes(
        self, vpc: _Vpc, subnets: _Subnets, nats: list[aws.ec2.NatGateway]
    ) -> list[aws.ec2.RouteTable]:
        """A route table per private subnet, out through its AZ's NAT (or the only one)."""
        route_tables = []
        for i, subnet in enumerate(subnets.private):
            letter = _AZ_LETTERS[i]
            nat = nats[i] if len(nats) > 1 else nats[0]
            rt = aws.ec2.RouteTable(
                f"{self._net_name}-private-{letter}-rt",
                vpc_id=vpc.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=self._named(f"private-{letter}"),
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{self._net_name}-private-{letter}-rta",
                subnet_id=subnet.id,
                route_table_id=rt.id,
                opts=child(self),
            )
            route_tables.append(rt)
        return route_tables

    def _load_balancer_routes(
        self, subnets: _Subnets, private_rts: list[aws.ec2.RouteTable]
    ) -> None:
        """The load-balancer subnets route like their AZ's private subnet: an internal ALB that
        validates JWTs fetches the issuer's JWKS through NAT, and the S3/DynamoDB gateway
        endpoints on those tables come along."""
        for i, subnet in enumerate(subnets.load_balancer):
            aws.ec2.RouteTableAssociation(
                f"{self._net_name}-lb-{_AZ_LETTERS[i]}-rta",
                subnet_id=subnet.id,
                route_table_id=private_rts[i].id,
                opts=child(self),
            )

    def _interface_endpoints(
        self,
        args: NetworkArgs,
        vpc: _Vpc,
        subnets: _Subnets,
        region: pulumi.Output[str],
        policy_of: Callable[[str], pulumi.Output[str]],
    ) -> aws.ec2.SecurityGroup:
        """Interface endpoints for the AWS APIs, behind one HTTPS-from-the-VPC security group."""
        name = self._net_name
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.vpc.id,
            description="HTTPS from inside the VPC to AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args["cidr"]],
                )
            ],
            egress=[],
            tags=self._named("endpoints"),
            opts=child(self),
        )
        for service in args["interface_endpoints"]:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=vpc.vpc.id,
                vpc_endpoint_type="Interface",
                service_name=region.apply(functools.partial(_service_name, service=service)),
                subnet_ids=[s.id for s in subnets.private],
                security_group_ids=[endpoint_sg.id],
                private_dns_enabled=True,
                policy=policy_of(service),
                tags=self._named(f"{service}-endpoint"),
                opts=child(self),
            )
        return endpoint_sg

    def _flow_logs(self, args: NetworkArgs, vpc: _Vpc) -> aws.cloudwatch.LogGroup:
        """All traffic of the VPC to an encrypted, retained log group."""
        name, prefix, tags = self._net_name, self._net_prefix, self._net_tags
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/ai-estate/{prefix}/vpc-flow-logs",
            retention_in_days=args["flow_log_retention_days"],
            kms_key_id=args["flow_log_kms_key_arn"],
            tags=tags,
            opts=child(self),
        )
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=identity.account_id.apply(
                lambda account: service_trust_policy("vpc-flow-logs.amazonaws.com", account)
            ),
            description=f"VPC flow logs delivery for {prefix}",
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=flow_role.id,
            policy=log_group.arn.apply(flow_log_role_policy),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags=self._named("flow-log"),
            opts=child(self),
        )
        return log_group
