"""Data quality rules: every prod feature group's offline table has a Glue Data Quality ruleset.

A feature group's offline store is the training set of the next model. A ruleset whose
`targetTable` names the group's offline Glue table (`offlineStoreConfig.dataCatalogConfig`) is
what lets a scheduled evaluation catch incomplete record ids, duplicate versions, stale data and
out-of-range values before a model is trained on them (Glue Data Quality, "Data Quality for the
Data Catalog"). Online-only groups have no offline table and are not judged.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from .catalog import PROD_ONLY, Rule, Settings
from .linking import of_types
from .properties import get, text

FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
RULESET = "aws:glue/dataQualityRuleset:DataQualityRuleset"


def _offline_table(group) -> tuple[str | None, str | None] | None:
    """(database, table) of a group's offline store; None for an online-only group."""
    offline = group.props.get("offlineStoreConfig")
    if not offline:
        return None
    catalog = get(offline, "dataCatalogConfig")
    return text(get(catalog, "database")), text(get(catalog, "tableName"))


def validate_ruleset_per_feature_group(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = set()
    for ruleset in of_types(resources, (RULESET,)):
        target = ruleset.props.get("targetTable")
        targets.add((text(get(target, "databaseName")), text(get(target, "tableName"))))
    for group in of_types(resources, (FEATURE_GROUP,)):
        table = _offline_table(group)
        if table is None:
            continue
        database, name = table
        if name is None:
            continue  # SageMaker names the table only at create time: nothing to match yet
        if any(t == name and (database is None or d in (None, database)) for d, t in targets):
            continue
        report(
            f"Feature group '{group.name}' has no Glue Data Quality ruleset on its offline table "
            f"'{database}.{name}'.",
            group.urn,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="dq-ruleset-per-feature-group",
        title="Prod feature groups have a Data Quality ruleset",
        description="Every prod SageMaker feature group with an offline store has an "
        "aws.glue.DataQualityRuleset whose targetTable is its offline Glue table.",
        severity="medium",
        enforcement=PROD_ONLY,
        remediation="Keep `ai-estate:dataQuality.enabled: true` (the default: FeatureDataQuality "
        "adds a ruleset per offline group and evaluates it on a schedule); a hand-written "
        "program adds an aws.glue.DataQualityRuleset with `target_table` naming the group's "
        "`offline_store_config.data_catalog_config` database and table.",
        kind="stack",
        validate=validate_ruleset_per_feature_group,
        domain="data",
        rationale="The offline store is the next model's training set; without checks on "
        "completeness, duplicates, freshness and ranges, bad data reaches a model silently.",
    ),
)
