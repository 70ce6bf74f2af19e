"""The stack configuration schema, and the one-line errors a user sees when a stack file is wrong.

A stack file is `stacks/Pulumi.<stack>.yaml`; our keys live in the `ai-estate:` namespace and use
Pulumi's camelCase convention. Everything is validated before a single resource is declared, and
every error a user can make comes back as `file: ai-estate:key.path: what is wrong (got X)`, all
of them at once, so a platform team fixes a stack file in one round trip.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

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
    # YAML reads an unquoted account id as an integer (and drops a leading zero): take it back.
    text = f"{value:012d}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    if not re.fullmatch(r"\d{12}", text):
        raise ValueError(f"must be a 12-digit AWS account id (got {value!r})")
    return text


AccountId = Annotated[str, BeforeValidator(_account)]
Slug = Annotated[str, AfterValidator(_slug)]
Ident = Annotated[str, AfterValidator(_ident)]
Email = Annotated[str, AfterValidator(_email)]
Cidr = Annotated[str, AfterValidator(_cidr)]


_M = TypeVar("_M", bound="_Model")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
        use_attribute_docstrings=True,
    )


class NetworkConfig(_Model):
    """`ai-estate:network` (platform stacks, and BU stacks with a dedicated cluster)."""

    cidr: Cidr = "10.0.0.0/16"
    """The VPC's IPv4 block."""
    az_count: int = Field(3, ge=2, le=6)
    """How many availability zones to spread subnets (and, in prod, NAT gateways) across."""
    nat_gateways: Literal["single", "perAz"] | None = None
    """One NAT gateway (cheap) or one per AZ (no cross-AZ dependency). Default: perAz in prod."""
    interface_endpoints: tuple[str, ...] = (
        "ecr.api",
        "ecr.dkr",
        "sts",
        "sagemaker.api",
        "sagemaker.runtime",
        "logs",
        "monitoring",
    )
    """AWS services reached through interface VPC endpoints (`com.amazonaws.<region>.<name>`)."""
    flow_log_retention_days: int | None = None
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


class FeatureGroupConfig(_Model):
    """A SageMaker feature group in the BU's feature store."""

    name: Slug
    """Short name; the group is created as `<bu>-<env>-<name>`."""
    description: str = ""
    """Shown in the SageMaker console and catalog."""
    record_identifier: Ident
    """The feature that identifies a record (must be one of `features`)."""
    event_time: Ident
    """The feature that holds the event time (must be one of `features`, Fractional or String)."""
    features: tuple[FeatureDefinition, ...]
    """The group's features, record identifier and event time included."""
    online: bool = True
    """Keep an online store (low-latency reads at inference time)."""
    offline: bool = True
    """Keep an offline store in the BU's offline bucket, catalogued in Glue."""

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


class FeatureStoreConfig(_Model):
    """`ai-estate:featureStore` (BU stacks)."""

    enabled: bool = True
    """Build the feature store at all (off for a BU that only serves models)."""
    online_tables: tuple[OnlineTableConfig, ...] = ()
    """DynamoDB tables for online features the BU serves itself."""
    feature_groups: tuple[FeatureGroupConfig, ...] = ()
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
        return self


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

    instance_types: tuple[str, ...] = ("m6i.large",)
    """EC2 instance types of the system nodes."""
    min_size: int = Field(2, ge=1, le=20)
    """Minimum system nodes (2 keeps add-ons available through a node loss)."""
    desired_size: int = Field(2, ge=1, le=20)
    """Initial system node count."""
    max_size: int = Field(4, ge=1, le=50)
    """Maximum system nodes."""
    disk_gib: int = Field(50, ge=20, le=2000)
    """Root volume size (encrypted gp3)."""


