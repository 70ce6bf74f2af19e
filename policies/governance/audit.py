"""Audit rules: reads of every data store are recorded by a CloudTrail trail of its stack.

A store counts as covered when one of the stack's logging trails records every read of it, by
CloudTrail's own matching rules (CloudTrail user guide, "Filtering data events by using advanced
event selectors"):

- the selectors of a trail are ORed; within a selector, field selectors are ANDed;
- within a field selector the positive operators (`equals`, `startsWiths`, `endsWiths`) are ORed
  and the negative ones (`notEquals`, `notStartsWiths`, `notEndsWiths`) are ANDed;
- a selector records every read of a store when `eventCategory` admits `Data`, `resources.type`
  admits the store's type, `resources.ARN` admits the store (for S3, every object: a
  `startsWiths` value that is a prefix of `arn:aws:s3:::<bucket>/`), `readOnly` (if present)
  admits `true`, and no `eventName`/`eventSource` restriction narrows it.

Basic event selectors (`eventSelectors[].dataResources`) count the same way: `ReadOnly` or
`All`, with a value naming the store, the bucket prefix or the whole service (`arn:aws:s3`).
A store's ARN that is not known yet is matched through its physical name. An unknown partition,
region or account takes the selector value's own, because the trail is in the stack's account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .backup import TABLE, candidate_arns, data_stores
from .catalog import BLOCK_IN_PROD, Rule, Settings, cis, securityhub
from .linking import of_types
from .properties import as_list, get, is_true, text
from .storage import BUCKET_TYPES

TRAIL = "aws:cloudtrail/trail:Trail"
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"

EVENT_TYPES: Mapping[str, str] = {
    TABLE: "AWS::DynamoDB::Table",
    FEATURE_GROUP: "AWS::SageMaker::FeatureGroup",
}
"""Store type -> CloudTrail's `resources.type` for its data events (S3: `AWS::S3::Object`)."""

_POSITIVE = ("equals", "startsWiths", "endsWiths")
_NEGATIVE = ("notEquals", "notStartsWiths", "notEndsWiths")
_NARROWING = ("eventName", "eventSource", "eventType", "userIdentity.arn", "errorcode")


def _fill(candidate: tuple[str | None, ...], value: str) -> str:
    """The candidate ARN as text, unknown segments taken from the selector value's."""
    theirs = value.split(":", 5)
    return ":".join(
        seg if seg is not None else (theirs[i] if i < len(theirs) else "")
        for i, seg in enumerate(candidate)
    )


def _admits(op: str, value: str, arn: str, *, objects: bool) -> bool:
    """Whether `op value` admits every event on the store whose ARN (or object prefix) is arn."""
    if op == "equals":
        return not objects and arn == value
    if op == "startsWiths":
        return arn.startswith(value)
    if op == "endsWiths":
        return value == "" or (not objects and arn.endswith(value))
    return False


def _excludes(op: str, value: str, arn: str, *, objects: bool) -> bool:
    """Whether a negative `op value` takes away some events on the store."""
    if op == "notEquals":
        return arn == value
    if op == "notStartsWiths":
        return arn.startswith(value) or (objects and value.startswith(arn))
    if op == "notEndsWiths":
        return arn.endswith(value) or objects
    return False


def _field_admits(field: Any, candidates: list[tuple[str | None, ...]], objects: bool) -> bool:
    positives = [(op, text(v)) for op in _POSITIVE for v in as_list(get(field, op))]
    negatives = [(op, text(v)) for op in _NEGATIVE for v in as_list(get(field, op))]
    for candidate in candidates:
        values = [v for _, v in positives + negatives] or [""]
        for value in values:
            arn = _fill(candidate, value)
            if positives and not any(_admits(op, v, arn, objects=objects) for op, v in positives):
                continue
            if any(_excludes(op, v, arn, objects=objects) for op, v in negatives):
                continue
            return True
    return False


def _values_admit(field: Any, wanted: str) -> bool:
    """A plain field (eventCategory, resources.type, readOnly) admits one value."""
    positives = [(op, text(v)) for op in _POSITIVE for v in as_list(get(field, op))]
    negatives = [(op, text(v)) for op in _NEGATIVE for v in as_list(get(field, op))]
    ok = not positives or any(_admits(op, v, wanted, objects=False) for op, v in positives)
    return ok and not any(_excludes(op, v, wanted, objects=False) for op, v in negatives)


def _store_event(store: PolicyResource) -> tuple[str, list[tuple[str | None, ...]], bool]:
    """(resources.type, candidate ARNs, whether the ARNs are object prefixes) of a store."""
    if store.resource_type in BUCKET_TYPES:
        prefixes = [(*a[:5], f"{a[5]}/") for a in candidate_arns(store)]
        return "AWS::S3::Object", prefixes, True
    if store.resource_type == FEATURE_GROUP:
        arns: list[tuple[str | None, ...]] = []
        arn = store.props.get("arn")
        if isinstance(arn, str) and len(parts := arn.split(":", 5)) == 6:
            arns.append(tuple(parts))
        name = store.props.get("featureGroupName")
        if isinstance(name, str) and name:
            arns.append(("arn", None, "sagemaker", None, None, f"feature-group/{name}"))
        return EVENT_TYPES[FEATURE_GROUP], arns, False
    return EVENT_TYPES.get(store.resource_type, ""), candidate_arns(store), False


