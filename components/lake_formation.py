"""Lake Formation: who may read which feature data, by LF-tag, down to the column.

Two halves, split the way AWS scopes them:

- `PlatformDataGovernance` (platform stacks). The data lake settings, the LF-tag *keys* and the
  Glue Data Catalog's encryption are one per account and region (`PutDataLakeSettings` replaces
  the whole settings object; an LF-tag key exists once per catalog; `PutDataCatalogEncryption
  Settings` is per catalog). BUs share their environment's account with the platform, so a BU
  stack that set them would overwrite every other BU's: the platform owns them.
  - data lake settings naming the platform's Lake Formation administrators, with *no*
    `IAMAllowedPrincipals` default grant on new databases or tables (both lists empty: the
    provider clears a list it is not given), so a new database is governed from its first day;
  - LF-tags `BusinessUnit` (one value per BU of the platform) and `DataClassification`
    (`public`, `internal`, `confidential`, `restricted`);
  - catalog encryption: metadata under the platform key in `SSE-KMS-WITH-SERVICE-ROLE` mode
    (Glue uses the key through its own role, so BU roles, whose boundary denies every key but
    their BU's, still read the catalog), connection passwords encrypted with the same key;
  - the lineage reader role: SageMaker ML lineage is account-wide (one graph of artifacts,
    actions and contexts per account, `QueryLineage` cannot be scoped to a BU), so only the
    auditors and platform engineers it trusts may read it (see `LINEAGE_READ`).
- `BuLakeFormation` (BU stacks): the BU's offline store registered (hybrid access: principals
  not yet opted in keep their IAM access during adoption), LF-tags on the BU's database and each
  offline table, grants per persona by LF-tag expression (always `BusinessUnit=<this BU>`), and
  column-level data cells filters that hide the `restricted` columns from every persona not
  named a restricted-column reader.

Which table is how sensitive: a table with restricted columns is tagged
`DataClassification=restricted`; any other table carries the stack's classification, capped at
`confidential` (restricted data lives only in declared columns). Persona grants:

| persona | catalog (database) | tables without restricted columns | tables with them |
|---|---|---|---|
| data-scientist, ml-engineer, model-trainer (workload) | DESCRIBE | SELECT, DESCRIBE | DESCRIBE; SELECT through the filter (restricted columns hidden), or every column as a restricted-column reader |
| auditor | DESCRIBE | DESCRIBE | DESCRIBE |
| model-approver | none | none | none |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .feature_store import OFFLINE_PREFIX
from .iam import account_roles_trust_statement, allow, policy_json, service_trust_policy
from .options import child

BUSINESS_UNIT_TAG = "BusinessUnit"
DATA_CLASSIFICATION_TAG = "DataClassification"
CLASSIFICATIONS: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
"""The values of the `DataClassification` LF-tag, least sensitive first (the schema's)."""
UNRESTRICTED = CLASSIFICATIONS[:-1]
IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
"""The Lake Formation group standing for "whatever IAM allows": the backward-compatible default
grant that makes Lake Formation permissions moot on a database."""

READERS: tuple[str, ...] = ("data-scientist", "ml-engineer", "model-trainer")
"""Roles that read feature data (their IAM policies read the offline store): two personas and
the retraining jobs' workload role."""
DESCRIBERS: tuple[str, ...] = ("auditor",)
"""Personas that see the catalog's metadata only."""

LINEAGE_READ: tuple[str, ...] = (
    "sagemaker:QueryLineage",
    "sagemaker:ListArtifacts",
    "sagemaker:DescribeArtifact",
    "sagemaker:ListActions",
    "sagemaker:DescribeAction",
    "sagemaker:ListContexts",
    "sagemaker:DescribeContext",
    "sagemaker:ListAssociations",
    "sagemaker:ListLineageGroups",
    "sagemaker:DescribeLineageGroup",
)
"""Reading SageMaker ML lineage (the account's graph of artifacts, actions and contexts)."""


def classification_rank(value: str) -> int:
    return CLASSIFICATIONS.index(value)


def table_classification(stack_classification: str, has_restricted_columns: bool) -> str:
    """`restricted` for a table with restricted columns; otherwise the stack's classification,
    capped at `confidential`."""
    if has_restricted_columns:
        return "restricted"
    return CLASSIFICATIONS[min(classification_rank(stack_classification), 2)]


def offline_location_arn(bucket_name: str) -> str:
    """The registered location: the offline store's prefix of the BU's features bucket."""
    return f"arn:aws:s3:::{bucket_name}/{OFFLINE_PREFIX.rstrip('/')}"


def lineage_reader_role_name(prefix: str) -> str:
    """`platform-prod-lineage-reader`."""
    return f"{prefix}-lineage-reader"


def lf_role_name(prefix: str) -> str:
    """`fraud-prod-lake-formation`: the role Lake Formation reads the offline store as."""
    return f"{prefix}-lake-formation"


# -- platform ---------------------------------------------------------------------------------


class PlatformDataGovernanceSettings(TypedDict):
    """`ai-estate:dataGovernance` (platform stacks)."""

    lake_formation_admins: list[str]
    """IAM role ARNs that administer Lake Formation in the account (the settings replace the
    list: name every administrator, including the roles that deploy BU stacks)."""
    lineage_readers: list[str]
    """Role ARNs (auditors, platform engineers) that may assume the lineage reader role."""
    dr_region: NotRequired[str | None]
    """Region the BUs' ECR images are replicated to (`PlatformEstate` builds the replication;
    the Lake Formation settings do not use it)."""


class PlatformDataGovernanceArgs(PlatformDataGovernanceSettings):
    """Inputs of `PlatformDataGovernance`."""

    name_prefix: str
    """`platform-prod`."""
    account_id: str
    """The account whose catalog this governs."""
    business_units: list[str]
    """The BUs of the platform: the values of the `BusinessUnit` LF-tag."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: encrypts the catalog's metadata and connection passwords."""
    tags: dict[str, str]


def catalog_key_statements(key_arn: str) -> list[dict[str, Any]]:
    """What Glue's catalog-encryption role does with the platform key."""
    return [
        allow(
            "CatalogKey",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            key_arn,
        )
    ]


def lineage_read_statements() -> list[dict[str, Any]]:
    """Lineage read: SageMaker authorizes `QueryLineage` and the list calls on `*` only."""
    return [allow("ReadLineage", LINEAGE_READ, "*")]


class PlatformDataGovernance(pulumi.ComponentResource):
    """The account's Lake Formation settings and LF-tags, catalog encryption, lineage readers."""

    lineage_reader_role_arn: pulumi.Output[str] | None
    catalog_id: str
    """The account whose catalog these settings and LF-tags govern."""
    admins: list[str]
    """The data lake administrators the settings name (empty: settings left as they are)."""
    lf_tags: dict[str, list[str]]
    """LF-tag key -> its values, as created."""

    def __init__(
        self,
        name: str,
        args: PlatformDataGovernanceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ai-estate:data:PlatformDataGovernance", name, None, opts)
        prefix, tags, account = args["name_prefix"], args["tags"], args["account_id"]
        # The settings replace the account's whole object, administrators included: without
        # administrators to name they are left as they are (the readiness item says so).
        settings: aws.lakeformation.DataLakeSettings | None = None
        if args["lake_formation_admins"]:
            settings = aws.lakeformation.DataLakeSettings(
                f"{name}-lake-settings",
                admins=list(args["lake_formation_admins"]),
                # Empty on purpose: no IAMAllowedPrincipals grant on new databases and tables.
                create_database_default_permissions=[],
                create_table_default_permissions=[],
                opts=child(self),
            )
        tag_values = {
            DATA_CLASSIFICATION_TAG: list(CLASSIFICATIONS),
            BUSINESS_UNIT_TAG: sorted(args["business_units"]),
        }
        self.catalog_id = account
        self.admins = list(args["lake_formation_admins"])
        self.lf_tags = {key: values for key, values in tag_values.items() if values}
        for key, values in tag_values.items():
            if values:  # an LF-tag needs at least one value
                aws.lakeformation.LfTag(
                    f"{name}-tag-{key.lower()}",
                    key=key,
                    values=values,
                    catalog_id=account,
                    opts=child(self, depends_on=[settings] if settings else []),
                )

        glue_role = aws.iam.Role(
            f"{name}-catalog-encryption-role",
            name=f"{prefix}-glue-catalog-encryption",
            description=f"Glue encrypts the Data Catalog of {prefix} with the platform key",
            assume_role_policy=service_trust_policy("glue.amazonaws.com", account),
            max_session_duration=3600,
            tags=tags,
            opts=child(self),
        )
        glue_policy = aws.iam.RolePolicy(
            f"{name}-catalog-encryption-policy",
            role=glue_role.id,
            policy=pulumi.Output.from_input(args["kms_key_arn"]).apply(
                lambda k: policy_json(catalog_key_statements(k))
            ),
            opts=child(self),
        )
        aws.glue.DataCatalogEncryptionSettings(
            f"{name}-catalog-encryption",
            catalog_id=account,
            data_catalog_encryption_settings=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsArgs(
                encryption_at_rest=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsEncryptionAtRestArgs(
                    catalog_encryption_mode="SSE-KMS-WITH-SERVICE-ROLE",
                    catalog_encryption_service_role=glue_role.arn,
                    sse_aws_kms_key_id=args["kms_key_arn"],
                ),
                connection_password_encryption=aws.glue.DataCatalogEncryptionSettingsDataCatalogEncryptionSettingsConnectionPasswordEncryptionArgs(
                    return_connection_password_encrypted=True,
                    aws_kms_key_id=args["kms_key_arn"],
                ),
            ),
            opts=child(self, depends_on=[glue_policy]),
        )

        self.lineage_reader_role_arn = None
        readers = list(args["lineage_readers"])
        if readers:
            partition = aws.get_partition_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).partition
            trust = partition.apply(
                lambda part: policy_json(
                    [
                        account_roles_trust_statement(
                            "LineageReaders", part, account, arn_like=readers
                        )
                    ]
                )
            )
            role = aws.iam.Role(
                f"{name}-lineage-reader",
                name=lineage_reader_role_name(prefix),
                description="Reads the account's SageMaker ML lineage (auditors, platform)",
                assume_role_policy=trust,
                max_session_duration=3600,
                tags=tags,
                opts=child(self),
            )
            aws.iam.RolePolicy(
                f"{name}-lineage-reader-policy",
                role=role.id,
                policy=policy_json(lineage_read_statements()),
                opts=child(self),
            )
            self.lineage_reader_role_arn = role.arn
        self.register_outputs({"lineageReaderRoleArn": self.lineage_reader_role_arn})


# -- BU ---------------------------------------------------------------------------------------


class BuLakeFormationSettings(TypedDict):
    """`ai-estate:lakeFormation` (BU stacks)."""

    hybrid_access: bool
    """Register the offline store in hybrid access mode and opt the personas in."""
    restricted_columns: dict[str, list[str]]
    """Feature group -> its restricted features (hidden by a data cells filter)."""
    restricted_column_readers: list[str]
    """Personas that read the restricted columns too."""


class OfflineTable(TypedDict):
    """One offline store table the feature store has SageMaker create."""

    group: str
    """The feature group's short name (config)."""
    table_name: str
    """The Glue table (`fraud_prod_transactions`)."""


class BuLakeFormationArgs(BuLakeFormationSettings):
    """Inputs of `BuLakeFormation`."""

    business_unit: str
    name_prefix: str
    account_id: str
    data_classification: str
    """The stack's classification: the database's `DataClassification` tag."""
    database_name: pulumi.Input[str]
    offline_bucket_name: str
    offline_bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """The BU key (Lake Formation decrypts offline objects with it for opted-in principals)."""
    tables: list[OfflineTable]
    persona_role_arns: Mapping[str, pulumi.Input[str]]
    """Persona (or reading workload, `READERS`) -> role ARN: the roles the BU has."""
    writer_role_arn: pulumi.Input[str]
    """The feature store's writer: SageMaker creates and updates the offline tables as it."""
    tables_ready: NotRequired[Sequence[pulumi.Resource]]
    """Resources after which the offline tables exist (the feature groups)."""
    tags: dict[str, str]


def _tag_policy(
    business_unit: str, resource_type: str, classifications: Sequence[str] | None = None
) -> aws.lakeformation.PermissionsLfTagPolicyArgs:
    expressions = [
        aws.lakeformation.PermissionsLfTagPolicyExpressionArgs(
            key=BUSINESS_UNIT_TAG, values=[business_unit]
        )
    ]
    if classifications is not None:
        expressions.append(
            aws.lakeformation.PermissionsLfTagPolicyExpressionArgs(
                key=DATA_CLASSIFICATION_TAG, values=list(classifications)
            )
        )
    return aws.lakeformation.PermissionsLfTagPolicyArgs(
        resource_type=resource_type, expressions=expressions
    )


def filter_name(table_name: str) -> str:
    """`fraud_prod_transactions_unrestricted`: the filter without the restricted columns."""
    return f"{table_name}_unrestricted"


def lake_formation_role_statements(bucket_arn: str, kms_key_arn: str) -> list[dict[str, Any]]:
    """What Lake Formation vends to opted-in principals: the offline prefix, under the BU key
    (AWS: "Requirements for roles used to register locations")."""
    return [
        allow(
            "OfflineObjects",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            f"{bucket_arn}/{OFFLINE_PREFIX}*",
        ),
        allow("OfflineBucket", ["s3:ListBucket"], bucket_arn),
        allow("BuKey", ["kms:Decrypt", "kms:GenerateDataKey"], kms_key_arn),
    ]


class BuLakeFormation(pulumi.ComponentResource):
    """One BU's registration, LF-tags, grants and filters; see the module docstring."""

    role_arn: pulumi.Output[str]
    location_arn: str
    """The registered location (the offline store's prefix of the features bucket)."""
    hybrid_access: bool
    """Whether the location is registered in hybrid access mode."""

    def __init__(
        self, name: str, args: BuLakeFormationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:data:BuLakeFormation", name, None, opts)
        bu, prefix, account = args["business_unit"], args["name_prefix"], args["account_id"]
        database = args["database_name"]
        role = aws.iam.Role(
            f"{name}-role",
            name=lf_role_name(prefix),
            description=f"Lake Formation reads the offline store of {prefix} as this role",
            assume_role_policy=service_trust_policy("lakeformation.amazonaws.com", account),
            max_session_duration=3600,
            tags=args["tags"],
            opts=child(self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.all(args["offline_bucket_arn"], args["kms_key_arn"]).apply(
                lambda p: policy_json(lake_formation_role_statements(p[0], p[1]))
            ),
            opts=child(self),
        )
        self.role_arn = role.arn
        self.location_arn = offline_location_arn(args["offline_bucket_name"])
        self.hybrid_access = bool(args["hybrid_access"])
        location = aws.lakeformation.Resource(
            f"{name}-offline-location",
            arn=offline_location_arn(args["offline_bucket_name"]),
            role_arn=role.arn,
            hybrid_access_enabled=args["hybrid_access"],
            opts=child(self, depends_on=[role_policy]),
        )

        restricted = args["restricted_columns"]
        tagged: list[pulumi.Resource] = [
            aws.lakeformation.ResourceLfTags(
                f"{name}-database-tags",
                catalog_id=account,
                database=aws.lakeformation.ResourceLfTagsDatabaseArgs(name=database),
                lf_tags=[
                    aws.lakeformation.ResourceLfTagsLfTagArgs(key=BUSINESS_UNIT_TAG, value=bu),
                    aws.lakeformation.ResourceLfTagsLfTagArgs(
                        key=DATA_CLASSIFICATION_TAG, value=args["data_classification"]
                    ),
                ],
                opts=child(self),
            )
        ]
        ready = list(args.get("tables_ready") or [])
        for table in args["tables"]:
            classification = table_classification(
                args["data_classification"], bool(restricted.get(table["group"]))
            )
            tagged.append(
                aws.lakeformation.ResourceLfTags(
                    f"{name}-{table['group']}-tags",
                    catalog_id=account,
                    table=aws.lakeformation.ResourceLfTagsTableArgs(
                        database_name=database, name=table["table_name"]
                    ),
                    lf_tags=[
                        aws.lakeformation.ResourceLfTagsLfTagArgs(key=BUSINESS_UNIT_TAG, value=bu),
                        aws.lakeformation.ResourceLfTagsLfTagArgs(
                            key=DATA_CLASSIFICATION_TAG, value=classification
                        ),
                    ],
                    # SageMaker creates the table with the feature group.
                    opts=child(self, depends_on=ready),
                )
            )

        # The writer creates and updates the offline tables (hybrid mode enforces CREATE_TABLE
        # and UPDATE_TABLE, and creating a table on a registered location needs the location).
        writer = args["writer_role_arn"]
        aws.lakeformation.Permissions(
            f"{name}-writer-database",
            principal=writer,
            permissions=["CREATE_TABLE", "ALTER", "DESCRIBE"],
            database=aws.lakeformation.PermissionsDatabaseArgs(name=database, catalog_id=account),
            opts=child(self, depends_on=tagged),
        )
        aws.lakeformation.Permissions(
            f"{name}-writer-location",
            principal=writer,
            permissions=["DATA_LOCATION_ACCESS"],
            data_location=aws.lakeformation.PermissionsDataLocationArgs(
                arn=offline_location_arn(args["offline_bucket_name"]), catalog_id=account
            ),
            opts=child(self, depends_on=[location]),
        )

        filters: dict[str, aws.lakeformation.DataCellsFilter] = {}
        for table in args["tables"]:
            columns = restricted.get(table["group"])
            if not columns:
                continue
            filters[table["table_name"]] = aws.lakeformation.DataCellsFilter(
                f"{name}-{table['group']}-filter",
                table_data=aws.lakeformation.DataCellsFilterTableDataArgs(
                    database_name=database,
                    table_name=table["table_name"],
                    table_catalog_id=account,
                    name=filter_name(table["table_name"]),
                    column_wildcard=aws.lakeformation.DataCellsFilterTableDataColumnWildcardArgs(
                        excluded_column_names=list(columns)
                    ),
                    row_filter=aws.lakeformation.DataCellsFilterTableDataRowFilterArgs(
                        all_rows_wildcard=aws.lakeformation.DataCellsFilterTableDataRowFilterAllRowsWildcardArgs()
                    ),
                ),
                opts=child(self, depends_on=tagged),
            )

        opted: list[pulumi.Input[str]] = []
        for persona, arn in sorted(args["persona_role_arns"].items()):
            grants = self._persona_grants(name, bu, persona, args, filters, tagged)
            if grants:
                opted.append(arn)
        if args["hybrid_access"] and opted:
            # Opted-in principals need Lake Formation's grants as well as IAM's; everyone else
            # (the writer, MLflow, AWS Backup) keeps its IAM access during adoption.
            aws.lakeformation.OptIn(
                f"{name}-opt-in",
                principals=[
                    aws.lakeformation.OptInPrincipalArgs(data_lake_principal_identifier=a)
                    for a in opted
                ],
                resource_datas=[
                    aws.lakeformation.OptInResourceDataArgs(
                        database=aws.lakeformation.OptInResourceDataDatabaseArgs(
                            name=database, catalog_id=account
                        )
                    ),
                    aws.lakeformation.OptInResourceDataArgs(
                        table=aws.lakeformation.OptInResourceDataTableArgs(
                            database_name=database, catalog_id=account, wildcard=True
                        )
                    ),
                ],
                opts=child(self, depends_on=[location, *tagged]),
            )
        self.register_outputs({"roleArn": role.arn})

    def _persona_grants(
        self,
        name: str,
        bu: str,
        persona: str,
        args: BuLakeFormationArgs,
        filters: Mapping[str, aws.lakeformation.DataCellsFilter],
        tagged: list[pulumi.Resource],
    ) -> list[aws.lakeformation.Permissions]:
        if persona not in (*READERS, *DESCRIBERS):
            return []
        principal = args["persona_role_arns"][persona]
        after = child(self, depends_on=tagged)

        def grant(
            suffix: str,
            permissions: list[str],
            opts: pulumi.ResourceOptions = after,
            **resource: Any,
        ) -> aws.lakeformation.Permissions:
            return aws.lakeformation.Permissions(
                f"{name}-{persona}-{suffix}",
                principal=principal,
                permissions=permissions,
                opts=opts,
                **resource,
            )

        grants = [grant("database", ["DESCRIBE"], lf_tag_policy=_tag_policy(bu, "DATABASE"))]
        if persona in DESCRIBERS:
            grants.append(grant("tables", ["DESCRIBE"], lf_tag_policy=_tag_policy(bu, "TABLE")))
            return grants
        grants.append(
            grant(
                "tables",
                ["SELECT", "DESCRIBE"],
                lf_tag_policy=_tag_policy(bu, "TABLE", UNRESTRICTED),
            )
        )
        if persona in args["restricted_column_readers"]:
            grants.append(
                grant(
                    "restricted-tables",
                    ["SELECT", "DESCRIBE"],
                    lf_tag_policy=_tag_policy(bu, "TABLE", ["restricted"]),
                )
            )
            return grants
        grants.append(
            grant(
                "restricted-tables",
                ["DESCRIBE"],
                lf_tag_policy=_tag_policy(bu, "TABLE", ["restricted"]),
            )
        )
        for table_name, cells in sorted(filters.items()):
            grants.append(
                grant(
                    f"filter-{table_name.replace('_', '-')}",
                    ["SELECT"],
                    child(self, depends_on=[*tagged, cells]),
                    data_cells_filter=aws.lakeformation.PermissionsDataCellsFilterArgs(
                        database_name=args["database_name"],
                        table_name=table_name,
                        table_catalog_id=args["account_id"],
                        name=filter_name(table_name),
                    ),
                )
            )
        return grants
