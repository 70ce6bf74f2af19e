"""Model registry rules: image repositories, artifact buckets and model package groups.

What ships to production is decided in the registry, so its evidence must not change after the
fact: an image tag must always name the image that was reviewed (immutable tags), every image is
scanned when pushed, and a prod artifact bucket keeps the versions a deployment was approved on
(S3 Object Lock on a versioned bucket). Every model package group carries an explicit resource
policy, and no registry resource policy admits everyone.

A bucket is a model artifact store when either
- it carries the tag `Purpose=model-artifacts` (what `components.model_registry` puts on its
  bucket; a plain string any hand-written program can set too), or
- a SageMaker MLflow tracking server keeps its artifacts in it (`artifactStoreUri`, linked by
  property dependency, or by the bucket name in the `s3://` URI when it is a literal).
The tag is read from the bucket's own `tags`, not the provider's default tags: a purpose
describes one bucket, and a stack-wide default would mark every bucket an artifact store.

The ECR encryption and SNS encryption rules the registry also needs already exist in
`encryption.py` (`ecr-repository-encryption-cmk`, `sns-topic-encryption-cmk`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    PROD_ONLY,
    Rule,
    Setting,
    Settings,
    checkov,
    cis_eks,
    securityhub,
)
from .linking import group_by_target, known_names, of_types
from .properties import (
    as_int,
    get,
    is_true,
    json_document,
    public_statement_problems,
    string_map,
    text,
)
from .storage import VERSIONING_TYPES, buckets, satellites

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
MODEL_PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
MODEL_PACKAGE_GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
MLFLOW_TRACKING_SERVER = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"
OBJECT_LOCK_TYPES = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)

ARTIFACT_PURPOSE_TAG = ("Purpose", "model-artifacts")
"""Duplicated by value from `components/model_registry.py` (the pack cannot import it); a test
asserts the two are equal."""

LOCK_MODES = frozenset({"GOVERNANCE", "COMPLIANCE"})

#: Where each registry resource type keeps its resource policy document.
POLICY_PROPERTY = {
    MODEL_PACKAGE_GROUP_POLICY: "resourcePolicy",
    ECR_REPOSITORY_POLICY: "policy",
}


# -- ecr-repository-immutable-tags ----------------------------------------------------------


def validate_immutable_tags(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    mutability = text(args.props.get("imageTagMutability")) or "MUTABLE"
    if mutability == "IMMUTABLE":
        return
    why = (
        "tags matching its exclusion filters can be overwritten"
        if mutability.endswith("_WITH_EXCLUSION")
        else "any tag can be pushed over"
    )
    report(f"ECR repository '{args.name}' has tag mutability {mutability}: {why}.", None)


# -- ecr-repository-scan-on-push ------------------------------------------------------------


def validate_scan_on_push(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if is_true(get(args.props, "imageScanningConfiguration", "scanOnPush")):
        return
    report(f"ECR repository '{args.name}' does not scan images on push.", None)


# -- model-artifact-bucket-object-lock --------------------------------------------------------


def _bucket_names(bucket: PolicyResource) -> set[str]:
    return known_names(bucket, ("bucket", "id"))


def _bucket_of_uri(uri: str) -> str:
    """`s3://name/prefix` -> `name` ('' when it is not an S3 URI)."""
    if not uri.startswith("s3://"):
        return ""
    return uri[len("s3://") :].split("/", 1)[0]


def artifact_buckets(resources: list[PolicyResource]) -> dict[str, PolicyResource]:
    """URN -> bucket, for every bucket that is a model artifact store (module docstring)."""
    targets = buckets(resources)
    key, value = ARTIFACT_PURPOSE_TAG
    found = {
        urn: b for urn, b in targets.items() if string_map(b.props.get("tags")).get(key) == value
    }
    for server in of_types(resources, [MLFLOW_TRACKING_SERVER]):
        deps = [
            targets[d.urn]
            for d in server.property_dependencies.get("artifactStoreUri") or []
            if d.urn in targets
        ]
        if not deps:
            name = _bucket_of_uri(text(server.props.get("artifactStoreUri")))
            deps = [b for b in targets.values() if name and name in _bucket_names(b)]
        found.update((b.urn, b) for b in deps)
    return found


def _lock_enabled(bucket: PolicyResource) -> bool:
    if is_true(bucket.props.get("objectLockEnabled")):
        return True
    # The deprecated inline block (`objectLockConfiguration.objectLockEnabled: "Enabled"`).
    return text(get(bucket.props, "objectLockConfiguration", "objectLockEnabled")) == "Enabled"


def retention_days(default_retention: Any) -> int | None:
    """A default retention's length in days (`years` counted as 365 days); None when unset."""
    days = as_int(get(default_retention, "days"))
    years = as_int(get(default_retention, "years"))
    if days:
        return days
    if years:
        return years * 365
    return None


