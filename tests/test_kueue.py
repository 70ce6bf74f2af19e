"""Fair-share GPU admission with Kueue (issue 13), on the shipped stacks rendered through the
program: every Kueue object validated against the CRDs the pinned chart ships (vendored under
tests/vendor/kueue/0.19.2, tests/vendor/SOURCES.md) with jsonschema and their CEL rules with
cel-python, field by field; the quota arithmetic as hypothesis properties and on the shipped
stacks (the namespace quota, the pools' caps and the ClusterQueue agree); the queue-name
admission policy evaluated on Jobs built here."""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components import gpu_catalog, kueue
from components.charts import chart
from components.gpu_pools import GpuPoolSpec, effective_max_gpus
from estate.analysis.admission import AdmissionRequest, evaluate
from estate.stack.config import ConfigError, read_stack_file, split_namespace, validate_config
from tests.conftest import ROOT

VENDOR = ROOT / "tests" / "vendor" / "kueue" / "0.19.2"
GROUP = "kubernetes:kueue.x-k8s.io/v1beta2:"
CLUSTER_QUEUE, LOCAL_QUEUE = f"{GROUP}ClusterQueue", f"{GROUP}LocalQueue"
FLAVOR, COHORT = f"{GROUP}ResourceFlavor", f"{GROUP}Cohort"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
QUOTA = "kubernetes:core/v1:ResourceQuota"
BU_STACKS = {"fraud-prod": "platform-prod", "marketing-dev": "platform-dev"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


# -- the vendored CRDs ------------------------------------------------------------------------


def crd(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    # The chart templates its CRDs (licence comment, labels, the conversion webhook's service):
    # the schemas are plain YAML without those lines.
    text = re.sub(r"\{\{-? /\*.*?\*/ -?\}\}", "", text, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if "{{" not in line)
    [doc] = [d for d in yaml.safe_load_all(text) if d]
    assert doc["kind"] == "CustomResourceDefinition"
    return doc


SCHEMAS = {}
for _file in sorted(VENDOR.glob("kueue.x-k8s.io_*.yaml")):
    _crd = crd(_file)
    for _version in _crd["spec"]["versions"]:
        _key = (f"{_crd['spec']['group']}/{_version['name']}", _crd["spec"]["names"]["kind"])
        SCHEMAS[_key] = (_version, _crd["spec"]["scope"])


def of_type(inventory, type_: str):
    return [r for r in inventory.resources if r.type == type_]


def cel_rules(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    """The CRD's `x-kubernetes-validations` rules, each run with cel-python on the value at its
    node (`self`), walking properties and list items as the API server does. Transition rules
    (`oldSelf`) do not apply to a create."""
    failed = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        result = env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        assert isinstance(result, celpy.celtypes.BoolType), (path, rule["rule"], result)
        if not result:
            failed.append(f"{path}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                failed += cel_rules(sub, value[key], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            failed += cel_rules(schema["items"], item, f"{path}[{i}]")
    return failed


def validate(resource) -> None:
    """The object against its CRD: the served version exists and is the storage version, the
    spec passes the OpenAPI schema and the CEL rules, the name is a DNS subdomain, and the
    object's scope is the CRD's."""
    inputs = resource.inputs
    version, scope = SCHEMAS[(inputs["apiVersion"], inputs["kind"])]
    assert version["served"] and version["storage"], inputs["apiVersion"]
    schema = version["schema"]["openAPIV3Schema"]
    spec = inputs.get("spec") or {}
    jsonschema.validate({"spec": spec}, {**schema, "required": []})
    assert cel_rules(schema["properties"]["spec"], spec, "spec") == []
    metadata = inputs["metadata"]
    assert DNS_SUBDOMAIN.match(metadata["name"]), metadata["name"]
    assert ("namespace" in metadata) == (scope == "Namespaced"), (inputs["kind"], metadata)


def test_vendored_crds_are_the_pinned_charts():
    assert chart("kueue").version == "0.19.2"
    kinds = {kind for _, kind in SCHEMAS}
    assert kinds == {"ClusterQueue", "LocalQueue", "ResourceFlavor", "Cohort"}
    assert kueue.API_VERSION == "kueue.x-k8s.io/v1beta2"


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev", "fraud-prod", "marketing-dev"])
def test_every_kueue_object_validates_against_the_crds(rendered, stack):
    objects = [r for r in rendered(stack).resources if r.type.startswith(GROUP)]
    assert objects
    for resource in objects:
        validate(resource)


def test_a_wrong_field_fails_the_crd():
    # The checks can fail: a misspelt preemption policy and a borrowing limit without a cohort.
    base = next(r for r in _bu("fraud-prod").resources if r.type == CLUSTER_QUEUE)
    spec = copy.deepcopy(base.inputs["spec"])
    spec["preemption"]["reclaimWithinCohort"] = "Always"
    version, _ = SCHEMAS[(kueue.API_VERSION, "ClusterQueue")]
    schema = version["schema"]["openAPIV3Schema"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": spec}, {**schema, "required": []})
    lone = copy.deepcopy(base.inputs["spec"])
    del lone["cohortName"]
    assert cel_rules(schema["properties"]["spec"], lone, "spec")


def _bu(stack: str):
    from tests.conftest import _render

    return _render(stack)


# -- the platform half ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_platform_installs_the_pinned_chart_and_a_flavor_per_gpu_model(rendered, stack):
    inventory = rendered(stack)
    [release] = [r for r in of_type(inventory, RELEASE) if r.inputs["name"] == "kueue"]
    pin = chart("kueue")
    assert release.inputs["chart"] == "oci://registry.k8s.io/kueue/charts/kueue"
    assert release.inputs["version"] == pin.version
    assert release.inputs["namespace"] == kueue.NAMESPACE
    values = release.inputs["values"]
    manager = values["controllerManager"]
    assert manager["nodeSelector"] == {"ai-estate/pool": "system"}
    assert manager["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    assert manager["manager"]["image"]["tag"] == f"v{pin.version}"
    replicas = 2 if stack == "platform-prod" else 1
    assert manager["replicas"] == replicas
    assert manager["podDisruptionBudget"]["enabled"] is (replicas > 1)
    config = yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])
    assert config["integrations"]["frameworks"] == ["batch/job"]
    assert config["manageJobsWithoutQueueName"] is False
    assert config["managedJobsNamespaceSelector"] == {
        "matchExpressions": [{"key": "ai-estate/bu", "operator": "Exists"}]
    }
    assert config["leaderElection"]["leaderElect"] is True

    flavors = {
        r.inputs["metadata"]["name"]: r.inputs.get("spec") or {} for r in of_type(inventory, FLAVOR)
    }
    assert set(flavors) == {"cpu", *(f"gpu-{m}" for m in gpu_catalog.GPU_MODELS)}
    assert flavors["cpu"] == {}
    for model in gpu_catalog.GPU_MODELS:
        spec = flavors[f"gpu-{model}"]
        # The label GPU pools put on their nodes, and the toleration of their GPU taint.
        assert spec["nodeLabels"] == {"ai-estate/gpu-model": model}
        assert spec["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    [cohort] = of_type(inventory, COHORT)
    assert cohort.inputs["metadata"]["name"] == kueue.COHORT
    # The queue objects wait for the release that installs their CRDs.
    for r in [*of_type(inventory, FLAVOR), cohort]:
        assert release.urn in r.dependencies


def test_the_manager_config_is_upstreams_default_narrowed():
    upstream = yaml.safe_load(
        (ROOT / "tests/vendor/charts/kueue-0.19.2/values.yaml").read_text(encoding="utf-8")
    )
    default = yaml.safe_load(upstream["managerConfig"]["controllerManagerConfigYaml"])
    ours = kueue.manager_configuration()
    # Every key upstream sets is kept with upstream's value, but the integrations.
    for key, value in default.items():
        if key != "integrations":
            assert ours[key] == value, key
    assert set(ours["integrations"]["frameworks"]) < set(default["integrations"]["frameworks"])


# -- the BU half ------------------------------------------------------------------------------


def pools_of(stack: str) -> list[GpuPoolSpec]:
    from estate.stack.convert import to_args

    config = validate_config(
        split_namespace(read_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml")),
        f"stacks/Pulumi.{stack}.yaml",
    )
    return [to_args(p, GpuPoolSpec) for p in config.gpu_pools], config


def slices(platform_inventory) -> int:
    value = platform_inventory.outputs.get("timeSlicingReplicas")
    return int(value) if value else 1


def pool_caps(inventory, per_gpu: int) -> dict[str, int]:
    """Pool -> its GPU cap as rendered, in `nvidia.com/gpu` units: a NodePool's limit, a managed
    node group's max size x the GPUs of its largest type."""
    caps = {}
    for r in of_type(inventory, NODE_POOL):
        caps[r.inputs["metadata"]["labels"]["ai-estate/pool"]] = int(
            r.inputs["spec"]["limits"]["nvidia.com/gpu"]
        )
    for r in of_type(inventory, NODE_GROUP):
        pool = r.inputs["labels"].get("ai-estate/pool")
        if pool and pool not in ("system", "bu-cpu"):
            gpus = max(gpu_catalog.instance_info(t).gpus for t in r.inputs["instanceTypes"])
            caps[pool] = r.inputs["scalingConfig"]["maxSize"] * gpus * per_gpu
    return caps


def gpu_quota_of(queue) -> dict[str, tuple[int, int]]:
    """Flavor -> (nominalQuota, borrowingLimit) of `nvidia.com/gpu` in a ClusterQueue."""
    [group] = queue.inputs["spec"]["resourceGroups"]
    out = {}
    for flavor in group["flavors"]:
        [gpu] = [q for q in flavor["resources"] if q["name"] == "nvidia.com/gpu"]
        out[flavor["name"]] = (int(gpu["nominalQuota"]), int(gpu["borrowingLimit"]))
    return out


@pytest.mark.parametrize("stack", sorted(BU_STACKS))
def test_bu_queues_field_by_field(rendered, stack):
    inventory = rendered(stack)
    pools, config = pools_of(stack)
    bu = config.business_unit
    [queue] = of_type(inventory, CLUSTER_QUEUE)
    [local] = of_type(inventory, LOCAL_QUEUE)
    spec = queue.inputs["spec"]
    assert queue.inputs["metadata"]["name"] == kueue.cluster_queue_name(bu) == f"{bu}-gpu"
    assert spec["cohortName"] == kueue.COHORT
    assert spec["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": bu}}
    assert spec["preemption"] == {
        "reclaimWithinCohort": "Any",
        "withinClusterQueue": "LowerPriority",
        "borrowWithinCohort": {"policy": "Never"},
    }
    [group] = spec["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    models = {gpu_catalog.gpu_model_of(p["instance_types"]) for p in pools}
    assert [f["name"] for f in group["flavors"]] == ["cpu", *(f"gpu-{m}" for m in sorted(models))]
    for flavor in group["flavors"]:
        quotas = {q["name"]: q for q in flavor["resources"]}
        assert quotas["cpu"]["nominalQuota"] == config.tenant.cpu_quota
        assert quotas["memory"]["nominalQuota"] == config.tenant.memory_quota
        assert quotas["cpu"]["borrowingLimit"] == quotas["memory"]["borrowingLimit"] == 0
    assert gpu_quota_of(queue)["cpu"] == (0, 0)
    # The LocalQueue the mlops training job names, in the BU's namespace.
    assert local.inputs["metadata"] == {
        **local.inputs["metadata"],
        "name": kueue.local_queue_name(bu),
        "namespace": bu,
    }
    assert local.inputs["spec"] == {"clusterQueue": f"{bu}-gpu"}
    assert queue.urn in local.dependencies


@pytest.mark.parametrize("stack", sorted(BU_STACKS))
def test_quota_karpenter_limits_and_kueue_are_one_number(rendered, stack):
    """The namespace ResourceQuota, the pools' caps (NodePool limits, managed node group sizes)
    and the ClusterQueue's nominal + borrowing count the same GPUs in the same unit."""
    inventory, platform = rendered(stack), rendered(BU_STACKS[stack])
    per_gpu = slices(platform)
    pools, config = pools_of(stack)
    [queue] = of_type(inventory, CLUSTER_QUEUE)
    [quota] = of_type(inventory, QUOTA)
    hard = int(quota.inputs["spec"]["hard"]["requests.nvidia.com/gpu"])
    kueue_gpus = gpu_quota_of(queue)
    caps = pool_caps(inventory, per_gpu)
    assert caps == {p["name"]: effective_max_gpus(p) * per_gpu for p in pools}
    nominal = sum(n for n, _ in kueue_gpus.values())
    borrowing = sum(b for _, b in kueue_gpus.values())
    assert nominal == config.tenant.gpu_quota * per_gpu
    assert borrowing == config.tenant.gpu_borrowing_limit * per_gpu
    assert nominal + borrowing == hard == sum(caps.values())
    by_model: dict[str, int] = defaultdict(int)
    for p in pools:
        by_model[f"gpu-{gpu_catalog.gpu_model_of(p['instance_types'])}"] += caps[p["name"]]
    for flavor, (n, b) in kueue_gpus.items():
        assert n + b <= by_model.get(flavor, 0), flavor


def test_fraud_owns_eight_and_borrows_four(rendered):
    [queue] = of_type(rendered("fraud-prod"), CLUSTER_QUEUE)
    assert gpu_quota_of(queue) == {"cpu": (0, 0), "gpu-a10g": (8, 4)}
    # marketing on the time-sliced dev platform: 4 T4s, 16 slices, nothing to borrow into
    [queue] = of_type(rendered("marketing-dev"), CLUSTER_QUEUE)
    assert gpu_quota_of(queue) == {"cpu": (0, 0), "gpu-t4": (16, 0)}


def test_the_cohorts_nominal_quotas_fit_the_pools(rendered):
    """Per environment (one cluster, one cohort): the BUs' nominal quotas sum to no more than
    their pools' caps, so what is lent is capacity some pool can hold."""
    for stack, platform in BU_STACKS.items():
        inventory = rendered(stack)
        [queue] = of_type(inventory, CLUSTER_QUEUE)
        nominal = sum(n for n, _ in gpu_quota_of(queue).values())
        assert nominal <= sum(pool_caps(inventory, slices(rendered(platform))).values())


# -- quota arithmetic, as properties ----------------------------------------------------------

_TYPES = sorted(gpu_catalog.CATALOG)


@st.composite
def gpu_pools(draw) -> list[GpuPoolSpec]:
    pools: list[GpuPoolSpec] = []
    for i in range(draw(st.integers(0, 5))):
        model = draw(st.sampled_from(sorted(gpu_catalog.GPU_MODELS)))
        types = [t for t in _TYPES if gpu_catalog.instance_info(t).gpu_model == model]
        chosen = draw(st.lists(st.sampled_from(types), min_size=1, max_size=3, unique=True))
        pool: GpuPoolSpec = {
            "name": f"p{i}",
            "provisioner": draw(st.sampled_from(["managed", "karpenter"])),
            "instance_types": chosen,
            "capacity_type": "on-demand",
            "min_size": 0,
            "desired_size": 0,
            "max_size": draw(st.integers(1, 20)),
            "disk_gib": 100,
            "ami_type": "AL2023_x86_64_NVIDIA",
        }
        if draw(st.booleans()):
            pool["max_gpus"] = draw(st.integers(1, 200))
        pools.append(pool)
    return pools


@given(gpu_pools(), st.integers(0, 500), st.integers(0, 500))
def test_shares_never_exceed_the_pools_or_the_limits(pools, quota, borrowing):
    shares = kueue.gpu_shares(pools, quota, borrowing)
    caps = kueue.pool_caps_by_model(pools)
    total = sum(caps.values())
    assert [s.gpu_model for s in shares] == list(caps)
    for s in shares:
        assert s.pool_cap == caps[s.gpu_model]
        assert s.nominal >= 0 and s.borrowing >= 0
        assert s.nominal + s.borrowing <= s.pool_cap
    nominal = sum(s.nominal for s in shares)
    lent = sum(s.borrowing for s in shares)
    # the sum of nominal quotas is within the pools' caps, and is the BU's quota when it fits
    assert nominal == min(quota, total)
    # borrowing never exceeds the per-BU cap, and uses all the room it is given
    assert lent <= borrowing
    assert lent == min(borrowing, total - nominal)


@given(gpu_pools(), st.integers(0, 500))
def test_the_default_quota_leaves_exactly_the_borrowing_room(pools, borrowing):
    total = sum(kueue.pool_caps_by_model(pools).values())
    quota = kueue.default_gpu_quota(pools, borrowing)
    problem = kueue.gpu_quota_problem(pools, quota, borrowing)
    if borrowing <= total:
        assert problem == ""
        assert kueue.gpu_ceiling(quota, borrowing) == total
        shares = kueue.gpu_shares(pools, quota, borrowing)
        assert sum(s.nominal + s.borrowing for s in shares) == total
    else:
        assert "exceeds" in problem


@given(gpu_pools(), st.integers(0, 500), st.integers(1, 500))
def test_a_quota_and_borrowing_over_the_pools_is_a_problem(pools, quota, borrowing):
    total = sum(kueue.pool_caps_by_model(pools).values())
    problem = kueue.gpu_quota_problem(pools, quota, borrowing)
    assert bool(problem) == (quota + borrowing > total)


# -- config -----------------------------------------------------------------------------------


def stack_values(stack: str) -> dict[str, Any]:
    raw = read_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    return {k: json.loads(json.dumps(v, default=str)) for k, v in split_namespace(raw).items()}


def test_borrowing_beyond_the_pools_names_the_key():
    values = stack_values("fraud-prod")
    values["tenant"] = {**values["tenant"], "gpuQuota": 10, "gpuBorrowingLimit": 4}
    with pytest.raises(ConfigError) as info:
        validate_config(values, "stacks/Pulumi.fraud-prod.yaml")
    [line] = [entry for entry in info.value.lines if "gpuBorrowingLimit" in entry]
    assert "tenant.gpuBorrowingLimit" in line and "12 GPUs" in line


def test_borrowing_without_pools_is_refused():
    values = stack_values("fraud-prod")
    values["gpuPools"] = []
    values.pop("serving", None)
    values["tenant"] = {**values["tenant"], "gpuBorrowingLimit": 1}
    with pytest.raises(ConfigError) as info:
        validate_config(values, "stacks/Pulumi.fraud-prod.yaml")
    assert any("gpuBorrowingLimit" in e and "GPU pools" in e for e in info.value.lines)


def test_default_quota_is_the_pools_less_the_borrowing():
    _, config = pools_of("fraud-prod")
    assert (config.tenant.gpu_quota, config.tenant.gpu_borrowing_limit) == (8, 4)
    values = stack_values("fraud-prod")
    values["tenant"] = {k: v for k, v in values["tenant"].items() if k != "gpuBorrowingLimit"}
    plain = validate_config(values, "stacks/Pulumi.fraud-prod.yaml")
    assert (plain.tenant.gpu_quota, plain.tenant.gpu_borrowing_limit) == (12, 0)


# -- the queue-name admission policy ----------------------------------------------------------


def rendered_policies(inventory):
    policies = [
        r.inputs for r in inventory.resources if r.type.endswith(":ValidatingAdmissionPolicy")
    ]
    bindings = [
        r.inputs
        for r in inventory.resources
        if r.type.endswith(":ValidatingAdmissionPolicyBinding")
    ]
    return policies, bindings


def namespace(name: str) -> dict[str, Any]:
    labels = {"kubernetes.io/metadata.name": name, "ai-estate/bu": name}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def job(ns: str, queue: str | None) -> dict[str, Any]:
    labels = {"kueue.x-k8s.io/queue-name": queue} if queue is not None else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "retrain", "namespace": ns, "labels": labels},
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": "example/train:1"}],
                }
            },
        },
    }


@pytest.mark.parametrize("stack", sorted(BU_STACKS))
def test_batch_jobs_must_name_the_bus_local_queue(rendered, stack):
    policies, bindings = rendered_policies(rendered(stack))
    bu = stack.rsplit("-", 1)[0]
    ns = namespace(bu)
    ours = [p for p in policies if p["metadata"]["name"] == kueue.admission_policy_name(bu)]
    assert len(ours) == 1
    assert ours[0]["spec"]["failurePolicy"] == "Fail"

    def verdict(obj, operation="CREATE", namespace_object=ns):
        return evaluate(
            policies,
            bindings,
            AdmissionRequest(obj, operation=operation, namespace_object=namespace_object),
        )

    assert verdict(job(bu, kueue.local_queue_name(bu)))
    assert verdict(job(bu, kueue.local_queue_name(bu)), operation="UPDATE")
    for wrong in (None, "", "other-gpu", kueue.local_queue_name("platform")):
        refused = verdict(job(bu, wrong))
        assert not refused
        assert "kueue.x-k8s.io/queue-name" in refused.reason
    # Removing the label on an update is refused too (the Job would leave the quota).
    assert not verdict(job(bu, None), operation="UPDATE")
    # The binding is the BU's namespace only: another namespace is not this policy's business.
    other = namespace("elsewhere")
    assert verdict(job("elsewhere", None), namespace_object=other)


def test_a_pod_kueue_admits_passes_the_clusters_other_policies(rendered):
    """Liveness: once Kueue admits the trainer, the flavor's node labels and toleration are
    merged into its pod; that pod still passes the platform's toleration guard and the BU's
    pool-selection policy (and Pod Security `restricted`)."""
    platform_policies, platform_bindings = rendered_policies(rendered("platform-prod"))
    bu_policies, bu_bindings = rendered_policies(rendered("fraud-prod"))
    flavor = kueue.resource_flavor_spec("a10g")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "retrain-x", "namespace": "fraud"},
        "spec": {
            "nodeSelector": {"ai-estate/pool": "train-a10g", **flavor["nodeLabels"]},
            "tolerations": [
                *flavor["tolerations"],
                {
                    "key": "ai-estate/bu",
                    "operator": "Equal",
                    "value": "fraud",
                    "effect": "NoSchedule",
                },
            ],
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "train",
                    "image": "example/train:1",
                    "resources": {"limits": {"nvidia.com/gpu": "4"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    ns = namespace("fraud")
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    verdict = evaluate(
        [*platform_policies, *bu_policies],
        [*platform_bindings, *bu_bindings],
        AdmissionRequest(pod, namespace_object=ns),
    )
    assert verdict, verdict.reason
    for policy in ("ai-estate-bu-toleration-guard", "ai-estate-fraud-gpu-pool-selection"):
        assert f"admitted by ValidatingAdmissionPolicy {policy}" in verdict.reason
    # the same pod on another BU's taint is refused: the flavor's toleration opens nothing more
    pod["spec"]["tolerations"][1]["value"] = "marketing"
    refused = evaluate(
        [*platform_policies, *bu_policies],
        [*platform_bindings, *bu_bindings],
        AdmissionRequest(pod, namespace_object=ns),
    )
    assert not refused
