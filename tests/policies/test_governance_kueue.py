"""Kueue rule: BU batch Jobs name their LocalQueue. A bad and a good program built from real
pulumi_kubernetes resources under mocks (a Job, a CronJob, a KEDA ScaledJob), and the rule on the
shipped stacks' rendered inventories."""

from __future__ import annotations

import copy

import pulumi_kubernetes as k8s
import pytest
from governance import rule
from governance.kueue import QUEUE_NAME_LABEL, SCALED_JOB
from governance.kueue import local_queue_name as pack_queue_name
from policy_harness import check, names

from components import kueue
from estate.offline.model import Resource

RULE = "kueue-batch-job-names-local-queue"


def pod_template() -> k8s.core.v1.PodTemplateSpecArgs:
    return k8s.core.v1.PodTemplateSpecArgs(
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy="Never",
            containers=[k8s.core.v1.ContainerArgs(name="train", image="example/train:1")],
        )
    )


def job(name: str, namespace: str = "fraud", queue: str | None = None) -> None:
    labels = {QUEUE_NAME_LABEL: queue} if queue is not None else None
    k8s.batch.v1.Job(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        spec=k8s.batch.v1.JobSpecArgs(template=pod_template()),
    )


def cron_job(name: str, queue: str | None = None) -> None:
    labels = {QUEUE_NAME_LABEL: queue} if queue is not None else None
    k8s.batch.v1.CronJob(
        name,
        # Labels on the CronJob itself do not reach its Jobs: the job template's do.
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace="fraud", labels={QUEUE_NAME_LABEL: "fraud-gpu"}
        ),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule="0 3 * * *",
            job_template=k8s.batch.v1.JobTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.batch.v1.JobSpecArgs(template=pod_template()),
            ),
        ),
    )


def scaled_job(name: str, queue: str | None = None) -> None:
    labels = {QUEUE_NAME_LABEL: queue} if queue is not None else {}
    k8s.apiextensions.CustomResource(
        name,
        api_version="keda.sh/v1alpha1",
        kind="ScaledJob",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace="fraud", labels=labels),
        spec={
            "jobTargetRef": {"template": {"spec": {"containers": [{"name": "t", "image": "x"}]}}},
            "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "https://sqs"}}],
        },
    )


def bad() -> None:
    job("unqueued")
    job("other-bus-queue", queue="marketing-gpu")
    cron_job("nightly")
    scaled_job("retrain")


def good() -> None:
    job("train", queue="fraud-gpu")
    job("chart-hook", namespace="kube-system")  # the platform's own namespace: exempt
    cron_job("nightly", queue="fraud-gpu")
    scaled_job("retrain", queue=kueue.local_queue_name("fraud"))


KUEUE_CASES = {RULE: (bad, {"unqueued", "other-bus-queue", "nightly", "retrain"}, good)}
"""Rule id -> (bad program, the names it flags, good program): read by test_governance_rules."""


def test_bad_program_is_caught():
    program, flagged, _ = KUEUE_CASES[RULE]
    violations = check(RULE, program, environment="prod")
    assert set(names(violations)) == flagged
    by_name = {v.resource_name: v.message for v in violations}
    assert "names no LocalQueue" in by_name["unqueued"]
    assert "names 'marketing-gpu'" in by_name["other-bus-queue"]
    assert f"{QUEUE_NAME_LABEL}: fraud-gpu" in by_name["retrain"]
    assert "job template" in by_name["nightly"]


def test_good_program_passes():
    assert check(RULE, KUEUE_CASES[RULE][2], environment="prod") == []


def test_the_pack_spells_the_local_queue_as_the_component_does():
    for bu in ("fraud", "marketing", "a"):
        assert pack_queue_name(bu) == kueue.local_queue_name(bu)
    assert QUEUE_NAME_LABEL == kueue.QUEUE_NAME_LABEL


def test_advisory_in_dev_blocking_from_staging():
    enforcement = rule(RULE).enforcement
    assert enforcement == {"dev": "advisory", "staging": "mandatory", "prod": "mandatory"}


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_shipped_stacks_pass_and_an_unlabelled_scaled_job_is_caught(rendered, stack):
    inventory = rendered(stack)
    env = stack.rsplit("-", 1)[1]
    assert check(RULE, inventory, environment=env) == []
    bu = stack.rsplit("-", 1)[0]
    broken = copy.deepcopy(inventory)
    urn = f"urn:pulumi:{stack}::ai-estate::{SCALED_JOB}::{stack}-trainer"
    broken.resources.append(
        Resource(
            urn=urn,
            type=SCALED_JOB,
            name=f"{stack}-trainer",
            custom=True,
            inputs={"metadata": {"name": "trainer", "namespace": bu}, "spec": {}},
        )
    )
    assert names(check(RULE, broken, environment=env)) == [f"{stack}-trainer"]
