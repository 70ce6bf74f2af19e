"""Network: the VPC every workload of an environment runs in.

Private subnets for workloads (EKS nodes, SageMaker, endpoints), small public subnets only for
NAT gateways and internet-facing load balancers, gateway endpoints for S3 and DynamoDB (free, and
they keep data traffic off NAT), interface endpoints for the AWS APIs workloads call, flow logs to
an encrypted, retained log group, and a default security group with no rules.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from typing import Literal, TypedDict

import pulumi
import pulumi_aws as aws

from .options import child


@dataclass(frozen=True)
class SubnetPlan:
    """The CIDR blocks of one availability zone."""

    az_index: int
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, az_count: int) -> list[SubnetPlan]:
    """Split a VPC block into one large private and one small public subnet per AZ.

    The block is cut into the fewest equal parts that leave one spare: the first `az_count`
    parts become private subnets (EKS gives every pod a VPC address, so they must be large), and
    the spare part is cut 16 ways for the public subnets, which only hold NAT gateways and load
    balancers. The layout is a pure function of its inputs, so it never shifts under running
    subnets when something else in the stack changes.
    """
    if not 2 <= az_count <= 6:
        raise ValueError(f"az_count must be between 2 and 6 (got {az_count})")
    network = ipaddress.IPv4Network(vpc_cidr, strict=True)
    bits = math.ceil(math.log2(az_count + 1))
    parts = list(network.subnets(prefixlen_diff=bits))
    spare = parts[-1]
    public = list(spare.subnets(prefixlen_diff=4))
    if public[0].prefixlen > 28:
        raise ValueError(f"{vpc_cidr} is too small for {az_count} availability zones")
    return [
        SubnetPlan(az_index=i, private_cidr=str(parts[i]), public_cidr=str(public[i]))
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


def service_trust_policy(service: str, account_id: str | None = None) -> str:
    """A trust policy for one AWS service principal, held to this account when given."""
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


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


class NetworkArgs(NetworkSettings):
    """Inputs of `Network`."""

    name_prefix: str
    """Prefix of physical names and `Name` tags, e.g. `platform-prod`."""
    flow_log_kms_key_arn: pulumi.Input[str]
    """Customer-managed key that encrypts the flow log group."""
    tags: dict[str, str]
    cluster_name: str | None
    """EKS cluster that will use the subnets; tags them for load balancer discovery."""


class Network(pulumi.ComponentResource):
    """A three-tier-less VPC for AI workloads; see the module docstring."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:network:Network", name, None, opts)
        prefix, tags = args["name_prefix"], args["tags"]
        plan = plan_subnets(args["cidr"], args["az_count"])
        azs = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        def named(suffix: str, **more: str) -> dict[str, str]:
            return {**tags, "Name": f"{prefix}-{suffix}", **more}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr"],
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=named("vpc"),
            opts=child(self),
        )
        # CIS AWS 5.4: the default security group must allow nothing; adopting it strips its rules.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=named("default-deny"),
            opts=child(self),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child(self)
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=named("public"),
            opts=child(self),
        )
        cluster_tags = (
            {f"kubernetes.io/cluster/{args['cluster_name']}": "shared"}
            if args["cluster_name"]
            else {}
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for p in plan:
            az = azs.names.apply(lambda names, i=p.az_index: names[i])
            letter = "abcdef"[p.az_index]
            pub = aws.ec2.Subnet(
                f"{name}-public-{letter}",
                vpc_id=vpc.id,
                cidr_block=p.public_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=named(f"public-{letter}", **{"kubernetes.io/role/elb": "1"}, **cluster_tags),
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{letter}-rta",
                subnet_id=pub.id,
                route_table_id=public_rt.id,
                opts=child(self),
            )
            priv = aws.ec2.Subnet(
                f"{name}-private-{letter}",
                vpc_id=vpc.id,
                cidr_block=p.private_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=named(
                    f"private-{letter}",
                    **{"kubernetes.io/role/internal-elb": "1"},
                    **cluster_tags,
                ),
                opts=child(self),
            )
            public_subnets.append(pub)
            private_subnets.append(priv)

        nat_count = len(plan) if args["nat_gateways"] == "perAz" else 1
        nats = []
        for i in range(nat_count):
            letter = "abcdef"[i]
            eip = aws.ec2.Eip(
                f"{name}-nat-{letter}-eip",
                domain="vpc",
                tags=named(f"nat-{letter}"),
                opts=child(self),
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{letter}",
                    allocation_id=eip.id,
                    subnet_id=public_subnets[i].id,
                    connectivity_type="public",
                    tags=named(f"nat-{letter}"),
                    opts=child(self, depends_on=[igw]),
                )
            )

        private_rts = []
        for i, subnet in enumerate(private_subnets):
            letter = "abcdef"[i]
            nat = nats[i] if nat_count > 1 else nats[0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{letter}-rt",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=named(f"private-{letter}"),
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{letter}-rta",
                subnet_id=subnet.id,
                route_table_id=rt.id,
                opts=child(self),
            )
            private_rts.append(rt)

        for service in ("s3", "dynamodb"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc.id,
                vpc_endpoint_type="Gateway",
                service_name=region.apply(lambda r, s=service: f"com.amazonaws.{r}.{s}"),
                route_table_ids=[rt.id for rt in private_rts],
                tags=named(f"{service}-gateway"),
                opts=child(self),
            )

        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
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
            tags=named("endpoints"),
            opts=child(self),
        )
        for service in args["interface_endpoints"]:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=vpc.id,
                vpc_endpoint_type="Interface",
                service_name=region.apply(lambda r, s=service: f"com.amazonaws.{r}.{s}"),
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                private_dns_enabled=True,
                tags=named(f"{service}-endpoint"),
                opts=child(self),
            )

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
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags=named("flow-log"),
            opts=child(self),
        )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.endpoint_security_group_id = endpoint_sg.id
        self.flow_log_group_name = log_group.name
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
                "endpointSecurityGroupId": self.endpoint_security_group_id,
            }
        )
