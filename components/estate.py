"""The roots: one `PlatformEstate` per environment, one `BuEstate` per BU and environment.

They only compose the other components; every resource a stack declares hangs under one of
these two, so the inventory reads as a tree from the root down.

Logical names here are frozen: renaming `f"{name}-network"` or `f"{name}-cluster"` would make
Pulumi replace a VPC or a cluster. A rename needs an alias (see docs/migrations.md).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import labels, naming
from .access import ROLE_PATH_ROOT, WORKLOADS, BuAccess, PersonaTrust, bu_only_bucket_policy
from .audit import AuditSettings, BuAuditTrail, trail_name
from .backup import CLUSTER_BACKUP, BackupSettings, BuBackup, backup_role_name
from .cluster import SYSTEM_POOL_LABELS, ClusterRolesBoundary, EksCluster, EksClusterSettings
from .cost_governance import (
    DATA_EXPORT_SERVICES,
    PlatformCostGovernance,
    PlatformCostGovernanceSettings,
)
from .data_quality import (
    DataQualitySettings,
    FeatureDataQuality,
    data_quality_role_name,
    evaluated_rulesets,
)
from .deploy_dispatch import DeployDispatch, DeployDispatchSettings
from .detection import PlatformDetection
from .feature_store import FeatureStore, FeatureStoreSettings, kept_name, offline_table_name
from .gpu_catalog import gpu_model_of
from .gpu_pools import GpuNodePool, GpuNodeRole, GpuPoolSpec, effective_max_gpus
from .kms import KmsKey
from .kueue import BuQueues
from .lake_formation import (
    READERS as LF_READERS,
)
from .lake_formation import (
    BuLakeFormation,
    BuLakeFormationSettings,
    PlatformDataGovernance,
    PlatformDataGovernanceSettings,
    lf_role_name,
)
from .mlops import RetrainingLoop, RetrainingSpec, family_alarm_names, image_reference
from .model_cards import ModelCards, ModelCardSpec, OwnersSpec, family_tags
from .model_registry import ModelRegistry, ModelRegistrySettings, object_lock_for
from .monitoring import (
    ALARM_PUBLISHERS,
    BudgetSpec,
    BuMonitoring,
    BuMonitoringSettings,
    PlatformMonitoring,
    alarm_topic_name,
    log_group_prefixes,
)
from .network import Network, NetworkSettings
from .options import child
from .replication import ArtifactReplication, ImageReplication, replication_role_name
from .serving import MODEL_SERVER
from .storage import AccessLogBucket, PolicyStatements
from .tenant import BuTenant, BuTenantSettings
from .validation_gate import ThresholdSpec, ValidationGate

POD_ROLES = (*WORKLOADS, f"{MODEL_SERVER}-*")
"""The BU's roles that only pods assume (Pod Identity): the workload roles and every endpoint's
model server (`serving.model_server_role_name`). Their S3 requests always come through the
cluster VPC's S3 gateway endpoint, so the data buckets refuse them anywhere else."""


def cluster_name(prefix: str) -> str:
    """`platform-prod-ai`: the physical EKS cluster name of an estate."""
    return f"{prefix}-ai"


def key_log_prefixes(prefix: str, with_cluster: bool) -> list[str]:
    """Log groups the estate's key encrypts: ours, EKS's fixed control-plane group, and the
    Container Insights groups the CloudWatch observability add-on writes to."""
    prefixes = [f"/ai-estate/{prefix}/"]
    if with_cluster:
        prefixes.append(f"/aws/eks/{cluster_name(prefix)}/")
        prefixes.extend(
            p for p in log_group_prefixes(prefix, cluster_name(prefix)) if p not in prefixes
        )
    return prefixes


class _OwnCluster(NamedTuple):
    """What an estate that builds its own cluster gets: the VPC, the cluster, its monitoring."""

    network: Network
    cluster: EksCluster
    monitoring: PlatformMonitoring


def _network_and_cluster(
    parent: pulumi.ComponentResource,
    name: str,
    prefix: str,
    key: KmsKey,
    settings: DedicatedCluster,
    protect: bool,
    tags: dict[str, str],
    bounded: bool = False,
    alert_topics: dict[str, str] | None = None,
) -> _OwnCluster:
    """The VPC and EKS cluster an estate builds for itself (platform, or a dedicated BU)."""
    network_settings, cluster_settings = settings["network"], settings["cluster"]
    # A BU's dedicated cluster: its add-on roles are BU roles, under a boundary (issue 11).
    boundary = (
        ClusterRolesBoundary(
            f"{name}-cluster-boundary",
            {"cluster_name": cluster_name(prefix), "tags": tags},
            child(parent),
        )
        if bounded
        else None
    )
    boundary_arn = boundary.arn if boundary is not None else None
    network = Network(
        f"{name}-network",
        {
            **network_settings,
            "name_prefix": prefix,
            "flow_log_kms_key_arn": key.arn,
            "tags": tags,
            "cluster_name": cluster_name(prefix),
        },
        child(parent),
    )
    cluster = EksCluster(
        f"{name}-cluster",
        {
            **cluster_settings,
            "name": cluster_name(prefix),
            "vpc_id": network.vpc_id,
            "private_subnet_ids": network.private_subnet_ids,
            "kms_key_arn": key.arn,
            "protect": protect,
            "tags": tags,
            "permissions_boundary": boundary_arn,
        },
        child(parent),
    )
    monitoring = PlatformMonitoring(
        f"{name}-monitoring",
        {
            "name_prefix": prefix,
            "cluster_name": cluster.cluster_name,
            "kubernetes_version": cluster_settings["version"],
            "private_subnet_ids": network.private_subnet_ids,
            "cluster_security_group_id": cluster.cluster_security_group_id,
            "kms_key_arn": key.arn,
            "log_retention_days": cluster_settings["log_retention_days"],
            "k8s_provider": cluster.k8s_provider,
            "node_selector": SYSTEM_POOL_LABELS,
            "permissions_boundary": boundary_arn,
            # only the in-cluster parts wait for the cluster (see PlatformMonitoringArgs)
            "cluster_ready": [cluster],
            "protect": protect,
            "tags": tags,
            # The BUs on this cluster: the workspace's alert manager routes to their topics.
            "alert_topics": dict(alert_topics or {}),
        },
        child(parent),
    )
    return _OwnCluster(network, cluster, monitoring)


