"""Realistic answers for the Pulumi mock runtime.

The mock runtime asks two questions: "what did creating this resource produce?" (`new_resource`)
and "what does this function return?" (`call`). Our answers are shaped like AWS's — IDs with the
right prefixes, ARNs with the right partition/region/account layout, autonames like Pulumi's —
so that programs which parse or interpolate them (ARN joins, `split(":")`, JSON policies) behave as
they do for real. Everything is derived from a hash of the URN, so a render is deterministic: the
same program and config always produce the same inventory, which is what makes `--base` diffs and
golden files possible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

#: ID prefixes AWS uses, by resource type token.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/instance:Instance": "i-",
    "aws:ec2/networkAcl:NetworkAcl": "acl-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/route:Route": "r-rtb-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:ec2/keyPair:KeyPair": "key-",
}

#: The input property that carries the physical name Pulumi autonames, where it is not `name`.
_NAME_PROPERTY = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:sagemaker/featureGroup:FeatureGroup": "featureGroupName",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "modelPackageGroupName",
    "aws:sqs/queue:Queue": "name",
    "aws:ecr/repository:Repository": "name",
}

#: ARN resource part by type token (`{name}` and `{id}` are filled in).
_ARN_RESOURCE = {
    "aws:s3/bucket:Bucket": ("s3", "{name}", False),
    "aws:s3/bucketV2:BucketV2": ("s3", "{name}", False),
    "aws:iam/role:Role": ("iam", "role/{name}", False),
    "aws:iam/policy:Policy": ("iam", "policy/{name}", False),
    "aws:iam/instanceProfile:InstanceProfile": ("iam", "instance-profile/{name}", False),
    "aws:iam/user:User": ("iam", "user/{name}", False),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "iam",
        "oidc-provider/oidc.eks.{region}.amazonaws.com/id/{id}",
        False,
    ),
    "aws:kms/key:Key": ("kms", "key/{id}", True),
    "aws:kms/alias:Alias": ("kms", "{name}", True),
    "aws:dynamodb/table:Table": ("dynamodb", "table/{name}", True),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{name}", True),
    "aws:sagemaker/featureGroup:FeatureGroup": ("sagemaker", "feature-group/{name}", True),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "sagemaker",
        "model-package-group/{name}",
        True,
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": ("glue", "database/{name}", True),
    "aws:eks/cluster:Cluster": ("eks", "cluster/{name}", True),
    "aws:eks/nodeGroup:NodeGroup": ("eks", "nodegroup/{name}/{id}", True),
    "aws:ecr/repository:Repository": ("ecr", "repository/{name}", True),
    "aws:sns/topic:Topic": ("sns", "{name}", True),
    "aws:sqs/queue:Queue": ("sqs", "{name}", True),
    "aws:lambda/function:Function": ("lambda", "function:{name}", True),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/{name}", True),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{name}", True),
    "aws:ec2/vpc:Vpc": ("ec2", "vpc/{id}", True),
    "aws:ec2/subnet:Subnet": ("ec2", "subnet/{id}", True),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "security-group/{id}", True),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "launch-template/{id}", True),
    "aws:ec2/instance:Instance": ("ec2", "instance/{id}", True),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2", "vpc-endpoint/{id}", True),
    "aws:ec2/flowLog:FlowLog": ("ec2", "vpc-flow-log/{id}", True),
    "aws:ec2/natGateway:NatGateway": ("ec2", "natgateway/{id}", True),
}

_AZ_SUFFIXES = ("a", "b", "c", "d", "e", "f")

#: Current default add-on versions, answered to `aws.eks.get_addon_version`.
ADDON_VERSIONS = {
    "vpc-cni": "v1.19.2-eksbuild.1",
    "coredns": "v1.11.4-eksbuild.2",
    "kube-proxy": "v1.31.3-eksbuild.2",
    "aws-ebs-csi-driver": "v1.38.1-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.4-eksbuild.1",
    "amazon-cloudwatch-observability": "v2.6.0-eksbuild.1",
}

UNKNOWN = "<computed>"


def stable_hex(*parts: str, length: int = 17) -> str:
    """A deterministic hex string of `length` characters derived from `parts`."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    while len(digest) < length:
        digest += hashlib.sha256(digest.encode()).hexdigest()
    return digest[:length]


def stable_uuid(*parts: str) -> str:
    h = stable_hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def autoname(logical_name: str, *salt: str) -> str:
    """Pulumi's default physical name: the logical name plus a dash and 7 random hex digits."""
    return f"{logical_name}-{stable_hex(logical_name, *salt, length=7)}"


