"""Every rule catches a bad program and passes a good one (rendered from real pulumi_aws resources).

Each case names the resources the rule must report in the bad program; the good program must
produce no violation at all. The table is checked against the catalog, so a new rule without a
bad and a good case fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance import RULES
from policy_harness import check, names
from policy_programs import (
    KEY_ARN,
    OWNERSHIP_TAGS,
    kms_encryption,
    public_access_block,
    s3_encryption,
    tls_only_policy,
    versioning,
)

Program = Callable[[], None]


@dataclass(frozen=True)
class Case:
    bad: Program
    flagged: set[str]
    """Logical names of the resources the rule must report in `bad`."""
    good: Program


# -- storage ----------------------------------------------------------------------------------


def bad_bucket_encryption() -> None:
    s3_encryption("plain-sse", aws.s3.Bucket("plain"), "AES256")
    s3_encryption("managed-sse", aws.s3.Bucket("managed"), "aws:kms")
    aws.s3.Bucket("unencrypted")
    aws.s3.Bucket(
        "inline-aes",
        server_side_encryption_configuration={
            "rule": {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
        },
    )


def good_bucket_encryption() -> None:
    kms_encryption("features-sse", aws.s3.Bucket("features"))
    aws.s3.Bucket(
        "inline-kms",
        server_side_encryption_configuration=aws.s3.BucketServerSideEncryptionConfigurationArgs(
            rule=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=KEY_ARN
                )
            )
        ),
    )


def bad_public_access_block() -> None:
    aws.s3.Bucket("unblocked")
    public_access_block("partial-pab", aws.s3.Bucket("partial"), restrict_public_buckets=False)


def good_public_access_block() -> None:
    public_access_block("features-pab", aws.s3.Bucket("features"))


def bad_tls_only() -> None:
    aws.s3.Bucket("no-policy")
    allow_only = aws.s3.Bucket("allow-only")
    aws.s3.BucketPolicy(
        "allow-only-policy",
        bucket=allow_only.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )


def good_tls_only() -> None:
    bucket = aws.s3.Bucket("features")
    aws.s3.BucketPolicy("features-policy", bucket=bucket.id, policy=tls_only_policy(bucket))


def bad_versioning() -> None:
    versioning("suspended-versioning", aws.s3.Bucket("suspended"), status="Suspended")
    aws.s3.Bucket("unversioned")


def good_versioning() -> None:
    versioning("features-versioning", aws.s3.Bucket("features"))
    aws.s3.Bucket("inline", versioning={"enabled": True})


def bad_access_logging() -> None:
    aws.s3.Bucket("unlogged")


def good_access_logging() -> None:
    logs = aws.s3.Bucket("access-logs")
    features = aws.s3.Bucket("features")
    aws.s3.BucketLogging(
        "features-logging", bucket=features.id, target_bucket=logs.bucket, target_prefix="features/"
    )


def bad_public_grants() -> None:
    aws.s3.Bucket("inline-public", acl="public-read")
    private = aws.s3.Bucket("private")
    aws.s3.BucketAcl(
        "world-grant",
        bucket=private.id,
        access_control_policy={
            "owner": {"id": "owner-canonical-id"},
            "grants": [
                {
                    "grantee": {
                        "type": "Group",
                        "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                    },
                    "permission": "READ",
                }
            ],
        },
    )
    aws.s3.BucketPolicy(
        "anyone-policy",
        bucket=private.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
                ],
            }
        ),
    )
    # Allow with NotPrincipal: everyone in the world but the one role it names.
    aws.s3.BucketPolicy(
        "all-but-one-policy",
        bucket=private.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllButTheAuditor",
                        "Effect": "Allow",
                        "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/auditor"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::private/*",
                    }
                ],
            }
        ),
    )
    # A who-condition whose value pins no one: any ARN in any account.
    aws.s3.Bucket(
        "inline-any-source",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::inline-any-source/*",
                        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}},
                    }
                ],
            }
        ),
    )


def good_public_grants() -> None:
    bucket = aws.s3.Bucket("features")
    aws.s3.BucketAcl("features-acl", bucket=bucket.id, acl="private")
    aws.s3.BucketPolicy(
        "features-policy",
        bucket=bucket.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
                    },
                    # NotPrincipal in a Deny narrows who may act: everyone else is refused.
                    {
                        "Effect": "Deny",
                        "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/deployer"},
                        "Action": "s3:DeleteObject",
                        "Resource": "arn:aws:s3:::features/*",
                    },
                    # Any principal, as long as it acts for this account's event rules.
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::features/events/*",
                        "Condition": {
                            "ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/*"}
                        },
                    },
                ],
            }
        ),
    )


# -- data -------------------------------------------------------------------------------------


def table(name: str, **kwargs) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        name,
        hash_key="entity_id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="entity_id", type="S")],
        billing_mode="PAY_PER_REQUEST",
        **kwargs,
    )


def bad_table_encryption() -> None:
    table("default-key")
    table("managed-key", server_side_encryption={"enabled": True})


def good_table_encryption() -> None:
    table(
        "features",
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=KEY_ARN
        ),
    )


def bad_table_pitr() -> None:
    table("no-pitr")
    table("pitr-off", point_in_time_recovery={"enabled": False})


def good_table_pitr() -> None:
    table(
        "features", point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True)
    )


def bad_table_deletion_protection() -> None:
    table("unprotected")


def good_table_deletion_protection() -> None:
    table("features", deletion_protection_enabled=True)


def feature_group(name: str, **stores) -> None:
    aws.sagemaker.FeatureGroup(
        name,
        feature_group_name=name,
        record_identifier_feature_name="entity_id",
        event_time_feature_name="event_time",
        role_arn="arn:aws:iam::123456789012:role/feature-store",
        feature_definitions=[
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="entity_id", feature_type="String"
            ),
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name="event_time", feature_type="String"
            ),
        ],
        **stores,
    )


def bad_feature_group() -> None:
    feature_group(
        "unencrypted",
        online_store_config=aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(
            enable_online_store=True
        ),
        offline_store_config=aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
            s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                s3_uri="s3://fraud-prod-features/offline"
            )
        ),
    )


def good_feature_group() -> None:
    feature_group(
        "transactions",
        online_store_config=aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(
            enable_online_store=True,
            security_config=aws.sagemaker.FeatureGroupOnlineStoreConfigSecurityConfigArgs(
                kms_key_id=KEY_ARN
            ),
        ),
        offline_store_config=aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
            s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                s3_uri="s3://fraud-prod-features/offline", kms_key_id=KEY_ARN
            )
        ),
    )


def bad_glue_catalog() -> None:
    aws.glue.DataCatalogEncryptionSettings(
        "catalog",
        data_catalog_encryption_settings={
            "connection_password_encryption": {"return_connection_password_encrypted": False},
            "encryption_at_rest": {"catalog_encryption_mode": "DISABLED"},
        },
    )


def good_glue_catalog() -> None:
    aws.glue.DataCatalogEncryptionSettings(
        "catalog",
        data_catalog_encryption_settings=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsArgs(
            connection_password_encryption=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsConnectionPasswordEncryptionArgs(
                return_connection_password_encrypted=True, aws_kms_key_id=KEY_ARN
            ),
            encryption_at_rest=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsEncryptionAtRestArgs(
                catalog_encryption_mode="SSE-KMS", sse_aws_kms_key_id=KEY_ARN
            ),
        ),
    )


def bad_glue_security_configuration() -> None:
    aws.glue.SecurityConfiguration(
        "etl",
        encryption_configuration={
            "cloudwatch_encryption": {"cloudwatch_encryption_mode": "DISABLED"},
            "job_bookmarks_encryption": {"job_bookmarks_encryption_mode": "DISABLED"},
            "s3_encryption": {"s3_encryption_mode": "SSE-S3"},
        },
    )


def good_glue_security_configuration() -> None:
    aws.glue.SecurityConfiguration(
        "etl",
        encryption_configuration=aws.glue.SecurityConfigurationEncryptionConfigurationArgs(
            cloudwatch_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationCloudwatchEncryptionArgs(
                cloudwatch_encryption_mode="SSE-KMS", kms_key_arn=KEY_ARN
            ),
            job_bookmarks_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationJobBookmarksEncryptionArgs(
                job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=KEY_ARN
            ),
            s3_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationS3EncryptionArgs(
                s3_encryption_mode="SSE-KMS", kms_key_arn=KEY_ARN
            ),
        ),
    )


# -- encryption -------------------------------------------------------------------------------


def bad_key_rotation() -> None:
    aws.kms.Key("bu-key", description="fraud BU key")
    aws.kms.Key("rotation-off", enable_key_rotation=False)


def good_key_rotation() -> None:
    aws.kms.Key("bu-key", enable_key_rotation=True, deletion_window_in_days=30)
    # Asymmetric signing keys cannot rotate automatically: exempt.
    aws.kms.Key("signing", key_usage="SIGN_VERIFY", customer_master_key_spec="ECC_NIST_P256")


def bad_topic() -> None:
    aws.sns.Topic("unencrypted")
    aws.sns.Topic("aws-managed", kms_master_key_id="alias/aws/sns")


def good_topic() -> None:
    aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN)


def bad_queue() -> None:
    aws.sqs.Queue("sse-sqs", sqs_managed_sse_enabled=True)
    aws.sqs.Queue("aws-managed", kms_master_key_id="alias/aws/sqs")


def good_queue() -> None:
    aws.sqs.Queue("scoring", kms_master_key_id=KEY_ARN, kms_data_key_reuse_period_seconds=300)


def bad_repository() -> None:
    aws.ecr.Repository("default-aes")
    aws.ecr.Repository("aws-managed", encryption_configurations=[{"encryption_type": "KMS"}])


def good_repository() -> None:
    aws.ecr.Repository(
        "models",
        encryption_configurations=[
            aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=KEY_ARN)
        ],
    )


# -- observability ----------------------------------------------------------------------------


def bad_retention() -> None:
    aws.cloudwatch.LogGroup("forever")
    aws.cloudwatch.LogGroup("never-expire", retention_in_days=0)
    aws.cloudwatch.LogGroup("month", retention_in_days=30)


def good_retention() -> None:
    aws.cloudwatch.LogGroup("audit", retention_in_days=365)
    aws.cloudwatch.LogGroup("long", retention_in_days=731)


def bad_log_encryption() -> None:
    aws.cloudwatch.LogGroup("plain", retention_in_days=365)


def good_log_encryption() -> None:
    aws.cloudwatch.LogGroup("audit", retention_in_days=365, kms_key_id=KEY_ARN)


# -- network ----------------------------------------------------------------------------------


def bad_flow_logs() -> None:
    aws.ec2.Vpc("unlogged", cidr_block="10.0.0.0/16")
    logged = aws.ec2.Vpc("logged", cidr_block="10.1.0.0/16")
    aws.ec2.FlowLog(
        "logged-flow",
        vpc_id=logged.id,
        traffic_type="ALL",
        log_destination_type="s3",
        log_destination="arn:aws:s3:::fraud-prod-flow-logs",
    )


def good_flow_logs() -> None:
    vpc = aws.ec2.Vpc("platform", cidr_block="10.0.0.0/16")
    aws.ec2.FlowLog(
        "platform-flow",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="s3",
        log_destination="arn:aws:s3:::fraud-prod-flow-logs",
    )


def bad_ingress() -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
    ssh = aws.ec2.SecurityGroup(
        "ssh-open",
        vpc_id=vpc.id,
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"]
            )
        ],
    )
    aws.vpc.SecurityGroupIngressRule(
        "all-v6", security_group_id=ssh.id, ip_protocol="-1", cidr_ipv6="::/0"
    )
    aws.ec2.SecurityGroupRule(
        "rdp",
        type="ingress",
        security_group_id=ssh.id,
        protocol="tcp",
        from_port=3389,
        to_port=3389,
        cidr_blocks=["0.0.0.0/0"],
    )
    aws.vpc.SecurityGroupIngressRule(
        "web-range",
        security_group_id=ssh.id,
        ip_protocol="tcp",
        from_port=80,
        to_port=443,
        cidr_ipv4="0.0.0.0/0",
    )


def good_ingress() -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
    web = aws.ec2.SecurityGroup(
        "web",
        vpc_id=vpc.id,
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
            ),
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp", from_port=22, to_port=22, cidr_blocks=["10.0.0.0/8"]
            ),
        ],
        egress=[
            aws.ec2.SecurityGroupEgressArgs(
                protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"]
            )
        ],
    )
    aws.vpc.SecurityGroupIngressRule(
        "http",
        security_group_id=web.id,
        ip_protocol="tcp",
        from_port=80,
        to_port=80,
        cidr_ipv4="0.0.0.0/0",
    )
    aws.ec2.SecurityGroupRule(
        "egress-all",
        type="egress",
        security_group_id=web.id,
        protocol="-1",
        from_port=0,
        to_port=0,
        cidr_blocks=["0.0.0.0/0"],
    )


# -- compute ----------------------------------------------------------------------------------


def _node_class(name: str, api_version: str = "karpenter.k8s.aws/v1", **spec: object) -> None:
    """A Karpenter EC2NodeClass as a real pulumi_kubernetes custom resource."""
    k8s.apiextensions.CustomResource(
        name,
        api_version=api_version,
        kind="EC2NodeClass",
        metadata={"name": name},
        spec={"amiSelectorTerms": [{"alias": "al2023@v20251120"}], "role": "node-role", **spec},
    )


def bad_imds() -> None:
    aws.ec2.Instance("default-imds", ami="ami-0123456789abcdef0", instance_type="g5.xlarge")
    aws.ec2.LaunchTemplate("gpu-nodes", metadata_options={"http_tokens": "optional"})
    # Tokens required, hop limit left to AWS: 2 on an AMI with ImdsSupport v2.0 (AL2023).
    aws.ec2.LaunchTemplate(
        "al2023-nodes",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required"
        ),
    )
    _node_class("imdsv1-nodes", metadataOptions={"httpTokens": "optional"})
    _node_class(
        "two-hop-nodes", metadataOptions={"httpTokens": "required", "httpPutResponseHopLimit": 2}
    )
    # v1beta1 defaults the hop limit to 2.
    _node_class("beta-nodes", api_version="karpenter.k8s.aws/v1beta1")


def good_imds() -> None:
    aws.ec2.Instance(
        "worker",
        ami="ami-0123456789abcdef0",
        instance_type="g5.xlarge",
        metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
            http_tokens="required", http_put_response_hop_limit=1
        ),
    )
    aws.ec2.LaunchTemplate(
        "gpu-nodes",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
        ),
    )
    aws.ec2.LaunchTemplate("no-imds", metadata_options={"http_endpoint": "disabled"})
    # Karpenter v1 fills in httpTokens required and hop limit 1, as a whole and field by field.
    _node_class("default-nodes")
    _node_class("tokens-only-nodes", metadataOptions={"httpTokens": "required"})
    _node_class(
        "explicit-nodes",
        metadataOptions={
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
    )
    _node_class(
        "beta-one-hop",
        api_version="karpenter.k8s.aws/v1beta1",
        metadataOptions={"httpPutResponseHopLimit": 1},
    )


def bad_ebs() -> None:
    aws.ec2.Instance(
        "worker",
        ami="ami-0123456789abcdef0",
        instance_type="g5.xlarge",
        ebs_block_devices=[{"device_name": "/dev/sdb", "volume_size": 500, "encrypted": False}],
    )
    aws.ebs.Volume("scratch", availability_zone="us-east-1a", size=100)
    aws.ec2.LaunchTemplate(
        "gpu-nodes",
        block_device_mappings=[
            {"device_name": "/dev/xvda", "ebs": {"volume_size": 200, "encrypted": "false"}}
        ],
    )


def good_ebs() -> None:
    aws.ec2.Instance(
        "worker",
        ami="ami-0123456789abcdef0",
        instance_type="g5.xlarge",
        root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True, kms_key_id=KEY_ARN),
        ebs_block_devices=[
            aws.ec2.InstanceEbsBlockDeviceArgs(device_name="/dev/sdb", encrypted=True)
        ],
    )
    aws.ebs.Volume("scratch", availability_zone="us-east-1a", size=100, encrypted=True)
    aws.ec2.LaunchTemplate(
        "gpu-nodes",
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=200, encrypted="true", kms_key_id=KEY_ARN
                ),
            )
        ],
    )


# -- tagging and lifecycle --------------------------------------------------------------------


def bad_tags() -> None:
    aws.s3.Bucket("untagged")
    aws.cloudwatch.LogGroup(
        "partly-tagged", tags={"BusinessUnit": "fraud", "Owner": "", "ManagedBy": "ai-estate"}
    )


def good_tags() -> None:
    aws.s3.Bucket("features", tags=OWNERSHIP_TAGS)
    aws.kms.Key("bu-key", enable_key_rotation=True, tags=OWNERSHIP_TAGS)


def bad_protect() -> None:
    aws.kms.Key("bu-key", enable_key_rotation=True)
    table("features")


def good_protect() -> None:
    protected = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
    aws.kms.Key("bu-key", enable_key_rotation=True, opts=protected)
    table("features", opts=protected)
    # Log groups are not stateful roots: their data lifetime is governed by retention.
    aws.cloudwatch.LogGroup("audit", retention_in_days=365)


CASES: dict[str, Case] = {
    "s3-bucket-encryption-cmk": Case(
        bad_bucket_encryption,
        {"plain", "managed", "unencrypted", "inline-aes"},
        good_bucket_encryption,
    ),
    "s3-bucket-public-access-block": Case(
        bad_public_access_block, {"unblocked", "partial"}, good_public_access_block
    ),
    "s3-bucket-tls-only": Case(bad_tls_only, {"no-policy", "allow-only"}, good_tls_only),
    "s3-bucket-versioning": Case(bad_versioning, {"suspended", "unversioned"}, good_versioning),
    "s3-bucket-access-logging": Case(bad_access_logging, {"unlogged"}, good_access_logging),
    "s3-no-public-grants": Case(
        bad_public_grants,
        {
            "inline-public",
            "world-grant",
            "anyone-policy",
            "all-but-one-policy",
            "inline-any-source",
        },
        good_public_grants,
    ),
    "dynamodb-table-encryption-cmk": Case(
        bad_table_encryption, {"default-key", "managed-key"}, good_table_encryption
    ),
    "dynamodb-table-pitr": Case(bad_table_pitr, {"no-pitr", "pitr-off"}, good_table_pitr),
    "dynamodb-table-deletion-protection": Case(
        bad_table_deletion_protection, {"unprotected"}, good_table_deletion_protection
    ),
    "sagemaker-feature-group-encryption": Case(
        bad_feature_group, {"unencrypted"}, good_feature_group
    ),
    "glue-data-catalog-encryption": Case(bad_glue_catalog, {"catalog"}, good_glue_catalog),
    "glue-security-configuration-encryption": Case(
        bad_glue_security_configuration, {"etl"}, good_glue_security_configuration
    ),
    "kms-key-rotation": Case(bad_key_rotation, {"bu-key", "rotation-off"}, good_key_rotation),
    "sns-topic-encryption-cmk": Case(bad_topic, {"unencrypted", "aws-managed"}, good_topic),
    "sqs-queue-encryption-cmk": Case(bad_queue, {"sse-sqs", "aws-managed"}, good_queue),
    "ecr-repository-encryption-cmk": Case(
        bad_repository, {"default-aes", "aws-managed"}, good_repository
    ),
    "log-group-retention": Case(
        bad_retention, {"forever", "never-expire", "month"}, good_retention
    ),
    "log-group-encryption": Case(bad_log_encryption, {"plain"}, good_log_encryption),
    "vpc-flow-logs": Case(bad_flow_logs, {"unlogged"}, good_flow_logs),
    "security-group-no-public-ingress": Case(
        bad_ingress, {"ssh-open", "all-v6", "rdp", "web-range"}, good_ingress
    ),
    "ec2-imdsv2-required": Case(
        bad_imds,
        {
            "default-imds",
            "gpu-nodes",
            "al2023-nodes",
            "imdsv1-nodes",
            "two-hop-nodes",
            "beta-nodes",
        },
        good_imds,
    ),
    "ec2-ebs-encryption": Case(bad_ebs, {"worker", "scratch", "gpu-nodes"}, good_ebs),
    "required-ownership-tags": Case(bad_tags, {"untagged", "partly-tagged"}, good_tags),
    "stateful-resource-protected": Case(bad_protect, {"bu-key", "features"}, good_protect),
}


def _domain_cases() -> set[str]:
    """Rule ids covered by the `*_CASES` tables of the other domain test modules."""
    import importlib
    from pathlib import Path

    covered: set[str] = set()
    for path in sorted(Path(__file__).parent.glob("test_governance_*.py")):
        if path.stem == Path(__file__).stem:
            continue
        module = importlib.import_module(path.stem)
        for attr, value in vars(module).items():
            if attr.endswith("_CASES") and isinstance(value, dict):
                covered |= set(value)
    return covered


def test_every_rule_has_a_bad_and_a_good_case():
    """Every rule is covered here or by a `*_CASES` table in its domain's test module (each
    of which runs its bad and good programs through the same harness)."""
    missing = {r.id for r in RULES} - set(CASES) - _domain_cases()
    assert not missing, f"rules without a bad/good case: {sorted(missing)}"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_bad_program_is_caught(rule_id: str):
    case = CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_good_program_passes(rule_id: str):
    assert check(rule_id, CASES[rule_id].good, environment="prod") == []