class DedicatedCluster(TypedDict):
    """The network and cluster settings of an estate that builds its own cluster."""

    network: NetworkSettings
    """The VPC (`ai-estate:network`)."""
    cluster: EksClusterSettings
    """The EKS cluster (`ai-estate:cluster`)."""


class PlatformEstateArgs(TypedDict):
    """Inputs of `PlatformEstate`."""

    environment: str
    """`dev`, `staging` or `prod`: names everything `platform-<env>`."""
    network: NetworkSettings
    """The VPC."""
    cluster: EksClusterSettings
    """The EKS cluster BU stacks build their tenants on."""
    protect: bool
    """Protect and retain stateful resources (prod)."""
    tags: dict[str, str]
    """Ownership tags for every taggable resource."""
    cost_governance: NotRequired[PlatformCostGovernanceSettings]
    """The CUR 2.0 export (default: none)."""
    business_units: NotRequired[list[str]]
    """The BUs on this platform: an alert route and (payer accounts) a cost-category value each."""
    payer_account: NotRequired[bool]
    """The account pays its own bill (management or standalone): only then may it own the
    cost category."""
    account_id: NotRequired[str]
    """The platform account (names the export bucket; required with a cost export)."""
    data_governance: NotRequired[PlatformDataGovernanceSettings | None]
    """Lake Formation settings and LF-tags, catalog encryption, lineage readers (default: none)."""


class PlatformEstate(pulumi.ComponentResource):
    """The shared estate of one environment: the platform key, the network, and the EKS cluster
    with its system pool, add-ons and GPU machinery that BU stacks build their tenants on."""

    key: KmsKey
    network: Network
    cluster: EksCluster
    monitoring: PlatformMonitoring
    cost: PlatformCostGovernance | None
    data_governance: PlatformDataGovernance | None
    detection: PlatformDetection
    image_replication: ImageReplication | None
    """ECR replication of the BUs' repositories to `data_governance.dr_region`."""

    def __init__(
        self, name: str, args: PlatformEstateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:estate:PlatformEstate", name, None, opts)
        prefix = naming.prefix("platform", args["environment"])
        cost = args.get("cost_governance")
        exporting = cost is not None and cost["export"] is not None
        self.key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}",
                "description": f"AI Estate platform key for {args['environment']}",
                "log_group_prefixes": key_log_prefixes(prefix, with_cluster=True),
                "ebs_for_autoscaling": True,
                # EventBridge delivers spot interruptions into Karpenter's encrypted queue;
                # Data Exports writes the CUR 2.0 export into its SSE-KMS bucket.
                "service_principals": [
                    "events.amazonaws.com",
                    *(DATA_EXPORT_SERVICES if exporting else ()),
                ],
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        built = _network_and_cluster(
            self,
            name,
            prefix,
            self.key,
            {"network": args["network"], "cluster": args["cluster"]},
            args["protect"],
            args["tags"],
            alert_topics={
                bu: alarm_topic_name(bu, args["environment"])
                for bu in args.get("business_units") or []
            },
        )
        self.network, self.cluster, self.monitoring = built
        self.cost = self._cost_governance(name, args, cost)
        self.data_governance = self._data_governance(name, prefix, args)
        self.image_replication = self._image_replication(name, prefix, args)
        self.backup = self._cluster_backup(name, prefix, args)
        # GuardDuty and Inspector are account-wide: the platform account's (issue 14).
        self.detection = PlatformDetection(
            f"{name}-detection",
            {"name_prefix": prefix, "kms_key_arn": self.key.arn, "tags": args["tags"]},
            child(self),
        )
        self.register_outputs(
            {
                "vpcId": self.network.vpc_id,
                "keyArn": self.key.arn,
                "clusterName": self.cluster.cluster_name,
            }
        )

    def _cluster_backup(self, name: str, prefix: str, args: PlatformEstateArgs) -> BuBackup:
        """AWS Backup of the shared cluster (its state and persistent volumes) into a vault
        under the platform key, locked in compliance mode in prod and copied to the DR region of
        `data_governance` when one is set. The BU stacks cannot do it: the cluster is the
        platform's, and each BU's vault is under a BU key."""
        governance = args.get("data_governance")
        return BuBackup(
            f"{name}-backup",
            {
                **CLUSTER_BACKUP,
                "dr_region": governance.get("dr_region") if governance is not None else None,
                "name_prefix": prefix,
                "business_unit": args["tags"].get("BusinessUnit", "platform"),
                "environment": args["environment"],
                "kms_key_arn": self.key.arn,
                "table_arn_patterns": [],
                "bucket_names": [],
                "cluster_arns": [self.cluster.cluster_arn],
                "protect": args["protect"],
                "tags": args["tags"],
            },
            child(self),
        )

    def _data_governance(
        self, name: str, prefix: str, args: PlatformEstateArgs
    ) -> PlatformDataGovernance | None:
        settings = args.get("data_governance")
        if settings is None:
            return None
        if "account_id" not in args:
            raise ValueError(f"PlatformEstate {name}: data governance needs account_id")
        return PlatformDataGovernance(
            f"{name}-data-governance",
            {
                **settings,
                "name_prefix": prefix,
                "account_id": args["account_id"],
                "business_units": list(args.get("business_units") or []),
                "kms_key_arn": self.key.arn,
                "tags": args["tags"],
            },
            child(self),
        )

    def _image_replication(
        self, name: str, prefix: str, args: PlatformEstateArgs
    ) -> ImageReplication | None:
        """The registry's copy of the BUs' images in `data_governance.dr_region`."""
        settings = args.get("data_governance")
        dr_region = settings.get("dr_region") if settings is not None else None
        business_units = list(args.get("business_units") or [])
        if dr_region is None or not business_units:
            return None
        if "account_id" not in args:
            raise ValueError(f"PlatformEstate {name}: image replication needs account_id")
        return ImageReplication(
            f"{name}-image-replication",
            {
                "name_prefix": prefix,
                "environment": args["environment"],
                "account_id": args["account_id"],
                "dr_region": dr_region,
                "business_units": business_units,
                "protect": args["protect"],
                "tags": args["tags"],
            },
            child(self),
        )

    def _cost_governance(
        self,
        name: str,
        args: PlatformEstateArgs,
        cost: PlatformCostGovernanceSettings | None,
    ) -> PlatformCostGovernance | None:
        # AWS lets only a management or standalone account create cost categories.
        business_units = list(args.get("business_units") or []) if args.get("payer_account") else []
        if (cost is None or cost["export"] is None) and not business_units:
            return None
        if cost is not None and cost["export"] is not None and "account_id" not in args:
            raise ValueError(f"PlatformEstate {name}: a cost export needs account_id")
        return PlatformCostGovernance(
            f"{name}-cost",
            {
                "export": cost["export"] if cost is not None else None,
                "business_units": business_units,
                "environment": args["environment"],
                "account_id": args.get("account_id", ""),
                "kms_key_arn": self.key.arn,
                "protect": args["protect"],
                "tags": args["tags"],
            },
            child(self),
        )


