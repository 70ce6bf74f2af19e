"""Realistic answers for the Pulumi mock runtime.

The mock runtime asks two questions: "what did creating this resource produce?" (`new_resource`)
and "what does this function return?" (`call`). Our answers are shaped like AWS's and
Kubernetes's — IDs with the right prefixes, ARNs with the right partition/region/account layout,
autonames like Pulumi's, endpoints and DNS names in the formats the services use — so that
programs which parse or interpolate them (ARN joins, `split(":")`, JSON policies, kubeconfigs)
behave as they do for real.

Everything is derived from a hash of the type, logical name and a per-stack salt, or from values
the program itself passed in (a subnet's VPC, a cluster's version), so a render is deterministic:
the same program and config always produce the same inventory, which is what makes `--base`
diffs and golden files possible. Answers never depend on the order in which registrations arrive
(the SDK registers from a thread pool); a lookup of an earlier resource only happens when the
program's data flow guarantees that resource was registered first.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

#: A fixed point in time for every timestamp the mocks report (creation dates, etc.).
_CREATED_AT = "2026-01-05T09:30:00Z"

#: ID prefixes AWS uses, by resource type token.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "eigw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/instance:Instance": "i-",
    "aws:ec2/networkAcl:NetworkAcl": "acl-",
    "aws:ec2/networkInterface:NetworkInterface": "eni-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/route:Route": "r-rtb-",
    "aws:ec2/volume:Volume": "vol-",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "pcx-",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "tgw-",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "sgrule-",
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
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupName",
    "aws:eks/fargateProfile:FargateProfile": "fargateProfileName",
    "aws:eks/addon:Addon": "addonName",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/cluster:Cluster": "clusterIdentifier",
    "aws:lambda/function:Function": "name",
}

#: ARN resource part by type token: (service, pattern, regional). `{name}`, `{id}`, `{uuid}`,
#: `{region}`, `{path}`, `{cluster}`, `{bucket}` and `{key}` are filled in.
_ARN_RESOURCE = {
    "aws:s3/bucket:Bucket": ("s3", "{name}", False),
    "aws:s3/bucketV2:BucketV2": ("s3", "{name}", False),
    "aws:s3/bucketObject:BucketObject": ("s3", "{bucket}/{key}", False),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("s3", "{bucket}/{key}", False),
    "aws:iam/role:Role": ("iam", "role{path}{name}", False),
    "aws:iam/policy:Policy": ("iam", "policy{path}{name}", False),
    "aws:iam/instanceProfile:InstanceProfile": ("iam", "instance-profile{path}{name}", False),
    "aws:iam/user:User": ("iam", "user{path}{name}", False),
    "aws:iam/group:Group": ("iam", "group{path}{name}", False),
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
    "aws:eks/nodeGroup:NodeGroup": ("eks", "nodegroup/{cluster}/{name}/{uuid}", True),
    "aws:eks/fargateProfile:FargateProfile": (
        "eks",
        "fargateprofile/{cluster}/{name}/{uuid}",
        True,
    ),
    "aws:eks/addon:Addon": ("eks", "addon/{cluster}/{name}/{uuid}", True),
    "aws:ecr/repository:Repository": ("ecr", "repository/{name}", True),
    "aws:sns/topic:Topic": ("sns", "{name}", True),
    "aws:sqs/queue:Queue": ("sqs", "{name}", True),
    "aws:lambda/function:Function": ("lambda", "function:{name}", True),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/{name}", True),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{name}", True),
    "aws:rds/instance:Instance": ("rds", "db:{name}", True),
    "aws:rds/cluster:Cluster": ("rds", "cluster:{name}", True),
    "aws:lb/loadBalancer:LoadBalancer": (
        "elasticloadbalancing",
        "loadbalancer/{lbkind}/{name}/{hex16}",
        True,
    ),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing", "targetgroup/{name}/{hex16}", True),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "secret:{name}-{hex6}", True),
    "aws:ec2/vpc:Vpc": ("ec2", "vpc/{id}", True),
    "aws:ec2/subnet:Subnet": ("ec2", "subnet/{id}", True),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "security-group/{id}", True),
    "aws:ec2/internetGateway:InternetGateway": ("ec2", "internet-gateway/{id}", True),
    "aws:ec2/routeTable:RouteTable": ("ec2", "route-table/{id}", True),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "launch-template/{id}", True),
    "aws:ec2/instance:Instance": ("ec2", "instance/{id}", True),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2", "vpc-endpoint/{id}", True),
    "aws:ec2/flowLog:FlowLog": ("ec2", "vpc-flow-log/{id}", True),
    "aws:ec2/natGateway:NatGateway": ("ec2", "natgateway/{id}", True),
    "aws:ec2/eip:Eip": ("ec2", "elastic-ip/{id}", True),
    "aws:ec2/keyPair:KeyPair": ("ec2", "key-pair/{name}", True),
    "aws:ec2/volume:Volume": ("ec2", "volume/{id}", True),
    "aws:ec2/networkAcl:NetworkAcl": ("ec2", "network-acl/{id}", True),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ec2",
        "security-group-rule/{id}",
        True,
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "ec2",
        "security-group-rule/{id}",
        True,
    ),
}

#: Services whose ARNs carry no region.
_GLOBAL_SERVICES = {
    "iam",
    "s3",
    "cloudfront",
    "route53",
    "organizations",
    "waf",
    "globalaccelerator",
}

#: Regions whose S3 website endpoints use the legacy `s3-website-<region>` form.
_S3_WEBSITE_DASH_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "sa-east-1",
    "us-gov-west-1",
}

#: Kubernetes kinds that are not namespaced.
_K8S_CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CertificateSigningRequest",
    "PodSecurityPolicy",
    "FlowSchema",
    "PriorityLevelConfiguration",
}

#: Well-known AMI owners: alias -> account.
_AMI_OWNERS = {
    "amazon": "137112412989",
    "aws-marketplace": "679593333241",
    "canonical": "099720109477",
    "self": ACCOUNT_ID,
}

_AZ_SUFFIXES = ("a", "b", "c", "d", "e", "f")

#: Availability zones per region, where a region has other than three.
_AZ_COUNT = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-2": 4, "us-west-1": 2}

_REGION_WORDS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "southeast": "se",
    "northwest": "nw",
    "southwest": "sw",
}

#: Current default add-on versions, answered to `aws.eks.get_addon_version`.
ADDON_VERSIONS = {
    "vpc-cni": "v1.19.2-eksbuild.1",
    "coredns": "v1.11.4-eksbuild.2",
    "kube-proxy": "v1.31.3-eksbuild.2",
    "aws-ebs-csi-driver": "v1.38.1-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.4-eksbuild.1",
    "amazon-cloudwatch-observability": "v2.6.0-eksbuild.1",
}

#: The Kubernetes version EKS reports when a program does not choose one.
_EKS_DEFAULT_VERSION = "1.31"

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


def _stable_int(*parts: str, modulo: int) -> int:
    return int(stable_hex(*parts, length=12), 16) % modulo


def _stable_digits(*parts: str, length: int) -> str:
    return str(int(stable_hex(*parts, length=length + 8), 16))[-length:].rjust(length, "0")


def autoname(logical_name: str, *salt: str) -> str:
    """Pulumi's default physical name: the logical name plus a dash and 7 random hex digits."""
    return f"{logical_name}-{stable_hex(logical_name, *salt, length=7)}"


def region_code(region: str) -> str:
    """The short code AWS uses in zone IDs: `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    geo, *words, number = parts
    return geo + "".join(_REGION_WORDS.get(w, w[:1]) for w in words) + number


def fake_certificate_data(*parts: str) -> str:
    """Base64 of a PEM certificate block, as EKS reports `certificateAuthority.data`."""
    body = b"".join(hashlib.sha256(f"{'/'.join(parts)}#{i}".encode()).digest() for i in range(24))
    der = base64.b64encode(b"\x30\x82\x02\xfd" + body[:761]).decode()
    lines = [der[i : i + 64] for i in range(0, len(der), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


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


def _dig(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


def _content_md5(source: Any) -> str | None:
    """MD5 of an asset's bytes (S3's ETag for a single-part upload), where they can be read."""
    try:
        if isinstance(source, pulumi.FileAsset):
            return hashlib.md5(Path(source.path).read_bytes(), usedforsecurity=False).hexdigest()
        if isinstance(source, pulumi.StringAsset):
            return hashlib.md5(source.text.encode(), usedforsecurity=False).hexdigest()
    except OSError:
        return None
    if isinstance(source, str):
        return hashlib.md5(source.encode(), usedforsecurity=False).hexdigest()
    return None


class EstateMocks(pulumi.runtime.Mocks):
    """Answers shaped like AWS's, for every resource and for the invokes programs commonly make.

    `stack_outputs` resolves a `StackReference` by stack name; it is given the referenced
    stack's name (e.g. `org/ai-estate/platform-prod`) and returns that stack's outputs.
    Invokes the mocks have no specific answer for are collected in `unanswered_calls`.
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
        # What each resource produced, by physical ID, so later answers can agree with earlier
        # ones (a cluster reports the VPC of its subnets). Registrations run on SDK threads.
        self._lock = threading.Lock()
        self._by_id: dict[tuple[str, str], dict[str, Any]] = {}
        self._providers: dict[str, dict[str, Any]] = {}

    # -- helpers ---------------------------------------------------------------------------

    def arn(self, service: str, resource: str, regional: bool, region: str | None = None) -> str:
        region = (region or self.region) if regional and service not in _GLOBAL_SERVICES else ""
        account = "" if service == "s3" else self.account_id
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    def _remember(self, rid: str, typ: str, state: dict[str, Any]) -> None:
        with self._lock:
            self._by_id[(typ, rid)] = state

    def _lookup(self, rid: Any, typ: str) -> dict[str, Any]:
        """What an earlier resource of type `typ` with ID `rid` produced, or {} if none did."""
        if not isinstance(rid, str):
            return {}
        with self._lock:
            return self._by_id.get((typ, rid), {})

    def _provider_settings(self, provider_ref: str | None) -> dict[str, Any]:
        """An explicit provider's configuration (region, defaultTags), nested values decoded."""
        if not provider_ref:
            return {}
        with self._lock:
            settings = dict(self._providers.get(provider_ref.rsplit("::", 1)[-1], {}))
        for key, value in settings.items():
            # Providers receive nested configuration as JSON strings.
            if isinstance(value, str) and value.startswith(("{", "[")):
                with contextlib.suppress(ValueError):
                    settings[key] = json.loads(value)
        return settings

    def _zone(self, region: str, *parts: str) -> str:
        return region + _AZ_SUFFIXES[_stable_int(*parts, modulo=3)]

    def _zone_id(self, zone: str) -> str:
        region, letter = zone[:-1], zone[-1]
        index = _AZ_SUFFIXES.index(letter) + 1 if letter in _AZ_SUFFIXES else 1
        return f"{region_code(region)}-az{index}"

    def _default_vpc_id(self, region: str) -> str:
        return "vpc-" + stable_hex("default-vpc", self.account_id, region)

    def _vpc_cidr(self, vpc_id: str, region: str) -> str:
        known = self._lookup(vpc_id, "aws:ec2/vpc:Vpc").get("cidrBlock")
        if isinstance(known, str):
            return known
        if vpc_id == self._default_vpc_id(region):
            return "172.31.0.0/16"
        # A VPC made elsewhere (another stack's): a stable private /16 of its own.
        return f"10.{_stable_int('cidr', vpc_id, modulo=200) + 20}.0.0/16"

    def _ipv4(self, first: int, *parts: str) -> str:
        h = stable_hex(*parts, length=6)
        return f"{first}.{int(h[:2], 16)}.{int(h[2:4], 16)}.{int(h[4:], 16) % 254 + 1}"

    @staticmethod
    def _public_dns(ip: str, region: str) -> str:
        dashed = ip.replace(".", "-")
        if region == "us-east-1":
            return f"ec2-{dashed}.compute-1.amazonaws.com"
        return f"ec2-{dashed}.{region}.compute.amazonaws.com"

    @staticmethod
    def _private_dns(ip: str, region: str) -> str:
        dashed = ip.replace(".", "-")
        if region == "us-east-1":
            return f"ip-{dashed}.ec2.internal"
        return f"ip-{dashed}.{region}.compute.internal"

    # -- resources -------------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, inputs = args.typ, dict(args.inputs)
        if typ == "pulumi:pulumi:StackReference":
            name = inputs.get("name") or args.name
            outputs = self.stack_outputs(name) if self.stack_outputs else {}
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        if typ.startswith("pulumi:providers:"):
            pid = stable_uuid(typ, args.name, self.salt)
            with self._lock:
                self._providers[pid] = {"type": typ, **inputs}
            return pid, inputs
        if typ.startswith("kubernetes:"):
            return self._kubernetes_resource(args, typ, inputs)
        if typ.startswith("aws:"):
            return self._aws_resource(args, typ, inputs)

        physical = inputs.get("name") or autoname(args.name, typ, self.salt)
        return physical, {**inputs, "name": physical}

    def _aws_resource(
        self, args: pulumi.runtime.MockResourceArgs, typ: str, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        provider = self._provider_settings(args.provider)
        region = str(inputs.get("region") or provider.get("region") or self.region)

        name_prop = _NAME_PROPERTY.get(typ, "name")
        physical = inputs.get(name_prop)
        if not physical and inputs.get(f"{name_prop}Prefix"):
            physical = inputs[f"{name_prop}Prefix"] + stable_hex(args.name, self.salt, length=26)
        if not physical and typ in (
            "aws:s3/bucketObject:BucketObject",
            "aws:s3/bucketObjectv2:BucketObjectv2",
        ):
            physical = inputs.get("key") or args.name  # pulumi-aws defaults the key to the name
        if not physical:
            physical = autoname(args.name, typ, self.salt)
            if typ in (
                "aws:s3/bucket:Bucket",
                "aws:s3/bucketV2:BucketV2",
                "aws:rds/instance:Instance",
                "aws:rds/cluster:Cluster",
            ):
                physical = physical.lower()
        state = {**inputs, name_prop: physical}
        if typ in ("aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2"):
            state.pop("name", None)
            state["key"] = physical

        rid = self._aws_id(typ, args.name, inputs, physical)

        service = typ.split(":")[1].split("/")[0]
        arn_spec = _ARN_RESOURCE.get(typ)
        if arn_spec is not None:
            service, pattern, regional = arn_spec
            path = inputs.get("path") or "/"
            state["arn"] = self.arn(
                service,
                pattern.format(
                    name=physical,
                    id=rid.split(":")[-1],
                    uuid=stable_uuid(typ, args.name, self.salt),
                    region=region,
                    path=path if path.endswith("/") else path + "/",
                    cluster=inputs.get("clusterName", "cluster"),
                    bucket=inputs.get("bucket", ""),
                    key=physical,
                    lbkind="net" if inputs.get("loadBalancerType") == "network" else "app",
                    hex16=stable_hex(typ, args.name, self.salt, length=16),
                    hex6=stable_hex(typ, args.name, self.salt, length=6),
                ),
                regional,
                region,
            )
        elif service not in ("s3", "iam"):
            kind = typ.split(":")[-1].lower()
            state["arn"] = self.arn(service, f"{kind}/{physical}", True, region)

        if typ in ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"):
            rid = state["arn"]  # the ID of an ELBv2 resource is its ARN
        if service not in _GLOBAL_SERVICES:
            state.setdefault("region", region)
        state.update(self._type_specific_state(typ, inputs, physical, rid, region))
        default_tags = _dig(provider, "defaultTags", "tags") or {}
        if "tags" in inputs or default_tags:
            state["tagsAll"] = {**default_tags, **(inputs.get("tags") or {})}
        self._remember(rid, typ, state)
        return rid, state

    def _aws_id(self, typ: str, logical: str, inputs: dict[str, Any], physical: str) -> str:
        prefix = _ID_PREFIX.get(typ)
        if prefix is not None:
            return prefix + stable_hex(typ, logical, self.salt)
        if typ == "aws:kms/key:Key":
            return stable_uuid(typ, logical, self.salt)
        if typ in ("aws:eks/nodeGroup:NodeGroup", "aws:eks/fargateProfile:FargateProfile"):
            return f"{inputs.get('clusterName', 'cluster')}:{physical}"
        if typ == "aws:eks/addon:Addon":
            return f"{inputs.get('clusterName', 'cluster')}:{physical}"
        if typ == "aws:glue/catalogDatabase:CatalogDatabase":
            return f"{self.account_id}:{physical}"
        if typ == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            stamp = "2026" + _stable_digits(typ, logical, self.salt, length=22)
            return f"{inputs.get('role', 'role')}-{stamp}"
        if typ == "aws:iam/rolePolicy:RolePolicy":
            return f"{inputs.get('role', 'role')}:{physical}"
        if (
            typ.startswith("aws:s3/bucket")
            and typ
            not in (
                "aws:s3/bucket:Bucket",
                "aws:s3/bucketV2:BucketV2",
                "aws:s3/bucketObject:BucketObject",
                "aws:s3/bucketObjectv2:BucketObjectv2",
            )
            and isinstance(inputs.get("bucket"), str)
        ):
            # Bucket-scoped configuration (policy, website, versioning, ...) is keyed by bucket.
            return inputs["bucket"]
        return physical

    def _type_specific_state(
        self, typ: str, inputs: dict[str, Any], physical: str, rid: str, region: str
    ) -> dict[str, Any]:
        if typ == "aws:iam/role:Role":
            return {
                "uniqueId": "AROA" + stable_hex(typ, physical, length=17).upper(),
                "createDate": _CREATED_AT,
                "path": inputs.get("path") or "/",
                "maxSessionDuration": inputs.get("maxSessionDuration") or 3600,
            }
        if typ == "aws:iam/policy:Policy":
            return {
                "policyId": "ANPA" + stable_hex(typ, physical, length=17).upper(),
                "path": inputs.get("path") or "/",
                "attachmentCount": 0,
            }
        if typ == "aws:iam/instanceProfile:InstanceProfile":
            return {"uniqueId": "AIPA" + stable_hex(typ, physical, length=17).upper()}
        if typ == "aws:kms/key:Key":
            return {"keyId": rid}
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            return {
                "bucketDomainName": f"{physical}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{physical}.s3.{region}.amazonaws.com",
                "region": region,
                "hostedZoneId": "Z3AQBSTGFYJSTF",
            }
        if typ == "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration" or (
            typ == "aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2"
        ):
            sep = "-" if region in _S3_WEBSITE_DASH_REGIONS else "."
            domain = f"s3-website{sep}{region}.amazonaws.com"
            return {"websiteDomain": domain, "websiteEndpoint": f"{inputs.get('bucket')}.{domain}"}
        if typ in ("aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2"):
            etag = _content_md5(inputs.get("source")) or _content_md5(inputs.get("content"))
            return {
                "etag": etag or stable_hex(typ, physical, length=32),
                "versionId": "",
                "storageClass": inputs.get("storageClass") or "STANDARD",
                "serverSideEncryption": inputs.get("serverSideEncryption") or "AES256",
                "contentType": inputs.get("contentType") or "application/octet-stream",
                "bucketKeyEnabled": bool(inputs.get("bucketKeyEnabled")),
            }
        if typ == "aws:ec2/vpc:Vpc":
            return {
                "defaultSecurityGroupId": "sg-" + stable_hex("defsg", rid),
                "mainRouteTableId": "rtb-" + stable_hex("mainrtb", rid),
                "defaultNetworkAclId": "acl-" + stable_hex("acl", rid),
                "defaultRouteTableId": "rtb-" + stable_hex("mainrtb", rid),
                "dhcpOptionsId": "dopt-" + stable_hex("dopt", rid),
                "instanceTenancy": inputs.get("instanceTenancy") or "default",
                "enableDnsSupport": inputs.get("enableDnsSupport", True),
                "enableDnsHostnames": bool(inputs.get("enableDnsHostnames")),
                "ownerId": self.account_id,
            }
        if typ == "aws:ec2/subnet:Subnet":
            zone = inputs.get("availabilityZone") or self._zone(region, rid)
            return {
                "ownerId": self.account_id,
                "availabilityZone": zone,
                "availabilityZoneId": inputs.get("availabilityZoneId") or self._zone_id(zone),
                "mapPublicIpOnLaunch": bool(inputs.get("mapPublicIpOnLaunch")),
            }
        if typ in (
            "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/routeTable:RouteTable",
            "aws:ec2/networkAcl:NetworkAcl",
        ):
            return {"ownerId": self.account_id}
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            return {
                "ownerId": self.account_id,
                "vpcId": inputs.get("vpcId") or self._default_vpc_id(region),
                "description": inputs.get("description") or "Managed by Pulumi",
                "ingress": inputs.get("ingress") or [],
                "egress": inputs.get("egress") or [],
            }
        if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            return {
                "prefixListId": "pl-" + stable_hex("pl", rid, length=8),
                "ownerId": self.account_id,
                "state": "available",
                "dnsEntries": [
                    {
                        "dnsName": f"{rid}.{inputs.get('serviceName', 'svc')}",
                        "hostedZoneId": "Z7HUB22UULQXV",
                    }
                ],
            }
        if typ == "aws:ec2/eip:Eip":
            ip = self._ipv4(54, rid)
            return {
                "publicIp": ip,
                "publicDns": self._public_dns(ip, region),
                "allocationId": rid,
                "domain": inputs.get("domain") or "vpc",
            }
        if typ == "aws:ec2/natGateway:NatGateway":
            return {
                "publicIp": self._ipv4(52, rid),
                "privateIp": self._ipv4(10, "natprivate", rid),
                "networkInterfaceId": "eni-" + stable_hex("nateni", rid),
            }
        if typ == "aws:ec2/instance:Instance":
            return self._instance_state(inputs, rid, region)
        if typ == "aws:dynamodb/table:Table":
            out: dict[str, Any] = {
                "billingMode": inputs.get("billingMode") or "PROVISIONED",
                "pointInTimeRecovery": inputs.get("pointInTimeRecovery") or {"enabled": False},
            }
            if inputs.get("streamEnabled"):
                out["streamLabel"] = "2026-01-05T09:30:00.000"
                out["streamArn"] = self.arn(
                    "dynamodb", f"table/{physical}/stream/{out['streamLabel']}", True, region
                )
            return out
        if typ == "aws:eks/cluster:Cluster":
            return self._eks_cluster_state(inputs, physical, region)
        if typ == "aws:eks/nodeGroup:NodeGroup":
            return self._eks_node_group_state(inputs, physical, region)
        if typ == "aws:eks/addon:Addon":
            addon = inputs.get("addonName") or physical
            return {
                "addonVersion": inputs.get("addonVersion")
                or ADDON_VERSIONS.get(addon, "v1.0.0-eksbuild.1"),
                "createdAt": _CREATED_AT,
                "modifiedAt": _CREATED_AT,
            }
        if typ == "aws:ecr/repository:Repository":
            return {
                "repositoryUrl": f"{self.account_id}.dkr.ecr.{region}.amazonaws.com/{physical}",
                "registryId": self.account_id,
            }
        if typ == "aws:sqs/queue:Queue":
            return {"url": f"https://sqs.{region}.amazonaws.com/{self.account_id}/{physical}"}
        if typ == "aws:cloudfront/distribution:Distribution":
            return {
                "domainName": f"d{stable_hex(rid, length=13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
                "status": "Deployed",
            }
        if typ == "aws:lambda/function:Function":
            arn = self.arn("lambda", f"function:{physical}", True, region)
            return {
                "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"{arn}/invocations",
                "qualifiedArn": f"{arn}:$LATEST",
                "version": "$LATEST",
                "lastModified": "2026-01-05T09:30:00.000+0000",
            }
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            internal = "internal-" if inputs.get("internal") else ""
            digits = _stable_digits(typ, physical, region, length=10)
            return {
                "dnsName": f"{internal}{physical}-{digits}.{region}.elb.amazonaws.com",
                "zoneId": "Z35SXDOTRQ7X7K",
                "loadBalancerType": inputs.get("loadBalancerType") or "application",
                "arnSuffix": rid.split(":loadbalancer/", 1)[-1],
            }
        if typ == "aws:rds/instance:Instance":
            engine = str(inputs.get("engine") or "postgres")
            port = inputs.get("port") or (5432 if "postgres" in engine else 3306)
            address = f"{physical}.{stable_hex(self.account_id, region, length=12)}.{region}"
            address += ".rds.amazonaws.com"
            return {
                "address": address,
                "endpoint": f"{address}:{port}",
                "port": port,
                "resourceId": "db-" + stable_hex(typ, physical, length=26).upper(),
                "hostedZoneId": "Z2R2ITUGPM61AM",
                "status": "available",
            }
        return {}

    def _instance_state(self, inputs: dict[str, Any], rid: str, region: str) -> dict[str, Any]:
        subnet = self._lookup(inputs.get("subnetId"), "aws:ec2/subnet:Subnet")
        zone = inputs.get("availabilityZone") or subnet.get("availabilityZone")
        zone = zone or self._zone(region, rid)
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
            "privateDns": self._private_dns(private_ip, region),
            "availabilityZone": zone,
            "subnetId": inputs.get("subnetId") or "subnet-" + stable_hex("default-subnet", zone),
            "instanceState": "running",
            "primaryNetworkInterfaceId": "eni-" + stable_hex("eni", rid),
            "vpcSecurityGroupIds": inputs.get("vpcSecurityGroupIds")
            or ["sg-" + stable_hex("default-sg", self.account_id, region)],
            "tenancy": inputs.get("tenancy") or "default",
            "publicIp": "",
            "publicDns": "",
        }
        if public:
            public_ip = self._ipv4(3, "publicip", rid)
            state["publicIp"] = public_ip
            state["publicDns"] = self._public_dns(public_ip, region)
        return state

    def _eks_cluster_state(
        self, inputs: dict[str, Any], physical: str, region: str
    ) -> dict[str, Any]:
        oidc_id = stable_hex(self.account_id, region, physical, length=32).upper()
        vpc_config = dict(inputs.get("vpcConfig") or {})
        subnet_ids = vpc_config.get("subnetIds") or []
        first_subnet = self._lookup(subnet_ids[0] if subnet_ids else None, "aws:ec2/subnet:Subnet")
        vpc_config.setdefault("endpointPublicAccess", True)
        vpc_config.setdefault("endpointPrivateAccess", False)
        if vpc_config.get("endpointPublicAccess"):
            vpc_config.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
        vpc_config["clusterSecurityGroupId"] = "sg-" + stable_hex("clustersg", region, physical)
        vpc_config["vpcId"] = first_subnet.get("vpcId") or "vpc-" + stable_hex(
            "clustervpc", physical
        )
        network = dict(inputs.get("kubernetesNetworkConfig") or {})
        network.setdefault("ipFamily", "ipv4")
        network.setdefault("serviceIpv4Cidr", "172.20.0.0/16")
        access = dict(inputs.get("accessConfig") or {})
        access.setdefault("authenticationMode", "CONFIG_MAP")
        access.setdefault("bootstrapClusterCreatorAdminPermissions", True)
        return {
            "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": fake_certificate_data("eks", region, physical)},
            "identities": [
                {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}
            ],
            "clusterId": stable_uuid(physical),
            "createdAt": _CREATED_AT,
            "platformVersion": "eks.10",
            "status": "ACTIVE",
            "version": inputs.get("version") or _EKS_DEFAULT_VERSION,
            "vpcConfig": vpc_config,
            "kubernetesNetworkConfig": network,
            "accessConfig": access,
        }

    def _eks_node_group_state(
        self, inputs: dict[str, Any], physical: str, region: str
    ) -> dict[str, Any]:
        cluster = self._lookup(inputs.get("clusterName"), "aws:eks/cluster:Cluster")
        version = inputs.get("version") or cluster.get("version") or _EKS_DEFAULT_VERSION
        asg = f"eks-{physical}-{stable_uuid('asg', region, physical)}"
        return {
            "status": "ACTIVE",
            "version": version,
            "releaseVersion": inputs.get("releaseVersion") or f"{version}.3-20260101",
            "amiType": inputs.get("amiType") or "AL2023_x86_64_STANDARD",
            "capacityType": inputs.get("capacityType") or "ON_DEMAND",
            "diskSize": inputs.get("diskSize") or 20,
            "instanceTypes": inputs.get("instanceTypes") or ["t3.medium"],
            "updateConfig": inputs.get("updateConfig") or {"maxUnavailable": 1},
            "resources": [
                {"autoscalingGroups": [{"name": asg}], "remoteAccessSecurityGroupId": ""}
            ],
        }

    # -- Kubernetes ------------------------------------------------------------------------

    def _kubernetes_resource(
        self, args: pulumi.runtime.MockResourceArgs, typ: str, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Inputs echoed back, plus what the API server adds: name, namespace, uid, status."""
        kind = inputs.get("kind") or typ.rsplit(":", 1)[-1]
        metadata = dict(inputs.get("metadata") or {})
        if not metadata.get("name"):
            # The Kubernetes provider autonames as `<logical name>-<8 hex>` and says so.
            metadata["name"] = f"{args.name}-{stable_hex(typ, args.name, self.salt, length=8)}"
            metadata["annotations"] = {
                **(metadata.get("annotations") or {}),
                "pulumi.com/autonamed": "true",
            }
        namespaced = kind not in _K8S_CLUSTER_SCOPED and not typ.endswith("List")
        if namespaced:
            metadata["namespace"] = metadata.get("namespace") or "default"
        else:
            metadata.pop("namespace", None)
        name = metadata["name"]
        ident = f"{metadata['namespace']}/{name}" if namespaced else name
        metadata.setdefault("uid", stable_uuid(typ, ident, self.salt))
        metadata.setdefault("resourceVersion", str(_stable_int(typ, ident, modulo=900000) + 1000))
        metadata.setdefault("generation", 1)
        metadata.setdefault("creationTimestamp", _CREATED_AT)
        state = {**inputs, "metadata": metadata}
        state.setdefault("kind", kind)

        spec = inputs.get("spec")
        spec = dict(spec) if isinstance(spec, dict) else None
        status = self._kubernetes_status(kind, spec, ident)
        if spec is not None:
            state["spec"] = spec
        if status is not None:
            state["status"] = status
        return ident, state

    def _kubernetes_status(
        self, kind: str, spec: dict[str, Any] | None, ident: str
    ) -> dict[str, Any] | None:
        spec = spec if spec is not None else {}
        if kind == "Service":
            svc_type = spec.setdefault("type", "ClusterIP")
            if svc_type != "ExternalName" and not spec.get("clusterIP"):
                h = stable_hex("clusterip", ident, length=4)
                ip = f"172.20.{int(h[:2], 16)}.{int(h[2:], 16) % 254 + 1}"
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("sessionAffinity", "None")
            ports = []
            for i, port in enumerate(spec.get("ports") or []):
                port = dict(port)
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
                if svc_type in ("LoadBalancer", "NodePort") and not port.get("nodePort"):
                    port["nodePort"] = 30000 + _stable_int("nodeport", ident, str(i), modulo=2768)
                ports.append(port)
            if ports:
                spec["ports"] = ports
            if svc_type == "LoadBalancer":
                lb = stable_hex("elb", ident, length=32)
                digits = _stable_digits("elb", ident, length=10)
                host = f"a{lb}-{digits}.{self.region}.elb.amazonaws.com"
                return {"loadBalancer": {"ingress": [{"hostname": host}]}}
            return {"loadBalancer": {}}
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            replicas = spec.get("replicas", 1)
            status = {
                "observedGeneration": 1,
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "updatedReplicas": replicas,
            }
            if kind == "Deployment":
                status["conditions"] = [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ]
            return status
        if kind == "DaemonSet":
            return {
                "observedGeneration": 1,
                "currentNumberScheduled": 2,
                "desiredNumberScheduled": 2,
                "numberAvailable": 2,
                "numberReady": 2,
                "numberMisscheduled": 0,
                "updatedNumberScheduled": 2,
            }
        if kind == "Job":
            return {"succeeded": 1, "startTime": _CREATED_AT, "completionTime": _CREATED_AT}
        if kind == "Namespace":
            return {"phase": "Active"}
        if kind == "PersistentVolumeClaim":
            return {"phase": "Bound", "capacity": _dig(spec, "resources", "requests") or {}}
        if kind == "Pod":
            h = stable_hex("podip", ident, length=4)
            return {"phase": "Running", "podIP": f"10.0.{int(h[:2], 16)}.{int(h[2:], 16)}"}
        if kind == "Ingress":
            lb = stable_hex("alb", ident, length=8)
            digits = _stable_digits("alb", ident, length=10)
            host = f"k8s-{lb}-{digits}.{self.region}.elb.amazonaws.com"
            return {"loadBalancer": {"ingress": [{"hostname": host}]}}
        return None

    # -- invokes ---------------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        token, a = args.token, dict(args.args or {})
        provider = self._provider_settings(args.provider)
        region = str(a.get("region") or provider.get("region") or self.region)
        answer = self._aws_call(token, a, region) if token.startswith("aws:") else None
        if answer is None and token == "kubernetes:yaml:decode":
            answer = self._decode_yaml(a)
        if answer is not None:
            return answer
        self.unanswered_calls.add(token)
        return {"id": stable_hex(token, json.dumps(a, sort_keys=True, default=str), length=12)}

    def _aws_call(self, token: str, a: dict[str, Any], region: str) -> dict[str, Any] | None:
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{s}" for s in _AZ_SUFFIXES[: _AZ_COUNT.get(region, 3)]]
            return {
                "id": region,
                "names": names,
                "zoneIds": [self._zone_id(n) for n in names],
                "groupNames": [region] * len(names),
                "state": a.get("state") or "available",
            }
        if token == "aws:index/getAvailabilityZone:getAvailabilityZone":
            zone = a.get("name") or f"{region}a"
            return {
                "id": zone,
                "name": zone,
                "zoneId": self._zone_id(zone),
                "nameSuffix": zone[-1],
                "region": region,
                "groupName": region,
                "state": "available",
                "zoneType": "availability-zone",
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
        if token == "aws:index/getDefaultTags:getDefaultTags":
            return {"id": "aws", "tags": {}}
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            doc = policy_document_json(a)
            return {
                "id": stable_hex(doc, length=10),
                "json": doc,
                "minifiedJson": json.dumps(json.loads(doc), separators=(",", ":")),
            }
        if token == "aws:iam/getPolicy:getPolicy":
            arn = a.get("arn") or f"arn:aws:iam::aws:policy/{a.get('name') or 'ReadOnlyAccess'}"
            name = arn.rsplit("/", 1)[-1]
            return {
                "id": arn,
                "arn": arn,
                "name": name,
                "path": "/",
                "policyId": "ANPA" + stable_hex(arn, length=17).upper(),
                "policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
            }
        if token == "aws:iam/getRole:getRole":
            name = a.get("name") or "role"
            return {
                "id": name,
                "name": name,
                "arn": f"arn:aws:iam::{self.account_id}:role/{name}",
                "uniqueId": "AROA" + stable_hex("role", name, length=17).upper(),
                "path": "/",
                "createDate": _CREATED_AT,
                "maxSessionDuration": 3600,
            }
        if token == "aws:ec2/getAmi:getAmi":
            return self._ami(a, region)
        if token == "aws:ec2/getAmiIds:getAmiIds":
            ami = self._ami(a, region)
            return {"id": region, "ids": [ami["id"]]}
        if token == "aws:ssm/getParameter:getParameter":
            name = a.get("name", "")
            if "image_id" in name or "ami" in name:
                value = "ami-" + stable_hex(name)
            elif "image_version" in name or "bottlerocket" in name:
                value = "1.30.0-2a0a0f23"
            else:
                value = "mock-" + stable_hex(name, length=8)
            return {
                "id": name,
                "name": name,
                "value": value,
                "insecureValue": value,
                "type": "String",
                "version": 1,
                "arn": f"arn:aws:ssm:{region}::parameter{name}",
            }
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            version = ADDON_VERSIONS.get(a.get("addonName", ""), "v1.0.0-eksbuild.1")
            return {
                "id": a.get("addonName", "addon"),
                "addonName": a.get("addonName"),
                "kubernetesVersion": a.get("kubernetesVersion"),
                "version": version,
            }
        if token == "aws:eks/getCluster:getCluster":
            return self._get_cluster(str(a.get("name") or "cluster"), region)
        if token == "aws:eks/getClusterAuth:getClusterAuth":
            name = str(a.get("name") or "cluster")
            token_value = "k8s-aws-v1." + base64.urlsafe_b64encode(
                f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity"
                f"&X-Amz-Signature={stable_hex('auth', name, length=64)}".encode()
            ).decode().rstrip("=")
            return {"id": name, "name": name, "token": token_value}
        if token == "aws:ec2/getVpc:getVpc":
            return self._get_vpc(a, region)
        if token in ("aws:ec2/getSubnets:getSubnets", "aws:ec2/getSubnetIds:getSubnetIds"):
            return {
                "id": region,
                "ids": ["subnet-" + stable_hex("default-subnet", f"{region}{s}") for s in "abc"],
            }
        if token == "aws:ec2/getSubnet:getSubnet":
            sid = a.get("id") or "subnet-" + stable_hex("default-subnet", f"{region}a")
            known = self._lookup(sid, "aws:ec2/subnet:Subnet")
            zone = known.get("availabilityZone") or self._zone(region, sid)
            return {
                "id": sid,
                "arn": self.arn("ec2", f"subnet/{sid}", True, region),
                "vpcId": known.get("vpcId") or self._default_vpc_id(region),
                "cidrBlock": known.get("cidrBlock") or "172.31.0.0/20",
                "availabilityZone": zone,
                "availabilityZoneId": self._zone_id(zone),
                "mapPublicIpOnLaunch": known.get("mapPublicIpOnLaunch", True),
                "ownerId": self.account_id,
                "state": "available",
            }
        if token == "aws:ec2/getSecurityGroup:getSecurityGroup":
            sgid = a.get("id") or "sg-" + stable_hex("default-sg", self.account_id, region)
            known = self._lookup(sgid, "aws:ec2/securityGroup:SecurityGroup")
            return {
                "id": sgid,
                "arn": self.arn("ec2", f"security-group/{sgid}", True, region),
                "name": known.get("name") or a.get("name") or "default",
                "vpcId": known.get("vpcId") or a.get("vpcId") or self._default_vpc_id(region),
                "description": known.get("description") or "default VPC security group",
            }
        if token == "aws:s3/getBucket:getBucket":
            bucket = str(a.get("bucket") or "bucket")
            return {
                "id": bucket,
                "bucket": bucket,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "hostedZoneId": "Z3AQBSTGFYJSTF",
                "region": region,
            }
        if token == "aws:route53/getZone:getZone":
            zone_name = str(a.get("name") or "example.com").rstrip(".")
            zid = "Z" + stable_hex("zone", zone_name, length=20).upper()
            return {
                "id": zid,
                "zoneId": zid,
                "name": zone_name,
                "arn": f"arn:aws:route53:::hostedzone/{zid}",
                "privateZone": bool(a.get("privateZone")),
                "nameServers": [f"ns-{i * 512 + 17}.awsdns-{i:02d}.net" for i in range(4)],
                "resourceRecordSetCount": 2,
                "callerReference": stable_uuid("zone", zone_name),
            }
        # -- serving (issue 12): the Gateway's ALB a BU looks up by name, and the gateway
        # endpoints' prefix lists (their entries are AWS's published us-east-1 S3 ranges).
        if token == "aws:lb/getLoadBalancer:getLoadBalancer":
            lb_name = str(a.get("name") or "lb")
            suffix = f"app/{lb_name}/{stable_hex('alb', lb_name, region, length=16)}"
            return {
                "id": self.arn("elasticloadbalancing", f"loadbalancer/{suffix}", True, region),
                "arn": self.arn("elasticloadbalancing", f"loadbalancer/{suffix}", True, region),
                "arnSuffix": suffix,
                "name": lb_name,
                "loadBalancerType": "application",
                "internal": True,
                "dnsName": f"internal-{lb_name}-{stable_hex('dns', lb_name, length=10)}.{region}.elb.amazonaws.com",
            }
        if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            pl_name = str(a.get("name") or "")
            cidrs = {
                "s3": ["3.5.0.0/19", "16.182.0.0/16", "52.216.0.0/15", "54.231.0.0/16"],
                "dynamodb": ["3.218.180.0/22", "35.71.64.0/22", "52.94.0.0/22"],
            }
            service = pl_name.rsplit(".", 1)[-1]
            return {
                "id": "pl-" + stable_hex("prefix-list", pl_name, length=8),
                "name": pl_name,
                "addressFamily": "IPv4",
                "maxEntries": None,
                "entries": [{"cidr": c, "description": ""} for c in cidrs.get(service, [])],
            }
        if token == "aws:kms/getKey:getKey":
            key_id = str(a.get("keyId") or "")
            uuid = (
                key_id.rsplit("/", 1)[-1]
                if not key_id.startswith("alias/")
                else (stable_uuid("kms", key_id))
            )
            return {
                "id": uuid,
                "arn": self.arn("kms", f"key/{uuid}", True, region),
                "keyId": key_id,
                "keyState": "Enabled",
                "enabled": True,
                "keyManager": "CUSTOMER",
                "keyUsage": "ENCRYPT_DECRYPT",
            }
        return None

    def _ami(self, a: dict[str, Any], region: str) -> dict[str, Any]:
        filters = {f.get("name"): list(f.get("values") or []) for f in a.get("filters") or []}
        pattern = (filters.get("name") or [a.get("nameRegex") or "amzn2-ami-hvm-*-x86_64-gp2"])[0]
        name = self._ami_name(str(pattern))
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

    @staticmethod
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

    def _get_vpc(self, a: dict[str, Any], region: str) -> dict[str, Any]:
        vid = a.get("id")
        is_default = not vid or bool(a.get("default"))
        vid = vid or self._default_vpc_id(region)
        known = self._lookup(vid, "aws:ec2/vpc:Vpc")
        cidr = self._vpc_cidr(vid, region)
        return {
            "id": vid,
            "arn": self.arn("ec2", f"vpc/{vid}", True, region),
            "cidrBlock": cidr,
            "default": is_default and not known,
            "dhcpOptionsId": "dopt-" + stable_hex("dopt", vid),
            "enableDnsHostnames": known.get("enableDnsHostnames", True),
            "enableDnsSupport": known.get("enableDnsSupport", True),
            "instanceTenancy": "default",
            "mainRouteTableId": known.get("mainRouteTableId")
            or "rtb-" + stable_hex("mainrtb", vid),
            "ownerId": self.account_id,
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

    def _get_cluster(self, name: str, region: str) -> dict[str, Any]:
        known = self._lookup(name, "aws:eks/cluster:Cluster")
        state = known or self._eks_cluster_state({}, name, region)
        return {
            "id": name,
            "name": name,
            "arn": known.get("arn") or self.arn("eks", f"cluster/{name}", True, region),
            "endpoint": state["endpoint"],
            "version": state["version"],
            "status": "ACTIVE",
            "platformVersion": state["platformVersion"],
            "clusterId": state["clusterId"],
            "createdAt": _CREATED_AT,
            "roleArn": known.get("roleArn")
            or f"arn:aws:iam::{self.account_id}:role/{name}-cluster-role",
            "certificateAuthorities": [state["certificateAuthority"]],
            "identities": state["identities"],
            "vpcConfig": state["vpcConfig"],
            "kubernetesNetworkConfigs": [state["kubernetesNetworkConfig"]],
            "accessConfigs": [state["accessConfig"]],
            "tags": known.get("tags") or {},
        }

    @staticmethod
    def _decode_yaml(a: dict[str, Any]) -> dict[str, Any]:
        import yaml

        docs = [d for d in yaml.safe_load_all(str(a.get("text") or "")) if d is not None]
        return {"result": docs}