class ClusterConfig(_Model):
    """`ai-estate:cluster`: the EKS cluster (platform stacks; BU stacks with `mode: dedicated`)."""

    mode: Literal["shared", "dedicated"] = "shared"
    """BU stacks: `shared` runs on the platform cluster; `dedicated` builds the BU its own."""
    version: Annotated[str, Field(pattern=r"^1\.(2[89]|3\d)$")] = "1.31"
    """Kubernetes version of the control plane."""
    public_access_cidrs: tuple[AllowCidr, ...] = ()
    """CIDRs allowed to reach a public API endpoint; empty keeps the endpoint private only."""
    api_access_cidrs: tuple[PrivateCidr, ...] = ()
    """Private networks (deploy runners, VPN, peered VPCs) that reach the private API endpoint
    on 443. `pulumi up` must run from one of them, or from `publicAccessCidrs`."""
    system_nodes: SystemNodesConfig = SystemNodesConfig()
    """The add-on node group."""
    gpu_provisioners: tuple[Literal["managed", "karpenter"], ...] = ("managed", "karpenter")
    """GPU scaling machinery to install: cluster-autoscaler for managed node groups, Karpenter."""
    gpu_software: Literal["device-plugin", "gpu-operator"] = "device-plugin"
    """NVIDIA device plugin + DCGM exporter, or the NVIDIA GPU Operator (needed for MIG)."""
    time_slicing_replicas: int | None = Field(None, ge=2, le=48)
    """Share each GPU among this many pods with device-plugin time-slicing (off when unset)."""
    mig_strategy: Literal["none", "single", "mixed"] = "none"
    """MIG partitioning strategy (gpu-operator only)."""
    log_retention_days: int | None = None
    """Control-plane log retention. Default: 365 in prod, 90 otherwise."""

    @model_validator(mode="after")
    def _gpu_software_rules(self) -> ClusterConfig:
        if self.mig_strategy != "none" and self.gpu_software != "gpu-operator":
            raise ValueError("migStrategy needs gpuSoftware: gpu-operator")
        if self.time_slicing_replicas and self.gpu_software != "device-plugin":
            raise ValueError("timeSlicingReplicas applies to gpuSoftware: device-plugin only")
        if self.system_nodes.min_size > self.system_nodes.max_size:
            raise ValueError("systemNodes.minSize must not exceed systemNodes.maxSize")
        return self


class GpuPoolConfig(_Model):
    """A GPU node pool of the BU (`ai-estate:gpuPools` entries)."""

    name: Slug
    """Short name, unique in the BU, e.g. `train-a100`."""
    provisioner: Literal["managed", "karpenter"] = "karpenter"
    """`managed`: an EKS managed node group scaled by cluster-autoscaler; `karpenter`: a NodePool."""
    instance_types: tuple[str, ...] = Field(min_length=1)
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
    labels: dict[str, str] = {}
    """Extra node labels (the BU, pool, GPU model and capacity type labels are always set)."""
    max_gpus: int | None = Field(None, ge=1)
    """GPU cap for the pool (Karpenter limits). Default: maxSize x GPUs per instance."""
    ami_version: Annotated[str, Field(pattern=r"^(latest|v[0-9][0-9.]*)$")] = "latest"
    """Karpenter pools: the EKS AMI release the nodes boot (`v20251120` for AL2023, `v1.26.2` for
    Bottlerocket). `latest` (dev only) rolls every node on each AMI release."""

    @model_validator(mode="after")
    def _sizes(self) -> GpuPoolConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"sizes must satisfy minSize <= desiredSize <= maxSize (got {self.min_size}, "
                f"{self.desired_size}, {self.max_size})"
            )
        from components import gpu_catalog

        unknown = [t for t in self.instance_types if not gpu_catalog.is_gpu_instance(t)]
        if unknown:
            raise ValueError(
                f"instanceTypes: not GPU instance types known to AI Estate: {', '.join(unknown)}"
            )
        gpu_catalog.gpu_model_of(list(self.instance_types))
        return self


