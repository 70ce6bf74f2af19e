"""Access: who may do what with each BU's data (the keys are components.kms, the statement and
trust helpers components.iam).

- `PermissionBoundary`: the managed policy `<bu>-<env>-boundary` every BU role carries. It is the
  ceiling: the services the estate uses, on the BU's own ARNs, and explicit denies for IAM
  changes, infrastructure changes, leaving the boundary, and anything outside the BU.
- `BuAccess`: the persona roles people assume (data-scientist, ml-engineer, model-approver,
  auditor) and the workload roles pods get through EKS Pod Identity (feature-reader,
  model-publisher, model-trainer), each under the boundary with a least-privilege inline policy.
- `bu_only_bucket_statements`: bucket-policy statements that shut a bucket to every principal
  outside the BU (for the feature-store and registry buckets, via `SecureBucketArgs`).

Why IAM carries the isolation. BUs share one AWS account per environment, so no account wall
separates fraud's data from marketing's. Three layers do, each enough on its own for the BU's
own roles: the boundary (an explicit deny on everything outside the BU's name prefixes and key),
the identity policies (which only name the BU's resources), and the resource policies (the key's
deny of other BUs' roles, the buckets' deny of non-BU principals). `tests/test_isolation.py`
proves it with `estate/analysis/iam.py`, for every role against every resource of two rendered BUs.

Names are the contract. Every BU resource's physical name starts with `<bu>-<env>` (Glue:
`<bu>_<env>_`, ECR: `<bu>-<env>/`), every BU role lives under `/ai-estate/<bu>/` and is named
`<bu>-<env>-<who>`, so a policy can say "this BU's" with one wildcard. That only holds if no BU
name can spell another BU's prefix: `validate_business_unit` refuses names that could.

Separation of duties (with `components.model_registry`): the model-publisher workload may
register model packages (pending approval only), upload artifacts and push images, never approve;
the model-trainer (the retraining loop's jobs, `components.mlops`) may do the same and also read
the offline store and take work off the BU's retraining queues, and never approve either;
the model-approver may approve, never publish. No role here can change IAM, so neither can grant
itself the other's half.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming
from .feature_store import ATHENA_RESULTS_PREFIX, athena_workgroup_name
from .iam import (
    account_roles_trust_statement,
    allow,
    deny,
    oidc_trust_statement,
    pod_identity_trust_document,
    policy_json,
    policy_size,
    saml_trust_statement,
    service_endpoints,
)
from .model_registry import (
    APPROVAL_ACTION,
    IMAGE_PULL_ACTIONS,
    MLFLOW_PREFIX,
    MODELS_PREFIX,
    PUBLISH_ACTIONS,
    READ_ACTIONS,
    self_approval_guard_statement,
)
from .options import child
from .storage import PolicyStatements
from .tags import merge_tags
from .tenant import PERSONAS

# -- vocabulary -----------------------------------------------------------------------------

WORKLOADS: tuple[str, ...] = ("feature-reader", "model-publisher", "model-trainer")
"""Workload roles, bound to Kubernetes service accounts of the BU's namespace by Pod Identity."""

ROLE_PATH_ROOT = "/ai-estate/"
NODE_ROLE_SEGMENT = "nodes"
"""`/ai-estate/nodes/` holds the GPU node roles (components.gpu_pools): not a BU."""
ENVIRONMENT_NAMES = ("dev", "staging", "prod")
RESERVED_BUSINESS_UNITS = frozenset({"platform", NODE_ROLE_SEGMENT, "aws", "ai-estate"})

SESSION_HOURS = (1, 4)
"""Shortest and longest persona session (`max_session_duration`), in hours."""
DEFAULT_SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"
DEFAULT_OIDC_AUDIENCE = "sts.amazonaws.com"

_DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_SAML_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:saml-provider/[\w+=,.@-]+$")
_OIDC_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/([^*?\s]+)$")
_IDENTITY_CENTER_ROLE = re.compile(
    r"^arn:aws[a-z-]*:iam::(\d{12}):role/aws-reserved/sso\.amazonaws\.com/(?:[a-z0-9-]+/)?"
    r"AWSReservedSSO_[\w+=,.@-]+_(?:[0-9a-f]+|\*)$"
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]+$")


def validate_business_unit(business_unit: str, environment: str) -> None:
    """Raise ValueError unless `<bu>-<env>` can only ever be this BU's name prefix.

    A BU called `fraud-prod` would own `fraud-prod-dev-*`, which `fraud-prod-*` (the prefix of
    BU `fraud` in prod) also matches; a BU called `nodes` would share the GPU node roles' path.
    """
    where = f"access of BU {business_unit!r}"
    if not _DNS_LABEL.match(business_unit):
        raise ValueError(f"{where}: the BU must be a lowercase slug (letters, digits, dashes)")
    if business_unit in RESERVED_BUSINESS_UNITS:
        raise ValueError(f"{where}: {business_unit!r} is reserved and cannot be a BU name")
    clashing = [t for t in business_unit.split("-") if t in ENVIRONMENT_NAMES]
    if clashing:
        raise ValueError(
            f"{where}: a BU name may not contain the environment word {clashing[0]!r}: its name "
            "prefix would overlap another BU's"
        )
    if environment not in ENVIRONMENT_NAMES:
        raise ValueError(f"{where}: environment {environment!r} is not one of {ENVIRONMENT_NAMES}")


# -- where a BU's resources live ------------------------------------------------------------


