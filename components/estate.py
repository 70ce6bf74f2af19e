"""The roots: one `PlatformEstate` per environment, one `BuEstate` per BU and environment.

They only compose the other components; every resource a stack declares hangs under one of
these two, so the inventory reads as a tree from the root down.

Logical names here are frozen: renaming `f"{name}-network"` or `f"{name}-cluster"` would make
Pulumi replace a VPC or a cluster. A rename needs an alias (see docs/migrations.md).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import naming
from .access import ROLE_PATH_ROOT, BuAccess, PersonaTrust, bu_only_bucket_policy
from .cluster import SYSTEM_POOL_LABELS, EksCluster, SystemNodesSpec
from .feature_store import FeatureGroupSpec, FeatureStore, OnlineTableSpec
from .gpu_catalog import gpu_model_of
from .gpu_pools import GpuNodePool, GpuNodeRole, GpuPoolSpec, effective_max_gpus
from .kms import KmsKey
from .model_registry import MlflowSpec, ModelRegistry, object_lock_for
from .monitoring import (
    ALARM_PUBLISHERS,
    AlarmSubscription,
    BudgetSpec,
    BuMonitoring,
    ModelMetricSpec,
    PlatformMonitoring,
    SageMakerEndpointSpec,
    log_group_prefixes,
)
from .network import Network
from .options import child
from .storage import AccessLogBucket, PolicyStatements
from .tenant import BuTenant


class NetworkSpec(TypedDict):
    """VPC settings of an estate that builds its own network."""

    cidr: str
    az_count: int
    nat_gateways: Literal["single", "perAz"]
    interface_endpoints: list[str]
    flow_log_retention_days: int


class ClusterSpec(TypedDict):
    """EKS settings of an estate that builds its own cluster."""

    version: str
    public_access_cidrs: list[str]
    api_access_cidrs: list[str]
    system_nodes: SystemNodesSpec
    gpu_provisioners: list[str]
    gpu_software: str
    time_slicing_replicas: int | None
    mig_strategy: str
    log_retention_days: int


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


class _NetworkAndCluster:
    """The VPC and EKS cluster an estate builds for itself (platform, or a dedicated BU)."""

    def __init__(
        self,
        parent: pulumi.ComponentResource,
        name: str,
        prefix: str,
        key: KmsKey,
        network: NetworkSpec,
        cluster: ClusterSpec,
        protect: bool,
        tags: dict[str, str],
    ) -> None:
        self.network = Network(
            f"{name}-network",
            {
                "name_prefix": prefix,
                "cidr": network["cidr"],
                "az_count": network["az_count"],
                "nat_gateways": network["nat_gateways"],
                "interface_endpoints": network["interface_endpoints"],
                "flow_log_retention_days": network["flow_log_retention_days"],
                "flow_log_kms_key_arn": key.arn,
                "tags": tags,
                "cluster_name": cluster_name(prefix),
            },
            child(parent),
        )
        self.cluster = EksCluster(
            f"{name}-cluster",
            {
                "name": cluster_name(prefix),
                "version": cluster["version"],
                "vpc_id": self.network.vpc_id,
                "private_subnet_ids": self.network.private_subnet_ids,
                "public_access_cidrs": cluster["public_access_cidrs"],
                "api_access_cidrs": cluster["api_access_cidrs"],
                "kms_key_arn": key.arn,
                "log_retention_days": cluster["log_retention_days"],
                "system_nodes": cluster["system_nodes"],
                "gpu_provisioners": cluster["gpu_provisioners"],
                "gpu_software": cluster["gpu_software"],
                "time_slicing_replicas": cluster["time_slicing_replicas"],
                "mig_strategy": cluster["mig_strategy"],
                "protect": protect,
                "tags": tags,
            },
            child(parent),
        )
        self.monitoring = PlatformMonitoring(
            f"{name}-monitoring",
            {
                "name_prefix": prefix,
                "cluster_name": self.cluster.cluster_name,
                "kubernetes_version": cluster["version"],
                "private_subnet_ids": self.network.private_subnet_ids,
                "cluster_security_group_id": self.cluster.cluster_security_group_id,
                "kms_key_arn": key.arn,
                "log_retention_days": cluster["log_retention_days"],
                "k8s_provider": self.cluster.k8s_provider,
                "node_selector": SYSTEM_POOL_LABELS,
                # only the in-cluster parts wait for the cluster (see PlatformMonitoringArgs)
                "cluster_ready": [self.cluster],
                "protect": protect,
                "tags": tags,
            },
            child(parent),
        )


class PlatformEstateArgs(TypedDict):
    """Inputs of `PlatformEstate`."""

    environment: str
    network: NetworkSpec
    cluster: ClusterSpec
    protect: bool
    """Protect and retain stateful resources (prod)."""
    tags: dict[str, str]


class PlatformEstate(pulumi.ComponentResource):
    """The shared estate of one environment: the platform key, the network, and the EKS cluster
    with its system pool, add-ons and GPU machinery that BU stacks build their tenants on."""

    key: KmsKey
    network: Network
    cluster: EksCluster

    def __init__(
        self, name: str, args: PlatformEstateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:estate:PlatformEstate", name, None, opts)
        prefix = naming.prefix("platform", args["environment"])
        self.key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}",
                "description": f"AI Estate platform key for {args['environment']}",
                "log_group_prefixes": key_log_prefixes(prefix, with_cluster=True),
                "ebs_for_autoscaling": True,
                # EventBridge delivers spot interruptions into Karpenter's encrypted queue.
                "service_principals": ["events.amazonaws.com"],
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        built = _NetworkAndCluster(
            self,
            name,
            prefix,
            self.key,
            args["network"],
            args["cluster"],
            args["protect"],
            args["tags"],
        )
        self.network, self.cluster = built.network, built.cluster
        self.monitoring = built.monitoring
        self.register_outputs(
            {
                "vpcId": self.network.vpc_id,
                "keyArn": self.key.arn,
                "clusterName": self.cluster.cluster_name,
            }
        )


class SharedCluster(TypedDict):
    """The platform cluster a BU on the shared estate builds its tenant on (platform outputs)."""

    cluster_name: pulumi.Input[str]
    cluster_version: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]
    k8s_provider: k8s.Provider
    vpc_cidr: NotRequired[pulumi.Input[str]]
    """The cluster VPC's block (platform `vpcCidr`): BU pods reach interface endpoints in it."""
    time_slicing_replicas: NotRequired[pulumi.Input[int | None]]
    """The platform's `timeSlicingReplicas`: what one GPU registers as in `nvidia.com/gpu`."""
    gpu_provisioners: NotRequired[pulumi.Input[list[str]]]
    """The platform's `gpuProvisioners`: each BU pool must use one of them."""


class TenantSpec(TypedDict):
    """The BU's namespace settings."""

    gpu_quota: int | None
    """None: the sum of the pools' GPU caps."""
    cpu_quota: str
    memory_quota: str
    default_container_limits: dict[str, str]


class RegistrySpec(TypedDict):
    """The BU's model registry settings (see components/model_registry.py)."""

    model_families: list[str]
    image_names: list[str]
    principal_arns: list[str]
    deploy_account_ids: list[str]
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    object_lock_retention_days: int
    noncurrent_version_retention_days: int
    untagged_image_expiry_days: int
    tagged_images_kept: int
    approval_emails: list[str]
    approval_https_endpoints: list[str]
    mlflow: MlflowSpec | None


class BuMonitoringSpec(TypedDict):
    """The BU's alarm settings (see components/monitoring.py)."""

    subscriptions: list[AlarmSubscription]
    thresholds: dict[str, float]
    model_metrics: list[ModelMetricSpec]
    sagemaker_endpoints: list[SageMakerEndpointSpec]
    budget: BudgetSpec | None


class AccessSpec(TypedDict):
    """The BU's personas and workload roles (see components/access.py)."""

    personas: dict[str, PersonaTrust]
    service_accounts: dict[str, str]
    key_admin_role_arns: list[str]


