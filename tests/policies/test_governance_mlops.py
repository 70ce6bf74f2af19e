"""MLOps rules: CMKs on the retraining loop's queues and archive, the prod loop per family,
separation of registering and approving; good and bad programs built from the SDK resources
RetrainingLoop, ModelRegistry, ModelCards and BuAccess use."""

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
    # untagged, recognised by RetrainingLoop's name (`<prefix>-<family>-retrain`)
    aws.sqs.Queue("untagged", name="fraud-prod-card-fraud-retrain", tags=OWNERSHIP_TAGS)
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
        "untagged",
        "archive",
    }


# -- the prod loop per family ------------------------------------------------------------------


def group(family: str) -> aws.sagemaker.ModelPackageGroup:
    return aws.sagemaker.ModelPackageGroup(
        f"group-{family}",
        model_package_group_name=f"fraud-prod-{family}",
        tags={**OWNERSHIP_TAGS, "ai-estate/model-family": family},
    )


def card(family: str, status: str = "Approved") -> aws.sagemaker.ModelCard:
    return aws.sagemaker.ModelCard(
        f"card-{family}",
        model_card_name=f"fraud-prod-{family}",
        model_card_status=status,
        content="{}",
        security_config=aws.sagemaker.ModelCardSecurityConfigArgs(kms_key_id=KEY_ARN),
        tags=OWNERSHIP_TAGS,
    )


def loop_queue(family: str, tagged: bool = True) -> aws.sqs.Queue:
    tags = {**OWNERSHIP_TAGS, "Purpose": "retraining", "ai-estate/model-family": family}
    return aws.sqs.Queue(
        f"retrain-{family}",
        name=f"fraud-prod-{family}-retrain",
        kms_master_key_id=KEY_ARN,
        tags=tags if tagged else OWNERSHIP_TAGS,
    )


def _incomplete_loops():
    group("no-queue")
    card("no-queue")
    group("no-trigger")
    loop_queue("no-trigger")
    card("no-trigger")
    group("draft-card")
    q = loop_queue("draft-card", tagged=False)  # recognised by its name
    rule = aws.cloudwatch.EventRule(
        "rule-draft-card", event_pattern='{"source": ["ai-estate.mlops"]}', tags=OWNERSHIP_TAGS
    )
    aws.cloudwatch.EventTarget("target-draft-card", rule=rule.name, arn=q.arn)
    card("draft-card", status="Draft")


def _complete_loops():
    # one family triggered by an EventBridge rule, one by a schedule
    group("card-fraud")
    q = loop_queue("card-fraud")
    rule = aws.cloudwatch.EventRule(
        "rule-card-fraud", event_pattern='{"source": ["ai-estate.mlops"]}', tags=OWNERSHIP_TAGS
    )
    aws.cloudwatch.EventTarget("target-card-fraud", rule=rule.name, arn=q.arn)
    card("card-fraud")
    group("merchant-risk")
    q2 = loop_queue("merchant-risk")
    aws.scheduler.Schedule(
        "schedule-merchant-risk",
        schedule_expression="rate(7 days)",
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(
            arn=q2.arn, role_arn=f"arn:aws:iam::{ACCOUNT}:role/scheduler"
        ),
    )
    card("merchant-risk")


def test_each_gap_of_a_prod_loop_is_named():
    messages = [v.message for v in check("mlops-prod-family-loop", _incomplete_loops)]
    assert any("'no-queue'" in m and "no retraining queue" in m for m in messages)
    assert any("'no-trigger'" in m and "has no trigger" in m for m in messages)
    assert any("'draft-card'" in m and "found: Draft" in m for m in messages)
    assert len(messages) == 3


# -- registering and approving ----------------------------------------------------------------

PENDING_ONLY = {
    "Sid": "DenySelfApproval",
    "Effect": "Deny",
    "Action": "sagemaker:CreateModelPackage",
    "Resource": "*",
    "Condition": {
        "Null": {"sagemaker:ModelApprovalStatus": "false"},
        "StringNotEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"},
    },
}
GROUP_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package*/fraud-prod-*"


