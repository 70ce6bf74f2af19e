"""A small Lake Formation evaluator: who may SELECT or DESCRIBE which table, down to columns.

It reads a rendered inventory (LF-tags on databases and tables, grants by LF-tag expression, by
name and through data cells filters) and answers the questions the isolation proof asks. It
follows the Lake Formation developer guide:

- "LF-tags" / "Managing LF-Tag value conflicts": a table inherits its database's LF-tags; a tag
  assigned on the table itself overrides the inherited value of the same key.
- "Granting data lake permissions using the LBAC method": an LF-tag expression is an AND of its
  keys, each matching any of its values; a grant on `resourceType` TABLE reaches every table
  whose (effective) tags satisfy it, DATABASE every such database.
- "Data filtering and cell-level security": SELECT through a data cells filter reaches the
  filter's columns only (`columnNames`, or every column but `columnWildcard.excludedColumnNames`)
  and its rows; grants add up (a principal sees the union of what its grants reach).

Out of scope: row filter expressions (the estate's filters keep all rows), grant options,
cross-account grants and named-resource grants with column lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from estate.offline.model import Inventory

PERMISSIONS = "aws:lakeformation/permissions:Permissions"
RESOURCE_LF_TAGS = "aws:lakeformation/resourceLfTags:ResourceLfTags"
CELLS_FILTER = "aws:lakeformation/dataCellsFilter:DataCellsFilter"
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"

OFFLINE_STORE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")
"""Columns SageMaker Feature Store adds to every offline store table."""


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    principal: str
    permissions: frozenset[str]
    resource_type: str = ""
    """`DATABASE` or `TABLE` for a tag-policy grant; empty otherwise."""
    expressions: tuple[tuple[str, frozenset[str]], ...] = ()
    database: str = ""
    table: str = ""
    cells_filter: str = ""
    """The data cells filter a SELECT goes through (with `database` and `table`)."""


@dataclass
class LakeFormation:
    """What one or more rendered stacks tell Lake Formation."""

    database_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    table_tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    filters: dict[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)
    """(database, table, name) -> the filter's `tableData`."""

    def tags_of(self, database: str, table: str | None = None) -> dict[str, str]:
        """Effective LF-tags: the database's, overridden key by key by the table's own."""
        tags = dict(self.database_tags.get(database, {}))
        if table is not None:
            tags.update(self.table_tags.get((database, table), {}))
        return tags

    def _matches(self, grant: Grant, tags: Mapping[str, str]) -> bool:
        return all(tags.get(key) in values for key, values in grant.expressions)

    def describes(self, principal: str, database: str, table: str | None = None) -> bool:
        """Whether `principal` may DESCRIBE the database (or table)."""
        kind = "TABLE" if table is not None else "DATABASE"
        tags = self.tags_of(database, table)
        for g in self._of(principal):
            if not g.permissions & {"DESCRIBE", "ALL"}:
                continue
            if g.resource_type == kind and self._matches(g, tags):
                return True
            named = not g.resource_type and not g.cells_filter and g.database == database
            if named and (table is None or g.table in ("", table)):
                return True
        return False

    def selectable_columns(self, principal: str, table: Table) -> set[str]:
        """The columns of `table` that `principal` may SELECT (empty: none)."""
        columns: set[str] = set()
        tags = self.tags_of(table.database, table.name)
        for g in self._of(principal):
            if not g.permissions & {"SELECT", "ALL"}:
                continue
            if g.resource_type == "TABLE" and self._matches(g, tags):
                columns |= set(table.columns)
            elif g.cells_filter and (g.database, g.table) == (table.database, table.name):
                spec = self.filters.get((g.database, g.table, g.cells_filter))
                if spec is not None:
                    columns |= _filter_columns(spec, table.columns)
            elif (
                not g.resource_type
                and not g.cells_filter
                and (g.database, g.table) == (table.database, table.name)
            ):
                columns |= set(table.columns)
        return columns

    def _of(self, principal: str) -> Iterable[Grant]:
        return (g for g in self.grants if g.principal == principal)


def _filter_columns(spec: Mapping[str, Any], columns: tuple[str, ...]) -> set[str]:
    named = spec.get("columnNames")
    if named:
        return set(named) & set(columns)
    wildcard = spec.get("columnWildcard")
    if isinstance(wildcard, Mapping):
        return set(columns) - set(wildcard.get("excludedColumnNames") or [])
    return set()


def _tags(lf_tags: Any) -> dict[str, str]:
    return {
        str(t["key"]): str(t["value"])
        for t in lf_tags or []
        if isinstance(t, Mapping) and "key" in t and "value" in t
    }


def from_inventories(*inventories: Inventory) -> LakeFormation:
    """Read LF-tags, tables, grants and filters from rendered stacks."""
    lf = LakeFormation()
    for inventory in inventories:
        for r in inventory.resources:
            if r.type == RESOURCE_LF_TAGS:
                tags = _tags(r.inputs.get("lfTags"))
                if (db := r.inputs.get("database")) is not None:
                    lf.database_tags.setdefault(str(db["name"]), {}).update(tags)
                if (table := r.inputs.get("table")) is not None:
                    named = (str(table["databaseName"]), str(table["name"]))
                    lf.table_tags.setdefault(named, {}).update(tags)
            elif r.type == FEATURE_GROUP:
                catalog = (r.inputs.get("offlineStoreConfig") or {}).get("dataCatalogConfig")
                if catalog:
                    features = tuple(
                        str(f["featureName"]) for f in r.inputs.get("featureDefinitions") or []
                    )
                    lf.tables.append(
                        Table(
                            str(catalog["database"]),
                            str(catalog["tableName"]),
                            (*features, *OFFLINE_STORE_COLUMNS),
                        )
                    )
            elif r.type == CELLS_FILTER:
                data = r.inputs["tableData"]
                key = (str(data["databaseName"]), str(data["tableName"]), str(data["name"]))
                lf.filters[key] = data
            elif r.type == PERMISSIONS:
                lf.grants.append(_grant(r.inputs))
    return lf


def _grant(inputs: Mapping[str, Any]) -> Grant:
    principal = str(inputs["principal"])
    permissions = frozenset(str(p) for p in inputs.get("permissions") or [])
    if policy := inputs.get("lfTagPolicy"):
        return Grant(
            principal,
            permissions,
            resource_type=str(policy["resourceType"]),
            expressions=tuple(
                (str(e["key"]), frozenset(str(v) for v in e.get("values") or []))
                for e in policy.get("expressions") or []
            ),
        )
    if cells := inputs.get("dataCellsFilter"):
        return Grant(
            principal,
            permissions,
            database=str(cells["databaseName"]),
            table=str(cells["tableName"]),
            cells_filter=str(cells["name"]),
        )
    if table := inputs.get("table"):
        return Grant(
            principal,
            permissions,
            database=str(table["databaseName"]),
            table=str(table.get("name") or ""),
        )
    if database := inputs.get("database"):
        return Grant(principal, permissions, database=str(database["name"]))
    return Grant(principal, permissions)  # a data location or catalog grant: no table data


def tag_values(grant: Grant, key: str) -> frozenset[str] | None:
    """The values a tag-policy grant's expression allows for `key` (None: unconstrained)."""
    for k, values in grant.expressions:
        if k == key:
            return values
    return None
