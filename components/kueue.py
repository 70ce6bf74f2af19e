"""Fair-share GPU admission with Kueue: who may start a batch job on the BU's GPUs, and when.

Kueue (kubernetes-sigs/kueue, chart pinned in charts.yaml) admits a suspended Job when its
ClusterQueue has quota for it, then unsuspends it; it never places pods (the pods still select
their BU's pool and Karpenter or the cluster-autoscaler brings the node up). The estate sets it
up in two halves:

- The platform (`Kueue`, installed with the other GPU machinery of a cluster): the controller on
  the system pool, watching batch Jobs in BU namespaces only; one `ResourceFlavor` per GPU model
  of the catalog (`gpu-<model>`: the `ai-estate/gpu-model` node label, and the toleration of the
  GPU nodes' `nvidia.com/gpu` taint that Kueue adds to admitted pods) plus a `cpu` flavor for
  CPU-only jobs; and the `Cohort` every BU's ClusterQueue joins.
- Each BU (`BuQueues`, in the BU stack): a `ClusterQueue` (cluster-scoped, `<bu>-gpu`) holding
  the BU's GPU quota per GPU model in the shared cohort, a `LocalQueue` (`<bu>-gpu`) in the
  namespace, and a ValidatingAdmissionPolicy refusing batch Jobs in the namespace that do not
  name that LocalQueue (`kueue.x-k8s.io/queue-name`).

One unit, one source. A pool's cap is `effective_max_gpus` (gpu_pools.py): it is the Karpenter
NodePool limit and the managed pool's ceiling. The BU's quota (`tenant.gpuQuota`, physical GPUs)
defaults to the pools' caps less what the BU may borrow; the namespace ResourceQuota holds
quota + borrowing (what the BU may ever hold); the ClusterQueue's `nominalQuota` per GPU model is
the quota spread over the models' pool caps and its `borrowingLimit` the borrowing spread over
what is left (`gpu_shares`). Every figure goes through `gpu_units`, so on a time-sliced platform
all of them count slices. Borrowed GPUs still run on the BU's own pools (they are tainted for
it): idle quota is what a BU borrows, its pools' caps leave the room.

Preemption: `reclaimWithinCohort: Any` returns lent quota to its owner (the borrower's workloads
are evicted), `withinClusterQueue: LowerPriority` lets a BU's urgent job evict its own lower
priority ones; nobody preempts to borrow (`borrowWithinCohort: Never`).

Quotas of `cpu` and `memory` are required too: Kueue refuses to admit a workload requesting a
resource its ClusterQueue does not cover. Each flavor gets the namespace's CPU and memory quota;
the namespace ResourceQuota stays what binds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_kubernetes.admissionregistration import v1 as admission
from pulumi_kubernetes.meta import v1 as meta

from . import labels
from .addons import _depends_on_of, helm_release
from .charts import chart
from .gpu_catalog import GPU_MODELS, gpu_model_of
from .gpu_pools import GpuPoolSpec, effective_max_gpus, gpu_units, slices_factor
from .options import child

QUEUE_NAME_LABEL = labels.KUEUE_QUEUE_NAME
"""The label a Job (or a KEDA ScaledJob, which copies its labels to its Jobs) carries to be
admitted by a LocalQueue."""
API_VERSION = "kueue.x-k8s.io/v1beta2"
"""The storage version of Kueue 0.19's CRDs (v1beta1 is still served, deprecated)."""
NAMESPACE = "kueue-system"
"""Where the controller runs (the namespace upstream's manifests and chart README use)."""
COHORT = "ai-estate-gpu"
"""The cohort every BU's ClusterQueue joins: idle quota of one BU is lent to the others."""
CPU_FLAVOR = "cpu"
"""The flavor of CPU-only jobs (no node labels: they land wherever their pods select)."""
GPU_TOLERATION = {"key": labels.NVIDIA_GPU, "operator": "Exists", "effect": "NoSchedule"}
"""Tolerates the `nvidia.com/gpu` taint every GPU node carries (gpu_pools.node_taints)."""
INTEGRATIONS = ["batch/job"]
"""What Kueue manages: batch Jobs (the retraining ScaledJob's too). Upstream's default also
turns on its pod, Deployment and StatefulSet webhooks, which would put every pod creation of the
cluster behind the Kueue webhook's availability for nothing the estate uses."""


