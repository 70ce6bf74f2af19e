"""Ownership tags: key parity with the blueprint, default-tag merging, the taggable-type list."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from governance import tagging
from governance.gen_taggable import render, taggable_types
from policy_harness import check, names
from policy_programs import OWNERSHIP_TAGS

from components.tags import REQUIRED_TAG_KEYS as BLUEPRINT_KEYS

RULE = "required-ownership-tags"


def test_pack_requires_exactly_the_blueprints_tag_keys():
    assert tagging.REQUIRED_TAG_KEYS == BLUEPRINT_KEYS


def test_the_rules_default_setting_is_the_key_tuple():
    [setting] = tagging.RULES[0].settings
    assert all(tuple(v) == tagging.REQUIRED_TAG_KEYS for v in setting.defaults.values())


def test_stack_default_tags_satisfy_the_rule():
    def program():
        aws.s3.Bucket("features")
        aws.cloudwatch.LogGroup("audit", retention_in_days=365, tags={"Name": "audit"})

    config = {"aws:defaultTags": {"tags": OWNERSHIP_TAGS}}
    assert check(RULE, program, config=config) == []


def test_explicit_provider_default_tags_are_merged_with_resource_tags():
    def program():
        half = dict(list(OWNERSHIP_TAGS.items())[:3])
        rest = dict(list(OWNERSHIP_TAGS.items())[3:])
        provider = aws.Provider("bu", region="us-east-1", default_tags={"tags": half})
        aws.s3.Bucket("merged", tags=rest, opts=pulumi.ResourceOptions(provider=provider))
        aws.s3.Bucket("half", opts=pulumi.ResourceOptions(provider=provider))

    violations = check(RULE, program)
    assert names(violations) == ["half"]
    assert "Environment" in violations[0].message
    assert "BusinessUnit" not in violations[0].message


def test_a_blank_resource_tag_overrides_a_default_tag():
    def program():
        aws.s3.Bucket("blanked", tags={"Owner": " "})

    config = {"aws:defaultTags": {"tags": OWNERSHIP_TAGS}}
    [violation] = check(RULE, program, config=config)
    assert "Owner" in violation.message


def test_untaggable_types_and_components_are_not_checked():
    class Store(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("ai-estate:test:Store", name)
            bucket = aws.s3.Bucket(
                f"{name}-bucket", tags=OWNERSHIP_TAGS, opts=pulumi.ResourceOptions(parent=self)
            )
            aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=pulumi.ResourceOptions(parent=self),
            )

    assert check(RULE, lambda: Store("features")) == []


def test_required_keys_can_be_extended_through_policy_config():
    def program():
        aws.s3.Bucket("features", tags=OWNERSHIP_TAGS)

    policy_config = {"requiredKeys": [*OWNERSHIP_TAGS, "Project"]}
    [violation] = check(RULE, program, policy_config=policy_config)
    assert "Project" in violation.message


def test_taggable_types_file_is_sorted_unique_and_aws_only():
    tokens = json.loads(tagging.TAGGABLE_TYPES_FILE.read_text())
    assert tokens == sorted(set(tokens))
    assert all(t.startswith("aws:") for t in tokens)
    for expected in (
        "aws:s3/bucket:Bucket",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:ec2/vpc:Vpc",
        "aws:sagemaker/featureGroup:FeatureGroup",
    ):
        assert expected in tagging.TAGGABLE_TYPES
    # `tags` means something else on these: not ownership tags, no default tags.
    assert "aws:autoscaling/group:Group" not in tagging.TAGGABLE_TYPES
    assert "aws:inspector/resourceGroup:ResourceGroup" not in tagging.TAGGABLE_TYPES
    assert "aws:s3/bucketPolicy:BucketPolicy" not in tagging.TAGGABLE_TYPES


@pytest.mark.slow
def test_taggable_types_file_matches_the_installed_pulumi_aws():
    """Regenerating from the installed SDK (imports all of pulumi_aws, ~10 s) changes nothing."""
    assert tagging.TAGGABLE_TYPES_FILE.read_text() == render(taggable_types())
