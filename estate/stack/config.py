"""The stack configuration schema, and the one-line errors a user sees when a stack file is wrong.

A stack file is `stacks/Pulumi.<stack>.yaml`; our keys live in the `ai-estate:` namespace and use
Pulumi's camelCase convention. Everything is validated before a single resource is declared, and
every error a user can make comes back as `file: ai-estate:key.path: what is wrong (got X)`, all
of them at once, so a platform team fixes a stack file in one round trip.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import ipaddress
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from components.k8s_validation import (
    CONTAINER_RESOURCES,
    label_key_problem,
    label_value_problem,
    namespace_problem,
    quantity_problem,
    service_account_problem,
)

NAMESPACE = "ai-estate"
ENVIRONMENTS = ("dev", "staging", "prod")
Environment = Literal["dev", "staging", "prod"]
DataClassification = Literal["public", "internal", "confidential", "restricted"]

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            "must be a lowercase slug of 3-32 letters, digits and dashes, starting with a letter"
        )
    return value


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError("must start with a letter and hold only letters, digits, '_' and '-'")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an email address (the team that answers for this stack)")
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.20.0.0/16 ({exc})") from None
    if not 16 <= net.prefixlen <= 22:
        raise ValueError("must be a /16 to /22 block (room for private and public subnets)")
    if not net.is_private:
        raise ValueError("must be a private (RFC 1918) range")
    return value


def _account(value: Any) -> str:
    # YAML reads an unquoted account id as a number: `012345670123` is the octal 1402433619, and
    # `222222222222` loses nothing only by luck. Padding a number back to 12 digits would turn
    # the octal reading into another account, so a number is refused with the fix spelled out.
    if isinstance(value, int) and not isinstance(value, bool):
        written = getattr(value, "yaml_source", str(value))
        octal = re.fullmatch(r"[-+]?0(o?[0-7_]+)", written) is not None
        reading = f"the octal number {int(value)}" if octal else f"the number {int(value)}"
        raise ValueError(
            f"must be a quoted 12-digit string: YAML reads {written} as {reading}; "
            f"write '{written}' in quotes"
        )
    if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
        raise ValueError("must be a 12-digit AWS account id in quotes, e.g. '123456789012'")
    return value


AccountId = Annotated[str, BeforeValidator(_account)]
Slug = Annotated[str, AfterValidator(_slug)]
Ident = Annotated[str, AfterValidator(_ident)]
Email = Annotated[str, AfterValidator(_email)]
Cidr = Annotated[str, AfterValidator(_cidr)]


_M = TypeVar("_M", bound="_Model")


MAX_STRING = 256
"""Default cap on any string of a stack file (AWS names stop at 64-255, Kubernetes at 253);
fields that hold longer values (ARNs, URLs, descriptions) set their own."""
MAX_ITEMS = 100
"""Default cap on list lengths (e.g. 100 pools is already far beyond one BU's needs)."""


def _items(limit: int = MAX_ITEMS) -> Any:
    """A `Field` bounding a list (stack files are read by people; huge lists are mistakes)."""
    return Field(max_length=limit)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
        str_max_length=MAX_STRING,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


LOG_RETENTION_DAYS: tuple[int, ...] = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)
"""The retention periods CloudWatch Logs accepts (PutRetentionPolicy `retentionInDays`)."""


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            "must be a retention CloudWatch Logs accepts: "
            + ", ".join(map(str, LOG_RETENTION_DAYS))
        )
    return value


LogRetentionDays = Annotated[int, AfterValidator(_retention)]


class NetworkConfig(_Model):
    """`ai-estate:network` (platform stacks, and BU stacks with a dedicated cluster)."""

    cidr: Cidr = "10.0.0.0/16"
    """The VPC's IPv4 block. Each AZ gets a large private subnet (nodes and pods), a public one
    (NAT, internet-facing load balancers) and an internal load-balancer subnet of at least a /27
    (an ALB's minimum), so a /22 holds at most 3 AZs and a /21 at most 4."""
    az_count: int = Field(3, ge=2, le=6)
    """How many availability zones to spread subnets (and, in prod, NAT gateways) across."""
    nat_gateways: Literal["single", "perAz"] | None = None
    """One NAT gateway (cheap) or one per AZ (no cross-AZ dependency). Default: perAz in prod."""
    interface_endpoints: Annotated[tuple[str, ...], _items(50)] = (
        "ecr.api",
        "ecr.dkr",
        "sts",
        "sagemaker.api",
        "sagemaker.runtime",
        "logs",
        "monitoring",
        "sqs",
    )
    """AWS services reached through interface VPC endpoints (`com.amazonaws.<region>.<name>`).
    BU pods reach AWS only through endpoints (their NetworkPolicy allows HTTPS to the VPC and the
    gateway endpoints): the retraining jobs take their requests from SQS."""
    endpoint_account_ids: Annotated[tuple[AccountId, ...], _items()] = ()
    """Accounts besides the stack's `accountId` that the VPC endpoints serve: the accounts of BU
    stacks on this cluster that deploy to another account. Every endpoint's policy admits only
    principals of these accounts, and the S3 and DynamoDB gateway endpoints only their buckets
    and tables (plus the AWS-owned buckets nodes read: ECR image layers, Amazon Linux
    packages)."""
    flow_log_retention_days: LogRetentionDays | None = None
    """Retention of the VPC flow log group. Default: 365 in prod, 90 otherwise."""

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        # The block must hold every AZ's private, public and load-balancer subnet (an ALB
        # needs a /27): the same rule the program's subnet plan applies, caught here as a
        # one-line error instead of a failing program.
        from components.network import plan_subnets

        plan_subnets(self.cidr, self.az_count)
        return self


FeatureType = Literal["Integral", "Fractional", "String"]