def local_queue_name(bu: str) -> str:
    """The BU's LocalQueue in its namespace (`fraud-gpu`): what its batch jobs name."""
    return f"{bu}-gpu"


def cluster_queue_name(bu: str) -> str:
    """The BU's ClusterQueue (cluster-scoped, `fraud-gpu`). The `<bu>-` prefix is what the BU
    deployer guard lets a BU stack write (components/cluster.py)."""
    return f"{bu}-gpu"


def flavor_name(gpu_model: str) -> str:
    """The ResourceFlavor of one GPU model (`gpu-a10g`)."""
    return f"gpu-{gpu_model}"


def admission_policy_name(bu: str) -> str:
    """The BU's queue-name ValidatingAdmissionPolicy (and binding)."""
    return f"ai-estate-{bu}-kueue-queue-name"


# -- quota arithmetic (pure) ----------------------------------------------------------------


@dataclass(frozen=True)
class GpuShare:
    """What a BU's ClusterQueue holds of one GPU model, in physical GPUs."""

    gpu_model: str
    pool_cap: int
    """The sum of `effective_max_gpus` of the BU's pools of this model."""
    nominal: int
    """The BU's own quota of this model (`nominalQuota`)."""
    borrowing: int
    """How much more it may borrow from the cohort (`borrowingLimit`)."""


def pool_caps_by_model(pools: Sequence[GpuPoolSpec]) -> dict[str, int]:
    """GPU model -> the sum of its pools' caps, in the order the stack file lists the pools."""
    caps: dict[str, int] = {}
    for pool in pools:
        model = gpu_model_of(pool["instance_types"])
        caps[model] = caps.get(model, 0) + effective_max_gpus(pool)
    return caps


def default_gpu_quota(pools: Sequence[GpuPoolSpec], borrowing_limit: int = 0) -> int:
    """`tenant.gpuQuota` when the stack file leaves it out: the pools' caps less what the BU may
    borrow, so quota + borrowing is exactly what its pools can hold."""
    return max(0, sum(pool_caps_by_model(pools).values()) - borrowing_limit)


def gpu_ceiling(gpu_quota: int, borrowing_limit: int) -> int:
    """Most physical GPUs the BU may hold at once: its quota plus what it may borrow (the
    namespace ResourceQuota)."""
    return gpu_quota + borrowing_limit


def gpu_quota_problem(pools: Sequence[GpuPoolSpec], gpu_quota: int, borrowing_limit: int) -> str:
    """Why this quota and borrowing limit do not fit the BU's pools ("" when they do)."""
    caps = sum(pool_caps_by_model(pools).values())
    if borrowing_limit and gpu_ceiling(gpu_quota, borrowing_limit) > caps:
        return (
            f"gpuQuota {gpu_quota} + gpuBorrowingLimit {borrowing_limit} exceeds the "
            f"{caps} GPUs the BU's pools can hold (borrowed GPUs run on the BU's own pools)"
        )
    return ""


def _spread(amount: int, room: dict[str, int]) -> dict[str, int]:
    """`amount` spread over `room` in order, never more than each one's room."""
    spread = {}
    for key, space in room.items():
        spread[key] = min(space, amount)
        amount -= spread[key]
    return spread


def gpu_shares(
    pools: Sequence[GpuPoolSpec], gpu_quota: int, borrowing_limit: int = 0
) -> list[GpuShare]:
    """The BU's ClusterQueue quota per GPU model: `gpu_quota` spread over the models' pool caps
    (first pools first), then `borrowing_limit` over what each model's pools have left. So no
    model's nominal + borrowing exceeds its pools, the nominal quotas sum to the BU's quota (or
    the pools' caps, when those are smaller) and the borrowing limits to at most its limit."""
    caps = pool_caps_by_model(pools)
    nominal = _spread(gpu_quota, caps)
    borrowing = _spread(borrowing_limit, {m: caps[m] - nominal[m] for m in caps})
    return [GpuShare(m, caps[m], nominal[m], borrowing[m]) for m in caps]