def _advanced_covers(selector: Any, store: PolicyResource) -> bool:
    event_type, arns, objects = _store_event(store)
    fields = {text(get(f, "field")): f for f in as_list(get(selector, "fieldSelectors"))}
    if any(name in fields for name in _NARROWING):
        return False
    if "eventCategory" not in fields or not _values_admit(fields["eventCategory"], "Data"):
        return False
    if "resources.type" not in fields or not _values_admit(fields["resources.type"], event_type):
        return False
    if "readOnly" in fields and not _values_admit(fields["readOnly"], "true"):
        return False
    return "resources.ARN" not in fields or _field_admits(fields["resources.ARN"], arns, objects)


def _basic_covers(selector: Any, store: PolicyResource) -> bool:
    if text(get(selector, "readWriteType") or "All") not in ("All", "ReadOnly"):
        return False
    event_type, arns, objects = _store_event(store)
    for resource in as_list(get(selector, "dataResources")):
        if text(get(resource, "type")) != event_type:
            continue
        for value in as_list(get(resource, "values")):
            v = text(value)
            service_wide = v.count(":") == 2  # arn:aws:s3, arn:aws:dynamodb
            if service_wide or any(
                _admits("startsWiths" if objects else "equals", v, _fill(a, v), objects=objects)
                for a in arns
            ):
                return True
    return False


def trail_covers(trail: PolicyResource, store: PolicyResource) -> bool:
    """Whether a logging trail records every read of `store`."""
    if trail.props.get("enableLogging") is False:
        return False
    return any(
        _advanced_covers(s, store) for s in as_list(trail.props.get("advancedEventSelectors"))
    ) or any(_basic_covers(s, store) for s in as_list(trail.props.get("eventSelectors")))


def audited_stores(resources: list[PolicyResource]) -> list[PolicyResource]:
    """The stack's data stores whose reads must be recorded: tables, data buckets, file
    systems and databases (as backup counts them), and feature groups with an online store."""
    stores = [s for s in data_stores(resources) if s.resource_type in (*BUCKET_TYPES, TABLE)]
    stores += [
        g
        for g in of_types(resources, (FEATURE_GROUP,))
        if is_true(get(g.props, "onlineStoreConfig", "enableOnlineStore"))
    ]
    return stores


def unaudited(resources: list[PolicyResource]) -> list[PolicyResource]:
    """The stores no trail of the stack records every read of."""
    trails = of_types(resources, (TRAIL,))
    return [s for s in audited_stores(resources) if not any(trail_covers(t, s) for t in trails)]


def validate_trail_coverage(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    kinds = {TABLE: "DynamoDB table", FEATURE_GROUP: "feature group"}
    for store in unaudited(list(args.resources)):
        kind = kinds.get(store.resource_type, "S3 bucket")
        report(
            f"{kind} '{store.name}' has no CloudTrail data-event selector recording its reads "
            "(advanced or basic selectors of a logging trail in this stack).",
            store.urn,
        )


def validate_trail_validation(args: Any, report: ReportViolation, settings: Settings) -> None:
    if not is_true(args.props.get("enableLogFileValidation")):
        report(f"CloudTrail trail '{args.name}' has log file validation off.", None)
    if not text(args.props.get("kmsKeyId")):
        report(f"CloudTrail trail '{args.name}' does not encrypt its log files with KMS.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="cloudtrail-covers-data-stores",
        title="Reads of every data store are recorded",
        description="Every data bucket, table and online feature group has a CloudTrail "
        "data-event selector of its stack recording its reads.",
        severity="high",
        enforcement=BLOCK_IN_PROD,
        remediation="Keep `ai-estate:audit.enabled: true` (the default); a hand-written program "
        "adds an aws.cloudtrail.Trail whose advanced event selectors name the store.",
        kind="stack",
        validate=validate_trail_coverage,
        frameworks=(cis("3.11"), securityhub("S3.23")),
        domain="audit",
        rationale="Management events show who changed a store, never who read it; for "
        "confidential data the question after an incident is who read what. Access-log and "
        "trail buckets are logs, not data. CIS 3.11 (v1.4.0) and Security Hub S3.23 ask for "
        "object-level read events on S3; this rule asks the same of tables and feature groups. "
        "It does not ask for write events, so it does not implement CIS 3.10 or S3.22.",
    ),
    Rule(
        id="cloudtrail-log-integrity",
        title="Trails validate and encrypt their log files",
        description="Every CloudTrail trail has log file validation on and encrypts its log "
        "files with a KMS key.",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation="Set `enable_log_file_validation=True` and `kms_key_id` on the trail.",
        kind="resource",
        validate=validate_trail_validation,
        resource_types=frozenset({TRAIL}),
        frameworks=(
            cis("3.2"),
            cis("3.7"),
            securityhub("CloudTrail.4"),
            securityhub("CloudTrail.2"),
        ),
        domain="audit",
        rationale="Without validation a deleted or edited log file goes unnoticed; without "
        "SSE-KMS anyone who can read the bucket reads who accessed what.",
    ),
)
