"""The stack program: validated config in, the estate's components out.

`__main__.py` calls `build`; this is the only place that turns the config model into component
args, creates the AWS provider (region, allowed account, default ownership tags) and exports the
stack outputs other stacks and `estate verify` read.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import SYSTEM_POOL_LABELS, EksCluster
from components.estate import (
    BuEstate,
    BuMonitoringSpec,
    ClusterSpec,
    NetworkSpec,
    PlatformEstate,
    RegistrySpec,
    SharedCluster,
    pool_summary,
)
from components.feature_store import FeatureGroupSpec, OnlineTableSpec
from components.gpu_pools import GpuPoolSpec
from components.monitoring import AlarmSubscription
from components.tags import ownership_tags
from estate.stack.config import (
    ConfigError,
    StackConfig,
    region_errors,
    split_namespace,
    validate_config,
)

PROJECT = "ai-estate"


def config_from_pulumi() -> tuple[StackConfig, str]:
    """Read and validate `ai-estate:*` from the running Pulumi program's config."""
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    source = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    region = values.get("aws:region")
    errors: list[str] = []
    config: StackConfig | None = None
    try:
        config = validate_config(split_namespace(values), source)
    except ConfigError as exc:
        errors.extend(exc.lines)
    errors.extend(region_errors(region, source))
    if errors:
        raise ConfigError(errors)
    assert config is not None
    return config, str(region)


def stack_tags(config: StackConfig) -> dict[str, str]:
    return ownership_tags(
        business_unit=config.business_unit,
        owner=config.owner,
        cost_center=config.cost_center,
        environment=config.environment,
        data_classification=config.data_classification,
    )


def network_spec(config: StackConfig) -> NetworkSpec:
    return {
        "cidr": config.network.cidr,
        "az_count": config.network.az_count,
        "nat_gateways": config.nat_mode,  # type: ignore[typeddict-item]
        "interface_endpoints": list(config.network.interface_endpoints),
        "flow_log_retention_days": config.network.flow_log_retention_days
        or default_retention_days(config),
    }


def cluster_spec(config: StackConfig) -> ClusterSpec:
    c = config.cluster
    return {
        "version": c.version,
        "public_access_cidrs": list(c.public_access_cidrs),
        "api_access_cidrs": list(c.api_access_cidrs),
        "system_nodes": {
            "instance_types": list(c.system_nodes.instance_types),
            "min_size": c.system_nodes.min_size,
            "desired_size": c.system_nodes.desired_size,
            "max_size": c.system_nodes.max_size,
            "disk_gib": c.system_nodes.disk_gib,
        },
        "gpu_provisioners": list(c.gpu_provisioners),
        "gpu_software": c.gpu_software,
        "time_slicing_replicas": c.time_slicing_replicas,
        "mig_strategy": c.mig_strategy,
        "log_retention_days": c.log_retention_days or default_retention_days(config),
    }


def default_retention_days(config: StackConfig) -> int:
    """Log retention when a stack sets none: a year in prod (audit), 90 days elsewhere."""
    return 365 if config.environment == "prod" else 90


def monitoring_spec(config: StackConfig) -> BuMonitoringSpec:
    m = config.monitoring
    subscriptions: list[AlarmSubscription] = [
        {"protocol": s.protocol, "endpoint": s.endpoint} for s in m.alarm_subscriptions
    ] or [{"protocol": "email", "endpoint": config.owner}]
    return {
        "subscriptions": subscriptions,
        "thresholds": m.thresholds.model_dump(),
        "model_metrics": [
            {
                "model": mm.model,
                "metric": mm.metric,
                "threshold": mm.threshold,
                "direction": mm.direction,
                "period_seconds": mm.period_seconds,
                "evaluation_periods": mm.evaluation_periods,
                "treat_missing_data": mm.treat_missing_data,
            }
            for mm in m.model_metrics
        ],
        "sagemaker_endpoints": [
            {
                "name": e.name,
                "variant": e.variant,
                "latency_p99_ms": e.latency_p99_ms,
                "max_5xx_per_period": e.max_5xx_per_period,
            }
            for e in m.sagemaker_endpoints
        ],
        "budget": {
            "monthly_limit_usd": config.budget.monthly_limit_usd,
            "notify_emails": list(config.budget.notify_emails),
        }
        if config.budget
        else None,
    }


