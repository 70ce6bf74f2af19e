"""The retraining loop of a BU (issue 13): per model family, what starts a training run and where
it runs.

Every trigger lands as a message on the family's encrypted retraining queue
`<prefix>-<family>-retrain` (SQS, the BU key, a dead-letter queue after three failed receives):

- **alarms** (`retraining.onAlarms`): an EventBridge rule on the default bus matching the
  family's model-quality and drift alarms (`monitoring.modelMetrics` whose `model` is the
  family; CloudWatch names them `<prefix>-model-<family>-<metric>`) going to `ALARM`;
- **schedule** (`retraining.schedule`): an `aws.scheduler.Schedule` whose target is the queue,
  sent by a scheduler role that may only `sqs:SendMessage` to that queue (and use the BU key
  through SQS);
- **manual**: an EventBridge rule matching source `ai-estate.mlops`, detail-type
  `Retraining Requested`, with this BU and family in `detail` (`aws events put-events`; see the
  README, "The retraining loop").

The queue policy lets only the family's own rules (`aws:SourceArn`) and its scheduler role send.

The training run is a KEDA `ScaledJob` in the BU namespace (KEDA is on the platform, installed
by `components.serving.ServingPlane`): KEDA's operator watches the queue's depth with its own Pod
Identity role (`aws-sqs-queue` scaler, reads only) and creates one Job per waiting message, at
most `retraining.maxParallelJobs` at once. Why KEDA and not Argo Workflows or SageMaker
Pipelines: the job must run on the BU's own GPU pools under the BU's Kueue quota and
NetworkPolicies; KEDA is already the estate's event-driven scaler, a ScaledJob is a plain
`batch/v1` Job that Kueue admits like any other, and nothing else has to be installed or
granted. The Job:

- carries `kueue.x-k8s.io/queue-name: <bu>-gpu` (KEDA copies the ScaledJob's labels to its
  Jobs), so Kueue admits it against the BU's GPU quota and the namespace's admission policy
  accepts it;
- selects the family's pool (`ai-estate/pool`), tolerates the BU's GPU taints, and requests equal
  limits of GPUs, CPU and memory;
- runs as the `model-trainer` service account, whose Pod Identity role (`components.access`)
  reads the offline store, writes `models/<family>/...`, pushes to the BU's ECR, registers
  model versions as `PendingManualApproval` and takes messages off the BU's retraining queues,
  and can never approve;
- meets the `restricted` Pod Security Standard, and stops after `retraining.timeoutHours`
  (the queue's visibility timeout covers the same time, so a running job keeps its message).

The job's contract (what the training image does) is in the README: receive one message from
`RETRAIN_QUEUE_URL`, train, write the artifacts and `metrics.json` under `ARTIFACT_PREFIX`,
register the version in `MODEL_PACKAGE_GROUP`, delete the message. The validation gate
(`components.validation_gate`) takes it from there.

Every resource of a family carries the family and its owners as tags
(`components.model_cards.family_tags`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import labels
from .iam import allow, policy_json, service_trust_policy
from .model_cards import OwnersSpec, family_tags
from .options import child
from .serving import container_security_context, pod_tolerations
from .tags import merge_tags

MANUAL_SOURCE = "ai-estate.mlops"
"""`source` of a manual retraining request (`aws events put-events`)."""
MANUAL_DETAIL_TYPE = "Retraining Requested"
"""`detail-type` of a manual retraining request."""
PURPOSE_TAG = "Purpose"
PURPOSE = "retraining"
"""The tag (`Purpose: retraining`) on a retraining queue and its DLQ."""
TRAINER = "model-trainer"
"""The workload (role and service account) the training jobs run as."""
TRAINER_CONTAINER = "trainer"
DEAD_LETTER_RECEIVES = 3
"""A message received this many times without being deleted moves to the dead-letter queue."""
MAX_VISIBILITY_SECONDS = 43200
"""SQS's longest visibility timeout (12 hours)."""
KEDA_POLLING_SECONDS = 30
JOBS_HISTORY = 5
"""Finished Jobs KEDA keeps (each of succeeded and failed), for `kubectl logs` after the fact."""


class RetrainingSpec(TypedDict):
    """`mlops.families.<family>.retraining` (docs/configuration.md)."""

    schedule: str | None
    """EventBridge Scheduler expression; None: no schedule."""
    schedule_timezone: str
    """IANA time zone of `schedule`."""
    on_alarms: bool
    """The family's model-quality and drift alarms queue a retraining."""
    pool: str | None
    """GPU pool of the training job (None: the BU's first)."""
    image: str
    """Training image `<repository>:<tag>` or `<repository>@sha256:<digest>` (a BU repository)."""
    gpus: int
    """GPUs one job requests (= limits)."""
    cpu: str
    """CPU one job requests (= limits)."""
    memory: str
    """Memory one job requests (= limits)."""
    max_parallel_jobs: int
    """Most jobs running at once."""
    timeout_hours: int
    """`activeDeadlineSeconds` of a job, in hours."""


def queue_name(prefix: str, family: str) -> str:
    """`fraud-prod-card-fraud-retrain` (the trainer's queue grant matches `<prefix>-*-retrain`)."""
    return f"{prefix}-{family}-retrain"


def family_alarm_names(prefix: str, family: str, metrics: Sequence[str]) -> list[str]:
    """The CloudWatch names of the family's model-quality/drift alarms, as
    `components.monitoring.model_alarm_specs` keys them (`<prefix>-model-<family>-<metric>`)."""
    return sorted(f"{prefix}-model-{family}-{m}".replace("_", "-").lower() for m in metrics)


def manual_trigger_pattern(business_unit: str, family: str) -> str:
    """EventBridge pattern of a manual retraining request for one BU and family."""
    return json.dumps(
        {
            "source": [MANUAL_SOURCE],
            "detail-type": [MANUAL_DETAIL_TYPE],
            "detail": {"businessUnit": [business_unit], "family": [family]},
        },
        sort_keys=True,
    )


def alarm_trigger_pattern(account_id: str, alarm_names: Sequence[str]) -> str:
    """EventBridge pattern of the family's alarms going to ALARM (not OK, not INSUFFICIENT_DATA:
    a stopped evaluation pipeline pages a human, it does not retrain)."""
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "account": [account_id],
            "detail": {"alarmName": sorted(alarm_names), "state": {"value": ["ALARM"]}},
        },
        sort_keys=True,
    )


def retraining_queue_policy(
    queue_arn: str, rule_arns: Sequence[str], scheduler_role_arn: str | None
) -> str:
    """Only the family's EventBridge rules and its scheduler role may send to the queue."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "FamilyRulesSend",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        }
    ]
    if scheduler_role_arn is not None:
        statements.append(
            {
                "Sid": "SchedulerRoleSends",
                "Effect": "Allow",
                "Principal": {"AWS": scheduler_role_arn},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        )
    statements.append(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    return policy_json(statements)


def scheduler_role_policy(queue_arn: str, kms_key_arn: str, region: str) -> str:
    """The scheduler role sends to its queue only, using the BU key only through SQS."""
    return policy_json(
        [
            {
                "Sid": "SendToItsQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            allow(
                "UseKeyViaSqs",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                kms_key_arn,
                {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
            ),
        ]
    )


def trigger_message(trigger: Literal["schedule", "manual", "alarm"], family: str) -> str:
    """Body of a message a trigger puts on the queue: which trigger fired, for which family."""
    return json.dumps({"family": family, "trigger": trigger}, sort_keys=True)


def job_labels(business_unit: str, family: str, local_queue: str) -> dict[str, str]:
    """Labels of the ScaledJob, copied by KEDA to every Job it creates."""
    return {
        labels.KUEUE_QUEUE_NAME: local_queue,
        labels.APP_NAME: f"retrain-{family}",
        labels.PART_OF: "ai-estate-retraining",
        labels.BU: business_unit,
    }


def scaled_job_spec(
    *,
    business_unit: str,
    family: str,
    retraining: RetrainingSpec,
    pool: str,
    image: str,
    queue_url: str,
    region: str,
    artifact_bucket: str,
    model_package_group: str,
    local_queue: str,
    service_account: str = TRAINER,
) -> dict[str, Any]:
    """The KEDA ScaledJob spec (keda.sh/v1alpha1) of one family's training run."""
    resources = {
        "cpu": retraining["cpu"],
        "memory": retraining["memory"],
        labels.NVIDIA_GPU: str(retraining["gpus"]),
    }
    pod_labels = job_labels(business_unit, family, local_queue)
    return {
        "jobTargetRef": {
            "parallelism": 1,
            "completions": 1,
            "activeDeadlineSeconds": retraining["timeout_hours"] * 3600,
            # A failed run leaves its message on the queue: SQS redelivers it after the
            # visibility timeout and, after three receives, parks it on the dead-letter queue.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": service_account,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "nodeSelector": {labels.BU: business_unit, labels.POOL: pool},
                    "tolerations": pod_tolerations(business_unit),
                    "containers": [
                        {
                            "name": TRAINER_CONTAINER,
                            "image": image,
                            "env": [
                                {"name": "AWS_REGION", "value": region},
                                {"name": "MODEL_FAMILY", "value": family},
                                {"name": "RETRAIN_QUEUE_URL", "value": queue_url},
                                {
                                    "name": "ARTIFACT_PREFIX",
                                    "value": f"s3://{artifact_bucket}/models/{family}/",
                                },
                                {"name": "MODEL_PACKAGE_GROUP", "value": model_package_group},
                                {"name": "HOME", "value": "/tmp"},
                            ],
                            "resources": {"requests": dict(resources), "limits": dict(resources)},
                            "securityContext": container_security_context(),
                            "volumeMounts": [
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "scratch", "mountPath": "/scratch"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {}},
                        {"name": "scratch", "emptyDir": {}},
                    ],
                },
            },
        },
        "pollingInterval": KEDA_POLLING_SECONDS,
        "maxReplicaCount": retraining["max_parallel_jobs"],
        "successfulJobsHistoryLimit": JOBS_HISTORY,
        "failedJobsHistoryLimit": JOBS_HISTORY,
        # One Job per waiting message: the scaler counts visible and in-flight messages
        # (`scaleOnInFlight`, true by default) and the default strategy subtracts running Jobs.
        "scalingStrategy": {"strategy": "default"},
        "triggers": [
            {
                "type": "aws-sqs-queue",
                "metadata": {
                    "queueURL": queue_url,
                    "queueLength": "1",
                    "awsRegion": region,
                },
                "authenticationRef": {"name": f"retrain-{family}-keda-aws"},
            }
        ],
    }