class TenantConfig(_Model):
    """`ai-estate:tenant`: the BU's namespace on the cluster."""

    gpu_quota: int | None = Field(None, ge=0)
    """Most physical GPUs the namespace's pods may hold. Default: the sum of the pools' GPU caps.
    On a time-sliced platform the `requests.nvidia.com/gpu` quota item becomes this x the
    platform's `timeSlicingReplicas` (read from its stack), as Karpenter limits and alarms do."""
    cpu_quota: str = "64"
    """Cap on CPU requests (and limits) in the namespace."""
    memory_quota: str = "256Gi"
    """Cap on memory requests (and limits) in the namespace."""
    default_container_limits: dict[str, str] = {"cpu": "2", "memory": "4Gi"}
    """LimitRange defaults for containers that set no limits."""


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _role_arn(value: str) -> str:
    if not _ROLE_ARN.match(value):
        raise ValueError("must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return value


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL")
    return value


RoleArn = Annotated[str, AfterValidator(_role_arn)]
HttpsUrl = Annotated[str, AfterValidator(_https)]


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
    model_families: tuple[Slug, ...] = ()
    """Model families; each gets a SageMaker model package group `<bu>-<env>-<family>`."""
    image_names: tuple[Slug, ...] = ()
    """Serving images, one ECR repository `<bu>-<env>/<name>` each. Empty: one per model family."""
    principal_arns: tuple[RoleArn, ...] = ()
    """Extra roles (beyond the BU's personas) that may read the registry through its resource
    policies."""
    deploy_account_ids: tuple[AccountId, ...] = ()
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
    approval_emails: tuple[Email, ...] = ()
    """Addresses notified of every model package state change (each confirms its subscription)."""
    approval_https_endpoints: tuple[HttpsUrl, ...] = ()
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
    endpoint: str
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
    dynamodb_throttle_events: int = Field(10, ge=1)
    """Throttled requests per 5 minutes on an online table that page the BU."""
    dynamodb_system_errors: int = Field(1, ge=1)
    """DynamoDB system errors per 5 minutes that page the BU."""
    s3_5xx_errors: int = Field(5, ge=1)
    """S3 5xx errors per 5 minutes on the feature or artifact bucket."""
    s3_4xx_errors: int = Field(100, ge=1)
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
    period_seconds: int = Field(3600, ge=60, multiple_of=60)
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
    latency_p99_ms: float = Field(gt=0)
    """p99 model latency (ms) above which the endpoint alarms."""
    max_5xx_per_period: float = Field(0, ge=0)
    """5xx responses per 5 minutes tolerated before alarming."""


class MonitoringConfig(_Model):
    """`ai-estate:monitoring` (BU stacks)."""

    # Named like the component arg (`BuMonitoringArgs.subscriptions`); the alias keeps the key.
    subscriptions: tuple[AlarmSubscriptionConfig, ...] = Field((), alias="alarmSubscriptions")
    """Who hears the BU's alarms. Empty: the stack owner's email."""
    thresholds: MonitoringThresholdsConfig = MonitoringThresholdsConfig()
    """Alarm thresholds."""
    model_metrics: tuple[ModelMetricConfig, ...] = ()
    """Model quality and drift metrics with thresholds."""
    sagemaker_endpoints: tuple[SageMakerEndpointConfig, ...] = ()
    """SageMaker endpoints to watch."""


class BudgetConfig(_Model):
    """`ai-estate:budget` (BU stacks; required in staging and prod)."""

    monthly_limit_usd: float = Field(gt=0)
    """The BU's monthly AWS cost limit (USD), filtered by its BusinessUnit cost-allocation tag;
    the policy pack also refuses GPU pools whose peak cost exceeds it (prod)."""
    notify_emails: tuple[Email, ...] = ()
    """Addresses AWS Budgets notifies directly at 80% and 100%, besides the alarm topic."""


PersonaName = Literal["data-scientist", "ml-engineer", "model-approver", "auditor"]
WorkloadName = Literal["feature-reader", "model-publisher"]


class PersonaTrustConfig(_Model):
    """`ai-estate:access.personas.<persona>`: who may assume the persona's role (never `*`)."""

    saml_provider_arn: str | None = None
    """IAM SAML provider whose assertions (with `samlAudience`) may assume the role."""
    saml_audience: str = "https://signin.aws.amazon.com/saml"
    """Required `SAML:aud` of the assertion."""
    identity_center_role_arns: tuple[str, ...] = ()
    """IAM Identity Center permission-set roles of this account allowed to assume the role."""
    oidc_provider_arn: str | None = None
    """IAM OIDC provider (e.g. a CI system) allowed to assume the role."""
    oidc_audience: str = "sts.amazonaws.com"
    """Required `<host>:aud` of the OIDC token."""
    oidc_subjects: tuple[str, ...] = ()
    """Allowed `<host>:sub` patterns; required with an OIDC provider."""
    cross_account_role_arns: tuple[RoleArn, ...] = ()
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
    service_accounts: dict[WorkloadName, str] = {
        "feature-reader": "feature-reader",
        "model-publisher": "model-publisher",
    }
    """Kubernetes service accounts (in the BU namespace) bound to the workload roles."""
    key_admin_role_arns: tuple[RoleArn, ...] = ()
    """Roles that may administer (never use) the BU's KMS key."""


class WaiverConfig(_Model):
    """An exception to one policy for some resources, with a reason, a ticket and an expiry."""

    policy: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    """The policy id (see docs/policies.md)."""
    resource: str = Field(min_length=1)
    """A resource name glob (`scratch-*`) or a full URN."""
    reason: str = Field(min_length=10)
    """Why the exception is acceptable, for the reviewer and the auditor."""
    ticket: str = Field(min_length=2)
    """The ticket that approved it (e.g. `SEC-1234`)."""
    expires: dt.date
    """The last day the waiver applies (YYYY-MM-DD); afterwards it blocks until renewed."""

    @model_validator(mode="after")
    def _bounded(self) -> WaiverConfig:
        if self.expires > dt.date.today() + dt.timedelta(days=366):
            raise ValueError("a waiver may run at most a year: set expires within 366 days")
        return self


# -- serving (ai-estate:serving) --------------------------------------------------------------
# Platform stacks set the Gateway (certificate, scheme, WAF, token issuer); BU stacks declare
# endpoints. Cross-field rules that need the rest of the stack (model families, images, GPU
# pools, environment) live in `StackConfig._serving_rules`.

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
    required_scopes: tuple[str, ...] = ()
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


class ServingEndpointConfig(_Model):
    """One model endpoint of the BU (`ai-estate:serving.endpoints[]`), served on the BU's GPU
    pool behind the platform Gateway."""

    name: Slug
    """Endpoint name, unique in the BU: names the Deployment, Service, route and alarms."""
    model_family: Slug
    """The model family served (must be in `modelRegistry.modelFamilies`)."""
    model_version: (
        Annotated[int, Field(ge=1)]
        | Annotated[
            str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*$")
        ]
    )
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
    online_tables: tuple[Slug, ...] = ()
    """The BU's online tables (`featureStore.onlineTables[].name`) the model server reads."""
    schedule: ServingScheduleConfig | None = None
    """When a scale-to-zero endpoint (`minReplicas: 0`) is up (required with it)."""

    @model_validator(mode="after")
    def _shape(self) -> ServingEndpointConfig:
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
    endpoints: tuple[ServingEndpointConfig, ...] = ()
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
    platform_stack: str | None = None
    """BU stacks: the fully qualified platform stack to reference (`org/ai-estate/platform-prod`)."""
    network: NetworkConfig = NetworkConfig()
    """VPC settings (platform stacks)."""
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    """Feature store settings (BU stacks)."""
    cluster: ClusterConfig = ClusterConfig()
    """EKS cluster settings (platform stacks; BU stacks choose shared or dedicated)."""
    gpu_pools: tuple[GpuPoolConfig, ...] = ()
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
    waivers: tuple[WaiverConfig, ...] = ()
    """Time-boxed exceptions to policies, applied by the policy pack (see docs/policies.md)."""
    serving: ServingConfig = ServingConfig()
    """The serving plane (platform stacks) or the BU's model endpoints (BU stacks)."""

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
    def _kind_rules(self) -> StackConfig:
        if self.activate_cost_allocation_tags:
            raise ValueError(
                "activateCostAllocationTags is no longer a stack setting: activate the "
                "BusinessUnit cost-allocation tag once from the Organizations management account "
                "(aws ce update-cost-allocation-tags-status, see README 'Deploying for real') and "
                "remove the key"
            )
        if self.kind == "bu" and not self.platform_stack:
            raise ValueError("platformStack is required for a bu stack")
        if self.kind == "bu" and self.business_unit == "platform":
            raise ValueError("businessUnit 'platform' is reserved for platform stacks")
        if self.kind == "bu":
            from components.access import persona_trust_statements, validate_business_unit

            validate_business_unit(self.business_unit, self.environment)
            for persona, trust in self.access.personas.items():
                try:
                    persona_trust_statements(persona, trust.as_trust(), account_id=self.account_id)  # type: ignore[arg-type]
                except ValueError as exc:
                    raise ValueError(f"access.personas.{persona}: {exc}") from None
        if self.kind == "bu" and self.environment != "dev" and self.budget is None:
            raise ValueError(
                "budget is required for bu stacks in staging and prod "
                "(ai-estate:budget: {monthlyLimitUsd: ...})"
            )
        if self.kind == "platform" and self.gpu_pools:
            raise ValueError("gpuPools belong in BU stacks; platform stacks provide the machinery")
        for family in self.model_registry.model_families:
            group = f"{self.business_unit}-{self.environment}-{family}"
            if len(group) > 63:
                raise ValueError(
                    f"modelRegistry.modelFamilies '{family}': group name {group!r} is over "
                    "63 characters"
                )
        # -- GPU pool AMI pins (rule: components.gpu_pools.ami_version_error) -------------
        from components.gpu_pools import ami_version_error

        for i, pool in enumerate(self.gpu_pools):
            problem = ami_version_error(pool.model_dump(), self.environment)
            if problem:
                raise ValueError(f"gpuPools[{i}] ({pool.name}): {problem}")
        # -- end GPU pool AMI pins ------------------------------------------------------------
        names = [p.name for p in self.gpu_pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"gpuPools names must be unique (repeated: {', '.join(dupes)})")
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
            from components.gpu_pools import GpuPoolSpec, effective_max_gpus
            from estate.stack.convert import to_args

            quota = sum(effective_max_gpus(to_args(p, GpuPoolSpec)) for p in self.gpu_pools)
            resolved["tenant"] = self.tenant.model_copy(update={"gpu_quota": quota})
        for key, value in resolved.items():
            # The model is frozen for its users; resolving is part of building it.
            object.__setattr__(self, key, value)
        return self

    @model_validator(mode="after")
    def _serving_rules(self) -> StackConfig:
        errors = serving_errors(self)
        if errors:
            raise ValueError("; ".join(errors))
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


def _loc_to_key(loc: Iterable[Any]) -> str:
    parts = list(loc)
    if not parts:
        return f"{NAMESPACE}"
    key = f"{NAMESPACE}:{parts[0]}"
    for part in parts[1:]:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key


def _describe(error: ErrorDetails) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling; keys are camelCase)"
    if kind in ("literal_error", "enum"):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(expected)} (got {got!r})"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = message[0].lower() + message[1:] if message else message
    if kind == "value_error" or isinstance(got, dict):
        return message
    return f"{message} (got {got!r})"


