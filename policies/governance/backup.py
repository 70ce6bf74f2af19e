"""Backup rules: prod data is in an AWS Backup selection, in a locked vault under a CMK.

PITR and versioning undo mistakes; they do not survive a deleted table, a compromised deployer or
a lost region. AWS Backup does, when every data store is selected by a plan and the vault it
writes to is encrypted with a customer-managed key and locked.

Coverage is decided the way AWS Backup decides it (AWS Backup developer guide, "Assigning
resources programmatically"; API `BackupSelection`):

- `resources` are ARN patterns, ORed; `*` matches any run of characters; `["*"]` is everything;
- `conditions` are tag conditions, ANDed (`StringEquals`, `StringLike`, `StringNotEquals`,
  `StringNotLike` on `aws:ResourceTag/<key>`), and `selectionTags` (`ListOfTags`, StringEquals
  only) are ORed; listed resources are filtered by the tag conditions;
- `notResources` patterns are taken out.

An ARN the engine does not know yet (a table created by this update) is matched through the
name it will have: its partition, region and account are the stack's, so an unknown segment
matches; its service and resource part must match the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .catalog import BLOCK_FROM_STAGING, BLOCK_IN_PROD, PROD_ONLY, Rule, Settings, securityhub
from .linking import known_names, linked, of_types
from .properties import (
    as_int,
    as_list,
    get,
    is_customer_managed_key,
    json_document,
    provider_default_tags,
    statements,
    string_map,
    text,
)
from .registry import artifact_buckets
from .storage import BUCKET_TYPES, buckets, log_targets

SELECTION = "aws:backup/selection:Selection"
VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
TABLE = "aws:dynamodb/table:Table"
EFS = "aws:efs/fileSystem:FileSystem"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"

STATEFUL_TYPES: Mapping[str, tuple[str, str]] = {
    TABLE: ("dynamodb", "table/{}"),
    EFS: ("elasticfilesystem", "file-system/{}"),
    RDS_INSTANCE: ("rds", "db:{}"),
    RDS_CLUSTER: ("rds", "cluster:{}"),
    EKS_CLUSTER: ("eks", "cluster/{}"),
}
"""Type -> (service, resource part) of each AWS Backup-supported data store besides S3, for the
ARN built from the store's physical name (EFS has no name: its id). An EKS cluster counts: AWS
Backup backs up its state (the Kubernetes objects, secrets included) and the persistent volumes
of its PVCs as one composite recovery point (AWS Backup developer guide, "Amazon EKS
backups")."""

_NAME_PROPS: Mapping[str, tuple[str, ...]] = {
    TABLE: ("name",),
    EFS: ("id",),
    RDS_INSTANCE: ("identifier",),
    RDS_CLUSTER: ("clusterIdentifier",),
    EKS_CLUSTER: ("name",),
}


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


def glob_match(pattern: str, value: str) -> bool:
    """AWS Backup's wildcard: `*` is zero or more characters, everything else is literal."""
    return _glob(pattern).fullmatch(value) is not None


def arn_matches(pattern: str, arn: tuple[str | None, ...]) -> bool:
    """Whether an ARN pattern selects an ARN given as its six segments (`arn`, partition,
    service, region, account, resource); a segment that is None (unknown) matches anything."""
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return False
    return all(seg is None or glob_match(p, seg) for p, seg in zip(parts, arn, strict=True))


def split_arn(arn: str) -> tuple[str | None, ...] | None:
    parts = arn.split(":", 5)
    return tuple(parts) if len(parts) == 6 and parts[0] == "arn" else None


def _tag_conditions(selection: PolicyResource) -> list[tuple[str, str, str]]:
    """(operator, tag key, value) of the selection's `conditions`, ANDed."""
    found: list[tuple[str, str, str]] = []
    operators = {
        "stringEquals": "StringEquals",
        "stringLikes": "StringLike",
        "stringNotEquals": "StringNotEquals",
        "stringNotLikes": "StringNotLike",
    }
    for block in as_list(selection.props.get("conditions")):
        for prop, operator in operators.items():
            for cond in as_list(get(block, prop)):
                key = text(get(cond, "key")).removeprefix("aws:ResourceTag/")
                found.append((operator, key, text(get(cond, "value"))))
    return found


def _tags_match(selection: PolicyResource, tags: Mapping[str, str]) -> bool:
    for operator, key, value in _tag_conditions(selection):
        actual = tags.get(key)
        if operator == "StringEquals" and actual != value:
            return False
        if operator == "StringLike" and (actual is None or not glob_match(value, actual)):
            return False
        if operator == "StringNotEquals" and actual == value:
            return False
        if operator == "StringNotLike" and actual is not None and glob_match(value, actual):
            return False
    list_of_tags = [
        (text(get(t, "key")), text(get(t, "value")))
        for t in as_list(selection.props.get("selectionTags"))
        if text(get(t, "type")).upper() == "STRINGEQUALS"
    ]
    return not list_of_tags or any(tags.get(k) == v for k, v in list_of_tags)


def candidate_arns(resource: PolicyResource) -> list[tuple[str | None, ...]]:
    """The store's ARN as the engine knows it, and as its physical name implies."""
    found: list[tuple[str | None, ...]] = []
    arn = resource.props.get("arn")
    if isinstance(arn, str) and (parts := split_arn(arn)) is not None:
        found.append(parts)
    if resource.resource_type in BUCKET_TYPES:
        name = resource.props.get("bucket")
        if isinstance(name, str) and name:
            found.append(("arn", None, "s3", "", "", name))
        return found
    service, template = STATEFUL_TYPES[resource.resource_type]
    for prop in _NAME_PROPS[resource.resource_type]:
        name = resource.props.get(prop)
        if isinstance(name, str) and name:
            found.append(("arn", None, service, None, None, template.format(name)))
    return found


def selects(selection: PolicyResource, resource: PolicyResource, tags: Mapping[str, str]) -> bool:
    """Whether an AWS Backup selection picks `resource` (tagged `tags`)."""
    arns = candidate_arns(resource)
    patterns = [text(p) for p in as_list(selection.props.get("resources"))]
    excluded = [text(p) for p in as_list(selection.props.get("notResources"))]
    if patterns:
        if not any(arn_matches(p, a) for p in patterns for a in arns):
            return False
    elif not _tag_conditions(selection) and not selection.props.get("selectionTags"):
        return False  # AWS refuses an empty selection; nothing is chosen
    if any(arn_matches(p, a) for p in excluded for a in arns):
        return False
    return _tags_match(selection, tags)


def _tags(resource: PolicyResource) -> dict[str, str]:
    return {
        **provider_default_tags(resource.provider),
        **string_map(resource.props.get("tagsAll")),
        **string_map(resource.props.get("tags")),
    }


TRAIL = "aws:cloudtrail/trail:Trail"


def trail_targets(
    resources: list[PolicyResource], targets: Mapping[str, PolicyResource]
) -> set[str]:
    """URNs of the buckets in this stack that receive a CloudTrail trail's log files."""
    found: set[str] = set()
    for trail in of_types(resources, (TRAIL,)):
        found.update(
            t.urn
            for t in linked(
                trail, "s3BucketName", targets, lambda b: known_names(b, ("bucket", "id"))
            )
        )
    return found


REPORT_DELIVERY_SERVICES = frozenset(
    {"bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"}
)
"""AWS services that deliver regenerable reports (CUR 2.0, Data Exports) into a bucket."""


def report_targets(
    resources: list[PolicyResource], targets: Mapping[str, PolicyResource]
) -> set[str]:
    """URNs of buckets whose policy lets an AWS report service write into them: billing
    exports that AWS can deliver again, not data of the estate's own."""
    found: set[str] = set()
    for policy in of_types(resources, ("aws:s3/bucketPolicy:BucketPolicy",)):
        document = json_document(policy.props.get("policy"))
        services: set[str] = set()
        for statement in statements(document):
            principal = get(statement, "Principal", "Service")
            services.update(text(p) for p in as_list(principal))
        if services & REPORT_DELIVERY_SERVICES:
            found.update(
                t.urn
                for t in linked(
                    policy, "bucket", targets, lambda b: known_names(b, ("bucket", "id"))
                )
            )
    return found


def data_stores(resources: list[PolicyResource]) -> list[PolicyResource]:
    """The stack's data stores AWS Backup can protect: tables, file systems, databases, and the
    buckets that are not a log target (of other buckets' access logs or of a trail)."""
    all_buckets = buckets(resources)
    logs = (
        log_targets(resources, all_buckets)
        | trail_targets(resources, all_buckets)
        | report_targets(resources, all_buckets)
    )
    stores = [b for urn, b in all_buckets.items() if urn not in logs]
    stores += of_types(resources, STATEFUL_TYPES)
    return stores


REPLICATION_TYPES = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)


