"""Disaster recovery copies of what a BU ships: model artifacts (S3) and images (ECR).

- **Artifacts** (`ArtifactReplication`, per BU): S3 replication from the BU's artifact bucket to
  a replica bucket in the DR region (the BU's `backup.drRegion`), encrypted there with a key of
  its own (a KMS key never leaves its region), versioned and, like its source in prod,
  object-locked. Delete markers are not replicated: deleting a version at home leaves the DR copy.
  S3 replicates as the service role `<prefix>-replication`, which may read the source's versions
  for replication, decrypt them with the BU key through S3 in the home region, and write
  replicas encrypted with the replica key through S3 in the DR region; nothing else. It is a
  named service role, like the backup role, not under the BU's role path: the BU's permission
  boundary admits the BU's home-region key only, and the data buckets allow the role by name
  (`BuEstate._data_only_for`). The replica keeps its own access logs in the DR region (S3 logs
  only to a bucket of the same region).
- **Images** (`ImageReplication`, per platform account): ECR replication is a registry-wide
  setting, so the platform stack owns it. One rule copies the repositories of the platform's
  BUs (`<bu>-<env>/...`, `components.model_registry.repository_name`) to the DR region, and a
  repository creation template makes the replicas immutable and encrypted with a platform key
  in that region (without it, ECR creates replicated repositories with AES256).
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import service_trust_policy
from .kms import KmsKey
from .options import child
from .storage import (
    AccessLogBucket,
    ObjectLockSpec,
    PolicyStatements,
    SecureBucket,
    SecureBucketArgs,
)

REPLICA_PURPOSE_TAG = ("Purpose", "model-artifacts-replica")
"""Marks the DR copy (not `model-artifacts`: the copy is not itself replicated)."""


def replication_role_name(prefix: str) -> str:
    """`fraud-prod-replication`: S3's role for the artifact bucket's DR copy."""
    return f"{prefix}-replication"


def replication_role_policy(
    *,
    source_bucket_arn: str,
    replica_bucket_arn: str,
    source_key_arn: str,
    replica_key_arn: str,
    home_region: str,
    dr_region: str,
) -> str:
    """What S3 needs to replicate SSE-KMS, object-locked objects (S3 user guide, "Setting up
    permissions for live replication" and "Replicating encrypted objects"), and nothing more.

    With S3 Bucket Keys the encryption context is the bucket's ARN, otherwise the object's: both
    are allowed, for these two buckets only."""

    def via(region: str) -> dict[str, Any]:
        return {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}

    def context(bucket_arn: str) -> dict[str, Any]:
        return {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}

    statements = [
        {
            "Sid": "ReadSourceConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_bucket_arn,
        },
        {
            "Sid": "ReadSourceVersions",
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            "Resource": f"{source_bucket_arn}/*",
        },
        {
            "Sid": "WriteReplicas",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": f"{replica_bucket_arn}/*",
        },
        {
            "Sid": "DecryptSourceThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": source_key_arn,
            "Condition": {
                **via(home_region),
                "StringLike": context(source_bucket_arn),
            },
        },
        {
            "Sid": "EncryptReplicasThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": replica_key_arn,
            "Condition": {
                **via(dr_region),
                "StringLike": context(replica_bucket_arn),
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class ArtifactReplicationArgs(TypedDict):
    """Inputs of `ArtifactReplication`."""

    name_prefix: str
    """`fraud-prod`: names the role, the replica key's alias."""
    account_id: str
    """The BU's account (the role's confused-deputy guard)."""
    dr_region: str
    """Where the replica lives (the BU's `backup.drRegion`)."""
    source_bucket_name: pulumi.Input[str]
    source_bucket_arn: pulumi.Input[str]
    source_kms_key_arn: pulumi.Input[str]
    """The BU key, which encrypts the source objects."""
    replica_bucket_name: str
    """Physical name of the replica (`<prefix>-models-dr-<hash>`)."""
    replica_log_bucket_name: str
    """Physical name of the replica's access-log bucket in the DR region."""
    object_lock: ObjectLockSpec | None
    """The source's Object Lock (prod): the replica gets the same (S3 replicates retention)."""
    policy_statements: NotRequired[PolicyStatements | None]
    """The replica's extra bucket-policy statements (the BU's data-only deny)."""
    key_admin_principals: NotRequired[list[pulumi.Input[str]]]
    """Roles that may administer the replica key (the BU's key admins)."""
    source: NotRequired[pulumi.Resource | None]
    """The source bucket's component: replication needs its versioning on first."""
    protect: bool
    tags: dict[str, str]


class ArtifactReplication(pulumi.ComponentResource):
    """The DR copy of a BU's artifact bucket (see the module docstring)."""

    replica_bucket_name: pulumi.Output[str]
    replica_bucket_arn: pulumi.Output[str]
    replica_key_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArtifactReplicationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:data:ArtifactReplication", name, None, opts)
        prefix, dr, tags, protect = (
            args["name_prefix"],
            args["dr_region"],
            args["tags"],
            args["protect"],
        )
        home = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}-replica",
                "description": f"AI Estate model artifact replicas of {prefix} in {dr}",
                "region": dr,
                "admin_principals": list(args.get("key_admin_principals") or []),
                "tags": tags,
                "protect": protect,
            },
            child(self),
        )
        logs = AccessLogBucket(
            f"{name}-logs",
            {
                "bucket_name": args["replica_log_bucket_name"],
                "account_id": args["account_id"],
                "region": dr,
                "tags": tags,
                "protect": protect,
            },
            child(self),
        )
        replica_args: SecureBucketArgs = {
            "bucket_name": args["replica_bucket_name"],
            "region": dr,
            "kms_key_arn": key.arn,
            "access_log_bucket": logs.bucket_name,
            "access_log_prefix": f"{args['replica_bucket_name']}/",
            "object_lock": args["object_lock"],
            "tags": {**tags, REPLICA_PURPOSE_TAG[0]: REPLICA_PURPOSE_TAG[1]},
            "protect": protect,
        }
        statements = args.get("policy_statements")
        if statements is not None:
            replica_args["policy_statements"] = statements
        replica = SecureBucket(f"{name}-replica", replica_args, child(self))
        role = aws.iam.Role(
            f"{name}-role",
            name=replication_role_name(prefix),
            description=f"S3 replication of {prefix}'s model artifacts to {dr}",
            assume_role_policy=service_trust_policy("s3.amazonaws.com", args["account_id"]),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.all(
                args["source_bucket_arn"], replica.arn, args["source_kms_key_arn"], key.arn, home
            ).apply(
                lambda p: replication_role_policy(
                    source_bucket_arn=p[0],
                    replica_bucket_arn=p[1],
                    source_key_arn=p[2],
                    replica_key_arn=p[3],
                    home_region=p[4],
                    dr_region=dr,
                )
            ),
            opts=child(self),
        )
        source = args.get("source")
        aws.s3.BucketReplicationConfig(
            f"{name}-config",
            bucket=args["source_bucket_name"],
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="dr-copy",
                    status="Enabled",
                    priority=1,
                    # An empty filter (schema V2) selects every object; V2 needs the
                    # delete-marker setting, and deletes stay at home.
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Disabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=replica.arn,
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=key.arn
                        ),
                    ),
                )
            ],
            # S3 refuses replication until both buckets are versioned.
            opts=child(self, depends_on=[replica, *([source] if source is not None else [])]),
        )
        self.replica_bucket_name, self.replica_bucket_arn = replica.bucket_name, replica.arn
        self.replica_key_arn, self.role_arn = key.arn, role.arn
        self.register_outputs({"replicaBucketName": replica.bucket_name, "replicaKeyArn": key.arn})