def format_errors(source: str, exc: ValidationError) -> list[str]:
    """One `source: key: problem` line per pydantic error."""
    return [f"{source}: {_loc_to_key(e['loc'])}: {_describe(e)}" for e in exc.errors()]


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
        return StackConfig.model_validate(decoded)
    except ValidationError as exc:
        raise ConfigError(format_errors(source, exc)) from None


def split_namespace(config: dict[str, Any]) -> dict[str, Any]:
    """The `ai-estate:` keys of a full config map, with the namespace stripped."""
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def read_stack_file(path: Path, display: str | None = None) -> dict[str, Any]:
    """The `config:` map of a stack file, raising ConfigError on unreadable or malformed YAML."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{shown}: cannot read the stack file ({exc.strerror})"]) from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{shown}: not valid YAML{where}: {problem}"]) from None
    if not isinstance(document, dict):
        raise ConfigError([f"{shown}: must be a mapping with a 'config:' key"])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{shown}: config: must be a mapping of 'namespace:key' to values"])
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            raise ConfigError(
                [f"{shown}: config: key {key!r} must be namespaced, e.g. 'ai-estate:{key}'"]
            )
    return config


def region_errors(region: Any, source: str) -> list[str]:
    """What is wrong with a stack's `aws:region`, as one-line errors (none when it is fine)."""
    if not region:
        return [f"{source}: aws:region: is required (the AWS region this stack deploys to)"]
    if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", str(region)):
        return [f"{source}: aws:region: must be an AWS region such as eu-west-1 (got {region!r})"]
    return []


