"""MLOps rules: CMKs on the retraining loop's queues and archive; good and bad programs built from
the SDK resources RetrainingLoop uses."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from policy_harness import check, names
from policy_programs import KEY_ARN, OWNERSHIP_TAGS
from test_governance_compute import Case

ACCOUNT = "123456789012"


def family_tags(family: str = "card-fraud", **extra: str) -> dict[str, str]:
    return {**OWNERSHIP_TAGS, "ModelFamily": family, **extra}


def queue(family: str = "card-fraud", key: str | None = KEY_ARN, tagged: bool = True):
    tags = family_tags(family, Purpose="retraining") if tagged else OWNERSHIP_TAGS
    dlq = aws.sqs.Queue(
        f"dlq-{family}", name=f"fraud-prod-retrain-{family}-dlq", kms_master_key_id=key, tags=tags
    )
    return aws.sqs.Queue(
        f"queue-{family}",
        name=f"fraud-prod-retrain-{family}",
        kms_master_key_id=key,
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        ),
        tags=tags,
    )


# -- CMK on queues and archives -------------------------------------------------------------


def _plain_queues():
    queue(key=None)
    queue("aws-managed", key="alias/aws/sqs")
    aws.cloudwatch.EventArchive(
        "archive", name="fraud-prod-model-packages", event_source_arn="arn:aws:events:x"
    )


def _keyed_queues():
    queue()
    aws.sqs.Queue("unrelated", name="ingest", kms_master_key_id=KEY_ARN, tags=OWNERSHIP_TAGS)
    aws.cloudwatch.EventArchive(
        "archive",
        name="fraud-prod-model-packages",
        event_source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default",
        kms_key_identifier=KEY_ARN,
    )


def test_unkeyed_retraining_queues_and_archives_are_caught():
    found = names(check("mlops-queue-and-archive-cmk", _plain_queues))
    assert set(found) == {
        "queue-card-fraud",
        "dlq-card-fraud",
        "queue-aws-managed",
        "dlq-aws-managed",
        "archive",
    }


MLOPS_CASES: dict[str, Case] = {
    "mlops-queue-and-archive-cmk": Case(
        _plain_queues,
        {"queue-card-fraud", "dlq-card-fraud", "queue-aws-managed", "dlq-aws-managed", "archive"},
        _keyed_queues,
    ),
}


@pytest.mark.parametrize("rule_id", sorted(MLOPS_CASES))
def test_mlops_cases(rule_id):
    case = MLOPS_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []
