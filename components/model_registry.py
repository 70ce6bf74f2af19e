"""Model registry: where a BU's trained models are published, reviewed and released.

- SageMaker model package groups, one per model family (`<bu>-<env>-<family>`), each with a
  resource policy that lets the BU's principals and the named deploy accounts *read* it.
- An artifact bucket (`SecureBucket`: BU key, versioning, public access block, TLS-only, access
  logs; S3 Object Lock in prod) for model artifacts (`models/`) and MLflow (`mlflow/`).
- ECR repositories for serving images: immutable tags, scan on push, the BU key, a lifecycle
  policy, and a repository policy for the same readers as the groups.
- The approval flow: every state change of a package in the BU's groups (registered, approved,
  rejected) goes from EventBridge to an SNS topic encrypted with the BU key, and from there to the
  reviewers' email and HTTPS endpoints.
- Optionally a SageMaker MLflow tracking server whose artifact store is the bucket's `mlflow/`.

Separation of duties. Publishing (`PUBLISH_ACTIONS`) and approving (`APPROVE_ACTIONS`) are
different people: the access work grants them to different roles, and no role may hold both. The
resource policies here grant *reads only*, for a reason: in the same account a resource policy
that names a role grants that role the action even if its own IAM policies do not, so a write
granted here would bypass the split the access work enforces. `self_approval_guard_statement`
closes the other way round the split: a publisher registering a package already `Approved`.

Who the BU's principals are. The persona and workload roles are built by the access work and
passed in as ARNs. Until they exist, the policies name the account root with an
`aws:PrincipalTag/BusinessUnit = <bu>` condition. That is safe but not a restriction: an account
root principal means "whatever this account's IAM allows", so such a statement grants nothing
beyond the callers' own IAM policies and excludes no one they allow. What keeps other principals
of the account out is their IAM (permission boundaries, no `sagemaker:*` on `*`), and the tag
condition only holds if nobody outside the BU can tag themselves `BusinessUnit=<bu>`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal, NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import account_root_arn, policy_json, service_trust_policy
from .options import child, stateful
from .storage import ObjectLockMode, ObjectLockSpec, PolicyStatements, SecureBucket
from .tags import BUSINESS_UNIT, merge_tags

# -- separation of duties -------------------------------------------------------------------

READ_ACTIONS: tuple[str, ...] = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
"""Read a group and its packages: all a deploy account or an auditor needs from the registry."""

APPROVAL_ACTION = "sagemaker:UpdateModelPackage"
"""The action that sets `ModelApprovalStatus` (approve, reject): the approver's alone."""

PUBLISH_ACTIONS: tuple[str, ...] = (
    "sagemaker:CreateModelPackage",
    # SageMaker checks AddTags when a create call carries tags.
    "sagemaker:AddTags",
    *READ_ACTIONS,
)
"""What a publisher (training pipeline, data scientist) needs to register a model version.

Never `sagemaker:UpdateModelPackage`: a publisher who can update can approve their own model.
Pair it with `self_approval_guard_statement`, since CreateModelPackage accepts an approval status.
"""

APPROVE_ACTIONS: tuple[str, ...] = (APPROVAL_ACTION, *READ_ACTIONS)
"""What an approver (model risk, release manager) needs: read the package, set its status."""

IMAGE_PULL_ACTIONS: tuple[str, ...] = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:ListImages",
)
"""Pull a serving image (the repository policy's grant to readers and deploy accounts)."""

PENDING_APPROVAL = "PendingManualApproval"


def grants_approval(actions: Iterable[str]) -> bool:
    """Whether IAM actions (wildcards included: `sagemaker:*`, `*`) allow approving a model."""
    return any(fnmatch.fnmatchcase(APPROVAL_ACTION.lower(), str(a).lower()) for a in actions)


def self_approval_guard_statement(resources: Sequence[str]) -> dict[str, Any]:
    """Deny registering a package with any approval status but `PendingManualApproval`.

    CreateModelPackage takes a `ModelApprovalStatus`, so without this a publisher could register
    a version already `Approved`. Leaving the status out is allowed (SageMaker then defaults a
    versioned package to `PendingManualApproval`), hence the `Null` test alongside the match.
    """
    return {
        "Sid": "DenySelfApproval",
        "Effect": "Deny",
        "Action": "sagemaker:CreateModelPackage",
        "Resource": list(resources),
        "Condition": {
            "Null": {"sagemaker:ModelApprovalStatus": "false"},
            "StringNotEquals": {"sagemaker:ModelApprovalStatus": PENDING_APPROVAL},
        },
    }