# -- object specs (pure) --------------------------------------------------------------------


def _quota(name: str, nominal: Any, borrowing: Any = 0) -> dict[str, Any]:
    return {"name": name, "nominalQuota": nominal, "borrowingLimit": borrowing}


def cluster_queue_spec(
    bu: str,
    shares: Sequence[GpuShare],
    *,
    cpu_quota: str,
    memory_quota: str,
    slices_per_gpu: int = 1,
) -> dict[str, Any]:
    """The `spec` of the BU's ClusterQueue (kueue.x-k8s.io/v1beta2). GPU figures are in the
    cluster's `nvidia.com/gpu` unit (physical GPUs x `slices_per_gpu`)."""
    flavors = [
        {
            # First, so a CPU-only job takes no GPU flavor; no GPUs here, and none to borrow.
            "name": CPU_FLAVOR,
            "resources": [
                _quota("cpu", cpu_quota),
                _quota("memory", memory_quota),
                _quota(labels.NVIDIA_GPU, 0),
            ],
        },
        *(
            {
                "name": flavor_name(s.gpu_model),
                "resources": [
                    _quota("cpu", cpu_quota),
                    _quota("memory", memory_quota),
                    _quota(
                        labels.NVIDIA_GPU,
                        s.nominal * slices_per_gpu,
                        s.borrowing * slices_per_gpu,
                    ),
                ],
            }
            for s in shares
        ),
    ]
    return {
        "cohortName": COHORT,
        "namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: bu}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [
            {"coveredResources": ["cpu", "memory", labels.NVIDIA_GPU], "flavors": flavors}
        ],
        "preemption": {
            "reclaimWithinCohort": "Any",
            "withinClusterQueue": "LowerPriority",
            "borrowWithinCohort": {"policy": "Never"},
        },
    }


def local_queue_spec(bu: str) -> dict[str, Any]:
    """The `spec` of the BU's LocalQueue: submits to its ClusterQueue."""
    return {"clusterQueue": cluster_queue_name(bu)}


def resource_flavor_spec(gpu_model: str) -> dict[str, Any]:
    """The `spec` of one GPU model's ResourceFlavor: Kueue adds `nodeLabels` to an admitted
    pod's node selector and `tolerations` to its tolerations. The BU taint's toleration is the
    job's own (a flavor is shared by every BU)."""
    return {"nodeLabels": {labels.GPU_MODEL: gpu_model}, "tolerations": [dict(GPU_TOLERATION)]}


def queue_name_expression(bu: str) -> str:
    """CEL: the Job names the BU's LocalQueue."""
    key, queue = QUEUE_NAME_LABEL, local_queue_name(bu)
    return (
        f"has(object.metadata.labels) && '{key}' in object.metadata.labels && "
        f"object.metadata.labels['{key}'] == '{queue}'"
    )


