"""The stack program: validated config in, the estate's components out.

`__main__.py` calls `build`; this is the only place that turns the config model into component
args, creates the AWS provider (region, allowed account, default ownership tags) and exports the
stack outputs other stacks and `estate verify` read.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.estate import BuEstate, PlatformEstate
from components.feature_store import FeatureGroupSpec, OnlineTableSpec
from components.tags import ownership_tags

from .config import ConfigError, StackConfig, split_namespace, validate_config

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
    if not region:
        errors.append(f"{source}: aws:region: is required (the AWS region this stack deploys to)")
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
                "cidr": config.network.cidr,
                "az_count": config.network.az_count,
                "nat_gateways": config.nat_mode,  # type: ignore[typeddict-item]
                "interface_endpoints": list(config.network.interface_endpoints),
                "flow_log_retention_days": config.network.flow_log_retention_days
                or (365 if config.environment == "prod" else 90),
                "protect": config.protect_stateful,
                "tags": tags,
            },
            opts,
        )
        outputs.update(
            {
                "vpcId": estate.network.vpc_id,
                "privateSubnetIds": estate.network.private_subnet_ids,
                "publicSubnetIds": estate.network.public_subnet_ids,
                "endpointSecurityGroupId": estate.network.endpoint_security_group_id,
                "platformKeyArn": estate.key.arn,
                "flowLogGroupName": estate.network.flow_log_group_name,
            }
        )
    else:
        platform = pulumi.StackReference(str(config.platform_stack))
        fs = config.feature_store
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
                "protect": config.protect_stateful,
                "tags": tags,
            },
            opts,
        )
        outputs.update(
            {
                "platformVpcId": platform.get_output("vpcId"),
                "kmsKeyArn": bu.key.arn,
                "accessLogBucketName": bu.access_logs.bucket_name,
            }
        )
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
