"""The BU's data-event trail (components/audit.py): who read what, recorded and tamper-evident.

- the trail exists and is logging (`GetTrailStatus` `IsLogging`: a stopped trail records
  nothing, and stopping it is one API call);
- log file validation is on (a deleted or altered log file shows in `validate-logs`);
- its log files are encrypted with the stack's key, or with the central log archive's key when
  the stack delivers to one (`audit.logArchive`);
- it is multi-region when the stack makes it so (`audit.multiRegion`: the artifacts' DR replica
  lives in another region);
- its advanced event selectors record data events on every data store the outputs declare: S3
  objects of the features and artifact buckets, items of the online tables, records of the
  feature groups.

A property the endpoint's answer does not carry is reported as "cannot verify" (advisory),
never assumed.
"""

from __future__ import annotations

from typing import Any

from estate.verify.checks.base import (
    Context,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    reported,
    section_of,
    short_key,
)

TRAIL_EXISTS = policy(
    "verify-cloudtrail-trail-exists",
    "high",
    "The data-event trail the stack's outputs declare exists.",
    "Re-run `pulumi up`; then look in the account's management trail for who deleted it.",
)
TRAIL_LOGGING = policy(
    "verify-cloudtrail-trail-logging",
    "critical",
    "The trail is logging (a stopped trail records nobody's reads of the BU's data).",
    "`aws cloudtrail start-logging --name <trail>`, then find who stopped it (StopLogging in "
    "the management trail).",
)
TRAIL_VALIDATION = policy(
    "verify-cloudtrail-trail-log-validation",
    "high",
    "Log file validation is on, so a deleted or altered log file is detectable.",
    "Re-run `pulumi up` (it sets enable_log_file_validation back).",
)
TRAIL_ENCRYPTION = policy(
    "verify-cloudtrail-trail-encryption",
    "high",
    "The trail encrypts its log files with the stack's customer KMS key (or the central log "
    "archive's key when it delivers there).",
    "Re-run `pulumi up` (it sets the trail's KmsKeyId back).",
)
TRAIL_MULTI_REGION = policy(
    "verify-cloudtrail-trail-multi-region",
    "medium",
    "When the stack replicates data to another region, the trail records every region.",
    "Re-run `pulumi up` (it sets is_multi_region_trail back).",
)
TRAIL_DATA_EVENTS = policy(
    "verify-cloudtrail-trail-data-events",
    "high",
    "The trail's advanced event selectors record data events on every data store the outputs "
    "declare: S3 objects of the data buckets, DynamoDB items, SageMaker feature group records.",
    "Re-run `pulumi up` (it puts the trail's advanced event selectors back).",
)

S3_OBJECT = "AWS::S3::Object"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
FEATURE_GROUP = "AWS::SageMaker::FeatureGroup"
_WHAT = {S3_OBJECT: "S3 objects", DYNAMODB_TABLE: "DynamoDB items", FEATURE_GROUP: "records"}


def check_trail(ctx: Context, target: Target) -> list[Outcome]:
    cloudtrail = ctx.client("cloudtrail")
    name = target.name
    settings = section_of(ctx, target)
    run = Run(target, arn=target.arn or ctx.arn("cloudtrail", f"trail/{name}"))
    trail = run.exists(
        TRAIL_EXISTS, lambda: aws_call(cloudtrail, "get_trail", Name=name).get("Trail")
    )
    run.check(TRAIL_LOGGING, lambda: _logging(cloudtrail, name), "logging")
    run.check(
        TRAIL_VALIDATION,
        lambda: (
            None
            if reported(trail, "LogFileValidationEnabled", "cloudtrail:GetTrail")
            else "has log file validation off: a deleted or altered log file goes unnoticed"
        ),
        "log file validation on",
    )
    archive = settings.get("logArchive") or {}
    key = archive.get("kmsKeyArn") or ctx.key_arn
    whose = "the log archive's key" if archive.get("kmsKeyArn") else "the stack's key"
    run.check(
        TRAIL_ENCRYPTION,
        lambda: _encryption(ctx, trail, key, whose),
        f"encrypted with {short_key(key)}",
    )
    if settings.get("multiRegion"):
        run.check(
            TRAIL_MULTI_REGION,
            lambda: (
                None
                if reported(trail, "IsMultiRegionTrail", "cloudtrail:GetTrail")
                else "records one region only, but the stack keeps data in another (its DR replica)"
            ),
            "records every region",
        )
    else:
        run.skip(TRAIL_MULTI_REGION, "not required: the stack keeps its data in one region")
    run.check(
        TRAIL_DATA_EVENTS,
        lambda: _data_events(ctx, cloudtrail, name),
        "records data events on every declared data store",
    )
    return run.outcomes


