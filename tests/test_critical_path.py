"""The deploy critical path: hand-made graphs first, then the shipped stacks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estate.analysis.critical_path import (
    NEW_BU_TARGET_MINUTES,
    CriticalPathError,
    critical_path,
    dominant,
    load_create_times,
    summary_line,
)
from estate.offline.model import Inventory, Resource

KEY = "aws:kms/key:Key"  # 0.2
CLUSTER = "aws:eks/cluster:Cluster"  # 11
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"  # 4
NAT = "aws:ec2/natGateway:NatGateway"  # 2
BUCKET = "aws:s3/bucket:Bucket"  # 0.1
COMPONENT = "ai-estate:test:Thing"


def urn(name: str, type_: str = KEY) -> str:
    return f"urn:pulumi:s::ai-estate::{type_}::{name}"


def res(
    name: str,
    type_: str = KEY,
    *,
    deps: tuple[str, ...] = (),
    prop_deps: dict[str, list[str]] | None = None,
    parent: str | None = None,
    provider: str | None = None,
) -> Resource:
    return Resource(
        urn=urn(name, type_),
        type=type_,
        name=name,
        custom=not type_.startswith("ai-estate:"),
        inputs={},
        parent=parent,
        dependencies=list(deps),
        property_dependencies=dict(prop_deps or {}),
        provider=provider,
    )


def inventory(*resources: Resource) -> Inventory:
    return Inventory(stack="s", project="ai-estate", resources=list(resources))


def names(result) -> list[str]:
    return [step["urn"].rsplit("::", 1)[-1] for step in result["chain"]]


def test_a_chain_adds_up_in_creation_order():
    key = res("key")
    template = res("lt", "aws:ec2/launchTemplate:LaunchTemplate", prop_deps={"kms": [key.urn]})
    group = res("nodes", NODE_GROUP, deps=(template.urn,))
    result = critical_path(inventory(group, template, key))
    assert result["criticalPathMinutes"] == pytest.approx(0.2 + 0.05 + 4)
    assert names(result) == ["key", "lt", "nodes"]
    assert [s["minutes"] for s in result["chain"]] == [0.2, 0.05, 4.0]


def test_a_diamond_follows_its_slowest_branch():
    root = res("root")
    fast = res("fast", NAT, deps=(root.urn,))
    slow = res("slow", CLUSTER, deps=(root.urn,))
    join = res("join", NODE_GROUP, deps=(fast.urn, slow.urn))
    result = critical_path(inventory(root, fast, slow, join))
    assert result["criticalPathMinutes"] == pytest.approx(0.2 + 11 + 4)
    assert names(result) == ["root", "slow", "join"]


def test_depending_on_a_component_waits_for_all_its_children():
    component = res("estate", COMPONENT)
    quick = res("quick", BUCKET, parent=component.urn)
    slow = res("slow", CLUSTER, parent=component.urn)
    after = res("after", NODE_GROUP, deps=(component.urn,))
    result = critical_path(inventory(component, quick, slow, after))
    assert result["criticalPathMinutes"] == pytest.approx(11 + 4)
    assert names(result) == ["slow", "after"]


def test_children_start_no_earlier_than_their_component_is_registered():
    cluster = res("cluster", CLUSTER)
    component = res("pool", COMPONENT, deps=(cluster.urn,))
    child = res("nodes", NODE_GROUP, parent=component.urn)
    result = critical_path(inventory(cluster, component, child))
    assert result["criticalPathMinutes"] == pytest.approx(15)
    assert names(result) == ["cluster", "nodes"]


def test_a_resource_waits_for_its_explicit_provider():
    cluster = res("cluster", CLUSTER)
    provider = res("k8s", "pulumi:providers:kubernetes", prop_deps={"kubeconfig": [cluster.urn]})
    release = res("chart", "kubernetes:helm.sh/v3:Release", provider=f"{provider.urn}::04da6b54")
    result = critical_path(inventory(cluster, provider, release))
    assert result["criticalPathMinutes"] == pytest.approx(13)
    assert names(result) == ["cluster", "k8s", "chart"]


def test_stack_references_and_unknown_types():
    ref = res("acme/ai-estate/platform-prod", "pulumi:pulumi:StackReference")
    odd = res("odd", "aws:somethingNew/thing:Thing", deps=(ref.urn,))
    result = critical_path(inventory(ref, odd))
    default = load_create_times().default
    assert result["criticalPathMinutes"] == pytest.approx(default)
    assert result["chain"][0]["minutes"] == 0.0


def test_a_cycle_is_ignored_rather_than_looping():
    a = res("a", deps=(urn("b"),))
    b = res("b", deps=(urn("a"),))
    result = critical_path(inventory(a, b))
    assert result["criticalPathMinutes"] == pytest.approx(0.4)


def test_an_empty_stack_has_no_path():
    assert critical_path(inventory()) == {"criticalPathMinutes": 0.0, "chain": []}
    assert dominant({"chain": []}) is None


def test_times_file_can_be_replaced_and_errors_name_the_file(tmp_path):
    custom = tmp_path / "times.json"
    custom.write_text(
        json.dumps({"minutes": {KEY: 3}, "default": 1, "patterns": [["aws:s3/*", 2]]})
    )
    result = critical_path(inventory(res("k"), res("b", BUCKET, deps=(urn("k"),))), custom)
    assert result["criticalPathMinutes"] == 5
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(CriticalPathError, match=r"bad\.json: not valid JSON"):
        load_create_times(bad)
    negative = tmp_path / "negative.json"
    negative.write_text(json.dumps({"minutes": {KEY: -1}}))
    with pytest.raises(CriticalPathError, match=r"minutes\.aws:kms/key:Key: must be a number"):
        load_create_times(negative)
    with pytest.raises(CriticalPathError, match="cannot read"):
        load_create_times(tmp_path / "missing.json")


def test_shipped_times_have_a_source_and_the_types_the_estate_uses():
    data = json.loads((load_create_times.__globals__["DEFAULT_TIMES"]).read_text(encoding="utf-8"))
    assert data["source"] and data["date"]
    times = load_create_times()
    assert 10 <= times.of(CLUSTER) <= 12
    assert 3 <= times.of(NODE_GROUP) <= 5
    assert times.of("kubernetes:helm.sh/v3:Release") == 2
    assert times.of("pulumi:pulumi:StackReference") == 0
    assert times.of("aws:s3/bucketPolicy:BucketPolicy") < times.of(BUCKET)


@st.composite
def dags(draw):
    types = [KEY, CLUSTER, NODE_GROUP, NAT, BUCKET]
    n = draw(st.integers(min_value=1, max_value=12))
    resources = []
    for i in range(n):
        earlier = [r.urn for r in resources]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        resources.append(res(f"r{i}", draw(st.sampled_from(types)), deps=tuple(deps)))
    return resources


@settings(max_examples=60, deadline=None)
@given(dags())
def test_the_path_is_bounded_and_its_chain_adds_up(resources):
    times = load_create_times()
    result = critical_path(inventory(*resources))
    durations = [times.of(r.type) for r in resources]
    total = result["criticalPathMinutes"]
    assert max(durations) - 1e-9 <= total <= sum(durations) + 1e-9
    assert sum(s["minutes"] for s in result["chain"]) == pytest.approx(total, abs=0.01)


# -- shipped stacks ------------------------------------------------------------------------------


def test_platform_path_runs_through_the_eks_cluster(rendered):
    result = critical_path(rendered("platform-prod"))
    types = [s["type"] for s in result["chain"]]
    assert CLUSTER in types
    assert result["criticalPathMinutes"] > 15
    # The AMP managed scraper (~17 min) can only start once the cluster exists, so with
    # platform monitoring it is the longest step, right after the cluster (~11 min).
    scraper = "aws:amp/scraper:Scraper"
    assert dominant(result)["type"] == scraper
    assert types.index(CLUSTER) < types.index(scraper)
    assert scraper in summary_line(result)


MLFLOW = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"


@pytest.mark.parametrize("stack", ["fraud-prod", "marketing-dev"])
def test_a_new_bu_on_an_existing_platform_deploys_within_the_target(rendered, stack):
    """Within the target, except for a SageMaker MLflow tracking server, which takes 20-25
    minutes to create on its own (marketing-dev has one): the rest of the BU still must."""
    inventory = rendered(stack)
    result = critical_path(inventory)
    assert sum(s["minutes"] for s in result["chain"]) == pytest.approx(
        result["criticalPathMinutes"], abs=0.01
    )
    if any(r.type == MLFLOW for r in inventory.resources):
        assert dominant(result)["type"] == MLFLOW, summary_line(result)
        assert 20 <= result["criticalPathMinutes"] <= 26
        inventory = Inventory(
            stack=inventory.stack,
            project=inventory.project,
            resources=[r for r in inventory.resources if r.type != MLFLOW],
        )
        result = critical_path(inventory)
    assert result["criticalPathMinutes"] < NEW_BU_TARGET_MINUTES, summary_line(result)


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_every_rendered_type_has_an_explicit_create_time(rendered, stack):
    """No type the shipped stacks render falls back to the file's default."""
    import fnmatch

    times = load_create_times()
    unknown = sorted(
        {
            r.type
            for r in rendered(stack).resources
            if r.custom
            and r.type not in times.minutes
            and not any(fnmatch.fnmatchcase(r.type, p) for p, _ in times.patterns)
        }
    )
    assert unknown == []


def test_the_fraud_path_is_dominated_by_its_managed_node_group(rendered):
    result = critical_path(rendered("fraud-prod"))
    assert dominant(result)["type"] == NODE_GROUP