@dataclass(frozen=True)
class BuScope:
    """One BU in one environment and account: how its names and ARN patterns are spelled."""

    business_unit: str
    environment: str
    account_id: str
    region: str
    partition: str = "aws"

    @property
    def prefix(self) -> str:
        """`fraud-prod`."""
        return naming.prefix(self.business_unit, self.environment)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    # identities
    @property
    def role_path(self) -> str:
        """`/ai-estate/fraud/`: every persona and workload role of the BU lives here."""
        return f"{ROLE_PATH_ROOT}{self.business_unit}/"

    def role_name(self, who: str) -> str:
        """`fraud-prod-data-scientist`."""
        return f"{self.prefix}-{who}"

    def role_arn(self, who: str) -> str:
        return self.arn("iam", f"role{self.role_path}{self.role_name(who)}", regional=False)

    @property
    def role_arn_pattern(self) -> str:
        """`arn:aws:iam::<account>:role/ai-estate/fraud/fraud-prod-*`: the BU's roles only."""
        return self.arn("iam", f"role{self.role_path}{self.prefix}-*", regional=False)

    @property
    def policy_arn_pattern(self) -> str:
        return self.arn("iam", f"policy{self.role_path}{self.prefix}-*", regional=False)

    @property
    def estate_role_arn_pattern(self) -> str:
        """Every AI Estate role of the account (`role/ai-estate/*`): all BUs, and the nodes."""
        return self.arn("iam", f"role{ROLE_PATH_ROOT}*", regional=False)

    @property
    def node_role_arn_pattern(self) -> str:
        return self.arn("iam", f"role{ROLE_PATH_ROOT}{NODE_ROLE_SEGMENT}/*", regional=False)

    @property
    def boundary_name(self) -> str:
        return f"{self.prefix}-boundary"

    @property
    def boundary_arn(self) -> str:
        return self.arn("iam", f"policy{self.role_path}{self.boundary_name}", regional=False)

    @property
    def key_alias(self) -> str:
        """`alias/ai-estate/fraud-prod` (the alias `BuEstate` gives the BU key)."""
        return f"alias/ai-estate/{self.prefix}"

    # data
    def bucket_name(self, purpose: str) -> str:
        return naming.bucket_name(self.business_unit, self.environment, purpose, self.account_id)

    def bucket_arn(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    @property
    def bucket_pattern(self) -> str:
        return f"arn:{self.partition}:s3:::{self.prefix}-*"

    @property
    def table_pattern(self) -> str:
        """Tables, and their indexes and streams (`*` spans `/` in the resource part)."""
        return self.arn("dynamodb", f"table/{self.prefix}-*")

    @property
    def feature_group_pattern(self) -> str:
        return self.arn("sagemaker", f"feature-group/{self.prefix}-*")

    @property
    def model_package_group_pattern(self) -> str:
        return self.arn("sagemaker", f"model-package-group/{self.prefix}-*")

    @property
    def model_package_pattern(self) -> str:
        """Versions of the BU's groups: `model-package/<group>/<version>`."""
        return self.arn("sagemaker", f"model-package/{self.prefix}-*")

    @property
    def mlflow_tracking_server_pattern(self) -> str:
        """The BU's MLflow tracking server (`<prefix>-mlflow`, components.model_registry)."""
        return self.arn("sagemaker", f"mlflow-tracking-server/{self.prefix}-*")

    @property
    def athena_workgroup_arn(self) -> str:
        """The BU's Athena workgroup (components.feature_store): the only one its roles use."""
        return self.arn("athena", f"workgroup/{athena_workgroup_name(self.prefix)}")

    @property
    def repository_pattern(self) -> str:
        return self.arn("ecr", f"repository/{self.prefix}/*")

    @property
    def glue_prefix(self) -> str:
        """`fraud_prod_`: Glue names take underscores."""
        return naming.glue_database_name(self.business_unit, self.environment, "")

    @property
    def glue_resources(self) -> list[str]:
        """The (shared) Data Catalog, the BU's databases and their tables."""
        return [
            self.arn("glue", "catalog"),
            self.arn("glue", f"database/{self.glue_prefix}*"),
            self.arn("glue", f"table/{self.glue_prefix}*/*"),
        ]

    @property
    def lineage_patterns(self) -> list[str]:
        """The BU's SageMaker ML lineage entities it creates itself: actions and contexts
        named `<prefix>-...` (artifact ARNs are hashes of their source: not nameable)."""
        return [
            self.arn("sagemaker", f"action/{self.prefix}-*"),
            self.arn("sagemaker", f"context/{self.prefix}-*"),
        ]

    @property
    def api_destination_pattern(self) -> str:
        """The BU's EventBridge API destinations (`api-destination/<prefix>-.../<uuid>`): the
        deploy dispatch's invoke role calls its own only."""
        return self.arn("events", f"api-destination/{self.prefix}-*")

    @property
    def retraining_queue_pattern(self) -> str:
        """The BU's retraining queues (`<prefix>-<family>-retrain`, components.mlops)."""
        return self.arn("sqs", f"{self.prefix}-*-retrain")

    @property
    def log_group_pattern(self) -> str:
        """The BU's log groups and their streams (`/ai-estate/<bu>-<env>/...`)."""
        return self.arn("logs", f"log-group:/ai-estate/{self.prefix}/*")

    def cluster_arn(self, cluster_name: str) -> str:
        return self.arn("eks", f"cluster/{cluster_name}")

    def via(self, *services: str) -> list[str]:
        """`kms:ViaService` values: the regional endpoints of `services`."""
        return service_endpoints(self.region, *services)


@dataclass(frozen=True)
class BuResources:
    """The concrete resources a BU's policies name (the key and buckets are not name patterns:
    a key ARN is a random id, and bucket names end in an account hash)."""

    scope: BuScope
    kms_key_arn: str
    feature_bucket: str
    model_bucket: str
    access_log_bucket: str
    cluster_name: str | None = None

    @classmethod
    def default(
        cls, scope: BuScope, kms_key_arn: str, cluster_name: str | None = None
    ) -> BuResources:
        """Buckets named as `BuEstate` and the model registry name them."""
        return cls(
            scope=scope,
            kms_key_arn=kms_key_arn,
            feature_bucket=scope.bucket_name("features"),
            model_bucket=scope.bucket_name("models"),
            access_log_bucket=scope.bucket_name("access-logs"),
            cluster_name=cluster_name,
        )

    def bucket(self, name: str) -> str:
        return self.scope.bucket_arn(name)

    def objects(self, name: str, prefix: str = "") -> str:
        return f"{self.scope.bucket_arn(name)}/{prefix}*"


# -- the action catalog (what the boundary allows, and what personas take from it) ----------

S3_OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_OBJECT_WRITE = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
ARTIFACT_UPLOAD = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
"""Uploading model artifacts; never deleting them (they are the evidence an approval rests on)."""
S3_BUCKET_LIST = ("s3:ListBucket", "s3:GetBucketLocation")
S3_BUCKET_CONFIG_READ = (
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketVersioning",
    "s3:GetBucketLogging",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:GetLifecycleConfiguration",
    "s3:GetBucketTagging",
    "s3:GetBucketObjectLockConfiguration",
)
TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
TABLE_SCAN = ("dynamodb:Scan",)
TABLE_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
TABLE_CONFIG_READ = (
    "dynamodb:DescribeTable",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ListTagsOfResource",
)
FEATURE_READ = ("sagemaker:GetRecord", "sagemaker:BatchGetRecord")
FEATURE_WRITE = ("sagemaker:PutRecord", "sagemaker:DeleteRecord")
FEATURE_DESCRIBE = ("sagemaker:DescribeFeatureGroup", "sagemaker:DescribeFeatureMetadata")
ACCOUNT_LEVEL_READS = (
    "sagemaker:ListFeatureGroups",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
)
"""List calls IAM cannot scope to a resource: they show the names and approval states of every
BU's groups in the account (never their contents). People need them to find their own work;
workloads do not get them."""
LF_DATA_ACCESS = ("lakeformation:GetDataAccess",)
"""Lake Formation's credential vending for governed tables (Athena, Glue, EMR call it as the
caller): authorized on `*` only; what it vends is decided by the caller's Lake Formation grants."""
LINEAGE_WRITE = ("sagemaker:CreateAction", "sagemaker:CreateContext")
"""Posting lineage events to SageMaker ML lineage: a job records its run as an action (with its
source and properties) and its experiment as a context, named `<prefix>-...`; reading the graph
is the platform's. `AddAssociation` is left out: it is authorized on both ends, and artifacts
(whose ARNs are hashes of their source) cannot be held to the BU's names."""
MLFLOW_UI = ("sagemaker-mlflow:AccessUI",)
"""Opening the MLflow UI: AWS authorizes it on `*` only; what the UI then shows or changes is
authorized per action on the tracking server."""
ECR_TOKEN = ("ecr:GetAuthorizationToken",)
"""Docker login to the registry: account-wide by design, grants no repository access."""
IMAGE_PUSH = (
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
IMAGE_REVIEW = ("ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:ListImages")
IMAGE_CONFIG_READ = (
    "ecr:DescribeRepositories",
    "ecr:GetRepositoryPolicy",
    "ecr:GetLifecyclePolicy",
    "ecr:ListTagsForResource",
)
CATALOG_READ = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
)
CATALOG_METADATA_READ = ("glue:GetDatabase", "glue:GetTable", "glue:GetTables")
ATHENA_QUERY = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:ListQueryExecutions",
    "athena:GetWorkGroup",
)
"""Running and reading queries in one workgroup (Athena authorizes these on the workgroup ARN);
the data itself is read through Glue and S3 with the caller's own rights."""
MLFLOW_USE = ("sagemaker-mlflow:*", "sagemaker:CreatePresignedMlflowTrackingServerUrl")
"""Experiments, runs, metrics, the model registry of MLflow and its UI, on one tracking server
(`sagemaker-mlflow:*` is authorized on the tracking server's ARN); the presigned URL opens it."""
MLFLOW_ARTIFACTS = (*S3_OBJECT_READ, *ARTIFACT_UPLOAD)
"""MLflow clients upload and download run artifacts themselves, straight to the artifact store."""
ATHENA_RESULTS = (*S3_OBJECT_READ, *ARTIFACT_UPLOAD)
"""Athena writes query results with the caller's rights, and the caller reads them back."""
KEY_DATA = ("kms:Decrypt", "kms:GenerateDataKey")
RETRAINING_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
"""What a training job does with its family's retraining queue: take a message, keep it while
training (visibility), delete it when done. It never sends (only the triggers do)."""
KEY_CONFIG_READ = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
)
LOG_READ = ("logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents")
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
"""A BU function writing its own log group (the validation gate): the group is the stack's,
under `/ai-estate/<prefix>/`, so no role needs `logs:CreateLogGroup`."""
IDENTITY_READ = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListPolicyVersions",
)
REGISTRY_DESCRIBE = tuple(a for a in READ_ACTIONS if a not in ACCOUNT_LEVEL_READS)
REGISTER_MODEL = tuple(a for a in PUBLISH_ACTIONS if a not in ACCOUNT_LEVEL_READS)

