"""Monitoring: CloudWatch alarms that page someone, the SNS topics they page through, budgets."""

from __future__ import annotations

from typing import Any

from estate.verify.checks.base import Context, Outcome, Problem, Run, Target, aws_call, policy

ALARM_EXISTS = policy(
    "verify-cloudwatch-alarm-exists",
    "medium",
    "Every CloudWatch alarm the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
ALARM_ACTIONS = policy(
    "verify-cloudwatch-alarm-actions",
    "medium",
    "The alarm has actions enabled and at least one alarm action, so it reaches someone.",
    "Restore the alarm's actions (`pulumi up` reapplies them).",
)
TOPIC_EXISTS = policy(
    "verify-sns-topic-exists",
    "medium",
    "Every SNS topic the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
TOPIC_ENCRYPTION = policy(
    "verify-sns-topic-encryption",
    "medium",
    "The topic is encrypted with a customer KMS key (CloudWatch cannot publish to a topic "
    "encrypted with the AWS managed alias/aws/sns key).",
    "Set the topic's KmsMasterKeyId to the stack's key (`pulumi up` reapplies it).",
)
BUDGET_EXISTS = policy(
    "verify-budget-exists",
    "medium",
    "Every AWS Budgets budget the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)

_AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def _alarms(ctx: Context, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """All declared alarms in batches of 100 (the API's limit), metric and composite alike."""

    def load() -> dict[str, dict[str, Any]]:
        cw = ctx.client("cloudwatch")
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):
            kwargs: dict[str, Any] = {
                "AlarmNames": list(names[start : start + 100]),
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            }
            while True:
                page = aws_call(cw, "describe_alarms", **kwargs)
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    found[alarm["AlarmName"]] = alarm
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return found

    return ctx.cached(("alarms", names), load)


def check_alarm(ctx: Context, target: Target) -> list[Outcome]:
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("cloudwatch", f"alarm:{name}"))
    alarm = run.exists(ALARM_EXISTS, lambda: _alarms(ctx, ctx.alarm_names or (name,)).get(name))
    run.check(ALARM_ACTIONS, lambda: _actions(alarm), "actions enabled")
    return run.outcomes


def _actions(alarm: dict[str, Any]) -> Problem:
    if not alarm.get("ActionsEnabled", True):
        return "has its actions disabled"
    if not alarm.get("AlarmActions"):
        return "has no alarm actions, so nobody is told when it fires"
    return None


def check_topic(ctx: Context, target: Target) -> list[Outcome]:
    sns = ctx.client("sns")
    arn = target.arn or ctx.arn("sns", target.name)
    run = Run(target, resource=arn.rsplit(":", 1)[-1], arn=arn)
    attributes = run.exists(
        TOPIC_EXISTS, lambda: aws_call(sns, "get_topic_attributes", TopicArn=arn)["Attributes"]
    )
    run.check(TOPIC_ENCRYPTION, lambda: _topic_key(attributes), "encrypted with a customer key")
    return run.outcomes


def _topic_key(attributes: dict[str, Any]) -> Problem:
    key = attributes.get("KmsMasterKeyId") or ""
    if not key:
        return "is not encrypted"
    if key == _AWS_MANAGED_SNS_KEY or key.endswith(f":{_AWS_MANAGED_SNS_KEY}"):
        return "is encrypted with the AWS managed key alias/aws/sns, which CloudWatch cannot use"
    return None


def check_budget(ctx: Context, target: Target) -> list[Outcome]:
    budgets = ctx.client("budgets")
    name = target.name
    run = Run(
        target, arn=target.arn or f"arn:{ctx.partition}:budgets::{ctx.account_id}:budget/{name}"
    )
    run.exists(
        BUDGET_EXISTS,
        lambda: aws_call(budgets, "describe_budget", AccountId=ctx.account_id, BudgetName=name)[
            "Budget"
        ],
    )
    return run.outcomes