class FeatureDefinition(_Model):
    """One feature of a feature group."""

    name: Ident
    """Feature name as SageMaker stores it."""
    type: FeatureType
    """SageMaker feature type."""
    min: float | None = None
    """Smallest valid value (Integral/Fractional): the Data Quality ruleset checks it."""
    max: float | None = None
    """Largest valid value (Integral/Fractional): the Data Quality ruleset checks it."""
    allowed_values: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None = Field(
        None, min_length=1, max_length=100
    )
    """The only values a String feature may take: the Data Quality ruleset checks it."""

    @model_validator(mode="after")
    def _checks_fit_type(self) -> FeatureDefinition:
        if (self.min is not None or self.max is not None) and self.type == "String":
            raise ValueError("min/max apply to Integral and Fractional features only")
        if self.allowed_values is not None and self.type != "String":
            raise ValueError("allowedValues applies to String features only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class FeatureGroupConfig(_Model):
    """A SageMaker feature group in the BU's feature store."""

    name: Slug
    """Short name; the group is created as `<bu>-<env>-<name>`."""
    description: str = Field("", max_length=128)
    """Shown in the SageMaker console and catalog (SageMaker allows 128 characters)."""
    record_identifier: Ident
    """The feature that identifies a record (must be one of `features`)."""
    event_time: Ident
    """The feature that holds the event time (must be one of `features`, Fractional or String)."""
    features: tuple[FeatureDefinition, ...] = Field(min_length=1, max_length=2500)
    """The group's features, record identifier and event time included (SageMaker: 2,500)."""
    online: bool = True
    """Keep an online store (low-latency reads at inference time)."""
    offline: bool = True
    """Keep an offline store in the BU's offline bucket, catalogued in Glue."""
    previous_name: Slug | None = None
    """The name this group had before a rename. Its Pulumi logical name follows `name`, with
    an alias from the previous one, so `pulumi up` moves it instead of deleting it; every AWS
    name derived from it (the SageMaker feature group, its Glue table, its Data Quality ruleset
    and schema) keeps the previous name, which AWS cannot change in place. Keep the key for as
    long as the group lives (README, "Renaming")."""

    @model_validator(mode="after")
    def _keys_are_features(self) -> FeatureGroupConfig:
        names = {f.name: f.type for f in self.features}
        if self.record_identifier not in names:
            raise ValueError(f"recordIdentifier '{self.record_identifier}' is not in features")
        if self.event_time not in names:
            raise ValueError(f"eventTime '{self.event_time}' is not in features")
        if self.record_identifier == self.event_time:
            raise ValueError("recordIdentifier and eventTime must be different features")
        if names[self.event_time] == "Integral":
            raise ValueError(f"eventTime '{self.event_time}' must be Fractional or String")
        if len(names) != len(self.features):
            raise ValueError("feature names must be unique")
        if not (self.online or self.offline):
            raise ValueError("a feature group needs an online store, an offline store, or both")
        return self


class OnlineTableConfig(_Model):
    """A DynamoDB table for online features the BU serves itself."""

    name: Slug
    """Short name; the table is `<bu>-<env>-<name>`."""
    hash_key: Ident
    """Partition key attribute (string)."""
    range_key: Ident | None = None
    """Sort key attribute (string), if any."""
    ttl_attribute: Ident | None = None
    """Attribute holding an expiry epoch; rows expire when set."""
    previous_name: Slug | None = None
    """The name this table had before a rename. Its Pulumi logical name follows `name`, with an
    alias from the previous one, so `pulumi up` moves it instead of deleting it (and its data);
    the DynamoDB table keeps its AWS name `<bu>-<env>-<previousName>`, which DynamoDB cannot
    change. Endpoints list the table by its new name. Keep the key for as long as the table
    lives (README, "Renaming")."""

    @model_validator(mode="after")
    def _distinct_keys(self) -> OnlineTableConfig:
        # DynamoDB refuses a key schema naming one attribute twice (and a TTL on a key).
        problems: list[Problem] = []
        if self.range_key is not None and self.range_key == self.hash_key:
            problems.append((("rangeKey",), "must differ from hashKey", self.range_key))
        if self.ttl_attribute is not None and self.ttl_attribute in (
            self.hash_key,
            self.range_key,
        ):
            problems.append((("ttlAttribute",), "must not be a key attribute", self.ttl_attribute))
        if problems:
            raise rules_error(problems)
        return self


class FeatureStoreConfig(_Model):
    """`ai-estate:featureStore` (BU stacks)."""

    enabled: bool = True
    """Build the feature store at all (off for a BU that only serves models)."""
    online_tables: Annotated[tuple[OnlineTableConfig, ...], _items()] = ()
    """DynamoDB tables for online features the BU serves itself."""
    feature_groups: Annotated[tuple[FeatureGroupConfig, ...], _items()] = ()
    """SageMaker feature groups."""
    infrequent_access_after_days: int = Field(30, ge=30, le=3650)
    """Move offline-store objects to S3 Standard-IA after this many days."""
    noncurrent_version_retention_days: int = Field(90, ge=1, le=3650)
    """Keep overwritten/deleted object versions this long; current data never expires."""

    @model_validator(mode="after")
    def _unique_names(self) -> FeatureStoreConfig:
        for label, items in (
            ("onlineTables", self.online_tables),
            ("featureGroups", self.feature_groups),
        ):
            names = [i.name for i in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label} names must be unique (repeated: {', '.join(dupes)})")
            problem = rename_problem(items)
            if problem:
                raise ValueError(f"{label}: {problem}")
        return self


def rename_problem(items: Sequence[Any]) -> str | None:
    """What is wrong with the `previousName`s of a list of named items, or None: a previous
    name must differ from the item's own name and belong to no other item (as a name or a
    previous name), or two items would claim one resource."""
    taken = [i.name for i in items] + [i.previous_name for i in items if i.previous_name]
    for item in items:
        if item.previous_name is None:
            continue
        if item.previous_name == item.name:
            return (
                f"'{item.name}': previousName must differ from name (drop it: nothing was renamed)"
            )
        if taken.count(item.previous_name) > 1:
            return (
                f"'{item.name}': previousName '{item.previous_name}' is also the name or previous "
                "name of another entry"
            )
    return None


def _public_cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be a CIDR block such as 203.0.113.0/24 ({exc})") from None
    if net.prefixlen == 0:
        raise ValueError("must not open the cluster API to the whole internet")
    return value


AllowCidr = Annotated[str, AfterValidator(_public_cidr)]


def _private_cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.20.0.0/16 ({exc})") from None
    if not net.is_private:
        raise ValueError("must be a private (RFC 1918) range; use publicAccessCidrs for others")
    return value


PrivateCidr = Annotated[str, AfterValidator(_private_cidr)]


class SystemNodesConfig(_Model):
    """The on-demand node group that runs cluster add-ons (CoreDNS, autoscalers, GPU software)."""

    instance_types: tuple[str, ...] = Field(("m6i.large",), min_length=1, max_length=20)
    """EC2 instance types of the system nodes (EKS allows 20 per node group)."""
    min_size: int = Field(2, ge=1, le=20)
    """Minimum system nodes (2 keeps add-ons available through a node loss)."""
    desired_size: int = Field(2, ge=1, le=20)
    """Initial system node count."""
    max_size: int = Field(4, ge=1, le=50)
    """Maximum system nodes."""
    disk_gib: int = Field(50, ge=20, le=2000)
    """Root volume size (encrypted gp3)."""


class BuCpuNodesConfig(_Model):
    """The untainted on-demand node group BU pods without GPUs run on (the system pool is
    tainted `CriticalAddonsOnly` and GPU nodes are tainted per BU, so these are the only nodes
    a plain BU pod fits). Cluster Autoscaler scales it; it is installed for this pool even when
    Karpenter is the only GPU provisioner."""

    enabled: bool = True
    """Build the pool (off only if no BU runs CPU pods on this cluster)."""
    instance_types: Annotated[tuple[str, ...], _items(20)] = ("m6i.xlarge", "m6a.xlarge")
    """EC2 instance types of the BU CPU nodes."""
    min_size: int = Field(1, ge=0, le=100)
    """Minimum nodes."""
    desired_size: int = Field(1, ge=0, le=100)
    """Initial node count (Cluster Autoscaler owns it afterwards)."""
    max_size: int = Field(10, ge=1, le=500)
    """Maximum nodes: the CPU spending cap of every BU on the cluster together."""
    disk_gib: int = Field(50, ge=20, le=2000)
    """Root volume size (encrypted gp3)."""


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _role_arn(value: str) -> str:
    if not _ROLE_ARN.match(value):
        raise ValueError("must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return value


class BuDeployerConfig(_Model):
    """A BU pipeline role that may deploy its BU's stack onto the shared cluster
    (`ai-estate:cluster.buDeployers` entries, platform stacks)."""

    role_arn: Annotated[str, AfterValidator(_role_arn)]
    """The IAM role the BU's `pulumi up` runs as, e.g. `arn:aws:iam::222222222222:role/fraud-deployer`."""
    namespaces: tuple[Slug, ...] = Field(min_length=1, max_length=20)
    """The BU namespaces it may deploy into (the BU's slug)."""


#: EKS managed add-on version strings, e.g. `v1.20.4-eksbuild.2`.
_ADDON_VERSION = r"^v\d+\.\d+\.\d+-eksbuild\.\d+$"
AddonName = Literal[
    "eks-pod-identity-agent", "vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"
]


class ClusterConfig(_Model):
    """`ai-estate:cluster`: the EKS cluster (platform stacks; BU stacks with `mode: dedicated`)."""

    mode: Literal["shared", "dedicated"] = "shared"
    """BU stacks: `shared` runs on the platform cluster; `dedicated` builds the BU its own."""
    version: Annotated[str, Field(pattern=r"^1\.(2[89]|3\d)$")] = "1.35"
    """Kubernetes version of the control plane; must be in estate/data/eks_versions.yaml and not
    past the end of EKS extended support."""
    support_type: Literal["STANDARD", "EXTENDED"] = "STANDARD"
    """EKS upgrade policy: `STANDARD` upgrades the cluster when standard support ends (no
    extended charges); `EXTENDED` keeps it for 12 more months at the extended-support rate
    ($0.60 instead of $0.10 per cluster-hour). A version already in extended support needs
    `EXTENDED`."""
    addon_versions: dict[AddonName, Annotated[str, Field(pattern=_ADDON_VERSION)]] = {}
    """Pinned EKS add-on versions (`vpc-cni: v1.20.4-eksbuild.2`); list them with `aws eks
    describe-addon-versions --kubernetes-version <version> --addon-name <name>`. Required for
    every add-on in prod; elsewhere an add-on left out gets EKS's default for the version."""
    bu_cpu_nodes: BuCpuNodesConfig = BuCpuNodesConfig()
    """The CPU node group for BU pods that need no GPU."""
    bu_deployers: Annotated[tuple[BuDeployerConfig, ...], _items(100)] = ()
    """Platform stacks: BU pipeline roles given namespace-scoped access to the shared cluster
    (EKS `AmazonEKSAdminPolicy` on their namespaces, plus RBAC for the BU's Namespace, quota
    and Karpenter objects, kept to the BU's own names by an admission policy)."""
    public_access_cidrs: Annotated[tuple[AllowCidr, ...], _items(40)] = ()
    """CIDRs allowed to reach a public API endpoint; empty keeps the endpoint private only."""
    api_access_cidrs: Annotated[tuple[PrivateCidr, ...], _items(60)] = ()
    """Private networks (deploy runners, VPN, peered VPCs) that reach the private API endpoint
    on 443. `pulumi up` must run from one of them, or from `publicAccessCidrs`."""
    system_nodes: SystemNodesConfig = SystemNodesConfig()
    """The add-on node group."""
    gpu_provisioners: Annotated[
        tuple[Literal["managed", "karpenter"], ...], Field(max_length=2)
    ] = ("managed", "karpenter")
    """GPU scaling machinery to install: cluster-autoscaler for managed node groups, Karpenter."""
    gpu_software: Literal["device-plugin", "gpu-operator"] = "device-plugin"
    """NVIDIA device plugin + DCGM exporter, or the NVIDIA GPU Operator (needed for MIG)."""
    time_slicing_replicas: int | None = Field(None, ge=2, le=48)
    """Share each GPU among this many pods with device-plugin time-slicing (off when unset)."""
    mig_strategy: Literal["none", "single", "mixed"] = "none"
    """MIG partitioning strategy (gpu-operator only)."""
    log_retention_days: LogRetentionDays | None = None
    """Control-plane log retention. Default: 365 in prod, 90 otherwise."""

    @model_validator(mode="after")
    def _gpu_software_rules(self) -> ClusterConfig:
        if self.mig_strategy != "none" and self.gpu_software != "gpu-operator":
            raise ValueError("migStrategy needs gpuSoftware: gpu-operator")
        if self.time_slicing_replicas and self.gpu_software != "device-plugin":
            raise ValueError("timeSlicingReplicas applies to gpuSoftware: device-plugin only")
        nodes = self.system_nodes
        if not nodes.min_size <= nodes.desired_size <= nodes.max_size:
            key = "minSize" if nodes.min_size > nodes.max_size else "desiredSize"
            raise rules_error(
                [
                    (
                        ("systemNodes", key),
                        "sizes must satisfy minSize <= desiredSize <= maxSize (got "
                        f"{nodes.min_size}, {nodes.desired_size}, {nodes.max_size})",
                        _NOTHING,
                    )
                ]
            )
        if self.system_nodes.min_size > self.system_nodes.max_size:
            raise ValueError("systemNodes.minSize must not exceed systemNodes.maxSize")
        cpu = self.bu_cpu_nodes
        if not cpu.min_size <= cpu.desired_size <= cpu.max_size:
            raise ValueError(
                "buCpuNodes: need minSize <= desiredSize <= maxSize "
                f"(got {cpu.min_size}, {cpu.desired_size}, {cpu.max_size})"
            )
        from estate.stack.eks_versions import check_version

        problem = check_version(self.version, self.support_type, dt.date.today())
        if problem:
            raise rules_error([(("version",), problem, _NOTHING)])
        return self


class GpuPoolConfig(_Model):
    """A GPU node pool of the BU (`ai-estate:gpuPools` entries)."""

    name: Slug
    """Short name, unique in the BU, e.g. `train-a100`."""
    provisioner: Literal["managed", "karpenter"] = "karpenter"
    """`managed`: an EKS managed node group scaled by cluster-autoscaler; `karpenter`: a NodePool."""
    instance_types: tuple[str, ...] = Field(min_length=1, max_length=20)
    """GPU instance types, all of one GPU model; list several for spot."""
    capacity_type: Literal["spot", "on-demand"] = "on-demand"
    """Spot (cheap, interruptible: training with checkpoints) or on-demand (serving)."""
    min_size: int = Field(0, ge=0, le=100)
    """Minimum nodes; 0 scales the pool to zero when idle."""
    desired_size: int = Field(0, ge=0, le=100)
    """Initial nodes (managed pools; the autoscaler owns it afterwards)."""
    max_size: int = Field(ge=1, le=100)
    """Maximum nodes: the pool's spending cap."""
    disk_gib: int = Field(200, ge=50, le=16000)
    """Root volume size (encrypted gp3 with the BU key); model weights and images live here."""
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    """NVIDIA-enabled EKS AMI family."""
    labels: Annotated[dict[str, str], Field(max_length=32)] = {}
    """Extra node labels (the BU, pool, GPU model and capacity type labels are always set)."""
    max_gpus: int | None = Field(None, ge=1, le=100_000)
    """GPU cap for the pool (Karpenter limits). Default: maxSize x GPUs per instance."""
    capacity_reservation_ids: Annotated[
        tuple[Annotated[str, Field(pattern=r"^cr-[0-9a-z]+$")], ...], _items(20)
    ] = ()
    """Karpenter pools: EC2 On-Demand Capacity Reservations or Capacity Blocks for ML
    (`cr-...`) to launch into. The pool then launches reserved capacity only
    (`karpenter.sh/capacity-type: reserved`)."""
    ami_version: Annotated[str, Field(pattern=r"^(latest|v[0-9][0-9.]*)$")] = "latest"
    """Karpenter pools: the EKS AMI release the nodes boot (`v20251120` for AL2023, `v1.26.2` for
    Bottlerocket). `latest` (dev only) rolls every node on each AMI release."""
    previous_name: Slug | None = None
    """The name this pool had before a rename. The pool's component is aliased from the previous
    name, and its resources follow it through that alias, so Pulumi moves them instead of
    deleting them; what carries the pool's name in AWS and Kubernetes (the node group, the
    NodePool, labels and taints) takes the new name, which replaces the nodes (a pool holds no
    data). Remove the key after the rename is deployed (README, "Renaming")."""

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        from components.gpu_pools import RESERVED_LABELS

        for key, value in labels.items():
            if key in RESERVED_LABELS:
                raise ValueError(f"label '{key}' is set by AI Estate and cannot be overridden")
            problem = label_key_problem(key) or label_value_problem(value)
            if problem:
                raise ValueError(problem)
        return labels

    @model_validator(mode="after")
    def _sizes(self) -> GpuPoolConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            key = "minSize" if self.min_size > self.max_size else "desiredSize"
            raise rules_error(
                [
                    (
                        (key,),
                        "sizes must satisfy minSize <= desiredSize <= maxSize (got "
                        f"{self.min_size}, {self.desired_size}, {self.max_size})",
                        _NOTHING,
                    )
                ]
            )
        from components import gpu_catalog

        if self.capacity_reservation_ids and self.provisioner != "karpenter":
            raise ValueError("capacityReservationIds needs provisioner: karpenter")
        unknown = [t for t in self.instance_types if not gpu_catalog.is_gpu_instance(t)]
        if unknown:
            raise rules_error(
                [
                    (
                        ("instanceTypes",),
                        f"not GPU instance types known to AI Estate: {', '.join(unknown)}",
                        _NOTHING,
                    )
                ]
            )
        try:
            gpu_catalog.gpu_model_of(list(self.instance_types))
        except ValueError as exc:
            raise rules_error([(("instanceTypes",), str(exc), _NOTHING)]) from None
        return self


def _quantity(value: Any) -> str:
    # An unquoted `cpuQuota: 128` is a YAML number; Kubernetes reads the same digits as a
    # quantity, so take numbers (never booleans) as the quantity they spell.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    problem = quantity_problem(value)
    if problem:
        raise ValueError(problem)
    return str(value)


Quantity = Annotated[str, BeforeValidator(_quantity)]


def _container_limits(limits: dict[str, str]) -> dict[str, str]:
    unknown = [k for k in limits if k not in CONTAINER_RESOURCES]
    if unknown:
        raise ValueError(
            f"may set {', '.join(CONTAINER_RESOURCES)} only, not '{unknown[0]}' "
            "(a default GPU would hand every pod a GPU)"
        )
    return limits


class TenantConfig(_Model):
    """`ai-estate:tenant`: the BU's namespace on the cluster."""

    gpu_quota: int | None = Field(None, ge=0, le=100_000)
    """Most physical GPUs the namespace's pods may hold. Default: the sum of the pools' GPU caps.
    On a time-sliced platform the `requests.nvidia.com/gpu` quota item becomes this x the
    platform's `timeSlicingReplicas` (read from its stack), as Karpenter limits and alarms do."""
    cpu_quota: Quantity = "64"
    """Cap on CPU requests (and limits) in the namespace, a Kubernetes quantity (`64`, `500m`)."""
    memory_quota: Quantity = "256Gi"
    """Cap on memory requests (and limits) in the namespace (`256Gi`)."""
    default_container_limits: Annotated[
        dict[str, Quantity],
        Field(max_length=len(CONTAINER_RESOURCES)),
        AfterValidator(_container_limits),
    ] = {
        "cpu": "2",
        "memory": "4Gi",
    }
    """LimitRange defaults for containers that set no limits."""
    gpu_borrowing_limit: int = Field(0, ge=0, le=100_000)
    """Physical GPUs the BU may borrow beyond `gpuQuota` while other BUs leave theirs idle
    (Kueue cohort borrowing; the owner preempts to reclaim them). The namespace may then hold
    `gpuQuota` + this, so the pools' caps must cover both; `gpuQuota` defaults to the pools' caps
    less this. Default 0: no borrowing."""


MAX_ARN = 2048
"""IAM allows role ARNs up to 2,048 characters (path 512 + name 64 + the rest)."""


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL")
    return value


RoleArn = Annotated[str, Field(max_length=MAX_ARN), AfterValidator(_role_arn)]
HttpsUrl = Annotated[str, Field(max_length=2048), AfterValidator(_https)]
Arn = Annotated[str, Field(max_length=MAX_ARN)]


class MlflowConfig(_Model):
    """`ai-estate:modelRegistry.mlflow`: a SageMaker managed MLflow tracking server."""

    enabled: bool = False
    """Build a tracking server whose artifact store is the registry bucket's `mlflow/` prefix."""
    size: Literal["Small", "Medium", "Large"] = "Small"
    """Tracking server size; it bills per hour while it exists."""
    mlflow_version: str | None = None
    """MLflow version; SageMaker's current default when unset."""
    weekly_maintenance_window_start: str | None = Field(
        None, pattern=r"^(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):[0-5]\d$"
    )
    """Weekly maintenance start in UTC (`TUE:03:30`); SageMaker picks one when unset."""


class ModelRegistryConfig(_Model):
    """`ai-estate:modelRegistry` (BU stacks)."""

    enabled: bool = True
    """Build the model registry at all."""
    model_families: Annotated[tuple[Slug, ...], _items()] = ()
    """Model families; each gets a SageMaker model package group `<bu>-<env>-<family>`."""
    image_names: Annotated[tuple[Slug, ...], _items()] = ()
    """Serving images, one ECR repository `<bu>-<env>/<name>` each. Empty: one per model family."""
    principal_arns: Annotated[tuple[RoleArn, ...], _items()] = ()
    """Extra roles (beyond the BU's personas) that may read the registry through its resource
    policies."""
    deploy_account_ids: Annotated[tuple[AccountId, ...], _items()] = ()
    """Accounts that deploy the BU's approved models: read the groups, pull images, read models/."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """Object Lock mode of the prod artifact bucket. COMPLIANCE can never be lifted or shortened,
    not even by the account root: choose it only where a regulation demands WORM storage."""
    object_lock_retention_days: int = Field(365, ge=30, le=36500)
    """Days each artifact version stays locked in prod (the policy pack's prod minimum is 30)."""
    noncurrent_version_retention_days: int = Field(365, ge=1, le=3650)
    """Keep overwritten artifact versions this long (the Object Lock retention wins if longer)."""
    untagged_image_expiry_days: int = Field(14, ge=1, le=365)
    """Expire untagged images after this many days."""
    tagged_images_kept: int = Field(200, ge=1, le=10000)
    """Tagged images kept per repository: enough to cover every version you may roll back to."""
    approval_emails: Annotated[tuple[Email, ...], _items()] = ()
    """Addresses notified of every model package state change (each confirms its subscription)."""
    approval_https_endpoints: Annotated[tuple[HttpsUrl, ...], _items()] = ()
    """HTTPS endpoints notified likewise (chat webhooks, ticketing)."""
    mlflow: MlflowConfig = MlflowConfig()
    """The optional MLflow tracking server."""

    @model_validator(mode="after")
    def _unique(self) -> ModelRegistryConfig:
        for label, items in (
            ("modelFamilies", self.model_families),
            ("imageNames", self.image_names),
            ("deployAccountIds", self.deploy_account_ids),
        ):
            dupes = sorted({n for n in items if items.count(n) > 1})
            if dupes:
                raise ValueError(f"{label} must be unique (repeated: {', '.join(dupes)})")
        return self


class AlarmSubscriptionConfig(_Model):
    """A subscriber of the BU's alarm topic."""

    protocol: Literal["email", "https", "sqs", "lambda"]
    """How SNS delivers: email, an HTTPS webhook, an SQS queue or a Lambda function."""
    endpoint: str = Field(max_length=2048)
    """The address, URL or ARN matching the protocol."""

    @model_validator(mode="after")
    def _endpoint_matches(self) -> AlarmSubscriptionConfig:
        checks: dict[str, tuple[Callable[[str], object], str]] = {
            "email": (_EMAIL.match, "an email address"),
            "https": (lambda v: v.startswith("https://"), "an https:// URL"),
            "sqs": (lambda v: re.match(r"^arn:aws[a-z-]*:sqs:", v), "an SQS queue ARN"),
            "lambda": (lambda v: re.match(r"^arn:aws[a-z-]*:lambda:", v), "a Lambda function ARN"),
        }
        ok, what = checks[self.protocol]
        if not ok(self.endpoint):
            raise ValueError(f"endpoint must be {what} for protocol {self.protocol}")
        return self


class MonitoringThresholdsConfig(_Model):
    """Alarm thresholds of the BU (defaults in components.monitoring.DEFAULT_THRESHOLDS)."""

    gpu_utilization_low_percent: float = Field(10, ge=0, le=100)
    """Average GPU utilisation below which the BU's GPUs count as idle (waste)."""
    gpu_utilization_low_minutes: int = Field(60, ge=5, le=1440)
    """How long utilisation must stay low before the idle alarm fires."""
    gpu_utilization_high_percent: float = Field(90, ge=0, le=100)
    """Average GPU utilisation above which the BU's GPUs count as saturated (risk)."""
    gpu_utilization_high_minutes: int = Field(15, ge=5, le=1440)
    """How long utilisation must stay high before the saturation alarm fires."""
    dynamodb_throttle_events: int = Field(10, ge=1, le=1_000_000_000)
    """Throttled requests per 5 minutes on an online table that page the BU."""
    dynamodb_system_errors: int = Field(1, ge=1, le=1_000_000_000)
    """DynamoDB system errors per 5 minutes that page the BU."""
    s3_5xx_errors: int = Field(5, ge=1, le=1_000_000_000)
    """S3 5xx errors per 5 minutes on the feature or artifact bucket."""
    s3_4xx_errors: int = Field(100, ge=1, le=1_000_000_000)
    """S3 4xx errors per 5 minutes (access denied floods, missing keys)."""

    @model_validator(mode="after")
    def _ordered(self) -> MonitoringThresholdsConfig:
        if self.gpu_utilization_low_percent >= self.gpu_utilization_high_percent:
            raise ValueError("gpuUtilizationLowPercent must be below gpuUtilizationHighPercent")
        return self


class ModelMetricConfig(_Model):
    """A model quality or drift metric the BU's monitors publish to `AIEstate/ModelQuality`."""

    model: Ident
    """Model dimension value."""
    metric: Ident
    """Metric dimension value, e.g. `auc` or `psi_amount_usd`."""
    threshold: float
    """The alarm threshold."""
    direction: Literal["below", "above"]
    """`below` for quality (AUC dropping), `above` for drift (PSI rising)."""
    period_seconds: int = Field(3600, ge=60, le=86400, multiple_of=60)
    """Aggregation period; evaluation jobs usually publish hourly or daily."""
    evaluation_periods: int = Field(1, ge=1, le=24)
    """Consecutive breaching periods before alarming."""
    treat_missing_data: Literal["missing", "breaching", "notBreaching", "ignore"] = "missing"
    """What a period without data means (default: notify, a stopped monitor is news)."""


class SageMakerEndpointConfig(_Model):
    """A SageMaker real-time endpoint whose latency and errors page the BU."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
    """The endpoint name."""
    variant: str = "AllTraffic"
    """The production variant."""
    latency_p99_ms: float = Field(gt=0, le=3_600_000)
    """p99 model latency (ms) above which the endpoint alarms."""
    max_5xx_per_period: float = Field(0, ge=0, le=1_000_000_000)
    """5xx responses per 5 minutes tolerated before alarming."""


# telemetry: defined before MonitoringConfig, whose default instantiates it
class PrometheusRulesConfig(_Model):
    """The BU's Prometheus rule groups in the AMP workspace of the cluster it runs on.

    Serving SLO burn rates, GPU idle waste (from `thresholds.gpuUtilizationLowPercent` and
    `gpuUtilizationLowMinutes`) and Kueue admission wait, alerting the BU's topic through the
    workspace's alert manager (list the BU in its platform's `businessUnits`)."""

    enabled: bool = True
    """Build the BU's rule groups namespace."""
    availability_objective: float = Field(0.995, ge=0.9, le=0.9999)
    """Each endpoint's 30-day availability SLO (share of successful readiness probes); the
    burn-rate alerts page at 14.4x and 6x and open a ticket at 3x and 1x its error budget."""
    queue_wait_p90_minutes: int = Field(30, ge=1, le=1440)
    """Alert when the 90th percentile admission wait of the BU's Kueue ClusterQueue exceeds
    this many minutes."""


class MonitoringConfig(_Model):
    """`ai-estate:monitoring` (BU stacks)."""

    # Named like the component arg (`BuMonitoringArgs.subscriptions`); the alias keeps the key.
    subscriptions: tuple[AlarmSubscriptionConfig, ...] = Field(
        (), alias="alarmSubscriptions", max_length=MAX_ITEMS
    )
    """Who hears the BU's alarms. Empty: the stack owner's email."""
    thresholds: MonitoringThresholdsConfig = MonitoringThresholdsConfig()
    """Alarm thresholds."""
    model_metrics: Annotated[tuple[ModelMetricConfig, ...], _items()] = ()
    """Model quality and drift metrics with thresholds."""
    sagemaker_endpoints: Annotated[tuple[SageMakerEndpointConfig, ...], _items()] = ()
    """SageMaker endpoints to watch."""
    kpis: Annotated[tuple[KpiConfig, ...], _items()] = ()
    """Business KPIs per model family (published to `AIEstate/BusinessKPI`), each alarmed
    against its target and graphed on the BU dashboard beside the model-quality metrics."""
    cost_anomaly: CostAnomalyConfig | None = None
    """A cost anomaly monitor on the BU's tagged spend, alerting the alarm topic. Unset: none."""
    prometheus_rules: PrometheusRulesConfig = PrometheusRulesConfig()
    """Prometheus rule groups (SLO burn rates, GPU idle waste, Kueue wait) in AMP."""


class BudgetConfig(_Model):
    """`ai-estate:budget` (BU stacks; required in staging and prod)."""

    monthly_limit_usd: float = Field(gt=0, le=1_000_000_000)
    """The BU's monthly AWS cost limit (USD), filtered by its BusinessUnit cost-allocation tag;
    the policy pack also refuses GPU pools whose peak cost exceeds it (prod)."""
    notify_emails: Annotated[tuple[Email, ...], _items(10)] = ()
    """Addresses AWS Budgets notifies directly at 80% and 100%, besides the alarm topic."""


PersonaName = Literal["data-scientist", "ml-engineer", "model-approver", "auditor"]


def _service_account(value: str) -> str:
    problem = service_account_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ServiceAccountName = Annotated[str, AfterValidator(_service_account)]
WorkloadName = Literal["feature-reader", "model-publisher", "model-trainer"]


class PersonaTrustConfig(_Model):
    """`ai-estate:access.personas.<persona>`: who may assume the persona's role (never `*`)."""

    saml_provider_arn: Arn | None = None
    """IAM SAML provider whose assertions (with `samlAudience`) may assume the role."""
    saml_audience: str = "https://signin.aws.amazon.com/saml"
    """Required `SAML:aud` of the assertion."""
    identity_center_role_arns: Annotated[tuple[Arn, ...], _items()] = ()
    """IAM Identity Center permission-set roles of this account allowed to assume the role."""
    oidc_provider_arn: Arn | None = None
    """IAM OIDC provider (e.g. a CI system) allowed to assume the role."""
    oidc_audience: str = "sts.amazonaws.com"
    """Required `<host>:aud` of the OIDC token."""
    oidc_subjects: Annotated[tuple[str, ...], _items()] = ()
    """Allowed `<host>:sub` patterns; required with an OIDC provider."""
    cross_account_role_arns: Annotated[tuple[RoleArn, ...], _items()] = ()
    """Roles in deploy accounts (e.g. a pipeline) allowed to assume the role."""
    max_session_hours: int = Field(1, ge=1, le=4)
    """Maximum session length of the role."""

    def as_trust(self) -> dict[str, Any]:
        """The trust spec `components.access` takes (unset sources left out)."""
        from components.access import PersonaTrust
        from estate.stack.convert import to_args

        return dict(to_args(self, PersonaTrust))


class AccessConfig(_Model):
    """`ai-estate:access` (BU stacks): persona roles, workload roles, key administrators."""

    enabled: bool = True
    """Build the BU's permission boundary, persona and workload roles."""
    personas: dict[PersonaName, PersonaTrustConfig] = {}
    """Trust per persona; personas left out get no role and no EKS access entry."""
    service_accounts: dict[WorkloadName, ServiceAccountName] = {
        "feature-reader": "feature-reader",
        "model-publisher": "model-publisher",
        "model-trainer": "model-trainer",
    }
    """Kubernetes service accounts (in the BU namespace) bound to the workload roles (the
    retraining jobs of `mlops.families.*.retraining` run as `model-trainer`)."""
    key_admin_role_arns: Annotated[tuple[RoleArn, ...], _items()] = ()
    """Roles that may administer (never use) the BU's KMS key."""


def _iso_date(value: Any) -> dt.date:
    # The stack loader keeps YAML dates as the text written (as the Pulumi CLI does), so a
    # date arrives here as a string either way; a number would be read as epoch seconds.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date YYYY-MM-DD, e.g. 2026-12-31")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"is not a real date ({exc})") from None


class WaiverConfig(_Model):
    """An exception to one policy for some resources, with a reason, a ticket and an expiry."""

    policy: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    """The policy id (see docs/policies.md)."""
    resource: str = Field(min_length=1, max_length=1024)
    """A resource name glob (`scratch-*`) or a full URN."""
    reason: str = Field(min_length=10, max_length=1024)
    """Why the exception is acceptable, for the reviewer and the auditor."""
    ticket: str = Field(min_length=2, max_length=64)
    """The ticket that approved it (e.g. `SEC-1234`)."""
    expires: Annotated[dt.date, BeforeValidator(_iso_date)]
    """The last day the waiver applies (YYYY-MM-DD, quoted or not); afterwards it blocks until
    renewed."""

    @model_validator(mode="after")
    def _bounded(self) -> WaiverConfig:
        if self.expires > dt.date.today() + dt.timedelta(days=366):
            raise ValueError("a waiver may run at most a year: set expires within 366 days")
        return self


# -- serving (ai-estate:serving) --------------------------------------------------------------
# Platform stacks set the Gateway (certificate, scheme, WAF, token issuer); BU stacks declare
# endpoints. Cross-field rules that need the rest of the stack (model families, images, GPU
# pools, environment) live in `serving_problems`, run with the other cross-key rules.

_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_WAF_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[\w-]+/[0-9a-f-]+$")
_IMAGE_REF = re.compile(
    r"^([a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))$"
)
_ROUTE_PATH = re.compile(r"^(/[a-z0-9][a-z0-9._-]*)+$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")


class ServingOidcConfig(_Model):
    """`ai-estate:serving.oidc` (platform stacks): the identity provider whose tokens the
    Gateway's ALB validates (`jwt-validation`) in front of every `auth: oidc` route."""

    issuer: HttpsUrl
    """The token issuer (`iss` claim), e.g. a Cognito user pool's
    `https://cognito-idp.<region>.amazonaws.com/<pool-id>`."""
    jwks_endpoint: HttpsUrl
    """The issuer's JSON Web Key Set URL the ALB fetches signing keys from."""
    required_scopes: Annotated[tuple[str, ...], _items(20)] = ()
    """Scopes every token must carry (`scope` claim, space separated); empty checks none."""


class ServingScheduleConfig(_Model):
    """When a scale-to-zero endpoint is up: KEDA's cron trigger holds one replica between
    `start` and `end`; outside them the endpoint scales to zero."""

    timezone: str = "UTC"
    """IANA time zone of the two cron expressions, e.g. `Europe/London`."""
    start: str = "0 8 * * 1-5"
    """Cron expression (5 fields) at which the endpoint comes up."""
    end: str = "0 19 * * 1-5"
    """Cron expression (5 fields) at which it may go back to zero."""

    @model_validator(mode="after")
    def _cron(self) -> ServingScheduleConfig:
        for key in ("start", "end"):
            if not _CRON.match(getattr(self, key)):
                raise ValueError(
                    f"{key} must be a 5-field cron expression (got {getattr(self, key)!r})"
                )
        return self


ModelVersion = (
    Annotated[int, Field(ge=1)]
    | Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*$")]
)
"""A model package version number (artifacts under `models/<family>/<version>/`) or an artifact
key below `models/<family>/` (e.g. `2026-11-30/run-42`)."""


class ServingCanaryConfig(_Model):
    """A canary of a new model version beside the endpoint's stable one
    (`serving.endpoints[].canary`): its own Deployment, target group and alarms, and a weighted
    share of the route. The deploy workflow stages it (`python -m estate.rollout stage`),
    `estate.rollout` watches its alarms, then promotes (the version becomes `modelVersion`) or
    aborts (the canary is removed)."""

    model_version: ModelVersion
    """The version the canary serves (different from the endpoint's `modelVersion`)."""
    weight: int = Field(10, ge=1, le=50)
    """Percent of the endpoint's requests the canary receives (the stable one gets the rest)."""
    replicas: int = Field(2, ge=1, le=20)
    """Fixed replica count of the canary (not autoscaled: its share of traffic is fixed); prod
    keeps at least 2 like every model server."""


class ServingEndpointConfig(_Model):
    """One model endpoint of the BU (`ai-estate:serving.endpoints[]`), served on the BU's GPU
    pool behind the platform Gateway."""

    name: Slug
    """Endpoint name, unique in the BU: names the Deployment, Service, route and alarms."""
    model_family: Slug
    """The model family served (must be in `modelRegistry.modelFamilies`)."""
    model_version: ModelVersion
    """A model package version number (artifacts under `models/<family>/<version>/`) or an
    artifact key below `models/<family>/` (e.g. `2026-11-30/run-42`)."""
    image: str
    """The runtime image: one of the BU's ECR repositories (`modelRegistry.imageNames`, or the
    model families) by tag (`card-fraud:1.4.2`) or digest (`card-fraud@sha256:...`)."""
    gpu_pool: Slug
    """The BU's GPU pool the replicas run on (one of `gpuPools[].name`)."""
    gpus_per_replica: int = Field(1, ge=1, le=8)
    """GPUs each replica requests (requests equal limits)."""
    cpu: str = "2"
    """CPU each replica requests and is limited to."""
    memory: str = "8Gi"
    """Memory each replica requests and is limited to."""
    min_replicas: int = Field(2, ge=0, le=100)
    """Fewest replicas; 0 (dev only) scales the endpoint to zero outside `schedule`."""
    max_replicas: int = Field(4, ge=1, le=100)
    """Most replicas (the cost and quota ceiling)."""
    target_requests_per_second: float | None = Field(None, gt=0)
    """Scale out when requests per replica exceed this (ALB `RequestCountPerTarget`)."""
    target_latency_ms: float | None = Field(None, gt=0)
    """Scale out when the target group's average response time exceeds this (ms)."""
    latency_p99_ms: float = Field(1000, gt=0)
    """p99 response time (ms) above which the endpoint alarms (p95 alarms at 80% of it)."""
    route_path: str | None = None
    """Path prefix on the Gateway, under `/<bu>/`. Default: `/<bu>/<name>`."""
    auth: Literal["oidc", "iam", "none"] = "oidc"
    """`oidc`: the ALB validates a bearer token from the platform's issuer; `none` needs a
    waiver of `serving-route-authenticated`. `iam` (SigV4) is not available on an ALB."""
    port: int = Field(8080, ge=1024, le=65535)
    """The container's HTTP port (non-root, so above 1023)."""
    health_path: str = "/health"
    """HTTP path the load balancer and kubelet probe."""
    online_tables: Annotated[tuple[Slug, ...], _items(20)] = ()
    """The BU's online tables (`featureStore.onlineTables[].name`) the model server reads."""
    schedule: ServingScheduleConfig | None = None
    """When a scale-to-zero endpoint (`minReplicas: 0`) is up (required with it)."""
    canary: ServingCanaryConfig | None = None
    """A new model version rolled out beside the stable one (normally staged and removed by
    the deploy workflow, not written by hand)."""

    @model_validator(mode="after")
    def _shape(self) -> ServingEndpointConfig:
        if self.canary is not None and str(self.canary.model_version) == str(self.model_version):
            raise ValueError(
                f"canary.modelVersion ({self.canary.model_version}) must differ from modelVersion"
            )
        if self.canary is not None and self.min_replicas == 0:
            raise ValueError("a canary needs an endpoint that is always up (minReplicas >= 1)")
        if not _IMAGE_REF.match(self.image):
            raise ValueError(
                f"image must be '<repository>:<tag>' or '<repository>@sha256:<digest>' naming one "
                f"of the BU's ECR repositories (got {self.image!r})"
            )
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})"
            )
        if (self.target_requests_per_second is None) == (self.target_latency_ms is None):
            raise ValueError("set exactly one of targetRequestsPerSecond and targetLatencyMs")
        if self.min_replicas == 0 and self.schedule is None:
            raise ValueError("minReplicas 0 needs a schedule (when the endpoint is up)")
        if self.route_path is not None and not _ROUTE_PATH.match(self.route_path):
            raise ValueError(
                f"routePath must be a lowercase path like /fraud/card (got {self.route_path!r})"
            )
        if not self.health_path.startswith("/"):
            raise ValueError("healthPath must start with /")
        if self.auth == "iam":
            raise ValueError(
                "auth: iam is not available: an ALB cannot verify SigV4; use auth: oidc with a "
                "client-credentials token from the platform's issuer"
            )
        return self

    @property
    def image_repository(self) -> str:
        """The repository part of `image` (`card-fraud`)."""
        match = _IMAGE_REF.match(self.image)
        assert match is not None
        return match.group(1)