def role_with(name: str, *statement_sets: list[dict]) -> aws.iam.Role:
    role = aws.iam.Role(
        name,
        name=f"fraud-prod-{name}",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "pods.eks.amazonaws.com"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
        tags=OWNERSHIP_TAGS,
    )
    for i, stmts in enumerate(statement_sets):
        aws.iam.RolePolicy(
            f"{name}-policy-{i}",
            role=role.id,
            policy=json.dumps({"Version": "2012-10-17", "Statement": stmts}),
        )
    return role


def allow(*actions: str, condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": GROUP_ARN}
    return {**statement, "Condition": condition} if condition else statement


def _self_approvers():
    # registers and approves, in two policies of one role
    role_with(
        "two-hats",
        [allow("sagemaker:CreateModelPackage")],
        [PENDING_ONLY],
        [allow("sagemaker:UpdateModelPackage")],
    )
    # registers with no guard on the status: may register a version Approved
    role_with("unguarded", [allow("sagemaker:CreateModelPackage")])
    # a service wildcard covers both
    role_with("wildcard", [allow("sagemaker:*")])
    # a managed policy attached to the role does the approving
    role = role_with("attached", [allow("sagemaker:CreateModelPackage"), PENDING_ONLY])
    approve = aws.iam.Policy(
        "approve",
        policy=json.dumps({"Version": "2012-10-17", "Statement": [allow("sagemaker:Update*")]}),
        tags=OWNERSHIP_TAGS,
    )
    aws.iam.RolePolicyAttachment("attached-approve", role=role.name, policy_arn=approve.arn)


def _separated_duties():
    # the publisher: registers pending only, approval denied
    role_with(
        "publisher",
        [
            allow("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"),
            PENDING_ONLY,
            {"Effect": "Deny", "Action": "sagemaker:UpdateModelPackage", "Resource": "*"},
        ],
    )
    # registering pinned to pending by the allow's own condition
    role_with(
        "pinned",
        [
            allow(
                "sagemaker:CreateModelPackage",
                condition={
                    "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
                },
            )
        ],
    )
    # the approver approves but registers nothing; the gate may only reject
    role_with("approver", [allow("sagemaker:UpdateModelPackage")])
    role_with(
        "gate",
        [
            allow(
                "sagemaker:UpdateModelPackage",
                condition={"StringEquals": {"sagemaker:ModelApprovalStatus": "Rejected"}},
            )
        ],
    )


def test_every_way_a_registrar_approves_is_named():
    found = {
        v.resource_name: v.message for v in check("mlops-registrar-cannot-approve", _self_approvers)
    }
    assert set(found) == {"two-hats", "unguarded", "wildcard", "attached"}
    assert "sagemaker:UpdateModelPackage" in found["two-hats"]
    assert "registering a version Approved" not in found["two-hats"]
    assert found["unguarded"].endswith("(registering a version Approved).")
    assert "sagemaker:UpdateModelPackage" in found["attached"]


MLOPS_CASES: dict[str, Case] = {
    "mlops-prod-family-loop": Case(
        _incomplete_loops,
        {"group-no-queue", "group-no-trigger", "group-draft-card"},
        _complete_loops,
    ),
    "mlops-registrar-cannot-approve": Case(
        _self_approvers, {"two-hats", "unguarded", "wildcard", "attached"}, _separated_duties
    ),
    "mlops-queue-and-archive-cmk": Case(
        _plain_queues,
        {
            "queue-card-fraud",
            "dlq-card-fraud",
            "queue-aws-managed",
            "dlq-aws-managed",
            "untagged",
            "archive",
        },
        _keyed_queues,
    ),
}


@pytest.mark.parametrize("rule_id", sorted(MLOPS_CASES))
def test_mlops_cases(rule_id):
    case = MLOPS_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []
