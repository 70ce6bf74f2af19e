"""The stack program: validated config in, the estate's components out.

`__main__.py` calls `build`; this is the only place that turns the config model into component
args, creates the AWS provider (region, allowed account, default ownership tags) and exports the
stack outputs other stacks and `estate verify` read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import SYSTEM_POOL_LABELS, EksCluster, EksClusterSettings
from components.deploy_dispatch import DeployDispatchSettings
from components.estate import (
    BuEstate,
    BuEstateArgs,
    DedicatedCluster,
    MlopsGateSettings,
    PlatformEstate,
    PlatformEstateArgs,
    SharedCluster,
    pool_summary,
)
from components.mlops import RetrainingSpec
from components.model_cards import ModelCardSpec, OwnersSpec
from components.network import NetworkSettings
from components.tags import ownership_tags
from components.validation_gate import ThresholdSpec
from estate.stack.config import StackConfig, validate_pulumi_config, warning_lines
from estate.stack.convert import to_args

PROJECT = "ai-estate"


def config_from_pulumi(stacks_dir: Path | None = None) -> tuple[StackConfig, str]:
    """Read and validate the running Pulumi program's config with every rule `estate validate`
    runs (namespaces, schema, region, stack name; with `stacks_dir`, the referenced platform
    stack and the waivers' policies too), so `pulumi up` refuses what `estate` refuses."""
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    config, region = validate_pulumi_config(values, stack, source, stacks_dir)
    for line in warning_lines(source, config):
        pulumi.log.warn(line)  # `estate check` reports these as advisory findings
    return config, region


def stack_tags(config: StackConfig) -> dict[str, str]:
    return ownership_tags(
        business_unit=config.business_unit,
        owner=config.owner,
        cost_center=config.cost_center,
        environment=config.environment,
        data_classification=config.data_classification,
    )


# -- what each kind of stack does with each top-level config field ------------------------------
# `to_args` converts every other field into the root component's args and raises on any field the
# args lack, so a new config section must land here (with the reason) or in the component's args.

_OWNERSHIP = "ownership tags on every resource (stack_tags) and the provider's default tags"
_WAIVERS = "read by the policy pack from the stack config, not by the program"

PLATFORM_CONSUMED: dict[str, str] = {
    "kind": "selects platform_stack()",
    "business_unit": "always `platform` on platform stacks (ownership tags)",
    "owner": _OWNERSHIP,
    "cost_center": _OWNERSHIP,
    "data_classification": _OWNERSHIP,
    "platform_stack": "BU stacks only",
    "feature_store": "BU stacks only",
    "gpu_pools": "BU stacks only (the schema refuses pools on platform stacks)",
    "tenant": "BU stacks only",
    "model_registry": "BU stacks only",
    "monitoring": "BU stacks only",
    "access": "BU stacks only",
    "budget": "BU stacks only",
    "waivers": _WAIVERS,
    "cluster.mode": "a platform stack always builds its cluster",
    "activate_cost_allocation_tags": "removed: the schema refuses it (a management-account step)",
    "serving": "the serving plane, built by build_serving() beside the estate",
    "backup": "BU stacks only (AWS Backup of a BU's tables and buckets)",
    "audit": "BU stacks only (the data-event trail on a BU's data)",
    "lake_formation": "BU stacks only (the schema refuses it on platform stacks)",
    "data_quality": "BU stacks only (Glue Data Quality of a BU's feature groups)",
    "mlops": "BU stacks only (the schema refuses it on platform stacks)",
}

BU_CONSUMED: dict[str, str] = {
    "kind": "selects bu_stack()",
    "owner": _OWNERSHIP,
    "cost_center": _OWNERSHIP,
    "data_classification": _OWNERSHIP,
    "platform_stack": "the StackReference that yields `shared_cluster`",
    "network": "converted into `dedicated` when cluster.mode is dedicated",
    "cluster": "converted into `dedicated` when cluster.mode is dedicated",
    "activate_cost_allocation_tags": "removed: the schema refuses it (a management-account step)",
    "serving": "the BU's endpoints, built by build_serving() on top of the estate",
    "waivers": _WAIVERS,
    "cost_governance": "platform stacks only (the schema refuses it on BU stacks)",
    "business_units": "platform stacks only (the schema refuses it on BU stacks)",
    "monitoring.prometheus_rules": "the BU's AMP rule groups, built by build_prometheus_rules()",
    "payer_account": "checked by the schema (monitoring.costAnomaly needs it)",
    "data_governance": "platform stacks only (the schema refuses it on BU stacks)",
    "mlops": "read by mlops_gate_settings() (validation gates, model cards, owner tags), the "
    "retraining loops (bu_args: retraining) and deploy_dispatch",
}


def dedicated_settings(config: StackConfig) -> DedicatedCluster:
    """The network and cluster of a stack that builds its own cluster."""
    return {
        "network": to_args(config.network, NetworkSettings),
        "cluster": to_args(
            config.cluster,
            EksClusterSettings,
            consumed={"mode": "chooses between this and the platform's shared cluster"},
        ),
    }


def platform_args(config: StackConfig, tags: dict[str, str]) -> PlatformEstateArgs:
    """`PlatformEstate` args of a platform stack, converted from its config."""
    return to_args(
        config,
        PlatformEstateArgs,
        consumed=PLATFORM_CONSUMED,
        protect=config.protect_stateful,
        tags=tags,
    )


def bu_args(
    config: StackConfig, tags: dict[str, str], shared: SharedCluster | None
) -> BuEstateArgs:
    """`BuEstate` args of a BU stack, converted from its config; `shared` is the platform's
    cluster, or None when the BU builds its own."""
    return to_args(
        config,
        BuEstateArgs,
        consumed=BU_CONSUMED,
        shared_cluster=shared,
        dedicated=dedicated_settings(config) if shared is None else None,
        data_classification=config.data_classification,
        mlops_gate=mlops_gate_settings(config),
        retraining={
            f: to_args(spec.retraining, RetrainingSpec)
            for f, spec in config.mlops.families.items()
            if spec.retraining is not None
        },
        deploy_dispatch=(
            to_args(config.mlops.deploy_dispatch, DeployDispatchSettings)
            if config.mlops.deploy_dispatch is not None
            else None
        ),
        protect=config.protect_stateful,
        tags=tags,
    )


def mlops_gate_settings(config: StackConfig) -> MlopsGateSettings | None:
    """The validation gates and model cards of `ai-estate:mlops.families` (None: no families)."""
    families = config.mlops.families
    if not families:
        return None
    return MlopsGateSettings(
        thresholds={
            f: [
                ThresholdSpec(metric=t.metric, min=t.min, max=t.max)
                for t in spec.validation.thresholds
            ]
            for f, spec in families.items()
        },
        owners={
            f: OwnersSpec(
                business=spec.owners.business,
                technical=spec.owners.technical,
                risk=spec.owners.risk,
            )
            for f, spec in families.items()
            if spec.owners is not None
        },
        cards={
            f: ModelCardSpec(
                intended_use=spec.model_card.intended_use,
                risk_rating=spec.model_card.risk_rating,
                status=spec.model_card.status,
                kpi=spec.model_card.kpi,
            )
            for f, spec in families.items()
            if spec.model_card is not None
        },
        # The cluster's resolved retention: 365 days in prod, 90 elsewhere, unless configured.
        log_retention_days=config.cluster.log_retention_days or 90,
    )


def shared_cluster(
    config: StackConfig,
) -> tuple[SharedCluster, dict[str, Any], pulumi.StackReference]:
    """The platform cluster of a BU on the shared estate, what the BU re-exports of it, and the
    platform stack reference (serving reads the platform's Gateway from it)."""
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
            kubeconfig=kubeconfig.apply(lambda k: k if isinstance(k, str) else json.dumps(k)),
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=None),
        ),
        # Required: without them BU pods could not reach AWS, and quotas and GPU caps would
        # count in the wrong unit (deploy the platform stack first).
        vpc_cidr=platform.require_output("vpcCidr"),
        s3_gateway_endpoint_id=platform.require_output("s3GatewayEndpointId"),
        time_slicing_replicas=platform.get_output("timeSlicingReplicas"),
        gpu_provisioners=platform.require_output("gpuProvisioners"),
    )
    outputs = {
        "platformVpcId": platform.get_output("vpcId"),
        # The cluster this BU runs on, so `estate verify` need not guess it.
        "clusterName": platform.get_output("clusterName"),
    }
    return shared, outputs, platform


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
        outputs.update(platform_stack(config, tags, opts))
    else:
        outputs.update(bu_stack(config, tags, opts))
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def platform_stack(
    config: StackConfig, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    """The platform estate of an environment; returns its outputs."""
    estate = PlatformEstate(f"platform-{config.environment}", platform_args(config, tags), opts)
    serving = build_serving(config, opts, platform_estate=estate)
    return {
        **serving,
        "vpcId": estate.network.vpc_id,
        "privateSubnetIds": estate.network.private_subnet_ids,
        "publicSubnetIds": estate.network.public_subnet_ids,
        "loadBalancerSubnetIds": estate.network.load_balancer_subnet_ids,
        "endpointSecurityGroupId": estate.network.endpoint_security_group_id,
        # BU data buckets admit their pods' roles only through it (aws:SourceVpce).
        "s3GatewayEndpointId": estate.network.s3_gateway_endpoint_id,
        "platformKeyArn": estate.key.arn,
        "flowLogGroupName": estate.network.flow_log_group_name,
        "prometheusWorkspaceArn": estate.monitoring.workspace_arn,
        "prometheusEndpoint": estate.monitoring.prometheus_endpoint,
        "costGovernance": {
            "exportBucketName": estate.cost.export_bucket_name if estate.cost else None,
            "exportArn": estate.cost.export_arn if estate.cost else None,
            "costCategoryArn": estate.cost.cost_category_arn if estate.cost else None,
        },
        **cluster_outputs(estate.cluster, config),
        "dataGovernance": (
            {
                "lineageReaderRoleArn": estate.data_governance.lineage_reader_role_arn,
                # what `estate verify` checks the account's Lake Formation settings against
                "catalogId": estate.data_governance.catalog_id,
                "lakeFormationAdmins": estate.data_governance.admins,
                "lfTags": estate.data_governance.lf_tags,
            }
            if estate.data_governance
            else {"lineageReaderRoleArn": None}
        ),
    }


def bu_stack(
    config: StackConfig, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    """One BU's estate, on the platform's cluster or its own; returns its outputs."""
    outputs: dict[str, Any] = {}
    shared: SharedCluster | None = None
    platform: pulumi.StackReference | None = None
    if config.cluster.mode != "dedicated":
        shared, platform_outputs, platform = shared_cluster(config)
        outputs.update(platform_outputs)
    args = bu_args(config, tags, shared)
    bu = BuEstate(f"{config.business_unit}-{config.environment}", args, opts)
    outputs.update(bu_outputs(bu, args))
    outputs.update(build_serving(config, opts, bu=bu, shared=shared, platform=platform))
    build_prometheus_rules(config, opts, bu, platform)
    if bu.cluster is not None:
        outputs.update(cluster_outputs(bu.cluster, config))
    return outputs


def bu_outputs(bu: BuEstate, args: BuEstateArgs) -> dict[str, Any]:
    """What a BU stack exports about its estate (for dashboards, verify, cost and serving)."""
    outputs: dict[str, Any] = {
        "kmsKeyArn": bu.key.arn,
        "accessLogBucketName": bu.access_logs.bucket_name,
        "namespace": bu.tenant.namespace,
        "gpuNodeRoleArn": bu.node_role.role_arn if bu.node_role else None,
        "gpuPools": {p["name"]: pool_summary(p) for p in args["gpu_pools"]},
        "alarmTopicArn": bu.monitoring.topic_arn,
        "alarmArns": bu.monitoring.alarm_arns,
        "dashboardName": bu.monitoring.dashboard_name,
        "budgetName": bu.monitoring.budget_name,
        "costAnomalyMonitorArn": bu.monitoring.cost_anomaly_monitor_arn,
    }
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
    if bu.deploy_dispatch is not None:
        dd = bu.deploy_dispatch
        outputs["deployDispatch"] = {
            "archiveName": dd.archive_name,
            "archiveArn": dd.archive_arn,
            "apiDestinationArn": dd.api_destination_arn,
            "connectionArn": dd.connection_arn,
            "connectionSecretArn": dd.connection_secret_arn,
            "invokeRoleArn": dd.invoke_role_arn,
            "deadLetterQueueUrl": dd.dead_letter_queue_url,
            "ruleNames": dd.rule_names,
        }
    if bu.retraining or bu.model_cards is not None:
        outputs["mlops"] = {
            "retrainingQueueArns": {f: loop.queue_arn for f, loop in bu.retraining.items()},
            "retrainingQueueUrls": {f: loop.queue_url for f, loop in bu.retraining.items()},
            "modelCardArns": bu.model_cards.card_arns if bu.model_cards is not None else {},
        }
    if bu.backup is not None:
        outputs["backup"] = {
            "vaultName": bu.backup.vault_name,
            "vaultArn": bu.backup.vault_arn,
            "planId": bu.backup.plan_id,
            "roleArn": bu.backup.role_arn,
            "drVaultArn": bu.backup.dr_vault_arn,
            "restoreTestingPlanName": bu.backup.restore_testing_plan_name,
        }
    if bu.audit is not None:
        outputs["audit"] = {
            "trailArn": bu.audit.trail_arn,
            "bucketName": bu.audit.bucket_name,
            "multiRegion": bu.audit.multi_region,
            "logArchive": bu.audit.log_archive,
        }
    if bu.lake_formation is not None:
        outputs["lakeFormation"] = {
            "roleArn": bu.lake_formation.role_arn,
            "offlineLocationArn": bu.lake_formation.location_arn,
            "hybridAccess": bu.lake_formation.hybrid_access,
        }
    if bu.feature_store is not None:
        outputs["featureStore"] = {
            "offlineBucketName": bu.feature_store.offline_bucket_name,
            "glueDatabaseName": bu.feature_store.glue_database_name,
            "roleArn": bu.feature_store.role_arn,
            "onlineTableArns": bu.feature_store.table_arns,
            "featureGroupArns": bu.feature_store.feature_group_arns,
        }
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
        # What one GPU registers as in `nvidia.com/gpu` (None: not time-sliced); BU stacks cap
        # their quotas, NodePools and alarms in that unit.
        "timeSlicingReplicas": config.cluster.time_slicing_replicas,
        # BU NetworkPolicies allow HTTPS to the VPC block: the interface endpoints are in it.
        "vpcCidr": config.network.cidr,
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
    from components.serving import BuServing, EndpointSpec, ServingPlane, ServingPlaneArgs

    sv = config.serving
    if platform_estate is not None:
        if not sv.plane_enabled:
            return {}
        assert sv.certificate_arn is not None  # the schema requires it when enabled
        plans = plan_subnets(config.network.cidr, config.network.az_count)
        public = sv.scheme == "internet-facing"
        plane = ServingPlane(
            f"platform-{config.environment}-serving",
            to_args(
                sv,
                ServingPlaneArgs,
                consumed={
                    "enabled": "decides whether the plane is built (plane_enabled)",
                    "oidc": "exported for BU routes (serving.oidc), read by their HTTPRoutes",
                    "endpoints": "BU stacks only (the schema refuses them on platform stacks)",
                },
                environment=config.environment,
                cluster_name=platform_estate.cluster.cluster_name,
                kubernetes_version=config.cluster.version,
                vpc_id=platform_estate.network.vpc_id,
                # Pinned, not discovered: the endpoints' NetworkPolicies admit exactly these
                # subnets, and an internal ALB anywhere else would be refused.
                load_balancer_subnet_ids=(
                    platform_estate.network.public_subnet_ids
                    if public
                    else platform_estate.network.load_balancer_subnet_ids
                ),
                k8s_provider=platform_estate.cluster.k8s_provider,
                node_selector=dict(SYSTEM_POOL_LABELS),
                protect=config.protect_stateful,
                tags=stack_tags(config),
            ),
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[platform_estate.cluster])
            ),
        )
        return {
            "serving": {
                "gatewayName": plane.gateway_name,
                "gatewayNamespace": plane.gateway_namespace,
                "loadBalancerName": plane.load_balancer_name,
                "scheme": sv.scheme,
                "hostname": sv.hostname,
                # The internal ALB's own subnets, which no node or pod uses: an ipBlock over
                # them admits the ALB only (vpc-cni gives pods private-subnet addresses).
                "loadBalancerSubnetCidrs": [
                    p.public_cidr if public else p.load_balancer_cidr for p in plans
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
    # Endpoints name tables by their name in the stack file; AWS knows a renamed table by the
    # name it was created with (`previousName`), and that is what their policies must grant.
    kept = {t.name: t.previous_name or t.name for t in config.feature_store.online_tables}
    endpoints: list[EndpointSpec] = [
        to_args(
            e.model_copy(update={"online_tables": tuple(kept.get(t, t) for t in e.online_tables)}),
            EndpointSpec,
            consumed={"image": "split into image_repository and image_reference"},
            image_repository=e.image_repository,
            image_reference=e.image[len(e.image_repository) :],
        )
        for e in sv.endpoints
    ]
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
            "replica_usd_per_hour": endpoint_replica_prices(config),
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
                    "rolloutAlarmNames": serving.endpoints[name].rollout_alarm_names,
                }
                for name, spec in ((e["name"], e) for e in endpoints)
            }
        }
    }