class RetrainingLoopArgs(TypedDict):
    """Inputs of `RetrainingLoop`."""

    business_unit: str
    """The BU slug (manual requests name it in `detail.businessUnit`)."""
    family: str
    """The model family."""
    name_prefix: str
    """`<bu>-<env>`: names of the queue, rules and roles."""
    account_id: str
    """The account whose alarms trigger the loop."""
    retraining: RetrainingSpec
    """The family's `retraining` config."""
    owners: OwnersSpec | None
    """The family's owners (tags)."""
    alarm_names: list[str]
    """The family's model-quality and drift alarms (`family_alarm_names`); used with
    `on_alarms`."""
    pool: str
    """The GPU pool the job runs on (resolved: `retraining.pool` or the BU's first)."""
    image: pulumi.Input[str]
    """The training image's full reference (the BU repository's URL, then `:tag` or `@digest`)."""
    artifact_bucket: pulumi.Input[str]
    """The BU's model artifact bucket."""
    model_package_group: str
    """The family's model package group."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the queue and its DLQ."""
    namespace: pulumi.Input[str]
    """The BU namespace the ScaledJob lives in."""
    local_queue: str
    """The BU's Kueue LocalQueue."""
    service_account: str
    """The model-trainer's service account (`access.serviceAccounts.model-trainer`)."""
    k8s_provider: k8s.Provider
    """The cluster's provider."""
    tags: dict[str, str]
    """The BU's tags (the family and owner tags are added)."""