# -- names ----------------------------------------------------------------------------------

ARTIFACT_PURPOSE_TAG = ("Purpose", "model-artifacts")
"""The tag that marks a bucket as a model artifact store (the policy pack keys on it)."""

MODELS_PREFIX = "models/"
"""Key prefix of the model artifacts (`ModelDataUrl`s) that deploy accounts may read."""
MLFLOW_PREFIX = "mlflow/"
"""Key prefix of the MLflow tracking server's artifact store."""

_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_REPOSITORY_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_ACCOUNT = re.compile(r"^\d{12}$")


def model_package_group_name(name_prefix: str, family: str) -> str:
    """`fraud-prod-churn`: the model package group of one model family."""
    name = f"{name_prefix}-{family}"
    if not _GROUP_NAME.match(name):
        raise ValueError(
            f"model package group name {name!r} must be 1-63 letters, digits and dashes "
            "(shorten the model family)"
        )
    return name


def repository_name(name_prefix: str, image: str) -> str:
    """`fraud-prod/churn`: the ECR repository of one serving image.

    The `<bu>-<env>/` namespace lets an IAM policy name all of a BU's repositories at once
    (`repository/fraud-prod/*`).
    """
    name = f"{name_prefix}/{image}"
    if not (all(_REPOSITORY_PART.match(p) for p in name.split("/")) and len(name) <= 256):
        raise ValueError(
            f"ECR repository name {name!r} must be lowercase letters and digits separated by "
            "'.', '_', '-' or '/'"
        )
    return name


def object_lock_for(
    environment: str, mode: ObjectLockMode, retention_days: int
) -> ObjectLockSpec | None:
    """The artifact bucket's Object Lock: on in prod only.

    Dev and staging stacks must stay destroyable, and a locked bucket cannot be emptied before
    its retention ends.
    """
    if environment != "prod":
        return None
    return {"mode": mode, "retention_days": retention_days}


