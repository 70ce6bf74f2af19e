"""Kueue rules: a BU's batch Jobs are admitted through its Kueue LocalQueue.

Kueue only manages a Job that names a LocalQueue with the label `kueue.x-k8s.io/queue-name`
(the estate runs it with `manageJobsWithoutQueueName: false`). A Job without the label starts at
once, outside the BU's ClusterQueue: its GPUs are not counted against the BU's share of the
cohort, it is never preempted to give borrowed GPUs back, and the other BUs' queued jobs wait
behind it. The cluster refuses such a Job at admission (components/kueue.py, a
ValidatingAdmissionPolicy per BU namespace); this rule says so before the deployment.

- `kueue-batch-job-names-local-queue`: a `batch/v1` Job, a CronJob's job template and a KEDA
  `ScaledJob` (KEDA copies the ScaledJob's labels onto every Job it creates) outside the exempt
  namespaces carry `kueue.x-k8s.io/queue-name: <namespace>-gpu`, the LocalQueue the estate
  creates in each BU namespace (the BU's namespace is named after the BU).
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_FROM_STAGING, ENVIRONMENTS, Rule, Setting, Settings
from .kubernetes import kind_of, namespace_of
from .properties import get, text

QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SCALED_JOB = "kubernetes:keda.sh/v1alpha1:ScaledJob"
DEFAULT_EXEMPT_NAMESPACES = ["kube-system", "kueue-system", "keda", "karpenter", "gpu-operator"]
"""The platform's own namespaces: their jobs (chart hooks, controllers') are not BU workloads."""


def local_queue_name(namespace: str) -> str:
    """The LocalQueue of a BU namespace. Duplicated by value from `components/kueue.py` (the pack
    cannot import components); tests/policies/test_governance_kueue.py keeps the two equal."""
    return f"{namespace}-gpu"


def _job_labels(resource_type: str, props: object) -> object:
    """The labels the Jobs themselves will carry."""
    if resource_type == CRON_JOB:
        return get(props, "spec", "jobTemplate", "metadata", "labels")
    return get(props, "metadata", "labels")


def validate_job_names_local_queue(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    namespace = namespace_of(args.props, args.provider)
    if namespace in settings["exemptNamespaces"]:
        return
    labels = _job_labels(args.resource_type, args.props)
    named = text(get(labels, QUEUE_NAME_LABEL)) if labels is not None else ""
    expected = local_queue_name(namespace)
    if named == expected:
        return
    where = "its job template's labels" if args.resource_type == CRON_JOB else "its labels"
    found = f"names '{named}'" if named else "names no LocalQueue"
    report(
        f"{kind_of(args.resource_type)} '{args.name}' in namespace '{namespace}' {found}: "
        f"{where} need {QUEUE_NAME_LABEL}: {expected}.",
        None,
    )


RULES: tuple[Rule, ...] = (
    Rule(
        id="kueue-batch-job-names-local-queue",
        title="BU batch jobs name their Kueue LocalQueue",
        description=(
            "Every batch Job, CronJob and KEDA ScaledJob in a BU namespace carries the label "
            f"{QUEUE_NAME_LABEL} naming the namespace's LocalQueue (<namespace>-gpu)."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            f"Label the Job (a CronJob's jobTemplate, a ScaledJob's metadata) with "
            f"{QUEUE_NAME_LABEL}: components.kueue.local_queue_name(<bu>)."
        ),
        kind="resource",
        validate=validate_job_names_local_queue,
        resource_types=frozenset({JOB, CRON_JOB, SCALED_JOB}),
        settings=(
            Setting(
                name="exemptNamespaces",
                description="Namespaces this rule does not judge (the platform's own).",
                schema={
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                },
                defaults={env: list(DEFAULT_EXEMPT_NAMESPACES) for env in ENVIRONMENTS},
            ),
        ),
        domain="kueue",
        rationale=(
            "Advisory in dev, where a data scientist's one-off Job may run outside the queue; "
            "the cluster's admission policy refuses it in every environment anyway."
        ),
    ),
)
