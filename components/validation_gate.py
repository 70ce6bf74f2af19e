"""The validation gate: an automatic "no" in front of the human approver, per model family.

When a version of a family's model package group enters `PendingManualApproval`, an EventBridge
rule invokes the family's gate function (components/lambda_src/validation_gate.py). It reads the
version's model quality statistics (`ModelMetrics.ModelQuality.Statistics`, written by the
trainer under `models/<family>/` in the BU's model bucket), compares them with the family's
thresholds (`ai-estate:mlops.families.<family>.validation.thresholds`) and, when one is missed
or the metrics are absent, rejects the version with the reasons as its `ApprovalDescription`.
A passing version stays pending for the model approver: the gate never approves.

Per family, all under the BU's key and name prefix:
- the role `<prefix>-gate-<family>` under `/ai-estate/<bu>/` with the BU's permission boundary.
  It may describe its family's versions, reject them (`sagemaker:UpdateModelPackage` only with
  `sagemaker:ModelApprovalStatus = Rejected`; any other status is denied explicitly), read
  `models/<family>/*`, decrypt through S3 and write its own log group. Nothing else: no other
  family's group, no other BU, no approval;
- the function `<prefix>-gate-<family>` (python3.13, arm64) whose environment (the thresholds)
  is encrypted with the BU key, logging JSON to `/ai-estate/<prefix>/validation-gate/<family>`
  (BU key, retention from `monitoring.logRetentionDays`);
- the rule on the family's group and `PendingManualApproval`, its Lambda target (with retries)
  and the invoke permission held to that rule.

Why not in the VPC: the function calls only the SageMaker and S3 APIs and accepts no traffic;
a VPC function needs `ec2:CreateNetworkInterface` and friends on `*` in its role, which the BU
boundary denies (everything outside the BU's resources), so it would need a second, wider role.
Why no X-Ray tracing: `xray:PutTraceSegments` is authorized on `*` only, outside the boundary
too; the gate's one JSON line per candidate in its log group is its trace. Why no reserved
concurrency: a small value fails in accounts whose unreserved pool is at AWS's minimum, and the
gate's throughput is bounded by its family's registrations. A failed run leaves the version
pending: the gate fails towards the human, never towards approval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from .access import LOG_WRITE, BuScope
from .iam import allow, deny, service_trust_policy
from .model_registry import APPROVAL_ACTION, MODELS_PREFIX, PENDING_APPROVAL
from .options import child

GATE_SOURCE = Path(__file__).parent / "lambda_src" / "validation_gate.py"
"""The function's code: one module, standard library and the runtime's boto3 only."""
GATE_HANDLER = "validation_gate.handler"
GATE_RUNTIME = "python3.13"
"""A runtime AWS supports (pulumi-aws `lambda_.Runtime.PYTHON3D13`)."""
REJECTED = "Rejected"
MODEL_PACKAGE_EVENT = "SageMaker Model Package State Change"
GATE_TARGET_ID = "validation-gate"
READ_PACKAGE = "sagemaker:DescribeModelPackage"


# -- names ----------------------------------------------------------------------------------


def gate_name(prefix: str, family: str) -> str:
    """`fraud-prod-gate-card-fraud`: the family's gate role, function and rule."""
    name = f"{prefix}-gate-{family}"
    if len(name) > 64:
        raise ValueError(
            f"validation gate name {name!r} exceeds 64 characters (shorten the family)"
        )
    return name


def gate_log_group_name(prefix: str, family: str) -> str:
    """`/ai-estate/fraud-prod/validation-gate/card-fraud`: under the BU's log-group prefix (the
    BU key's CloudWatch Logs grant and the boundary's log-group pattern both name it)."""
    return f"/ai-estate/{prefix}/validation-gate/{family}"


def metrics_prefix(family: str) -> str:
    """`models/card-fraud/`: where the trainer writes the family's artifacts and metrics."""
    return f"{MODELS_PREFIX}{family}/"


# -- documents ------------------------------------------------------------------------------


def gate_event_pattern(group_name: str) -> str:
    """Versions of one group entering (or registered as) `PendingManualApproval`."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": [MODEL_PACKAGE_EVENT],
            "detail": {
                "ModelPackageGroupName": [group_name],
                "ModelApprovalStatus": [PENDING_APPROVAL],
            },
        },
        sort_keys=True,
    )


def gate_config(
    family: str, group_name: str, bucket_name: str, thresholds: list[ThresholdSpec]
) -> str:
    """The function's `GATE_CONFIG` (components/lambda_src/validation_gate.py reads it)."""
    return json.dumps(
        {
            "family": family,
            "modelPackageGroupName": group_name,
            "bucket": bucket_name,
            "prefix": metrics_prefix(family),
            "thresholds": [
                {"metric": t["metric"], "min": t.get("min"), "max": t.get("max")}
                for t in thresholds
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def gate_statements(
    scope: BuScope,
    *,
    family: str,
    group_name: str,
    bucket_name: str,
    kms_key_arn: str,
) -> list[dict[str, Any]]:
    """The gate role's policy: read and reject its family's versions, read their metrics."""
    packages = scope.arn("sagemaker", f"model-package/{group_name}/*")
    log_group = scope.arn("logs", f"log-group:{gate_log_group_name(scope.prefix, family)}")
    return [
        allow("DescribeFamilyVersions", [READ_PACKAGE], packages),
        allow(
            "RejectFamilyVersions",
            [APPROVAL_ACTION],
            packages,
            {"StringEquals": {"sagemaker:ModelApprovalStatus": REJECTED}},
        ),
        # Belt and braces: whatever else ever grants this role UpdateModelPackage (a resource
        # policy, a wider statement), it cannot set any status but Rejected. A request without
        # the key is denied too (StringNotEquals on an absent key holds).
        deny(
            "NeverApprove",
            [APPROVAL_ACTION],
            "*",
            {"StringNotEquals": {"sagemaker:ModelApprovalStatus": REJECTED}},
        ),
        allow(
            "ReadFamilyMetrics",
            ["s3:GetObject"],
            f"arn:{scope.partition}:s3:::{bucket_name}/{metrics_prefix(family)}*",
        ),
        allow(
            "DecryptMetricsViaS3",
            ["kms:Decrypt"],
            kms_key_arn,
            {"StringEquals": {"kms:ViaService": scope.via("s3")}},
        ),
        allow("WriteOwnLogs", LOG_WRITE, [log_group, f"{log_group}:*"]),
    ]


# -- the component --------------------------------------------------------------------------


class ThresholdSpec(TypedDict):
    """One metric bound (`ai-estate:mlops.families.<f>.validation.thresholds[]`)."""

    metric: str
    """The metric name in the statistics file's `*_metrics` sections."""
    min: float | None
    """Reject below this; None: no lower bound."""
    max: float | None
    """Reject above this; None: no upper bound."""


class GateFamilySpec(TypedDict):
    """One family's gate."""

    model_package_group_name: str
    """The family's group (`<prefix>-<family>`, components.model_registry)."""
    thresholds: list[ThresholdSpec]
    """Every one must hold; empty: only versions without metrics are rejected."""
    tags: dict[str, str]
    """The family's ownership tags, on top of the stack's."""


class ValidationGateArgs(TypedDict):
    """Inputs of `ValidationGate`."""

    business_unit: str
    environment: str
    account_id: str
    families: dict[str, GateFamilySpec]
    """Family -> its gate."""
    model_bucket_name: str
    """The BU's model artifact bucket (the trainer writes metrics under `models/<family>/`)."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: the functions' environment, the log groups, the metrics through S3."""
    boundary_arn: pulumi.Input[str]
    """The BU's permission boundary (components.access)."""
    log_retention_days: int
    """Retention of the gate's log groups."""
    tags: dict[str, str]


class ValidationGate(pulumi.ComponentResource):
    """The BU's validation gates, one per family (module docstring)."""

    function_arns: dict[str, pulumi.Output[str]]
    """Family -> gate function ARN."""
    role_arns: dict[str, pulumi.Output[str]]
    """Family -> gate role ARN."""
    rule_arns: dict[str, pulumi.Output[str]]
    """Family -> the EventBridge rule that invokes the gate."""

    def __init__(
        self, name: str, args: ValidationGateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:mlops:ValidationGate", name, None, opts)
        self.function_arns, self.role_arns, self.rule_arns = {}, {}, {}
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        for family, spec in sorted(args["families"].items()):
            self._family(f"{name}-{family}", family, spec, args, region, partition)
        self.register_outputs({"functionArns": self.function_arns, "roleArns": self.role_arns})

    def _family(
        self,
        name: str,
        family: str,
        spec: GateFamilySpec,
        args: ValidationGateArgs,
        region: pulumi.Output[str],
        partition: pulumi.Output[str],
    ) -> None:
        bu, env, account = args["business_unit"], args["environment"], args["account_id"]
        prefix = f"{bu}-{env}"
        gate = gate_name(prefix, family)
        group = spec["model_package_group_name"]
        tags = {**args["tags"], **spec["tags"]}
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=gate_log_group_name(prefix, family),
            kms_key_id=args["kms_key_arn"],
            retention_in_days=args["log_retention_days"],
            tags=tags,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=gate,
            path=f"/ai-estate/{bu}/",
            description=f"AI Estate validation gate of {family} in {prefix}: rejects, never approves",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", account),
            permissions_boundary=args["boundary_arn"],
            max_session_duration=3600,
            tags={**tags, "Workload": "validation-gate"},
            opts=child(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            name=gate,
            role=role.id,
            policy=pulumi.Output.all(partition, region, args["kms_key_arn"]).apply(
                lambda p: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": gate_statements(
                            BuScope(bu, env, account, p[1], p[0]),
                            family=family,
                            group_name=group,
                            bucket_name=args["model_bucket_name"],
                            kms_key_arn=p[2],
                        ),
                    },
                    sort_keys=True,
                )
            ),
            opts=child(self),
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=gate,
            description=f"Rejects {family} versions of {prefix} that miss their thresholds",
            role=role.arn,
            runtime=GATE_RUNTIME,
            handler=GATE_HANDLER,
            architectures=["arm64"],
            code=pulumi.AssetArchive({GATE_SOURCE.name: pulumi.FileAsset(str(GATE_SOURCE))}),
            memory_size=256,
            timeout=60,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "GATE_CONFIG": gate_config(
                        family, group, args["model_bucket_name"], spec["thresholds"]
                    )
                }
            ),
            kms_key_arn=args["kms_key_arn"],
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=log_group.name,
                application_log_level="INFO",
                system_log_level="WARN",
            ),
            tags=tags,
            # A function whose role cannot yet log or read would fail its first candidates.
            opts=child(self, depends_on=[policy, log_group]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke-config",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            opts=child(self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=gate,
            description=f"{family} versions of {prefix} pending approval -> the validation gate",
            event_pattern=gate_event_pattern(group),
            tags=tags,
            opts=child(self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            source_account=account,
            opts=child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=function.arn,
            target_id=GATE_TARGET_ID,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=6 * 3600, maximum_retry_attempts=8
            ),
            opts=child(self, depends_on=[permission]),
        )
        self.function_arns[family] = function.arn
        self.role_arns[family] = role.arn
        self.rule_arns[family] = rule.arn
