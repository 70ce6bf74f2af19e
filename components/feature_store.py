"""Feature store: where a BU's features live, offline for training and online for inference.

- Offline store: a `SecureBucket` (SSE-KMS with the BU key) that SageMaker Feature Store writes
  Parquet to, catalogued in a Glue database so Athena and training jobs can query it.
- Online store: SageMaker feature groups' online stores (KMS-encrypted) and, for features a BU
  serves itself, DynamoDB tables with PITR, the BU key, and deletion protection in prod.
- The IAM role SageMaker Feature Store assumes, allowed exactly the bucket prefix, the Glue
  database and the key it needs.
- An Athena workgroup `<prefix>-analytics` that queries the offline store: results go to the
  offline bucket's `athena-results/` prefix, encrypted with the BU key, and the workgroup's
  settings are enforced (a query cannot send its results elsewhere or unencrypted).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import account_region_partition, policy_json, service_trust_policy
from .options import child, stateful
from .storage import PolicyStatements, SecureBucket, SecureBucketArgs

OFFLINE_PREFIX = "offline/"
"""Where SageMaker writes the offline store (the feature groups' `s3_uri`)."""
ATHENA_RESULTS_PREFIX = "athena-results/"
"""Where the BU's Athena workgroup writes query results, in the offline bucket."""
ATHENA_BYTES_SCANNED_CUTOFF = 1024**4
"""Per-query scan limit of the workgroup (1 TiB, about 5 USD at Athena's list price): a runaway
query fails instead of scanning a whole history."""


def offline_table_name(name_prefix: str, group: str) -> str:
    """`fraud_prod_transactions`: the Glue table SageMaker creates for a group's offline store."""
    return f"{name_prefix}-{group}".replace("-", "_")


def athena_workgroup_name(name_prefix: str) -> str:
    """`fraud-prod-analytics`: the BU's workgroup (the boundary and personas name it)."""
    return f"{name_prefix}-analytics"


class FeatureDefinitionSpec(TypedDict):
    """One feature: its name and SageMaker type (`Integral`, `Fractional` or `String`)."""

    name: str
    type: str
    min: NotRequired[float | None]
    """Smallest valid value (checked by the Data Quality ruleset)."""
    max: NotRequired[float | None]
    """Largest valid value (checked by the Data Quality ruleset)."""
    allowed_values: NotRequired[list[str] | None]
    """The only values a String feature may take (checked by the Data Quality ruleset)."""


class FeatureGroupSpec(TypedDict):
    """A SageMaker feature group."""

    name: str
    """Short name; the group is `<prefix>-<name>`."""
    description: str
    record_identifier: str
    event_time: str
    features: list[FeatureDefinitionSpec]
    online: bool
    offline: bool
    previous_name: NotRequired[str | None]
    """The name before a rename: the logical name follows `name` with an alias from this one;
    AWS names keep it (`kept_name`)."""


class OnlineTableSpec(TypedDict):
    """A DynamoDB table for online features."""

    name: str
    hash_key: str
    range_key: NotRequired[str | None]
    ttl_attribute: NotRequired[str | None]
    previous_name: NotRequired[str | None]
    """The name before a rename: the logical name follows `name` with an alias from this one;
    the table's AWS name keeps it (`kept_name`)."""


def kept_name(item: FeatureGroupSpec | OnlineTableSpec) -> str:
    """The short name AWS knows a table or feature group by: the one it was created with.
    DynamoDB tables and SageMaker feature groups cannot be renamed in place, so after a rename
    (`previousName`) every AWS name derived from the item keeps the previous name."""
    return item.get("previous_name") or item["name"]


def renamed(parent: pulumi.Resource, component_name: str, item: Any) -> list[pulumi.Alias]:
    """The alias that makes a renamed item's resource the one it was (`previousName`)."""
    previous = item.get("previous_name")
    if not previous:
        return []
    return [pulumi.Alias(name=f"{component_name}-{previous}", parent=parent)]


class FeatureStoreSettings(TypedDict):
    """The feature store settings a stack file chooses (`ai-estate:featureStore`);
    `FeatureStoreArgs` adds the wiring (names, key, buckets) the BU estate supplies."""

    online_tables: list[OnlineTableSpec]
    feature_groups: list[FeatureGroupSpec]
    infrequent_access_after_days: int
    """Move offline-store objects to S3 Standard-IA after this many days."""
    noncurrent_version_retention_days: int
    """Keep overwritten/deleted object versions this long."""


class FeatureStoreArgs(FeatureStoreSettings):
    """Inputs of `FeatureStore`."""

    name_prefix: str
    """`<bu>-<env>`: prefix of every physical name."""
    offline_bucket_name: str
    glue_database_name: str
    kms_key_arn: pulumi.Input[str]
    """The BU's customer-managed key: encrypts the bucket, tables and feature stores."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving the offline bucket's server access logs."""
    deletion_protection: bool
    """DynamoDB deletion protection (prod)."""
    protect: bool
    """Protect and retain stateful resources (prod)."""
    tags: dict[str, str]
    extra_policy_statements: NotRequired[PolicyStatements | None]
    """More offline-bucket policy statements, e.g. the BU-only data deny (access.py)."""


def feature_store_role_policy(
    *,
    bucket_arn: str,
    kms_key_arn: str,
    glue_database: str,
    partition: str,
    region: str,
    account_id: str,
) -> str:
    """Least privilege for SageMaker Feature Store's offline store writer.

    AWS's documented minimum for the offline store (the managed policy
    `AmazonSageMakerFeatureStoreAccess`, v3: s3:PutObject, s3:GetBucketAcl and s3:PutObjectAcl
    on the bucket, s3:GetObject on its metadata, glue:GetTable/UpdateTable;
    https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-feature-store.html),
    held to this bucket's prefix, this database and this key.
    """
    glue_prefix = f"arn:{partition}:glue:{region}:{account_id}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OfflineStoreObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{OFFLINE_PREFIX}*",
        },
        {
            "Sid": "OfflineStoreBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketAcl", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "BuKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": kms_key_arn,
        },
        {
            "Sid": "GlueCatalog",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartitions",
                "glue:BatchCreatePartition",
            ],
            "Resource": [
                f"{glue_prefix}:catalog",
                f"{glue_prefix}:database/{glue_database}",
                f"{glue_prefix}:table/{glue_database}/*",
            ],
        },
    ]
    return policy_json(statements)


