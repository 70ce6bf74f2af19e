"""Feature schemas and Glue Data Quality of the shipped BU stacks: the Schema Registry, the DQDL
each feature group gets (parsed against the documented grammar), the schedule that runs it and
the access its roles really have."""

from __future__ import annotations

import json
import re

import pytest

from components.data_quality import avro_schema, dqdl_ruleset
from estate.analysis.iam import Principal, Request, evaluate
from estate.offline.model import Inventory, Resource
from tests.conftest import render_config, shipped_config
from tests.test_backup import ALL, bucket_policy

RULESET = "aws:glue/dataQualityRuleset:DataQualityRuleset"
SCHEMA = "aws:glue/schema:Schema"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ACCOUNT = "222222222222"

# -- a strict parser for the DQDL rule types estate emits -----------------------------------
# DQDL reference (https://docs.aws.amazon.com/glue/latest/dg/dqdl.html): a ruleset is
# `Rules = [ <rule>, ... ]`; column names are double-quoted strings; `IsComplete "col"`,
# `IsPrimaryKey "col" ["col" ...]`, `ColumnValues "col" between <n> and <n>`,
# `ColumnValues "col" (>=|<=) <n>`, `ColumnValues "col" in [ "v", ... ]`, and
# `CustomSql "<statement>" <op> <n>` whose statement reads the table as `primary`.

_STR = r'"(?:[^"\\]|\\.)*"'
_NUM = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
_RULES = {
    "IsComplete": re.compile(rf"IsComplete ({_STR})"),
    "IsPrimaryKey": re.compile(rf"IsPrimaryKey ({_STR}(?: {_STR})*)"),
    "ColumnValues": re.compile(
        rf"ColumnValues ({_STR}) (between {_NUM} and {_NUM}|(?:>=|<=|>|<|=) {_NUM}"
        rf"|in \[{_STR}(?:, {_STR})*\])"
    ),
    "CustomSql": re.compile(rf"CustomSql ({_STR}) (?:>=|<=|>|<|=) {_NUM}"),
}