def policy_document_json(args: dict[str, Any]) -> str:
    """Render `aws.iam.get_policy_document` arguments into the JSON AWS would accept."""
    statements = []
    for st in args.get("statements") or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        for key, wire in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            values = st.get(key)
            if values:
                out[wire] = values[0] if len(values) == 1 else sorted(values)
        for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            principals = st.get(key)
            if principals:
                block: dict[str, Any] = {}
                for p in principals:
                    ids = p.get("identifiers") or []
                    if p.get("type") == "*" and ids == ["*"]:
                        block = "*"  # type: ignore[assignment]
                        break
                    block.setdefault(p["type"], [])
                    block[p["type"]].extend(ids)
                if isinstance(block, dict):
                    block = {k: (v[0] if len(v) == 1 else v) for k, v in block.items()}
                out[wire] = block
        conditions = st.get("conditions")
        if conditions:
            cond: dict[str, dict[str, Any]] = {}
            for c in conditions:
                values = c.get("values") or []
                cond.setdefault(c["test"], {})[c["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            out["Condition"] = cond
        statements.append(out)
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


class EstateMocks(pulumi.runtime.Mocks):
    """Answers shaped like AWS's, for every resource and for the invokes programs commonly make.

    `stack_outputs` resolves a `StackReference` by stack name; it is given the referenced
    stack's name (e.g. `org/ai-estate/platform-prod`) and returns that stack's outputs.
    """

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        account_id: str = ACCOUNT_ID,
        stack_outputs: Callable[[str], dict[str, Any]] | None = None,
        salt: str = "",
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.stack_outputs = stack_outputs
        self.salt = salt
        self.unanswered_calls: set[str] = set()

    # -- resources -------------------------------------------------------------------------

    def arn(self, service: str, resource: str, regional: bool) -> str:
        region = self.region if regional else ""
        account = "" if service == "s3" else self.account_id
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, inputs = args.typ, dict(args.inputs)
        if typ == "pulumi:pulumi:StackReference":
            name = inputs.get("name") or args.name
            outputs = self.stack_outputs(name) if self.stack_outputs else {}
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        if typ.startswith("pulumi:providers:"):
            return stable_uuid(typ, args.name, self.salt), inputs

        name_prop = _NAME_PROPERTY.get(typ, "name")
        physical = inputs.get(name_prop)
        if not physical and inputs.get(f"{name_prop}Prefix"):
            physical = inputs[f"{name_prop}Prefix"] + stable_hex(args.name, self.salt, length=26)
        if not physical:
            physical = autoname(args.name, typ, self.salt)
            if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
                physical = physical.lower()
        state = {**inputs, name_prop: physical}

        prefix = _ID_PREFIX.get(typ)
        if prefix is not None:
            rid = prefix + stable_hex(typ, args.name, self.salt)
        elif typ == "aws:kms/key:Key":
            rid = stable_uuid(typ, args.name, self.salt)
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            rid = f"{inputs.get('clusterName', 'cluster')}:{physical}"
        elif typ == "aws:glue/catalogDatabase:CatalogDatabase":
            rid = f"{self.account_id}:{physical}"
        else:
            rid = physical

        arn_spec = _ARN_RESOURCE.get(typ)
        if arn_spec is not None:
            service, pattern, regional = arn_spec
            short_id = rid.split(":")[-1]
            state["arn"] = self.arn(
                service,
                pattern.format(name=physical, id=short_id, region=self.region),
                regional,
            )
        elif typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            kind = typ.split(":")[-1].lower()
            state["arn"] = self.arn(service, f"{kind}/{physical}", True)

        state.update(self._type_specific_state(typ, inputs, physical, rid))
        if typ.startswith("aws:") and "tags" in inputs:
            state["tagsAll"] = dict(inputs.get("tags") or {})
        return rid, state

    def _type_specific_state(
        self, typ: str, inputs: dict[str, Any], physical: str, rid: str
    ) -> dict[str, Any]:
        if typ == "aws:iam/role:Role":
            return {"uniqueId": "AROA" + stable_hex(typ, physical, length=17).upper()}
        if typ == "aws:kms/key:Key":
            return {"keyId": rid}
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            return {
                "bucketDomainName": f"{physical}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{physical}.s3.{self.region}.amazonaws.com",
                "region": self.region,
                "hostedZoneId": "Z3AQBSTGFYJSTF",
            }
        if typ == "aws:ec2/vpc:Vpc":
            return {
                "defaultSecurityGroupId": "sg-" + stable_hex("defsg", rid),
                "mainRouteTableId": "rtb-" + stable_hex("mainrtb", rid),
                "defaultNetworkAclId": "acl-" + stable_hex("acl", rid),
                "ownerId": self.account_id,
            }
        if typ == "aws:ec2/subnet:Subnet":
            return {"ownerId": self.account_id}
        if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            return {
                "prefixListId": "pl-" + stable_hex("pl", rid, length=8),
                "dnsEntries": [
                    {
                        "dnsName": f"{rid}.{inputs.get('serviceName', 'svc')}",
                        "hostedZoneId": "Z7HUB22UULQXV",
                    }
                ],
            }
        if typ == "aws:ec2/eip:Eip":
            h = stable_hex(rid, length=4)
            return {"publicIp": f"54.{int(h[:2], 16)}.{int(h[2:], 16)}.10", "allocationId": rid}
        if typ == "aws:ec2/instance:Instance":
            h = stable_hex(rid, length=4)
            return {
                "publicIp": f"3.{int(h[:2], 16)}.{int(h[2:], 16)}.20",
                "privateIp": f"10.0.{int(h[:2], 16) % 255}.20",
                "publicDns": f"ec2-3-0-0-20.{self.region}.compute.amazonaws.com",
            }
        if typ == "aws:dynamodb/table:Table" and inputs.get("streamEnabled"):
            return {"streamArn": self.arn("dynamodb", f"table/{physical}/stream/2026-01-01", True)}
        if typ == "aws:eks/cluster:Cluster":
            oidc_id = stable_hex(physical, length=32).upper()
            return {
                "endpoint": f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com",
                "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
                "identities": [
                    {
                        "oidcs": [
                            {"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"}
                        ]
                    }
                ],
                "clusterId": stable_uuid(physical),
                "platformVersion": "eks.10",
                "status": "ACTIVE",
                "version": inputs.get("version") or "1.31",
                "vpcConfig": {
                    **(inputs.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": "sg-" + stable_hex("clustersg", physical),
                    "vpcId": "vpc-" + stable_hex("clustervpc", physical),
                },
            }
        if typ == "aws:ecr/repository:Repository":
            return {
                "repositoryUrl": f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{physical}",
                "registryId": self.account_id,
            }
        if typ == "aws:sqs/queue:Queue":
            return {"url": f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{physical}"}
        if typ == "aws:cloudfront/distribution:Distribution":
            return {"domainName": f"d{stable_hex(rid, length=13)}.cloudfront.net"}
        return {}

    # -- invokes ---------------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        token, a = args.token, args.args or {}
        region = self.region
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{s}" for s in _AZ_SUFFIXES]
            return {
                "id": region,
                "names": names,
                "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))],
                "groupNames": [region] * len(names),
                "state": a.get("state") or "available",
            }
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": self.account_id,
                "accountId": self.account_id,
                "arn": f"arn:aws:sts::{self.account_id}:assumed-role/platform-deployer/session",
                "userId": "AROAEXAMPLEDEPLOYER:session",
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "id": region,
                "name": region,
                "region": region,
                "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            }
        if token == "aws:index/getPartition:getPartition":
            return {
                "id": "aws",
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            doc = policy_document_json(a)
            return {"id": stable_hex(doc, length=10), "json": doc, "minifiedJson": json.dumps(json.loads(doc), separators=(",", ":"))}
        if token == "aws:ec2/getAmi:getAmi":
            ami = "ami-" + stable_hex(json.dumps(a, sort_keys=True, default=str))
            return {
                "id": ami,
                "imageId": ami,
                "arn": f"arn:aws:ec2:{region}::image/{ami}",
                "name": "amzn2-ami-hvm-2.0.20261101.0-x86_64-gp2",
                "architecture": "x86_64",
                "rootDeviceName": "/dev/xvda",
                "ownerId": "137112412989",
            }
        if token == "aws:ssm/getParameter:getParameter":
            name = a.get("name", "")
            if "image_id" in name or "ami" in name:
                value = "ami-" + stable_hex(name)
            elif "image_version" in name or "bottlerocket" in name:
                value = "1.30.0-2a0a0f23"
            else:
                value = "mock-" + stable_hex(name, length=8)
            return {"id": name, "name": name, "value": value, "insecureValue": value, "type": "String", "version": 1, "arn": f"arn:aws:ssm:{region}::parameter{name}"}
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            version = ADDON_VERSIONS.get(a.get("addonName", ""), "v1.0.0-eksbuild.1")
            return {"id": a.get("addonName", "addon"), "addonName": a.get("addonName"), "kubernetesVersion": a.get("kubernetesVersion"), "version": version}
        if token == "aws:eks/getCluster:getCluster":
            return {"id": a.get("name"), "name": a.get("name"), "arn": self.arn("eks", f"cluster/{a.get('name')}", True), "endpoint": "https://EXAMPLE.gr7.eks.amazonaws.com", "version": "1.31"}
        if token == "aws:ec2/getVpc:getVpc":
            return {"id": "vpc-" + stable_hex("default-vpc"), "cidrBlock": "172.31.0.0/16", "default": True, "arn": self.arn("ec2", "vpc/default", True)}
        if token in ("aws:ec2/getSubnets:getSubnets", "aws:ec2/getSubnetIds:getSubnetIds"):
            return {"id": region, "ids": ["subnet-" + stable_hex("default-subnet", s) for s in _AZ_SUFFIXES[:3]]}
        self.unanswered_calls.add(token)
        return {"id": stable_hex(token, json.dumps(a, sort_keys=True, default=str), length=12)}