def _logging(cloudtrail: Any, name: str) -> Problem:
    status = aws_call(cloudtrail, "get_trail_status", Name=name)
    if not reported(status, "IsLogging", "cloudtrail:GetTrailStatus"):
        return "is not logging: nobody's reads or writes of the BU's data are being recorded"
    return None


def _encryption(ctx: Context, trail: dict[str, Any], key: str | None, whose: str) -> Problem:
    live = trail.get("KmsKeyId")
    if not live:
        return "log files are not encrypted with a customer KMS key (SSE-S3 only)"
    if key and not ctx.same_key(live, key):
        return f"log files are encrypted with key {short_key(live)}, not {whose} {short_key(key)}"
    return None


def declared_stores(ctx: Context) -> dict[str, list[str]]:
    """Resource type -> the ARNs of the data stores the trail must record (as the program
    passes them to `BuAuditTrail`): the features and artifact buckets, the online tables, the
    feature groups."""
    outputs = ctx.outputs
    store = outputs.get("featureStore") or {}
    registry = outputs.get("modelRegistry") or {}
    buckets = [b for b in (store.get("offlineBucketName"), registry.get("artifactBucketName")) if b]
    return {
        S3_OBJECT: [f"arn:{ctx.partition}:s3:::{b}/" for b in buckets],
        DYNAMODB_TABLE: sorted((store.get("onlineTableArns") or {}).values()),
        FEATURE_GROUP: sorted((store.get("featureGroupArns") or {}).values()),
    }


def _covers(selector: dict[str, Any], resource_type: str, arn: str) -> bool:
    """Whether one advanced event selector records data events of `arn` (a bucket's objects are
    `arn:...:s3:::bucket/`, covered by a `StartsWith` prefix of it)."""
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or []}
    category, kind = fields.get("eventCategory") or {}, fields.get("resources.type") or {}
    if "Data" not in (category.get("Equals") or []) or resource_type not in (
        kind.get("Equals") or []
    ):
        return False
    names = fields.get("resources.ARN")
    if names is None:
        return True  # no ARN selector: every resource of the type
    if any(names.get(op) for op in ("NotEquals", "NotStartsWith", "NotEndsWith")):
        return False  # exclusions: too clever to prove here; the program renders none
    if arn in (names.get("Equals") or []):
        return True
    return any(arn.startswith(prefix) for prefix in names.get("StartsWith") or [])


def _data_events(ctx: Context, cloudtrail: Any, name: str) -> Problem:
    found = aws_call(cloudtrail, "get_event_selectors", TrailName=name)
    selectors = reported(found, "AdvancedEventSelectors", "cloudtrail:GetEventSelectors") or []
    missing = []
    for resource_type, arns in declared_stores(ctx).items():
        lost = [a for a in arns if not any(_covers(s, resource_type, a) for s in selectors)]
        if lost:
            names = ", ".join(a.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] for a in lost)
            missing.append(f"{_WHAT[resource_type]} of {names}")
    if missing:
        return "records no data events for " + "; ".join(missing)
    return None