class ServingConfig(_Model):
    """`ai-estate:serving`: the Gateway (platform stacks) or the BU's endpoints (BU stacks)."""

    enabled: bool | None = None
    """Platform stacks: install the serving plane (load-balancer controller, Gateway, KEDA,
    metrics-server). Default: on when `certificateArn` is set."""
    certificate_arn: str | None = None
    """Platform stacks: the ACM certificate of the Gateway's HTTPS listener (required to serve)."""

    @property
    def plane_enabled(self) -> bool:
        """Whether a platform stack builds the serving plane."""
        return self.certificate_arn is not None if self.enabled is None else self.enabled

    scheme: Literal["internal", "internet-facing"] = "internal"
    """Platform stacks: `internal` (the default) or `internet-facing`, which needs a waiver of
    `serving-gateway-internal` and always gets a WAF web ACL."""
    waf_acl_arn: str | None = None
    """Platform stacks: an existing regional WAF web ACL for an internet-facing Gateway; one is
    created (AWS managed rule groups) when unset."""
    hostname: str | None = Field(
        None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
    )
    """Platform stacks: the host name clients call (covered by the certificate)."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """Platform stacks: the HTTPS listener's ELB security policy."""
    oidc: ServingOidcConfig | None = None
    """Platform stacks: the token issuer behind `auth: oidc` routes."""
    endpoints: Annotated[tuple[ServingEndpointConfig, ...], _items(50)] = ()
    """BU stacks: the model endpoints."""

    @model_validator(mode="after")
    def _arns(self) -> ServingConfig:
        if self.certificate_arn is not None and not _ACM_ARN.match(self.certificate_arn):
            raise ValueError("certificateArn must be an ACM certificate ARN")
        if self.waf_acl_arn is not None and not _WAF_ARN.match(self.waf_acl_arn):
            raise ValueError("wafAclArn must be a regional WAFv2 web ACL ARN")
        if self.waf_acl_arn is not None and self.scheme != "internet-facing":
            raise ValueError("wafAclArn applies to scheme: internet-facing only")
        for label, values in (
            ("names", [e.name for e in self.endpoints]),
            ("routePaths", [e.route_path for e in self.endpoints if e.route_path]),
        ):
            dupes = sorted({n for n in values if values.count(n) > 1})
            if dupes:
                raise ValueError(f"endpoints {label} must be unique (repeated: {', '.join(dupes)})")
        return self