class SharedCluster(TypedDict):
    """The cluster a BU builds its tenant on: the platform's (from its stack outputs), or the
    BU's own dedicated one."""

    cluster_name: pulumi.Input[str]
    cluster_version: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]
    k8s_provider: k8s.Provider
    vpc_cidr: NotRequired[pulumi.Input[str]]
    """The cluster VPC's block (platform `vpcCidr`): BU pods reach interface endpoints in it."""
    s3_gateway_endpoint_id: NotRequired[pulumi.Input[str]]
    """The cluster VPC's S3 gateway endpoint (platform `s3GatewayEndpointId`): the BU's data
    buckets admit its pods' roles only through it (`aws:SourceVpce`)."""
    time_slicing_replicas: NotRequired[pulumi.Input[int | None]]
    """The platform's `timeSlicingReplicas`: what one GPU registers as in `nvidia.com/gpu`."""
    gpu_provisioners: NotRequired[pulumi.Input[list[str]]]
    """The platform's `gpuProvisioners`: each BU pool must use one of them."""


class AccessSpec(TypedDict):
    """The BU's personas, workload roles and key administrators (`ai-estate:access`). It feeds
    two components: `BuAccess` (roles) and the BU's `KmsKey` (key administrators)."""

    personas: dict[str, PersonaTrust]
    """Trust per persona; personas left out get no role."""
    service_accounts: dict[str, str]
    """Workload -> Kubernetes service account bound to its role."""
    key_admin_role_arns: list[str]
    """Roles that may administer (never use) the BU's key."""


class BuEstateArgs(TypedDict):
    """Inputs of `BuEstate`."""

    business_unit: str
    """The BU slug: names, tags and isolation derive from it."""
    environment: str
    """`dev`, `staging` or `prod`."""
    account_id: str
    """The account the BU deploys to: seeds globally unique bucket names, scopes log delivery."""
    feature_store: FeatureStoreSettings | None
    """The feature store; None builds none."""
    gpu_pools: list[GpuPoolSpec]
    """The BU's GPU node pools."""
    tenant: BuTenantSettings
    """The BU's namespace quotas and limits."""
    model_registry: ModelRegistrySettings | None
    """The model registry; None turns it off."""
    monitoring: BuMonitoringSettings
    """Alarm subscriptions, thresholds, model metrics and endpoints."""
    budget: BudgetSpec | None
    """The BU's monthly budget; None sets none."""
    access: AccessSpec | None
    """The BU's roles; None builds none (the registry then trusts tagged principals)."""
    shared_cluster: NotRequired[SharedCluster | None]
    """Run on the platform's cluster (the default)."""
    dedicated: NotRequired[DedicatedCluster | None]
    """Build the BU its own network and cluster instead (regulated BUs)."""
    backup: NotRequired[BackupSettings | None]
    """AWS Backup of the BU's tables and data buckets; None (or left out) builds none."""
    audit: NotRequired[AuditSettings | None]
    """The data-event trail on the BU's data; None (or left out) builds none."""
    lake_formation: NotRequired[BuLakeFormationSettings | None]
    """Lake Formation over the offline store; None (or left out) builds none."""
    data_classification: NotRequired[str]
    """The stack's `dataClassification`: the LF-tag of the BU's database (default internal)."""
    data_quality: NotRequired[DataQualitySettings | None]
    """Schema registry and Data Quality of the feature groups; None (or left out): registry only."""
    mlops_gate: NotRequired[MlopsGateSettings | None]
    """The validation gates and model cards of the model families (`ai-estate:mlops`); None (or
    left out) builds neither."""
    retraining: NotRequired[dict[str, RetrainingSpec] | None]
    """Family -> `mlops.families.<family>.retraining`: the retraining loop (queue, triggers,
    KEDA ScaledJob on the BU's GPU pool); None (or left out): no loop."""
    deploy_dispatch: NotRequired[DeployDispatchSettings | None]
    """`mlops.deployDispatch`: approvals start the deploy workflow; None (or left out): the
    registry's events are archived only."""
    protect: bool
    """Protect and retain stateful resources (prod)."""
    tags: dict[str, str]
    """Ownership tags for every taggable resource."""


class MlopsGateSettings(TypedDict):
    """What the validation gates and model cards read of `ai-estate:mlops.families`."""

    thresholds: dict[str, list[ThresholdSpec]]
    """Family -> its gate's thresholds (every configured family gets a gate)."""
    owners: dict[str, OwnersSpec]
    """Family -> its owners (families without owners are left out)."""
    cards: dict[str, ModelCardSpec]
    """Family -> its model card (families without a card are left out)."""
    log_retention_days: int
    """Retention of the gates' log groups."""


class _Scope(NamedTuple):
    """Who and where a BU estate is, shared by its section builders."""

    name: str
    business_unit: str
    environment: str
    prefix: str
    account_id: str
    partition: pulumi.Output[str]
    tags: dict[str, str]
    protect: bool

    def bucket_name(self, purpose: str) -> str:
        return naming.bucket_name(self.business_unit, self.environment, purpose, self.account_id)

    def role_arn(self, path_and_name: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:", self.partition, ":iam::", self.account_id, ":role", path_and_name
        )


class _DataStores(NamedTuple):
    table_arns: list[pulumi.Output[str]]
    feature_group_arns: list[pulumi.Output[str]]
    bucket_names: list[str]


