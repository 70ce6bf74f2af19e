"""Stack config validation: every user error is one line naming the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estate.stack.config import ConfigError, load_stack, validate_config

GOOD_BU = {
    "kind": "bu",
    "businessUnit": "fraud",
    "environment": "prod",
    "owner": "fraud-ml@example.com",
    "costCenter": "CC-2100",
    "dataClassification": "restricted",
    "accountId": "222222222222",
    "platformStack": "acme/ai-estate/platform-prod",
    "budget": {"monthlyLimitUsd": 5000},
}


def write(tmp_path: Path, body: str, name: str = "Pulumi.fraud-prod.yaml") -> Path:
    # BU stacks name their platform stack, which must be beside them: bring the shipped ones.
    for platform in Path(__file__).resolve().parent.parent.glob("stacks/Pulumi.platform-*.yaml"):
        (tmp_path / platform.name).write_text(platform.read_text())
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def errors_for(values: dict, source: str = "stacks/Pulumi.x.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(values, source)
    return info.value.lines


def test_shipped_stacks_are_valid():
    for path in sorted(Path("stacks").glob("Pulumi.*.yaml")):
        loaded = load_stack(path)
        assert loaded.config.environment in ("dev", "staging", "prod")


def test_bad_environment_names_file_key_and_value(tmp_path):
    path = write(
        tmp_path,
        """
        config:
          aws:region: us-east-1
          ai-estate:kind: bu
          ai-estate:businessUnit: fraud
          ai-estate:environment: moon
          ai-estate:owner: fraud-ml@example.com
          ai-estate:costCenter: CC-2100
          ai-estate:dataClassification: restricted
          ai-estate:accountId: "222222222222"
          ai-estate:platformStack: acme/ai-estate/platform-prod
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_stack(path, "stacks/Pulumi.fraud-prod.yaml")
    assert info.value.lines == [
        "stacks/Pulumi.fraud-prod.yaml: ai-estate:environment: must be one of dev, staging, "
        "prod (got 'moon')"
    ]


def test_all_errors_are_reported_at_once():
    values = {**GOOD_BU, "environment": "moon", "owner": "nobody", "costCenter": "x"}
    lines = errors_for(values)
    assert len(lines) == 3
    assert any("ai-estate:owner:" in line for line in lines)
    assert any("ai-estate:costCenter:" in line for line in lines)


def test_unknown_key_is_a_typo_not_silence():
    lines = errors_for({**GOOD_BU, "featureStore": {"onlineTabels": []}})
    assert lines == [
        "stacks/Pulumi.x.yaml: ai-estate:featureStore.onlineTabels: is not a known key "
        "(keys are camelCase); did you mean onlineTables?"
    ]


def test_nested_list_errors_carry_their_index():
    fs = {
        "featureGroups": [
            {
                "name": "transactions",
                "recordIdentifier": "id",
                "eventTime": "ts",
                "features": [{"name": "id", "type": "String"}, {"name": "ts", "type": "Text"}],
            }
        ]
    }
    lines = errors_for({**GOOD_BU, "featureStore": fs})
    assert lines == [
        "stacks/Pulumi.x.yaml: ai-estate:featureStore.featureGroups[0].features[1].type: "
        "must be one of Integral, Fractional, String (got 'Text')"
    ]


def test_feature_group_keys_must_be_features():
    fs = {
        "featureGroups": [
            {
                "name": "transactions",
                "recordIdentifier": "missing",
                "eventTime": "ts",
                "features": [{"name": "id", "type": "String"}, {"name": "ts", "type": "String"}],
            }
        ]
    }
    [line] = errors_for({**GOOD_BU, "featureStore": fs})
    assert "featureStore.featureGroups[0]" in line and "recordIdentifier 'missing'" in line


def test_bu_stack_needs_platform_stack():
    values = dict(GOOD_BU)
    del values["platformStack"]
    [line] = errors_for(values)
    assert line.startswith("stacks/Pulumi.x.yaml: ai-estate:platformStack: is required")


def test_account_id_must_be_a_quoted_string_and_rejects_short_ids():
    # Padding an unquoted number back to 12 digits turned YAML's octal reading of 012345670123
    # into another account; a number is an error that says to quote it.
    [line] = errors_for({**GOOD_BU, "accountId": 222222222222})
    assert line.startswith("stacks/Pulumi.x.yaml: ai-estate:accountId: must be a quoted 12-digit")
    [line] = errors_for({**GOOD_BU, "accountId": "1234"})
    assert line.startswith("stacks/Pulumi.x.yaml: ai-estate:accountId: must be a 12-digit")


def test_structured_values_arrive_as_json_strings_from_pulumi():
    # The Pulumi CLI hands objects to programs as JSON text; the schema must read them the same.
    values = {
        **GOOD_BU,
        "featureStore": '{"onlineTables": [{"name": "velocity", "hashKey": "id"}]}',
    }
    config = validate_config(values, "f")
    assert config.feature_store.online_tables[0].hash_key == "id"


def test_missing_region_and_malformed_yaml(tmp_path):
    path = write(tmp_path, "config:\n  ai-estate:kind: platform\n  : bad: [\n")
    with pytest.raises(ConfigError) as info:
        load_stack(path, "stacks/Pulumi.p.yaml")
    assert info.value.lines[0].startswith("stacks/Pulumi.p.yaml: not valid YAML at line")

    path = write(
        tmp_path,
        """
        config:
          ai-estate:kind: platform
          ai-estate:businessUnit: platform
          ai-estate:environment: dev
          ai-estate:owner: p@example.com
          ai-estate:costCenter: CC-1
          ai-estate:dataClassification: internal
          ai-estate:accountId: "111111111111"
        """,
        "Pulumi.platform-dev.yaml",
    )
    with pytest.raises(ConfigError) as info:
        load_stack(path, "stacks/Pulumi.platform-dev.yaml")
    assert info.value.lines == [
        "stacks/Pulumi.platform-dev.yaml: aws:region: is required (the AWS region this stack "
        "deploys to)"
    ]


def test_prod_defaults_protect_and_nat_per_az():
    prod = validate_config(GOOD_BU, "f")
    dev = validate_config({**GOOD_BU, "environment": "dev"}, "f")
    assert prod.protect_stateful and not dev.protect_stateful
    assert prod.nat_mode == "perAz" and dev.nat_mode == "single"


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(sorted(GOOD_BU)),
    value=st.one_of(st.text(max_size=20), st.integers(), st.none(), st.lists(st.text(max_size=3))),
)
def test_any_bad_value_is_a_config_error_never_a_crash(key, value):
    values = {**GOOD_BU, key: value}
    try:
        validate_config(values, "stacks/Pulumi.x.yaml")
    except ConfigError as exc:
        assert exc.lines
        assert all(line.startswith("stacks/Pulumi.x.yaml: ai-estate:") for line in exc.lines)


def test_every_config_key_is_documented_and_the_reference_is_current():
    from estate.docgen.config_docs import _models, main
    from estate.stack.config import StackConfig

    for model in _models(StackConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"
    assert main(["--check"]) == 0, (
        "docs/configuration.md is stale: run python -m estate.docgen.config_docs"
    )


def test_prod_bu_stack_needs_a_budget_dev_does_not():
    values = {k: v for k, v in GOOD_BU.items() if k != "budget"}
    [line] = errors_for(values)
    assert "ai-estate:budget: is required for bu stacks in staging and prod" in line
    assert validate_config({**values, "environment": "dev"}, "f").budget is None