class BuEstateArgs(TypedDict):
    """Inputs of `BuEstate`."""

    business_unit: str
    environment: str
    account_id: str
    """The account the BU deploys to: seeds globally unique bucket names, scopes log delivery."""
    online_tables: list[OnlineTableSpec]
    feature_groups: list[FeatureGroupSpec]
    feature_store_enabled: bool
    infrequent_access_after_days: int
    noncurrent_version_retention_days: int
    gpu_pools: list[GpuPoolSpec]
    tenant: TenantSpec
    registry: RegistrySpec | None
    """The model registry; None turns it off."""
    monitoring: BuMonitoringSpec
    access: AccessSpec | None
    """The BU's roles; None builds none (the registry then trusts tagged principals)."""
    shared_cluster: NotRequired[SharedCluster | None]
    """Run on the platform's cluster (the default)."""
    dedicated: NotRequired[tuple[NetworkSpec, ClusterSpec] | None]
    """Build the BU its own network and cluster instead (regulated BUs)."""
    protect: bool
    tags: dict[str, str]


def tenant_gpu_quota(tenant: TenantSpec, pools: list[GpuPoolSpec]) -> int:
    """The namespace GPU quota: as configured, else every pool at its cap."""
    if tenant["gpu_quota"] is not None:
        return tenant["gpu_quota"]
    return sum(effective_max_gpus(p) for p in pools)