def _replicates(args: BuEstateArgs) -> bool:
    """Whether the BU's model artifacts are replicated: a registry and a backup DR region."""
    backup = args.get("backup")
    return args["model_registry"] is not None and backup is not None and bool(backup["dr_region"])


def _audit_uses_bu_key(args: BuEstateArgs) -> bool:
    """Whether the BU's trail encrypts its log files with the BU key (its policy names it)."""
    audit = args.get("audit")
    return audit is not None and not audit["log_archive_kms_key_arn"]


class _GpuPools(NamedTuple):
    node_role: GpuNodeRole | None
    pools: dict[str, GpuNodePool]


class BuEstate(pulumi.ComponentResource):
    """One BU's tenant in one environment: its key, access-log bucket, feature store, roles,
    model registry, namespace with quotas and RBAC, GPU node role and pools, and monitoring."""

    key: KmsKey
    access_logs: AccessLogBucket
    feature_store: FeatureStore | None
    registry: ModelRegistry | None
    access: BuAccess | None
    monitoring: BuMonitoring
    tenant: BuTenant
    queues: BuQueues
    node_role: GpuNodeRole | None
    pools: dict[str, GpuNodePool]
    cluster: EksCluster | None
    network: Network | None
    backup: BuBackup | None
    audit: BuAuditTrail | None
    lake_formation: BuLakeFormation | None
    data_quality: FeatureDataQuality | None
    replication: ArtifactReplication | None
    """The artifact bucket's DR copy (a registry and `backup.dr_region`); None otherwise."""
    validation_gate: ValidationGate | None
    model_cards: ModelCards | None
    deploy_dispatch: DeployDispatch | None
    retraining: dict[str, RetrainingLoop]
    """Family -> its retraining loop (families with `retraining`)."""
    """The approval -> deploy dispatch and the model-package archive; None without a registry."""
    cluster_monitoring: PlatformMonitoring | None
    """The monitoring of a dedicated cluster (its AMP workspace); None on the shared one."""
    _s3_endpoint: pulumi.Input[str] | None

    def __init__(
        self, name: str, args: BuEstateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:estate:BuEstate", name, None, opts)
        bu, env = args["business_unit"], args["environment"]
        dedicated = args.get("dedicated")
        shared = args.get("shared_cluster")
        if (dedicated is None) == (shared is None):
            raise ValueError(f"BuEstate {name}: give exactly one of shared_cluster and dedicated")
        scope = _Scope(
            name=name,
            business_unit=bu,
            environment=env,
            prefix=naming.prefix(bu, env),
            account_id=args["account_id"],
            partition=aws.get_partition_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).partition,
            tags=args["tags"],
            protect=args["protect"],
        )
        self.key = self._key(scope, args)
        self.access_logs = AccessLogBucket(
            f"{name}-access-logs",
            {
                "bucket_name": scope.bucket_name("access-logs"),
                "account_id": scope.account_id,
                "tags": scope.tags,
                "protect": scope.protect,
            },
            child(self),
        )
        target = self._cluster_target(scope, dedicated, shared)
        # The data buckets admit the BU's pod roles only through the cluster VPC's S3 endpoint.
        self._s3_endpoint = target.get("s3_gateway_endpoint_id")
        self.feature_store = self._feature_store(scope, args)
        # On a cluster built here, Kubernetes objects must wait for its bootstrap: the deployer's
        # access entry, the system pool and the Karpenter chart that installs its CRDs. (A shared
        # cluster is complete before any BU stack runs.)
        in_cluster: list[pulumi.Resource] = [self.cluster] if self.cluster is not None else []
        # The BU's roles exist before the registry and the tenant, which name them.
        self.access = self._access(scope, args, target)
        self.registry = self._registry(scope, args)
        self.deploy_dispatch = self._deploy_dispatch(scope, args)
        self.tenant = self._tenant(scope, args, target, in_cluster)
        self.queues = self._queues(scope, args, target, in_cluster)
        self.node_role, self.pools = self._gpu_pools(scope, args, target, in_cluster)
        self.monitoring = self._monitoring(scope, args, target)
        stores = self._data_stores(scope, args)
        self.backup = self._backup(scope, args, stores)
        self.audit = self._audit(scope, args, stores)
        self.lake_formation = self._lake_formation(scope, args)
        self.data_quality = self._data_quality(scope, args)
        self.replication = self._replication(scope, args)
        self.validation_gate, self.model_cards = self._mlops_gate(scope, args)
        self.retraining = self._retraining(scope, args, target, in_cluster)
        self.register_outputs({"keyArn": self.key.arn, "namespace": self.tenant.namespace})

    # -- sections, in build order -------------------------------------------------------------

    def _cluster_target(
        self, scope: _Scope, dedicated: DedicatedCluster | None, shared: SharedCluster | None
    ) -> SharedCluster:
        """The cluster the tenant lands on: the platform's, or one built here (dedicated)."""
        self.cluster, self.network, self.cluster_monitoring = None, None, None
        if dedicated is None:
            assert shared is not None
            return shared
        built = _network_and_cluster(
            self,
            scope.name,
            scope.prefix,
            self.key,
            dedicated,
            scope.protect,
            scope.tags,
            bounded=True,
            alert_topics={
                scope.business_unit: alarm_topic_name(scope.business_unit, scope.environment)
            },
        )
        self.cluster, self.network = built.cluster, built.network
        self.cluster_monitoring = built.monitoring
        return SharedCluster(
            cluster_name=built.cluster.cluster_name,
            cluster_version=built.cluster.version,
            private_subnet_ids=built.network.private_subnet_ids,
            cluster_security_group_id=built.cluster.cluster_security_group_id,
            k8s_provider=built.cluster.k8s_provider,
            vpc_cidr=dedicated["network"]["cidr"],
            s3_gateway_endpoint_id=built.network.s3_gateway_endpoint_id,
            time_slicing_replicas=dedicated["cluster"]["time_slicing_replicas"],
            gpu_provisioners=dedicated["cluster"]["gpu_provisioners"],
        )

    def _key(self, scope: _Scope, args: BuEstateArgs) -> KmsKey:
        """The BU key: encrypts every data store, log group, topic and volume of the BU."""
        dedicated = args.get("dedicated") is not None
        access = args["access"]
        return KmsKey(
            f"{scope.name}-key",
            {
                "alias": f"ai-estate/{scope.prefix}",
                "description": f"AI Estate key of BU {scope.business_unit} in {scope.environment}",
                "log_group_prefixes": key_log_prefixes(scope.prefix, with_cluster=dedicated),
                "ebs_for_autoscaling": True,
                # EventBridge publishes model approvals to the encrypted topic, FAILED data
                # quality results to the encrypted alarm topic and, on a dedicated cluster,
                # spot interruptions to Karpenter's encrypted queue. CloudWatch and Budgets
                # publish to the BU's encrypted alarm topic.
                "service_principals": [
                    *(
                        ["events.amazonaws.com"]
                        if dedicated
                        or args["model_registry"] is not None
                        or _data_quality_rulesets(scope.prefix, args)
                        else []
                    ),
                    *ALARM_PUBLISHERS,
                ],
                # Key admins from config, deploy accounts reading artifacts through S3, and a
                # deny of every other BU's roles (components/kms.py).
                "admin_principals": list(access["key_admin_role_arns"]) if access else [],
                "s3_reader_accounts": list(
                    args["model_registry"]["deploy_account_ids"] if args["model_registry"] else []
                ),
                "isolated_business_unit": (scope.business_unit, scope.environment),
                "cloudtrail_trails": [trail_name(scope.prefix)] if _audit_uses_bu_key(args) else [],
                # The model-package archive (DeployDispatch) is under this key.
                "event_archives": args["model_registry"] is not None,
                "tags": scope.tags,
                "protect": scope.protect,
            },
            child(self),
        )

    def _data_only_for(
        self, scope: _Scope, args: BuEstateArgs, *service_roles: str
    ) -> PolicyStatements | None:
        """With the BU's roles in place, its data buckets refuse data access to anyone else in
        the account (the roles live under the BU's IAM path; service roles are named). Bucket
        settings stay manageable by the deployer; AWS services acting as themselves pass."""
        if args["access"] is None:
            return None
        registry = args["model_registry"]
        deploy_accounts = list(registry["deploy_account_ids"]) if registry else []
        bu_roles = scope.role_arn(f"{ROLE_PATH_ROOT}{scope.business_unit}/{scope.prefix}-*")
        if args.get("backup") is not None:
            # AWS Backup reads (and restores) the data buckets as the BU's backup role.
            service_roles = (*service_roles, backup_role_name(scope.prefix))
        if _replicates(args):
            # S3 reads the artifacts it replicates (and writes the replicas) as this role.
            service_roles = (*service_roles, replication_role_name(scope.prefix))
        if args.get("data_quality") is not None and args["feature_store"] is not None:
            # Glue Data Quality reads the offline store as the BU's evaluation role.
            service_roles = (*service_roles, data_quality_role_name(scope.prefix))
        role_path = f"{ROLE_PATH_ROOT}{scope.business_unit}/{scope.prefix}-"
        return bu_only_bucket_policy(
            [bu_roles, *(scope.role_arn(f"/{r}") for r in service_roles)],
            allowed_account_ids=[a for a in deploy_accounts if a != scope.account_id],
            vpc_only_principal_arns=[scope.role_arn(f"{role_path}{p}") for p in POD_ROLES],
            source_vpce=self._s3_endpoint,
        )

    def _feature_store(self, scope: _Scope, args: BuEstateArgs) -> FeatureStore | None:
        settings = args["feature_store"]
        if settings is None:
            return None
        bu, env = scope.business_unit, scope.environment
        return FeatureStore(
            f"{scope.name}-features",
            {
                **settings,
                "name_prefix": scope.prefix,
                "offline_bucket_name": scope.bucket_name("features"),
                "glue_database_name": naming.glue_database_name(bu, env, "features"),
                "kms_key_arn": self.key.arn,
                "access_log_bucket": self.access_logs.bucket_name,
                "deletion_protection": env == "prod",
                "protect": scope.protect,
                "tags": scope.tags,
                "extra_policy_statements": self._data_only_for(
                    scope,
                    args,
                    f"{scope.prefix}-feature-store",
                    # Lake Formation vends the offline store's data as its registration role.
                    *([lf_role_name(scope.prefix)] if args.get("lake_formation") else []),
                ),
            },
            child(self),
        )

    def _access(self, scope: _Scope, args: BuEstateArgs, target: SharedCluster) -> BuAccess | None:
        access = args["access"]
        if access is None:
            return None
        return BuAccess(
            f"{scope.name}-access",
            {
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "account_id": scope.account_id,
                "kms_key_arn": self.key.arn,
                "personas": access["personas"],
                "service_accounts": access["service_accounts"],
                "cluster_name": target["cluster_name"],
                "namespace": scope.business_unit,
                "feature_bucket_name": scope.bucket_name("features"),
                "model_bucket_name": scope.bucket_name("models"),
                "access_log_bucket_name": scope.bucket_name("access-logs"),
                "tags": scope.tags,
            },
            child(self),
        )

    def _registry(self, scope: _Scope, args: BuEstateArgs) -> ModelRegistry | None:
        settings = args["model_registry"]
        if settings is None:
            return None
        gate = args.get("mlops_gate")
        return ModelRegistry(
            f"{scope.name}-registry",
            {
                **settings,
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "image_names": settings.get("image_names") or None,
                "kms_key_arn": self.key.arn,
                "artifact_bucket_name": scope.bucket_name("models"),
                "access_log_bucket": self.access_logs.bucket_name,
                "principal_arns": [
                    *settings["principal_arns"],
                    *(self.access.principal_arns() if self.access else []),
                ],
                "extra_policy_statements": self._data_only_for(
                    scope, args, f"{scope.prefix}-mlflow"
                ),
                "protect": scope.protect,
                "tags": scope.tags,
                "family_tags": {
                    family: family_tags(family, (gate["owners"] if gate else {}).get(family))
                    for family in settings["model_families"]
                },
            },
            child(self),
        )

    def _deploy_dispatch(self, scope: _Scope, args: BuEstateArgs) -> DeployDispatch | None:
        """Every model-package event archived; with `deploy_dispatch`, approvals deployed."""
        if self.registry is None:
            return None
        return DeployDispatch(
            f"{scope.name}-deploy-dispatch",
            {
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "account_id": scope.account_id,
                "model_package_group_names": self.registry.model_package_group_names,
                "dispatch": args.get("deploy_dispatch"),
                "kms_key_arn": self.key.arn,
                "boundary_arn": self.access.boundary_arn if self.access else None,
                "protect": scope.protect,
                "tags": scope.tags,
            },
            child(self),
        )

    def _tenant(
        self,
        scope: _Scope,
        args: BuEstateArgs,
        target: SharedCluster,
        in_cluster: list[pulumi.Resource],
    ) -> BuTenant:
        return BuTenant(
            f"{scope.name}-tenant",
            {
                **args["tenant"],
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "persona_role_arns": dict(self.access.role_arns) if self.access else {},
                "cluster_name": target["cluster_name"],
                "vpc_cidr": target["vpc_cidr"],
                "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                "gpu_pool_names": [p["name"] for p in args["gpu_pools"]],
                "k8s_provider": target["k8s_provider"],
                "tags": scope.tags,
            },
            child(self, depends_on=in_cluster),
        )

    def _queues(
        self,
        scope: _Scope,
        args: BuEstateArgs,
        target: SharedCluster,
        in_cluster: list[pulumi.Resource],
    ) -> BuQueues:
        tenant = args["tenant"]
        return BuQueues(
            f"{scope.name}-kueue",
            {
                "business_unit": scope.business_unit,
                "namespace": self.tenant.namespace,
                "gpu_pools": args["gpu_pools"],
                "gpu_quota": tenant["gpu_quota"],
                "gpu_borrowing_limit": tenant.get("gpu_borrowing_limit", 0),
                "cpu_quota": tenant["cpu_quota"],
                "memory_quota": tenant["memory_quota"],
                "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                "k8s_provider": target["k8s_provider"],
            },
            child(self, depends_on=in_cluster),
        )

    def _gpu_pools(
        self,
        scope: _Scope,
        args: BuEstateArgs,
        target: SharedCluster,
        in_cluster: list[pulumi.Resource],
    ) -> _GpuPools:
        pools = args["gpu_pools"]
        if not pools:
            return _GpuPools(None, {})
        bu, env = scope.business_unit, scope.environment
        node_role = GpuNodeRole(
            f"{scope.name}-gpu-node-role",
            {
                "business_unit": bu,
                "environment": env,
                "cluster_name": target["cluster_name"],
                "karpenter": any(p["provisioner"] == "karpenter" for p in pools),
                "tags": scope.tags,
            },
            child(self),
        )
        built: dict[str, GpuNodePool] = {}
        for pool in pools:
            built[pool["name"]] = GpuNodePool(
                f"{scope.name}-gpu-{pool['name']}",
                {
                    "business_unit": bu,
                    "environment": env,
                    "cluster_name": target["cluster_name"],
                    "cluster_version": target["cluster_version"],
                    "subnet_ids": target["private_subnet_ids"],
                    "node_role_arn": node_role.role_arn,
                    "node_role_name": node_role.role_name,
                    "kms_key_arn": self.key.arn,
                    "security_group_ids": pulumi.Output.from_input(
                        target["cluster_security_group_id"]
                    ).apply(lambda sg: [sg]),
                    "pool": pool,
                    "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                    "platform_provisioners": target.get("gpu_provisioners"),
                    "k8s_provider": target["k8s_provider"],
                    "tags": scope.tags,
                },
                # Nodes should not join before the namespace quota that caps them exists.
                # ...and not before the BU node role's own EC2_LINUX access entry exists, so a
                # managed node group finds it rather than racing to create its own.
                # A renamed pool (`previousName`) is aliased here; its children follow through
                # this alias (the engine derives theirs from their parent's).
                child(
                    self,
                    depends_on=[self.tenant, node_role, *in_cluster],
                    aliases=[pulumi.Alias(name=f"{scope.name}-gpu-{pool['previous_name']}")]
                    if pool.get("previous_name")
                    else [],
                ),
            )
        return _GpuPools(node_role, built)

    def _data_stores(self, scope: _Scope, args: BuEstateArgs) -> _DataStores:
        """What holds the BU's data, by physical name and ARN built from it (known at preview,
        unlike the resources' own ARN outputs): online tables, feature groups, data buckets."""
        store = args["feature_store"]
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        def arn(service: str, resource: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "arn:",
                scope.partition,
                f":{service}:",
                region,
                ":",
                scope.account_id,
                ":",
                resource,
            )

        return _DataStores(
            table_arns=[
                arn("dynamodb", f"table/{scope.prefix}-{kept_name(t)}")
                for t in (store["online_tables"] if store else [])
            ],
            feature_group_arns=[
                arn("sagemaker", f"feature-group/{scope.prefix}-{kept_name(g)}")
                for g in (store["feature_groups"] if store else [])
            ],
            bucket_names=[
                *([scope.bucket_name("features")] if store else []),
                *([scope.bucket_name("models")] if args["model_registry"] else []),
            ],
        )

    def _audit(self, scope: _Scope, args: BuEstateArgs, stores: _DataStores) -> BuAuditTrail | None:
        settings = args.get("audit")
        if settings is None:
            return None
        return BuAuditTrail(
            f"{scope.name}-audit",
            {
                **settings,
                "name_prefix": scope.prefix,
                "account_id": scope.account_id,
                "kms_key_arn": self.key.arn,
                "bucket_name": scope.bucket_name("audit"),
                "access_log_bucket": self.access_logs.bucket_name,
                "bucket_arns": [
                    pulumi.Output.concat("arn:", scope.partition, ":s3:::", b)
                    for b in stores.bucket_names
                    + ([scope.bucket_name("models-dr")] if _replicates(args) else [])
                ],
                # The artifacts' replica is in the DR region: a single-region trail misses it.
                "multi_region": _replicates(args),
                "table_arns": list(stores.table_arns),
                "feature_group_arns": list(stores.feature_group_arns),
                "extra_bucket_statements": self._data_only_for(scope, args),
                "protect": scope.protect,
                "tags": scope.tags,
            },
            # Trails validate their selectors' resources only by pattern; they still should
            # start recording when the stores exist.
            child(self, depends_on=[r for r in (self.feature_store, self.registry) if r]),
        )

    def _lake_formation(self, scope: _Scope, args: BuEstateArgs) -> BuLakeFormation | None:
        """Lake Formation over the offline store: registration, LF-tags, persona grants."""
        settings, store = args.get("lake_formation"), self.feature_store
        if settings is None or store is None or args["feature_store"] is None:
            return None
        bu, env = scope.business_unit, scope.environment
        # Tables go by the Glue table AWS keeps; a renamed group's columns follow it there.
        kept = {g["name"]: kept_name(g) for g in args["feature_store"]["feature_groups"]}
        return BuLakeFormation(
            f"{scope.name}-lake-formation",
            {
                **settings,
                "restricted_columns": {
                    kept.get(group, group): columns
                    for group, columns in settings["restricted_columns"].items()
                },
                "business_unit": bu,
                "name_prefix": scope.prefix,
                "account_id": scope.account_id,
                "data_classification": args.get("data_classification", "internal"),
                "database_name": naming.glue_database_name(bu, env, "features"),
                "offline_bucket_name": scope.bucket_name("features"),
                "offline_bucket_arn": store.offline_bucket_arn,
                "kms_key_arn": self.key.arn,
                "tables": [
                    # A renamed group's grants stay those of the table AWS keeps (`kept_name`).
                    {
                        "group": kept_name(g),
                        "table_name": offline_table_name(scope.prefix, kept_name(g)),
                    }
                    for g in args["feature_store"]["feature_groups"]
                    if g["offline"]
                ],
                "persona_role_arns": (
                    {
                        **self.access.role_arns,
                        **{
                            w: arn
                            for w, arn in self.access.workload_role_arns.items()
                            if w in LF_READERS
                        },
                    }
                    if self.access
                    else {}
                ),
                "writer_role_arn": store.role_arn,
                "tables_ready": [store],
                "tags": scope.tags,
            },
            child(self, depends_on=[store]),
        )

    def _backup(self, scope: _Scope, args: BuEstateArgs, stores: _DataStores) -> BuBackup | None:
        """AWS Backup of what holds the BU's data: online tables and the feature and artifact
        buckets."""
        settings = args.get("backup")
        if settings is None:
            return None
        access = args["access"]
        return BuBackup(
            f"{scope.name}-backup",
            {
                **settings,
                "name_prefix": scope.prefix,
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "kms_key_arn": self.key.arn,
                "table_arn_patterns": list(stores.table_arns),
                "bucket_names": list(stores.bucket_names),
                # A dedicated cluster is the BU's own: its state and volumes are BU data.
                "cluster_arns": [self.cluster.cluster_arn] if self.cluster is not None else [],
                "dr_key_admin_principals": list(access["key_admin_role_arns"]) if access else [],
                "protect": scope.protect,
                "tags": scope.tags,
            },
            # The selection names the stores: back them up only once they exist.
            child(self, depends_on=[r for r in (self.feature_store, self.registry) if r]),
        )

    def _replication(self, scope: _Scope, args: BuEstateArgs) -> ArtifactReplication | None:
        """The artifact bucket's DR copy, in the backup's DR region (`_replicates`)."""
        if not _replicates(args) or self.registry is None:
            return None
        registry, backup, access = args["model_registry"], args.get("backup"), args["access"]
        assert registry is not None and backup is not None and backup["dr_region"] is not None
        return ArtifactReplication(
            f"{scope.name}-artifact-replication",
            {
                "name_prefix": scope.prefix,
                "account_id": scope.account_id,
                "dr_region": backup["dr_region"],
                "source_bucket_name": self.registry.artifact_bucket_name,
                "source_bucket_arn": self.registry.artifact_bucket_arn,
                "source_kms_key_arn": self.key.arn,
                "replica_bucket_name": scope.bucket_name("models-dr"),
                "replica_log_bucket_name": scope.bucket_name("access-logs-dr"),
                "object_lock": object_lock_for(
                    scope.environment,
                    registry["object_lock_mode"],
                    registry["object_lock_retention_days"],
                ),
                "policy_statements": self._data_only_for(scope, args),
                "key_admin_principals": list(access["key_admin_role_arns"]) if access else [],
                "source": self.registry,
                "protect": scope.protect,
                "tags": scope.tags,
            },
            child(self),
        )

    def _data_quality(self, scope: _Scope, args: BuEstateArgs) -> FeatureDataQuality | None:
        """The feature groups' schemas and, with `data_quality`, their scheduled DQ rulesets."""
        store, settings = args["feature_store"], args.get("data_quality")
        if store is None or self.feature_store is None or not store["feature_groups"]:
            return None
        return FeatureDataQuality(
            f"{scope.name}-data-quality",
            {
                "schedule": settings["schedule"] if settings else "",
                "max_event_lag_hours": settings["max_event_lag_hours"] if settings else 24,
                "number_of_workers": settings["number_of_workers"] if settings else 2,
                "evaluate": settings is not None,
                "name_prefix": scope.prefix,
                "feature_groups": list(store["feature_groups"]),
                "glue_database_name": self.feature_store.glue_database_name,
                "offline_bucket_name": self.feature_store.offline_bucket_name,
                "kms_key_arn": self.key.arn,
                "tags": scope.tags,
            },
            # The rulesets target tables SageMaker creates with the feature groups.
            child(self, depends_on=[self.feature_store]),
        )

    def _mlops_gate(
        self, scope: _Scope, args: BuEstateArgs
    ) -> tuple[ValidationGate | None, ModelCards | None]:
        """Per model family: the validation gate in front of the approver, and the model card."""
        settings = args.get("mlops_gate")
        if settings is None or self.registry is None:
            return None, None
        groups = self.registry.model_package_group_names

        def tags_of(family: str) -> dict[str, str]:
            return family_tags(family, settings["owners"].get(family))

        gate = None
        if self.access is not None and settings["thresholds"]:
            gate = ValidationGate(
                f"{scope.name}-validation-gate",
                {
                    "business_unit": scope.business_unit,
                    "environment": scope.environment,
                    "account_id": scope.account_id,
                    "families": {
                        family: {
                            "model_package_group_name": groups[family],
                            "thresholds": thresholds,
                            "tags": tags_of(family),
                        }
                        for family, thresholds in settings["thresholds"].items()
                    },
                    "model_bucket_name": scope.bucket_name("models"),
                    "kms_key_arn": self.key.arn,
                    "boundary_arn": self.access.boundary_arn,
                    "log_retention_days": settings["log_retention_days"],
                    "tags": scope.tags,
                },
                child(self, depends_on=[self.registry]),
            )
        cards = None
        if settings["cards"]:
            cards = ModelCards(
                f"{scope.name}-model-cards",
                {
                    "business_unit": scope.business_unit,
                    "environment": scope.environment,
                    "families": {
                        family: {
                            "model_package_group_name": groups[family],
                            "owners": settings["owners"].get(family),
                            "card": card,
                            "tags": tags_of(family),
                        }
                        for family, card in settings["cards"].items()
                    },
                    "kms_key_arn": self.key.arn,
                    "protect": scope.protect,
                    "tags": scope.tags,
                },
                child(self),
            )
        return gate, cards

    def _retraining(
        self,
        scope: _Scope,
        args: BuEstateArgs,
        target: SharedCluster,
        in_cluster: list[pulumi.Resource],
    ) -> dict[str, RetrainingLoop]:
        """Per family with `retraining`: its queue, its triggers and its ScaledJob
        (components/mlops.py). The job runs as the model-trainer workload role."""
        families = args.get("retraining") or {}
        if not families:
            return {}
        registry, access = self.registry, self.access
        if registry is None or access is None or "model-trainer" not in access.workload_role_arns:
            raise ValueError(
                f"BuEstate {scope.name}: the retraining loop needs the model registry and the "
                "model-trainer workload role (access with a cluster)"
            )
        gate = args.get("mlops_gate")
        owners = gate["owners"] if gate else {}
        metrics: dict[str, list[str]] = {}
        for m in args["monitoring"]["model_metrics"]:
            metrics.setdefault(m["model"], []).append(m["metric"])
        pools = [p["name"] for p in args["gpu_pools"]]
        bu_access = args["access"]
        assert bu_access is not None  # the workload role exists
        service_account = bu_access["service_accounts"]["model-trainer"]
        # The jobs' service account: its Pod Identity association (BuAccess) gives it the role.
        trainer_account = k8s.core.v1.ServiceAccount(
            f"{scope.name}-model-trainer-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=service_account,
                namespace=self.tenant.namespace,
                labels={labels.MANAGED_BY: "pulumi", labels.BU: scope.business_unit},
            ),
            opts=child(
                self, provider=target["k8s_provider"], depends_on=[*in_cluster, self.tenant]
            ),
        )
        loops = {}
        for family, spec in sorted(families.items()):
            repository = spec["image"].split("@", 1)[0].split(":", 1)[0]
            url = registry.repository_urls[repository]
            loops[family] = RetrainingLoop(
                f"{scope.name}-retrain-{family}",
                {
                    "business_unit": scope.business_unit,
                    "family": family,
                    "name_prefix": scope.prefix,
                    "account_id": scope.account_id,
                    "retraining": spec,
                    "owners": owners.get(family),
                    "alarm_names": family_alarm_names(
                        scope.prefix, family, metrics.get(family, [])
                    ),
                    "pool": spec["pool"] or pools[0],
                    "image": url.apply(functools.partial(_image_of, spec["image"])),
                    "artifact_bucket": registry.artifact_bucket_name,
                    "model_package_group": registry.model_package_group_names[family],
                    "kms_key_arn": self.key.arn,
                    "namespace": self.tenant.namespace,
                    "local_queue": self.queues.local_queue,
                    "service_account": service_account,
                    "k8s_provider": target["k8s_provider"],
                    "tags": scope.tags,
                },
                # The job needs its namespace, LocalQueue and role. Not its pool (a pending pod
                # waits for the pool's nodes, and waiting for a node group would put its minutes
                # on the deploy's critical path) nor the alarms (the rule matches their names).
                child(
                    self,
                    depends_on=[*in_cluster, self.tenant, self.queues, access, trainer_account],
                ),
            )
        return loops

    def _monitoring(self, scope: _Scope, args: BuEstateArgs, target: SharedCluster) -> BuMonitoring:
        watched_buckets: dict[str, pulumi.Input[str]] = {}
        if self.feature_store is not None:
            watched_buckets["features"] = self.feature_store.offline_bucket_name
        if self.registry is not None:
            watched_buckets["artifacts"] = self.registry.artifact_bucket_name
        tables = args["feature_store"]["online_tables"] if args["feature_store"] else []
        return BuMonitoring(
            f"{scope.name}-monitoring",
            {
                **args["monitoring"],
                "business_unit": scope.business_unit,
                "environment": scope.environment,
                "account_id": scope.account_id,
                "cluster_name": target["cluster_name"],
                "kms_key_arn": self.key.arn,
                "gpu_pools": [
                    {"name": p["name"], "max_gpus": effective_max_gpus(p)}
                    for p in args["gpu_pools"]
                ],
                "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                "data_quality_rulesets": _data_quality_rulesets(scope.prefix, args),
                "online_tables": {t["name"]: f"{scope.prefix}-{kept_name(t)}" for t in tables},
                "buckets": watched_buckets,
                "budget": args["budget"],
                "family_owners": gate["owners"] if (gate := args.get("mlops_gate")) else {},
                "tags": scope.tags,
            },
            child(self),
        )


def _data_quality_rulesets(prefix: str, args: BuEstateArgs) -> list[str]:
    """The rulesets `FeatureDataQuality` schedules for this BU (as `_data_quality` builds it)."""
    store = args["feature_store"]
    if store is None or not store["feature_groups"]:
        return []
    return evaluated_rulesets(
        prefix, list(store["feature_groups"]), args.get("data_quality") is not None
    )


def _image_of(image: str, repository_url: str) -> str:
    return image_reference(repository_url, image)


def pool_summary(pool: GpuPoolSpec) -> dict[str, object]:
    """What a BU stack exports about each pool (for dashboards, verify and cost)."""
    return {
        "provisioner": pool["provisioner"],
        "gpuModel": gpu_model_of(pool["instance_types"]),
        "instanceTypes": pool["instance_types"],
        "capacityType": pool["capacity_type"],
        "minSize": pool["min_size"],
        "maxSize": pool["max_size"],
        "maxGpus": effective_max_gpus(pool),
    }