# --- readiness ---


class KpiConfig(_Model):
    """A business KPI of one model family: what the BU's jobs publish, and the target it holds.

    Jobs publish it to CloudWatch namespace `AIEstate/BusinessKPI` as metric `<name>` with
    dimensions `BusinessUnit` and `ModelFamily`, e.g. `aws cloudwatch put-metric-data --namespace
    AIEstate/BusinessKPI --metric-name fraud_loss_prevented_usd --dimensions
    BusinessUnit=fraud,ModelFamily=card-fraud --value 182000`."""

    model_family: Slug
    """The model family (one of `modelRegistry.modelFamilies`) whose outcome this measures."""
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")]
    """The metric name, e.g. `fraud_loss_prevented_usd` or `conversion_rate`."""
    unit: str = Field(min_length=1, max_length=32)
    """What the value counts (`USD`, `percent`, `orders`): shown on the alarm and the dashboard."""
    target: float
    """The value the KPI must hold; breaching it alarms to the BU's topic."""
    direction: Literal["atLeast", "atMost"]
    """`atLeast`: alarm when the KPI falls below the target (revenue, recall); `atMost`: alarm
    when it rises above (losses, false positives)."""
    period_seconds: int = Field(86400, ge=60, le=86400, multiple_of=60)
    """Aggregation period of the alarm (default a day: business KPIs move slowly)."""
    evaluation_periods: int = Field(1, ge=1, le=24)
    """Consecutive breaching periods before alarming."""


def kpi_problems(config: StackConfig) -> list[Problem]:
    """KPIs name a model family of the BU's registry, once per name."""
    families = {str(getattr(f, "name", f)) for f in config.model_registry.model_families}
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for i, kpi in enumerate(config.monitoring.kpis):
        if kpi.model_family not in families:
            known = ", ".join(sorted(families)) or "none declared"
            problems.append(
                (
                    ("monitoring", "kpis", i, "modelFamily"),
                    f"names no model family of modelRegistry.modelFamilies (known: {known})",
                    kpi.model_family,
                )
            )
        if (kpi.model_family, kpi.name) in seen:
            problems.append(
                (
                    ("monitoring", "kpis", i, "name"),
                    f"repeats KPI '{kpi.name}' of model family '{kpi.model_family}'",
                    kpi.name,
                )
            )
        seen.add((kpi.model_family, kpi.name))
    return problems


# --- end readiness ---


# --- data-backup ---


def _dr_region(value: str) -> str:
    from estate.stack.aws_regions import known_regions

    if value not in known_regions():
        raise ValueError(
            "must be an AWS region such as eu-central-1"
            + (did_you_mean(value, known_regions()) or "")
        )
    return value


class BackupConfig(_Model):
    """`ai-estate:backup` (BU stacks): AWS Backup of the BU's tables and data buckets."""

    enabled: bool = True
    """Back up the BU's online tables and data buckets with AWS Backup (prod requires it)."""
    rpo_hours: Literal[1, 2, 3, 4, 6, 8, 12, 24] = 24
    """Recovery point objective in hours: a recovery point at least this often."""
    retention_days: int = Field(35, ge=1, le=36500)
    """Days each recovery point is kept; the vault lock refuses shorter retention."""
    dr_region: Annotated[str, AfterValidator(_dr_region)] | None = None
    """Region that receives a copy of every recovery point, in a vault encrypted with a key of
    its own there (must differ from the stack's `aws:region`). Unset keeps backups in the
    stack's region; the policy pack's `backup-copies-out-of-region` asks for it in prod."""
    dr_retention_days: int | None = Field(None, ge=1, le=36500)
    """Days the DR copies are kept; unset keeps them as long as the originals."""
    lock_grace_days: int = Field(3, ge=3, le=36500)
    """Prod locks the vault in compliance mode: days the lock can still be removed after the
    first deployment (AWS's minimum is 3); after that nobody can shorten retention."""
    restore_test_schedule: str = Field(
        "cron(0 6 ? * SUN *)", pattern=r"^(cron|rate)\([^()]{1,200}\)$"
    )
    """When restore tests restore the latest recovery point of each table and bucket (UTC)."""


class AuditConfig(_Model):
    """`ai-estate:audit` (BU stacks): a CloudTrail trail of data events on the BU's data."""

    enabled: bool = True
    """Record who read and wrote the BU's buckets, tables and feature groups (prod requires it)."""
    retention_days: int = Field(365, ge=1, le=36500)
    """Days each log file stays under S3 Object Lock in the audit bucket."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """Object Lock mode of the audit bucket; COMPLIANCE can never be lifted, not even by root."""
    log_archive_bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    """A central log-archive account's bucket to deliver to instead of a local audit bucket
    (its bucket policy must admit this trail)."""
    log_archive_kms_key_arn: Arn | None = Field(None, pattern=r"^arn:aws[\w-]*:kms:")
    """The log-archive account's key for that bucket; unset: the BU key encrypts the files."""

    @model_validator(mode="after")
    def _archive_key_needs_bucket(self) -> AuditConfig:
        if self.log_archive_kms_key_arn and not self.log_archive_bucket:
            raise ValueError("logArchiveKmsKeyArn needs logArchiveBucket")
        return self


def backup_problems(config: StackConfig) -> list[Problem]:
    """Prod BU data is backed up (the pack then asks for the copy out of the region)."""
    problems: list[Problem] = []
    if config.kind != "bu" or config.environment != "prod":
        return problems
    if not config.backup.enabled:
        problems.append(
            (("backup", "enabled"), "must stay true in prod (AWS Backup of the BU's data)", False)
        )
    if not config.audit.enabled:
        problems.append(
            (("audit", "enabled"), "must stay true in prod (who read the BU's data)", False)
        )
    return problems


# --- kueue ---


def gpu_quota_problems(config: StackConfig) -> list[Problem]:
    """The BU's GPU quota and borrowing limit fit its pools: Kueue may admit quota + borrowing,
    and borrowed GPUs run on the BU's own (tainted) pools."""
    tenant = config.tenant
    if config.kind != "bu" or not tenant.gpu_borrowing_limit:
        return []
    from components.gpu_pools import GpuPoolSpec
    from components.kueue import default_gpu_quota, gpu_quota_problem
    from estate.stack.convert import to_args

    try:
        pools = [to_args(p, GpuPoolSpec) for p in config.gpu_pools]
        quota = tenant.gpu_quota
        if quota is None:
            quota = default_gpu_quota(pools, tenant.gpu_borrowing_limit)
        problem = gpu_quota_problem(pools, quota, tenant.gpu_borrowing_limit)
    except (KeyError, ValueError):
        return []  # a pool that is wrong on its own is reported at its key
    if not pools:
        problem = "needs GPU pools to borrow into (ai-estate:gpuPools)"
    return (
        [(("tenant", "gpuBorrowingLimit"), problem, tenant.gpu_borrowing_limit)] if problem else []
    )


# --- telemetry ---


class CostAnomalyConfig(_Model):
    """A Cost Anomaly Detection monitor on the BU's tagged spend, alerting its alarm topic.

    The monitor (type CUSTOM) watches the `BusinessUnit` cost-allocation tag; its subscription
    alerts the BU's alarm topic as soon as AWS finds an anomaly (frequency `IMMEDIATE`, the only
    one SNS subscribers take). Cost Explorer sees tags only once `BusinessUnit` is activated as
    a cost-allocation tag (README, "Deploying for real")."""

    threshold_usd: float = Field(gt=0, le=1_000_000_000)
    """Alert when an anomaly's total impact reaches this many USD (`ANOMALY_TOTAL_IMPACT_ABSOLUTE`)."""
    threshold_percent: float | None = Field(None, gt=0, le=10_000)
    """Also require the impact to reach this percentage of the expected spend
    (`ANOMALY_TOTAL_IMPACT_PERCENTAGE`, ANDed with the USD threshold). Unset: USD only."""


class CostExportConfig(_Model):
    """The CUR 2.0 data export of the platform account (AWS Data Exports).

    Delivered into a bucket encrypted with the platform key: hourly, per resource, with split
    cost allocation data, so EKS pod costs can be charged back per BU namespace. Split cost
    allocation for EKS must also be switched on once in the Billing console's cost management
    preferences (a payer-account setting)."""

    enabled: bool = True
    """Deliver the export (platform stacks)."""
    time_granularity: Literal["HOURLY", "DAILY", "MONTHLY"] = "HOURLY"
    """Line-item granularity (`TIME_GRANULARITY`)."""
    include_resources: bool = True
    """One line item per resource, with `line_item_resource_id` (`INCLUDE_RESOURCES`)."""
    split_cost_allocation_data: bool = True
    """Split EKS (and ECS) costs to pods, adding the `split_line_item_*` columns
    (`INCLUDE_SPLIT_COST_ALLOCATION_DATA`)."""
    format: Literal["PARQUET", "TEXT_OR_CSV"] = "PARQUET"
    """File format (Parquet is compressed as Parquet, CSV as GZIP)."""


class CostGovernanceConfig(_Model):
    """`ai-estate:costGovernance` (platform stacks): the account's cost data."""

    export: CostExportConfig = CostExportConfig()
    """The CUR 2.0 export with split cost allocation data."""


def cost_governance_problems(config: StackConfig) -> list[Problem]:
    """`costGovernance` and `businessUnits` are a platform stack's; each BU is listed once."""
    problems: list[Problem] = []
    # By value, not by presence: `pulumi up` passes Pulumi.yaml's empty defaults to every stack.
    set_on_bu = {
        "costGovernance": config.cost_governance != CostGovernanceConfig(),
        "businessUnits": bool(config.business_units),
    }
    for key, is_set in set_on_bu.items():
        if config.kind == "bu" and is_set:
            problems.append(
                (
                    (key,),
                    "belongs in platform stacks (list this BU in its platform's businessUnits)",
                    _NOTHING,
                )
            )
    names = list(config.business_units)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(
            (("businessUnits",), f"names must be unique (repeated: {', '.join(dupes)})", _NOTHING)
        )
    if config.monitoring.cost_anomaly is not None and not config.payer_account:
        problems.append(
            (
                ("monitoring", "costAnomaly"),
                "needs ai-estate:payerAccount: true (AWS creates cost anomaly monitors on "
                "cost-allocation tags only in a management or standalone account)",
                _NOTHING,
            )
        )
    if config.kind == "platform" and "platform" in names:
        problems.append((("businessUnits",), "'platform' is not a BU", "platform"))
    return problems


# --- end telemetry ---


# --- data-lf ---


class DataGovernanceConfig(_Model):
    """`ai-estate:dataGovernance` (platform stacks): what Lake Formation and the Glue Data Catalog
    keep once per account and region. BUs share their environment's account with the platform,
    so only the platform may set them (a BU stack would overwrite every other BU's)."""

    enabled: bool = True
    """Build the data lake settings, LF-tags, catalog encryption and the lineage reader role."""
    lake_formation_admins: Annotated[tuple[RoleArn, ...], _items(30)] = ()
    """Roles that administer Lake Formation. The data lake settings (no IAMAllowedPrincipals
    default on new databases and tables) are only written with at least one: they replace the
    account's admin list, so name every administrator, including the roles that deploy BU
    stacks (they tag and grant). Empty: the account's settings are left as they are."""
    lineage_readers: Annotated[tuple[Arn, ...], _items()] = ()
    """Roles (auditors, platform engineers; `*` allowed in the name, for Identity Center) that may
    assume `platform-<env>-lineage-reader`, which alone reads the account's SageMaker ML
    lineage. Empty: no lineage reader role."""
    dr_region: Annotated[str, AfterValidator(_dr_region)] | None = None
    """Region the registry replicates the BUs' ECR images to (`<bu>-<env>/...` repositories
    only; ECR replication is registry-wide, so the platform owns it), into immutable
    repositories encrypted with a platform key there. Use the BU stacks' `backup.drRegion`
    (which also replicates their model artifacts); must differ from `aws:region`. Unset: no
    image replication; the pack's `artifact-bucket-replicated` asks prod BUs for the artifacts."""


class LakeFormationConfig(_Model):
    """`ai-estate:lakeFormation` (BU stacks): the BU's offline store under Lake Formation."""

    enabled: bool = True
    """Register the offline store, tag the BU's database and tables, grant the personas by tag
    (confidential and restricted BUs need it: the pack's `lake-formation-governs-offline-store`)."""
    hybrid_access: bool = True
    """Register in hybrid access mode and opt the personas in: they need the Lake Formation
    grants, while the feature store writer and other IAM principals keep their IAM access
    during adoption. False: Lake Formation governs every principal of the location."""
    restricted_columns: Annotated[dict[Slug, Annotated[tuple[Ident, ...], _items()]], _items()] = {}
    """Feature group -> its restricted features: a data cells filter hides them from every
    persona that is not a `restrictedColumnReaders` persona, and the table is tagged
    `DataClassification=restricted`."""
    restricted_column_readers: Annotated[tuple[PersonaName, ...], _items(4)] = ()
    """Personas (data-scientist, ml-engineer) that read restricted columns too."""