IDENTITY_WRITES = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:De*",  # Deactivate, Delete, Detach
    "iam:Disable*",
    "iam:Enable*",
    "iam:Pass*",
    "iam:Put*",
    "iam:Re*",  # Remove, Reset, Resync
    "iam:Set*",
    "iam:Tag*",
    "iam:U*",  # Untag, Update, Upload
)
"""Every IAM action that changes something: no BU role may, so none can widen its own rights."""

LEAVE_BOUNDARY = (
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
)
CHANGE_BOUNDARY = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy*",
    "iam:SetDefaultPolicyVersion",
    "iam:*TagPolicy",
)
INFRASTRUCTURE_CHANGES = (
    # What Pulumi owns: changing it by hand would bypass review and the policy pack.
    "s3:DeleteBucket*",
    "s3:PutBucket*",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutObjectAcl",
    "s3:BypassGovernanceRetention",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:*ResourcePolicy",
    "sagemaker:DeleteFeatureGroup",
    "sagemaker:UpdateFeatureGroup",
    "sagemaker:DeleteModelPackage*",
    "sagemaker:PutModelPackageGroupPolicy",
    "ecr:Delete*",
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "kms:*Alias",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:Disable*",
    "kms:CreateGrant",
    "logs:Delete*",
    "logs:PutRetentionPolicy",
    "logs:DisassociateKmsKey",
)
"""Changes to what the stack declares, denied to every BU role (wildcards keep the boundary
under IAM's 6,144-character limit for managed policies; none matches a data action)."""

# The boundary's own action lists: the catalog above, folded with wildcards that stay within
# one resource type (a test proves every persona and workload action is inside them).
BOUNDARY_BUCKET_ACTIONS = (
    "s3:ListBucket",
    "s3:GetBucket*",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
)
BOUNDARY_TABLE_ACTIONS = (
    "dynamodb:*Item",
    "dynamodb:Query",
    "dynamodb:Scan",
    *TABLE_CONFIG_READ,
)
BOUNDARY_STORAGE_ACTIONS = (
    *S3_OBJECT_READ,
    *S3_OBJECT_WRITE,
    *BOUNDARY_BUCKET_ACTIONS,
)
BOUNDARY_IMAGE_ACTIONS = (
    "ecr:*Layer*",
    "ecr:BatchGetImage",
    "ecr:PutImage",
    "ecr:DescribeImage*",
    "ecr:ListImages",
    *IMAGE_CONFIG_READ,
)
BOUNDARY_CATALOG_ACTIONS = ("glue:GetDatabase", "glue:GetTable*", "glue:GetPartition*")
BOUNDARY_ATHENA_ACTIONS = (
    "athena:St*QueryExecution",  # Start, Stop
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:ListQueryExecutions",
    "athena:GetWorkGroup",
)
BOUNDARY_KEY_ACTIONS = ("kms:DescribeKey", "kms:GetKey*", "kms:ListResourceTags")
BOUNDARY_IDENTITY_ACTIONS = (
    "iam:GetRole*",
    "iam:GetPolicy*",
    "iam:List*RolePolicies",  # ListRolePolicies, ListAttachedRolePolicies
    "iam:ListPolicyVersions",
)

BUCKET_DATA_ACTIONS = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:RestoreObject",
)
"""What `bu_only_bucket_statements` denies outsiders: the data, never the bucket's settings (the
deployer must still be able to manage the bucket)."""


# -- the permission boundary ----------------------------------------------------------------


MANAGED_POLICY_LIMIT = 6144
"""IAM's size limit for a managed policy document, whitespace excluded."""


def boundary_resources(res: BuResources) -> list[str]:
    """Everything a BU role may touch: the BU's name patterns, its key and its cluster."""
    s = res.scope
    inside = [
        s.bucket_pattern,  # and the objects: `*` spans an object ARN's `/`
        s.table_pattern,
        s.feature_group_pattern,
        s.model_package_group_pattern,
        s.model_package_pattern,
        s.mlflow_tracking_server_pattern,
        s.athena_workgroup_arn,
        s.repository_pattern,
        *s.glue_resources,
        res.kms_key_arn,
        s.log_group_pattern,
        s.role_arn_pattern,
        s.policy_arn_pattern,
        *s.lineage_patterns,
        s.api_destination_pattern,
        s.retraining_queue_pattern,
    ]
    if res.cluster_name:
        inside.append(s.cluster_arn(res.cluster_name))
    return inside