def _retention_problem(rules: Iterable[Any], minimum: int) -> str:
    """Why the default retentions in `rules` fall short, or '' when one is good enough."""
    problems = []
    for rule in rules:
        retention = get(rule, "defaultRetention")
        mode = text(get(retention, "mode"))
        days = retention_days(retention)
        if mode not in LOCK_MODES:
            problems.append(f"default retention mode is {mode or 'unset'}")
        elif days is None:
            problems.append("default retention has no period")
        elif days < minimum:
            problems.append(f"default retention is {days} days, under the {minimum}-day minimum")
        else:
            return ""
    return problems[0] if problems else "has no default retention rule"


def validate_artifact_object_lock(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = artifact_buckets(resources)
    if not targets:
        return
    minimum = int(settings["minRetentionDays"])
    locks = satellites(resources, OBJECT_LOCK_TYPES, targets)
    versionings = satellites(resources, VERSIONING_TYPES, targets)
    for urn, bucket in targets.items():
        label = f"Model artifact bucket '{bucket.name}'"
        statuses = [
            text(get(v.props, "versioningConfiguration", "status")) for v in versionings[urn]
        ]
        # S3 turns versioning on by itself for a bucket created with Object Lock, and refuses to
        # suspend it afterwards; an explicit versioning resource must still say Enabled.
        versioned = (statuses and all(s == "Enabled" for s in statuses)) or (
            not statuses
            and (is_true(get(bucket.props, "versioning", "enabled")) or _lock_enabled(bucket))
        )
        if not versioned:
            report(f"{label} is not versioned; Object Lock protects object versions.", urn)
        if not _lock_enabled(bucket):
            report(
                f"{label} does not have S3 Object Lock enabled (object_lock_enabled=True, which "
                "can only be set when the bucket is created).",
                urn,
            )
            continue
        rules = [lock.props.get("rule") for lock in locks[urn]]
        rules.append(get(bucket.props, "objectLockConfiguration", "rule"))
        problem = _retention_problem([r for r in rules if r is not None], minimum)
        if problem:
            report(f"{label} Object Lock {problem}.", urn)


# -- sagemaker-model-package-group-policy-present -------------------------------------------


def _group_names(group: PolicyResource) -> set[str]:
    return known_names(group, ("modelPackageGroupName", "id"))


def validate_group_policy_present(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    groups = {g.urn: g for g in of_types(resources, [MODEL_PACKAGE_GROUP])}
    if not groups:
        return
    policies = group_by_target(
        of_types(resources, [MODEL_PACKAGE_GROUP_POLICY]),
        "modelPackageGroupName",
        groups,
        _group_names,
    )
    for urn, group in groups.items():
        if not policies[urn]:
            report(
                f"Model package group '{group.name}' has no ModelPackageGroupPolicy; who may read "
                "it across accounts is then undeclared.",
                urn,
            )


# -- registry-policy-no-public-principal ----------------------------------------------------


def validate_no_public_principal(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    prop = POLICY_PROPERTY[args.resource_type]
    raw = args.props.get(prop)
    document = json_document(raw)
    if document is None:
        if text(raw):
            report(f"'{args.name}' has a {prop} that is not a JSON policy document.", None)
        return
    for problem in public_statement_problems(document):
        report(f"'{args.name}' is open to everyone: {problem}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="ecr-repository-immutable-tags",
        title="ECR repositories have immutable tags",
        description="Every ECR repository sets image tag mutability to IMMUTABLE.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set image_tag_mutability='IMMUTABLE' on the aws.ecr.Repository and give every build "
            "a new tag (a version or the commit), never a moving one like 'latest'."
        ),
        kind="resource",
        validate=validate_immutable_tags,
        resource_types=frozenset({ECR_REPOSITORY}),
        frameworks=(checkov("CKV_AWS_51"), securityhub("ECR.2")),
        domain="registry",
        rationale=(
            "A model package names its serving image by tag: a mutable tag lets someone swap "
            "the image after approval. IMMUTABLE_WITH_EXCLUSION is refused because the excluded "
            "tags are exactly the moving ones."
        ),
    ),
    Rule(
        id="ecr-repository-scan-on-push",
        title="ECR repositories scan images on push",
        description="Every ECR repository scans each image for vulnerabilities when it is pushed.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set image_scanning_configuration={'scan_on_push': True} on the aws.ecr.Repository."
        ),
        kind="resource",
        validate=validate_scan_on_push,
        resource_types=frozenset({ECR_REPOSITORY}),
        frameworks=(checkov("CKV_AWS_163"), cis_eks("5.1.1"), securityhub("ECR.1")),
        domain="registry",
        rationale=(
            "Where the account uses Inspector enhanced scanning the repository flag is ignored, "
            "but it is still required: it is the only scan a repository keeps if the registry "
            "setting is ever switched back to basic."
        ),
    ),
    Rule(
        id="model-artifact-bucket-object-lock",
        title="Model artifact buckets are versioned and locked",
        description=(
            "Every model artifact bucket (tagged Purpose=model-artifacts, or an MLflow artifact "
            "store) is versioned and has S3 Object Lock with a default retention."
        ),
        severity="high",
        enforcement=PROD_ONLY,
        remediation=(
            "Create the bucket with object_lock_enabled=True, add an "
            "aws.s3.BucketObjectLockConfiguration with a default retention (GOVERNANCE or "
            "COMPLIANCE, days >= the minimum) and keep versioning Enabled "
            "(SecureBucketArgs.object_lock; components.model_registry.object_lock_for)."
        ),
        kind="stack",
        validate=validate_artifact_object_lock,
        settings=(
            Setting(
                name="minRetentionDays",
                description="The shortest default Object Lock retention accepted, in days.",
                schema={"type": "integer", "minimum": 1},
                defaults={"dev": 1, "staging": 7, "prod": 30},
            ),
        ),
        domain="registry",
        rationale=(
            "The artifacts an approval was given on are audit evidence. Disabled in dev: a "
            "locked bucket cannot be emptied, so the stack could not be destroyed."
        ),
    ),
    Rule(
        id="sagemaker-model-package-group-policy-present",
        title="Model package groups have a resource policy",
        description=(
            "Every SageMaker model package group has a ModelPackageGroupPolicy naming who may "
            "read it."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Add an aws.sagemaker.ModelPackageGroupPolicy with "
            "model_package_group_name=<the group's model_package_group_name> granting read "
            "actions to the BU's roles and the deploy accounts (components.model_registry)."
        ),
        kind="stack",
        validate=validate_group_policy_present,
        domain="registry",
    ),
    Rule(
        id="registry-policy-no-public-principal",
        title="Registry resource policies admit no one anonymously",
        description=(
            "No model package group policy or ECR repository policy allows Principal '*' "
            "(or uses NotPrincipal) without a condition on who may call (principal, account, "
            "organisation, source ARN or account, VPC or VPC endpoint)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Name the principals (the BU's role ARNs, deploy accounts' roots) or hold the "
            "statement to a condition with concrete values, such as aws:PrincipalOrgID o-... or "
            "aws:PrincipalAccount <12-digit id>; a wildcard value restricts nobody."
        ),
        kind="resource",
        validate=validate_no_public_principal,
        resource_types=frozenset(POLICY_PROPERTY),
        frameworks=(checkov("CKV_AWS_32"),),
        domain="registry",
    ),
)