def _stable_suffix(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


# -- policy documents -------------------------------------------------------------------------


def _reader_statements(
    *,
    partition: str,
    account_id: str,
    business_unit: str,
    principal_arns: Sequence[str],
    deploy_account_ids: Sequence[str],
    actions: Sequence[str],
    resources: Sequence[str] | None,
) -> list[dict[str, Any]]:
    """Read grants to the BU's principals and the deploy accounts (never to `*`)."""
    bu: dict[str, Any] = {"Sid": "BuPrincipalsRead", "Effect": "Allow"}
    if principal_arns:
        bu["Principal"] = {"AWS": sorted(set(principal_arns))}
    else:
        bu["Principal"] = {"AWS": account_root_arn(partition, account_id)}
        bu["Condition"] = {"StringEquals": {f"aws:PrincipalTag/{BUSINESS_UNIT}": business_unit}}
    bu["Action"] = sorted(actions)
    statements = [bu]
    deploy = sorted(set(deploy_account_ids) - {account_id})
    if deploy:
        statements.append(
            {
                "Sid": "DeployAccountsRead",
                "Effect": "Allow",
                "Principal": {"AWS": [account_root_arn(partition, a) for a in deploy]},
                "Action": sorted(actions),
            }
        )
    if resources is not None:
        for statement in statements:
            statement["Resource"] = list(resources)
    return statements


def model_package_group_policy(
    *,
    group_name: str,
    group_arn: str,
    partition: str,
    region: str,
    account_id: str,
    business_unit: str,
    principal_arns: Sequence[str],
    deploy_account_ids: Sequence[str],
) -> str:
    """The group's resource policy: the BU's principals and the deploy accounts may read it."""
    packages = f"arn:{partition}:sagemaker:{region}:{account_id}:model-package/{group_name}/*"
    statements = _reader_statements(
        partition=partition,
        account_id=account_id,
        business_unit=business_unit,
        principal_arns=principal_arns,
        deploy_account_ids=deploy_account_ids,
        actions=READ_ACTIONS,
        resources=[group_arn, packages],
    )
    return policy_json(statements)


def repository_policy(
    *,
    partition: str,
    account_id: str,
    business_unit: str,
    principal_arns: Sequence[str],
    deploy_account_ids: Sequence[str],
) -> str:
    """The repository policy: the same readers may pull; pushing is IAM's (the publisher's)."""
    statements = _reader_statements(
        partition=partition,
        account_id=account_id,
        business_unit=business_unit,
        principal_arns=principal_arns,
        deploy_account_ids=deploy_account_ids,
        actions=IMAGE_PULL_ACTIONS,
        resources=None,  # a repository policy applies to its repository: no Resource element
    )
    for statement in statements:
        statement["Sid"] = statement["Sid"].replace("Read", "Pull")
    return policy_json(statements)


def lifecycle_policy(untagged_expiry_days: int, tagged_images_kept: int) -> str:
    """Expire untagged images after N days; keep the newest N tagged images.

    Untagged images are build leftovers. Tagged images are what model packages point at, so the
    count should cover every version that could still be rolled back to.
    """
    if untagged_expiry_days < 1 or tagged_images_kept < 1:
        raise ValueError("ECR lifecycle: untagged expiry days and tagged images kept must be >= 1")
    rules = [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged_expiry_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the newest {tagged_images_kept} tagged images",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["*"],
                "countType": "imageCountMoreThan",
                "countNumber": tagged_images_kept,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


MODEL_PACKAGE_EVENT: dict[str, list[str]] = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
}
"""What every model-package event pattern matches on (EventBridge's SageMaker event reference)."""


def approval_event_pattern(name_prefix: str) -> str:
    """Every state change of a model package in the BU's groups (`<bu>-<env>-*`)."""
    return json.dumps(
        {
            **MODEL_PACKAGE_EVENT,
            "detail": {"ModelPackageGroupName": [{"prefix": f"{name_prefix}-"}]},
        },
        sort_keys=True,
    )


def approval_topic_policy(topic_arn: str, rule_arn: str) -> str:
    """Only the registry's EventBridge rule may publish to the approval topic."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ApprovalRulePublishes",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        },
        sort_keys=True,
    )


def artifact_read_statements(
    bucket_arn: str, partition: str, deploy_account_ids: Sequence[str], account_id: str
) -> list[dict[str, Any]]:
    """Bucket-policy grants: deploy accounts may read model artifacts (`models/`), nothing else.

    A deploy account also needs `kms:Decrypt` on the BU key, which only the key policy can give:
    `KmsKey(s3_reader_accounts=...)` (components/kms.py, `OtherAccountsDecryptViaS3`).
    """
    deploy = sorted(set(deploy_account_ids) - {account_id})
    if not deploy:
        return []
    return [
        {
            "Sid": "DeployAccountsReadModels",
            "Effect": "Allow",
            "Principal": {"AWS": [account_root_arn(partition, a) for a in deploy]},
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{MODELS_PREFIX}*",
        }
    ]


def mlflow_role_policy(*, bucket_arn: str, kms_key_arn: str) -> str:
    """Least privilege for the MLflow tracking server: its prefix of the bucket, and the key."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ArtifactObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": f"{bucket_arn}/{MLFLOW_PREFIX}*",
        },
        {
            "Sid": "ArtifactListing",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [MLFLOW_PREFIX, f"{MLFLOW_PREFIX}*"]}},
        },
        {
            "Sid": "ArtifactBucketLocation",
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": bucket_arn,
        },
        {
            "Sid": "BuKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
        },
    ]
    return policy_json(statements)


# -- the component ----------------------------------------------------------------------------


class MlflowSpec(TypedDict):
    """A SageMaker managed MLflow tracking server."""

    size: Literal["Small", "Medium", "Large"]
    """Tracking server size (SageMaker's `TrackingServerSize`)."""
    mlflow_version: NotRequired[str | None]
    """MLflow version; SageMaker's current default when absent."""
    weekly_maintenance_window_start: NotRequired[str | None]
    """`TUE:03:30` (UTC); SageMaker picks one when absent."""


class ModelRegistrySettings(TypedDict):
    """The registry settings a stack file chooses (`ai-estate:modelRegistry`);
    `ModelRegistryArgs` adds the wiring (names, key, buckets) the BU estate supplies."""

    model_families: list[str]
    """One model package group per family, named `<bu>-<env>-<family>`."""
    image_names: NotRequired[list[str] | None]
    """One ECR repository per name, `<bu>-<env>/<name>` (default: one per model family)."""
    principal_arns: list[pulumi.Input[str]]
    """IAM role ARNs of the BU's personas and workloads. Empty: the account root, held to
    principals tagged `BusinessUnit=<bu>` (see the module docstring for what that does)."""
    deploy_account_ids: list[str]
    """Accounts that deploy the BU's approved models: read the groups, pull images, read
    `models/` in the bucket. Never `*`."""
    object_lock_mode: ObjectLockMode
    """Object Lock mode of the artifact bucket in prod (`object_lock_for`; off elsewhere)."""
    object_lock_retention_days: int
    """Days each artifact version stays locked in prod."""
    noncurrent_version_retention_days: int
    """Days an overwritten artifact version is kept (Object Lock retention wins if longer)."""
    untagged_image_expiry_days: int
    """Expire untagged images after this many days."""
    tagged_images_kept: int
    """Keep this many of the newest tagged images per repository."""
    approval_emails: list[str]
    """Email addresses notified of every package state change (each must confirm once)."""
    approval_https_endpoints: list[str]
    """HTTPS endpoints (chat webhooks, ticketing) notified likewise."""
    mlflow: NotRequired[MlflowSpec | None]
    """Build a SageMaker MLflow tracking server on the artifact bucket (default: none)."""