def load_stack(path: Path, display: str | None = None) -> LoadedStack:
    """Read and validate one stack file; raise ConfigError naming the file and key."""
    shown = display or str(path)
    raw = read_stack_file(path, shown)
    errors: list[str] = []
    config: StackConfig | None = None
    try:
        config = validate_config(split_namespace(raw), shown)
    except ConfigError as exc:
        errors.extend(exc.lines)
    region = raw.get("aws:region")
    errors.extend(region_errors(region, shown))
    if config is not None:
        errors.extend(platform_pool_errors(config, path, shown))
    if errors:
        raise ConfigError(errors)
    assert config is not None
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return LoadedStack(name=name, path=path, config=config, raw=raw, region=str(region))


# -- BU pools against the referenced platform (rule: components.gpu_pools.provisioner_error) ----


def platform_pool_errors(config: StackConfig, path: Path, shown: str) -> list[str]:
    """A shared-cluster BU stack's pools checked against the platform stack it references, when
    that stack's file sits beside it (this project's layout); one line per pool that its
    platform cannot scale. A platform stack kept elsewhere is checked when the program runs."""
    if config.kind != "bu" or config.cluster.mode != "shared" or not config.platform_stack:
        return []
    platform_file = path.parent / f"Pulumi.{config.platform_stack.rsplit('/', 1)[-1]}.yaml"
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