def manager_configuration() -> dict[str, Any]:
    """The controller's `Configuration` (config.kueue.x-k8s.io/v1beta2): upstream's chart default
    with the integrations cut to batch Jobs and the managed namespaces to BU namespaces."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443"},
        "webhook": {"port": 9443},
        # Also with one replica: a rolling update briefly runs two.
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "controller": {
            "groupKindConcurrency": {
                "Job.batch": 5,
                "Pod": 5,
                "Workload.kueue.x-k8s.io": 10,
                "LocalQueue.kueue.x-k8s.io": 5,
                "ClusterQueue.kueue.x-k8s.io": 5,
                "ResourceFlavor.kueue.x-k8s.io": 1,
            }
        },
        "clientConnection": {"qps": 300, "burst": 500},
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": {
            "matchExpressions": [{"key": labels.BU, "operator": "Exists"}]
        },
        "integrations": {"frameworks": list(INTEGRATIONS)},
    }


def kueue_values(
    node_selector: dict[str, str], tolerations: list[dict[str, str]], replicas: int
) -> dict[str, Any]:
    """Values for the Kueue chart (keys checked against its values.yaml in tests)."""
    pin = chart("kueue")
    return {
        "controllerManager": {
            "replicas": replicas,
            "nodeSelector": dict(node_selector),
            "tolerations": [dict(t) for t in tolerations],
            "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
            "manager": {
                # What upstream's packaging writes into the published chart, said here so the
                # image moves with the pin and never with a mutable tag.
                "image": {
                    "repository": "registry.k8s.io/kueue/kueue",
                    "tag": f"v{pin.version}",
                    "pullPolicy": "IfNotPresent",
                },
            },
        },
        "managerConfig": {
            "controllerManagerConfigYaml": yaml.safe_dump(manager_configuration(), sort_keys=False)
        },
    }


# -- components -----------------------------------------------------------------------------


def _custom(
    name: str,
    kind: str,
    metadata: meta.ObjectMetaArgs,
    spec: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name, api_version=API_VERSION, kind=kind, metadata=metadata, spec=spec, opts=opts
    )


class KueueArgs(TypedDict):
    """Inputs of `Kueue`."""

    k8s_provider: k8s.Provider
    """The provider for the cluster Kueue is installed into."""
    node_selector: dict[str, str]
    """Labels of the system pool, where the controller runs."""
    tolerations: list[dict[str, str]]
    """Tolerations of the system pool's taint."""
    replicas: NotRequired[int]
    """Controller replicas (default 1; with more, leader election and a PodDisruptionBudget)."""
    gpu_models: NotRequired[list[str]]
    """GPU models to offer a ResourceFlavor for (default: every model of the GPU catalog)."""


class Kueue(pulumi.ComponentResource):
    """Kueue on a cluster: the controller, a ResourceFlavor per GPU model and the BU cohort."""

    flavors: list[str]
    """The ResourceFlavor names, CPU flavor first."""

    def __init__(
        self, name: str, args: KueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:Kueue", name, None, opts)
        after = _depends_on_of(opts)
        provider = args["k8s_provider"]
        replicas = args.get("replicas", 1)
        models = sorted(args.get("gpu_models") or GPU_MODELS)
        managed = {labels.MANAGED_BY: "pulumi"}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=NAMESPACE,
                labels={**managed, labels.pod_security("enforce"): "restricted"},
            ),
            opts=child(self, provider=provider, depends_on=after),
        )
        # The chart installs the CRDs (templates/crd): the queues' objects wait for it.
        release = helm_release(
            self,
            f"{name}-release",
            chart("kueue"),
            namespace=NAMESPACE,
            values=kueue_values(args["node_selector"], args["tolerations"], replicas),
            provider=provider,
            depends_on=[*after, namespace],
        )
        crd_opts = child(self, provider=provider, depends_on=[*after, release])
        _custom(
            f"{name}-cohort",
            "Cohort",
            meta.ObjectMetaArgs(name=COHORT, labels=managed),
            {},
            crd_opts,
        )
        _custom(
            f"{name}-flavor-{CPU_FLAVOR}",
            "ResourceFlavor",
            meta.ObjectMetaArgs(name=CPU_FLAVOR, labels=managed),
            {},
            crd_opts,
        )
        for model in models:
            _custom(
                f"{name}-flavor-{model}",
                "ResourceFlavor",
                meta.ObjectMetaArgs(name=flavor_name(model), labels=managed),
                resource_flavor_spec(model),
                crd_opts,
            )
        self.flavors = [CPU_FLAVOR, *(flavor_name(m) for m in models)]
        self.register_outputs({"cohort": COHORT, "flavors": self.flavors})


class BuQueuesArgs(TypedDict):
    """Inputs of `BuQueues`."""

    business_unit: str
    """The BU: names the queues; its namespace is the BU's name."""
    namespace: pulumi.Input[str]
    """The BU's namespace (the tenant's output, so the LocalQueue waits for it)."""
    gpu_pools: list[GpuPoolSpec]
    """The BU's GPU pools: their caps bound the quota of each GPU model."""
    gpu_quota: int
    """The BU's own GPUs (physical), `nominalQuota` over its models."""
    gpu_borrowing_limit: int
    """Physical GPUs the BU may borrow from the cohort beyond its quota."""
    cpu_quota: str
    """The namespace's CPU quota: each flavor's CPU quota."""
    memory_quota: str
    """The namespace's memory quota: each flavor's memory quota."""
    gpu_slices_per_gpu: NotRequired[pulumi.Input[int | None]]
    """The platform's time-slicing replicas (what one GPU registers as), None without."""
    k8s_provider: k8s.Provider
    """The provider for the cluster the queues live in."""