def _outside_exemptions(res: BuResources) -> list[str]:
    """`boundary_resources` folded for the deny's NotResource: every regional resource of the
    account named `<type>/<prefix>-...` (and the BU's roles and policies, under its path) (tables, feature groups, registry groups and versions,
    the tracking server, the workgroup) is one pattern. It names the BU's own resources only
    (no other BU's name can start with this prefix: `validate_business_unit`), and keeps the
    boundary under IAM's size limit; the Allow above stays per resource type."""
    s = res.scope
    named = s.arn("*", f"*/{s.prefix}-*")
    folded = {
        s.role_arn_pattern,
        s.policy_arn_pattern,
        s.table_pattern,
        s.feature_group_pattern,
        s.model_package_group_pattern,
        s.model_package_pattern,
        s.mlflow_tracking_server_pattern,
        s.athena_workgroup_arn,
        *s.lineage_patterns,
        s.api_destination_pattern,
    }
    identities = s.arn("iam", f"*{s.role_path}{s.prefix}-*", regional=False)  # roles, policies
    return [named, identities, *(r for r in boundary_resources(res) if r not in folded)]


BOUNDARY_ACTIONS = (
    *BOUNDARY_STORAGE_ACTIONS,
    *BOUNDARY_TABLE_ACTIONS,
    *FEATURE_READ,
    *FEATURE_WRITE,
    *FEATURE_DESCRIBE,
    *REGISTER_MODEL,
    APPROVAL_ACTION,
    *BOUNDARY_IMAGE_ACTIONS,
    *BOUNDARY_CATALOG_ACTIONS,
    *KEY_DATA,
    *BOUNDARY_KEY_ACTIONS,
    *LOG_READ,
    *LOG_WRITE,
    *BOUNDARY_IDENTITY_ACTIONS,
    *BOUNDARY_ATHENA_ACTIONS,
    *MLFLOW_USE,
    *LINEAGE_WRITE,
    "eks:DescribeCluster",
    "events:InvokeApiDestination",  # the deploy dispatch (components/deploy_dispatch.py)
    *RETRAINING_CONSUME,  # the retraining jobs (components/mlops.py)
)
"""The services and actions the estate uses: the most any BU role can ever do."""

BOUNDARY_READ_WILDCARDS = (
    "athena:Get*",
    "dynamodb:Describe*",
    "ecr:Describe*",
    "ecr:Get*Policy",
    "ecr:List*",
    "s3:Get*Configuration",
    "sagemaker:Describe*",
    "sqs:GetQueue*",
)
"""Read-only families the boundary names as one pattern to stay under IAM's size limit: on the
BU's own resources (the only ones the allow names), every action they match only reads."""


def _boundary_actions() -> list[str]:
    """BOUNDARY_ACTIONS with the reads each wildcard covers folded into it."""
    folded = [
        a for a in BOUNDARY_ACTIONS if not any(fnmatchcase(a, w) for w in BOUNDARY_READ_WILDCARDS)
    ]
    return sorted({*folded, *BOUNDARY_READ_WILDCARDS})


def boundary_statements(res: BuResources) -> list[dict[str, Any]]:
    """The ceiling of every BU role (see the module docstring).

    One Allow covers every action on every BU resource: AWS authorizes an action against its
    own resource type only, and each pattern here matches one service's resources, so the
    cross product grants nothing a per-service statement would not (and keeps the document
    under the managed-policy size limit).
    """
    s = res.scope
    inside = boundary_resources(res)
    return [
        allow("BusinessUnitResources", _boundary_actions(), inside),
        allow(
            "AccountLevelReads",
            [*ACCOUNT_LEVEL_READS, *ECR_TOKEN, *MLFLOW_UI, *LF_DATA_ACCESS],
            "*",
        ),
        # Everything not on the BU's own resources is denied outright, so no grant anywhere
        # (another BU's resource policy naming this role's session, a wider identity policy)
        # can reach across. Only the account-level lists are exempt. This is also what denies
        # KMS on every key but the BU's: the key is the only KMS resource inside.
        {
            "Sid": "DenyOutsideBusinessUnit",
            "Effect": "Deny",
            "NotAction": sorted([*ACCOUNT_LEVEL_READS, *ECR_TOKEN, *MLFLOW_UI, *LF_DATA_ACCESS]),
            "NotResource": _outside_exemptions(res),
        },
        deny("DenyIdentityChanges", IDENTITY_WRITES),
        deny("DenyLeavingBoundary", LEAVE_BOUNDARY),
        deny("DenyBoundaryChanges", CHANGE_BOUNDARY, s.boundary_arn),
        deny("DenyInfrastructureChanges", INFRASTRUCTURE_CHANGES),
    ]


def boundary_document(res: BuResources) -> str:
    """The boundary policy document; ValueError if IAM would refuse it for its size."""
    document = policy_json(boundary_statements(res))
    size = policy_size(document)
    if size > MANAGED_POLICY_LIMIT:
        raise ValueError(
            f"the permission boundary of {res.scope.prefix} would be {size} characters, over "
            f"IAM's {MANAGED_POLICY_LIMIT}: shorten the BU name or the cluster name"
        )
    return document


# -- persona and workload policies ----------------------------------------------------------


def _decrypt(res: BuResources, actions: Sequence[str], *services: str) -> dict[str, Any]:
    return allow(
        "UseKeyViaServices",
        actions,
        res.kms_key_arn,
        {"StringEquals": {"kms:ViaService": res.scope.via(*services)}},
    )


def _feature_reads(res: BuResources) -> list[dict[str, Any]]:
    s = res.scope
    return [
        allow("ReadFeatureObjects", S3_OBJECT_READ, res.objects(res.feature_bucket)),
        allow("ListFeatureBucket", S3_BUCKET_LIST, res.bucket(res.feature_bucket)),
        allow("ReadFeatureCatalog", CATALOG_READ, s.glue_resources),
        allow("LakeFormationDataAccess", LF_DATA_ACCESS, "*"),
        allow("ReadOnlineFeatures", [*FEATURE_READ, *FEATURE_DESCRIBE], s.feature_group_pattern),
        allow(
            "ReadOnlineTables",
            [*TABLE_READ, *TABLE_SCAN, "dynamodb:DescribeTable"],
            s.table_pattern,
        ),
    ]


def _people_common(res: BuResources) -> list[dict[str, Any]]:
    s = res.scope
    statements = [
        allow(
            "DescribeRegistry",
            REGISTRY_DESCRIBE,
            [s.model_package_group_pattern, s.model_package_pattern],
        ),
        allow("ListAccountLevel", ACCOUNT_LEVEL_READS, "*"),
        allow("DescribeKey", ["kms:DescribeKey"], res.kms_key_arn),
    ]
    if res.cluster_name:
        statements.append(
            allow("DescribeCluster", ["eks:DescribeCluster"], s.cluster_arn(res.cluster_name))
        )
    return statements