def build_prometheus_rules(
    config: StackConfig,
    opts: pulumi.ResourceOptions,
    bu: BuEstate,
    platform: pulumi.StackReference | None,
) -> None:
    """The BU's AMP rule groups, in the workspace of the cluster it runs on."""
    from components.prometheus_rules import BuPrometheusRules, PrometheusRulesSpec

    rules = config.monitoring.prometheus_rules
    if not rules.enabled:
        return
    if bu.cluster_monitoring is not None:
        workspace: pulumi.Input[str] = bu.cluster_monitoring.workspace_arn
    else:
        assert platform is not None  # a shared-cluster BU reads its platform
        workspace = platform.require_output("prometheusWorkspaceArn")
    thresholds = config.monitoring.thresholds
    BuPrometheusRules(
        f"{config.business_unit}-{config.environment}-prometheus",
        {
            **to_args(rules, PrometheusRulesSpec, consumed={"enabled": "builds the namespace"}),
            "business_unit": config.business_unit,
            "environment": config.environment,
            "workspace_arn": workspace,
            "endpoints": [e.name for e in config.serving.endpoints],
            "gpu_idle_percent": thresholds.gpu_utilization_low_percent,
            "gpu_idle_minutes": thresholds.gpu_utilization_low_minutes,
            "tags": stack_tags(config),
        },
        opts,
    )


def endpoint_replica_prices(config: StackConfig) -> dict[str, float]:
    """Endpoint -> USD per replica-hour (its share of the first instance type of its pool), for
    the serving dashboard's cost per 1,000 inferences (estate/data/prices.json)."""
    from estate.analysis.cost import DEFAULT_REGION, replica_usd_per_hour

    region = pulumi.Config("aws").get("region") or DEFAULT_REGION
    pools = {p.name: p for p in config.gpu_pools}
    prices: dict[str, float] = {}
    for e in config.serving.endpoints:
        pool = pools.get(e.gpu_pool)
        if pool is None or not pool.instance_types:
            continue
        price = replica_usd_per_hour(region, pool.instance_types[0], e.gpus_per_replica)
        if price is not None:
            prices[e.name] = price
    return prices


def naming_bucket(config: StackConfig, purpose: str) -> str:
    from components import naming

    return naming.bucket_name(config.business_unit, config.environment, purpose, config.account_id)
