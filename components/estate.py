"""The roots: one `PlatformEstate` per environment, one `BuEstate` per BU and environment.

They only compose the other components; every resource a stack declares hangs under one of
these two, so the inventory reads as a tree from the root down.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import pulumi

from . import naming
from .access import KmsKey
from .feature_store import FeatureGroupSpec, FeatureStore, OnlineTableSpec
from .network import Network
from .options import child
from .storage import AccessLogBucket


class PlatformEstateArgs(TypedDict):
    """Inputs of `PlatformEstate`."""

    environment: str
    cidr: str
    az_count: int
    nat_gateways: Literal["single", "perAz"]
    interface_endpoints: list[str]
    flow_log_retention_days: int
    protect: bool
    tags: dict[str, str]


class PlatformEstate(pulumi.ComponentResource):
    """The shared estate of one environment: the platform key and the network (the EKS cluster,
    node pools and cluster monitoring join it with the compute issue)."""

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
                "log_group_prefix": f"/ai-estate/{prefix}/",
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        self.network = Network(
            f"{name}-network",
            {
                "name_prefix": prefix,
                "cidr": args["cidr"],
                "az_count": args["az_count"],
                "nat_gateways": args["nat_gateways"],
                "interface_endpoints": args["interface_endpoints"],
                "flow_log_retention_days": args["flow_log_retention_days"],
                "flow_log_kms_key_arn": self.key.arn,
                "tags": args["tags"],
                "cluster_name": f"{prefix}-ai",
            },
            child(self),
        )
        self.register_outputs({"vpcId": self.network.vpc_id, "keyArn": self.key.arn})


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
    protect: bool
    tags: dict[str, str]


class BuEstate(pulumi.ComponentResource):
    """One BU's tenant in one environment: its key, access-log bucket and feature store (the
    model registry, GPU pools, personas and monitoring join with later issues)."""

    feature_store: FeatureStore | None

    def __init__(
        self, name: str, args: BuEstateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:estate:BuEstate", name, None, opts)
        bu, env = args["business_unit"], args["environment"]
        prefix = naming.prefix(bu, env)
        self.key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}",
                "description": f"AI Estate key of BU {bu} in {env}",
                "log_group_prefix": f"/ai-estate/{prefix}/",
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
                },
                child(self),
            )
        self.register_outputs({"keyArn": self.key.arn})
