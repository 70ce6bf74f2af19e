"""The validation gate: rejects a model version whose metrics miss the family's thresholds.

Runs in AWS Lambda (python3.13, boto3 from the runtime; no other dependency). EventBridge invokes
it with a "SageMaker Model Package State Change" event of one family's model package group
whose `ModelApprovalStatus` is `PendingManualApproval`. The gate:

1. describes the package and stops if it is no longer pending (a human was faster);
2. reads `ModelMetrics.ModelQuality.Statistics.S3Uri`, which must lie in the BU's model bucket
   under `models/<family>/` (where the trainer writes, and all the gate's role may read);
3. compares every configured threshold with the statistics file;
4. on any failure calls `UpdateModelPackage(ModelApprovalStatus=Rejected,
   ApprovalDescription=<why>)`. A passing candidate is left `PendingManualApproval` for the
   human approver: the gate can only say no.

The metrics file is the SageMaker Model Monitor model quality statistics format (documented in
"Model quality metrics and Amazon CloudWatch monitoring"): top-level objects named
`*_metrics` (`binary_classification_metrics`, `multiclass_classification_metrics`,
`regression_metrics`, and the family's own, such as `custom_metrics`), each mapping a metric
name to `{"value": <number>, "standard_deviation": <number>}`. A threshold names a metric; the
gate looks it up in every `*_metrics` object:

    {"version": 0.0,
     "binary_classification_metrics": {"auc": {"value": 0.94, "standard_deviation": 0.004},
                                       "false_positive_rate": {"value": 0.012}},
     "custom_metrics": {"p99_latency_ms": {"value": 31.0}}}

Configuration comes from the environment (`GATE_CONFIG`, JSON, set by
components/validation_gate.py): `{"family", "modelPackageGroupName", "bucket", "prefix",
"thresholds": [{"metric", "min", "max"}]}`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

PENDING = "PendingManualApproval"
REJECTED = "Rejected"
DESCRIPTION_LIMIT = 1024
"""UpdateModelPackage's ApprovalDescription maximum length."""
METRICS_SUFFIX = "_metrics"


def metric_value(statistics: Mapping[str, Any], metric: str) -> float | None:
    """The metric's `value` in any `*_metrics` section of a model quality statistics file."""
    for section, metrics in statistics.items():
        if not section.endswith(METRICS_SUFFIX) or not isinstance(metrics, Mapping):
            continue
        entry = metrics.get(metric)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            return float(value)
    return None


def failures(statistics: Mapping[str, Any], thresholds: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why the candidate fails: one phrase per threshold it misses (empty: it passes)."""
    found: list[str] = []
    for t in thresholds:
        metric = str(t["metric"])
        value = metric_value(statistics, metric)
        low, high = t.get("min"), t.get("max")
        if value is None:
            found.append(f"{metric} missing from the metrics")
        elif low is not None and value < float(low):
            found.append(f"{metric} {value:g} < min {float(low):g}")
        elif high is not None and value > float(high):
            found.append(f"{metric} {value:g} > max {float(high):g}")
    return found


def _s3_location(uri: str) -> tuple[str, str] | None:
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return (bucket, key) if bucket and key else None


def _reject(sagemaker: Any, arn: str, reasons: Sequence[str]) -> dict[str, Any]:
    description = "validation gate: " + "; ".join(reasons)
    if len(description) > DESCRIPTION_LIMIT:
        description = description[: DESCRIPTION_LIMIT - 3] + "..."
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=REJECTED, ApprovalDescription=description
    )
    return {"modelPackageArn": arn, "decision": REJECTED, "reasons": list(reasons)}


def judge(event: Mapping[str, Any], config: Mapping[str, Any], sagemaker: Any, s3: Any) -> dict:
    """Judge the candidate of one state-change event (see the module docstring)."""
    detail = event.get("detail") or {}
    arn = str(detail.get("ModelPackageArn") or "")
    group = detail.get("ModelPackageGroupName")
    if not arn or group != config["modelPackageGroupName"]:
        # Not this family's: the rule should not have sent it. Touch nothing.
        return {"modelPackageArn": arn, "decision": "ignored", "reasons": ["not this family"]}
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelApprovalStatus") != PENDING:
        return {"modelPackageArn": arn, "decision": "ignored", "reasons": ["no longer pending"]}
    source = (
        ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics")
    ) or {}
    uri = str(source.get("S3Uri") or "")
    if not uri:
        return _reject(sagemaker, arn, ["no metrics (ModelMetrics.ModelQuality.Statistics)"])
    location = _s3_location(uri)
    prefix = str(config["prefix"])
    if location is None or location[0] != config["bucket"] or not location[1].startswith(prefix):
        return _reject(
            sagemaker, arn, [f"metrics {uri} are outside s3://{config['bucket']}/{prefix}"]
        )
    try:
        body = s3.get_object(Bucket=location[0], Key=location[1])["Body"].read()
        statistics = json.loads(body)
    except s3.exceptions.NoSuchKey:
        return _reject(sagemaker, arn, [f"no metrics at {uri}"])
    except ValueError:
        return _reject(sagemaker, arn, [f"metrics at {uri} are not JSON"])
    if not isinstance(statistics, Mapping):
        return _reject(sagemaker, arn, [f"metrics at {uri} are not a JSON object"])
    missed = failures(statistics, config["thresholds"])
    if missed:
        return _reject(sagemaker, arn, missed)
    return {"modelPackageArn": arn, "decision": PENDING, "reasons": []}


def handler(event: Mapping[str, Any], context: Any) -> dict:  # pragma: no cover - Lambda entry
    import boto3

    config = json.loads(os.environ["GATE_CONFIG"])
    result = judge(event, config, boto3.client("sagemaker"), boto3.client("s3"))
    print(json.dumps(result, sort_keys=True))  # one structured log line per candidate
    return result
