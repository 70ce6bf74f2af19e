"""The validation gate (issue 13): its code against moto in server mode, its role with the IAM
evaluator on the shipped stacks rendered through the program.

The function's code (components/lambda_src/validation_gate.py) runs here as Lambda would run it,
with boto3 clients pointed at a real HTTP AWS endpoint (moto): a model package group, versions
registered `PendingManualApproval` with model quality statistics in S3, and the gate's decision
read back with DescribeModelPackage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

from components.lambda_src import validation_gate as gate
from components.validation_gate import gate_event_pattern, gate_log_group_name
from estate.analysis.iam import Principal, Request, evaluate

FRAUD, MARKETING = "fraud-prod", "marketing-dev"
REGION, BUCKET, GROUP, FAMILY = (
    "us-east-1",
    "fraud-prod-models-0000",
    "fraud-prod-card-fraud",
    "card-fraud",
)
CONFIG = {
    "family": FAMILY,
    "modelPackageGroupName": GROUP,
    "bucket": BUCKET,
    "prefix": f"models/{FAMILY}/",
    "thresholds": [
        {"metric": "auc", "min": 0.92, "max": None},
        {"metric": "false_positive_rate", "min": None, "max": 0.02},
    ],
}


def statistics(auc: float, fpr: float) -> dict[str, Any]:
    """A model quality statistics file as SageMaker Model Monitor writes it."""
    return {
        "version": 0.0,
        "dataset": {"item_count": 1000, "evaluation_time": "2026-12-01T03:00:00Z"},
        "binary_classification_metrics": {
            "auc": {"value": auc, "standard_deviation": 0.004},
            "false_positive_rate": {"value": fpr, "standard_deviation": 0.001},
        },
    }


# -- pure: the comparison ----------------------------------------------------------------------


def test_a_candidate_meeting_every_threshold_has_no_failures():
    assert gate.failures(statistics(0.95, 0.01), CONFIG["thresholds"]) == []


def test_each_missed_threshold_and_each_missing_metric_is_named():
    assert gate.failures(statistics(0.81, 0.05), CONFIG["thresholds"]) == [
        "auc 0.81 < min 0.92",
        "false_positive_rate 0.05 > max 0.02",
    ]
    assert gate.failures({"regression_metrics": {}}, CONFIG["thresholds"]) == [
        "auc missing from the metrics",
        "false_positive_rate missing from the metrics",
    ]


def test_metrics_are_found_in_any_metrics_section_and_non_numbers_do_not_count():
    stats = {
        "custom_metrics": {"p99_latency_ms": {"value": 31}},
        "not_a_section": {"auc": {"value": 0.99}},
        "binary_classification_metrics": {"auc": {"value": "0.99"}, "f1": {"value": True}},
    }
    assert gate.metric_value(stats, "p99_latency_ms") == 31.0
    assert gate.metric_value(stats, "auc") is None
    assert gate.metric_value(stats, "f1") is None


@given(
    value=st.floats(allow_nan=False, allow_infinity=False, width=32),
    low=st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32),
    high=st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_a_candidate_fails_exactly_when_its_value_is_out_of_bounds(value, low, high):
    found = gate.failures(
        {"custom_metrics": {"m": {"value": value}}}, [{"metric": "m", "min": low, "max": high}]
    )
    out = (low is not None and value < low) or (high is not None and value > high)
    assert bool(found) == out


# -- the handler against moto ------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()

    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    clients = {"sagemaker": client("sagemaker"), "s3": client("s3")}
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["sagemaker"].create_model_package_group(ModelPackageGroupName=GROUP)
    yield clients
    server.stop()


def register(aws: dict[str, Any], metrics_key: str | None, body: Any = None) -> str:
    """A version registered pending approval, as the trainer registers it."""
    kwargs: dict[str, Any] = {}
    if metrics_key is not None:
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            aws["s3"].put_object(Bucket=BUCKET, Key=metrics_key, Body=data)
        kwargs["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{BUCKET}/{metrics_key}",
                }
            }
        }
    arn = aws["sagemaker"].create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "222222222222.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        **kwargs,
    )["ModelPackageArn"]
    return arn


def event(arn: str, group: str = GROUP) -> dict[str, Any]:
    """The EventBridge event SageMaker sends (detail trimmed to the fields the gate reads)."""
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": {
            "ModelPackageArn": arn,
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": "PendingManualApproval",
        },
    }


def status(aws: dict[str, Any], arn: str) -> tuple[str, str]:
    package = aws["sagemaker"].describe_model_package(ModelPackageName=arn)
    return package["ModelApprovalStatus"], package.get("ApprovalDescription") or ""


def run(aws: dict[str, Any], arn: str, group: str = GROUP) -> dict[str, Any]:
    return gate.judge(event(arn, group), CONFIG, aws["sagemaker"], aws["s3"])


def test_a_failing_candidate_is_rejected_with_the_reasons(aws):
    arn = register(aws, f"models/{FAMILY}/run-1/statistics.json", statistics(0.81, 0.01))
    result = run(aws, arn)
    assert result["decision"] == "Rejected"
    state, why = status(aws, arn)
    assert state == "Rejected"
    assert why == "validation gate: auc 0.81 < min 0.92"


def test_a_passing_candidate_is_left_pending_for_the_human(aws):
    arn = register(aws, f"models/{FAMILY}/run-2/statistics.json", statistics(0.95, 0.01))
    assert run(aws, arn)["decision"] == "PendingManualApproval"
    assert status(aws, arn) == ("PendingManualApproval", "")


def test_a_candidate_without_metrics_is_rejected(aws):
    arn = register(aws, None)
    run(aws, arn)
    state, why = status(aws, arn)
    assert state == "Rejected" and "no metrics" in why


def test_metrics_named_but_absent_unreadable_or_elsewhere_are_rejected(aws):
    absent = register(aws, f"models/{FAMILY}/run-3/statistics.json")
    garbled = register(aws, f"models/{FAMILY}/run-4/statistics.json", b"{not json")
    elsewhere = register(aws, "models/merchant-risk/run-1/statistics.json", statistics(0.99, 0.0))
    run(aws, absent), run(aws, garbled), run(aws, elsewhere)
    assert status(aws, absent)[0] == "Rejected" and "no metrics at" in status(aws, absent)[1]
    assert "not JSON" in status(aws, garbled)[1]
    assert "outside s3://" in status(aws, elsewhere)[1]


def test_another_familys_event_and_a_decided_version_are_left_alone(aws):
    arn = register(aws, f"models/{FAMILY}/run-5/statistics.json", statistics(0.5, 0.5))
    assert run(aws, arn, group="fraud-prod-merchant-risk")["decision"] == "ignored"
    assert status(aws, arn)[0] == "PendingManualApproval"
    aws["sagemaker"].update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert run(aws, arn)["decision"] == "ignored"
    assert status(aws, arn)[0] == "Approved"


def test_the_reason_fits_sagemakers_description_limit(aws):
    many = {**CONFIG, "thresholds": [{"metric": f"m{i:03}", "min": 1} for i in range(200)]}
    arn = register(aws, f"models/{FAMILY}/run-6/statistics.json", statistics(0.95, 0.01))
    gate.judge(event(arn), many, aws["sagemaker"], aws["s3"])
    state, why = status(aws, arn)
    assert state == "Rejected" and len(why) == gate.DESCRIPTION_LIMIT and why.endswith("...")


# -- the shipped stacks: the rule, the function, the role ---------------------------------------


def of_type(inventory, type_: str):
    return [r for r in inventory.resources if r.type == type_]


def gate_resources(inventory, family: str) -> dict[str, Any]:
    prefix = inventory.stack
    name = f"{prefix}-gate-{family}"
    [function] = [
        f for f in of_type(inventory, "aws:lambda/function:Function") if f.inputs["name"] == name
    ]
    [role] = [r for r in of_type(inventory, "aws:iam/role:Role") if r.inputs["name"] == name]
    [policy] = [
        p
        for p in of_type(inventory, "aws:iam/rolePolicy:RolePolicy")
        if p.property_dependencies["role"] == [role.urn]
    ]
    [rule] = [
        r
        for r in of_type(inventory, "aws:cloudwatch/eventRule:EventRule")
        if r.inputs["name"] == name
    ]
    [target] = [
        t
        for t in of_type(inventory, "aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["rule"] == name
    ]
    [boundary] = [
        b
        for b in of_type(inventory, "aws:iam/policy:Policy")
        if b.inputs["name"] == f"{prefix}-boundary"
    ]
    return {
        "function": function,
        "role": role,
        "policy": json.loads(policy.inputs["policy"]),
        "rule": rule,
        "target": target,
        "boundary": json.loads(boundary.inputs["policy"]),
    }


@pytest.mark.parametrize(
    ("stack", "families"), [(FRAUD, ["card-fraud", "merchant-risk"]), (MARKETING, ["propensity"])]
)
def test_every_configured_family_has_its_gate_on_its_own_group(rendered, stack, families):
    inventory = rendered(stack)
    config = inventory.config
    for family in families:
        r = gate_resources(inventory, family)
        group = f"{stack}-{family}"
        assert json.loads(r["rule"].inputs["eventPattern"]) == json.loads(gate_event_pattern(group))
        assert r["target"].inputs["arn"].endswith(f":function:{stack}-gate-{family}")
        env = json.loads(r["function"].inputs["environment"]["variables"]["GATE_CONFIG"])
        wanted = config["ai-estate:mlops"]["families"][family]["validation"]["thresholds"]
        assert [{k: v for k, v in t.items() if v is not None} for t in env["thresholds"]] == wanted
        assert env["modelPackageGroupName"] == group and env["prefix"] == f"models/{family}/"
        fn = r["function"].inputs
        assert fn["runtime"] in ("python3.12", "python3.13")
        assert fn["kmsKeyArn"].startswith("arn:aws:kms:")
        assert fn["loggingConfig"]["logGroup"] == gate_log_group_name(stack, family)
        assert (
            r["role"]
            .inputs["permissionsBoundary"]
            .endswith(f":policy/ai-estate/{config['ai-estate:businessUnit']}/{stack}-boundary")
        )


def _principal(inventory, family: str) -> tuple[Principal, str]:
    r = gate_resources(inventory, family)
    config = inventory.config
    role = r["role"].inputs
    arn = f"arn:aws:iam::{config['ai-estate:accountId']}:role{role['path']}{role['name']}"
    return Principal(arn, identity_policies=(r["policy"],), permissions_boundary=r["boundary"]), arn


KEY_POLICY: dict[str, Any] = {}
"""The rendered BU key policy (KMS always consults it), set by the test that decrypts."""


def _can(principal: Principal, action: str, resource: str, **context: str) -> bool:
    policy = KEY_POLICY or None if action.startswith("kms:") else None
    return bool(
        evaluate(
            Request(
                principal=principal,
                action=action,
                resource=resource,
                context=context,
                resource_policy=policy,
            )
        )
    )


def test_the_gate_role_can_reject_its_familys_versions_and_never_approve(rendered):
    inventory = rendered(FRAUD)
    account, region = inventory.config["ai-estate:accountId"], inventory.config["aws:region"]
    principal, _ = _principal(inventory, "card-fraud")
    mine = f"arn:aws:sagemaker:{region}:{account}:model-package/fraud-prod-card-fraud/7"
    sibling = f"arn:aws:sagemaker:{region}:{account}:model-package/fraud-prod-merchant-risk/7"
    other_bu = f"arn:aws:sagemaker:{region}:{account}:model-package/marketing-prod-propensity/7"
    update = "sagemaker:UpdateModelPackage"
    key = "sagemaker:ModelApprovalStatus"
    assert _can(principal, update, mine, **{key: "Rejected"})
    assert _can(principal, "sagemaker:DescribeModelPackage", mine)
    for wrong in ("Approved", "PendingManualApproval"):
        assert not _can(principal, update, mine, **{key: wrong})
    assert not _can(principal, update, mine)  # no status in the request: denied too
    for elsewhere in (sibling, other_bu):
        assert not _can(principal, update, elsewhere, **{key: "Rejected"})
        assert not _can(principal, "sagemaker:DescribeModelPackage", elsewhere)
    for action in (
        "sagemaker:CreateModelPackage",
        "sagemaker:DeleteModelPackage",
        "sagemaker:UpdateModelCard",
    ):
        assert not _can(principal, action, mine, **{key: "Rejected"})


def test_the_gate_role_reads_only_its_familys_metrics_and_writes_only_its_log_group(rendered):
    inventory = rendered(FRAUD)
    config = inventory.config
    account, region = config["ai-estate:accountId"], config["aws:region"]
    principal, _ = _principal(inventory, "card-fraud")
    env = json.loads(
        gate_resources(inventory, "card-fraud")["function"].inputs["environment"]["variables"][
            "GATE_CONFIG"
        ]
    )
    bucket = env["bucket"]
    assert _can(
        principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/models/card-fraud/run/statistics.json"
    )
    assert not _can(
        principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/models/merchant-risk/run/statistics.json"
    )
    assert not _can(
        principal, "s3:PutObject", f"arn:aws:s3:::{bucket}/models/card-fraud/run/statistics.json"
    )
    assert not _can(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/offline/part-0")
    key_arn = gate_resources(inventory, "card-fraud")["function"].inputs["kmsKeyArn"]
    [key] = [k for k in of_type(inventory, "aws:kms/key:Key") if k.name == "fraud-prod-key-key"]
    KEY_POLICY.update(json.loads(key.inputs["policy"]))
    assert _can(
        principal, "kms:Decrypt", key_arn, **{"kms:ViaService": f"s3.{region}.amazonaws.com"}
    )
    assert not _can(principal, "kms:Decrypt", key_arn)
    assert not _can(
        principal,
        "kms:GenerateDataKey",
        key_arn,
        **{"kms:ViaService": f"s3.{region}.amazonaws.com"},
    )
    group = f"arn:aws:logs:{region}:{account}:log-group:{gate_log_group_name(FRAUD, 'card-fraud')}"
    assert _can(principal, "logs:PutLogEvents", f"{group}:log-stream:2026/12/01/x")
    assert _can(principal, "logs:CreateLogStream", group)
    other = (
        f"arn:aws:logs:{region}:{account}:log-group:{gate_log_group_name(FRAUD, 'merchant-risk')}"
    )
    assert not _can(principal, "logs:PutLogEvents", f"{other}:log-stream:x")
    assert not _can(
        principal,
        "iam:PassRole",
        f"arn:aws:iam::{account}:role/ai-estate/fraud/fraud-prod-model-approver",
    )


def test_the_marketing_gate_reaches_nothing_of_fraud(rendered):
    fraud, marketing = rendered(FRAUD), rendered(MARKETING)
    principal, _ = _principal(marketing, "propensity")
    account, region = fraud.config["ai-estate:accountId"], fraud.config["aws:region"]
    env = json.loads(
        gate_resources(fraud, "card-fraud")["function"].inputs["environment"]["variables"][
            "GATE_CONFIG"
        ]
    )
    assert not _can(
        principal,
        "sagemaker:UpdateModelPackage",
        f"arn:aws:sagemaker:{region}:{account}:model-package/fraud-prod-card-fraud/1",
        **{"sagemaker:ModelApprovalStatus": "Rejected"},
    )
    assert not _can(
        principal, "s3:GetObject", f"arn:aws:s3:::{env['bucket']}/models/card-fraud/x.json"
    )