def _split_rules(body: str) -> list[str]:
    rules, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(body):
        if ch == '"' and (i == 0 or body[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            rules.append(body[start:i].strip())
            start = i + 1
    rules.append(body[start:].strip())
    return rules


def parse_dqdl(text: str) -> list[tuple[str, str]]:
    """(rule type, first column or statement) per rule; raises on anything outside the grammar."""
    match = re.fullmatch(r"\s*Rules\s*=\s*\[(.*)\]\s*", text, re.S)
    if not match:
        raise ValueError("not `Rules = [ ... ]`")
    parsed = []
    for rule in _split_rules(match.group(1)):
        kind = rule.split(" ", 1)[0]
        grammar = _RULES.get(kind)
        found = grammar.fullmatch(rule) if grammar else None
        if not found:
            raise ValueError(f"not DQDL: {rule!r}")
        if kind == "CustomSql" and " from primary" not in found.group(1):
            raise ValueError("CustomSql must read the table as `primary`")
        first = re.match(_STR, found.group(1))
        assert first is not None
        parsed.append((kind, json.loads(first.group(0))))
    return parsed


def test_the_parser_refuses_what_dqdl_does_not_accept():
    for bad in (
        "Rules = [IsComplete id]",
        'Rules = [ColumnValues "a" between 1 or 2]',
        'Rules = [CustomSql "select 1" > 0]',
        'IsComplete "id"',
        'Rules = [IsUnique "a" "b"]',
    ):
        with pytest.raises(ValueError):
            parse_dqdl(bad)


def of(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def render_changed(stack: str, change) -> Inventory:
    config = shipped_config(stack)
    change(config)
    return render_config(stack, config)


# -- what the shipped stacks get -----------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "tables"),
    [
        ("fraud-prod", {"fraud_prod_transactions", "fraud_prod_merchants"}),
        ("marketing-dev", {"marketing_dev_customer_propensity"}),
    ],
)
def test_a_ruleset_per_offline_feature_group(rendered, stack, tables):
    inventory = rendered(stack)
    rulesets = of(inventory, RULESET)
    assert {r.inputs["targetTable"]["tableName"] for r in rulesets} == tables
    database = stack.replace("-", "_") + "_features"
    for r in rulesets:
        assert r.inputs["targetTable"]["databaseName"] == database
        assert r.inputs["tags"]["BusinessUnit"] == stack.split("-")[0]
        parse_dqdl(r.inputs["ruleset"])


def test_fraud_rulesets_check_ids_versions_freshness_and_ranges(rendered):
    [transactions] = [
        r for r in of(rendered("fraud-prod"), RULESET) if "transactions" in r.inputs["name"]
    ]
    rules = parse_dqdl(transactions.inputs["ruleset"])
    assert ("IsComplete", "transaction_id") in rules
    assert ("IsPrimaryKey", "transaction_id") in rules
    assert ("ColumnValues", "amount_usd") in rules
    assert ("ColumnValues", "card_present") in rules
    # maxEventLagHours: 6 in the shipped stack; event_time is epoch seconds (Fractional)
    assert "event_time >= unix_timestamp() - 21600" in transactions.inputs["ruleset"]
    assert "between 0 and 1000000" in transactions.inputs["ruleset"]


def test_allowed_values_and_lag_reach_the_ruleset_from_config():
    def change(config):
        store = config["ai-estate:featureStore"]
        features = store["featureGroups"][0]["features"]
        features[3] = {**features[3], "allowedValues": ["5411", "5812"]}
        config["ai-estate:dataQuality"] = {"maxEventLagHours": 48}

    [transactions] = [
        r
        for r in of(render_changed("fraud-prod", change), RULESET)
        if "transactions" in r.inputs["name"]
    ]
    text = transactions.inputs["ruleset"]
    parse_dqdl(text)
    assert 'ColumnValues "merchant_category" in ["5411", "5812"]' in text
    assert f"unix_timestamp() - {48 * 3600}" in text


def test_string_event_times_are_parsed_before_the_freshness_check(rendered):
    [ruleset] = of(rendered("marketing-dev"), RULESET)
    assert (
        "unix_timestamp(to_timestamp(event_time)) >= unix_timestamp() - 86400"
        in (ruleset.inputs["ruleset"])
    )


def test_disabling_data_quality_keeps_the_schemas_and_drops_the_rulesets():
    inventory = render_changed(
        "marketing-dev", lambda c: c.__setitem__("ai-estate:dataQuality", {"enabled": False})
    )
    assert of(inventory, RULESET) == [] and _dq_schedules(inventory) == []
    assert len(of(inventory, SCHEMA)) == 1


def test_prod_refuses_to_turn_data_quality_off():
    with pytest.raises(Exception, match="dataQuality"):
        render_changed(
            "fraud-prod", lambda c: c.__setitem__("ai-estate:dataQuality", {"enabled": False})
        )


def test_schemas_are_backward_compatible_avro_of_the_feature_definitions(rendered):
    schemas = {s.inputs["schemaName"]: s for s in of(rendered("fraud-prod"), SCHEMA)}
    assert set(schemas) == {"fraud-prod-transactions", "fraud-prod-merchants"}
    schema = schemas["fraud-prod-transactions"]
    assert schema.inputs["dataFormat"] == "AVRO"
    assert schema.inputs["compatibility"] == "BACKWARD"
    avro = json.loads(schema.inputs["schemaDefinition"])
    fields = {f["name"]: f["type"] for f in avro["fields"]}
    assert fields["transaction_id"] == "string"  # the record id is required
    assert fields["event_time"] == "double"
    assert fields["card_present"] == ["null", "long"]  # other features optional


def test_avro_schema_has_a_field_per_feature():
    group = {
        "name": "g",
        "description": "",
        "record_identifier": "id",
        "event_time": "ts",
        "features": [
            {"name": "id", "type": "Integral"},
            {"name": "ts", "type": "String"},
            {"name": "x", "type": "Fractional"},
        ],
        "online": True,
        "offline": True,
    }
    avro = json.loads(avro_schema("bu-dev", group))  # type: ignore[arg-type]
    assert [f["name"] for f in avro["fields"]] == ["id", "ts", "x"]
    assert avro["type"] == "record" and avro["name"] == "bu_dev_g"
    rules = parse_dqdl(dqdl_ruleset(group, 1))  # type: ignore[arg-type]
    assert rules[0] == ("IsComplete", "id")


# -- the schedule and its roles ------------------------------------------------------------


def _dq_schedules(inventory: Inventory) -> list:
    """The Data Quality runs' schedules (the retraining loop has schedules of its own)."""
    return [r for r in of(inventory, SCHEDULE) if "-data-quality-" in r.name]


def _policy(inventory: Inventory, part: str) -> dict:
    [policy] = [
        r
        for r in of(inventory, "aws:iam/rolePolicy:RolePolicy")
        if part in r.name and "-data-quality-" in r.name
    ]
    return json.loads(policy.inputs["policy"])


def test_schedules_start_each_ruleset_with_the_evaluator_role(rendered):
    inventory = rendered("fraud-prod")
    schedules = _dq_schedules(inventory)
    assert len(schedules) == 2
    for schedule in schedules:
        target = schedule.inputs["target"]
        assert target["arn"] == (
            "arn:aws:scheduler:::aws-sdk:glue:startDataQualityRulesetEvaluationRun"
        )
        body = json.loads(target["input"])
        assert body["Role"] == f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-data-quality"
        assert body["AdditionalRunOptions"] == {"CloudWatchMetricsEnabled": True}
        [name] = body["RulesetNames"]
        table = body["DataSource"]["GlueTable"]["TableName"]
        assert name == "fraud-prod-" + table.removeprefix("fraud_prod_") + "-dq"


def test_the_scheduler_may_start_only_these_rulesets_and_pass_only_the_evaluator(rendered):
    inventory = rendered("fraud-prod")
    scheduler = Principal(
        arn=f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-dq-scheduler",
        identity_policies=(_policy(inventory, "scheduler-policy"),),
    )
    glue = f"arn:aws:glue:us-east-1:{ACCOUNT}:dataQualityRuleset"
    start = "glue:StartDataQualityRulesetEvaluationRun"
    assert evaluate(Request(scheduler, start, f"{glue}/fraud-prod-transactions-dq"))
    assert not evaluate(Request(scheduler, start, f"{glue}/marketing-dev-customer-propensity-dq"))
    assert not evaluate(Request(scheduler, "glue:DeleteDataQualityRuleset", f"{glue}/x"))
    evaluator = f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-data-quality"
    glue_ctx = {"iam:PassedToService": "glue.amazonaws.com"}
    assert evaluate(Request(scheduler, "iam:PassRole", evaluator, context=glue_ctx))
    assert not evaluate(
        Request(
            scheduler,
            "iam:PassRole",
            evaluator,
            context={"iam:PassedToService": "ec2.amazonaws.com"},
        )
    )
    assert not evaluate(
        Request(
            scheduler,
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-feature-store",
            context=glue_ctx,
        )
    )


def test_the_evaluator_reads_the_offline_store_through_the_bu_only_bucket_policy(rendered):
    inventory = rendered("fraud-prod")
    name, bucket = bucket_policy(inventory, "features-offline")
    evaluator = Principal(
        arn=f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-data-quality",
        identity_policies=(_policy(inventory, "evaluator-policy"),),
    )
    read = f"arn:aws:s3:::{name}/offline/part-0.parquet"
    assert evaluate(Request(evaluator, "s3:GetObject", read, resource_policy=bucket))
    assert not evaluate(Request(evaluator, "s3:PutObject", read, resource_policy=bucket))
    # the bucket policy lets the evaluator's name in, and nobody else's with the same rights
    impostor = Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-dq-x", identity_policies=ALL)
    assert not evaluate(Request(impostor, "s3:GetObject", read, resource_policy=bucket))


# -- readiness -------------------------------------------------------------------------------


def test_readiness_data_quality_flips_with_the_config(rendered):
    from estate.analysis.readiness import scorecard

    platform = rendered("platform-dev")
    assert scorecard(rendered("marketing-dev"), platform=platform).item("data-quality").status == (
        "met"
    )
    off = render_changed(
        "marketing-dev", lambda c: c.__setitem__("ai-estate:dataQuality", {"enabled": False})
    )
    item = scorecard(off, platform=platform).item("data-quality")
    assert item.status == "missing"
    assert "marketing-dev-features-customer-propensity" in item.missing


# -- results: FAILED evaluations notify the BU's alarm topic and reach the dashboard -------

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def _dq_result(
    ruleset: str,
    state: str,
    *,
    source: str = "aws.glue-dataquality",
    rules_failed: int | None = None,
) -> dict:
    """A `Data Quality Evaluation Results Available` event as the Glue developer guide shows it
    ("Setting up alerts, deployments, and scheduling"), for a Data Catalog ruleset run."""
    return {
        "version": "0",
        "id": "abcdef00-1234-5678-9abc-def012345678",
        "detail-type": "Data Quality Evaluation Results Available",
        "source": source,
        "account": ACCOUNT,
        "time": "2026-12-04T02:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "context": {
                "contextType": "GLUE_DATA_CATALOG",
                "runId": "dqrun-12334567890",
                "databaseName": "fraud_prod_features",
                "tableName": "fraud_prod_transactions",
                "catalogId": ACCOUNT,
            },
            "resultID": "dqresult-12334567890",
            "rulesetNames": [ruleset],
            "state": state,
            "score": 0.5 if state == "FAILED" else 1.0,
            "rulesSucceeded": 4,
            "rulesFailed": (4 if state == "FAILED" else 0)
            if rules_failed is None
            else rules_failed,
            "rulesSkipped": 0,
        },
    }


