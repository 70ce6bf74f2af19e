"""Values unknown during preview reach the rules as unknowns and are never read as a pass.

`pulumi_policy` turns an `UnknownValueError` escaping a validation into its advisory "can't run
policy during preview"; the rules must let it escape rather than guess.
"""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from policy_harness import check
from policy_programs import KEY_ARN, unknown
from pulumi_policy.proxy import UnknownValueError


@pytest.mark.parametrize(
    ("rule_id", "program"),
    [
        (
            "log-group-retention",
            lambda: aws.cloudwatch.LogGroup("app", retention_in_days=unknown()),
        ),
        (
            "log-group-encryption",
            lambda: aws.cloudwatch.LogGroup("app", retention_in_days=365, kms_key_id=unknown()),
        ),
        ("kms-key-rotation", lambda: aws.kms.Key("key", enable_key_rotation=unknown())),
        ("sns-topic-encryption-cmk", lambda: aws.sns.Topic("t", kms_master_key_id=unknown())),
        (
            "required-ownership-tags",
            lambda: aws.s3.Bucket("b", tags={"BusinessUnit": unknown()}),
        ),
        (
            "s3-bucket-tls-only",
            lambda: aws.s3.BucketPolicy("p", bucket=aws.s3.Bucket("b").id, policy=unknown()),
        ),
    ],
)
def test_unknown_inputs_raise_instead_of_passing(rule_id, program):
    with pytest.raises(UnknownValueError):
        check(rule_id, program)


def test_unknown_values_the_rule_does_not_need_are_harmless():
    def program():
        aws.dynamodb.Table(
            "features",
            hash_key="entity_id",
            attributes=[{"name": "entity_id", "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
            stream_view_type=unknown(),
            server_side_encryption={"enabled": True, "kms_key_arn": KEY_ARN},
        )

    assert check("dynamodb-table-encryption-cmk", program) == []