def _experiments(res: BuResources) -> list[dict[str, Any]]:
    """MLflow on the BU's tracking server and Athena in the BU's workgroup (issue 11, item 7)."""
    s = res.scope
    return [
        allow("UseMlflow", MLFLOW_USE, s.mlflow_tracking_server_pattern),
        allow("OpenMlflowUi", MLFLOW_UI, "*"),
        allow("MlflowArtifacts", MLFLOW_ARTIFACTS, res.objects(res.model_bucket, MLFLOW_PREFIX)),
        allow("QueryInWorkgroup", ATHENA_QUERY, s.athena_workgroup_arn),
        allow(
            "AthenaResults",
            ATHENA_RESULTS,
            res.objects(res.feature_bucket, ATHENA_RESULTS_PREFIX),
        ),
    ]


def _read_models(res: BuResources) -> list[dict[str, Any]]:
    return [
        allow("ReadModelArtifacts", S3_OBJECT_READ, res.objects(res.model_bucket, MODELS_PREFIX)),
        allow("ListModelBucket", S3_BUCKET_LIST, res.bucket(res.model_bucket)),
    ]


READ_ONLY_ACTION_PATTERNS = (
    "dynamodb:Describe*",
    "dynamodb:List*",
    "ecr:Describe*",
    "ecr:Get*",
    "ecr:List*",
    "eks:Describe*",
    "glue:Get*",
    "iam:Get*",
    "iam:List*",
    "kms:Describe*",
    "kms:Get*",
    "kms:List*",
    "logs:Describe*",
    "logs:FilterLogEvents",
    "logs:Get*",
    "s3:Get*",
    "s3:List*",
    "sagemaker:Describe*",
    "sagemaker:List*",
)
"""The auditor's ceiling within its own policy: it is explicitly denied everything else."""


def persona_statements(persona: str, res: BuResources) -> list[dict[str, Any]]:
    """The least-privilege identity policy of one persona (see docs/personas.md)."""
    s = res.scope
    if persona == "data-scientist":
        return [
            *_people_common(res),
            *_feature_reads(res),
            *_read_models(res),
            *_experiments(res),
            # Data keys through S3 only: for MLflow artifacts and Athena results.
            _decrypt(res, ["kms:Decrypt"], "s3", "dynamodb", "sagemaker"),
            allow(
                "EncryptViaS3",
                ["kms:GenerateDataKey"],
                res.kms_key_arn,
                {"StringEquals": {"kms:ViaService": s.via("s3")}},
            ),
        ]
    if persona == "ml-engineer":
        return [
            *_people_common(res),
            *_feature_reads(res),
            *_read_models(res),
            *_experiments(res),
            allow("WriteFeatureObjects", S3_OBJECT_WRITE, res.objects(res.feature_bucket)),
            allow("WriteOnlineFeatures", FEATURE_WRITE, s.feature_group_pattern),
            allow("WriteOnlineTables", TABLE_WRITE, s.table_pattern),
            allow("PostLineage", LINEAGE_WRITE, s.lineage_patterns),
            allow("PullImages", IMAGE_PULL_ACTIONS, s.repository_pattern),
            allow("RegistryLogin", ECR_TOKEN, "*"),
            _decrypt(res, KEY_DATA, "s3", "dynamodb", "sagemaker"),
        ]
    if persona == "model-approver":
        return [
            *_people_common(res),
            *_read_models(res),
            allow("ApproveModels", [APPROVAL_ACTION], s.model_package_pattern),
            allow("ReviewImages", IMAGE_REVIEW, s.repository_pattern),
            _decrypt(res, ["kms:Decrypt"], "s3"),
            # Separation of duties: whoever approves never publishes, whatever else is attached.
            deny(
                "DenyPublishing",
                ["sagemaker:CreateModelPackage", "s3:PutObject", *IMAGE_PUSH],
            ),
        ]
    if persona == "auditor":
        return [
            *_people_common(res),
            allow("ReadBucketConfiguration", S3_BUCKET_CONFIG_READ, s.bucket_pattern),
            allow("ReadAccessLogs", S3_OBJECT_READ, res.objects(res.access_log_bucket)),
            allow("ListAccessLogs", S3_BUCKET_LIST, res.bucket(res.access_log_bucket)),
            allow("ReadTableConfiguration", TABLE_CONFIG_READ, s.table_pattern),
            allow("ReadFeatureGroups", FEATURE_DESCRIBE, s.feature_group_pattern),
            allow("ReadCatalogMetadata", CATALOG_METADATA_READ, s.glue_resources),
            allow("ReadKeyConfiguration", KEY_CONFIG_READ, res.kms_key_arn),
            allow(
                "ReadImageConfiguration", [*IMAGE_REVIEW, *IMAGE_CONFIG_READ], s.repository_pattern
            ),
            allow("ReadIdentities", IDENTITY_READ, [s.role_arn_pattern, s.policy_arn_pattern]),
            allow("ReadLogs", LOG_READ, s.log_group_pattern),
            {
                "Sid": "DenyAllButReads",
                "Effect": "Deny",
                "NotAction": list(READ_ONLY_ACTION_PATTERNS),
                "Resource": "*",
            },
        ]
    raise ValueError(f"unknown persona {persona!r}; personas are {', '.join(PERSONAS)}")


def workload_statements(workload: str, res: BuResources) -> list[dict[str, Any]]:
    """The identity policy of a workload role (a pod's AWS identity)."""
    s = res.scope
    if workload == "feature-reader":
        return [
            allow("ReadOnlineFeatures", FEATURE_READ, s.feature_group_pattern),
            allow("ReadOnlineTables", TABLE_READ, s.table_pattern),
            _decrypt(res, ["kms:Decrypt"], "dynamodb", "sagemaker"),
        ]
    if workload == "model-publisher":
        return _publishing(res)
    if workload == "model-trainer":
        return [
            *_publishing(res, decrypt_via=("s3", "ecr", "sqs")),
            # The training data: the offline store (S3 objects behind Lake Formation tables).
            allow("ReadFeatureObjects", S3_OBJECT_READ, res.objects(res.feature_bucket)),
            allow("ListFeatureBucket", S3_BUCKET_LIST, res.bucket(res.feature_bucket)),
            allow("ReadFeatureCatalog", CATALOG_READ, s.glue_resources),
            allow("LakeFormationDataAccess", LF_DATA_ACCESS, "*"),
            allow("TakeRetrainingRequests", RETRAINING_CONSUME, s.retraining_queue_pattern),
        ]
    raise ValueError(f"unknown workload {workload!r}; workloads are {', '.join(WORKLOADS)}")


