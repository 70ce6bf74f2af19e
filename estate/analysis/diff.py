"""The data-loss guard: what a change would do to a stack's resources, before anyone runs it.

`estate check --base REF` renders every stack at git REF and in the working tree and compares
the two inventories. Pulumi deletes a resource whose URN disappears (unless an alias carries it
to its new URN) and replaces one whose create-only properties change; for anything that holds
data, either means the data is gone. Those are mandatory findings, and so is a stateful resource
losing `protect`, and a Glue Schema Registry schema (a feature group's, `components/data_quality.py`)
whose new definition breaks its compatibility mode (`estate.analysis.schema_compat`): readers of
the offline store would fail on records already written. That one is a reviewed decision, so a
stack file may waive it (`ai-estate:waivers`, policy `feature-schema-incompatible`). Everything else is reported as added / removed / changed for the reviewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from estate.offline.model import Finding, Inventory, Resource

#: Resource types that hold data (or, for keys, the means to read it).
STATEFUL_TYPES: frozenset[str] = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:efs/fileSystem:FileSystem",
        "aws:eks/cluster:Cluster",
        "aws:amp/workspace:Workspace",
        "aws:opensearch/domain:Domain",
        "aws:elasticache/replicationGroup:ReplicationGroup",
    }
)

#: Create-only inputs whose change makes Pulumi replace (delete + create) the resource. Taken
#: from the AWS APIs (no update call exists for these) for the stateful types above.
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:dynamodb/table:Table": ("name", "hashKey", "rangeKey", "localSecondaryIndexes"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId"),
    "aws:ecr/repository:Repository": ("name",),
    "aws:sagemaker/featureGroup:FeatureGroup": (
        "featureGroupName",
        "recordIdentifierFeatureName",
        "eventTimeFeatureName",
        "offlineStoreConfig",
        "onlineStoreConfig",
    ),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("modelPackageGroupName",),
    "aws:glue/catalogDatabase:CatalogDatabase": ("name", "catalogId"),
    "aws:rds/instance:Instance": ("identifier", "engine", "storageEncrypted", "kmsKeyId"),
    "aws:rds/cluster:Cluster": ("clusterIdentifier", "engine", "storageEncrypted", "kmsKeyId"),
    "aws:efs/fileSystem:FileSystem": ("encrypted", "kmsKeyId", "performanceMode"),
    "aws:eks/cluster:Cluster": ("name", "roleArn"),
}

DELETE_POLICY = "data-loss-delete"
REPLACE_POLICY = "data-loss-replace"
UNPROTECT_POLICY = "data-loss-unprotect"
SCHEMA_POLICY = "feature-schema-incompatible"
"""A schema change Glue's compatibility mode refuses; waivable (see `policies/governance/waiver_rules.py`)."""

SCHEMA_TYPE = "aws:glue/schema:Schema"


@dataclass
class ResourceChange:
    """One resource in the diff."""

    urn: str
    type: str
    name: str
    change: str
    """added | removed | moved | changed | replaced"""
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "change": self.change,
            "detail": self.detail,
        }


@dataclass
class InventoryDiff:
    """What `pulumi up` would do to one stack, resource by resource."""

    stack: str
    changes: list[ResourceChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "summary": {
                k: self.count(k) for k in ("added", "removed", "moved", "changed", "replaced")
            },
            "changes": [c.to_json() for c in self.changes],
        }


def _changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _finding(
    stack: str,
    policy: str,
    r: Resource,
    message: str,
    severity: str,
    description: str = "Changes must not delete, replace or unprotect resources that hold data.",
) -> Finding:
    return Finding(
        stack=stack,
        policy=policy,
        message=message,
        enforcement="mandatory",
        severity=severity,
        urn=r.urn,
        resource_type=r.type,
        resource_name=r.name,
        description=description,
        pack="estate-data-loss-guard",
    )


def diff_inventories(
    stack: str, before: Inventory | None, after: Inventory | None
) -> InventoryDiff:
    """Compare a stack at the base ref with the working tree (None: the stack does not exist)."""
    diff = InventoryDiff(stack=stack)
    old = {r.urn: r for r in (before.resources if before else [])}
    new = {r.urn: r for r in (after.resources if after else [])}
    moved_from = {alias: r for r in new.values() for alias in r.aliases if alias in old}

    for urn, r in sorted(old.items()):
        if urn in new:
            continue
        if urn in moved_from:
            target = moved_from[urn]
            diff.changes.append(
                ResourceChange(target.urn, r.type, r.name, "moved", f"from {urn} (alias)")
            )
            continue
        diff.changes.append(ResourceChange(urn, r.type, r.name, "removed"))
        if r.type in STATEFUL_TYPES:
            if r.protect:
                diff.findings.append(
                    _finding(
                        stack,
                        DELETE_POLICY,
                        r,
                        f"would delete protected {r.type} '{r.name}' ({urn}): `pulumi up` will "
                        "refuse. If the data really must go, remove `protect` in one reviewed "
                        "change and the resource in a later one; if it was renamed, add an alias.",
                        "critical",
                    )
                )
                continue
            if r.retain_on_delete:
                continue  # Pulumi forgets it; AWS keeps it and its data.
            diff.findings.append(
                _finding(
                    stack,
                    DELETE_POLICY,
                    r,
                    f"would delete {r.type} '{r.name}' ({urn}): its URN disappears and no "
                    "resource carries it as an alias. Keep the logical name and parent, or add "
                    "`aliases=[...]` to the new resource.",
                    "critical",
                )
            )

    for urn, r in sorted(new.items()):
        # A resource moved by an alias is compared with what it was: a rename that changes a
        # create-only input (a table's AWS name) still replaces it.
        prior = old.get(urn) or next((old[a] for a in r.aliases if a in old), None)
        if prior is None:
            diff.changes.append(ResourceChange(urn, r.type, r.name, "added"))
            continue
        keys = _changed_keys(prior.inputs, r.inputs)
        create_only = [k for k in keys if k in REPLACE_ON_CHANGE.get(r.type, ())]
        if create_only:
            diff.changes.append(
                ResourceChange(urn, r.type, r.name, "replaced", ", ".join(create_only))
            )
            if r.type in STATEFUL_TYPES:
                diff.findings.append(
                    _finding(
                        stack,
                        REPLACE_POLICY,
                        r,
                        f"would replace {r.type} '{r.name}' (delete, then create): "
                        f"{', '.join(create_only)} cannot change in place. Revert the change, "
                        "or migrate the data to a new resource first.",
                        "critical",
                    )
                )
        elif keys or prior.protect != r.protect:
            diff.changes.append(
                ResourceChange(urn, r.type, r.name, "changed", ", ".join(keys) or "options")
            )
            if r.type == SCHEMA_TYPE and "schemaDefinition" in keys:
                diff.findings.extend(_schema_findings(stack, prior, r))
        if r.type in STATEFUL_TYPES and prior.protect and not r.protect:
            diff.findings.append(
                _finding(
                    stack,
                    UNPROTECT_POLICY,
                    r,
                    f"would remove `protect` from {r.type} '{r.name}': the next mistaken "
                    "delete or replace would go through. Keep protect on data stores.",
                    "high",
                )
            )
    return diff


def _schema_findings(stack: str, prior: Resource, r: Resource) -> list[Finding]:
    """A breaking change of a registry schema's definition, naming the schema and each field."""
    from estate.analysis.schema_compat import incompatibilities

    old, new = prior.inputs.get("schemaDefinition"), r.inputs.get("schemaDefinition")
    mode = str(r.inputs.get("compatibility") or "BACKWARD")
    if str(r.inputs.get("dataFormat") or "AVRO").upper() != "AVRO":
        return []  # JSON and PROTOBUF schemas: Glue's own rules, not judged here
    if not isinstance(old, str) or not isinstance(new, str):
        return []  # unknown until deploy: nothing to compare
    try:
        problems = incompatibilities(old, new, mode)
    except ValueError as exc:
        problems = [str(exc)]
    if not problems:
        return []
    schema = r.inputs.get("schemaName") or r.name
    message = (
        f"feature group schema '{schema}' ({mode}): {'; '.join(problems)}. Glue will not register "
        "this as a new version and readers on it could not read the records already written. "
        "Keep the field and add the new one under a new name (nullable, with a default), or "
        "publish a new feature group (a new schema) and migrate readers; if the break is "
        f"intended, waive `{SCHEMA_POLICY}` for '{r.name}' in ai-estate:waivers after review."
    )
    return [
        _finding(
            stack,
            SCHEMA_POLICY,
            r,
            message,
            "high",
            description=(
                "A feature schema change must keep the schema's Glue compatibility mode "
                "(BACKWARD: the new schema reads every record written with the old one)."
            ),
        )
    ]