def lake_formation_problems(config: StackConfig) -> list[Problem]:
    """Platform-only `dataGovernance`, BU-only `lakeFormation`; restricted columns name offline
    features of the BU and reading personas it has."""
    problems: list[Problem] = []
    governance = config.data_governance
    if config.kind == "bu" and governance != DataGovernanceConfig():
        problems.append(
            (("dataGovernance",), "belongs in platform stacks (account-wide settings)", _NOTHING)
        )
    lf = config.lake_formation
    if config.kind != "bu":
        if lf != LakeFormationConfig():
            problems.append((("lakeFormation",), "belongs in BU stacks", _NOTHING))
        return problems
    groups = {g.name: g for g in config.feature_store.feature_groups}
    for group, columns in lf.restricted_columns.items():
        where = ("lakeFormation", "restrictedColumns", group)
        if group not in groups or not groups[group].offline:
            problems.append((where, "names no feature group with an offline store", group))
            continue
        features = {f.name for f in groups[group].features}
        for i, column in enumerate(columns):
            if column not in features:
                problems.append(((*where, i), f"is not a feature of group '{group}'", column))
    readers = ("data-scientist", "ml-engineer")
    for i, persona in enumerate(lf.restricted_column_readers):
        if persona not in readers:
            problems.append(
                (
                    ("lakeFormation", "restrictedColumnReaders", i),
                    "must be a persona that reads feature data (data-scientist, ml-engineer)",
                    persona,
                )
            )
        elif persona not in config.access.personas:
            problems.append(
                (
                    ("lakeFormation", "restrictedColumnReaders", i),
                    "is not a persona of ai-estate:access.personas",
                    persona,
                )
            )
    return problems


# --- end data-lf ---
# --- data-dq ---


class DataQualityConfig(_Model):
    """`ai-estate:dataQuality` (BU stacks): Glue Data Quality of the offline feature store."""

    enabled: bool = True
    """Evaluate a Data Quality ruleset per offline feature group on a schedule (prod requires it)."""
    schedule: str = Field("cron(0 6 * * ? *)", pattern=r"^(cron|rate)\([^()]{1,200}\)$")
    """When each ruleset is evaluated (EventBridge Scheduler expression, UTC)."""
    max_event_lag_hours: int = Field(24, ge=1, le=8760)
    """The newest record of each group must be at most this many hours old (event time)."""
    number_of_workers: int = Field(2, ge=2, le=100)
    """G.1X workers per evaluation run (Glue's minimum is 2)."""


def data_quality_problems(config: StackConfig) -> list[Problem]:
    """Prod BU feature data is quality-checked."""
    if config.kind == "bu" and config.environment == "prod" and not config.data_quality.enabled:
        return [(("dataQuality", "enabled"), "must stay true in prod (Glue Data Quality)", False)]
    return []


# --- end data-dq ---


# --- mlops ---

_SCHEDULE_EXPRESSION = r"^(cron\([^()]{1,200}\)|rate\(\d{1,5} (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\))$"


class ModelOwnersConfig(_Model):
    """Who answers for a model family: tagged on its resources, named on its model card."""

    business: Email
    """The business owner: accountable for what the model decides and the KPI it moves."""
    technical: Email
    """The technical owner: receives the family's alarms and retraining failures."""
    risk: Email
    """The model-risk owner: reviews the model card and approves versions for production."""


class RetrainingConfig(_Model):
    """What triggers a family's retraining and how the training job runs on the BU's GPU pool."""

    schedule: str | None = Field(None, pattern=_SCHEDULE_EXPRESSION)
    """An EventBridge Scheduler expression (`cron(0 3 ? * SUN *)`, `rate(7 days)`) that queues a
    retraining; unset: no scheduled retraining."""
    schedule_timezone: str = Field("UTC", pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}$")
    """IANA time zone of `schedule` (`Europe/Berlin`)."""
    on_alarms: bool = True
    """The family's model-quality and drift alarms (`monitoring.modelMetrics` with `model` equal
    to the family) queue a retraining when they go to ALARM."""
    pool: Slug | None = None
    """The GPU pool (`gpuPools[].name`) the training job runs on. Default: the BU's first pool."""
    image: str
    """The training image: one of the BU's ECR repositories (`modelRegistry.imageNames`, or the
    model families) by tag (`card-fraud-trainer:1.0.0`) or digest (`...@sha256:...`)."""
    gpus: int = Field(1, ge=1, le=64)
    """GPUs one training job requests (requests equal limits; Kueue admits it against the BU's
    GPU quota)."""
    cpu: str = Field("4", pattern=r"^\d+(\.\d+)?m?$")
    """CPU one training job requests and is limited to."""
    memory: str = Field("32Gi", pattern=r"^\d+(Mi|Gi|Ti)$")
    """Memory one training job requests and is limited to."""
    max_parallel_jobs: int = Field(1, ge=1, le=20)
    """Most training jobs of the family running at once (queued messages wait)."""
    timeout_hours: int = Field(12, ge=1, le=12)
    """A training job running longer is stopped (`activeDeadlineSeconds`). At most 12: SQS hides
    a received message for at most 12 hours in total, so a longer run would see its request
    delivered again and trained twice."""

    @model_validator(mode="after")
    def _image_ref(self) -> RetrainingConfig:
        if not _IMAGE_REF.match(self.image):
            raise ValueError(
                f"image must be '<repository>:<tag>' or '<repository>@sha256:<digest>' naming one "
                f"of the BU's ECR repositories (got {self.image!r})"
            )
        if self.image.endswith(":latest"):
            raise ValueError("image must be pinned by an immutable tag or digest, not ':latest'")
        return self

    @property
    def image_repository(self) -> str:
        """The ECR repository name of `image` (`card-fraud-trainer`)."""
        match = _IMAGE_REF.match(self.image)
        assert match is not None  # checked by the validator
        return match.group(1)


class ThresholdConfig(_Model):
    """One metric a candidate model version must meet to stay in line for approval."""

    metric: Ident
    """The metric name in the candidate's model metrics (`auc`, `p99_latency_ms`)."""
    min: float | None = None
    """The candidate is rejected when the metric is below this."""
    max: float | None = None
    """The candidate is rejected when the metric is above this."""

    @model_validator(mode="after")
    def _bounds(self) -> ThresholdConfig:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold {self.metric!r} needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"threshold {self.metric!r}: min ({self.min}) exceeds max ({self.max})"
            )
        return self


class ValidationConfig(_Model):
    """The automatic validation gate in front of the human approver."""

    thresholds: Annotated[tuple[ThresholdConfig, ...], _items(50)] = ()
    """Every threshold must hold, or the gate rejects the candidate; empty: the gate rejects only
    candidates without metrics."""

    @model_validator(mode="after")
    def _unique(self) -> ValidationConfig:
        names = [t.metric for t in self.thresholds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"thresholds must name each metric once (repeated: {', '.join(dupes)})"
            )
        return self


class ModelCardConfig(_Model):
    """The family's SageMaker model card: what it is for, how risky, who owns it."""

    intended_use: str = Field(min_length=10, max_length=2048)
    """What the model is for and what it must not be used for."""
    risk_rating: Literal["low", "medium", "high", "unknown"]
    """The model-risk rating the risk owner assigned."""
    status: Literal["Draft", "PendingReview", "Approved", "Archived"] = "Draft"
    """The card's review status; a prod endpoint may serve the family only when `Approved`."""
    kpi: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")] | None = None
    """The business KPI the model moves: a `monitoring.kpis[].name` of this family."""


class MlopsFamilyConfig(_Model):
    """The retraining loop, validation gate, owners and model card of one model family."""

    owners: ModelOwnersConfig | None = None
    """Business, technical and risk owners (required in prod)."""
    retraining: RetrainingConfig | None = None
    """Triggers and the training job; unset: no retraining loop for the family."""
    validation: ValidationConfig = ValidationConfig()
    """Thresholds the automatic gate checks before a human approves."""
    model_card: ModelCardConfig | None = None
    """The family's model card (required in prod)."""


class DeployDispatchConfig(_Model):
    """Approval → deployment: an approved model version starts the deploy workflow of the
    repository that holds the stacks (GitHub `repository_dispatch`)."""

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
    """`owner/name` of the repository whose deploy workflow rolls the endpoint."""
    api_url: HttpsUrl = "https://api.github.com"
    """The GitHub API (GitHub Enterprise Server: `https://HOST/api/v3`)."""
    event_type: str = Field("model-approved", pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")
    """The `repository_dispatch` event type the workflow listens for."""
    token_secret_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$",
    )
    """An existing Secrets Manager secret holding the GitHub token; unset: see the README
    ("The retraining loop") for how the token reaches the connection."""


class MlopsConfig(_Model):
    """`ai-estate:mlops` (BU stacks): the closed loop per model family."""

    families: Annotated[dict[Slug, MlopsFamilyConfig], _items()] = {}
    """Per model family of `modelRegistry.modelFamilies`: owners, retraining, gate, model card."""
    deploy_dispatch: DeployDispatchConfig | None = None
    """Start the deploy workflow when a model version is approved; unset: deploy by hand."""


def mlops_problems(config: StackConfig) -> list[Problem]:
    """The loop names the BU's own families, pools, images and KPIs; prod families are owned,
    retrained and carded."""
    ml = config.mlops
    if config.kind != "bu":
        if ml.families or ml.deploy_dispatch is not None:
            return [(("mlops",), "belongs in BU stacks", _NOTHING)]
        return []
    problems: list[Problem] = []
    if not config.model_registry.enabled:
        if ml.families or ml.deploy_dispatch is not None:
            # the loop runs on the registry's package groups, artifacts and images
            return [(("mlops",), "needs modelRegistry.enabled (the model registry)", _NOTHING)]
        return []
    if ml.deploy_dispatch is not None and not config.access.enabled:
        problems.append(
            (
                ("mlops", "deployDispatch"),
                "needs access.enabled (its invoke role lives under the BU's boundary)",
                _NOTHING,
            )
        )
    if ml.families and not config.access.enabled:
        problems.append(
            (
                ("mlops", "families"),
                "need access.enabled (each family's validation gate runs as a reject-only role "
                "under the BU's boundary)",
                _NOTHING,
            )
        )
    families = set(config.model_registry.model_families)
    images = set(config.model_registry.image_names or config.model_registry.model_families)
    pools = [p.name for p in config.gpu_pools]
    metrics = {m.model for m in config.monitoring.model_metrics}
    for family, spec in ml.families.items():
        at: tuple[str | int, ...] = ("mlops", "families", family)
        if family not in families:
            known = ", ".join(sorted(families)) or "none declared"
            problems.append(
                (
                    at,
                    f"names no model family of modelRegistry.modelFamilies (known: {known})",
                    family,
                )
            )
        r = spec.retraining
        if r is not None:
            if r.pool is not None and r.pool not in pools:
                problems.append(
                    ((*at, "retraining", "pool"), "is not one of gpuPools[].name", r.pool)
                )
            if r.pool is None and not pools:
                problems.append(
                    ((*at, "retraining"), "needs a GPU pool (gpuPools is empty)", _NOTHING)
                )
            pool = (
                next((p for p in config.gpu_pools if p.name == (r.pool or pools[0])), None)
                if pools
                else None
            )
            if pool is not None:
                from components import gpu_catalog

                per_type = [gpu_catalog.instance_info(t).gpus for t in pool.instance_types]
                # Karpenter launches a type the pod fits; a node group may launch any of them
                per_node = max(per_type) if pool.provisioner == "karpenter" else min(per_type)
                if r.gpus > per_node:
                    problems.append(
                        (
                            (*at, "retraining", "gpus"),
                            f"does not fit one node of pool {pool.name} ({per_node} GPUs per "
                            "node): the job would never start",
                            r.gpus,
                        )
                    )
            if r.image_repository not in images:
                problems.append(
                    (
                        (*at, "retraining", "image"),
                        "names no ECR repository of the BU (modelRegistry.imageNames or the families)",
                        r.image,
                    )
                )
            if not config.access.enabled or "model-trainer" not in config.access.service_accounts:
                problems.append(
                    (
                        (*at, "retraining"),
                        "runs as the model-trainer workload role: needs access.enabled and "
                        "access.serviceAccounts.model-trainer",
                        _NOTHING,
                    )
                )
            if r.schedule is None and not (r.on_alarms and family in metrics):
                problems.append(
                    (
                        (*at, "retraining"),
                        "has no trigger: set schedule, or onAlarms with a monitoring.modelMetrics "
                        "entry whose model is the family",
                        _NOTHING,
                    )
                )
        card = spec.model_card
        if card is not None and card.kpi is not None:
            kpis = {k.name for k in config.monitoring.kpis if k.model_family == family}
            if card.kpi not in kpis:
                problems.append(
                    (
                        (*at, "modelCard", "kpi"),
                        "is not a monitoring.kpis[].name of this family",
                        card.kpi,
                    )
                )
    if config.environment == "prod":
        for i, family in enumerate(config.model_registry.model_families):
            declared = ml.families.get(family)
            for missing, what in (
                (declared is None or declared.owners is None, "owners"),
                (declared is None or declared.retraining is None, "retraining"),
                (declared is None or declared.model_card is None, "modelCard"),
            ):
                if missing:
                    problems.append(
                        (
                            ("mlops", "families", family),
                            f"prod model family {family!r} (modelRegistry.modelFamilies[{i}]) needs {what}",
                            _NOTHING,
                        )
                    )
    return problems


# --- end mlops ---


