"""Feature schemas and data quality for one BU: a Glue Schema Registry and Glue Data Quality.

- **Schema Registry** `<prefix>-features`: one AVRO schema per feature group, generated from the
  group's feature definitions (`avro_schema`). Compatibility is `BACKWARD` (Glue's default and
  the one that fits a feature store): readers on the newest schema must still read every record
  already in the offline store, so adding an optional feature (nullable, `null` default) or
  removing one is fine, while changing a feature's type (other than an Avro promotion such as
  int -> long) or adding a required one is not. (Renaming the record identifier or event time
  replaces the feature group itself: a `data-loss-replace` finding.)
  `estate check --base` reports such changes as a blocking `feature-schema-incompatible` finding
  (`estate.analysis.diff`, judged by `estate.analysis.schema_compat`), waivable after review.
- **Data Quality**: a ruleset per offline feature group table (`dqdl_ruleset`): the record
  identifier complete, (record identifier, event time) a primary key (the offline store is
  append-only, so one record id legitimately has many versions; a duplicate *version* is the
  defect), the event time fresh within `max_event_lag_hours`, and each feature's declared range
  and allowed values.
- **Schedule**: an EventBridge Scheduler schedule per ruleset calls the universal target
  `glue:startDataQualityRulesetEvaluationRun` with CloudWatch metrics on; the scheduler's role
  may only start runs of these rulesets and pass the evaluation role, which reads the offline
  table (Glue catalog, bucket objects, the BU key) and nothing else.
- **Results**: every finished evaluation emits the EventBridge event `Data Quality Evaluation
  Results Available` (source `aws.glue-dataquality`, detail `state`, `score`, `rulesetNames`,
  `context`, `resultID`, `rulesFailed`). `dq_failure_pattern` matches the FAILED results of this
  BU's rulesets only; `BuMonitoring` routes them to the BU's alarm topic and graphs them. The
  runs also publish `glue.data.quality.rules.passed`/`failed` in the CloudWatch namespace
  `Glue Data Quality` (`CloudWatchMetricsEnabled` above), which the dashboard searches.

DQDL reference: https://docs.aws.amazon.com/glue/latest/dg/dqdl.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from .feature_store import OFFLINE_PREFIX, FeatureGroupSpec, kept_name
from .iam import account_region_partition, policy_json, service_trust_policy
from .options import child

SCHEMA_COMPATIBILITY = "BACKWARD"
"""Glue Schema Registry compatibility of every feature schema (see the module docstring)."""

START_RUN_TARGET = "arn:aws:scheduler:::aws-sdk:glue:startDataQualityRulesetEvaluationRun"
"""EventBridge Scheduler's universal target for Glue's StartDataQualityRulesetEvaluationRun."""

DQ_EVENT_SOURCE = "aws.glue-dataquality"
"""EventBridge source of Glue Data Quality's events (EventBridge events reference)."""

DQ_RESULTS_DETAIL_TYPE = "Data Quality Evaluation Results Available"
"""Detail type of the event Glue emits when a ruleset evaluation finishes."""

DQ_METRIC_NAMESPACE = "Glue Data Quality"
DQ_RULES_FAILED_METRIC = "glue.data.quality.rules.failed"
DQ_RULES_PASSED_METRIC = "glue.data.quality.rules.passed"
"""Per-run CloudWatch metrics of an evaluation with CloudWatch metrics on."""

AVRO_TYPES = {"Integral": "long", "Fractional": "double", "String": "string"}
"""SageMaker feature type -> AVRO primitive type."""


def registry_name(prefix: str) -> str:
    """`fraud-prod-features`: the BU's Glue Schema Registry."""
    return f"{prefix}-features"


def ruleset_name(prefix: str, group: str) -> str:
    """`fraud-prod-transactions-dq`: a feature group's Data Quality ruleset."""
    return f"{prefix}-{group}-dq"


def evaluated_rulesets(prefix: str, groups: list[FeatureGroupSpec], evaluate: bool) -> list[str]:
    """The names of the rulesets `FeatureDataQuality` evaluates on its schedules: one per offline
    group when evaluation is on, none otherwise."""
    if not evaluate:
        return []
    return [ruleset_name(prefix, kept_name(g)) for g in groups if g["offline"]]


def dq_failure_pattern(rulesets: list[str]) -> dict[str, Any]:
    """EventBridge pattern of the FAILED evaluation results of `rulesets` (and of no other BU's:
    ruleset names carry the `<bu>-<env>` prefix). `rulesetNames` is an array in the event, which
    EventBridge matches when any element is listed. A result counts as failed when its `state`
    is FAILED or any rule failed (`rulesFailed` > 0, EventBridge numeric and `$or` matching):
    the documented samples show the counts, so the pattern does not rest on `state` alone."""
    return {
        "source": [DQ_EVENT_SOURCE],
        "detail-type": [DQ_RESULTS_DETAIL_TYPE],
        "detail": {
            "rulesetNames": sorted(rulesets),
            "$or": [{"state": ["FAILED"]}, {"rulesFailed": [{"numeric": [">", 0]}]}],
        },
    }


DQ_FAILURE_INPUT_PATHS = {
    "ruleset": "$.detail.rulesetNames[0]",
    "score": "$.detail.score",
    "failed": "$.detail.rulesFailed",
    "database": "$.detail.context.databaseName",
    "table": "$.detail.context.tableName",
    "result": "$.detail.resultID",
}
"""What the alarm topic's message names of a FAILED result (EventBridge input transformer paths;
array indices are supported syntax)."""

DQ_FAILURE_INPUT_TEMPLATE = (
    '"Data quality FAILED: ruleset <ruleset> on <database>.<table> scored <score> '
    '(<failed> rules failed). Details: aws glue get-data-quality-result --result-id <result>"'
)
"""The message (a JSON string, as EventBridge requires of a template that is not an object)."""


def offline_table_name(prefix: str, group: str) -> str:
    """The Glue table SageMaker catalogues a group's offline store in (feature_store.py)."""
    return f"{prefix}-{group}".replace("-", "_")


