"""MLOps rules: the retraining loop is under the BU's key, complete in prod, and nobody who
registers a model version can approve it.

- `mlops-queue-and-archive-cmk`: retraining queues and their DLQs (tag `Purpose: retraining`) and
  every EventBridge archive are encrypted with a customer-managed key.
- `mlops-prod-family-loop`: every prod model package group has a retraining queue that some
  trigger (an EventBridge target or a Scheduler schedule) sends to, and an `Approved` model card.
- `mlops-registrar-cannot-approve`: no role whose policies let it register model versions
  (`sagemaker:CreateModelPackage`) can approve one, by `UpdateModelPackage` or by registering it
  `Approved` straight away.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import BLOCK_FROM_STAGING, PROD_ONLY, Rule, Settings
from .linking import known_names, linked, of_types
from .properties import (
    as_list,
    is_customer_managed_key,
    json_document,
    statements,
    string_map,
    text,
)

QUEUE = "aws:sqs/queue:Queue"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
PURPOSE_TAG = "Purpose"
RETRAINING = "retraining"
GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
CARD = "aws:sagemaker/modelCard:ModelCard"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY = "aws:iam/policy:Policy"
FAMILY_TAG = "ai-estate/model-family"
"""The tag RetrainingLoop, ModelRegistry and ModelCards put on a family's resources."""


# -- mlops-queue-and-archive-cmk ------------------------------------------------------------


def _tags(props: Mapping[str, Any]) -> dict[str, str]:
    return {**string_map(props.get("tagsAll")), **string_map(props.get("tags"))}


def _is_retraining_queue(props: Mapping[str, Any]) -> bool:
    """Tagged `Purpose: retraining`, or named as RetrainingLoop names them (`...-retrain`,
    `...-retrain-dlq`)."""
    name = text(props.get("name"))
    return (
        _tags(props).get(PURPOSE_TAG) == RETRAINING
        or name.endswith("-retrain")
        or "-retrain-" in name
    )


