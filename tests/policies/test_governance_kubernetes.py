"""Kubernetes workload rules: a bad and a good program per rule, the pod-spec extractor over
every workload kind, namespace exemptions, LimitRange and ResourceQuota linking, and unknowns.

Programs are built from real `pulumi_kubernetes` resources with their typed Args classes, so the
engine records the provider's camelCase wire names (`securityContext`, `hostPID`, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from governance import kubernetes
from governance.kubernetes import quantity
from policy_harness import check, names
from policy_programs import unknown
from pulumi_policy.proxy import UnknownValueError

Program = Callable[[], None]
core, apps, batch, meta = k8s.core.v1, k8s.apps.v1, k8s.batch.v1, k8s.meta.v1

LIMITS = {"cpu": "1", "memory": "2Gi"}


@dataclass(frozen=True)
class Case:
    bad: Program
    flagged: set[str]
    good: Program


# -- building blocks --------------------------------------------------------------------------


def container(
    name: str = "app",
    *,
    limits: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
    **security: Any,
) -> core.ContainerArgs:
    """A container; `security` becomes its securityContext."""
    return core.ContainerArgs(
        name=name,
        image="public.ecr.aws/docker/library/python:3.12",
        resources=core.ResourceRequirementsArgs(
            limits=LIMITS if limits is None else limits, requests=requests
        ),
        security_context=core.SecurityContextArgs(**security) if security else None,
    )


def pod_spec(*containers: core.ContainerArgs, **extra: Any) -> core.PodSpecArgs:
    return core.PodSpecArgs(containers=list(containers) or [container()], **extra)


def template(spec: core.PodSpecArgs, app: str = "app") -> core.PodTemplateSpecArgs:
    return core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels={"app": app}), spec=spec)


def selector(app: str = "app") -> meta.LabelSelectorArgs:
    return meta.LabelSelectorArgs(match_labels={"app": app})


def ns(namespace: str | None, **kw: Any) -> meta.ObjectMetaArgs:
    return meta.ObjectMetaArgs(namespace=namespace, **kw)


def deployment(name: str, spec: core.PodSpecArgs, namespace: str | None = "fraud", **kw):
    return apps.Deployment(
        name,
        metadata=ns(namespace),
        spec=apps.DeploymentSpecArgs(selector=selector(), template=template(spec)),
        **kw,
    )


def daemon_set(name: str, spec: core.PodSpecArgs, namespace: str | None = "fraud", **kw):
    return apps.DaemonSet(
        name,
        metadata=ns(namespace),
        spec=apps.DaemonSetSpecArgs(selector=selector(), template=template(spec)),
        **kw,
    )


def job(name: str, spec: core.PodSpecArgs, namespace: str | None = "fraud"):
    spec.restart_policy = "Never"  # type: ignore[attr-defined]
    return batch.Job(name, metadata=ns(namespace), spec=batch.JobSpecArgs(template=template(spec)))


def gpu_container(resource: str = "nvidia.com/gpu", amount: str = "1") -> core.ContainerArgs:
    return container(limits={**LIMITS, resource: amount})


def limit_range(name: str, namespace: str, *, default=None, max_=None) -> core.LimitRange:
    return core.LimitRange(
        name,
        metadata=ns(namespace),
        spec=core.LimitRangeSpecArgs(
            limits=[core.LimitRangeItemArgs(type="Container", default=default, max=max_)]
        ),
    )


def quota(name: str, namespace: str, hard: dict[str, str], **spec: Any) -> core.ResourceQuota:
    return core.ResourceQuota(
        name, metadata=ns(namespace), spec=core.ResourceQuotaSpecArgs(hard=hard, **spec)
    )


# -- privilege rules --------------------------------------------------------------------------


def bad_privileged() -> None:
    deployment("priv", pod_spec(container(privileged=True)))
    core.Pod(
        "escalates", metadata=ns("fraud"), spec=pod_spec(container(allow_privilege_escalation=True))
    )
    batch.CronJob(
        "sysadmin",
        metadata=ns("fraud"),
        spec=batch.CronJobSpecArgs(
            schedule="0 * * * *",
            job_template=batch.JobTemplateSpecArgs(
                spec=batch.JobSpecArgs(
                    template=template(
                        pod_spec(
                            container(
                                capabilities=core.CapabilitiesArgs(
                                    add=["NET_BIND_SERVICE", "SYS_ADMIN"]
                                )
                            ),
                            restart_policy="Never",
                        )
                    )
                )
            ),
        ),
    )
    apps.StatefulSet(
        "init-priv",
        metadata=ns("fraud"),
        spec=apps.StatefulSetSpecArgs(
            selector=selector(),
            service_name="init-priv",
            template=template(
                pod_spec(container(), init_containers=[container("setup", privileged=True)])
            ),
        ),
    )
    apps.DeploymentPatch(
        "patched",
        metadata=meta.ObjectMetaPatchArgs(name="serve", namespace="fraud"),
        spec=apps.DeploymentSpecPatchArgs(
            template=core.PodTemplateSpecPatchArgs(
                spec=core.PodSpecPatchArgs(
                    containers=[
                        core.ContainerPatchArgs(
                            name="app",
                            security_context=core.SecurityContextPatchArgs(privileged=True),
                        )
                    ]
                )
            )
        ),
    )
    daemon_set("no-namespace", pod_spec(container(privileged=True)), namespace=None)


def good_privileged() -> None:
    deployment(
        "restricted",
        pod_spec(
            container(
                allow_privilege_escalation=False,
                run_as_non_root=True,
                capabilities=core.CapabilitiesArgs(drop=["ALL"]),
            )
        ),
    )
    job("train", pod_spec(container(privileged=False, allow_privilege_escalation=False)))
    # Node agents in the platform's namespaces are privileged by design.
    daemon_set("node-agent", pod_spec(container(privileged=True)), namespace="kube-system")
    daemon_set("mig-manager", pod_spec(container(privileged=True)), namespace="gpu-operator")


def bad_host_namespaces() -> None:
    core.Pod("hostnet", metadata=ns("fraud"), spec=pod_spec(host_network=True))
    deployment("hostpid", pod_spec(host_pid=True))
    job("hostipc", pod_spec(host_ipc=True))


def good_host_namespaces() -> None:
    deployment("serve", pod_spec(host_network=False))
    daemon_set("cni", pod_spec(host_network=True, host_pid=True), namespace="kube-system")


def bad_host_path() -> None:
    daemon_set(
        "node-reader",
        pod_spec(
            volumes=[
                core.VolumeArgs(name="root", host_path=core.HostPathVolumeSourceArgs(path="/"))
            ]
        ),
    )
    apps.ReplicaSet(
        "docker",
        metadata=ns("marketing"),
        spec=apps.ReplicaSetSpecArgs(
            selector=selector(),
            template=template(
                pod_spec(
                    volumes=[
                        core.VolumeArgs(
                            name="sock",
                            host_path=core.HostPathVolumeSourceArgs(
                                path="/var/run/docker.sock", type="Socket"
                            ),
                        )
                    ]
                )
            ),
        ),
    )


def good_host_path() -> None:
    deployment(
        "serve",
        pod_spec(
            volumes=[
                core.VolumeArgs(name="scratch", empty_dir=core.EmptyDirVolumeSourceArgs()),
                core.VolumeArgs(
                    name="models",
                    persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
                        claim_name="models"
                    ),
                ),
            ]
        ),
    )
    daemon_set(
        "device-plugin",
        pod_spec(
            volumes=[
                core.VolumeArgs(
                    name="plugins",
                    host_path=core.HostPathVolumeSourceArgs(path="/var/lib/kubelet/device-plugins"),
                )
            ]
        ),
        namespace="gpu-operator",
    )


# -- limits and quota -------------------------------------------------------------------------


def bad_limits() -> None:
    deployment("no-limits", pod_spec(container(limits={})), namespace="apps")
    job("cpu-only", pod_spec(container(limits={"cpu": "2"})), namespace="apps")
    apps.StatefulSet(
        "init-unlimited",
        metadata=ns("apps"),
        spec=apps.StatefulSetSpecArgs(
            selector=selector(),
            service_name="db",
            template=template(
                pod_spec(container(), init_containers=[container("migrate", limits={})])
            ),
        ),
    )
    limit_range("marketing-defaults", "marketing", default={"cpu": "1", "memory": "1Gi"})
    deployment("other-namespace", pod_spec(container(limits={})), namespace="fraud")


def good_limits() -> None:
    deployment("explicit", pod_spec(container()), namespace="apps")
    limit_range("fraud-defaults", "fraud", default={"cpu": "2", "memory": "4Gi"})
    deployment("defaulted", pod_spec(container(limits={})), namespace="fraud")
    limit_range("research-max", "research", max_={"cpu": "4", "memory": "8Gi"})
    core.Pod("capped", metadata=ns("research"), spec=pod_spec(container(limits={})))
    limit_range("ml-memory", "ml", default={"memory": "4Gi"})
    job("cpu-set", pod_spec(container(limits={"cpu": "1"})), namespace="ml")


def bad_gpu_quota() -> None:
    job("train", pod_spec(gpu_container()), namespace="fraud")
    quota("marketing-compute", "marketing", {"requests.cpu": "32"})
    deployment("serve", pod_spec(gpu_container()), namespace="marketing")
    quota(
        "research-priority",
        "research",
        {"requests.nvidia.com/gpu": "4"},
        scopes=["PriorityClass"],
        scope_selector=core.ScopeSelectorArgs(
            match_expressions=[
                core.ScopedResourceSelectorRequirementArgs(
                    scope_name="PriorityClass", operator="In", values=["high"]
                )
            ]
        ),
    )
    core.Pod("scoped", metadata=ns("research"), spec=pod_spec(gpu_container()))
    quota("mig-compute", "mig", {"requests.nvidia.com/gpu": "4"})
    deployment("mig", pod_spec(gpu_container("nvidia.com/mig-1g.10gb")), namespace="mig")


def good_gpu_quota() -> None:
    quota("fraud-compute", "fraud", {"requests.nvidia.com/gpu": "12", "requests.cpu": "128"})
    job("train", pod_spec(gpu_container()), namespace="fraud")
    deployment("cpu-only", pod_spec(container()), namespace="apps")
    deployment("no-gpu", pod_spec(gpu_container(amount="0")), namespace="apps")


KUBERNETES_CASES: dict[str, Case] = {
    "k8s-no-privileged": Case(
        bad_privileged,
        {"priv", "escalates", "sysadmin", "init-priv", "patched", "no-namespace"},
        good_privileged,
    ),
    "k8s-no-host-namespaces": Case(
        bad_host_namespaces, {"hostnet", "hostpid", "hostipc"}, good_host_namespaces
    ),
    "k8s-no-hostpath": Case(bad_host_path, {"node-reader", "docker"}, good_host_path),
    "k8s-resource-limits": Case(
        bad_limits, {"no-limits", "cpu-only", "init-unlimited", "other-namespace"}, good_limits
    ),
    "k8s-gpu-requests-need-quota": Case(
        bad_gpu_quota, {"train", "serve", "scoped", "mig"}, good_gpu_quota
    ),
}


def test_every_kubernetes_rule_has_a_bad_and_a_good_case():
    assert set(KUBERNETES_CASES) == {r.id for r in kubernetes.RULES}


@pytest.mark.parametrize("rule_id", sorted(KUBERNETES_CASES))
def test_bad_program_is_caught(rule_id: str):
    case = KUBERNETES_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged
    assert all(v.message.endswith(".") for v in violations)


@pytest.mark.parametrize("rule_id", sorted(KUBERNETES_CASES))
def test_good_program_passes(rule_id: str):
    assert check(rule_id, KUBERNETES_CASES[rule_id].good, environment="prod") == []


# -- the pod-spec extractor -------------------------------------------------------------------

PRIVILEGED = pod_spec(container(privileged=True), restart_policy="Never")


def _tmpl() -> core.PodTemplateSpecArgs:
    return template(PRIVILEGED)


WORKLOADS: dict[str, Callable[[], pulumi.Resource]] = {
    "Pod": lambda: core.Pod("w", metadata=ns("fraud"), spec=PRIVILEGED),
    "Deployment": lambda: apps.Deployment(
        "w",
        metadata=ns("fraud"),
        spec=apps.DeploymentSpecArgs(selector=selector(), template=_tmpl()),
    ),
    "StatefulSet": lambda: apps.StatefulSet(
        "w",
        metadata=ns("fraud"),
        spec=apps.StatefulSetSpecArgs(selector=selector(), service_name="w", template=_tmpl()),
    ),
    "DaemonSet": lambda: apps.DaemonSet(
        "w",
        metadata=ns("fraud"),
        spec=apps.DaemonSetSpecArgs(selector=selector(), template=_tmpl()),
    ),
    "ReplicaSet": lambda: apps.ReplicaSet(
        "w",
        metadata=ns("fraud"),
        spec=apps.ReplicaSetSpecArgs(selector=selector(), template=_tmpl()),
    ),
    "ReplicationController": lambda: core.ReplicationController(
        "w",
        metadata=ns("fraud"),
        spec=core.ReplicationControllerSpecArgs(selector={"app": "app"}, template=_tmpl()),
    ),
    "Job": lambda: batch.Job("w", metadata=ns("fraud"), spec=batch.JobSpecArgs(template=_tmpl())),
    "CronJob": lambda: batch.CronJob(
        "w",
        metadata=ns("fraud"),
        spec=batch.CronJobSpecArgs(
            schedule="@hourly",
            job_template=batch.JobTemplateSpecArgs(spec=batch.JobSpecArgs(template=_tmpl())),
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_every_workload_kind_has_its_pod_spec_found(kind):
    violations = check("k8s-no-privileged", WORKLOADS[kind])
    assert names(violations) == ["w"]
    assert violations[0].message.startswith(f"{kind} 'w' in namespace 'fraud'")


@pytest.mark.parametrize(
    "token", sorted(kubernetes.WORKLOAD_TYPES | kubernetes.WORKLOAD_PATCH_TYPES)
)
def test_every_watched_type_token_is_a_pulumi_kubernetes_resource(token):
    _, group_version, kind = token.split(":")
    group, version = group_version.split("/")
    module = importlib.import_module(f"pulumi_kubernetes.{group}.{version}")
    assert isinstance(getattr(module, kind), type)


def test_helm_releases_are_not_policed():
    assert not any("helm.sh" in t for r in kubernetes.RULES for t in r.resource_types)


# -- exemptions and namespaces ----------------------------------------------------------------


def privileged_agent(namespace: str | None = "monitoring", **kw: Any) -> Program:
    return lambda: daemon_set(
        "agent", pod_spec(container(privileged=True)), namespace=namespace, **kw
    )


def test_exempt_namespaces_come_from_policy_config():
    assert names(check("k8s-no-privileged", privileged_agent())) == ["agent"]
    config = {"exemptNamespaces": ["monitoring"]}
    assert check("k8s-no-privileged", privileged_agent(), policy_config=config) == []
    none_exempt = {"exemptNamespaces": []}
    assert names(
        check("k8s-no-privileged", privileged_agent("kube-system"), policy_config=none_exempt)
    ) == ["agent"]


def test_an_objects_namespace_falls_back_to_its_providers():
    def program():
        provider = k8s.Provider("system", kubeconfig="{}", namespace="kube-system")
        daemon_set(
            "agent",
            pod_spec(container(privileged=True)),
            namespace=None,
            opts=pulumi.ResourceOptions(provider=provider),
        )

    assert check("k8s-no-privileged", program) == []


def test_an_objects_namespace_falls_back_to_the_stacks_kubernetes_config():
    config = {"kubernetes:namespace": "kube-system"}
    assert check("k8s-no-privileged", privileged_agent(None), config=config) == []
    assert names(check("k8s-no-privileged", privileged_agent(None))) == ["agent"]


def test_a_privileged_pod_with_an_unknown_namespace_is_not_excused_in_preview():
    with pytest.raises(UnknownValueError):
        check(
            "k8s-no-privileged",
            lambda: daemon_set("agent", pod_spec(container(privileged=True)), namespace=unknown()),
        )


def test_a_compliant_pod_with_an_unknown_namespace_is_judged_in_preview():
    def program():
        deployment("serve", pod_spec(container()), namespace=unknown())

    for rule_id in ("k8s-no-privileged", "k8s-no-hostpath", "k8s-resource-limits"):
        assert check(rule_id, program) == []


# -- limits and quota details -----------------------------------------------------------------


def test_required_limits_can_drop_cpu():
    def program():
        deployment("burst", pod_spec(container(limits={"memory": "2Gi"})), namespace="apps")

    assert names(check("k8s-resource-limits", program)) == ["burst"]
    config = {"requiredLimits": ["memory"]}
    assert check("k8s-resource-limits", program, policy_config=config) == []


def test_limits_message_names_the_container_and_the_gap():
    [violation] = check(
        "k8s-resource-limits",
        lambda: job("cpu-only", pod_spec(container(limits={"cpu": "2"})), namespace="apps"),
    )
    assert "'app' has no memory limit" in violation.message


def test_limits_rule_ignores_patches():
    def program():
        apps.DeploymentPatch(
            "scale",
            metadata=meta.ObjectMetaPatchArgs(name="serve", namespace="apps"),
            spec=apps.DeploymentSpecPatchArgs(replicas=3),
        )

    assert check("k8s-resource-limits", program) == []


def test_mig_quota_message_names_the_resource():
    violations = {
        v.resource_name: v.message for v in check("k8s-gpu-requests-need-quota", bad_gpu_quota)
    }
    assert "requests.nvidia.com/mig-1g.10gb" in violations["mig"]


def test_gpu_requests_count_as_well_as_limits():
    def program():
        core.Pod(
            "asks",
            metadata=ns("apps"),
            spec=pod_spec(container(requests={"nvidia.com/gpu": "1"})),
        )

    assert names(check("k8s-gpu-requests-need-quota", program)) == ["asks"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8, 8.0),
        (8.0, 8.0),
        ("8", 8.0),
        ("500m", 0.5),
        ("2k", 2000.0),
        ("16Gi", 16 * 2.0**30),
        ("1e3", 1000.0),
        ("1e400", None),
        ("eight", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_quantities_are_parsed_as_kubernetes_does(value, expected):
    assert quantity(value) == expected
