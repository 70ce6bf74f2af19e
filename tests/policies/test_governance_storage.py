"""S3 stack rules: linking satellites to buckets, exemptions, and the estate's own buckets."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from governance.storage import denies_insecure_transport
from policy_harness import check, names, render_program
from policy_programs import (
    KEY_ARN,
    OWNERSHIP_TAGS,
    public_access_block,
    s3_encryption,
    unknown,
    versioning,
)
from pulumi_policy.proxy import UnknownValueError

from components.storage import AccessLogBucket, SecureBucket

S3_STACK_RULES = (
    "s3-bucket-encryption-cmk",
    "s3-bucket-public-access-block",
    "s3-bucket-tls-only",
    "s3-bucket-versioning",
    "s3-bucket-access-logging",
)


def estate_buckets(*, with_logging: bool = True) -> None:
    logs = AccessLogBucket(
        "access-logs",
        {"account_id": "123456789012", "tags": OWNERSHIP_TAGS, "protect": True},
    )
    SecureBucket(
        "features",
        {
            "tags": OWNERSHIP_TAGS,
            "protect": True,
            "kms_key_arn": KEY_ARN,
            **({"access_log_bucket": logs.bucket_name} if with_logging else {}),
        },
    )


@pytest.fixture(scope="module")
def estate_inventory():
    return render_program(estate_buckets, environment="prod")


@pytest.mark.parametrize(
    "rule_id",
    [
        *S3_STACK_RULES,
        "s3-no-public-grants",
        "required-ownership-tags",
        "stateful-resource-protected",
    ],
)
def test_the_estates_secure_buckets_comply(estate_inventory, rule_id):
    assert check(rule_id, estate_inventory) == []


def test_a_secure_bucket_without_a_log_target_is_flagged():
    inventory = render_program(lambda: estate_buckets(with_logging=False))
    buckets = {r.urn for r in inventory.resources if r.type == "aws:s3/bucket:Bucket"}
    violations = check("s3-bucket-access-logging", inventory)
    # Nothing in this stack logs into the access-log bucket any more, but its log-delivery
    # policy still says what it is (its sources may live in other stacks): only the data
    # bucket is flagged.
    assert len(buckets) == 2
    assert names(violations) == ["features-bucket"]


def test_log_target_is_exempt_from_cmk_but_not_other_buckets():
    def program():
        logs = aws.s3.Bucket("logs")
        s3_encryption("logs-sse", logs, "AES256")
        data = aws.s3.Bucket("data")
        s3_encryption("data-sse", data, "AES256")
        aws.s3.BucketLogging(
            "data-logging", bucket=data.id, target_bucket=logs.bucket, target_prefix="data/"
        )

    assert names(check("s3-bucket-encryption-cmk", program)) == ["data"]


def test_a_bucket_logging_into_itself_is_not_exempt():
    def program():
        data = aws.s3.Bucket("data")
        s3_encryption("data-sse", data, "AES256")
        aws.s3.BucketLogging(
            "data-logging", bucket=data.id, target_bucket=data.bucket, target_prefix="self/"
        )

    assert names(check("s3-bucket-encryption-cmk", program)) == ["data"]


def test_inline_logging_target_is_exempt_too():
    def program():
        logs = aws.s3.Bucket("logs", bucket="fraud-prod-access-logs")
        aws.s3.Bucket("data", logging={"target_bucket": "fraud-prod-access-logs"})
        s3_encryption("logs-sse", logs, "AES256")

    assert check("s3-bucket-access-logging", program) == []


def test_account_public_access_block_covers_every_bucket():
    def program():
        aws.s3.Bucket("data")
        aws.s3.AccountPublicAccessBlock(
            "account",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )

    assert check("s3-bucket-public-access-block", program) == []


def test_satellites_link_by_literal_bucket_name_without_dependencies():
    def program():
        aws.s3.Bucket("named", bucket="fraud-prod-named")
        aws.s3.Bucket("other", bucket="fraud-prod-other")
        aws.s3.BucketVersioning(
            "named-versioning",
            bucket="fraud-prod-named",
            versioning_configuration={"status": "Enabled"},
        )

    assert names(check("s3-bucket-versioning", program)) == ["other"]


def test_satellites_link_through_property_dependencies_when_the_id_is_unknown():
    def program():
        bucket = aws.s3.Bucket("data")
        # As in a real preview: the bucket's ID is not allocated yet, but the engine knows
        # the value comes from the bucket.
        aws.s3.BucketPublicAccessBlock(
            "data-pab",
            bucket=unknown(bucket),
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )

    inventory = render_program(program)
    pab = next(r for r in inventory.resources if r.name == "data-pab")
    assert pab.inputs["bucket"] == "<computed>"
    assert check("s3-bucket-public-access-block", inventory) == []


def test_an_unknown_bucket_reference_without_dependencies_is_not_guessed():
    def program():
        aws.s3.Bucket("data")
        versioning_target = unknown()  # e.g. a name read from another stack during preview
        aws.s3.BucketVersioning(
            "mystery", bucket=versioning_target, versioning_configuration={"status": "Enabled"}
        )

    with pytest.raises(UnknownValueError):
        check("s3-bucket-versioning", program)


def test_an_unknown_bucket_name_is_not_a_match_candidate():
    def program():
        aws.s3.Bucket("autonamed")
        literal = aws.s3.Bucket("literal", bucket="fraud-prod-literal")
        versioning("literal-versioning", literal)
        aws.s3.BucketVersioning(
            "by-name", bucket="fraud-prod-literal", versioning_configuration={"status": "Enabled"}
        )

    inventory = render_program(program)
    # In a real preview an autonamed bucket's name is not known yet.
    autonamed = next(r for r in inventory.resources if r.name == "autonamed")
    autonamed.inputs["bucket"] = "<computed>"
    assert names(check("s3-bucket-versioning", inventory)) == ["autonamed"]


def test_public_access_block_reports_the_flags_left_off():
    def program():
        public_access_block(
            "pab", aws.s3.Bucket("data"), block_public_policy=False, ignore_public_acls=False
        )

    [violation] = check("s3-bucket-public-access-block", program)
    assert "blockPublicPolicy" in violation.message
    assert "ignorePublicAcls" in violation.message
    assert "blockPublicAcls" not in violation.message


def test_a_second_weak_encryption_config_is_flagged():
    def program():
        bucket = aws.s3.Bucket("data")
        s3_encryption("data-aes", bucket, "AES256")
        aws.s3.BucketServerSideEncryptionConfiguration(
            "data-kms",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": KEY_ARN,
                    }
                }
            ],
        )

    assert names(check("s3-bucket-encryption-cmk", program)) == ["data"]


def test_inline_bucket_policy_counts_for_tls_only():
    def program():
        aws.s3.Bucket(
            "inline",
            bucket="fraud-prod-inline",
            policy=json.dumps(
                {
                    "Statement": {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": ["s3:*"],
                        "Resource": "arn:aws:s3:::fraud-prod-inline/*",
                        "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
                    }
                }
            ),
        )

    assert check("s3-bucket-tls-only", program) == []


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*"},
    ],
)
def test_near_miss_tls_statements_do_not_count(statement):
    assert not denies_insecure_transport({"Statement": [statement]})


def test_public_grants_checks_only_s3_types():
    def program():
        aws.sqs.Queue(
            "queue",
            policy=json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*"}]}
            ),
        )

    assert check("s3-no-public-grants", program) == []


def test_a_tls_only_condition_does_not_make_a_public_bucket_policy_private():
    """`aws:SecureTransport` says how a caller connects, not who it is: anyone may still read."""

    def statement(condition: dict) -> dict:
        return {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::open/*",
            "Condition": condition,
        }

    def program():
        bucket = aws.s3.Bucket("open")
        aws.s3.BucketPolicy(
            "tls-only",
            bucket=bucket.id,
            policy=json.dumps(
                {"Statement": [statement({"Bool": {"aws:SecureTransport": "true"}})]}
            ),
        )
        private = aws.s3.Bucket("org-only")
        aws.s3.BucketPolicy(
            "org-only",
            bucket=private.id,
            policy=json.dumps(
                {"Statement": [statement({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})]}
            ),
        )

    assert names(check("s3-no-public-grants", program)) == ["tls-only"]


def _log_bucket_with_delivery_policy(name: str, service: str = "logging.s3.amazonaws.com"):
    """An access-log bucket whose sources live in another stack: only its policy says so."""
    from components.storage import log_delivery_statement

    logs = aws.s3.Bucket(name, bucket=f"fraud-prod-{name}")
    s3_encryption(f"{name}-sse", logs, "AES256")
    statement = log_delivery_statement(f"arn:aws:s3:::fraud-prod-{name}", "123456789012")
    statement["Principal"] = {"Service": service}
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=logs.id,
        policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return logs


def test_a_log_bucket_is_recognised_by_its_log_delivery_policy():
    def program():
        _log_bucket_with_delivery_policy("access-logs")
        data = aws.s3.Bucket("data")
        s3_encryption("data-sse", data, "AES256")

    # The log bucket's sources are in other stacks; its SSE-S3 is what AWS requires there.
    assert names(check("s3-bucket-encryption-cmk", program)) == ["data"]
    assert names(check("s3-bucket-access-logging", program)) == ["data"]


def test_a_policy_for_another_service_does_not_make_a_log_bucket():
    def program():
        _log_bucket_with_delivery_policy("exports", service="delivery.logs.amazonaws.com")

    assert names(check("s3-bucket-encryption-cmk", program)) == ["exports"]


def test_a_denied_log_delivery_does_not_make_a_log_bucket():
    from governance.storage import admits_log_delivery

    deny = {
        "Effect": "Deny",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
    }
    assert not admits_log_delivery({"Statement": [deny]})
    assert admits_log_delivery({"Statement": [{**deny, "Effect": "Allow"}]})
    assert not admits_log_delivery(
        {"Statement": [{**deny, "Effect": "Allow", "Action": "s3:GetObject"}]}
    )