class ModelRegistryArgs(ModelRegistrySettings):
    """Inputs of `ModelRegistry`."""

    extra_policy_statements: NotRequired[PolicyStatements | None]
    """More artifact-bucket policy statements, e.g. the BU-only data deny (access.py)."""
    business_unit: str
    """The BU slug: names, the principal-tag condition and the event filter derive from it."""
    environment: str
    """`dev`, `staging` or `prod` (prod locks artifacts with Object Lock)."""
    kms_key_arn: pulumi.Input[str]
    """The BU's customer-managed key: bucket, repositories and approval topic."""
    artifact_bucket_name: str
    """Physical name of the artifact bucket (`naming.bucket_name(bu, env, "models", account)`)."""
    access_log_bucket: pulumi.Input[str]
    """Bucket receiving the artifact bucket's server access logs."""
    protect: bool
    """Protect and retain the stateful resources (prod)."""
    tags: dict[str, str]
    family_tags: NotRequired[dict[str, dict[str, str]] | None]
    """Family -> tags on top of `tags` for its package group and its same-named repository
    (the family's owners, components.model_cards.family_tags)."""


class _Context(NamedTuple):
    """Where the registry is: the caller's account, partition and region, and its readers."""

    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    principals: pulumi.Output[list[str]]


class _Repositories(NamedTuple):
    urls: dict[str, pulumi.Output[str]]
    arns: dict[str, pulumi.Output[str]]


def _unique(label: str, values: Sequence[str]) -> list[str]:
    dupes = sorted({v for v in values if list(values).count(v) > 1})
    if dupes:
        raise ValueError(f"ModelRegistry {label} must be unique (repeated: {', '.join(dupes)})")
    return list(values)


class ModelRegistry(pulumi.ComponentResource):
    """One BU's model registry; see the module docstring."""

    publish_actions: ClassVar[tuple[str, ...]] = PUBLISH_ACTIONS
    """Actions of the publisher role (never `approve_actions`' UpdateModelPackage)."""
    approve_actions: ClassVar[tuple[str, ...]] = APPROVE_ACTIONS
    """Actions of the approver role."""

    model_package_group_arns: dict[str, pulumi.Output[str]]
    """Model family -> model package group ARN."""
    model_package_group_names: dict[str, str]
    """Model family -> model package group name."""
    artifact_bucket_name: pulumi.Output[str]
    artifact_bucket_arn: pulumi.Output[str]
    repository_urls: dict[str, pulumi.Output[str]]
    """Image name -> repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/<bu>-<env>/<name>`)."""
    repository_arns: dict[str, pulumi.Output[str]]
    """Image name -> repository ARN (for the publisher's push grant)."""
    approval_topic_arn: pulumi.Output[str]
    mlflow_tracking_server_arn: pulumi.Output[str] | None
    """None when `mlflow` is not configured."""

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:registry:ModelRegistry", name, None, opts)
        prefix = f"{args['business_unit']}-{args['environment']}"
        families = _unique("model families", args["model_families"])
        images = _unique("image names", args.get("image_names") or families)
        for account in args["deploy_account_ids"]:
            if not _ACCOUNT.match(account):
                raise ValueError(f"ModelRegistry deploy account {account!r} is not a 12-digit id")
        for endpoint in args["approval_https_endpoints"]:
            if not endpoint.startswith("https://"):
                raise ValueError(f"approval endpoint {endpoint!r} must be an https:// URL")
        invoke = pulumi.InvokeOutputOptions(parent=self)
        ctx = _Context(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=aws.get_partition_output(opts=invoke).partition,
            region=aws.get_region_output(opts=invoke).region,
            principals=pulumi.Output.all(*args["principal_arns"]),
        )

        artifacts = self._artifacts(name, args, ctx)
        self.artifact_bucket_name = artifacts.bucket_name
        self.artifact_bucket_arn = artifacts.arn
        self.model_package_group_names = {f: model_package_group_name(prefix, f) for f in families}
        self.model_package_group_arns = self._package_groups(
            name, args, ctx, self.model_package_group_names
        )
        repositories = self._repositories(
            name, args, ctx, {i: repository_name(prefix, i) for i in images}
        )
        self.repository_urls, self.repository_arns = repositories.urls, repositories.arns
        self.approval_topic_arn = self._approvals(name, prefix, args)
        mlflow = args.get("mlflow")
        self.mlflow_tracking_server_arn = (
            self._mlflow(name, prefix, args, ctx, mlflow, artifacts) if mlflow else None
        )

        self.register_outputs(
            {
                "modelPackageGroupArns": self.model_package_group_arns,
                "artifactBucketName": self.artifact_bucket_name,
                "artifactBucketArn": self.artifact_bucket_arn,
                "repositoryUrls": self.repository_urls,
                "approvalTopicArn": self.approval_topic_arn,
                "mlflowTrackingServerArn": self.mlflow_tracking_server_arn,
            }
        )

    def _artifacts(self, name: str, args: ModelRegistryArgs, ctx: _Context) -> SecureBucket:
        """The artifact bucket: deploy accounts read `models/`; Object Lock in prod."""
        bucket_name = args["artifact_bucket_name"]
        deploy_accounts = list(args["deploy_account_ids"])
        extra = args.get("extra_policy_statements")
        return SecureBucket(
            f"{name}-artifacts",
            {
                "bucket_name": bucket_name,
                "kms_key_arn": args["kms_key_arn"],
                "access_log_bucket": args["access_log_bucket"],
                "access_log_prefix": f"{bucket_name}/",
                "noncurrent_version_retention_days": args["noncurrent_version_retention_days"],
                "object_lock": object_lock_for(
                    args["environment"],
                    args["object_lock_mode"],
                    args["object_lock_retention_days"],
                ),
                "policy_statements": lambda arn: pulumi.Output.all(
                    pulumi.Output.all(arn, ctx.partition, ctx.account_id).apply(
                        lambda p: artifact_read_statements(p[0], p[1], deploy_accounts, p[2])
                    ),
                    extra(arn) if extra else [],
                ).apply(lambda parts: [*parts[0], *parts[1]]),
                "tags": merge_tags(args["tags"], dict([ARTIFACT_PURPOSE_TAG])),
                "protect": args["protect"],
            },
            child(self),
        )

    def _package_groups(
        self, name: str, args: ModelRegistryArgs, ctx: _Context, group_names: dict[str, str]
    ) -> dict[str, pulumi.Output[str]]:
        """One model package group per family, each readable by the BU and the deploy accounts."""
        bu, prefix = args["business_unit"], f"{args['business_unit']}-{args['environment']}"
        deploy_accounts = list(args["deploy_account_ids"])
        arns: dict[str, pulumi.Output[str]] = {}
        for family, group_name in group_names.items():
            group = aws.sagemaker.ModelPackageGroup(
                f"{name}-{family}",
                model_package_group_name=group_name,
                model_package_group_description=f"{family} models of {prefix}",
                tags={**args["tags"], **(args.get("family_tags") or {}).get(family, {})},
                opts=stateful(self, args["protect"]),
            )
            aws.sagemaker.ModelPackageGroupPolicy(
                f"{name}-{family}-policy",
                model_package_group_name=group.model_package_group_name,
                resource_policy=pulumi.Output.all(
                    group.model_package_group_name,
                    group.arn,
                    ctx.partition,
                    ctx.region,
                    ctx.account_id,
                    ctx.principals,
                ).apply(
                    lambda p: model_package_group_policy(
                        group_name=p[0],
                        group_arn=p[1],
                        partition=p[2],
                        region=p[3],
                        account_id=p[4],
                        business_unit=bu,
                        principal_arns=list(p[5]),
                        deploy_account_ids=deploy_accounts,
                    )
                ),
                opts=child(self),
            )
            arns[family] = group.arn
        return arns

    def _repositories(
        self, name: str, args: ModelRegistryArgs, ctx: _Context, repo_names: dict[str, str]
    ) -> _Repositories:
        """One immutable, scanned, KMS-encrypted ECR repository per serving image."""
        bu = args["business_unit"]
        deploy_accounts = list(args["deploy_account_ids"])
        pull_policy = pulumi.Output.all(ctx.partition, ctx.account_id, ctx.principals).apply(
            lambda p: repository_policy(
                partition=p[0],
                account_id=p[1],
                business_unit=bu,
                principal_arns=list(p[2]),
                deploy_account_ids=deploy_accounts,
            )
        )
        expiry = lifecycle_policy(args["untagged_image_expiry_days"], args["tagged_images_kept"])
        result = _Repositories(urls={}, arns={})
        for image, repo_name in repo_names.items():
            repo = aws.ecr.Repository(
                f"{name}-{image}-images",
                name=repo_name,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args["kms_key_arn"]
                    )
                ],
                force_delete=False,
                tags={**args["tags"], **(args.get("family_tags") or {}).get(image, {})},
                opts=stateful(self, args["protect"]),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle",
                repository=repo.name,
                policy=expiry,
                opts=child(self),
            )
            aws.ecr.RepositoryPolicy(
                f"{name}-{image}-policy",
                repository=repo.name,
                policy=pull_policy,
                opts=child(self),
            )
            result.urls[image] = repo.repository_url
            result.arns[image] = repo.arn
        return result

    def _approvals(self, name: str, prefix: str, args: ModelRegistryArgs) -> pulumi.Output[str]:
        """Package state changes -> EventBridge -> the encrypted topic -> the reviewers."""
        tags = args["tags"]
        topic = aws.sns.Topic(
            f"{name}-approvals",
            name=f"{prefix}-model-approvals",
            display_name=f"Model approvals of {prefix}",
            kms_master_key_id=args["kms_key_arn"],
            tags=tags,
            opts=child(self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-package-state",
            name=f"{prefix}-model-package-state",
            description=f"Model package state changes in the {prefix} model registry",
            event_pattern=approval_event_pattern(prefix),
            tags=tags,
            opts=child(self),
        )
        topic_policy = aws.sns.TopicPolicy(
            f"{name}-approvals-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, rule.arn).apply(
                lambda p: approval_topic_policy(p[0], p[1])
            ),
            opts=child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-package-state-target",
            rule=rule.name,
            arn=topic.arn,
            target_id="approval-topic",
            # Deliveries before the topic policy exists would be refused (and not retried).
            opts=child(self, depends_on=[topic_policy]),
        )
        subscribers = [("email", e) for e in args["approval_emails"]] + [
            ("https", u) for u in args["approval_https_endpoints"]
        ]
        for protocol, endpoint in subscribers:
            # Named after the endpoint, not its position: reordering the list must not replace
            # (and so re-confirm) every subscription after the change.
            aws.sns.TopicSubscription(
                f"{name}-notify-{protocol}-{_stable_suffix(endpoint)}",
                topic=topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=child(self),
            )
        return topic.arn

    def _mlflow(
        self,
        name: str,
        prefix: str,
        args: ModelRegistryArgs,
        ctx: _Context,
        mlflow: MlflowSpec,
        artifacts: SecureBucket,
    ) -> pulumi.Output[str]:
        """The MLflow tracking server, storing artifacts under the bucket's `mlflow/`."""
        tags = args["tags"]
        role = aws.iam.Role(
            f"{name}-mlflow-role",
            name=f"{prefix}-mlflow",
            description=f"SageMaker MLflow tracking server of {prefix}",
            assume_role_policy=ctx.account_id.apply(
                lambda account: service_trust_policy("sagemaker.amazonaws.com", account)
            ),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-mlflow-policy",
            role=role.id,
            policy=pulumi.Output.all(artifacts.arn, args["kms_key_arn"]).apply(
                lambda p: mlflow_role_policy(bucket_arn=p[0], kms_key_arn=p[1])
            ),
            opts=child(self),
        )
        server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-mlflow",
            tracking_server_name=f"{prefix}-mlflow",
            artifact_store_uri=artifacts.bucket_name.apply(
                lambda b: f"s3://{b}/{MLFLOW_PREFIX.rstrip('/')}"
            ),
            role_arn=role.arn,
            tracking_server_size=mlflow["size"],
            mlflow_version=mlflow.get("mlflow_version"),
            weekly_maintenance_window_start=mlflow.get("weekly_maintenance_window_start"),
            # Auto-registration would make the server itself a registry writer, outside the
            # publisher/approver split; models reach the registry through the publisher role.
            automatic_model_registration=False,
            tags=tags,
            # The server's runs, parameters and metrics live in its managed store: stateful.
            opts=stateful(self, args["protect"], depends_on=[role_policy]),
        )
        return server.arn