def registry_spec(config: StackConfig) -> RegistrySpec | None:
    mr = config.model_registry
    if not mr.enabled:
        return None
    return {
        "model_families": list(mr.model_families),
        "image_names": list(mr.image_names),
        "principal_arns": list(mr.principal_arns),
        "deploy_account_ids": list(mr.deploy_account_ids),
        "object_lock_mode": mr.object_lock_mode,
        "object_lock_retention_days": mr.object_lock_retention_days,
        "noncurrent_version_retention_days": mr.noncurrent_version_retention_days,
        "untagged_image_expiry_days": mr.untagged_image_expiry_days,
        "tagged_images_kept": mr.tagged_images_kept,
        "approval_emails": list(mr.approval_emails),
        "approval_https_endpoints": list(mr.approval_https_endpoints),
        "mlflow": {
            "size": mr.mlflow.size,
            "mlflow_version": mr.mlflow.mlflow_version,
            "weekly_maintenance_window_start": mr.mlflow.weekly_maintenance_window_start,
        }
        if mr.mlflow.enabled
        else None,
    }


def gpu_pool_specs(config: StackConfig) -> list[GpuPoolSpec]:
    specs: list[GpuPoolSpec] = []
    for p in config.gpu_pools:
        spec = GpuPoolSpec(
            name=p.name,
            provisioner=p.provisioner,
            instance_types=list(p.instance_types),
            capacity_type=p.capacity_type,
            min_size=p.min_size,
            desired_size=p.desired_size,
            max_size=p.max_size,
            disk_gib=p.disk_gib,
            ami_type=p.ami_type,
            labels=dict(p.labels),
        )
        if p.max_gpus is not None:
            spec["max_gpus"] = p.max_gpus
        specs.append(spec)
    return specs


