"""Profiles: the stack's environment (from PULUMI_CONFIG) picks enforcement and settings."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from governance import RULES, build_policies, rule
from governance.catalog import ENVIRONMENTS
from governance.profiles import Profile, current_profile, environment_from_config, stack_config
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_harness import check, names
from pulumi_policy import EnforcementLevel, StackValidationPolicy


def environ(config: object) -> dict[str, str]:
    """The pack process environment the CLI would set for a stack with this config."""
    return {
        "PULUMI_PROJECT": "ai-estate",
        "PULUMI_STACK": "fraud-dev",
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": config if isinstance(config, str) else json.dumps(config),
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_comes_from_the_stacks_config(env):
    profile = current_profile(environ({"ai-estate:environment": env, "aws:region": "us-east-1"}))
    assert profile.environment == env


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"aws:region": "us-east-1"},
        {"ai-estate:environment": "qa"},
        {"ai-estate:environment": ""},
        {"other-project:environment": "dev"},
        "not json",
        "[1, 2]",
    ],
)
def test_missing_or_unknown_environment_is_judged_as_prod(config):
    assert current_profile(environ(config)).environment == "prod"


def test_no_pulumi_config_at_all_is_prod():
    assert current_profile({}).environment == "prod"


def test_environment_value_is_normalised():
    assert environment_from_config({"ai-estate:environment": " Staging "}) == "staging"


def test_structured_config_values_arrive_as_json_strings():
    config = stack_config(environ({"aws:defaultTags": {"tags": {"Owner": "x"}}}))
    assert json.loads(config["aws:defaultTags"]) == {"tags": {"Owner": "x"}}


@settings(derandomize=True, max_examples=200)
@given(st.text())
def test_any_environment_string_yields_a_known_profile(value):
    assert environment_from_config({"ai-estate:environment": value}) in ENVIRONMENTS


def levels(env: str) -> dict[str, EnforcementLevel]:
    return {p.name: p.enforcement_level for p in build_policies(Profile(env))}


def test_dev_advises_where_prod_blocks():
    dev, prod = levels("dev"), levels("prod")
    assert dev["s3-bucket-versioning"] == EnforcementLevel.ADVISORY
    assert prod["s3-bucket-versioning"] == EnforcementLevel.MANDATORY
    assert dev["stateful-resource-protected"] == EnforcementLevel.DISABLED
    assert prod["stateful-resource-protected"] == EnforcementLevel.MANDATORY
    assert dev["dynamodb-table-deletion-protection"] == EnforcementLevel.DISABLED
    assert prod["dynamodb-table-deletion-protection"] == EnforcementLevel.MANDATORY
    # Public exposure blocks everywhere.
    assert dev["s3-bucket-public-access-block"] == EnforcementLevel.MANDATORY
    assert dev["security-group-no-public-ingress"] == EnforcementLevel.MANDATORY


def test_prod_is_never_weaker_than_dev():
    order = {"disabled": 0, "advisory": 1, "mandatory": 2}
    for r in RULES:
        strengths = [order[r.enforcement[env]] for env in ENVIRONMENTS]
        assert strengths == sorted(strengths), r.id


def test_policies_carry_the_catalogs_metadata():
    policies = {p.name: p for p in build_policies(Profile("prod"))}
    # every rule in catalog order, then the waiver policies, which must run last
    assert list(policies)[: len(RULES)] == [r.id for r in RULES]
    assert list(policies)[len(RULES) :] == [
        "waiver-applied",
        "waiver-applied-stack",
        "waiver-expired",
        "waiver-invalid",
    ]
    for r in RULES:
        policy = policies[r.id]
        assert policy.description == r.description
        assert policy.severity is not None and policy.severity.value == r.severity
        assert policy.remediation_steps == r.remediation
        assert policy.display_name == r.title
        assert policy.tags == r.tags
        assert isinstance(policy, StackValidationPolicy) == (r.kind == "stack")
    assert policies["kms-key-rotation"].framework.reference == "3.8"
    assert "CKV_AWS_7" in policies["kms-key-rotation"].tags


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("staging", 90), ("prod", 365)])
def test_config_schema_defaults_follow_the_profile(env, days):
    policies = {p.name: p for p in build_policies(Profile(env))}
    schema = policies["log-group-retention"].config_schema
    assert schema.properties["minimumRetentionDays"]["default"] == days
    assert schema.properties["minimumRetentionDays"]["type"] == "integer"
    assert policies["kms-key-rotation"].config_schema is None


def ninety_day_log_group() -> None:
    aws.cloudwatch.LogGroup("app", retention_in_days=90)


@pytest.mark.parametrize(("env", "flagged"), [("dev", []), ("staging", []), ("prod", ["app"])])
def test_retention_minimum_depends_on_the_environment(env, flagged):
    assert names(check("log-group-retention", ninety_day_log_group, environment=env)) == flagged


def test_a_foreign_program_without_our_config_gets_the_prod_minimum():
    violations = check("log-group-retention", ninety_day_log_group, environment=None)
    assert names(violations) == ["app"]
    assert "365" in violations[0].message


def test_policy_config_overrides_the_profile_setting():
    violations = check(
        "log-group-retention", ninety_day_log_group, policy_config={"minimumRetentionDays": 60}
    )
    assert violations == []


def test_allowed_ports_can_be_overridden():
    def program():
        aws.vpc.SecurityGroupIngressRule(
            "bastion",
            security_group_id="sg-0123456789abcdef0",
            ip_protocol="tcp",
            from_port=22,
            to_port=22,
            cidr_ipv4="0.0.0.0/0",
        )

    assert names(check("security-group-no-public-ingress", program)) == ["bastion"]
    overridden = {"allowedPorts": [22, 443]}
    assert check("security-group-no-public-ingress", program, policy_config=overridden) == []


def test_rule_lookup_names_a_missing_id():
    with pytest.raises(KeyError, match="no-such-rule"):
        rule("no-such-rule")