class BuEstate(pulumi.ComponentResource):
    """One BU's tenant in one environment: its key, access-log bucket, feature store, namespace
    with quotas and RBAC, GPU node role and GPU pools (the model registry, personas and
    monitoring join with later issues)."""

    key: KmsKey
    access_logs: AccessLogBucket
    feature_store: FeatureStore | None
    registry: ModelRegistry | None
    access: BuAccess | None
    monitoring: BuMonitoring
    tenant: BuTenant
    node_role: GpuNodeRole | None
    pools: dict[str, GpuNodePool]
    cluster: EksCluster | None
    network: Network | None

    def __init__(
        self, name: str, args: BuEstateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:estate:BuEstate", name, None, opts)
        bu, env = args["business_unit"], args["environment"]
        prefix = naming.prefix(bu, env)
        dedicated = args.get("dedicated")
        shared = args.get("shared_cluster")
        if (dedicated is None) == (shared is None):
            raise ValueError(f"BuEstate {name}: give exactly one of shared_cluster and dedicated")
        self.key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}",
                "description": f"AI Estate key of BU {bu} in {env}",
                "log_group_prefixes": key_log_prefixes(prefix, with_cluster=dedicated is not None),
                "ebs_for_autoscaling": True,
                # EventBridge publishes model approvals to the encrypted topic and, on a
                # dedicated cluster, spot interruptions to Karpenter's encrypted queue.
                # CloudWatch and Budgets publish to the BU's encrypted alarm topic.
                "service_principals": [
                    *(
                        ["events.amazonaws.com"]
                        if dedicated is not None or args["registry"] is not None
                        else []
                    ),
                    *ALARM_PUBLISHERS,
                ],
                # Key admins from config, deploy accounts reading artifacts through S3, and a
                # deny of every other BU's roles (components/kms.py).
                "admin_principals": list(
                    args["access"]["key_admin_role_arns"] if args["access"] else []
                ),
                "s3_reader_accounts": list(
                    args["registry"]["deploy_account_ids"] if args["registry"] else []
                ),
                "isolated_business_unit": (bu, env),
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        self.access_logs = AccessLogBucket(
            f"{name}-access-logs",
            {
                "bucket_name": naming.bucket_name(bu, env, "access-logs", args["account_id"]),
                "account_id": args["account_id"],
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        # With the BU's roles in place, its data buckets refuse data access to anyone else in the
        # account (the roles live under the BU's IAM path; the two service roles are named).
        # Bucket settings stay manageable by the deployer; AWS services acting as themselves pass.
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        def role_arn(path_and_name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "arn:", partition, ":iam::", args["account_id"], ":role", path_and_name
            )

        bu_roles = role_arn(f"{ROLE_PATH_ROOT}{bu}/{prefix}-*")
        deploy_accounts = list(args["registry"]["deploy_account_ids"]) if args["registry"] else []

        def data_only_for(*service_roles: str) -> PolicyStatements | None:
            if args["access"] is None:
                return None
            return bu_only_bucket_policy(
                [bu_roles, *(role_arn(f"/{r}") for r in service_roles)],
                allowed_account_ids=[a for a in deploy_accounts if a != args["account_id"]],
            )

        self.feature_store = None
        if args["feature_store_enabled"]:
            self.feature_store = FeatureStore(
                f"{name}-features",
                {
                    "name_prefix": prefix,
                    "offline_bucket_name": naming.bucket_name(
                        bu, env, "features", args["account_id"]
                    ),
                    "glue_database_name": naming.glue_database_name(bu, env, "features"),
                    "kms_key_arn": self.key.arn,
                    "access_log_bucket": self.access_logs.bucket_name,
                    "online_tables": args["online_tables"],
                    "feature_groups": args["feature_groups"],
                    "infrequent_access_after_days": args["infrequent_access_after_days"],
                    "noncurrent_version_retention_days": args["noncurrent_version_retention_days"],
                    "deletion_protection": env == "prod",
                    "protect": args["protect"],
                    "tags": args["tags"],
                    "extra_policy_statements": data_only_for(f"{prefix}-feature-store"),
                },
                child(self),
            )

        self.cluster, self.network = None, None
        if dedicated is not None:
            built = _NetworkAndCluster(
                self,
                name,
                prefix,
                self.key,
                dedicated[0],
                dedicated[1],
                args["protect"],
                args["tags"],
            )
            self.cluster, self.network = built.cluster, built.network
            target = SharedCluster(
                cluster_name=built.cluster.cluster_name,
                cluster_version=built.cluster.version,
                private_subnet_ids=built.network.private_subnet_ids,
                cluster_security_group_id=built.cluster.cluster_security_group_id,
                k8s_provider=built.cluster.k8s_provider,
                vpc_cidr=dedicated[0]["cidr"],
                time_slicing_replicas=dedicated[1]["time_slicing_replicas"],
                gpu_provisioners=dedicated[1]["gpu_provisioners"],
            )
        else:
            assert shared is not None
            target = shared
        # On a cluster built here, Kubernetes objects must wait for its bootstrap: the deployer's
        # access entry, the system pool and the Karpenter chart that installs its CRDs. (A shared
        # cluster is complete before any BU stack runs.)
        in_cluster: list[pulumi.Resource] = [self.cluster] if self.cluster is not None else []

        self.access = None
        access = args["access"]
        if access is not None:
            # The BU's roles exist before the registry and the tenant, which name them.
            self.access = BuAccess(
                f"{name}-access",
                {
                    "business_unit": bu,
                    "environment": env,
                    "account_id": args["account_id"],
                    "kms_key_arn": self.key.arn,
                    "personas": access["personas"],
                    "service_accounts": access["service_accounts"],
                    "cluster_name": target["cluster_name"],
                    "namespace": bu,
                    "feature_bucket_name": naming.bucket_name(
                        bu, env, "features", args["account_id"]
                    ),
                    "model_bucket_name": naming.bucket_name(bu, env, "models", args["account_id"]),
                    "access_log_bucket_name": naming.bucket_name(
                        bu, env, "access-logs", args["account_id"]
                    ),
                    "tags": args["tags"],
                },
                child(self),
            )

        self.registry = None
        registry = args["registry"]
        if registry is not None:
            self.registry = ModelRegistry(
                f"{name}-registry",
                {
                    "business_unit": bu,
                    "environment": env,
                    "model_families": registry["model_families"],
                    "image_names": registry["image_names"] or None,
                    "kms_key_arn": self.key.arn,
                    "artifact_bucket_name": naming.bucket_name(
                        bu, env, "models", args["account_id"]
                    ),
                    "access_log_bucket": self.access_logs.bucket_name,
                    "principal_arns": [
                        *registry["principal_arns"],
                        *(self.access.principal_arns() if self.access else []),
                    ],
                    "deploy_account_ids": registry["deploy_account_ids"],
                    "object_lock": object_lock_for(
                        env, registry["object_lock_mode"], registry["object_lock_retention_days"]
                    ),
                    "noncurrent_version_retention_days": registry[
                        "noncurrent_version_retention_days"
                    ],
                    "untagged_image_expiry_days": registry["untagged_image_expiry_days"],
                    "tagged_images_kept": registry["tagged_images_kept"],
                    "approval_emails": registry["approval_emails"],
                    "approval_https_endpoints": registry["approval_https_endpoints"],
                    "mlflow": registry["mlflow"],
                    "extra_policy_statements": data_only_for(f"{prefix}-mlflow"),
                    "protect": args["protect"],
                    "tags": args["tags"],
                },
                child(self),
            )

        pools = args["gpu_pools"]
        self.tenant = BuTenant(
            f"{name}-tenant",
            {
                "business_unit": bu,
                "environment": env,
                "gpu_quota": tenant_gpu_quota(args["tenant"], pools),
                "cpu_quota": args["tenant"]["cpu_quota"],
                "memory_quota": args["tenant"]["memory_quota"],
                "default_container_limits": args["tenant"]["default_container_limits"],
                "persona_role_arns": dict(self.access.role_arns) if self.access else {},
                "cluster_name": target["cluster_name"],
                "vpc_cidr": target["vpc_cidr"],
                "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                "gpu_pool_names": [p["name"] for p in pools],
                "k8s_provider": target["k8s_provider"],
                "tags": args["tags"],
            },
            child(self, depends_on=in_cluster),
        )

        self.node_role = None
        self.pools = {}
        if pools:
            self.node_role = GpuNodeRole(
                f"{name}-gpu-node-role",
                {
                    "business_unit": bu,
                    "environment": env,
                    "cluster_name": target["cluster_name"],
                    "karpenter": any(p["provisioner"] == "karpenter" for p in pools),
                    "tags": args["tags"],
                },
                child(self),
            )
            for pool in pools:
                self.pools[pool["name"]] = GpuNodePool(
                    f"{name}-gpu-{pool['name']}",
                    {
                        "business_unit": bu,
                        "environment": env,
                        "cluster_name": target["cluster_name"],
                        "cluster_version": target["cluster_version"],
                        "subnet_ids": target["private_subnet_ids"],
                        "node_role_arn": self.node_role.role_arn,
                        "node_role_name": self.node_role.role_name,
                        "kms_key_arn": self.key.arn,
                        "security_group_ids": pulumi.Output.from_input(
                            target["cluster_security_group_id"]
                        ).apply(lambda sg: [sg]),
                        "pool": pool,
                        "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                        "platform_provisioners": target.get("gpu_provisioners"),
                        "k8s_provider": target["k8s_provider"],
                        "tags": args["tags"],
                    },
                    # Nodes should not join before the namespace quota that caps them exists.
                    # ...and not before the BU node role's own EC2_LINUX access entry exists, so a
                    # managed node group finds it rather than racing to create its own.
                    child(self, depends_on=[self.tenant, self.node_role, *in_cluster]),
                )
        watched_buckets: dict[str, pulumi.Input[str]] = {}
        if self.feature_store is not None:
            watched_buckets["features"] = self.feature_store.offline_bucket_name
        if self.registry is not None:
            watched_buckets["artifacts"] = self.registry.artifact_bucket_name
        mon = args["monitoring"]
        self.monitoring = BuMonitoring(
            f"{name}-monitoring",
            {
                "business_unit": bu,
                "environment": env,
                "account_id": args["account_id"],
                "cluster_name": target["cluster_name"],
                "kms_key_arn": self.key.arn,
                "subscriptions": mon["subscriptions"],
                "thresholds": mon["thresholds"],
                "gpu_pools": [
                    {"name": p["name"], "max_gpus": effective_max_gpus(p)} for p in pools
                ],
                "gpu_slices_per_gpu": target.get("time_slicing_replicas"),
                "online_tables": {
                    t["name"]: f"{prefix}-{t['name']}"
                    for t in (args["online_tables"] if self.feature_store is not None else [])
                },
                "buckets": watched_buckets,
                "model_metrics": mon["model_metrics"],
                "sagemaker_endpoints": mon["sagemaker_endpoints"],
                "budget": mon["budget"],
                "tags": args["tags"],
            },
            child(self),
        )
        self.register_outputs({"keyArn": self.key.arn, "namespace": self.tenant.namespace})


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
