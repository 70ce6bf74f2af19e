"""Lifecycle rules: stateful resources are `protect`ed in prod.

`protect` makes the engine refuse to delete a resource — on `pulumi destroy`, on removal from the
program, and on a replace-triggering change — so a typo in a name cannot drop a feature store.

What counts as stateful is the data that cannot be rebuilt from the program: S3 buckets, DynamoDB
tables, KMS keys (deleting one makes everything it encrypted unreadable), ECR repositories (the
images that were deployed), SageMaker feature groups and model package groups (the registry),
Glue catalog databases, RDS databases and EFS file systems.

Log groups are deliberately not on the list: AWS services recreate their own log groups, the
estate replaces them routinely when names or keys change, and how long their data lives is what
`log-group-retention` governs. Protecting them would block routine changes for no durability gain.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import PROD_ONLY, Rule, Settings

STATEFUL_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:efs/fileSystem:FileSystem",
    }
)


def validate_protected(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if not args.opts.protect:
        report(
            f"'{args.name}' ({args.resource_type}) holds data but is not protected "
            "(ResourceOptions(protect=True)).",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="stateful-resource-protected",
        title="Stateful resources are protected",
        description=(
            "Every stateful resource (bucket, table, KMS key, ECR repository, feature group, model "
            "package group, Glue database, RDS database, EFS file system) has protect set."
        ),
        severity="high",
        enforcement=PROD_ONLY,
        remediation=(
            "Pass opts=ResourceOptions(protect=True, retain_on_delete=True) "
            "(components.options.stateful(parent, protect=True)); to retire the resource, "
            "unprotect it in a separate, reviewed change first."
        ),
        kind="resource",
        validate=validate_protected,
        resource_types=STATEFUL_TYPES,
        domain="lifecycle",
        rationale="Disabled in dev so that throwaway stacks can be destroyed in one command.",
    ),
)
