"""Lake Formation rules: sensitive offline stores are governed, and new databases start closed.

- `lake-formation-no-iam-allowed-principals-default`: the account's data lake settings name at
  least one administrator and grant no `IAMAllowedPrincipals` default on new databases or tables.
  That default grant ("Use only IAM access control for new databases/tables") makes every Lake
  Formation permission on a new database moot: IAM alone decides (AWS Lake Formation developer
  guide, "Changing the default settings for your data lake").
- `lake-formation-governs-offline-store`: every SageMaker feature group whose offline store
  holds `confidential` or `restricted` data (its `DataClassification` tag, or the provider's
  default tag) has that S3 location registered with Lake Formation (a registered path covers
  every key under it) and its Glue database tagged with LF-tags, so that grants by tag
  expression reach its tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .catalog import BLOCK_FROM_STAGING, Rule, Settings
from .linking import of_types
from .properties import as_list, get, provider_default_tags, string_map, text

DATA_LAKE_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
LF_RESOURCE = "aws:lakeformation/resource:Resource"
RESOURCE_LF_TAGS = "aws:lakeformation/resourceLfTags:ResourceLfTags"
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
GOVERNED_CLASSIFICATIONS = frozenset({"confidential", "restricted"})


def validate_no_iam_allowed_default(args, report: ReportViolation, settings: Settings) -> None:
    if not as_list(args.props.get("admins")):
        report(
            f"Lake Formation settings '{args.name}' name no data lake administrator (the "
            "settings replace the account's list: nobody could grant or revoke).",
            None,
        )
    for prop in ("createDatabaseDefaultPermissions", "createTableDefaultPermissions"):
        for grant in as_list(args.props.get(prop)):
            if text(get(grant, "principal")) == IAM_ALLOWED_PRINCIPALS:
                report(
                    f"Lake Formation settings '{args.name}' grant IAMAllowedPrincipals by "
                    f"default ({prop}): IAM alone governs every new database or table.",
                    None,
                )


def _classification(resource: PolicyResource) -> str:
    tags = {
        **provider_default_tags(resource.provider),
        **string_map(resource.props.get("tagsAll")),
        **string_map(resource.props.get("tags")),
    }
    return tags.get("DataClassification", "")


def s3_uri_as_arn(uri: str) -> str:
    """`s3://bucket/offline` -> `arn:aws:s3:::bucket/offline` (partition-free comparison)."""
    return "arn:aws:s3:::" + uri.removeprefix("s3://").rstrip("/")


def covers(registered: str, location: str) -> bool:
    """Whether a registered Lake Formation location (an S3 ARN) covers `location`: the same
    bucket and path, or a path below it (Lake Formation registers a prefix and what is under it)."""
    registered = registered.rstrip("/")
    registered = registered.split(":", 5)[-1] if registered.startswith("arn:") else registered
    location = location.split(":", 5)[-1]
    return location == registered or location.startswith(registered + "/")


def _registered(resources: Iterable[PolicyResource]) -> list[str | None]:
    return [
        arn if isinstance(arn := r.props.get("arn"), str) else None
        for r in of_types(list(resources), (LF_RESOURCE,))
    ]


def _tagged_databases(resources: Iterable[PolicyResource]) -> set[str | None]:
    found: set[str | None] = set()
    for r in of_types(list(resources), (RESOURCE_LF_TAGS,)):
        name = get(r.props.get("database"), "name")
        if r.props.get("database") is not None:
            found.add(name if isinstance(name, str) else None)
    return found


def validate_offline_store_governed(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    registered = _registered(resources)
    tagged = _tagged_databases(resources)
    for group in of_types(resources, (FEATURE_GROUP,)):
        offline = group.props.get("offlineStoreConfig")
        classification = _classification(group)
        if offline is None or classification not in GOVERNED_CLASSIFICATIONS:
            continue
        uri = get(offline, "s3StorageConfig", "s3Uri")
        if isinstance(uri, str):
            location = s3_uri_as_arn(uri)
            ok = any(r is None or covers(r, location) for r in registered)
        else:
            ok = bool(registered)  # a location not known yet: a registration must exist
        if not ok:
            report(
                f"Feature group '{group.name}' keeps {classification} data in an offline store "
                "that no Lake Formation registration covers (aws.lakeformation.Resource).",
                group.urn,
            )
        database = get(offline, "dataCatalogConfig", "database")
        known = database if isinstance(database, str) else None
        if known not in tagged and None not in tagged and not (known is None and tagged):
            report(
                f"Feature group '{group.name}' is catalogued in Glue database "
                f"'{known or '(unknown)'}', which carries no LF-tags "
                "(aws.lakeformation.ResourceLfTags): no tag-based grant reaches its tables.",
                group.urn,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="lake-formation-no-iam-allowed-principals-default",
        title="New databases and tables start under Lake Formation",
        description=(
            "The data lake settings name at least one administrator and grant no "
            "IAMAllowedPrincipals default permission on new databases or tables."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set admins on the aws.lakeformation.DataLakeSettings and pass "
            "create_database_default_permissions=[] and create_table_default_permissions=[] "
            "(ai-estate:dataGovernance on platform stacks does)."
        ),
        kind="resource",
        validate=validate_no_iam_allowed_default,
        resource_types=frozenset({DATA_LAKE_SETTINGS}),
        domain="lake_formation",
    ),
    Rule(
        id="lake-formation-governs-offline-store",
        title="Confidential and restricted offline stores are governed by Lake Formation",
        description=(
            "Every feature group holding confidential or restricted data has its offline S3 "
            "location registered with Lake Formation and its Glue database LF-tagged."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Keep `ai-estate:lakeFormation.enabled: true` (the default); a hand-written program "
            "adds an aws.lakeformation.Resource whose arn covers the offline store's s3_uri and "
            "an aws.lakeformation.ResourceLfTags on its Glue database."
        ),
        kind="stack",
        validate=validate_offline_store_governed,
        domain="lake_formation",
        rationale=(
            "IAM alone cannot hide columns or grant by classification; Lake Formation can, once "
            "the location is registered and the catalog tagged."
        ),
    ),
)