def serving_errors(config: StackConfig) -> list[str]:
    """What is wrong with `ai-estate:serving` given the rest of the stack (one line each)."""
    sv = config.serving
    errors: list[str] = []
    if config.kind == "platform":
        if sv.endpoints:
            errors.append("serving.endpoints belong in BU stacks; platform stacks run the Gateway")
        if sv.enabled is True and sv.certificate_arn is None:
            errors.append(
                "serving.certificateArn is required: the Gateway listens on HTTPS only "
                "(set serving.enabled: false to build no serving plane)"
            )
        return errors
    platform_keys = ("enabled", "certificate_arn", "waf_acl_arn", "hostname", "oidc")
    for key in platform_keys:
        if getattr(sv, key) is not None:
            errors.append(f"serving.{to_camel(key)} belongs in the platform stack, not a BU stack")
    if sv.scheme != "internal":
        errors.append("serving.scheme belongs in the platform stack, not a BU stack")
    if not sv.endpoints:
        return errors
    if config.cluster.mode == "dedicated":
        errors.append(
            "serving.endpoints need the platform's Gateway: a dedicated cluster has no serving "
            "plane yet (serve from the shared cluster)"
        )
    if not config.model_registry.enabled:
        errors.append("serving.endpoints need modelRegistry.enabled (models and images live there)")
    if not config.access.enabled:
        errors.append(
            "serving.endpoints need access.enabled (model servers run under the BU's boundary)"
        )
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
        where = f"serving.endpoints[{i}] ({ep.name})"
        if ep.model_family not in families:
            errors.append(
                f"{where}.modelFamily: {ep.model_family!r} is not in modelRegistry.modelFamilies"
            )
        if ep.image_repository not in images:
            errors.append(
                f"{where}.image: repository {ep.image_repository!r} is not one of the BU's ECR "
                f"repositories ({', '.join(sorted(images)) or 'none'})"
            )
        pool = pools.get(ep.gpu_pool)
        if pool is None:
            errors.append(
                f"{where}.gpuPool: {ep.gpu_pool!r} is not one of the BU's gpuPools "
                f"({', '.join(sorted(pools)) or 'none'})"
            )
        else:
            per_node = min(gpu_catalog.instance_info(t).gpus for t in pool.instance_types)
            if ep.gpus_per_replica > per_node:
                errors.append(
                    f"{where}.gpusPerReplica: {ep.gpus_per_replica} GPUs do not fit one node of "
                    f"pool {pool.name} ({per_node} per node)"
                )
        if ep.min_replicas == 0 and config.environment != "dev":
            errors.append(f"{where}.minReplicas: 0 (scale to zero) is allowed in dev only")
        path = ep.route_path or f"/{config.business_unit}/{ep.name}"
        if not path.startswith(f"/{config.business_unit}/"):
            errors.append(
                f"{where}.routePath: must start with /{config.business_unit}/ (the Gateway is "
                "shared; each BU owns its own prefix)"
            )
        for table in ep.online_tables:
            if table not in tables:
                errors.append(
                    f"{where}.onlineTables: {table!r} is not in featureStore.onlineTables"
                )
    return errors