def _publishing(
    res: BuResources, decrypt_via: Sequence[str] = ("s3", "ecr")
) -> list[dict[str, Any]]:
    """Register model versions (pending approval only), upload artifacts, push images; never
    approve. The model-publisher's policy, and the heart of the model-trainer's."""
    s = res.scope
    return [
        allow(
            "RegisterModels",
            REGISTER_MODEL,
            [s.model_package_group_pattern, s.model_package_pattern],
        ),
        self_approval_guard_statement([s.model_package_pattern, s.model_package_group_pattern]),
        deny("DenyApproval", [APPROVAL_ACTION]),
        allow(
            "UploadArtifacts",
            [*S3_OBJECT_READ, *ARTIFACT_UPLOAD],
            res.objects(res.model_bucket, MODELS_PREFIX),
        ),
        allow("ListModelBucket", S3_BUCKET_LIST, res.bucket(res.model_bucket)),
        allow("PushImages", [*IMAGE_PULL_ACTIONS, *IMAGE_PUSH], s.repository_pattern),
        allow("RegistryLogin", ECR_TOKEN, "*"),
        # The training jobs run as this role: they post their lineage (never read it).
        allow("PostLineage", LINEAGE_WRITE, s.lineage_patterns),
        _decrypt(res, KEY_DATA, *decrypt_via),
    ]


def persona_policy_document(persona: str, res: BuResources) -> str:
    return policy_json(persona_statements(persona, res))


def workload_policy_document(workload: str, res: BuResources) -> str:
    return policy_json(workload_statements(workload, res))


# -- trust ----------------------------------------------------------------------------------


class PersonaTrust(TypedDict, total=False):
    """Who may assume one persona's role. At least one source; never `*`, never a bare account.

    A person's session is as long as `max_session_hours`, except through Identity Center, whose
    role chaining AWS caps at one hour.
    """

    saml_provider_arn: str
    """An IAM SAML provider (`arn:aws:iam::<account>:saml-provider/<name>`); the assertion's
    audience must be `saml_audience`."""
    saml_audience: str
    """`SAML:aud` the assertion must carry (default `https://signin.aws.amazon.com/saml`)."""
    identity_center_role_arns: list[str]
    """IAM Identity Center permission-set roles of this account
    (`role/aws-reserved/sso.amazonaws.com/[<region>/]AWSReservedSSO_<set>_<hash>`; the hash may
    be `*`, since Identity Center changes it when it re-provisions the set)."""
    oidc_provider_arn: str
    """An IAM OIDC provider (`arn:aws:iam::<account>:oidc-provider/<host>`)."""
    oidc_audience: str
    """`<host>:aud` the token must carry (default `sts.amazonaws.com`)."""
    oidc_subjects: list[str]
    """`<host>:sub` patterns the token must match (required with an OIDC provider)."""
    cross_account_role_arns: list[str]
    """Roles in other accounts (e.g. a deploy account's pipeline role) that may assume it."""
    max_session_hours: int
    """Longest session, 1-4 hours (default 1)."""


def _check_patterns(where: str, values: Sequence[str], label: str) -> None:
    for value in values:
        if not value.strip("*?"):
            raise ValueError(f"{where}: {label} {value!r} would match anyone")


def persona_trust_statements(
    persona: str, trust: PersonaTrust, *, account_id: str
) -> list[dict[str, Any]]:
    """The trust policy statements of a persona role, validated (ValueError names the problem)."""
    where = f"persona {persona!r}"
    statements: list[dict[str, Any]] = []
    saml = trust.get("saml_provider_arn")
    if saml:
        if not _SAML_PROVIDER.match(saml):
            raise ValueError(f"{where}: saml_provider_arn {saml!r} is not an IAM SAML provider ARN")
        audience = trust.get("saml_audience") or DEFAULT_SAML_AUDIENCE
        statements.append(saml_trust_statement(saml, audience))
    center = list(trust.get("identity_center_role_arns") or [])
    if center:
        accounts = set()
        for arn in center:
            match = _IDENTITY_CENTER_ROLE.match(arn)
            if not match:
                raise ValueError(
                    f"{where}: {arn!r} is not an IAM Identity Center permission-set role ARN"
                )
            accounts.add(match.group(1))
        if accounts != {account_id}:
            raise ValueError(
                f"{where}: Identity Center roles must be this account's ({account_id}), not "
                f"{', '.join(sorted(accounts - {account_id}))}"
            )
        partition = center[0].split(":")[1]
        # The account root, held to the named roles: a role ARN as Principal would be pinned to
        # the role's unique id and break when Identity Center re-provisions the permission set.
        statements.append(
            account_roles_trust_statement(
                "IdentityCenterPermissionSets", partition, account_id, arn_like=center
            )
        )
    oidc = trust.get("oidc_provider_arn")
    if oidc:
        match = _OIDC_PROVIDER.match(oidc)
        if not match:
            raise ValueError(f"{where}: oidc_provider_arn {oidc!r} is not an IAM OIDC provider ARN")
        subjects = list(trust.get("oidc_subjects") or [])
        if not subjects:
            raise ValueError(f"{where}: an OIDC provider needs oidc_subjects (who may assume)")
        _check_patterns(where, subjects, "oidc subject")
        host = match.group(1)
        audience = trust.get("oidc_audience") or DEFAULT_OIDC_AUDIENCE
        statements.append(oidc_trust_statement(oidc, host, audience, subjects))
    by_account: dict[str, list[str]] = {}
    for arn in trust.get("cross_account_role_arns") or []:
        match = _ROLE_ARN.match(arn)
        if not match:
            raise ValueError(f"{where}: {arn!r} is not a role ARN (no wildcards)")
        if match.group(1) == account_id:
            raise ValueError(f"{where}: {arn!r} is in this account; cross-account roles only")
        by_account.setdefault(match.group(1), []).append(arn)
    for account, arns in sorted(by_account.items()):
        partition = arns[0].split(":")[1]
        statements.append(
            account_roles_trust_statement(
                f"DeployAccount{account}", partition, account, arn_equals=arns
            )
        )
    if not statements:
        raise ValueError(
            f"{where}: no trust source (a SAML provider, Identity Center roles, an OIDC provider "
            "or cross-account roles)"
        )
    return statements


def session_seconds(persona: str, trust: PersonaTrust) -> int:
    hours = trust.get("max_session_hours", SESSION_HOURS[0])
    if not isinstance(hours, int) or not SESSION_HOURS[0] <= hours <= SESSION_HOURS[1]:
        raise ValueError(
            f"persona {persona!r}: max_session_hours must be {SESSION_HOURS[0]}-"
            f"{SESSION_HOURS[1]} (got {hours!r})"
        )
    return hours * 3600


def persona_trust_document(persona: str, trust: PersonaTrust, *, account_id: str) -> str:
    return policy_json(persona_trust_statements(persona, trust, account_id=account_id))


# -- resource policies: the buckets ------------------------------------------------------


