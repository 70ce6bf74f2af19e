"""Audit rules: CloudTrail selector matching as CloudTrail documents it, good and bad programs."""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from policy_harness import check, names
from policy_programs import KEY_ARN, OWNERSHIP_TAGS
from test_governance_compute import Case

FS = aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs


def data_bucket():
    aws.s3.Bucket("data", bucket="fraud-data", tags=OWNERSHIP_TAGS)


def trail(*selectors, basic=None, validation=True, key=KEY_ARN):
    aws.cloudtrail.Trail(
        "trail",
        name="trail",
        s3_bucket_name="fraud-audit",
        kms_key_id=key,
        enable_log_file_validation=validation,
        advanced_event_selectors=list(selectors) or None,
        event_selectors=basic,
        tags=OWNERSHIP_TAGS,
    )


def s3_selector(*extra, **arn):
    return aws.cloudtrail.TrailAdvancedEventSelectorArgs(
        field_selectors=[
            FS(field="eventCategory", equals=["Data"]),
            FS(field="resources.type", equals=["AWS::S3::Object"]),
            *([FS(field="resources.ARN", **arn)] if arn else []),
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("selector", "covered"),
    [
        (s3_selector(starts_withs=["arn:aws:s3:::fraud-data/"]), True),
        (s3_selector(), True),  # every object in the account
        (s3_selector(starts_withs=["arn:aws:s3:::fraud-data/features/"]), False),  # a prefix only
        (s3_selector(equals=["arn:aws:s3:::fraud-data/one.parquet"]), False),  # one object
        (s3_selector(starts_withs=["arn:aws:s3:::other/"]), False),
        (s3_selector(not_starts_withs=["arn:aws:s3:::fraud-data/"]), False),
        (s3_selector(FS(field="readOnly", equals=["false"])), False),  # writes only
        (s3_selector(FS(field="readOnly", equals=["true"])), True),
        (s3_selector(FS(field="eventName", equals=["PutObject"])), False),
    ],
)
def test_s3_object_selectors_match_as_cloudtrail_does(selector, covered):
    def program():
        data_bucket()
        trail(selector)

    found = names(check("cloudtrail-covers-data-stores", program))
    assert found == ([] if covered else ["data"])


def test_basic_selectors_count_when_they_record_reads():
    def program(rw: str, values: list[str]):
        def inner():
            data_bucket()
            trail(
                basic=[
                    aws.cloudtrail.TrailEventSelectorArgs(
                        read_write_type=rw,
                        data_resources=[
                            aws.cloudtrail.TrailEventSelectorDataResourceArgs(
                                type="AWS::S3::Object", values=values
                            )
                        ],
                    )
                ]
            )

        return inner

    assert check("cloudtrail-covers-data-stores", program("All", ["arn:aws:s3"])) == []
    assert (
        check("cloudtrail-covers-data-stores", program("ReadOnly", ["arn:aws:s3:::fraud-data/"]))
        == []
    )
    assert names(check("cloudtrail-covers-data-stores", program("WriteOnly", ["arn:aws:s3"]))) == [
        "data"
    ]


def test_a_table_is_covered_by_its_arn_even_before_the_arn_is_known():
    def program(value: str):
        def inner():
            aws.dynamodb.Table(
                "velocity",
                name="fraud-prod-velocity",
                hash_key="id",
                attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
                billing_mode="PAY_PER_REQUEST",
                tags=OWNERSHIP_TAGS,
            )
            trail(
                aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                    field_selectors=[
                        FS(field="eventCategory", equals=["Data"]),
                        FS(field="resources.type", equals=["AWS::DynamoDB::Table"]),
                        FS(field="resources.ARN", equals=[value]),
                    ]
                )
            )

        return inner

    good = "arn:aws:dynamodb:us-east-1:123456789012:table/fraud-prod-velocity"
    assert check("cloudtrail-covers-data-stores", program(good)) == []
    other = good.replace("fraud-prod-velocity", "marketing-prod-velocity")
    assert names(check("cloudtrail-covers-data-stores", program(other))) == ["velocity"]


def test_log_buckets_are_not_data():
    def program():
        aws.s3.Bucket("audit", bucket="fraud-audit", tags=OWNERSHIP_TAGS)
        trail()

    assert check("cloudtrail-covers-data-stores", program) == []


def _uncovered():
    data_bucket()
    trail()


def _covered():
    data_bucket()
    trail(s3_selector(starts_withs=["arn:aws:s3:::fraud-data/"]))


AUDIT_CASES: dict[str, Case] = {
    "cloudtrail-covers-data-stores": Case(_uncovered, {"data"}, _covered),
    "cloudtrail-log-integrity": Case(
        lambda: trail(validation=False), {"trail"}, lambda: trail(validation=True)
    ),
}


@pytest.mark.parametrize("rule_id", sorted(AUDIT_CASES))
def test_audit_cases(rule_id):
    case = AUDIT_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []


def test_unencrypted_trail_is_caught():
    assert names(check("cloudtrail-log-integrity", lambda: trail(key=None))) == ["trail"]