def validate_queue_and_archive_cmk(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if args.resource_type == ARCHIVE:
        if not is_customer_managed_key(args.props.get("kmsKeyIdentifier")):
            report(
                f"EventBridge archive '{args.name}' is encrypted with an AWS-owned key "
                "(kmsKeyIdentifier names no customer-managed key).",
                None,
            )
        return
    resource: Mapping[str, Any] = args.props
    if not _is_retraining_queue(resource):
        return
    if not is_customer_managed_key(resource.get("kmsMasterKeyId")):
        report(
            f"Retraining queue '{args.name}' is not encrypted with a customer-managed key "
            "(kmsMasterKeyId).",
            None,
        )


# -- mlops-prod-family-loop -----------------------------------------------------------------


def _family_of(resource: PolicyResource) -> str:
    """The family tag, or else the resource's own name (a package group's or a card's)."""
    props = resource.props
    return _tags(props).get(FAMILY_TAG) or text(
        props.get("modelPackageGroupName") or props.get("modelCardName") or props.get("name")
    )


def _belongs(resource: PolicyResource, group: PolicyResource) -> bool:
    group_name = text(group.props.get("modelPackageGroupName"))
    family = _family_of(group)
    tagged = _tags(resource.props).get(FAMILY_TAG)
    if tagged:
        return tagged == family
    name = text(resource.props.get("name") or resource.props.get("modelCardName"))
    return bool(group_name) and (name == group_name or name.startswith(f"{group_name}-"))


def _triggered(queue: PolicyResource, resources: list[PolicyResource]) -> bool:
    """Some EventBridge target (by `arn`) or Scheduler schedule (by `target`) sends to it."""
    targets = {queue.urn: queue}
    arns = lambda q: known_names(q, ("arn",))  # noqa: E731
    if any(linked(t, "arn", targets, arns) for t in of_types(resources, (EVENT_TARGET,))):
        return True
    for schedule in of_types(resources, (SCHEDULE,)):
        deps = schedule.property_dependencies.get("target") or []
        if any(d.urn == queue.urn for d in deps):
            return True
        target = schedule.props.get("target")
        if isinstance(target, Mapping) and text(target.get("arn")) in arns(queue):
            return True
    return False


def validate_prod_family_loop(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    queues = [
        q
        for q in of_types(resources, (QUEUE,))
        if _is_retraining_queue(q.props) and not text(q.props.get("name")).endswith("-dlq")
    ]
    cards = of_types(resources, (CARD,))
    for group in of_types(resources, (GROUP,)):
        family = _family_of(group)
        mine = [q for q in queues if _belongs(q, group)]
        if not mine:
            report(
                f"Model family '{family}' ({group.name}) has no retraining queue (tag "
                f"{PURPOSE_TAG}={RETRAINING}, {FAMILY_TAG}={family}).",
                group.urn,
            )
        elif not any(_triggered(q, resources) for q in mine):
            report(
                f"The retraining queue of model family '{family}' has no trigger (no EventBridge "
                "target or Scheduler schedule sends to it).",
                group.urn,
            )
        statuses = {text(c.props.get("modelCardStatus")) for c in cards if _belongs(c, group)}
        if "Approved" not in statuses:
            found = ", ".join(sorted(s for s in statuses if s)) or "none"
            report(
                f"Model family '{family}' ({group.name}) has no Approved model card (found: "
                f"{found}).",
                group.urn,
            )


# -- mlops-registrar-cannot-approve ---------------------------------------------------------

REGISTER = "sagemaker:CreateModelPackage"
APPROVE = "sagemaker:UpdateModelPackage"
STATUS_KEY = "sagemaker:modelapprovalstatus"
APPROVED = "Approved"


def _matches(pattern: str, action: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_matches(str(a), action) for a in as_list(statement["NotAction"]))
    return any(_matches(str(a), action) for a in as_list(statement.get("Action")))


def _status_values(statement: Mapping[str, Any], operators: Iterable[str]) -> list[str] | None:
    """The values the statement's condition compares `sagemaker:ModelApprovalStatus` with
    under any of `operators` (None: no such test)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return None
    for operator, tests in condition.items():
        if str(operator).removeprefix("ForAnyValue:").removeprefix("ForAllValues:") not in set(
            operators
        ):
            continue
        if not isinstance(tests, Mapping):
            continue
        for key, values in tests.items():
            if str(key).lower() == STATUS_KEY:
                return [str(v) for v in as_list(values)]
    return None


def _allow_approves(statement: Mapping[str, Any]) -> bool:
    """An Allow of the action grants `Approved` unless its condition pins the status to others."""
    only = _status_values(statement, ("StringEquals", "StringLike"))
    return only is None or any(_matches(v, APPROVED) for v in only)


def _deny_blocks_approval(statement: Mapping[str, Any]) -> bool:
    """A Deny that applies when the status is `Approved` (unconditioned, or `StringNotEquals`
    other values, or `StringEquals` Approved), whatever else its condition tests (`Null`)."""
    if not statement.get("Condition"):
        return True
    others = _status_values(statement, ("StringNotEquals", "StringNotLike"))
    if others is not None:
        return not any(_matches(v, APPROVED) for v in others)
    pinned = _status_values(statement, ("StringEquals", "StringLike"))
    return pinned is not None and any(_matches(v, APPROVED) for v in pinned)


def approval_paths(documents: Iterable[Mapping[str, Any]]) -> tuple[bool, list[str]]:
    """(registers, the ways it can approve) of one principal's permission documents."""
    all_statements = [s for d in documents for s in statements(d)]
    allows = [s for s in all_statements if text(s.get("Effect")) == "Allow"]
    denies = [s for s in all_statements if text(s.get("Effect")) == "Deny"]
    registers = any(_names_action(s, REGISTER) for s in allows)
    ways = []
    for action, how in ((REGISTER, "registering a version Approved"), (APPROVE, APPROVE)):
        granted = any(_names_action(s, action) and _allow_approves(s) for s in allows)
        blocked = any(_names_action(s, action) and _deny_blocks_approval(s) for s in denies)
        if granted and not blocked:
            ways.append(how)
    return registers, ways


def _role_documents(role: PolicyResource, resources: list[PolicyResource]) -> list[dict[str, Any]]:
    targets = {role.urn: role}
    names = lambda r: known_names(r, ("name", "id", "arn"))  # noqa: E731
    documents = [
        d
        for d in (
            json_document(i.get("policy"))
            for i in as_list(role.props.get("inlinePolicies"))
            if isinstance(i, Mapping)
        )
        if d
    ]
    for rp in of_types(resources, (ROLE_POLICY,)):
        if linked(rp, "role", targets, names):
            document = json_document(rp.props.get("policy"))
            if document:
                documents.append(document)
    policies = {p.urn: p for p in of_types(resources, (POLICY,))}
    for attachment in of_types(resources, (ATTACHMENT,)):
        if not linked(attachment, "role", targets, names):
            continue
        arns = lambda p: known_names(p, ("arn",))  # noqa: E731
        for policy in linked(attachment, "policyArn", policies, arns):
            document = json_document(policy.props.get("policy"))
            if document:
                documents.append(document)
    return documents


def validate_registrar_cannot_approve(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    for role in of_types(resources, (ROLE,)):
        registers, ways = approval_paths(_role_documents(role, resources))
        if registers and ways:
            report(
                f"Role '{role.name}' registers model versions ({REGISTER}) and can approve them "
                f"({'; '.join(ways)}).",
                role.urn,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        id="mlops-queue-and-archive-cmk",
        title="Retraining queues and EventBridge archives use a customer-managed key",
        description="Every retraining queue and its DLQ, and every EventBridge archive, is "
        "encrypted with a customer-managed KMS key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set `kms_master_key_id` on the aws.sqs.Queue and `kms_key_identifier` on "
        "the aws.cloudwatch.EventArchive to the BU's key (RetrainingLoop does).",
        kind="resource",
        validate=validate_queue_and_archive_cmk,
        resource_types=frozenset({QUEUE, ARCHIVE}),
        domain="mlops",
        rationale="Retraining messages name model versions and data locations, and the archive "
        "keeps every model-package event for audit; under the BU key, other BUs in the account "
        "cannot read or replay them. Security Hub SQS.1 asks for queue encryption at rest but "
        "accepts SSE-SQS, so it is not cited.",
    ),
    Rule(
        id="mlops-prod-family-loop",
        title="Prod model families are retrained and carded",
        description="Every prod model package group has a retraining queue that an EventBridge "
        "target or a Scheduler schedule sends to, and an Approved SageMaker model card.",
        severity="high",
        enforcement=PROD_ONLY,
        remediation="Give the family `ai-estate:mlops.families.<family>.retraining` (a schedule or "
        "onAlarms) and a `modelCard` with `status: Approved` (RetrainingLoop and ModelCards "
        "build them). A hand-written program adds an aws.sqs.Queue tagged "
        "`Purpose: retraining` and `ai-estate/model-family: <family>` (or named "
        "`<group>-retrain`) with an aws.cloudwatch.EventTarget or aws.scheduler.Schedule "
        "sending to it, and an aws.sagemaker.ModelCard named as the group.",
        kind="stack",
        validate=validate_prod_family_loop,
        domain="mlops",
        rationale="A prod model without a retraining trigger degrades silently once its data "
        "drifts, and one without an approved card has no recorded intended use, risk rating or "
        "owners for the model risk review that prod requires.",
    ),
    Rule(
        id="mlops-registrar-cannot-approve",
        title="Whoever registers a model version cannot approve it",
        description="No role whose policies allow sagemaker:CreateModelPackage can approve a "
        "model version: neither sagemaker:UpdateModelPackage nor CreateModelPackage with "
        "ModelApprovalStatus Approved.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Keep registering (model-publisher, model-trainer) and approving "
        "(model-approver persona) in separate roles; on a registering role, deny "
        "sagemaker:UpdateModelPackage and deny CreateModelPackage unless "
        "sagemaker:ModelApprovalStatus is PendingManualApproval (components/model_registry.py "
        "self_approval_guard_statement).",
        kind="stack",
        validate=validate_registrar_cannot_approve,
        domain="mlops",
        rationale="Separation of duties: the job that trains a candidate must not be able to "
        "put it in production. An approval is what the deploy path acts on, so a role that "
        "does both turns the human approval into a formality.",
    ),
)
