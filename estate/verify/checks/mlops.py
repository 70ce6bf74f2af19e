"""The MLOps loop of BU stacks (components/mlops.py, components/model_cards.py,
components/deploy_dispatch.py): retraining queues, the model-package event archive, model cards.

- a retraining queue exists, is under the stack's key, parks failed messages on a dead-letter
  queue, and something sends to it (an EventBridge rule target or a Scheduler schedule);
- the archive exists and keeps the default bus's events (the model-package events for audit);
- a model card exists under the stack's key and, in prod, is `Approved`.
"""

from __future__ import annotations

import json
from typing import Any

from estate.verify.checks.base import (
    Context,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    short_key,
)

QUEUE_EXISTS = policy(
    "verify-sqs-queue-exists",
    "high",
    "Every retraining queue the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
QUEUE_ENCRYPTION = policy(
    "verify-sqs-queue-encryption",
    "high",
    "The queue encrypts messages with the stack's customer KMS key.",
    "Re-run `pulumi up` (it sets KmsMasterKeyId back to the BU key).",
)
QUEUE_DLQ = policy(
    "verify-sqs-queue-dead-letter",
    "medium",
    "The queue moves messages that keep failing to a dead-letter queue (a redrive policy).",
    "Re-run `pulumi up` (it restores the redrive policy to `<queue>-dlq`).",
)
QUEUE_TRIGGERED = policy(
    "verify-sqs-queue-triggered",
    "high",
    "Something sends to the queue: an EventBridge rule targets it or a Scheduler schedule does.",
    "Re-run `pulumi up`; check that nobody deleted the family's rules `<queue>-alarm`, "
    "`<queue>-manual` or its schedule.",
)
ARCHIVE_EXISTS = policy(
    "verify-events-archive-exists",
    "high",
    "The EventBridge archive the outputs declare exists and archives the default event bus.",
    "Re-run `pulumi up`; an archive's events are lost with it, so look for who deleted it.",
)
CARD_EXISTS = policy(
    "verify-sagemaker-model-card-exists",
    "high",
    "Every model card the stack's outputs declare exists.",
    "Re-run `pulumi up` for the stack.",
)
CARD_ENCRYPTION = policy(
    "verify-sagemaker-model-card-encryption",
    "medium",
    "The model card is encrypted with the stack's customer KMS key.",
    "A card's key cannot change in place: recreate it under the BU key (`pulumi up` after "
    "removing it from state keeps its name).",
)
CARD_APPROVED = policy(
    "verify-sagemaker-model-card-approved",
    "high",
    "In prod, the model card's status is Approved (prod endpoints serve carded families only).",
    "Approve the card in its review (`mlops.families.<family>.modelCard.status: Approved` once "
    "the review is done) and re-run `pulumi up`.",
)


def check_queue(ctx: Context, target: Target) -> list[Outcome]:
    sqs = ctx.client("sqs")
    name = target.name
    arn = target.arn or ctx.arn("sqs", name)
    run = Run(target, arn=arn)

    def describe() -> dict[str, Any]:
        url = aws_call(sqs, "get_queue_url", QueueName=name)["QueueUrl"]
        attributes = aws_call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
        return dict(attributes.get("Attributes") or {})

    attributes = run.exists(QUEUE_EXISTS, describe)
    run.check(
        QUEUE_ENCRYPTION,
        lambda: _queue_key(ctx, attributes),
        f"encrypted with {short_key(ctx.key_arn)}",
    )
    run.check(QUEUE_DLQ, lambda: _dead_letter(attributes), "has a dead-letter queue")
    live_arn = (attributes or {}).get("QueueArn") or arn
    run.check(
        QUEUE_TRIGGERED, lambda: _triggered(ctx, live_arn), "a rule or a schedule sends to it"
    )
    return run.outcomes


def _queue_key(ctx: Context, attributes: dict[str, Any]) -> Problem:
    key = attributes.get("KmsMasterKeyId")
    if not key:
        managed = attributes.get("SqsManagedSseEnabled") == "true"
        return "is encrypted with SQS-owned keys only" if managed else "is not encrypted"
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    return None


def _dead_letter(attributes: dict[str, Any]) -> Problem:
    raw = attributes.get("RedrivePolicy")
    redrive = json.loads(raw) if isinstance(raw, str) and raw else {}
    if not redrive.get("deadLetterTargetArn"):
        return "has no redrive policy: a message that keeps failing is retried until it expires"
    return None


def _triggered(ctx: Context, queue_arn: str) -> Problem:
    events = ctx.client("events")
    rules = aws_call(events, "list_rule_names_by_target", TargetArn=queue_arn).get("RuleNames")
    if rules:
        return None
    scheduler = ctx.client("scheduler")
    schedules = aws_call(scheduler, "list_schedules").get("Schedules") or []
    if any((s.get("Target") or {}).get("Arn") == queue_arn for s in schedules):
        return None
    return "no EventBridge rule targets it and no schedule sends to it: nothing starts a retraining"


def check_archive(ctx: Context, target: Target) -> list[Outcome]:
    events = ctx.client("events")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("events", f"archive/{name}"))

    def describe() -> dict[str, Any] | None:
        archive = aws_call(events, "describe_archive", ArchiveName=name)
        bus = ctx.arn("events", "event-bus/default")
        if archive.get("EventSourceArn") != bus or archive.get("State") in ("DISABLED",):
            return None
        return archive

    run.exists(
        ARCHIVE_EXISTS,
        describe,
        missing=f"does not exist or does not archive the default event bus ({target.declared_by})",
    )
    return run.outcomes


def check_model_card(ctx: Context, target: Target) -> list[Outcome]:
    sm = ctx.client("sagemaker")
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("sagemaker", f"model-card/{name}"))
    card = run.exists(CARD_EXISTS, lambda: aws_call(sm, "describe_model_card", ModelCardName=name))
    run.check(
        CARD_ENCRYPTION,
        lambda: _card_key(ctx, card),
        f"encrypted with {short_key(ctx.key_arn)}",
    )
    if ctx.environment == "prod":
        run.check(CARD_APPROVED, lambda: _approved(card), "Approved")
    else:
        run.skip(CARD_APPROVED, f"not required in {ctx.environment}")
    return run.outcomes


def _card_key(ctx: Context, card: dict[str, Any]) -> Problem:
    key = (card.get("SecurityConfig") or {}).get("KmsKeyId")
    if not key:
        return "is encrypted with an AWS-owned key (no SecurityConfig.KmsKeyId)"
    if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
        return (
            f"is encrypted with key {short_key(key)}, not the stack's key {short_key(ctx.key_arn)}"
        )
    return None


def _approved(card: dict[str, Any]) -> Problem:
    status = card.get("ModelCardStatus")
    if status != "Approved":
        return f"is {status or 'without a status'}: a prod endpoint may serve approved cards only"
    return None