def _dq_rule(inventory: Inventory) -> Resource:
    [rule] = [r for r in of(inventory, EVENT_RULE) if r.name.endswith("-dq-failed")]
    return rule


@pytest.mark.parametrize(
    ("ruleset", "state", "source", "routed"),
    [
        ("fraud-prod-transactions-dq", "FAILED", "aws.glue-dataquality", True),
        ("fraud-prod-merchants-dq", "FAILED", "aws.glue-dataquality", True),
        ("fraud-prod-transactions-dq", "PASSED", "aws.glue-dataquality", False),
        ("fraud-prod-transactions-dq", "SUCCEEDED", "aws.glue-dataquality", False),
        # another BU's ruleset, and the same names from another source
        ("marketing-dev-customer-propensity-dq", "FAILED", "aws.glue-dataquality", False),
        ("fraud-dev-transactions-dq", "FAILED", "aws.glue-dataquality", False),
        ("fraud-prod-transactions-dq", "FAILED", "aws.glue", False),
    ],
)
def test_failed_results_of_own_rulesets_only_match_the_dq_rule(
    rendered, ruleset, state, source, routed
):
    from moto.events.models import EventPattern

    rule = _dq_rule(rendered("fraud-prod"))
    pattern = EventPattern.load(rule.inputs["eventPattern"])
    assert pattern.matches_event(_dq_result(ruleset, state, source=source)) is routed