def bu_only_bucket_statements(
    bucket_arn: str,
    *,
    allowed_principal_arns: Sequence[str],
    allowed_account_ids: Sequence[str] = (),
    vpc_only_principal_arns: Sequence[str] = (),
    source_vpce: str | None = None,
) -> list[dict[str, Any]]:
    """Bucket-policy statements that deny the bucket's *data* to everyone but the BU.

    `allowed_principal_arns` are ARNs or `ArnLike` patterns: the BU's roles
    (`BuScope.role_arn_pattern`) and its service roles (the feature store's writer, the MLflow
    server). `allowed_account_ids` are other accounts let in by the bucket's own grants (deploy
    accounts); they must not include the bucket's account, or the deny would exempt everyone.
    AWS services acting as themselves (`aws:PrincipalIsAWSService`) are not affected. Bucket
    settings are not denied, so the deployer can still manage the bucket.

    With `source_vpce`, the principals of `vpc_only_principal_arns` (the BU's pod roles: their
    requests always leave the cluster through the VPC's S3 gateway endpoint) are refused the
    data from anywhere else, so a pod's leaked credentials read nothing outside the VPC. Only
    those principals: a person, AWS Backup, Lake Formation or SageMaker writing the offline store
    with the BU's service role never come through the endpoint (`aws:SourceVpce` is absent
    from their requests, and a negated operator matches an absent key).
    """
    if not allowed_principal_arns:
        raise ValueError("bu_only_bucket_statements needs at least one allowed principal")
    condition: dict[str, Any] = {
        "ArnNotLike": {"aws:PrincipalArn": sorted(set(allowed_principal_arns))},
        "Bool": {"aws:PrincipalIsAWSService": "false"},
    }
    if allowed_account_ids:
        condition["StringNotEquals"] = {"aws:PrincipalAccount": sorted(set(allowed_account_ids))}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyDataOutsideBusinessUnit",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(BUCKET_DATA_ACTIONS),
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": condition,
        }
    ]
    if source_vpce and vpc_only_principal_arns:
        statements.append(
            {
                "Sid": "DenyPodRolesOutsideTheClusterVpc",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(BUCKET_DATA_ACTIONS),
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": sorted(set(vpc_only_principal_arns))},
                    "StringNotEquals": {"aws:SourceVpce": source_vpce},
                },
            }
        )
    return statements


def bu_only_bucket_policy(
    allowed_principal_arns: Sequence[pulumi.Input[str]],
    allowed_account_ids: Sequence[str] = (),
    vpc_only_principal_arns: Sequence[pulumi.Input[str]] = (),
    source_vpce: pulumi.Input[str] | None = None,
) -> PolicyStatements:
    """`bu_only_bucket_statements` as `SecureBucketArgs.policy_statements` takes it."""
    allowed, vpc_only = list(allowed_principal_arns), list(vpc_only_principal_arns)

    def statements(bucket_arn: pulumi.Output[str]) -> pulumi.Output[list[dict[str, Any]]]:
        return pulumi.Output.all(bucket_arn, source_vpce or "", *allowed, *vpc_only).apply(
            lambda parts: bu_only_bucket_statements(
                parts[0],
                allowed_principal_arns=list(parts[2 : 2 + len(allowed)]),
                allowed_account_ids=allowed_account_ids,
                vpc_only_principal_arns=list(parts[2 + len(allowed) :]),
                source_vpce=parts[1] or None,
            )
        )

    return statements


# -- components -----------------------------------------------------------------------------


def _pod_trust(account_id: str, cluster_name: str, *, namespace: str, service_account: str) -> str:
    return pod_identity_trust_document(
        account_id=account_id,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
    )


def _resources(
    parent: pulumi.Resource,
    *,
    business_unit: str,
    environment: str,
    account_id: str,
    kms_key_arn: pulumi.Input[str],
    cluster_name: pulumi.Input[str] | None,
    feature_bucket_name: str | None = None,
    model_bucket_name: str | None = None,
    access_log_bucket_name: str | None = None,
) -> pulumi.Output[BuResources]:
    """The BU's resources as one Output (partition and region come from the provider)."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    partition = aws.get_partition_output(opts=invoke).partition
    region = aws.get_region_output(opts=invoke).region

    def build(parts: list[Any]) -> BuResources:
        scope = BuScope(business_unit, environment, account_id, parts[1], parts[0])
        default = BuResources.default(scope, parts[2], parts[3] or None)
        return BuResources(
            scope=scope,
            kms_key_arn=parts[2],
            feature_bucket=feature_bucket_name or default.feature_bucket,
            model_bucket=model_bucket_name or default.model_bucket,
            access_log_bucket=access_log_bucket_name or default.access_log_bucket,
            cluster_name=parts[3] or None,
        )

    return pulumi.Output.all(partition, region, kms_key_arn, cluster_name or "").apply(build)


class PermissionBoundaryArgs(TypedDict):
    """Inputs of `PermissionBoundary`."""

    business_unit: str
    environment: str
    account_id: str
    """The account the BU deploys to (every ARN in the boundary is in it)."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: the only key the BU's roles may use."""
    cluster_name: NotRequired[pulumi.Input[str] | None]
    """The EKS cluster the BU runs on (its roles may describe it for kubeconfig)."""
    feature_bucket_name: NotRequired[str]
    model_bucket_name: NotRequired[str]
    access_log_bucket_name: NotRequired[str]
    tags: dict[str, str]