class StackConfig(_Model):
    """Everything under `ai-estate:` in one stack file."""

    kind: Literal["platform", "bu"]
    """`platform` for the shared estate of an environment, `bu` for one BU's tenant."""
    business_unit: Slug
    """The BU slug (`platform` for platform stacks); tags, names and isolation derive from it."""
    environment: Environment
    """`dev`, `staging` or `prod`; prod protects stateful resources and tightens the policy profile."""
    owner: Email
    """The team that answers for this stack: alarms and budgets go to it."""
    cost_center: str = Field(min_length=2, max_length=64)
    """Cost center for chargeback, tagged on every resource."""
    account_id: AccountId
    """The 12-digit AWS account this stack deploys to; the provider refuses any other."""
    data_classification: DataClassification
    """The most sensitive data this stack holds; tagged on every resource."""
    platform_stack: str | None = Field(None, pattern=r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$")
    """BU stacks: the fully qualified platform stack to reference (`org/ai-estate/platform-prod`)."""
    network: NetworkConfig = NetworkConfig()
    """VPC settings (platform stacks)."""
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    """Feature store settings (BU stacks)."""
    cluster: ClusterConfig = ClusterConfig()
    """EKS cluster settings (platform stacks; BU stacks choose shared or dedicated)."""
    gpu_pools: Annotated[tuple[GpuPoolConfig, ...], _items()] = ()
    """The BU's GPU node pools (BU stacks)."""
    tenant: TenantConfig = TenantConfig()
    """The BU's namespace, quotas and limits on the cluster (BU stacks)."""
    model_registry: ModelRegistryConfig = ModelRegistryConfig()
    """Model registry settings (BU stacks)."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Alarms, subscriptions and thresholds (BU stacks)."""
    access: AccessConfig = AccessConfig()
    """Persona and workload roles of the BU (BU stacks)."""
    activate_cost_allocation_tags: bool = False
    """Removed: must stay unset or false. AWS activates cost-allocation tags only from the
    Organizations management account (or a standalone account), so a platform stack in a member
    account cannot; activate `BusinessUnit` there once (README, "Deploying for real")."""
    budget: BudgetConfig | None = None
    """The BU's monthly budget (BU stacks; required in staging and prod)."""
    waivers: Annotated[tuple[WaiverConfig, ...], _items()] = ()
    """Time-boxed exceptions to policies, applied by the policy pack (see docs/policies.md)."""
    serving: ServingConfig = ServingConfig()
    """The serving plane (platform stacks) or the BU's model endpoints (BU stacks)."""
    backup: BackupConfig = BackupConfig()
    """AWS Backup of the BU's tables and data buckets (BU stacks)."""
    audit: AuditConfig = AuditConfig()
    """The CloudTrail data-event trail on the BU's data (BU stacks)."""
    cost_governance: CostGovernanceConfig = CostGovernanceConfig()
    """The CUR 2.0 export of the account (platform stacks)."""
    payer_account: bool = False
    """This stack's account pays its own bill: an AWS Organizations management account or a
    standalone account. AWS creates cost categories and cost anomaly monitors on cost-allocation
    tags only in such accounts, so the platform's cost category and a BU's
    `monitoring.costAnomaly` need it; in a member account create them from the management
    account instead (README, "Deploying for real")."""
    business_units: Annotated[tuple[Slug, ...], _items()] = ()
    """Platform stacks: the BUs whose stacks run on this platform. Each gets an Alertmanager
    route from the platform's Prometheus to its alarm topic and, with `payerAccount`, a value
    in the cost category `ai-estate-<env>-business-unit` (a rule on its `BusinessUnit` tag, so
    Cost Explorer and the CUR 2.0 export group spend by BU). Empty: neither."""
    data_governance: DataGovernanceConfig = DataGovernanceConfig()
    """Lake Formation settings, LF-tags, catalog encryption and lineage readers (platform)."""
    lake_formation: LakeFormationConfig = LakeFormationConfig()
    """The BU's offline store under Lake Formation: tags, grants, column filters (BU stacks)."""
    data_quality: DataQualityConfig = DataQualityConfig()
    """Glue Data Quality rulesets on the offline feature store, run on a schedule (BU stacks)."""
    mlops: MlopsConfig = MlopsConfig()
    """The closed MLOps loop per model family: retraining, validation gate, owners, model cards,
    approval → deployment (BU stacks)."""

    @model_validator(mode="before")
    @classmethod
    def _project_defaults_mean_unset(cls, data: Any) -> Any:
        # `pulumi up` merges Pulumi.yaml's declared defaults into the program's config, and
        # Pulumi has no "unset" default: an optional key's default there is "" or {} (see
        # estate/docgen/pulumi_yaml.py). Read those as the key left out, as `estate` does.
        if not isinstance(data, dict):
            return data
        optional = {
            f.alias or name
            for name, f in cls.model_fields.items()
            if not f.is_required() and f.default is None
        }
        return {k: v for k, v in data.items() if not (k in optional and v in ("", {}))}

    @model_validator(mode="after")
    def _stack_rules(self) -> StackConfig:
        problems = stack_problems(self)
        if problems:
            raise rules_error(problems)
        return self

    @model_validator(mode="after")
    def _resolve_defaults(self) -> StackConfig:
        """Fill in the defaults that depend on other settings, so the program and the components
        see one resolved value per field (and the docs' "Default: ..." is decided here)."""
        retention = 365 if self.environment == "prod" else 90
        network_defaults = {
            "nat_gateways": "perAz" if self.environment == "prod" else "single",
            "flow_log_retention_days": retention,
        }
        resolved: dict[str, Any] = {
            "network": _with_defaults(self.network, network_defaults),
            "cluster": _with_defaults(self.cluster, {"log_retention_days": retention}),
            "monitoring": self.monitoring
            if self.monitoring.subscriptions
            else self.monitoring.model_copy(
                update={
                    "subscriptions": (
                        AlarmSubscriptionConfig(protocol="email", endpoint=self.owner),
                    )
                }
            ),
        }
        if any(e.route_path is None for e in self.serving.endpoints):
            endpoints = tuple(
                e
                if e.route_path is not None
                else e.model_copy(update={"route_path": f"/{self.business_unit}/{e.name}"})
                for e in self.serving.endpoints
            )
            resolved["serving"] = self.serving.model_copy(update={"endpoints": endpoints})
        if self.tenant.gpu_quota is None:
            from components.gpu_pools import GpuPoolSpec
            from components.kueue import default_gpu_quota
            from estate.stack.convert import to_args

            quota = default_gpu_quota(
                [to_args(p, GpuPoolSpec) for p in self.gpu_pools], self.tenant.gpu_borrowing_limit
            )
            resolved["tenant"] = self.tenant.model_copy(update={"gpu_quota": quota})
        for key, value in resolved.items():
            # The model is frozen for its users; resolving is part of building it.
            object.__setattr__(self, key, value)
        return self

    @model_validator(mode="after")
    def _pinned_addons_in_prod(self) -> StackConfig:
        if self.environment == "prod" and self.dedicated_cluster:
            from components.cluster import addon_names

            missing = [a for a in addon_names() if a not in self.cluster.addon_versions]
            if missing:
                raise rules_error(
                    [
                        (
                            ("cluster", "addonVersions"),
                            "prod pins every EKS add-on version (missing "
                            f"{', '.join(missing)}); see `aws eks describe-addon-versions`",
                            _NOTHING,
                        )
                    ]
                )
        return self

    @property
    def dedicated_cluster(self) -> bool:
        """Whether this stack builds its own EKS cluster."""
        return self.kind == "platform" or self.cluster.mode == "dedicated"

    @property
    def protect_stateful(self) -> bool:
        """Stateful roots carry `protect` and `retain_on_delete` in prod."""
        return self.environment == "prod"

    @property
    def nat_mode(self) -> str:
        """NAT gateways of the stack's VPC (resolved: perAz in prod, single elsewhere)."""
        return str(self.network.nat_gateways)


def _with_defaults(model: _M, defaults: dict[str, Any]) -> _M:
    """`model` with each of `defaults` filled in where the stack file left it unset (None)."""
    unset = {k: v for k, v in defaults.items() if getattr(model, k) is None}
    return model.model_copy(update=unset) if unset else model


# -- rules that span keys ------------------------------------------------------------------------

_NOTHING = object()
"""`got` of a problem that shows no value."""

Problem = tuple[tuple[Any, ...], str, Any]
"""A rule broken at a key path (camelCase, relative to the model that found it): where, what is
wrong, and the value as written (or `_NOTHING`)."""


def rules_error(problems: list[Problem]) -> PydanticCustomError:
    """One pydantic error that carries several located problems; `format_errors` unpacks it, so
    a rule spanning keys still names the exact key (`ai-estate:gpuPools[1].maxGpus`)."""
    return PydanticCustomError(
        "config_rules", "{summary}", {"summary": problems[0][1], "problems": problems}
    )


def _camel_words(message: str) -> str:
    """Component messages name their args in snake_case; users know the camelCase keys."""
    return re.sub(
        r"(?<![\w'])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w'])",
        lambda m: to_camel(str(m.group(1))) if m.group(1) in _field_names() else m.group(1),
        message,
    )


def _strip_where(message: str) -> str:
    """Drop a component's `GPU pool 'x' of BU 'y': ` preamble: the key path already says it."""
    return re.sub(r"^[A-Za-z ]+'[^']*'(?: of BU '[^']*')?: ", "", message)


def _component_problem(loc: tuple[Any, ...], exc: ValueError, got: Any = _NOTHING) -> Problem:
    return (loc, _camel_words(_strip_where(str(exc))), got)


def stack_warnings(config: StackConfig) -> list[Problem]:
    """Advice that does not block the stack, each at its key. `estate validate` prints it, the
    program logs it as a Pulumi warning under `pulumi up`, and `estate check` reports it as an
    advisory finding (`program-warning`) naming the file and key."""
    from components.gpu_pools import pool_warnings

    warnings: list[Problem] = []
    for i, pool in enumerate(config.gpu_pools):
        spec = {
            "name": pool.name,
            "capacity_type": pool.capacity_type,
            "instance_types": list(pool.instance_types),
        }
        for message in pool_warnings(spec):  # type: ignore[arg-type]  # the keys it reads
            warnings.append((("gpuPools", i, "instanceTypes"), message, _NOTHING))
    return warnings


def warning_lines(source: str, config: StackConfig) -> list[str]:
    """`source: key: warning: advice` lines, one per `stack_warnings` item."""
    return [
        f"{source}: {key_path(loc)}: warning: {_camel_words(message)}"
        for loc, message, _ in stack_warnings(config)
    ]


def stack_problems(config: StackConfig) -> list[Problem]:
    """Every rule that needs more than one key (or the components' own argument checks).

    The components check their arguments with the same functions (`validate_pool`,
    `validate_business_unit`, `plan_subnets`, ...), for programmatic users; running them here
    is what keeps `estate validate` from passing what `estate check` then rejects.
    """
    problems: list[Problem] = []
    bu, env = config.business_unit, config.environment
    if config.activate_cost_allocation_tags:
        problems.append(
            (
                ("activateCostAllocationTags",),
                "is no longer a stack setting: activate the BusinessUnit cost-allocation tag once "
                "from the Organizations management account (aws ce "
                "update-cost-allocation-tags-status, see README 'Deploying for real') and remove "
                "the key",
                True,
            )
        )
    if config.kind == "bu":
        problems.extend(_bu_problems(config))
    problems.extend(serving_problems(config))
    problems.extend(kpi_problems(config))
    problems.extend(backup_problems(config))
    problems.extend(data_quality_problems(config))
    problems.extend(gpu_quota_problems(config))
    problems.extend(cost_governance_problems(config))
    problems.extend(lake_formation_problems(config))
    problems.extend(mlops_problems(config))
    if config.kind == "platform":
        if bu != "platform":
            problems.append((("businessUnit",), "must be 'platform' for a platform stack", bu))
        if config.gpu_pools:
            problems.append(
                (
                    ("gpuPools",),
                    "belong in BU stacks; platform stacks provide the machinery",
                    _NOTHING,
                )
            )
    if config.dedicated_cluster:
        problems.extend(_cluster_problems(config))
    for i, family in enumerate(config.model_registry.model_families):
        group = f"{bu}-{env}-{family}"
        if len(group) > 63:
            problems.append(
                (
                    ("modelRegistry", "modelFamilies", i),
                    f"the model package group name '{group}' is over 63 characters",
                    family,
                )
            )
    for i, feature_group in enumerate(config.feature_store.feature_groups):
        # SageMaker's CreateFeatureGroup takes FeatureGroupName of at most 64 characters.
        full = f"{bu}-{env}-{feature_group.name}"
        if len(full) > 64:
            problems.append(
                (
                    ("featureStore", "featureGroups", i, "name"),
                    f"the feature group name '{full}' is over SageMaker's 64 characters",
                    feature_group.name,
                )
            )
    names = [p.name for p in config.gpu_pools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(
            (("gpuPools",), f"names must be unique (repeated: {', '.join(dupes)})", _NOTHING)
        )
    renamed = rename_problem(config.gpu_pools)
    if renamed:
        problems.append((("gpuPools",), renamed, _NOTHING))
    return problems


def _bu_problems(config: StackConfig) -> list[Problem]:
    from components.access import persona_trust_statements, validate_business_unit
    from components.gpu_pools import validate_pool

    problems: list[Problem] = []
    bu, env = config.business_unit, config.environment
    if not config.platform_stack and config.cluster.mode == "shared":
        problems.append(
            (
                ("platformStack",),
                "is required for a bu stack on the shared cluster "
                "(the platform stack it runs on, e.g. acme/ai-estate/platform-prod)",
                _NOTHING,
            )
        )
    if bu == "platform":
        problems.append((("businessUnit",), "'platform' is reserved for platform stacks", bu))
    else:
        problem = namespace_problem(bu)
        if problem:
            problems.append((("businessUnit",), f"names the BU's namespace: {problem}", bu))
        else:
            try:
                validate_business_unit(bu, env)
            except ValueError as exc:
                problems.append(_component_problem(("businessUnit",), exc, bu))
    if env != "dev" and config.budget is None:
        problems.append(
            (
                ("budget",),
                "is required for bu stacks in staging and prod "
                "(ai-estate:budget: {monthlyLimitUsd: ...})",
                _NOTHING,
            )
        )
    for persona, trust in config.access.personas.items():
        try:
            persona_trust_statements(persona, trust.as_trust(), account_id=config.account_id)  # type: ignore[arg-type]
        except ValueError as exc:
            problems.append(_component_problem(("access", "personas", persona), exc))
    if not problems:
        for i, pool in enumerate(config.gpu_pools):
            spec = {k: list(v) if isinstance(v, tuple) else v for k, v in pool.model_dump().items()}
            if spec.get("max_gpus") is None:
                spec.pop("max_gpus", None)
            try:
                validate_pool(bu, env, spec, has_k8s_provider=True)  # type: ignore[arg-type]
            except ValueError as exc:
                problems.append(_component_problem(("gpuPools", i), exc))
    return problems


def _cluster_problems(config: StackConfig) -> list[Problem]:
    from components.addons import cluster_autoscaler_image_tag
    from components.cluster import MIN_KUBERNETES_VERSION, kubernetes_minor
    from components.network import plan_subnets

    problems: list[Problem] = []
    version = config.cluster.version
    if kubernetes_minor(version) < MIN_KUBERNETES_VERSION:
        floor = ".".join(map(str, MIN_KUBERNETES_VERSION))
        problems.append(
            (
                ("cluster", "version"),
                f"Kubernetes {version} is too old; the estate needs {floor} or later",
                version,
            )
        )
    elif "managed" in config.cluster.gpu_provisioners:
        try:
            cluster_autoscaler_image_tag(version)
        except ValueError as exc:
            problems.append(_component_problem(("cluster", "version"), exc, version))
    try:
        plan_subnets(config.network.cidr, config.network.az_count)
    except ValueError as exc:
        problems.append(_component_problem(("network", "cidr"), exc, config.network.cidr))
    return problems


# -- loading a stack file ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedStack:
    """A validated stack: its name, file, config model and the raw config (for PULUMI_CONFIG)."""

    name: str
    path: Path
    config: StackConfig
    raw: dict[str, Any]
    region: str


class ConfigError(Exception):
    """One or more user errors in a stack file; `lines` are ready to print, one per error."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


MAX_SHOWN = 200
"""Values longer than this are shown truncated in error messages (a 1 MB value is a mistake,
and echoing it whole buries the message)."""


class YamlInt(int):
    """An integer read from YAML that remembers how it was written (`012345670123`)."""

    yaml_source: str

    def __reduce__(self) -> Any:
        return (_yaml_int, (int(self), self.yaml_source))


def _yaml_int(value: int, source: str) -> YamlInt:
    out = YamlInt(value)
    out.yaml_source = source
    return out


def one_line(text: str) -> str:
    """One line per error, always: newlines and other control characters are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value: Any) -> str:
    """A value as the user wrote it in YAML (`'2026-01-01'`, `false`, `012`), truncated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, YamlInt):
        return value.yaml_source
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return f"'{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} entries"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    text = one_line(str(value))
    if len(text) > MAX_SHOWN:
        return "'" + text[:MAX_SHOWN].replace("'", "''") + f"…' ({len(text)} characters)"
    return "'" + text.replace("'", "''") + "'"


def _key_part(part: Any) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    text = str(part)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text) and len(text) <= 64:
        return f".{text}"
    return f"[{shown(text)}]"


def key_path(loc: Iterable[Any], namespace: str = NAMESPACE) -> str:
    """`('gpuPools', 0, 'maxSize')` -> `ai-estate:gpuPools[0].maxSize`."""
    parts = [p for p in loc if p != "[key]"]
    if not parts:
        return namespace
    first = one_line(str(parts[0]))
    key = f"{namespace}:{first[:MAX_SHOWN]}"
    for part in parts[1:]:
        key += _key_part(part)
    return key


def _model_at(loc: Iterable[Any]) -> type[BaseModel] | None:
    """The model class found at a key path of StackConfig (for "did you mean")."""
    annotation: Any = StackConfig
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif typing.get_origin(annotation) in (tuple, list, dict):
            args = typing.get_args(annotation)
            annotation = args[-1] if typing.get_origin(annotation) is dict else args[0]
        else:
            return None
    annotation = _unwrap(annotation)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean X?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


_BOOLEAN_HINT = (
    "; YAML reads unquoted true/false/yes/no/on/off as booleans: quote the value if you meant text"
)


def _describe(error: ErrorDetails) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    loc = error["loc"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        aliases = [f.alias or n for n, f in model.model_fields.items()] if model else []
        hint = did_you_mean(str(loc[-1]), aliases)
        if hint:
            return f"is not a known key (keys are camelCase){hint}"
        return "is not a known key (check the spelling; keys are camelCase)"
    if kind in ("literal_error", "enum"):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or re.findall(
            r"-?\d+", str(ctx.get("expected", ""))
        )
        return f"must be one of {', '.join(expected)} (got {shown(got)})"
    simple = {
        "string_type": "must be a string",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "tuple_type": "must be a list",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "date_type": "must be a date YYYY-MM-DD",
        "date_parsing": "must be a date YYYY-MM-DD",
        "date_from_datetime_parsing": "must be a date YYYY-MM-DD",
    }
    if kind in simple:
        message = simple[kind]
        if kind == "string_type" and isinstance(got, bool):
            return f"{message} (got {shown(got)}){_BOOLEAN_HINT}"
        if kind == "string_type" and isinstance(got, (int, float)):
            return f"{message} (got {shown(got)}); quote it to keep it as text"
        if isinstance(got, (dict, list, tuple)):
            return f"{message} (got {shown(got)})"
        return f"{message} (got {shown(got)})"
    if kind in ("too_long", "too_short"):
        bound = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        word = "at most" if kind == "too_long" else "at least"
        count = ctx.get("actual_length", len(got) if hasattr(got, "__len__") else "?")
        return f"must have {word} {bound} entries (got {count})"
    if kind in ("string_too_long", "string_too_short"):
        bound = ctx.get("max_length") if kind == "string_too_long" else ctx.get("min_length")
        word = "at most" if kind == "string_too_long" else "at least"
        return f"must be {word} {bound} characters (got {shown(got)})"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')} (got {shown(got)})"
    comparisons = {
        "greater_than": "must be greater than {gt}",
        "greater_than_equal": "must be at least {ge}",
        "less_than": "must be less than {lt}",
        "less_than_equal": "must be at most {le}",
        "multiple_of": "must be a multiple of {multiple_of}",
    }
    if kind in comparisons:
        return f"{comparisons[kind].format(**ctx)} (got {shown(got)})"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = message[0].lower() + message[1:] if message else message
    if kind == "value_error" and isinstance(got, (dict, list, tuple)):
        return message
    return f"{message} (got {shown(got)})"


def _lines(source: str, loc: tuple[Any, ...], message: str) -> str:
    return f"{source}: {key_path(loc)}: {message}"


def problem_lines(
    source: str, problems: Iterable[Problem], base: tuple[Any, ...] = ()
) -> list[str]:
    """One `source: key: problem (got X)` line per located problem."""
    out = []
    for loc, message, got in problems:
        suffix = (
            ""
            if got is _NOTHING or isinstance(got, (dict, list, tuple))
            else f" (got {shown(got)})"
        )
        out.append(_lines(source, (*base, *loc), _camel_words(message) + suffix))
    return out


def format_errors(source: str, exc: ValidationError) -> list[str]:
    """One `source: key: problem` line per pydantic error."""
    lines = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if e["type"] == "config_rules":
            lines.extend(problem_lines(source, (e.get("ctx") or {})["problems"], loc))
        else:
            lines.append(_lines(source, loc, _describe(e)))
    return lines


def decode_config_value(value: Any) -> Any:
    """Pulumi hands structured config to programs (and packs) as JSON strings; decode those."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def validate_config(values: dict[str, Any], source: str) -> StackConfig:
    """Validate the `ai-estate:` keys (namespace stripped) of one stack; raise ConfigError."""
    decoded = {k: decode_config_value(v) for k, v in values.items()}
    try:
        # Keys by their camelCase alias only: a snake_case key in a stack file is a typo.
        return StackConfig.model_validate(decoded, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ConfigError(format_errors(source, exc)) from None


def as_pulumi_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config map as a Pulumi program receives it: scalars as text, structures as JSON
    (what `estate.offline.engine.config_to_wire` sends and the Pulumi CLI sends)."""
    wire: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, str):
            wire[key] = value
        elif isinstance(value, bool):
            wire[key] = "true" if value else "false"
        else:
            wire[key] = json.dumps(value)
    return wire


def split_namespace(config: dict[str, Any]) -> dict[str, Any]:
    """The `ai-estate:` keys of a full config map, with the namespace stripped."""
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


# -- YAML as the Pulumi CLI reads it ---------------------------------------------------------------

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_VALUES = 1_000_000
"""More YAML nodes than this (after alias expansion) is a mistake or an alias bomb."""


class _StackLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading scalars as the Pulumi CLI (Go yaml.v3) hands them on.

    yaml.v3 gives a program an unquoted `2026-12-31` as the string it is, so dates stay text
    here too (and an impossible `2027-13-45` becomes a config error, not a crash); integers keep
    the text they were written as, so an error can show `012345670123`, not its octal reading.
    """


_StackLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> YamlInt:
    return _yaml_int(yaml.SafeLoader.construct_yaml_int(loader, node), str(node.value))


_StackLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # A date stays the text the user wrote, as the Pulumi CLI hands it to the program.
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_StackLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

_PLAIN = (str, int, float, bool, type(None))


def _yaml_problems(node: yaml.Node, path: str) -> list[str]:
    """Duplicate keys at any depth (yaml.v3 refuses them; PyYAML keeps the last silently),
    non-string keys and alias bombs, as `path: problem` strings."""
    problems: list[str] = []
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) not in sizes:
            sizes[id(n)] = 0  # a recursive alias counts once
            if isinstance(n, yaml.MappingNode):
                sizes[id(n)] = 1 + sum(size(k) + size(v) for k, v in n.value)
            elif isinstance(n, yaml.SequenceNode):
                sizes[id(n)] = 1 + sum(size(v) for v in n.value)
            else:
                sizes[id(n)] = 1
        return sizes[id(n)]

    def walk(n: yaml.Node, where: str, seen: set[int]) -> None:
        if id(n) in seen:
            problems.append(f"{where or 'the file'}: contains itself (a recursive YAML alias)")
            return
        seen = seen | {id(n)}
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode):
                    problems.append(
                        f"{where or 'the file'}: a key must be plain text (line {k.start_mark.line + 1})"
                    )
                    continue
                name = str(k.value)
                child = _join(where, name)
                line = k.start_mark.line + 1
                if name in first:
                    problems.append(
                        f"{child}: duplicate key (line {line}; first at line {first[name]}); "
                        "YAML would keep only the last"
                    )
                else:
                    first[name] = line
                walk(v, child, seen)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{where}[{i}]", seen)

    walk(node, path, set())
    if size(node) > MAX_VALUES:
        problems.append(
            f"{path or 'the file'}: expands to more than {MAX_VALUES:,} values (YAML aliases?)"
        )
    return problems


