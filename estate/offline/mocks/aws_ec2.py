"""EC2 and VPC: IDs with the prefixes AWS uses, addresses, zones, AMIs and default-VPC look-ups."""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import (
    ACCOUNT_ID,
    ipv4,
    private_dns,
    public_dns,
    stable_hex,
)
from estate.offline.mocks.registry import Arn, AwsType, NewAwsResource, aws_types, invoke, resource

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


#: Well-known AMI owners: alias -> account.
_AMI_OWNERS = {
    "amazon": "137112412989",
    "aws-marketplace": "679593333241",
    "canonical": "099720109477",
    "self": ACCOUNT_ID,
}


aws_types(
    {
        "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": AwsType(id_prefix="eigw-"),
        "aws:ec2/eip:Eip": AwsType(id_prefix="eipalloc-", arn=Arn("ec2", "elastic-ip/{id}")),
        "aws:ec2/flowLog:FlowLog": AwsType(id_prefix="fl-", arn=Arn("ec2", "vpc-flow-log/{id}")),
        "aws:ec2/instance:Instance": AwsType(id_prefix="i-", arn=Arn("ec2", "instance/{id}")),
        "aws:ec2/internetGateway:InternetGateway": AwsType(
            id_prefix="igw-", arn=Arn("ec2", "internet-gateway/{id}")
        ),
        "aws:ec2/keyPair:KeyPair": AwsType(id_prefix="key-", arn=Arn("ec2", "key-pair/{name}")),
        "aws:ec2/launchTemplate:LaunchTemplate": AwsType(
            id_prefix="lt-", arn=Arn("ec2", "launch-template/{id}")
        ),
        "aws:ec2/natGateway:NatGateway": AwsType(
            id_prefix="nat-", arn=Arn("ec2", "natgateway/{id}")
        ),
        "aws:ec2/networkAcl:NetworkAcl": AwsType(
            id_prefix="acl-", arn=Arn("ec2", "network-acl/{id}")
        ),
        "aws:ec2/networkInterface:NetworkInterface": AwsType(id_prefix="eni-"),
        "aws:ec2/route:Route": AwsType(id_prefix="r-rtb-"),
        "aws:ec2/routeTable:RouteTable": AwsType(
            id_prefix="rtb-", arn=Arn("ec2", "route-table/{id}")
        ),
        "aws:ec2/routeTableAssociation:RouteTableAssociation": AwsType(id_prefix="rtbassoc-"),
        "aws:ec2/securityGroup:SecurityGroup": AwsType(
            id_prefix="sg-", arn=Arn("ec2", "security-group/{id}")
        ),
        "aws:ec2/securityGroupRule:SecurityGroupRule": AwsType(id_prefix="sgrule-"),
        "aws:ec2/subnet:Subnet": AwsType(id_prefix="subnet-", arn=Arn("ec2", "subnet/{id}")),
        "aws:ebs/volume:Volume": AwsType(id_prefix="vol-", arn=Arn("ec2", "volume/{id}")),
        "aws:ec2/vpc:Vpc": AwsType(id_prefix="vpc-", arn=Arn("ec2", "vpc/{id}")),
        "aws:ec2/vpcEndpoint:VpcEndpoint": AwsType(
            id_prefix="vpce-", arn=Arn("ec2", "vpc-endpoint/{id}")
        ),
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": AwsType(id_prefix="pcx-"),
        "aws:ec2transitgateway/transitGateway:TransitGateway": AwsType(id_prefix="tgw-"),
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": AwsType(
            id_prefix="sgr-", arn=Arn("ec2", "security-group-rule/{id}")
        ),
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": AwsType(
            id_prefix="sgr-", arn=Arn("ec2", "security-group-rule/{id}")
        ),
    }
)