class PermissionBoundary(pulumi.ComponentResource):
    """The managed policy `<bu>-<env>-boundary` under `/ai-estate/<bu>/`: every BU role's ceiling.

    The physical name is frozen: the boundary denies changes to itself by ARN.
    """

    arn: pulumi.Output[str]
    """The policy ARN (a role's `permissions_boundary`)."""
    policy_name: str

    def __init__(
        self, name: str, args: PermissionBoundaryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:access:PermissionBoundary", name, None, opts)
        bu, env = args["business_unit"], args["environment"]
        validate_business_unit(bu, env)
        resources = _resources(
            self,
            business_unit=bu,
            environment=env,
            account_id=args["account_id"],
            kms_key_arn=args["kms_key_arn"],
            cluster_name=args.get("cluster_name"),
            feature_bucket_name=args.get("feature_bucket_name"),
            model_bucket_name=args.get("model_bucket_name"),
            access_log_bucket_name=args.get("access_log_bucket_name"),
        )
        scope = BuScope(bu, env, args["account_id"], "")
        policy = aws.iam.Policy(
            f"{name}-policy",
            name=scope.boundary_name,
            path=scope.role_path,
            description=f"Permission boundary of every AI Estate role of {scope.prefix}",
            policy=resources.apply(boundary_document),
            tags=args["tags"],
            opts=child(self),
        )
        self.arn = policy.arn
        self.policy_name = scope.boundary_name
        self.register_outputs({"arn": self.arn})


class BuAccessArgs(TypedDict):
    """Inputs of `BuAccess`."""

    business_unit: str
    environment: str
    account_id: str
    """The account the BU deploys to; every role, ARN and trust condition is in it."""
    kms_key_arn: pulumi.Input[str]
    """The BU key (create the `KmsKey` first: the boundary and policies name its ARN)."""
    personas: dict[str, PersonaTrust]
    """Persona -> who may assume it. Personas left out get no role (and no EKS access entry)."""
    cluster_name: NotRequired[pulumi.Input[str] | None]
    """The cluster the BU's pods run on. Required for the workload roles (Pod Identity)."""
    namespace: NotRequired[str]
    """The BU's Kubernetes namespace (default: the BU name, as `BuTenant` names it)."""
    service_accounts: NotRequired[dict[str, str]]
    """Workload -> Kubernetes service account bound to it (default: one of the workload's own
    name for each of `WORKLOADS`). Workloads left out get no role."""
    feature_bucket_name: NotRequired[str]
    """The offline feature store bucket (default `naming.bucket_name(bu, env, "features", acct)`)."""
    model_bucket_name: NotRequired[str]
    """The model artifact bucket (default `naming.bucket_name(bu, env, "models", acct)`)."""
    access_log_bucket_name: NotRequired[str]
    """The access-log bucket the auditor reads (default `...("access-logs")`)."""
    tags: dict[str, str]


class BuAccess(pulumi.ComponentResource):
    """One BU's persona and workload roles under its permission boundary (module docstring)."""

    boundary: PermissionBoundary
    boundary_arn: pulumi.Output[str]
    role_arns: dict[str, pulumi.Output[str]]
    """Persona -> role ARN (feed `BuTenant.persona_role_arns`)."""
    workload_role_arns: dict[str, pulumi.Output[str]]
    """Workload -> role ARN."""
    role_arn_pattern: pulumi.Output[str]
    """`arn:<partition>:iam::<account>:role/ai-estate/<bu>/<bu>-<env>-*` (bucket policies)."""

    def __init__(
        self, name: str, args: BuAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        bu, env, account = args["business_unit"], args["environment"], args["account_id"]
        validate_business_unit(bu, env)
        unknown = sorted(set(args["personas"]) - set(PERSONAS))
        if unknown:
            raise ValueError(f"BuAccess {name}: unknown personas {unknown}; use {PERSONAS}")
        cluster = args.get("cluster_name")
        accounts = dict(args.get("service_accounts") or {w: w for w in WORKLOADS})
        unknown = sorted(set(accounts) - set(WORKLOADS))
        if unknown:
            raise ValueError(f"BuAccess {name}: unknown workloads {unknown}; use {WORKLOADS}")
        if accounts and cluster is None:
            accounts = {}  # no cluster, no pods: the workload roles would have no one to serve
        namespace = args.get("namespace", bu)
        tags = args["tags"]
        scope = BuScope(bu, env, account, "")
        # Validate everything before declaring anything, the component included.
        trusts = {
            persona: (
                persona_trust_document(persona, trust, account_id=account),
                session_seconds(persona, trust),
            )
            for persona, trust in args["personas"].items()
        }
        super().__init__("ai-estate:access:BuAccess", name, None, opts)

        boundary_args: PermissionBoundaryArgs = {
            "business_unit": bu,
            "environment": env,
            "account_id": account,
            "kms_key_arn": args["kms_key_arn"],
            "cluster_name": cluster,
            "tags": tags,
        }
        if "feature_bucket_name" in args:
            boundary_args["feature_bucket_name"] = args["feature_bucket_name"]
        if "model_bucket_name" in args:
            boundary_args["model_bucket_name"] = args["model_bucket_name"]
        if "access_log_bucket_name" in args:
            boundary_args["access_log_bucket_name"] = args["access_log_bucket_name"]
        self.boundary = PermissionBoundary(f"{name}-boundary", boundary_args, child(self))
        resources = _resources(
            self,
            business_unit=bu,
            environment=env,
            account_id=account,
            kms_key_arn=args["kms_key_arn"],
            cluster_name=cluster,
            feature_bucket_name=args.get("feature_bucket_name"),
            model_bucket_name=args.get("model_bucket_name"),
            access_log_bucket_name=args.get("access_log_bucket_name"),
        )

        self.role_arns = {}
        for persona in PERSONAS:
            if persona not in trusts:
                continue
            trust, seconds = trusts[persona]
            self.role_arns[persona] = self._role(
                name,
                persona,
                scope,
                trust=trust,
                max_session_seconds=seconds,
                policy=resources.apply(functools.partial(persona_policy_document, persona)),
                description=f"AI Estate {persona} of {scope.prefix}",
                tags=merge_tags(tags, {"Persona": persona}),
            ).arn

        self.workload_role_arns = {}
        for workload in WORKLOADS:
            if workload not in accounts:
                continue
            service_account = accounts[workload]
            trust_doc = pulumi.Output.from_input(cluster).apply(
                functools.partial(
                    _pod_trust, account, namespace=namespace, service_account=service_account
                )
            )
            role = self._role(
                name,
                workload,
                scope,
                trust=trust_doc,
                max_session_seconds=3600,
                policy=resources.apply(functools.partial(workload_policy_document, workload)),
                description=f"AI Estate {workload} workload of {scope.prefix} "
                f"({namespace}/{service_account})",
                tags=merge_tags(tags, {"Workload": workload}),
            )
            aws.eks.PodIdentityAssociation(
                f"{name}-{workload}-pod-identity",
                cluster_name=cluster,
                namespace=namespace,
                service_account=service_account,
                role_arn=role.arn,
                # The trust policy requires Pod Identity's session tags: never switch them off.
                disable_session_tags=False,
                tags=tags,
                opts=child(self),
            )
            self.workload_role_arns[workload] = role.arn

        self.boundary_arn = self.boundary.arn
        self.role_arn_pattern = resources.apply(lambda r: r.scope.role_arn_pattern)
        self.register_outputs(
            {
                "roleArns": self.role_arns,
                "workloadRoleArns": self.workload_role_arns,
                "boundaryArn": self.boundary_arn,
            }
        )

    def _role(
        self,
        name: str,
        who: str,
        scope: BuScope,
        *,
        trust: pulumi.Input[str],
        max_session_seconds: int,
        policy: pulumi.Input[str],
        description: str,
        tags: dict[str, str],
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-{who}",
            name=scope.role_name(who),
            path=scope.role_path,
            description=description,
            assume_role_policy=trust,
            permissions_boundary=self.boundary.arn,
            max_session_duration=max_session_seconds,
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-{who}-policy",
            name=scope.role_name(who),
            role=role.id,
            policy=policy,
            opts=child(self),
        )
        return role

    def principal_arns(self) -> list[pulumi.Output[str]]:
        """Every role's ARN, personas then workloads (for resource policies that name them)."""
        return [*self.role_arns.values(), *self.workload_role_arns.values()]