def _join(where: str, name: str) -> str:
    if not where:
        return name
    if where == "config":
        return one_line(name)[:MAX_SHOWN]  # `config:` entries show as their `namespace:key`
    return where + _key_part(name)


def _unsupported(value: Any, where: str) -> list[str]:
    """Values JSON (and so Pulumi config) cannot carry: binary, sets, non-text keys."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            if not isinstance(k, _PLAIN) or isinstance(k, (dict, list)):
                out.append(f"{where}: keys must be plain text")
                continue
            out.extend(_unsupported(v, where + _key_part(k)))
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unsupported(v, f"{where}[{i}]")]
    if isinstance(value, _PLAIN):
        return []
    return [f"{where}: a YAML {type(value).__name__} value is not supported here; use text"]


def _parse_yaml(text: str, shown_path: str) -> tuple[Any, list[str]]:
    """The document and its structural problems, or ConfigError when it cannot be read."""
    loader: _StackLoader | None = None
    try:
        loader = _StackLoader(text)
        node = loader.get_single_node()
        problems = [f"{shown_path}: {p}" for p in _yaml_problems(node, "")] if node else []
        if any("expands to more than" in p or "recursive YAML alias" in p for p in problems):
            raise ConfigError(problems)
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{shown_path}: not valid YAML{where}: {problem}"]) from None
    except RecursionError:
        raise ConfigError([f"{shown_path}: not valid YAML: nested too deeply"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return document, problems


def read_stack_file(
    path: Path, display: str | None = None, *, require_config: bool = False
) -> dict[str, Any]:
    """The `config:` map of a stack file, raising ConfigError on unreadable or malformed YAML
    (and, with `require_config`, on a file that sets nothing: an estate stack needs its keys;
    any other program's stack may legitimately have no config)."""
    shown_path = display or str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(
                [f"{shown_path}: the stack file is over {MAX_FILE_BYTES // (1024 * 1024)} MB"]
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{shown_path}: cannot read the stack file ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{shown_path}: the stack file is not UTF-8 text"]) from None
    key = (text, shown_path, require_config)
    known = _READ.get(key)
    if known is None:
        try:
            known = (True, _stack_config_of_text(text, shown_path, require_config))
        except ConfigError as exc:
            known = (False, list(exc.lines))
        _READ[key] = known
        while len(_READ) > _READ_SIZE:
            _READ.pop(next(iter(_READ)))
    ok, value = known
    if not ok or not isinstance(value, dict):
        raise ConfigError(list(value))
    return copy.deepcopy(value)


_READ: dict[tuple[str, str, bool], tuple[bool, dict[str, Any] | list[str]]] = {}
_READ_SIZE = 1024
"""Stack files already parsed in this process, by their text: a check of many BU stacks reads
each platform stack once per BU that references it, and every file again in its worker."""


def _stack_config_of_text(text: str, shown_path: str, require_config: bool) -> dict[str, Any]:
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        if not require_config:
            return {}
        raise ConfigError(
            [f"{shown_path}: the stack file is empty (it needs a config: mapping of keys)"]
        )
    document, problems = _parse_yaml(text, shown_path)
    if document is None and not require_config:
        return {}
    if not isinstance(document, dict):
        raise ConfigError([f"{shown_path}: must be a mapping with a 'config:' key"])
    config = document.get("config")
    if config is None or config == {}:
        if not require_config and not problems:
            return {}
        if not require_config:
            raise ConfigError(problems)
        raise ConfigError([f"{shown_path}: config: is empty (the stack file sets nothing)"])
    if not isinstance(config, dict):
        raise ConfigError([f"{shown_path}: config: must be a mapping of 'namespace:key' to values"])
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            problems.append(
                f"{shown_path}: config: key {shown(key)} must be namespaced, e.g. 'ai-estate:{key}'"
            )
        else:
            problems.extend(f"{shown_path}: {p}" for p in _unsupported(config[key], key))
    if problems:
        raise ConfigError(problems)
    return config


# -- rules a stack file can only break in context --------------------------------------------------

PROVIDER_NAMESPACES = ("aws", "kubernetes", "pulumi")
"""Config namespaces besides ours that a stack file may set: the providers the program uses
(`aws:region`, `kubernetes:...`) and Pulumi's own (`pulumi:tags`)."""


@lru_cache(maxsize=1)
def aws_provider_keys() -> frozenset[str]:
    """The `aws:` config keys the installed pulumi-aws provider reads (from its SDK's
    `config/vars.py`, read as text: importing pulumi_aws takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    vars_py = Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py"
    try:
        text = vars_py.read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    return frozenset(re.findall(r"__config__\.get\w*\('(\w+)'", text))


def namespace_errors(config: dict[str, Any], source: str) -> list[str]:
    """Keys in a namespace nothing reads (`ai-estat:monitoring` would silently drop alarms),
    and `aws:` keys the provider does not have (`aws:regoin`)."""
    known = (NAMESPACE, *PROVIDER_NAMESPACES)
    aws_keys = aws_provider_keys()
    errors = []
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            continue
        namespace, _, rest = key.partition(":")
        if namespace == "aws" and aws_keys and rest not in aws_keys:
            hint = did_you_mean(rest, aws_keys)
            errors.append(
                f"{source}: {shown(key)[1:-1]}: is not a config key of the aws provider"
                + (f"; did you mean aws:{hint[len('; did you mean ') : -1]}?" if hint else "")
            )
            continue
        if namespace in known:
            continue
        hint = did_you_mean(namespace, known)
        fix = f"; did you mean {hint[len('; did you mean ') : -1]}:{rest}?" if hint else ""
        errors.append(
            f"{source}: {shown(key)[1:-1]}: unknown config namespace '{namespace}' (nothing reads "
            f"it; known: {', '.join(known)}){fix}"
        )
    return errors


def region_errors(region: Any, source: str) -> list[str]:
    """What is wrong with a stack's `aws:region`, as one-line errors (none when it is fine)."""
    from estate.stack.aws_regions import known_regions

    if region is None or region == "":
        return [f"{source}: aws:region: is required (the AWS region this stack deploys to)"]
    if not isinstance(region, str):
        return [
            f"{source}: aws:region: must be an AWS region such as eu-west-1 (got {shown(region)})"
        ]
    if region not in known_regions():
        return [
            f"{source}: aws:region: is not an AWS region (got {shown(region)})"
            + (did_you_mean(region, known_regions()) or "; e.g. eu-west-1")
        ]
    return []


def stack_name_errors(stack: str, raw: dict[str, Any], source: str) -> list[str]:
    """The file name must say which stack it is: `Pulumi.<bu>-<env>.yaml`,
    `Pulumi.platform-<env>.yaml` (a BU stack named after another BU would deploy as it)."""
    kind = raw.get(f"{NAMESPACE}:kind")
    bu = raw.get(f"{NAMESPACE}:businessUnit")
    env = raw.get(f"{NAMESPACE}:environment")
    if kind not in ("bu", "platform") or not isinstance(bu, str) or env not in ENVIRONMENTS:
        return []  # the schema reports those keys themselves
    owner = bu if kind == "bu" else "platform"
    expected = f"{owner}-{env}"
    if stack == expected:
        return []
    file_name = f"Pulumi.{stack}.yaml"
    if stack.endswith(f"-{env}"):
        key, value = ("businessUnit", bu) if kind == "bu" else ("kind", kind)
    elif stack.startswith(f"{owner}-"):
        key, value = "environment", env
    else:
        key, value = ("businessUnit", bu) if kind == "bu" else ("kind", kind)
    return [
        f"{source}: {NAMESPACE}:{key}: disagrees with the file name {file_name} (a {kind} stack "
        f"is Pulumi.{'<businessUnit>' if kind == 'bu' else 'platform'}-<environment>.yaml, so "
        f"this one should be Pulumi.{expected}.yaml) (got {shown(value)})"
    ]


@dataclass(frozen=True)
class _Facts:
    """What the context rules need, read from the raw config even when the schema failed
    elsewhere (so a wrong platform reference is reported with everything else at once)."""

    kind: Any
    platform_stack: Any
    environment: Any
    account_id: Any
    dedicated: bool
    network_cidr: Any
    waiver_policies: list[tuple[int, str]]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> _Facts:
        values = {k: decode_config_value(v) for k, v in split_namespace(raw).items()}
        cluster = values.get("cluster")
        network = values.get("network")
        waivers = values.get("waivers")
        return cls(
            kind=values.get("kind"),
            platform_stack=values.get("platformStack"),
            environment=values.get("environment"),
            account_id=values.get("accountId"),
            dedicated=isinstance(cluster, dict) and cluster.get("mode") == "dedicated",
            network_cidr=(network.get("cidr") if isinstance(network, dict) else None)
            or NetworkConfig().cidr,
            waiver_policies=[
                (i, w["policy"])
                for i, w in enumerate(waivers if isinstance(waivers, list) else [])
                if isinstance(w, dict) and isinstance(w.get("policy"), str)
            ],
        )


def _platform_reference_errors(facts: _Facts, stacks_dir: Path, source: str) -> list[str]:
    """`platformStack` must name a platform stack of this environment and account, in the same
    stacks directory; a dedicated cluster's network must not overlap the platform's."""
    key = f"{NAMESPACE}:platformStack"
    reference = facts.platform_stack
    if facts.kind != "bu" or not isinstance(reference, str) or not reference:
        return []
    if len(reference) > MAX_STRING or not re.fullmatch(r"[A-Za-z0-9_./-]+", reference):
        return []  # the schema reports it
    short = reference.rsplit("/", 1)[-1]
    path = stacks_dir / f"Pulumi.{short}.yaml"
    dedicated = facts.dedicated
    if not path.is_file():
        if dedicated:
            return []  # a dedicated cluster does not read the platform stack
        return [
            f"{source}: {key}: names no stack in {stacks_dir.name}/ (no Pulumi.{short}.yaml) "
            f"(got {shown(reference)})"
        ]
    try:
        platform = read_stack_file(path)
    except ConfigError:
        return [
            f"{source}: {key}: Pulumi.{short}.yaml is not a valid stack file; run estate "
            f"validate --stack {short} (got {shown(reference)})"
        ]
    errors = []
    kind = platform.get(f"{NAMESPACE}:kind")
    if kind != "platform":
        errors.append(
            f"{source}: {key}: Pulumi.{short}.yaml is a {kind or 'non-estate'} stack, not a "
            f"platform stack (got {shown(reference)})"
        )
        return errors
    env = platform.get(f"{NAMESPACE}:environment")
    if facts.environment in ENVIRONMENTS and env != facts.environment:
        errors.append(
            f"{source}: {key}: {short} is the {env} platform; this stack's environment is "
            f"{facts.environment} (got {shown(reference)})"
        )
    account = platform.get(f"{NAMESPACE}:accountId")
    mine = facts.account_id
    if (
        isinstance(account, str)
        and isinstance(mine, str)
        and re.fullmatch(r"\d{12}", mine)
        and account != mine
    ):
        errors.append(
            f"{source}: {key}: {short} deploys to account {shown(account)[1:-1]}; this stack's "
            f"accountId is {shown(mine)[1:-1]} (got {shown(reference)})"
        )
    if dedicated:
        network = platform.get(f"{NAMESPACE}:network")
        network = decode_config_value(network) if network is not None else {}
        theirs = network.get("cidr", NetworkConfig().cidr) if isinstance(network, dict) else None
        try:
            overlap = (
                isinstance(theirs, str)
                and isinstance(facts.network_cidr, str)
                and ipaddress.IPv4Network(theirs).overlaps(
                    ipaddress.IPv4Network(facts.network_cidr)
                )
            )
        except ValueError:
            overlap = False
        if overlap:
            errors.append(
                f"{source}: {NAMESPACE}:network.cidr: overlaps the platform network {theirs} of "
                f"{short}; a dedicated cluster needs its own range (got "
                f"{shown(facts.network_cidr)})"
            )
    return errors


def _dedicated_overlap_errors(
    facts: _Facts, stack: str, stacks_dir: Path, source: str
) -> list[str]:
    """Two dedicated clusters of one account and environment need distinct VPC ranges (their
    networks get peered or joined to one transit gateway; overlapping ranges cannot route)."""
    if facts.kind != "bu" or not facts.dedicated or not isinstance(facts.network_cidr, str):
        return []
    try:
        mine = ipaddress.IPv4Network(facts.network_cidr)
    except ValueError:
        return []  # the schema reports it
    errors = []
    for other in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        name = other.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if name == stack:
            continue
        theirs = _neighbour(other, other.stat().st_mtime_ns)
        if theirs is None or theirs.kind != "bu" or not theirs.dedicated:
            continue
        if (theirs.account_id, theirs.environment) != (facts.account_id, facts.environment):
            continue
        try:
            overlap = mine.overlaps(ipaddress.IPv4Network(str(theirs.network_cidr)))
        except ValueError:
            continue
        if overlap:
            errors.append(
                f"{source}: {NAMESPACE}:network.cidr: overlaps {theirs.network_cidr} of the "
                f"dedicated cluster of {name} (same account and environment) (got "
                f"{shown(facts.network_cidr)})"
            )
    return errors


@lru_cache(maxsize=1024)
def _neighbour(path: Path, mtime_ns: int) -> _Facts | None:
    """Another stack file's facts (cached: `validate --all` reads every file for every stack)."""
    try:
        return _Facts.of(read_stack_file(path))
    except ConfigError:
        return None


def _policies_dir(stacks_dir: Path) -> Path:
    """The project's policy pack, or the estate's own when the project ships none."""
    own = stacks_dir.parent / "policies"
    if (own / "PulumiPolicy.yaml").is_file():
        return own
    return Path(__file__).resolve().parents[2] / "policies"


@lru_cache(maxsize=4)
def known_policies(pack_dir: Path) -> frozenset[str] | None:
    """The policy ids of a pack, from its rule registry (imported, never started); None for a
    pack laid out otherwise (the pack then judges waivers itself, in `check`)."""
    import importlib

    sys.path.insert(0, str(pack_dir))
    try:
        pack = importlib.import_module("governance.pack")
        return frozenset(pack.known_policy_ids())
    except (ImportError, AttributeError):
        return None
    finally:
        sys.path.remove(str(pack_dir))


def waiver_errors(facts: _Facts, pack_dir: Path, source: str) -> list[str]:
    """A waiver must name a policy of the pack (the pack would refuse it, late, in `check`)."""
    if not facts.waiver_policies:
        return []
    known = known_policies(pack_dir)
    if known is None:
        return []
    errors = []
    for i, policy in facts.waiver_policies:
        if policy not in known and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy):
            errors.append(
                f"{source}: {NAMESPACE}:waivers[{i}].policy: no policy '{policy}' in the "
                f"policy pack (see docs/policies.md){did_you_mean(policy, known)}"
            )
    return errors


def stack_errors(
    values: dict[str, Any], stack: str, source: str, stacks_dir: Path | None
) -> tuple[StackConfig | None, list[str]]:
    """Every rule a stack's config map can break, as one-line errors, and the config model when
    the schema accepts it: unknown namespaces, the schema and its cross-key rules, the region,
    the stack name, and what the config says about its neighbours in `stacks_dir` (the platform
    stack, the policy pack's policies for waivers)."""
    errors = namespace_errors(values, source)
    config: StackConfig | None = None
    try:
        config = validate_config(split_namespace(values), source)
        # The program validates the same keys again as Pulumi hands them over (scalars as
        # text, structures as JSON): a value that only breaks there must fail here too.
        validate_config(split_namespace(as_pulumi_config(values)), source)
    except ConfigError as exc:
        errors.extend(exc.lines)
    errors.extend(region_errors(values.get("aws:region"), source))
    dr_region = config.backup.dr_region if config is not None else None
    if dr_region is not None and dr_region == values.get("aws:region"):
        errors.append(
            f"{source}: ai-estate:backup.drRegion: must differ from aws:region "
            f"({dr_region}): a copy in the same region survives no regional outage"
        )
    image_dr = config.data_governance.dr_region if config is not None else None
    if image_dr is not None and image_dr == values.get("aws:region"):
        errors.append(
            f"{source}: ai-estate:dataGovernance.drRegion: must differ from aws:region "
            f"({image_dr}): a replica in the same region survives no regional outage"
        )
    errors.extend(stack_name_errors(stack, values, source))
    if stacks_dir is not None and stacks_dir.is_dir():
        facts = _Facts.of(values)
        errors.extend(_platform_reference_errors(facts, stacks_dir, source))
        errors.extend(_dedicated_overlap_errors(facts, stack, stacks_dir, source))
        errors.extend(waiver_errors(facts, _policies_dir(stacks_dir), source))
        if config is not None:
            errors.extend(platform_pool_errors(config, stacks_dir, source))
    return config, errors


def validate_pulumi_config(
    values: dict[str, Any], stack: str, source: str, stacks_dir: Path | None = None
) -> tuple[StackConfig, str]:
    """The program's entry under `pulumi up`: the config map the CLI hands it (every
    namespace), checked by the same rules as `load_stack`; returns the model and the region."""
    config, errors = stack_errors(values, stack, source, stacks_dir)
    if errors:
        raise ConfigError(errors)
    assert config is not None
    return config, str(values.get("aws:region"))


def load_stack(path: Path, display: str | None = None) -> LoadedStack:
    """Read and validate one stack file; raise ConfigError naming the file and key.

    Everything a stack file can get wrong is found here, all at once: YAML problems (duplicate
    keys, unsupported values) first, then everything `stack_errors` checks.
    """
    shown_path = display or str(path)
    raw = read_stack_file(path, shown_path, require_config=True)
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, errors = stack_errors(raw, name, shown_path, path.parent)
    if errors:
        raise ConfigError(errors)
    assert config is not None
    return LoadedStack(name=name, path=path, config=config, raw=raw, region=str(raw["aws:region"]))


def _models_of(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_of(arg)


@lru_cache(maxsize=1)
def _field_names() -> frozenset[str]:
    """Every snake_case field name of the schema (walked from StackConfig, so new models count)."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = [StackConfig]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if "_" in name:
                names.add(name)
            todo.extend(_models_of(field.annotation))
    return frozenset(names)


# -- BU pools against the referenced platform (rule: components.gpu_pools.provisioner_error) ----


def platform_pool_errors(config: StackConfig, stacks_dir: Path, shown: str) -> list[str]:
    """A shared-cluster BU stack's pools checked against the platform stack it references, when
    that stack's file sits beside it (this project's layout); one line per pool that its
    platform cannot scale. A platform stack kept elsewhere is checked when the program runs."""
    if config.kind != "bu" or config.cluster.mode != "shared" or not config.platform_stack:
        return []
    platform_file = stacks_dir / f"Pulumi.{config.platform_stack.rsplit('/', 1)[-1]}.yaml"
    if not platform_file.is_file():
        return []
    from components.gpu_pools import provisioner_error

    try:
        raw_cluster = decode_config_value(read_stack_file(platform_file).get("ai-estate:cluster"))
        cluster = ClusterConfig.model_validate(raw_cluster or {})
    except (ConfigError, ValidationError):
        return []  # the platform stack's own validation reports it
    return [
        f"{shown}: {NAMESPACE}:gpuPools[{i}].provisioner: {problem} ({platform_file.name})"
        for i, pool in enumerate(config.gpu_pools)
        if (problem := provisioner_error(pool.model_dump(), list(cluster.gpu_provisioners)))
    ]


# -- end BU pools against the referenced platform -------------------------------------------


def serving_problems(config: StackConfig) -> list[Problem]:
    """What is wrong with `ai-estate:serving` given the rest of the stack, each at its key."""
    sv = config.serving
    problems: list[Problem] = []
    if config.kind == "platform":
        if sv.endpoints:
            problems.append(
                (
                    ("serving", "endpoints"),
                    "belong in BU stacks; platform stacks run the Gateway",
                    _NOTHING,
                )
            )
        if sv.enabled is True and sv.certificate_arn is None:
            problems.append(
                (
                    ("serving", "certificateArn"),
                    "is required: the Gateway listens on HTTPS only (set serving.enabled: false "
                    "to build no serving plane)",
                    _NOTHING,
                )
            )
        return problems
    for key in ("enabled", "certificate_arn", "waf_acl_arn", "hostname", "oidc"):
        if getattr(sv, key) is not None:
            problems.append(
                (
                    ("serving", to_camel(key)),
                    "belongs in the platform stack, not a BU stack",
                    _NOTHING,
                )
            )
    if sv.scheme != "internal":
        problems.append(
            (("serving", "scheme"), "belongs in the platform stack, not a BU stack", sv.scheme)
        )
    if not sv.endpoints:
        return problems
    needs = (
        (
            config.cluster.mode == "dedicated",
            ("serving", "endpoints"),
            "need the platform's Gateway: a dedicated cluster has no serving plane yet (serve "
            "from the shared cluster)",
        ),
        (
            not config.model_registry.enabled,
            ("serving", "endpoints"),
            "need modelRegistry.enabled (models and images live there)",
        ),
        (
            not config.access.enabled,
            ("serving", "endpoints"),
            "need access.enabled (model servers run under the BU's boundary)",
        ),
    )
    problems.extend((loc, message, _NOTHING) for broken, loc, message in needs if broken)
    families = set(config.model_registry.model_families)
    images = set(config.model_registry.image_names or config.model_registry.model_families)
    pools = {p.name: p for p in config.gpu_pools}
    tables = (
        {t.name for t in config.feature_store.online_tables}
        if config.feature_store.enabled
        else set()
    )
    from components import gpu_catalog

    for i, ep in enumerate(sv.endpoints):
        at = ("serving", "endpoints", i)
        if ep.model_family not in families:
            problems.append(
                ((*at, "modelFamily"), "is not in modelRegistry.modelFamilies", ep.model_family)
            )
        elif config.environment == "prod":
            spec = config.mlops.families.get(ep.model_family)
            status = spec.model_card.status if spec and spec.model_card else None
            if status != "Approved":
                problems.append(
                    (
                        (*at, "modelFamily"),
                        f"a prod endpoint serves a family whose model card is Approved only "
                        f"(mlops.families.{ep.model_family}.modelCard.status is "
                        f"{status or 'unset'})",
                        ep.model_family,
                    )
                )
        if ep.image_repository not in images:
            problems.append(
                (
                    (*at, "image"),
                    f"repository '{ep.image_repository}' is not one of the BU's ECR repositories "
                    f"({', '.join(sorted(images)) or 'none'})",
                    ep.image,
                )
            )
        pool = pools.get(ep.gpu_pool)
        if pool is None:
            problems.append(
                (
                    (*at, "gpuPool"),
                    f"is not one of the BU's gpuPools ({', '.join(sorted(pools)) or 'none'})",
                    ep.gpu_pool,
                )
            )
        else:
            per_node = min(gpu_catalog.instance_info(t).gpus for t in pool.instance_types)
            if ep.gpus_per_replica > per_node:
                problems.append(
                    (
                        (*at, "gpusPerReplica"),
                        f"does not fit one node of pool {pool.name} ({per_node} GPUs per node)",
                        ep.gpus_per_replica,
                    )
                )
        if ep.min_replicas == 0 and config.environment != "dev":
            problems.append(((*at, "minReplicas"), "0 (scale to zero) is allowed in dev only", 0))
        path = ep.route_path or f"/{config.business_unit}/{ep.name}"
        if not path.startswith(f"/{config.business_unit}/"):
            problems.append(
                (
                    (*at, "routePath"),
                    f"must start with /{config.business_unit}/ (the Gateway is shared; each BU "
                    "owns its own prefix)",
                    path,
                )
            )
        for j, table in enumerate(ep.online_tables):
            if table not in tables:
                problems.append(
                    ((*at, "onlineTables", j), "is not in featureStore.onlineTables", table)
                )
    return problems
