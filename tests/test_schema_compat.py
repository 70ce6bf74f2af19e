"""Glue Schema Registry compatibility of AVRO feature schemas (estate.analysis.schema_compat)."""

from __future__ import annotations

import json

import pytest

from components.data_quality import avro_schema
from estate.analysis.schema_compat import incompatibilities


def record(*fields: dict, name: str = "fraud_prod_transactions") -> str:
    return json.dumps(
        {"type": "record", "name": name, "namespace": "estate.features", "fields": list(fields)}
    )


def required(name: str, avro_type: str) -> dict:
    return {"name": name, "type": avro_type}


def optional(name: str, avro_type: str) -> dict:
    return {"name": name, "type": ["null", avro_type], "default": None}


OLD = record(required("id", "string"), optional("amount", "double"), optional("count", "long"))


def test_removing_a_field_is_backward_compatible():
    new = record(required("id", "string"), optional("amount", "double"))
    assert incompatibilities(OLD, new, "BACKWARD") == []


def test_adding_a_field_needs_a_default():
    with_default = record(*json.loads(OLD)["fields"], optional("risk", "double"))
    assert incompatibilities(OLD, with_default, "BACKWARD") == []
    without = record(*json.loads(OLD)["fields"], required("risk", "double"))
    [problem] = incompatibilities(OLD, without, "BACKWARD")
    assert "field 'risk' was added without a default" in problem


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_avro_promotions_are_compatible(writer, reader):
    assert (
        incompatibilities(record(required("f", writer)), record(required("f", reader)), "BACKWARD")
        == []
    )
    old, new = record(optional("f", writer)), record(optional("f", reader))
    assert incompatibilities(old, new, "BACKWARD") == []


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("long", "int"),
        ("double", "float"),
        ("long", "string"),
        ("string", "long"),
        ("double", "long"),
    ],
)
def test_other_type_changes_are_incompatible_and_name_the_field(writer, reader):
    [problem] = incompatibilities(
        record(optional("f", writer)), record(optional("f", reader)), "BACKWARD"
    )
    assert problem.startswith("field 'f' changed type from") and "not an Avro promotion" in problem


def test_optional_to_required_is_incompatible_and_the_reverse_is_not():
    assert incompatibilities(
        record(optional("f", "long")), record(required("f", "long")), "BACKWARD"
    )
    assert (
        incompatibilities(record(required("f", "long")), record(optional("f", "long")), "BACKWARD")
        == []
    )


def test_renaming_the_record_is_incompatible():
    [problem] = incompatibilities(OLD, OLD.replace("fraud_prod_transactions", "other"), "BACKWARD")
    assert "record name changed" in problem


def test_modes_forward_full_and_none():
    removed_required = record(optional("amount", "double"), optional("count", "long"))
    assert incompatibilities(OLD, removed_required, "BACKWARD") == []
    [forward] = incompatibilities(OLD, removed_required, "FORWARD")
    assert forward.startswith("readers on the old schema:") and "'id'" in forward
    assert incompatibilities(OLD, removed_required, "FULL_ALL") == [forward]
    assert incompatibilities(OLD, record(required("x", "int")), "NONE") == []
    with pytest.raises(ValueError, match="compatibility mode"):
        incompatibilities(OLD, OLD, "SIDEWAYS")
    with pytest.raises(ValueError, match="new schema is not valid AVRO"):
        incompatibilities(OLD, '{"type": "record"}', "BACKWARD")


def test_the_generated_feature_schemas_evolve_as_documented():
    """The generator's schemas: an added feature is nullable with a default (compatible), a
    retyped Integral -> String feature is not; the keys stay required."""
    group = {
        "name": "transactions",
        "description": "",
        "record_identifier": "transaction_id",
        "event_time": "event_time",
        "features": [
            {"name": "transaction_id", "type": "String"},
            {"name": "event_time", "type": "Fractional"},
            {"name": "card_present", "type": "Integral"},
        ],
    }
    old = avro_schema("fraud-prod", group)  # type: ignore[arg-type]
    added = {**group, "features": [*group["features"], {"name": "risk", "type": "Fractional"}]}
    assert incompatibilities(old, avro_schema("fraud-prod", added), "BACKWARD") == []  # type: ignore[arg-type]
    retyped = {
        **group,
        "features": [*group["features"][:2], {"name": "card_present", "type": "String"}],
    }
    [problem] = incompatibilities(old, avro_schema("fraud-prod", retyped), "BACKWARD")  # type: ignore[arg-type]
    assert "field 'card_present' changed type" in problem
