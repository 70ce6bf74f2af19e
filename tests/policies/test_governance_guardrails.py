"""Guardrail resources judged on their own, with what they guard in another stack.

`GUARDRAIL_CASES` has the shape of `test_governance_rules.CASES`. The bad programs declare no
bucket, VPC or volume at all: the guardrails are what a baseline stack (or a satellite of an
imported bucket) would hold.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.guardrails import RULES
from policy_harness import check, names
from policy_programs import unknown
from pulumi_policy.proxy import UnknownValueError

Program = Callable[[], None]
OTHER_STACKS_BUCKET = "fraud-prod-features-1a2b3c"
FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)


def _all_on() -> dict[str, bool]:
    return dict.fromkeys(FLAGS, True)


def bad_public_access_blocks() -> None:
    aws.s3.AccountPublicAccessBlock("account", **{**_all_on(), "restrict_public_buckets": False})
    aws.s3.AccountPublicAccessBlock("account-unset", block_public_acls=True)
    aws.s3.BucketPublicAccessBlock(
        "imported-pab", bucket=OTHER_STACKS_BUCKET, **{**_all_on(), "block_public_policy": False}
    )


def good_public_access_blocks() -> None:
    aws.s3.AccountPublicAccessBlock("account", **_all_on())
    aws.s3.BucketPublicAccessBlock("imported-pab", bucket=OTHER_STACKS_BUCKET, **_all_on())


def bad_versioning() -> None:
    aws.s3.BucketVersioning(
        "imported-versioning",
        bucket=OTHER_STACKS_BUCKET,
        versioning_configuration={"status": "Suspended"},
    )
    aws.s3.BucketVersioning(
        "disabled", bucket="fraud-prod-scratch", versioning_configuration={"status": "Disabled"}
    )


def good_versioning() -> None:
    aws.s3.BucketVersioning(
        "imported-versioning",
        bucket=OTHER_STACKS_BUCKET,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
    )


def bad_ebs_default() -> None:
    aws.ebs.EncryptionByDefault("ebs-default", enabled=False)


def good_ebs_default() -> None:
    aws.ebs.EncryptionByDefault("ebs-default", enabled=True)
    aws.ebs.EncryptionByDefault("ebs-default-unset")  # the provider's default is true


def bad_default_security_group() -> None:
    aws.ec2.DefaultSecurityGroup(
        "default-open",
        vpc_id="vpc-0a1b2c3d",
        ingress=[
            aws.ec2.DefaultSecurityGroupIngressArgs(
                protocol="-1", self=True, from_port=0, to_port=0
            )
        ],
    )
    aws.ec2.DefaultSecurityGroup(
        "default-egress",
        vpc_id="vpc-0e1f2a3b",
        egress=[
            aws.ec2.DefaultSecurityGroupEgressArgs(
                protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"]
            )
        ],
    )


def good_default_security_group() -> None:
    aws.ec2.DefaultSecurityGroup("default-locked", vpc_id="vpc-0a1b2c3d")


GUARDRAIL_CASES: dict[str, tuple[Program, set[str], Program]] = {
    "s3-public-access-block-all-flags": (
        bad_public_access_blocks,
        {"account", "account-unset", "imported-pab"},
        good_public_access_blocks,
    ),
    "s3-versioning-not-suspended": (
        bad_versioning,
        {"imported-versioning", "disabled"},
        good_versioning,
    ),
    "ebs-encryption-by-default-on": (bad_ebs_default, {"ebs-default"}, good_ebs_default),
    "ec2-default-security-group-no-rules": (
        bad_default_security_group,
        {"default-open", "default-egress"},
        good_default_security_group,
    ),
}


def test_every_rule_has_a_case():
    assert set(GUARDRAIL_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES)


@pytest.mark.parametrize("rule_id", sorted(GUARDRAIL_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = GUARDRAIL_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(GUARDRAIL_CASES))
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_good_program_passes(rule_id: str, environment: str):
    _, _, good = GUARDRAIL_CASES[rule_id]
    assert check(rule_id, good, environment=environment) == []


def test_the_bucket_rules_alone_miss_what_the_guardrail_rules_catch():
    # No bucket in the stack: the stack rules have nothing to link the satellites to.
    assert check("s3-bucket-public-access-block", bad_public_access_blocks) == []
    assert check("s3-bucket-versioning", bad_versioning) == []


def test_public_access_block_messages_name_the_flags():
    messages = {
        v.resource_name: v.message
        for v in check("s3-public-access-block-all-flags", bad_public_access_blocks)
    }
    assert "restrictPublicBuckets" in messages["account"]
    assert "blockPublicAcls" not in messages["account"]
    assert messages["account-unset"].count("Public") >= 3  # three flags left unset
    assert messages["imported-pab"].startswith("Bucket public access block")


def test_an_unknown_status_is_not_read_as_a_pass():
    def program() -> None:
        aws.s3.BucketVersioning(
            "v", bucket=OTHER_STACKS_BUCKET, versioning_configuration={"status": unknown()}
        )

    with pytest.raises(UnknownValueError):
        check("s3-versioning-not-suspended", program)