class FeatureStore(pulumi.ComponentResource):
    """One BU's feature store; see the module docstring."""

    offline_bucket_name: pulumi.Output[str]
    offline_bucket_arn: pulumi.Output[str]
    glue_database_name: pulumi.Output[str]
    athena_workgroup_name: pulumi.Output[str]
    """The BU's Athena workgroup (queries must name it: the BU's roles may use no other)."""
    role_arn: pulumi.Output[str]
    table_arns: dict[str, pulumi.Output[str]]
    feature_group_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:data:FeatureStore", name, None, opts)
        prefix, tags, protect = args["name_prefix"], args["tags"], args["protect"]
        account_id, region, partition = account_region_partition(self)

        offline_args: SecureBucketArgs = {
            "bucket_name": args["offline_bucket_name"],
            "kms_key_arn": args["kms_key_arn"],
            "access_log_bucket": args["access_log_bucket"],
            "access_log_prefix": f"{args['offline_bucket_name']}/",
            "infrequent_access_after_days": args["infrequent_access_after_days"],
            "noncurrent_version_retention_days": args["noncurrent_version_retention_days"],
            "tags": tags,
            "protect": protect,
        }
        extra_statements = args.get("extra_policy_statements")
        if extra_statements:
            offline_args["policy_statements"] = extra_statements
        offline = SecureBucket(f"{name}-offline", offline_args, child(self))
        database = aws.glue.CatalogDatabase(
            f"{name}-catalog",
            name=args["glue_database_name"],
            description=f"Offline feature store of {prefix}",
            location_uri=offline.bucket_name.apply(lambda b: f"s3://{b}/{OFFLINE_PREFIX}"),
            tags=tags,
            opts=stateful(self, protect),
        )

        role = aws.iam.Role(
            f"{name}-sagemaker-role",
            name=f"{prefix}-feature-store",
            description=f"SageMaker Feature Store writer for {prefix}",
            assume_role_policy=account_id.apply(
                lambda account: service_trust_policy("sagemaker.amazonaws.com", account)
            ),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-sagemaker-policy",
            role=role.id,
            policy=pulumi.Output.all(
                offline.arn,
                args["kms_key_arn"],
                database.name,
                partition,
                region,
                account_id,
            ).apply(
                lambda p: feature_store_role_policy(
                    bucket_arn=p[0],
                    kms_key_arn=p[1],
                    glue_database=p[2],
                    partition=p[3],
                    region=p[4],
                    account_id=p[5],
                )
            ),
            opts=child(self),
        )

        workgroup = aws.athena.Workgroup(
            f"{name}-athena",
            name=athena_workgroup_name(prefix),
            description=f"Queries over the offline feature store of {prefix}",
            configuration=aws.athena.WorkgroupConfigurationArgs(
                # Enforced: a client's own output location or encryption settings are ignored,
                # so results always land in the BU's bucket under the BU key.
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_BYTES_SCANNED_CUTOFF,
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=offline.bucket_name.apply(
                        lambda b: f"s3://{b}/{ATHENA_RESULTS_PREFIX}"
                    ),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn=args["kms_key_arn"]
                    ),
                ),
            ),
            force_destroy=False,
            tags=tags,
            opts=child(self),
        )

        self.table_arns = {}
        for table in args["online_tables"]:
            attributes = [aws.dynamodb.TableAttributeArgs(name=table["hash_key"], type="S")]
            if table.get("range_key"):
                attributes.append(
                    aws.dynamodb.TableAttributeArgs(name=table["range_key"], type="S")
                )
            ttl_attr = table.get("ttl_attribute")
            created = aws.dynamodb.Table(
                f"{name}-{table['name']}",
                name=f"{prefix}-{kept_name(table)}",
                billing_mode="PAY_PER_REQUEST",
                hash_key=table["hash_key"],
                range_key=table.get("range_key"),
                attributes=attributes,
                server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                    enabled=True, kms_key_arn=args["kms_key_arn"]
                ),
                point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
                deletion_protection_enabled=args["deletion_protection"],
                ttl=aws.dynamodb.TableTtlArgs(attribute_name=ttl_attr, enabled=True)
                if ttl_attr
                else None,
                tags=tags,
                opts=stateful(self, protect, aliases=renamed(self, name, table)),
            )
            self.table_arns[table["name"]] = created.arn

        self.feature_group_arns = {}
        for group in args["feature_groups"]:
            group_name = f"{prefix}-{kept_name(group)}"
            online = (
                aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(
                    enable_online_store=True,
                    security_config=aws.sagemaker.FeatureGroupOnlineStoreConfigSecurityConfigArgs(
                        kms_key_id=args["kms_key_arn"]
                    ),
                )
                if group["online"]
                else None
            )
            offline_config = (
                aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
                    s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                        s3_uri=offline.bucket_name.apply(
                            lambda b: f"s3://{b}/{OFFLINE_PREFIX.rstrip('/')}"
                        ),
                        kms_key_id=args["kms_key_arn"],
                    ),
                    data_catalog_config=aws.sagemaker.FeatureGroupOfflineStoreConfigDataCatalogConfigArgs(
                        catalog="AwsDataCatalog",
                        database=database.name,
                        table_name=offline_table_name(prefix, kept_name(group)),
                    ),
                    disable_glue_table_creation=False,
                )
                if group["offline"]
                else None
            )
            created_group = aws.sagemaker.FeatureGroup(
                f"{name}-{group['name']}",
                feature_group_name=group_name,
                description=group["description"] or f"{group['name']} features of {prefix}",
                record_identifier_feature_name=group["record_identifier"],
                event_time_feature_name=group["event_time"],
                role_arn=role.arn,
                feature_definitions=[
                    aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                        feature_name=f["name"], feature_type=f["type"]
                    )
                    for f in group["features"]
                ],
                online_store_config=online,
                offline_store_config=offline_config,
                tags=tags,
                # The role's policy must exist before SageMaker tries to write with it.
                opts=stateful(
                    self, protect, depends_on=[role_policy], aliases=renamed(self, name, group)
                ),
            )
            self.feature_group_arns[group["name"]] = created_group.arn

        self.offline_bucket_name = offline.bucket_name
        self.offline_bucket_arn = offline.arn
        self.glue_database_name = database.name
        self.athena_workgroup_name = workgroup.name
        self.role_arn = role.arn
        self.register_outputs(
            {
                "offlineBucketName": self.offline_bucket_name,
                "glueDatabaseName": self.glue_database_name,
                "athenaWorkgroupName": self.athena_workgroup_name,
                "roleArn": self.role_arn,
            }
        )