def build(config: StackConfig, region: str) -> dict[str, Any]:
    """Declare the stack's resources and export its outputs; returns the exported values."""
    tags = stack_tags(config)
    # Default tags reach every taggable resource the provider creates; components also pass
    # the same tags explicitly, because some resources (launch-template instances, ASG-launched
    # nodes, SageMaker-created objects) never see provider defaults.
    provider = aws.Provider(
        "aws",
        region=region,
        allowed_account_ids=[config.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    opts = pulumi.ResourceOptions(providers=[provider])
    outputs: dict[str, Any] = {
        "environment": config.environment,
        "businessUnit": config.business_unit,
        "region": region,
        "accountId": config.account_id,
    }
    if config.kind == "platform":
        estate = PlatformEstate(
            f"platform-{config.environment}",
            {
                "environment": config.environment,
                "activate_cost_allocation_tags": config.activate_cost_allocation_tags,
                "network": network_spec(config),
                "cluster": cluster_spec(config),
                "protect": config.protect_stateful,
                "tags": tags,
            },
            opts,
        )
        cluster = estate.cluster
        outputs.update(
            {
                "vpcId": estate.network.vpc_id,
                "privateSubnetIds": estate.network.private_subnet_ids,
                "publicSubnetIds": estate.network.public_subnet_ids,
                "endpointSecurityGroupId": estate.network.endpoint_security_group_id,
                "platformKeyArn": estate.key.arn,
                "flowLogGroupName": estate.network.flow_log_group_name,
                "prometheusWorkspaceArn": estate.monitoring.workspace_arn,
                "prometheusEndpoint": estate.monitoring.prometheus_endpoint,
                **cluster_outputs(cluster, config),
            }
        )
        outputs.update(build_serving(config, opts, platform_estate=estate))
    else:
        fs = config.feature_store
        pools = gpu_pool_specs(config)
        shared: SharedCluster | None = None
        dedicated = None
        platform: pulumi.StackReference | None = None
        if config.cluster.mode == "dedicated":
            dedicated = (network_spec(config), cluster_spec(config))
        else:
            platform = pulumi.StackReference(str(config.platform_stack))
            # The platform's kubeconfig runs `aws eks get-token` as whoever deploys this stack:
            # the BU's deployer needs an access entry on the shared cluster, nothing more.
            kubeconfig = platform.get_output("kubeconfig")
            shared = SharedCluster(
                cluster_name=platform.get_output("clusterName"),
                cluster_version=platform.get_output("clusterVersion"),
                private_subnet_ids=platform.get_output("privateSubnetIds"),
                cluster_security_group_id=platform.get_output("clusterSecurityGroupId"),
                k8s_provider=k8s.Provider(
                    "platform-cluster",
                    kubeconfig=kubeconfig.apply(
                        lambda k: k if isinstance(k, str) else json.dumps(k)
                    ),
                    enable_server_side_apply=True,
                    opts=pulumi.ResourceOptions(parent=None),
                ),
            )
            outputs["platformVpcId"] = platform.get_output("vpcId")
            # The cluster this BU runs on, so `estate verify` need not guess it.
            outputs["clusterName"] = platform.get_output("clusterName")
        bu = BuEstate(
            f"{config.business_unit}-{config.environment}",
            {
                "business_unit": config.business_unit,
                "environment": config.environment,
                "account_id": config.account_id,
                "online_tables": [
                    OnlineTableSpec(
                        name=t.name,
                        hash_key=t.hash_key,
                        range_key=t.range_key,
                        ttl_attribute=t.ttl_attribute,
                    )
                    for t in fs.online_tables
                ],
                "feature_groups": [
                    FeatureGroupSpec(
                        name=g.name,
                        description=g.description,
                        record_identifier=g.record_identifier,
                        event_time=g.event_time,
                        features=[{"name": f.name, "type": f.type} for f in g.features],
                        online=g.online,
                        offline=g.offline,
                    )
                    for g in fs.feature_groups
                ],
                "feature_store_enabled": fs.enabled,
                "infrequent_access_after_days": fs.infrequent_access_after_days,
                "noncurrent_version_retention_days": fs.noncurrent_version_retention_days,
                "gpu_pools": pools,
                "tenant": {
                    "gpu_quota": config.tenant.gpu_quota,
                    "cpu_quota": config.tenant.cpu_quota,
                    "memory_quota": config.tenant.memory_quota,
                    "default_container_limits": dict(config.tenant.default_container_limits),
                },
                "registry": registry_spec(config),
                "monitoring": monitoring_spec(config),
                "access": {
                    "personas": {
                        persona: trust.as_trust()  # type: ignore[misc]
                        for persona, trust in config.access.personas.items()
                    },
                    "service_accounts": dict(config.access.service_accounts),
                    "key_admin_role_arns": list(config.access.key_admin_role_arns),
                }
                if config.access.enabled
                else None,
                "shared_cluster": shared,
                "dedicated": dedicated,
                "protect": config.protect_stateful,
                "tags": tags,
            },
            opts,
        )
        outputs.update(
            {
                "kmsKeyArn": bu.key.arn,
                "accessLogBucketName": bu.access_logs.bucket_name,
                "namespace": bu.tenant.namespace,
                "gpuNodeRoleArn": bu.node_role.role_arn if bu.node_role else None,
                "gpuPools": {p["name"]: pool_summary(p) for p in pools},
                "alarmTopicArn": bu.monitoring.topic_arn,
                "alarmArns": bu.monitoring.alarm_arns,
                "dashboardName": bu.monitoring.dashboard_name,
                "budgetName": bu.monitoring.budget_name,
            }
        )
        outputs.update(build_serving(config, opts, bu=bu, shared=shared, platform=platform))
        if bu.cluster is not None:
            outputs.update(cluster_outputs(bu.cluster, config))
        if bu.access is not None:
            outputs["access"] = {
                "roleArns": bu.access.role_arns,
                "workloadRoleArns": bu.access.workload_role_arns,
                "boundaryArn": bu.access.boundary_arn,
            }
        if bu.registry is not None:
            outputs["modelRegistry"] = {
                "modelPackageGroupArns": bu.registry.model_package_group_arns,
                "artifactBucketName": bu.registry.artifact_bucket_name,
                "artifactBucketArn": bu.registry.artifact_bucket_arn,
                "repositoryUrls": bu.registry.repository_urls,
                "approvalTopicArn": bu.registry.approval_topic_arn,
                "mlflowTrackingServerArn": bu.registry.mlflow_tracking_server_arn,
            }
        if bu.feature_store is not None:
            outputs.update(
                {
                    "featureStore": {
                        "offlineBucketName": bu.feature_store.offline_bucket_name,
                        "glueDatabaseName": bu.feature_store.glue_database_name,
                        "roleArn": bu.feature_store.role_arn,
                        "onlineTableArns": bu.feature_store.table_arns,
                        "featureGroupArns": bu.feature_store.feature_group_arns,
                    }
                }
            )
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def cluster_outputs(cluster: EksCluster, config: StackConfig) -> dict[str, Any]:
    """What a stack that owns a cluster exports: everything a BU stack needs to build on it."""
    return {
        "clusterName": cluster.cluster_name,
        "clusterEndpoint": cluster.endpoint,
        "clusterCertificateAuthority": cluster.certificate_authority,
        "clusterVersion": cluster.version,
        "clusterSecurityGroupId": cluster.cluster_security_group_id,
        "oidcProviderArn": cluster.oidc_provider_arn,
        "oidcIssuerUrl": cluster.oidc_issuer_url,
        "kubeconfig": pulumi.Output.secret(cluster.kubeconfig),
        "nodeRolePath": cluster.node_role_path,
        "gpuProvisioners": list(config.cluster.gpu_provisioners),
        "gpuSoftware": config.cluster.gpu_software,
        "karpenterInterruptionQueueName": cluster.karpenter_interruption_queue_name,
    }


# -- serving (issue 12): the serving plane on platform stacks, endpoints on BU stacks ---------


def build_serving(
    config: StackConfig,
    opts: pulumi.ResourceOptions,
    *,
    platform_estate: PlatformEstate | None = None,
    bu: BuEstate | None = None,
    shared: SharedCluster | None = None,
    platform: pulumi.StackReference | None = None,
) -> dict[str, Any]:
    """Build `ServingPlane` (platform) or `BuServing` (BU); returns the outputs to export."""
    from components.network import plan_subnets
    from components.serving import BuServing, EndpointSpec, ServingPlane

    sv = config.serving
    if platform_estate is not None:
        if not sv.plane_enabled:
            return {}
        assert sv.certificate_arn is not None  # the schema requires it when enabled
        plane = ServingPlane(
            f"platform-{config.environment}-serving",
            {
                "environment": config.environment,
                "cluster_name": platform_estate.cluster.cluster_name,
                "kubernetes_version": config.cluster.version,
                "vpc_id": platform_estate.network.vpc_id,
                "k8s_provider": platform_estate.cluster.k8s_provider,
                "node_selector": dict(SYSTEM_POOL_LABELS),
                "certificate_arn": sv.certificate_arn,
                "scheme": sv.scheme,
                "waf_acl_arn": sv.waf_acl_arn,
                "hostname": sv.hostname,
                "ssl_policy": sv.ssl_policy,
                "protect": config.protect_stateful,
                "tags": stack_tags(config),
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[platform_estate.cluster])
            ),
        )
        plans = plan_subnets(config.network.cidr, config.network.az_count)
        public = sv.scheme == "internet-facing"
        return {
            "serving": {
                "gatewayName": plane.gateway_name,
                "gatewayNamespace": plane.gateway_namespace,
                "loadBalancerName": plane.load_balancer_name,
                "scheme": sv.scheme,
                "hostname": sv.hostname,
                "loadBalancerSubnetCidrs": [
                    p.public_cidr if public else p.private_cidr for p in plans
                ],
                "vpcCidr": config.network.cidr,
                "oidc": {
                    "issuer": sv.oidc.issuer,
                    "jwksEndpoint": sv.oidc.jwks_endpoint,
                    "requiredScopes": list(sv.oidc.required_scopes),
                }
                if sv.oidc
                else None,
            }
        }
    if bu is None or not sv.endpoints:
        return {}
    assert shared is not None and platform is not None, "endpoints need the shared cluster"
    assert bu.access is not None  # the schema requires access for endpoints
    gateway = platform.get_output("serving")
    endpoints: list[EndpointSpec] = []
    for e in sv.endpoints:
        ref = e.image[len(e.image_repository) :]
        endpoints.append(
            {
                "name": e.name,
                "model_family": e.model_family,
                "model_version": e.model_version,
                "image_repository": e.image_repository,
                "image_reference": ref,
                "gpu_pool": e.gpu_pool,
                "gpus_per_replica": e.gpus_per_replica,
                "cpu": e.cpu,
                "memory": e.memory,
                "min_replicas": e.min_replicas,
                "max_replicas": e.max_replicas,
                "target_requests_per_second": e.target_requests_per_second,
                "target_latency_ms": e.target_latency_ms,
                "latency_p99_ms": e.latency_p99_ms,
                "route_path": e.route_path or f"/{config.business_unit}/{e.name}",
                "auth": e.auth,
                "port": e.port,
                "health_path": e.health_path,
                "online_tables": list(e.online_tables),
                "schedule": e.schedule.model_dump() if e.schedule else None,
            }
        )
    serving = BuServing(
        f"{config.business_unit}-{config.environment}-serving",
        {
            "endpoints": endpoints,
            "common": {
                "business_unit": config.business_unit,
                "environment": config.environment,
                "account_id": config.account_id,
                "cluster_name": shared["cluster_name"],
                "k8s_provider": shared["k8s_provider"],
                "namespace": bu.tenant.namespace,
                "gateway": {
                    "gateway_name": gateway.apply(lambda g: g["gatewayName"]),
                    "gateway_namespace": gateway.apply(lambda g: g["gatewayNamespace"]),
                    "load_balancer_name": gateway.apply(lambda g: g["loadBalancerName"]),
                    "load_balancer_cidrs": gateway.apply(lambda g: g["loadBalancerSubnetCidrs"]),
                    "vpc_cidr": gateway.apply(lambda g: g["vpcCidr"]),
                    "vpc_id": platform.get_output("vpcId"),
                    "oidc": gateway.apply(
                        lambda g: (
                            {
                                "issuer": g["oidc"]["issuer"],
                                "jwks_endpoint": g["oidc"]["jwksEndpoint"],
                                "required_scopes": g["oidc"].get("requiredScopes") or [],
                            }
                            if g.get("oidc")
                            else None
                        )
                    ),
                },
                "kms_key_arn": bu.key.arn,
                "model_bucket_name": naming_bucket(config, "models"),
                "boundary_arn": bu.access.boundary_arn,
                "alarm_topic_arn": bu.monitoring.topic_arn,
                "tags": stack_tags(config),
            },
        },
        opts,
    )
    return {
        "serving": {
            "endpoints": {
                name: {
                    "routePath": spec["route_path"],
                    "roleArn": serving.endpoints[name].role_arn,
                    "alarmArns": serving.endpoints[name].alarm_arns,
                }
                for name, spec in ((e["name"], e) for e in endpoints)
            }
        }
    }


def naming_bucket(config: StackConfig, purpose: str) -> str:
    from components import naming

    return naming.bucket_name(config.business_unit, config.environment, purpose, config.account_id)