# -- images: registry-wide, in the platform stack ----------------------------------------------


def image_replication_filters(business_units: list[str], environment: str) -> list[str]:
    """`fraud-prod/`: the repository prefixes of the platform's BUs (one per BU)."""
    return [f"{bu}-{environment}/" for bu in sorted(set(business_units))]


def repository_creation_role_policy(replica_key_arn: str, repository_arns: list[str]) -> str:
    """What ECR needs to create the replicated repositories from the template and encrypt them
    with the replica key (ECR user guide, "IAM permissions for repository creation templates"),
    held to the BUs' repositories in the DR region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CreateReplicatedRepositories",
                    "Effect": "Allow",
                    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
                    "Resource": sorted(repository_arns),
                },
                {
                    "Sid": "EncryptWithTheReplicaKey",
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
                    "Resource": replica_key_arn,
                },
            ],
        },
        sort_keys=True,
    )


class ImageReplicationArgs(TypedDict):
    """Inputs of `ImageReplication`."""

    name_prefix: str
    """`platform-prod`."""
    environment: str
    account_id: str
    """The registry (the platform's account): replicas stay in it."""
    dr_region: str
    business_units: list[str]
    """The BUs whose repositories are replicated."""
    protect: bool
    tags: dict[str, str]


class ImageReplication(pulumi.ComponentResource):
    """The registry's replication of the BUs' images to the DR region (module docstring)."""

    replica_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageReplicationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:registry:ImageReplication", name, None, opts)
        prefix, dr, tags = args["name_prefix"], args["dr_region"], args["tags"]
        prefixes = image_replication_filters(args["business_units"], args["environment"])
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        if not prefixes:
            raise ValueError(f"ImageReplication {name}: no business units to replicate")
        key = KmsKey(
            f"{name}-key",
            {
                "alias": f"ai-estate/{prefix}-images-replica",
                "description": f"AI Estate replicated images of {prefix} in {dr}",
                "region": dr,
                "tags": tags,
                "protect": args["protect"],
            },
            child(self),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{prefix}-ecr-replica-repositories",
            description=f"ECR creates {prefix}'s replicated repositories in {dr}",
            assume_role_policy=service_trust_policy("ecr.amazonaws.com", args["account_id"]),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.all(key.arn, partition).apply(
                lambda p: repository_creation_role_policy(
                    p[0],
                    [f"arn:{p[1]}:ecr:{dr}:{args['account_id']}:repository/{r}*" for r in prefixes],
                )
            ),
            opts=child(self),
        )
        templates = [
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-template-{p.rstrip('/')}",
                region=dr,
                prefix=p.rstrip("/"),
                applied_fors=["REPLICATION"],
                description=f"Replicas of {p}* in {dr}",
                image_tag_mutability="IMMUTABLE",
                encryption_configurations=[
                    aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=key.arn
                    )
                ],
                custom_role_arn=role.arn,
                resource_tags=tags,
                opts=child(self),
            )
            for p in prefixes
        ]
        aws.ecr.ReplicationConfiguration(
            f"{name}-config",
            replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                rules=[
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                        destinations=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                region=dr, registry_id=args["account_id"]
                            )
                        ],
                        repository_filters=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                filter=p, filter_type="PREFIX_MATCH"
                            )
                            for p in prefixes
                        ],
                    )
                ]
            ),
            # The templates must exist before the first replica repository is created.
            opts=child(self, depends_on=templates),
        )
        self.replica_key_arn = key.arn
        self.register_outputs({"replicaKeyArn": key.arn})