class BuQueues(pulumi.ComponentResource):
    """A BU's Kueue queues and the admission policy that makes its batch Jobs use them."""

    local_queue: str
    """The LocalQueue's name, what the BU's Jobs label `kueue.x-k8s.io/queue-name` with."""

    def __init__(
        self, name: str, args: BuQueuesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:tenancy:BuQueues", name, None, opts)
        bu, provider = args["business_unit"], args["k8s_provider"]
        common = {labels.BU: bu, labels.MANAGED_BY: "pulumi"}
        shares = gpu_shares(args["gpu_pools"], args["gpu_quota"], args["gpu_borrowing_limit"])
        spec = pulumi.Output.from_input(args.get("gpu_slices_per_gpu")).apply(
            lambda r: cluster_queue_spec(
                bu,
                shares,
                cpu_quota=args["cpu_quota"],
                memory_quota=args["memory_quota"],
                slices_per_gpu=slices_factor(r),
            )
        )
        opts_k8s = child(self, provider=provider)
        cluster_queue = _custom(
            f"{name}-cluster-queue",
            "ClusterQueue",
            meta.ObjectMetaArgs(name=cluster_queue_name(bu), labels=common),
            spec,
            opts_k8s,
        )
        self.local_queue = local_queue_name(bu)
        _custom(
            f"{name}-local-queue",
            "LocalQueue",
            meta.ObjectMetaArgs(name=self.local_queue, namespace=args["namespace"], labels=common),
            local_queue_spec(bu),
            child(self, provider=provider, depends_on=[cluster_queue]),
        )
        self._queue_name_policy(name, bu, args["namespace"], common, provider)
        self.register_outputs(
            {
                "localQueue": self.local_queue,
                "clusterQueue": cluster_queue_name(bu),
                "gpuNominalQuota": gpu_units(
                    sum(s.nominal for s in shares), args.get("gpu_slices_per_gpu")
                ),
            }
        )

    def _queue_name_policy(
        self,
        name: str,
        bu: str,
        namespace: pulumi.Input[str],
        common: dict[str, str],
        provider: k8s.Provider,
    ) -> None:
        policy_name = admission_policy_name(bu)
        policy = admission.ValidatingAdmissionPolicy(
            f"{name}-queue-name-policy",
            metadata=meta.ObjectMetaArgs(name=policy_name, labels=common),
            spec=admission.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=admission.MatchResourcesArgs(
                    resource_rules=[
                        admission.NamedRuleWithOperationsArgs(
                            api_groups=["batch"],
                            api_versions=["v1"],
                            operations=["CREATE", "UPDATE"],
                            resources=["jobs"],
                        )
                    ]
                ),
                validations=[
                    admission.ValidationArgs(
                        expression=queue_name_expression(bu),
                        message=(
                            f"batch Jobs in namespace {bu} carry the label {QUEUE_NAME_LABEL}: "
                            f"{local_queue_name(bu)} (the BU's Kueue LocalQueue), so they are "
                            "admitted against the BU's GPU quota"
                        ),
                        reason="Forbidden",
                    )
                ],
            ),
            opts=child(self, provider=provider),
        )
        admission.ValidatingAdmissionPolicyBinding(
            f"{name}-queue-name-binding",
            metadata=meta.ObjectMetaArgs(name=policy_name, labels=common),
            spec=admission.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy_name,
                validation_actions=["Deny"],
                match_resources=admission.MatchResourcesArgs(
                    namespace_selector=meta.LabelSelectorArgs(
                        match_labels={labels.NAMESPACE_NAME: namespace}
                    )
                ),
            ),
            opts=child(self, provider=provider, depends_on=[policy]),
        )