@resource("aws:ec2/vpc:Vpc")
def _vpc(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, rid = r.inputs, r.rid
    return {
        "defaultSecurityGroupId": "sg-" + stable_hex("defsg", rid),
        "mainRouteTableId": "rtb-" + stable_hex("mainrtb", rid),
        "defaultNetworkAclId": "acl-" + stable_hex("acl", rid),
        "defaultRouteTableId": "rtb-" + stable_hex("mainrtb", rid),
        "dhcpOptionsId": "dopt-" + stable_hex("dopt", rid),
        "instanceTenancy": inputs.get("instanceTenancy") or "default",
        "enableDnsSupport": inputs.get("enableDnsSupport", True),
        "enableDnsHostnames": bool(inputs.get("enableDnsHostnames")),
        "ownerId": m.account_id,
    }


@resource("aws:ec2/subnet:Subnet")
def _subnet(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, rid, region = r.inputs, r.rid, r.region
    zone = inputs.get("availabilityZone") or m.zone(region, rid)
    return {
        "ownerId": m.account_id,
        "availabilityZone": zone,
        "availabilityZoneId": inputs.get("availabilityZoneId") or m.zone_id(zone),
        "mapPublicIpOnLaunch": bool(inputs.get("mapPublicIpOnLaunch")),
    }


@resource(
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/networkAcl:NetworkAcl",
)
def _owned_by_account(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    return {"ownerId": m.account_id}


@resource("aws:ec2/securityGroup:SecurityGroup")
def _security_group(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, region = r.inputs, r.region
    return {
        "ownerId": m.account_id,
        "vpcId": inputs.get("vpcId") or m.default_vpc_id(region),
        "description": inputs.get("description") or "Managed by Pulumi",
        "ingress": inputs.get("ingress") or [],
        "egress": inputs.get("egress") or [],
    }


@resource("aws:ec2/vpcEndpoint:VpcEndpoint")
def _vpc_endpoint(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, rid = r.inputs, r.rid
    return {
        "prefixListId": "pl-" + stable_hex("pl", rid, length=8),
        "ownerId": m.account_id,
        "state": "available",
        "dnsEntries": [
            {
                "dnsName": f"{rid}.{inputs.get('serviceName', 'svc')}",
                "hostedZoneId": "Z7HUB22UULQXV",
            }
        ],
    }


@resource("aws:ec2/eip:Eip")
def _eip(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, rid, region = r.inputs, r.rid, r.region
    ip = ipv4(54, rid)
    return {
        "publicIp": ip,
        "publicDns": public_dns(ip, region),
        "allocationId": rid,
        "domain": inputs.get("domain") or "vpc",
    }


@resource("aws:ec2/natGateway:NatGateway")
def _nat_gateway(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    rid = r.rid
    return {
        "publicIp": ipv4(52, rid),
        "privateIp": ipv4(10, "natprivate", rid),
        "networkInterfaceId": "eni-" + stable_hex("nateni", rid),
    }


@resource("aws:ec2/instance:Instance")
def _instance(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, rid, region = r.inputs, r.rid, r.region
    return _instance_state(m, inputs, rid, region)


def _instance_state(
    m: EstateMocks, inputs: dict[str, Any], rid: str, region: str
) -> dict[str, Any]:
    subnet = m.lookup(inputs.get("subnetId"), "aws:ec2/subnet:Subnet")
    zone = inputs.get("availabilityZone") or subnet.get("availabilityZone")
    zone = zone or m.zone(region, rid)
    if subnet.get("cidrBlock"):
        net = str(subnet["cidrBlock"]).split("/")[0].split(".")
        h = stable_hex("privateip", rid, length=4)
        third, fourth = int(net[2]) + int(h[:2], 16) % 4, int(h[2:], 16) % 250 + 4
        private_ip = f"{net[0]}.{net[1]}.{third}.{fourth}"
    else:
        h = stable_hex("privateip", rid, length=4)
        private_ip = f"172.31.{int(h[:2], 16) % 64}.{int(h[2:], 16) % 250 + 4}"
    public = inputs.get("associatePublicIpAddress")
    if public is None:
        public = subnet.get("mapPublicIpOnLaunch", True) if subnet else True
    state: dict[str, Any] = {
        "privateIp": private_ip,
        "privateDns": private_dns(private_ip, region),
        "availabilityZone": zone,
        "subnetId": inputs.get("subnetId") or "subnet-" + stable_hex("default-subnet", zone),
        "instanceState": "running",
        "primaryNetworkInterfaceId": "eni-" + stable_hex("eni", rid),
        "vpcSecurityGroupIds": inputs.get("vpcSecurityGroupIds")
        or ["sg-" + stable_hex("default-sg", m.account_id, region)],
        "tenancy": inputs.get("tenancy") or "default",
        "publicIp": "",
        "publicDns": "",
    }
    if public:
        public_ip = ipv4(3, "publicip", rid)
        state["publicIp"] = public_ip
        state["publicDns"] = public_dns(public_ip, region)
    return state


@invoke("aws:ec2/getAmi:getAmi")
def _get_ami(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return _ami(m, a, region)


@invoke("aws:ec2/getAmiIds:getAmiIds")
def _get_ami_ids(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    ami = _ami(m, a, region)
    return {"id": region, "ids": [ami["id"]]}


#: AWS-managed prefix lists of the gateway-endpoint services: the public CIDRs that traffic to
#: S3/DynamoDB goes to (through the gateway endpoint). us-east-1 as AWS lists them (ids and
#: entries are the same in every account of a region); other regions get a stable stand-in.
_MANAGED_PREFIX_LISTS = {
    "com.amazonaws.us-east-1.s3": (
        "pl-63a5400a",
        ["16.15.176.0/20", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "3.5.0.0/19",
         "52.216.0.0/15", "54.231.0.0/16"],
    ),
    "com.amazonaws.us-east-1.dynamodb": (
        "pl-02cd2c6b",
        ["3.218.180.0/22", "35.71.64.0/22", "52.94.0.0/22", "52.119.224.0/20"],
    ),
}  # fmt: skip


@invoke("aws:ec2/getManagedPrefixList:getManagedPrefixList")
def _get_managed_prefix_list(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    list_name = str(a.get("name") or "")
    h = stable_hex("prefix-list", list_name, length=4)
    pl_id, cidrs = _MANAGED_PREFIX_LISTS.get(
        list_name, (f"pl-{stable_hex(list_name, length=8)}", [f"52.{int(h[:2], 16)}.0.0/16"])
    )
    return {
        "id": pl_id,
        "name": list_name,
        "addressFamily": "IPv4",
        "arn": f"arn:aws:ec2:{region}:aws:prefix-list/{pl_id}",
        "entries": [{"cidr": c, "description": ""} for c in cidrs],
        "maxEntries": len(cidrs),
        "ownerId": "AWS",
        "region": region,
        "tags": {},
        "version": 1,
    }


@invoke("aws:ec2/getVpc:getVpc")
def _get_vpc(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return _describe_vpc(m, a, region)


@invoke("aws:ec2/getSubnets:getSubnets")
def _get_subnets(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "id": region,
        "ids": ["subnet-" + stable_hex("default-subnet", f"{region}{s}") for s in "abc"],
    }


@invoke("aws:ec2/getSubnet:getSubnet")
def _get_subnet(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    sid = a.get("id") or "subnet-" + stable_hex("default-subnet", f"{region}a")
    known = m.lookup(sid, "aws:ec2/subnet:Subnet")
    zone = known.get("availabilityZone") or m.zone(region, sid)
    return {
        "id": sid,
        "arn": m.arn("ec2", f"subnet/{sid}", True, region),
        "vpcId": known.get("vpcId") or m.default_vpc_id(region),
        "cidrBlock": known.get("cidrBlock") or "172.31.0.0/20",
        "availabilityZone": zone,
        "availabilityZoneId": m.zone_id(zone),
        "mapPublicIpOnLaunch": known.get("mapPublicIpOnLaunch", True),
        "ownerId": m.account_id,
        "state": "available",
    }


@invoke("aws:ec2/getSecurityGroup:getSecurityGroup")
def _get_security_group(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    sgid = a.get("id") or "sg-" + stable_hex("default-sg", m.account_id, region)
    known = m.lookup(sgid, "aws:ec2/securityGroup:SecurityGroup")
    return {
        "id": sgid,
        "arn": m.arn("ec2", f"security-group/{sgid}", True, region),
        "name": known.get("name") or a.get("name") or "default",
        "vpcId": known.get("vpcId") or a.get("vpcId") or m.default_vpc_id(region),
        "description": known.get("description") or "default VPC security group",
    }


def _ami(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    """The newest image matching the filters, as `aws.ec2.get_ami` reports it."""
    filters = {f.get("name"): list(f.get("values") or []) for f in a.get("filters") or []}
    pattern = (filters.get("name") or [a.get("nameRegex") or "amzn2-ami-hvm-*-x86_64-gp2"])[0]
    name = _ami_name(str(pattern))
    arch = (filters.get("architecture") or [None])[0]
    arch = arch or ("arm64" if "arm64" in name or "aarch64" in name else "x86_64")
    owners = a.get("owners") or ["amazon"]
    owner = _AMI_OWNERS.get(owners[0], owners[0] if str(owners[0]).isdigit() else None)
    owner = owner or _AMI_OWNERS["amazon"]
    ami = "ami-" + stable_hex(region, json.dumps(a, sort_keys=True, default=str))
    return {
        "id": ami,
        "imageId": ami,
        "arn": f"arn:aws:ec2:{region}::image/{ami}",
        "name": name,
        "description": f"{name} image",
        "architecture": arch,
        "creationDate": "2026-01-02T03:04:05.000Z",
        "imageLocation": f"{'amazon' if owner == _AMI_OWNERS['amazon'] else owner}/{name}",
        "imageType": "machine",
        "ownerId": owner,
        "imageOwnerAlias": "amazon" if owner == _AMI_OWNERS["amazon"] else None,
        "platformDetails": "Linux/UNIX",
        "rootDeviceName": "/dev/xvda",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "enaSupport": True,
        "state": "available",
        "mostRecent": bool(a.get("mostRecent")),
        "public": True,
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "delete_on_termination": "true",
                    "encrypted": "false",
                    "snapshot_id": "snap-" + stable_hex("snap", ami),
                    "volume_size": "8",
                    "volume_type": "gp3",
                },
                "noDevice": "",
                "virtualName": "",
            }
        ],
    }


def _ami_name(pattern: str) -> str:
    """A concrete image name that matches a `name` filter pattern, as the newest would."""
    candidates = (
        "al2023-ami-2023.6.20260105.0-kernel-6.1-x86_64",
        "al2023-ami-2023.6.20260105.0-kernel-6.1-arm64",
        "al2023-ami-minimal-2023.6.20260105.0-kernel-6.1-x86_64",
        "amzn2-ami-hvm-2.0.20260105.0-x86_64-gp2",
        "amzn2-ami-hvm-2.0.20260105.0-arm64-gp2",
        "amzn2-ami-kernel-5.10-hvm-2.0.20260105.0-x86_64-gp2",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260105",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20260105",
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20260105",
        "amazon-eks-node-al2023-x86_64-standard-1.31-v20260105",
        "bottlerocket-aws-k8s-1.31-x86_64-v1.30.0-2a0a0f23",
    )
    for candidate in candidates:
        if fnmatch.fnmatchcase(candidate, pattern):
            return candidate
    return pattern.replace("*", "20260105").replace("?", "0")


def _describe_vpc(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    """A VPC as `aws.ec2.get_vpc` reports it: one the program made, or the default VPC."""
    vid = a.get("id")
    is_default = not vid or bool(a.get("default"))
    vid = vid or m.default_vpc_id(region)
    known = m.lookup(vid, "aws:ec2/vpc:Vpc")
    cidr = m.vpc_cidr(vid, region)
    return {
        "id": vid,
        "arn": m.arn("ec2", f"vpc/{vid}", True, region),
        "cidrBlock": cidr,
        "default": is_default and not known,
        "dhcpOptionsId": "dopt-" + stable_hex("dopt", vid),
        "enableDnsHostnames": known.get("enableDnsHostnames", True),
        "enableDnsSupport": known.get("enableDnsSupport", True),
        "instanceTenancy": "default",
        "mainRouteTableId": known.get("mainRouteTableId") or "rtb-" + stable_hex("mainrtb", vid),
        "ownerId": m.account_id,
        "state": "available",
        "cidrBlockAssociations": [
            {
                "associationId": "vpc-cidr-assoc-" + stable_hex("assoc", vid),
                "cidrBlock": cidr,
                "state": "associated",
            }
        ],
        "tags": known.get("tags") or {},
    }