def _destination_arns(config: PolicyResource) -> list[str]:
    return [
        text(get(rule, "destination", "bucket"))
        for rule in as_list(config.props.get("rules"))
        if text(get(rule, "status")) == "Enabled"
    ]


def replication_links(
    resources: list[PolicyResource],
) -> list[tuple[PolicyResource, list[PolicyResource], PolicyResource]]:
    """(source bucket, destination buckets of this stack, the configuration) per S3 replication
    configuration. A destination is linked by property dependency of `rules` (a bucket the
    program created) or by its ARN; an ARN of no bucket here leaves the list empty."""
    targets = buckets(resources)
    found: list[tuple[PolicyResource, list[PolicyResource], PolicyResource]] = []
    for config in of_types(resources, REPLICATION_TYPES):
        sources = linked(config, "bucket", targets, lambda b: known_names(b, ("bucket", "id")))
        deps = config.property_dependencies.get("rules") or []
        destinations = [targets[d.urn] for d in deps if d.urn in targets]
        if not destinations:
            arns = set(_destination_arns(config))
            destinations = [b for b in targets.values() if known_names(b, ("arn",)) & arns]
        found.extend((source, destinations, config) for source in sources)
    return found


def replica_targets(resources: list[PolicyResource]) -> set[str]:
    """URNs of the buckets of this stack that receive another bucket's S3 replication."""
    return {d.urn for _, dests, _ in replication_links(resources) for d in dests}


def uncovered(resources: Iterable[PolicyResource]) -> list[PolicyResource]:
    """The stack's data stores no AWS Backup selection in the stack picks. A replication
    destination is left out: it is the copy of a store that is itself selected, in another
    region, where a plan of this region could not back it up anyway."""
    resources = list(resources)
    selections = of_types(resources, (SELECTION,))
    replicas = replica_targets(resources)
    return [
        store
        for store in data_stores(resources)
        if store.urn not in replicas
        and not any(selects(s, store, _tags(store)) for s in selections)
    ]


def _store_label(resource: PolicyResource) -> str:
    kind = {
        TABLE: "DynamoDB table",
        EFS: "EFS file system",
        RDS_INSTANCE: "RDS instance",
        RDS_CLUSTER: "RDS cluster",
        EKS_CLUSTER: "EKS cluster",
    }.get(resource.resource_type, "S3 bucket")
    return f"{kind} '{resource.name}'"


# -- backup-covers-data-stores --------------------------------------------------------------


def validate_backup_coverage(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for store in uncovered(args.resources):
        report(
            f"{_store_label(store)} is in no AWS Backup selection of this stack "
            "(resources ARN patterns and tag conditions, as AWS Backup matches them).",
            store.urn,
        )


# -- backup-vault-cmk -----------------------------------------------------------------------


def validate_vault_cmk(args: Any, report: ReportViolation, settings: Settings) -> None:
    if not is_customer_managed_key(args.props.get("kmsKeyArn")):
        report(
            f"Backup vault '{args.name}' is encrypted with the AWS-managed key "
            "(kmsKeyArn names no customer-managed key).",
            None,
        )


# -- backup-vault-compliance-lock -----------------------------------------------------------


def validate_vault_lock(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    locks = of_types(resources, (VAULT_LOCK,))
    for vault in of_types(resources, (VAULT,)):
        names = {n for n in (vault.props.get("name"), vault.props.get("id")) if isinstance(n, str)}
        mine = [lock for lock in locks if text(lock.props.get("backupVaultName")) in names]
        if not names and locks:
            continue  # an unknown vault name cannot be matched; a lock exists
        if not any(as_int(lock.props.get("changeableForDays")) is not None for lock in mine):
            found = " (governance mode: no changeableForDays)" if mine else ""
            report(
                f"Backup vault '{vault.name}' has no compliance-mode vault lock{found}.",
                vault.urn,
            )


# -- backup-copies-out-of-region ------------------------------------------------------------

PLAN = "aws:backup/plan:Plan"


def _stack_region(resource: PolicyResource) -> str | None:
    provider = resource.provider
    region = provider.props.get("region") if provider is not None else None
    return region if isinstance(region, str) and region else None


def _vault_region(arn: Any) -> str | None:
    parts = split_arn(arn) if isinstance(arn, str) else None
    return parts[3] if parts is not None and parts[3] else None


def validate_copies_out_of_region(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for plan in of_types(list(args.resources), (PLAN,)):
        home = plan.props.get("region") or _stack_region(plan)
        for rule in as_list(plan.props.get("rules")):
            regions = [
                _vault_region(get(copy, "destinationVaultArn"))
                for copy in as_list(get(rule, "copyActions"))
            ]
            # an unknown destination (a vault created by this update) is a copy we cannot place
            if any(r is None or r != home for r in regions):
                continue
            where = f" (only to {home})" if regions else ""
            report(
                f"Backup plan '{plan.name}' rule '{text(get(rule, 'ruleName'))}' copies no "
                f"recovery point to another region{where}.",
                plan.urn,
            )


# -- artifact-bucket-replicated --------------------------------------------------------------


def _bucket_region(bucket: PolicyResource) -> str | None:
    region = bucket.props.get("region")
    return region if isinstance(region, str) and region else _stack_region(bucket)


def validate_artifacts_replicated(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    links = replication_links(resources)
    for urn, bucket in artifact_buckets(resources).items():
        home = _bucket_region(bucket)
        mine = [(dests, config) for source, dests, config in links if source.urn == urn]
        enabled = [(d, c) for d, c in mine if _destination_arns(c)]
        if not enabled:
            report(
                f"Model artifact bucket '{bucket.name}' is replicated nowhere (no enabled S3 "
                "replication rule).",
                urn,
            )
            continue
        # a destination outside this stack (another account's bucket) cannot be placed: trust it
        if all(dests and all(_bucket_region(d) == home for d in dests) for dests, _ in enabled):
            report(
                f"Model artifact bucket '{bucket.name}' is replicated only within {home}.",
                urn,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="backup-covers-data-stores",
        title="Data stores are in an AWS Backup selection",
        description="Every table, data bucket, file system, database and EKS cluster is selected "
        "by an AWS Backup plan of its stack.",
        severity="high",
        enforcement=BLOCK_IN_PROD,
        remediation="Keep `ai-estate:backup.enabled: true` (the default); a hand-written program "
        "adds an aws.backup.Selection whose `resources` name the store (ARN or pattern) and "
        "whose tag conditions it meets.",
        kind="stack",
        validate=validate_backup_coverage,
        frameworks=(securityhub("DynamoDB.4"), securityhub("EFS.2"), securityhub("RDS.26")),
        domain="backup",
        rationale="PITR (35 days) and versioning do not survive the deletion of the table or "
        "bucket itself, a compromised deployer or a regional outage; recovery points in a "
        "locked vault do. Access-log buckets are logs of other buckets, not data, and are left "
        "out. Security Hub asks the same of tables (DynamoDB.4), file systems (EFS.2) and "
        "databases (RDS.26); it has no such control for S3. An EKS cluster holds state no "
        "other backup has (secrets, config maps, CRDs, RBAC, PVC bindings, the volumes behind "
        "them); AWS Backup backs it up as one composite recovery point once its ARN is in a "
        "selection (the shared cluster in the platform stack, under the platform key; a "
        "dedicated one in its BU's selection).",
    ),
    Rule(
        id="backup-copies-out-of-region",
        title="Prod backups are copied to another region",
        description="Every rule of a prod AWS Backup plan copies its recovery points to a vault "
        "in another region.",
        severity="high",
        enforcement=PROD_ONLY,
        remediation="Set `ai-estate:backup.drRegion` (BuBackup adds the copy and a DR vault under "
        "a key of its own there); where data residency forbids a second region, waive this rule "
        "with the reason.",
        kind="stack",
        validate=validate_copies_out_of_region,
        domain="backup",
        rationale="Recovery points in the same region as the data fail with it; a copy in "
        "another region is what turns a regional outage into a restore.",
    ),
    Rule(
        id="artifact-bucket-replicated",
        title="Prod model artifacts are replicated to another region",
        description="Every prod model artifact bucket (Purpose=model-artifacts, or an MLflow "
        "artifact store) has an enabled S3 replication rule to a bucket in another region.",
        severity="high",
        enforcement=PROD_ONLY,
        remediation="Set `ai-estate:backup.drRegion` on the BU stack: BuEstate then replicates "
        "the artifact bucket to a versioned, encrypted replica there (ArtifactReplication). A "
        "hand-written program adds an aws.s3.BucketReplicationConfig whose destination bucket "
        "is in another region.",
        kind="stack",
        validate=validate_artifacts_replicated,
        frameworks=(securityhub("S3.7"),),
        domain="backup",
        rationale="A deployment pulls the approved model from the artifact bucket; in a "
        "regional outage, restoring from AWS Backup takes hours, a replica is already there. "
        "Security Hub S3.7 asks general purpose buckets for cross-region replication.",
    ),
    Rule(
        id="backup-vault-cmk",
        title="Backup vaults use a customer-managed key",
        description="Every AWS Backup vault encrypts recovery points with a customer-managed KMS "
        "key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set `kms_key_arn` on the aws.backup.Vault to the BU's key (BuBackup does).",
        kind="resource",
        validate=validate_vault_cmk,
        resource_types=frozenset({VAULT}),
        domain="backup",
        rationale="With the AWS-managed key anyone with backup:StartRestoreJob in the account "
        "can restore the BU's data; the BU key's policy keeps other BUs out.",
    ),
    Rule(
        id="backup-vault-compliance-lock",
        title="Prod backup vaults are locked in compliance mode",
        description="Every prod AWS Backup vault has a vault lock with changeableForDays set "
        "(compliance mode).",
        severity="high",
        enforcement=PROD_ONLY,
        remediation="Add an aws.backup.VaultLockConfiguration with `changeable_for_days` (3 or "
        "more) and `min_retention_days`; BuBackup does this in prod.",
        kind="stack",
        validate=validate_vault_lock,
        domain="backup",
        rationale="A governance-mode lock can be lifted by anyone with the permission to remove "
        "it, so a compromised deployer can still delete every recovery point; after the grace "
        "period a compliance-mode lock cannot be removed by anyone.",
    ),
)