class RetrainingLoop(pulumi.ComponentResource):
    """One family's retraining queue, the triggers that feed it, and the ScaledJob that drains it."""

    queue_arn: pulumi.Output[str]
    """The retraining queue."""
    queue_url: pulumi.Output[str]
    """The retraining queue's URL (the training job reads it)."""
    dead_letter_queue_arn: pulumi.Output[str]
    """Where requests go after `DEAD_LETTER_RECEIVES` failed runs."""

    def __init__(
        self, name: str, args: RetrainingLoopArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:mlops:RetrainingLoop", name, None, opts)
        family, prefix = args["family"], args["name_prefix"]
        retraining = args["retraining"]
        tags = merge_tags(args["tags"], family_tags(family, args["owners"]))
        # what the pack (mlops-queue-and-archive-cmk) and readiness recognise the loop by
        queue_tags = {**tags, PURPOSE_TAG: PURPOSE}
        base = queue_name(prefix, family)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{base}-dlq",
            kms_master_key_id=args["kms_key_arn"],
            message_retention_seconds=1209600,
            tags=queue_tags,
            opts=child(self),
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=base,
            kms_master_key_id=args["kms_key_arn"],
            # A training job holds its message for the whole run: visibility covers the job's
            # deadline (the schema caps timeoutHours at SQS's 12-hour total visibility).
            visibility_timeout_seconds=min(
                MAX_VISIBILITY_SECONDS, retraining["timeout_hours"] * 3600
            ),
            message_retention_seconds=1209600,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": DEAD_LETTER_RECEIVES}
                )
            ),
            tags=queue_tags,
            opts=child(self),
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child(self),
        )
        rules: list[tuple[str, aws.cloudwatch.EventRule]] = [
            (
                "manual",
                aws.cloudwatch.EventRule(
                    f"{name}-manual",
                    name=f"{base}-manual",
                    description=f"Manual retraining requests of {family} in {prefix}",
                    event_pattern=manual_trigger_pattern(args["business_unit"], family),
                    tags=tags,
                    opts=child(self),
                ),
            )
        ]
        if retraining["on_alarms"] and args["alarm_names"]:
            rules.append(
                (
                    "alarm",
                    aws.cloudwatch.EventRule(
                        f"{name}-alarm",
                        name=f"{base}-alarm",
                        description=f"Model-quality and drift alarms of {family} in {prefix}",
                        event_pattern=alarm_trigger_pattern(
                            args["account_id"], args["alarm_names"]
                        ),
                        tags=tags,
                        opts=child(self),
                    ),
                )
            )
        scheduler_role: aws.iam.Role | None = None
        if retraining["schedule"]:
            scheduler_role = aws.iam.Role(
                f"{name}-scheduler-role",
                name=f"{base}-scheduler",
                # A service role (only EventBridge Scheduler assumes it), like the data-quality
                # and backup roles: outside the BU role path, so no boundary; its one policy is
                # narrower than the boundary would be.
                assume_role_policy=service_trust_policy("scheduler.amazonaws.com"),
                tags=tags,
                opts=child(self),
            )
            aws.iam.RolePolicy(
                f"{name}-scheduler-policy",
                role=scheduler_role.id,
                policy=pulumi.Output.all(queue.arn, args["kms_key_arn"], region).apply(
                    lambda p: scheduler_role_policy(p[0], p[1], p[2])
                ),
                opts=child(self),
            )
            aws.scheduler.Schedule(
                f"{name}-schedule",
                name=f"{base}-schedule",
                description=f"Scheduled retraining of {family} in {prefix}",
                schedule_expression=retraining["schedule"],
                schedule_expression_timezone=retraining["schedule_timezone"],
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=queue.arn,
                    role_arn=scheduler_role.arn,
                    input=trigger_message("schedule", family),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_event_age_in_seconds=3600, maximum_retry_attempts=5
                    ),
                ),
                opts=child(self),
            )
        policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(
                queue.arn,
                [rule.arn for _, rule in rules],
                scheduler_role.arn if scheduler_role is not None else None,
            ).apply(lambda p: retraining_queue_policy(p[0], list(p[1]), p[2])),
            opts=child(self),
        )
        for trigger, rule in rules:
            aws.cloudwatch.EventTarget(
                f"{name}-{trigger}-target",
                rule=rule.name,
                arn=queue.arn,
                target_id="retraining-queue",
                input=trigger_message(trigger, family),  # type: ignore[arg-type]
                opts=child(self, depends_on=[policy]),
            )

        # -- the training run ------------------------------------------------------------------
        k8s_opts = child(self, provider=args["k8s_provider"])
        auth_name = f"retrain-{family}-keda-aws"
        meta = k8s.meta.v1.ObjectMetaArgs(
            name=auth_name,
            namespace=args["namespace"],
            labels={labels.MANAGED_BY: "pulumi", labels.BU: args["business_unit"]},
        )
        auth = k8s.apiextensions.CustomResource(
            f"{name}-keda-auth",
            api_version="keda.sh/v1alpha1",
            kind="TriggerAuthentication",
            metadata=meta,
            # KEDA's operator reads the queue depth with its own Pod Identity role (platform).
            spec={"podIdentity": {"provider": "aws"}},
            opts=k8s_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-scaled-job",
            api_version="keda.sh/v1alpha1",
            kind="ScaledJob",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"retrain-{family}",
                namespace=args["namespace"],
                labels={
                    **job_labels(args["business_unit"], family, args["local_queue"]),
                    labels.MANAGED_BY: "pulumi",
                },
            ),
            spec=pulumi.Output.all(args["image"], queue.url, region, args["artifact_bucket"]).apply(
                lambda p: scaled_job_spec(
                    business_unit=args["business_unit"],
                    family=family,
                    retraining=retraining,
                    pool=args["pool"],
                    image=p[0],
                    queue_url=p[1],
                    region=p[2],
                    artifact_bucket=p[3],
                    model_package_group=args["model_package_group"],
                    local_queue=args["local_queue"],
                    service_account=args["service_account"],
                )
            ),
            opts=child(self, provider=args["k8s_provider"], depends_on=[auth]),
        )
        self.queue_arn, self.queue_url = queue.arn, queue.url
        self.dead_letter_queue_arn = dlq.arn
        self.register_outputs(
            {"queueArn": queue.arn, "queueUrl": queue.url, "deadLetterQueueArn": dlq.arn}
        )


def image_reference(repository_url: str, image: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<repo>:<tag>` from the repository's
    URL and config's `<repo>:<tag>` (or `<repo>@sha256:<digest>`)."""
    for sep in ("@", ":"):
        if sep in image:
            return repository_url + sep + image.split(sep, 1)[1]
    raise ValueError(f"image {image!r} names no tag or digest")