def avro_schema(prefix: str, group: FeatureGroupSpec) -> str:
    """The group's AVRO record schema: the record identifier and event time required, every
    other feature optional (a nullable union with a null default, as SageMaker may omit it)."""
    keys = {group["record_identifier"], group["event_time"]}
    fields: list[dict[str, Any]] = []
    for feature in group["features"]:
        avro_type = AVRO_TYPES[feature["type"]]
        if feature["name"] in keys:
            fields.append({"name": feature["name"], "type": avro_type})
        else:
            fields.append({"name": feature["name"], "type": ["null", avro_type], "default": None})
    return json.dumps(
        {
            "type": "record",
            "name": offline_table_name(prefix, kept_name(group)),
            "namespace": "estate.features",
            "doc": group["description"] or f"Feature group {prefix}-{kept_name(group)}",
            "fields": fields,
        },
        sort_keys=True,
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def dqdl_ruleset(group: FeatureGroupSpec, max_event_lag_hours: int) -> str:
    """The group's DQDL ruleset (`Rules = [ ... ]`)."""
    rid, event_time = group["record_identifier"], group["event_time"]
    types = {f["name"]: f["type"] for f in group["features"]}
    seconds = max_event_lag_hours * 3600
    if types[event_time] == "Fractional":
        epoch = event_time
    else:
        epoch = f"unix_timestamp(to_timestamp({event_time}))"
    rules = [
        f"IsComplete {_quote(rid)}",
        f"IsPrimaryKey {_quote(rid)} {_quote(event_time)}",
        f"IsComplete {_quote(event_time)}",
        "CustomSql "
        + _quote(f"select count(*) from primary where {epoch} >= unix_timestamp() - {seconds}")
        + " > 0",
    ]
    for feature in group["features"]:
        low, high = feature.get("min"), feature.get("max")
        col = _quote(feature["name"])
        if low is not None and high is not None:
            rules.append(f"ColumnValues {col} between {_number(low)} and {_number(high)}")
        elif low is not None:
            rules.append(f"ColumnValues {col} >= {_number(low)}")
        elif high is not None:
            rules.append(f"ColumnValues {col} <= {_number(high)}")
        allowed = feature.get("allowed_values")
        if allowed:
            rules.append(f"ColumnValues {col} in [{', '.join(_quote(v) for v in allowed)}]")
    return "Rules = [\n    " + ",\n    ".join(rules) + "\n]"


class DataQualitySettings(TypedDict):
    """The BU's data quality settings (`ai-estate:dataQuality`)."""

    schedule: str
    """When each ruleset is evaluated (EventBridge Scheduler expression, UTC)."""
    max_event_lag_hours: int
    """The newest record of each group must be at most this many hours old."""
    number_of_workers: int
    """G.1X workers per evaluation run."""


class FeatureDataQualityArgs(DataQualitySettings):
    """Inputs of `FeatureDataQuality`."""

    name_prefix: str
    """`<bu>-<env>`: prefix of every physical name."""
    feature_groups: list[FeatureGroupSpec]
    """The BU's feature groups (from the feature store settings)."""
    glue_database_name: pulumi.Input[str]
    """The offline store's Glue database."""
    evaluate: bool
    """Build the rulesets and their schedules (False: the schema registry only)."""
    offline_bucket_name: pulumi.Input[str]
    """The offline store's bucket (the evaluation role reads it)."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: the offline objects are encrypted with it."""
    tags: dict[str, str]


def data_quality_role_name(prefix: str) -> str:
    """`fraud-prod-data-quality`: the role Glue evaluates rulesets as (the data buckets allow it)."""
    return f"{prefix}-data-quality"


class FeatureDataQuality(pulumi.ComponentResource):
    """Schema registry, schemas, DQ rulesets and their schedules for one BU."""

    registry_arn: pulumi.Output[str]
    schema_arns: dict[str, pulumi.Output[str]]
    ruleset_names: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        args: FeatureDataQualityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ai-estate:data:FeatureDataQuality", name, None, opts)
        prefix, tags = args["name_prefix"], args["tags"]
        account, region, partition = account_region_partition(self)
        registry = aws.glue.Registry(
            f"{name}-registry",
            registry_name=registry_name(prefix),
            description=f"Feature schemas of {prefix}",
            tags=tags,
            opts=child(self),
        )
        self.registry_arn = registry.arn
        self.schema_arns = {}
        for group in args["feature_groups"]:
            schema = aws.glue.Schema(
                f"{name}-{kept_name(group)}-schema",
                schema_name=f"{prefix}-{kept_name(group)}",
                registry_arn=registry.arn,
                data_format="AVRO",
                compatibility=SCHEMA_COMPATIBILITY,
                schema_definition=avro_schema(prefix, group),
                description=f"Features of {prefix}-{kept_name(group)}",
                tags=tags,
                opts=child(self),
            )
            self.schema_arns[group["name"]] = schema.arn

        names = evaluated_rulesets(prefix, args["feature_groups"], args["evaluate"])
        offline = [g for g in args["feature_groups"] if ruleset_name(prefix, kept_name(g)) in names]
        self.ruleset_names = {}
        if not offline:
            self.register_outputs({"registryArn": self.registry_arn})
            return
        database = pulumi.Output.from_input(args["glue_database_name"])
        rulesets: dict[str, aws.glue.DataQualityRuleset] = {}
        for group in offline:
            rulesets[kept_name(group)] = aws.glue.DataQualityRuleset(
                f"{name}-{kept_name(group)}-dq",
                name=ruleset_name(prefix, kept_name(group)),
                description=f"Quality of the offline store of {prefix}-{kept_name(group)}",
                ruleset=dqdl_ruleset(group, args["max_event_lag_hours"]),
                target_table=aws.glue.DataQualityRulesetTargetTableArgs(
                    database_name=database,
                    table_name=offline_table_name(prefix, kept_name(group)),
                ),
                tags=tags,
                opts=child(self),
            )
            self.ruleset_names[group["name"]] = rulesets[kept_name(group)].name

        evaluator = aws.iam.Role(
            f"{name}-evaluator",
            name=data_quality_role_name(prefix),
            assume_role_policy=service_trust_policy("glue.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-evaluator-policy",
            role=evaluator.id,
            policy=pulumi.Output.all(
                account,
                region,
                partition,
                database,
                args["offline_bucket_name"],
                args["kms_key_arn"],
            ).apply(lambda p: _evaluator_policy(*p, prefix=prefix)),
            opts=child(self),
        )
        scheduler = aws.iam.Role(
            f"{name}-scheduler",
            name=f"{prefix}-dq-scheduler",
            assume_role_policy=service_trust_policy("scheduler.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=scheduler.id,
            policy=pulumi.Output.all(account, region, partition, evaluator.arn).apply(
                lambda p: _scheduler_policy(
                    *p, rulesets=[ruleset_name(prefix, kept_name(g)) for g in offline]
                )
            ),
            opts=child(self),
        )
        for group in offline:
            aws.scheduler.Schedule(
                f"{name}-{kept_name(group)}-run",
                name=f"{prefix}-{kept_name(group)}-dq",
                description=f"Evaluate {ruleset_name(prefix, kept_name(group))}",
                schedule_expression=args["schedule"],
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                    mode="FLEXIBLE", maximum_window_in_minutes=60
                ),
                kms_key_arn=args["kms_key_arn"],
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=START_RUN_TARGET,
                    role_arn=scheduler.arn,
                    input=pulumi.Output.all(database, evaluator.arn).apply(
                        _run_input(prefix, kept_name(group), args["number_of_workers"])
                    ),
                ),
                opts=child(self, depends_on=[rulesets[kept_name(group)]]),
            )
        self.register_outputs({"registryArn": self.registry_arn})


def _run_input(prefix: str, group: str, workers: int) -> Callable[[list[Any]], str]:
    """The StartDataQualityRulesetEvaluationRun request of one group's schedule."""

    def render(p: list[Any]) -> str:
        return json.dumps(
            {
                "DataSource": {
                    "GlueTable": {
                        "DatabaseName": p[0],
                        "TableName": offline_table_name(prefix, group),
                    }
                },
                "Role": p[1],
                "RulesetNames": [ruleset_name(prefix, group)],
                "NumberOfWorkers": workers,
                "AdditionalRunOptions": {"CloudWatchMetricsEnabled": True},
            },
            sort_keys=True,
        )

    return render


def _evaluator_policy(
    account: str,
    region: str,
    partition: str,
    database: str,
    bucket: str,
    key_arn: str,
    *,
    prefix: str,
) -> str:
    glue = f"arn:{partition}:glue:{region}:{account}"
    return policy_json(
        [
            {
                "Sid": "ReadOfflineTables",
                "Effect": "Allow",
                "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                "Resource": [
                    f"{glue}:catalog",
                    f"{glue}:database/{database}",
                    f"{glue}:table/{database}/*",
                ],
            },
            {
                "Sid": "PublishResults",
                "Effect": "Allow",
                "Action": ["glue:PublishDataQuality", "glue:GetDataQualityRuleset"],
                "Resource": f"{glue}:dataQualityRuleset/{prefix}-*",
            },
            {
                "Sid": "ReadOfflineObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [
                    f"arn:{partition}:s3:::{bucket}",
                    f"arn:{partition}:s3:::{bucket}/{OFFLINE_PREFIX}*",
                ],
            },
            {
                "Sid": "DecryptOfflineObjects",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
            },
        ]
    )


def _scheduler_policy(
    account: str, region: str, partition: str, evaluator_arn: str, *, rulesets: list[str]
) -> str:
    glue = f"arn:{partition}:glue:{region}:{account}"
    return policy_json(
        [
            {
                "Sid": "StartRulesetRuns",
                "Effect": "Allow",
                "Action": "glue:StartDataQualityRulesetEvaluationRun",
                "Resource": [f"{glue}:dataQualityRuleset/{r}" for r in rulesets],
            },
            {
                "Sid": "PassEvaluatorRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": evaluator_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
            },
        ]
    )