def test_a_finished_run_with_failed_rules_is_a_failed_result(rendered):
    """Whatever `state` says of the run, a result with failed rules notifies."""
    from moto.events.models import EventPattern

    pattern = EventPattern.load(_dq_rule(rendered("fraud-prod")).inputs["eventPattern"])
    ruleset = "fraud-prod-transactions-dq"
    assert pattern.matches_event(_dq_result(ruleset, "SUCCEEDED", rules_failed=2))
    assert not pattern.matches_event(_dq_result(ruleset, "SUCCEEDED", rules_failed=0))


def test_every_scheduled_ruleset_is_in_the_dq_rule(rendered):
    for stack in ("fraud-prod", "marketing-dev"):
        inventory = rendered(stack)
        pattern = json.loads(_dq_rule(inventory).inputs["eventPattern"])
        names = {r.inputs["name"] for r in of(inventory, RULESET)}
        assert set(pattern["detail"]["rulesetNames"]) == names
        assert pattern["detail"]["$or"] == [
            {"state": ["FAILED"]},
            {"rulesFailed": [{"numeric": [">", 0]}]},
        ]


def _resolve(event: dict, path: str):
    """An EventBridge input path (`$.a.b[0]`) on an event: dot notation and array indices."""
    value: object = event
    for part in re.findall(r"[^.\[\]$]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]  # type: ignore[index]
    return value


def test_the_dq_rule_notifies_the_alarm_topic_naming_ruleset_and_score(rendered):
    inventory = rendered("fraud-prod")
    rule = _dq_rule(inventory)
    [target] = [t for t in of(inventory, EVENT_TARGET) if t.inputs["rule"] == rule.inputs["name"]]
    [topic] = [t for t in of(inventory, "aws:sns/topic:Topic") if t.name.endswith("-alarms")]
    assert target.inputs["arn"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic.inputs['name']}"
    transformer = target.inputs["inputTransformer"]
    event = _dq_result("fraud-prod-transactions-dq", "FAILED")
    values = {k: _resolve(event, p) for k, p in transformer["inputPaths"].items()}
    assert values["ruleset"] == "fraud-prod-transactions-dq"
    assert values["score"] == 0.5
    message = transformer["inputTemplate"]
    for key, value in values.items():
        message = message.replace(f"<{key}>", str(value))
    text = json.loads(message)  # a template that is not an object must be a JSON string
    assert "fraud-prod-transactions-dq" in text and "0.5" in text and "<" not in text


def test_the_alarm_topic_admits_eventbridge_only_from_the_dq_rule(rendered):
    inventory = rendered("fraud-prod")
    rule = _dq_rule(inventory)
    [policy_res] = [
        p
        for p in of(inventory, "aws:sns/topicPolicy:TopicPolicy")
        if p.name.endswith("-alarms-policy")
    ]
    policy = json.loads(policy_res.inputs["policy"])
    topic_arn = policy_res.inputs["arn"]
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{rule.inputs['name']}"
    events = Principal(arn="events.amazonaws.com", kind="service")

    def publish(source_arn: str) -> bool:
        context = {"aws:SourceArn": source_arn, "aws:SecureTransport": "true"}
        return evaluate(Request(events, "sns:Publish", topic_arn, context, policy)).allowed

    assert publish(rule_arn)
    assert not publish(rule_arn + "-other")
    assert not publish(f"arn:aws:events:us-east-1:{ACCOUNT}:rule/marketing-dev-dq-failed")


def test_the_bu_key_lets_eventbridge_encrypt_for_the_alarm_topic(rendered):
    inventory = rendered("fraud-prod")
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if k.name == "fraud-prod-key-key"]
    statements = json.loads(key.inputs["policy"])["Statement"]
    [events] = [s for s in statements if s.get("Sid") == "EventsUseKey"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert "kms:GenerateDataKey*" in events["Action"] and "kms:Decrypt" in events["Action"]
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_dq_delivery_alarm_and_dashboard_widget(rendered):
    inventory = rendered("fraud-prod")
    [alarm] = [
        a
        for a in of(inventory, "aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["name"] == "fraud-prod-dq-notify-failed"
    ]
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        "AWS/Events",
        "FailedInvocations",
    )
    assert alarm.inputs["dimensions"] == {"RuleName": "fraud-prod-dq-failed"}
    [dashboard] = [
        d
        for d in of(inventory, "aws:cloudwatch/dashboard:Dashboard")
        if d.inputs["dashboardName"] == "ai-estate-fraud-prod"
    ]
    body = json.loads(dashboard.inputs["dashboardBody"])
    [widget] = [w for w in body["widgets"] if w["properties"].get("title") == "data quality"]
    metrics = widget["properties"]["metrics"]
    assert metrics[0][:4] == ["AWS/Events", "MatchedEvents", "RuleName", "fraud-prod-dq-failed"]
    searches = [m[0]["expression"] for m in metrics[1:]]
    assert all(s.startswith('SEARCH(\'{"Glue Data Quality"} MetricName=') for s in searches)
    assert all('"fraud-prod-transactions-dq"' in s for s in searches)
    # widgets never overlap on the 24-column grid
    cells = set()
    for w in body["widgets"]:
        for x in range(w["x"], w["x"] + w["width"]):
            for y in range(w["y"], w["y"] + w["height"]):
                assert (x, y) not in cells
                cells.add((x, y))


def test_disabling_data_quality_drops_the_dq_rule_and_its_topic_grant():
    inventory = render_changed(
        "marketing-dev", lambda c: c.__setitem__("ai-estate:dataQuality", {"enabled": False})
    )
    assert [r for r in of(inventory, EVENT_RULE) if r.name.endswith("-dq-failed")] == []
    [policy] = [
        p
        for p in of(inventory, "aws:sns/topicPolicy:TopicPolicy")
        if p.name.endswith("-alarms-policy")
    ]
    sids = {s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert "DataQualityResultsPublish" not in sids


def test_readiness_data_quality_is_partial_while_failed_results_notify_nobody(rendered):
    import dataclasses

    from estate.analysis.readiness import scorecard

    platform = rendered("platform-dev")
    inventory = rendered("marketing-dev")
    item = scorecard(inventory, platform=platform).item("data-quality")
    assert item.status == "met"
    assert any("FAILED DQ results" in str(e) for e in item.evidence)
    silent = dataclasses.replace(
        inventory,
        resources=[r for r in inventory.resources if not r.name.endswith("-dq-failed-target")],
    )
    item = scorecard(silent, platform=platform).item("data-quality")
    assert item.status == "partial"
    assert "marketing-dev-customer-propensity-dq" in item.missing
