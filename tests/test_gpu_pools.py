"""GPU catalog and GPU node pools: pure functions, then both provisioners rendered under mocks.

Karpenter's CRDs are not in kubernetes-validate's schemas, so `check_node_pool` and
`check_ec2_node_class` hold the rendered objects to what the Karpenter v1 CRDs
(karpenter.sh_nodepools.yaml, karpenter.k8s.aws_ec2nodeclasses.yaml in
aws/karpenter-provider-aws) require: the `required` fields, the enums and patterns of the fields
we set, the documented field names (no unknown keys), and the CEL rules that apply to us (exactly
one of role/instanceProfile, alias format and family, one root volume, restricted tag and label
keys).
"""

from __future__ import annotations

import json
import re
from functools import cache

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import gpu_catalog
from components.gpu_catalog import (
    CATALOG,
    gpu_model_of,
    instance_info,
    is_gpu_instance,
    max_gpus,
)
from components.gpu_pools import (
    GpuNodePool,
    GpuNodeRole,
    GpuPoolSpec,
    autoscaler_node_template_tags,
    block_devices,
    effective_max_gpus,
    node_labels,
    node_taints,
    pool_warnings,
    validate_pool,
)
from estate.offline.engine import ProgramError, render

KMS_KEY = "arn:aws:kms:us-east-1:222222222222:key/0b5e-gpu"
SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
CLUSTER_SG = "sg-0cluster1234"
CLUSTER = "platform-prod-ai"
TAGS = {"BusinessUnit": "fraud", "Environment": "prod", "ManagedBy": "ai-estate"}


def spec(**over) -> GpuPoolSpec:
    base: GpuPoolSpec = {
        "name": "train-a10g",
        "provisioner": "managed",
        "instance_types": ["g5.xlarge", "g5.2xlarge"],
        "capacity_type": "spot",
        "min_size": 0,
        "desired_size": 0,
        "max_size": 4,
        "disk_gib": 200,
        "ami_type": "AL2023_x86_64_NVIDIA",
        "labels": {"team": "risk"},
        "max_gpus": None,
        # prod refuses `latest` (ami_version_error); these specs are prod pools
        "ami_version": "v1.26.2"
        if over.get("ami_type") == "BOTTLEROCKET_x86_64_NVIDIA"
        else "v20251120",
    }
    base.update(over)  # type: ignore[typeddict-item]
    return base


# -- catalog --------------------------------------------------------------------------------

REQUIRED_TYPES = {
    "g4dn.xlarge": "t4",
    "g4dn.2xlarge": "t4",
    "g4dn.12xlarge": "t4",
    "g5.xlarge": "a10g",
    "g5.2xlarge": "a10g",
    "g5.12xlarge": "a10g",
    "g5.48xlarge": "a10g",
    "g6.xlarge": "l4",
    "g6.12xlarge": "l4",
    "g6e.xlarge": "l40s",
    "g6e.12xlarge": "l40s",
    "p4d.24xlarge": "a100",
    "p5.48xlarge": "h100",
    "p3.2xlarge": "v100",
}


def test_catalog_has_every_required_type_with_sane_figures():
    for instance_type, model in REQUIRED_TYPES.items():
        info = instance_info(instance_type)
        assert info.gpu_model == model
        assert info.gpus >= 1 and info.vcpus >= 4 and info.memory_gib >= 16
        assert info.gpu_memory_gib % info.gpus == 0  # same GPU in every slot
        assert 0.1 < info.on_demand_usd_per_hour < 200
        assert is_gpu_instance(instance_type)
    assert instance_info("p5.48xlarge").gpus == 8 and instance_info("g5.12xlarge").gpus == 4
    # the slug becomes a node label value
    assert all(re.fullmatch(r"[a-z0-9]+", m) for m in gpu_catalog.GPU_MODELS)


def test_unknown_instance_type_is_a_clear_key_error():
    assert not is_gpu_instance("m5.large")
    with pytest.raises(KeyError) as err:
        instance_info("m5.large")
    assert "'m5.large' is not a GPU instance type" in str(err.value)
    assert "g5.xlarge" in str(err.value)  # names what is known


def test_gpu_model_of_requires_one_model():
    assert gpu_model_of(["g5.xlarge", "g5.48xlarge"]) == "a10g"
    with pytest.raises(ValueError, match=r"share one GPU model.*g4dn.xlarge \(t4\)"):
        gpu_model_of(["g5.xlarge", "g4dn.xlarge"])
    with pytest.raises(ValueError):
        gpu_model_of([])
    with pytest.raises(KeyError):
        gpu_model_of(["g5.xlarge", "c5.large"])


MODELS = sorted({i.gpu_model for i in CATALOG.values()})


@st.composite
def same_model_types(draw):
    model = draw(st.sampled_from(MODELS))
    candidates = sorted(t for t, i in CATALOG.items() if i.gpu_model == model)
    return draw(
        st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates), unique=True)
    )


@given(types=same_model_types(), size=st.integers(min_value=0, max_value=1000))
def test_max_gpus_is_max_size_nodes_of_the_largest_type(types, size):
    largest = max(CATALOG[t].gpus for t in types)
    assert max_gpus(types, size) == size * largest
    assert max_gpus(types, size + 1) - max_gpus(types, size) == largest  # linear in nodes
    assert max_gpus(types, size) >= size  # every type has a GPU
    assert max_gpus(types[:1], size) <= max_gpus(types, size)  # more types never lowers the cap


def test_max_gpus_rejects_nonsense():
    with pytest.raises(ValueError):
        max_gpus(["g5.xlarge"], -1)
    with pytest.raises(ValueError):
        max_gpus([], 3)


# -- pure pool logic ------------------------------------------------------------------------


def test_labels_and_taints_name_the_bu_pool_model_and_capacity():
    labels = node_labels("fraud", spec())
    assert labels == {
        "team": "risk",
        "ai-estate/bu": "fraud",
        "ai-estate/pool": "train-a10g",
        "ai-estate/gpu-model": "a10g",
        "ai-estate/capacity-type": "spot",
        "ai-estate/accelerator": "nvidia",  # what the device plugin and DCGM select
    }
    fraud, marketing = node_taints("fraud"), node_taints("marketing")
    assert [(t.key, t.value, t.effect) for t in fraud] == [
        ("nvidia.com/gpu", "true", "NoSchedule"),
        ("ai-estate/bu", "fraud", "NoSchedule"),
    ]
    assert {t.value for t in fraud if t.key == "ai-estate/bu"} != {
        t.value for t in marketing if t.key == "ai-estate/bu"
    }


def test_autoscaler_node_template_tags_cover_labels_taints_and_gpus():
    tags = autoscaler_node_template_tags({"ai-estate/bu": "fraud"}, node_taints("fraud"), 4)
    assert tags == {
        "k8s.io/cluster-autoscaler/node-template/label/ai-estate/bu": "fraud",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/taint/ai-estate/bu": "fraud:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "4",
    }


def test_block_devices_put_kubelet_on_the_right_volume():
    [al2023] = block_devices("AL2023_x86_64_NVIDIA", 300)
    assert (al2023.device_name, al2023.size_gib, al2023.kubelet_data) == ("/dev/xvda", 300, True)
    os_volume, data = block_devices("BOTTLEROCKET_x86_64_NVIDIA", 300)
    assert (os_volume.device_name, os_volume.kubelet_data) == ("/dev/xvda", False)
    assert (data.device_name, data.size_gib, data.kubelet_data) == ("/dev/xvdb", 300, True)


@pytest.mark.parametrize(
    ("over", "has_provider", "message"),
    [
        ({"instance_types": ["g5.xlarge", "g4dn.xlarge"]}, False, "share one GPU model"),
        ({"instance_types": ["g5.xlarge", "m5.large"]}, False, "'m5.large' is not a GPU"),
        ({"instance_types": []}, False, "instance_types is empty"),
        ({"min_size": 2, "desired_size": 1}, False, "min_size <= desired_size <= max_size"),
        ({"desired_size": 5, "max_size": 4}, False, "min_size <= desired_size <= max_size"),
        ({"max_size": 0}, False, "max_size >= 1"),
        ({"instance_types": ["p5.48xlarge"]}, False, "managed spot pool needs at least two"),
        ({"instance_types": ["g5.xlarge", "g5.12xlarge"]}, False, "same GPU count"),
        ({"provisioner": "karpenter"}, False, "needs k8s_provider"),
        ({"provisioner": "fargate"}, False, "provisioner must be"),
        ({"capacity_type": "reserved"}, False, "capacity_type must be"),
        ({"ami_type": "AL2_x86_64_GPU"}, False, "ami_type must be one of"),
        ({"labels": {"ai-estate/bu": "marketing"}}, False, "cannot be overridden"),
        ({"labels": {"node.kubernetes.io/x": "y"}}, False, "reserved for Kubernetes"),
        ({"labels": {"team": "not ok"}}, False, "not a valid label value"),
        ({"name": "Train_A10G"}, False, "pool name must be"),
        ({"disk_gib": 8}, False, "disk_gib must be between"),
        ({"max_gpus": 2}, False, "capped by max_size only"),
        ({"provisioner": "karpenter", "max_gpus": 0}, True, "at least 1"),
        ({"name": "a-very-long-pool-name-for-training-jobs"}, False, "within 37 characters"),
    ],
)
def test_pool_validation_names_the_pool(over, has_provider, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        validate_pool("fraud", "prod", spec(**over), has_k8s_provider=has_provider)
    assert "of BU 'fraud'" in str(err.value)


def test_spot_rule_blocks_managed_and_warns_karpenter():
    single = {"instance_types": ["p4d.24xlarge"], "capacity_type": "spot"}
    validate_pool("fraud", "prod", spec(provisioner="karpenter", **single), has_k8s_provider=True)
    assert pool_warnings(spec(provisioner="karpenter", **single))
    assert pool_warnings(spec()) == []  # two types
    validate_pool(
        "fraud",
        "prod",
        spec(capacity_type="on-demand", instance_types=["p5.48xlarge"]),
        has_k8s_provider=False,
    )


def test_effective_max_gpus():
    assert effective_max_gpus(spec()) == 4  # 4 nodes x 1 GPU
    assert effective_max_gpus(spec(provisioner="karpenter", max_gpus=3)) == 3
    karpenter_big = spec(provisioner="karpenter", instance_types=["g5.12xlarge", "g5.48xlarge"])
    assert effective_max_gpus(karpenter_big) == 4 * 8  # sized for the largest type
    assert effective_max_gpus(spec(max_gpus=100)) == 4  # managed: max_size is the cap


# -- rendered components --------------------------------------------------------------------


def by_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def one(inventory, typ):
    [resource] = by_type(inventory, typ)
    return resource


@cache
def rendered(
    provisioner: str,
    capacity_type: str = "spot",
    ami_type: str = "AL2023_x86_64_NVIDIA",
    bu: str = "fraud",
    max_gpus_cap: int | None = None,
):
    """Render one BU's node role and one pool; returns (inventory, pool, captured options)."""
    captured: dict[str, pulumi.ResourceOptions] = {}
    components: dict[str, GpuNodePool] = {}

    def capture(args: pulumi.ResourceTransformationArgs):
        captured[args.name] = args.opts
        return None

    def program():
        # Stack transformations run in the SDK, so they see options the mock monitor drops.
        pulumi.runtime.register_stack_transformation(capture)
        provider = k8s.Provider("cluster", kubeconfig="{}")
        role = GpuNodeRole(
            f"{bu}-gpu-nodes",
            {
                "business_unit": bu,
                "environment": "prod",
                "cluster_name": CLUSTER,
                "karpenter": provisioner == "karpenter",
                "tags": TAGS,
            },
        )
        pool_spec = spec(
            provisioner=provisioner,
            capacity_type=capacity_type,
            ami_type=ami_type,
            max_gpus=max_gpus_cap,
            instance_types=["g5.12xlarge", "g5.48xlarge"]
            if provisioner == "karpenter"
            else ["g5.xlarge", "g5.2xlarge"],
        )
        components["pool"] = GpuNodePool(
            f"{bu}-train",
            {
                "business_unit": bu,
                "environment": "prod",
                "cluster_name": CLUSTER,
                "cluster_version": "1.31",
                "subnet_ids": SUBNETS,
                "node_role_arn": role.role_arn,
                "node_role_name": role.role_name,
                "kms_key_arn": KMS_KEY,
                "security_group_ids": [CLUSTER_SG],
                "pool": pool_spec,
                "k8s_provider": provider,
                "tags": {**TAGS, "BusinessUnit": bu},
            },
        )

    inventory = render(
        program, stack=f"{bu}-prod", project="ai-estate", config={"aws:region": "us-east-1"}
    )
    return inventory, components["pool"], captured


NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG_TAG = "aws:autoscaling/tag:Tag"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


def test_managed_pool_scales_to_zero_with_autoscaler_node_template_tags():
    inventory, pool, captured = rendered("managed")
    group = one(inventory, NODE_GROUP)
    assert group.inputs["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    assert captured[group.name].ignore_changes == ["scalingConfig.desiredSize"]
    tags = group.inputs["tags"]
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert tags[f"k8s.io/cluster-autoscaler/{CLUSTER}"] == "owned"
    for key, value in group.inputs["labels"].items():
        assert tags[f"k8s.io/cluster-autoscaler/node-template/label/{key}"] == value
    assert tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert tags["k8s.io/cluster-autoscaler/node-template/taint/ai-estate/bu"] == "fraud:NoSchedule"
    assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
    assert tags["BusinessUnit"] == "fraud"
    # EKS does not copy node group tags to the ASG: every node-template tag is put there directly
    template = {k: v for k, v in tags.items() if "/node-template/" in k}
    asg_tags = by_type(inventory, ASG_TAG)
    assert {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in asg_tags} == template
    for t in asg_tags:
        assert t.inputs["tag"]["propagateAtLaunch"] is False
        assert group.urn in t.property_dependencies["autoscalingGroupName"]
    assert pool.node_group_name is not None and pool.node_pool_name is None


def test_managed_pool_labels_taints_and_no_ssh():
    inventory, pool, _ = rendered("managed")
    group = one(inventory, NODE_GROUP)
    assert group.inputs["labels"] == pool.labels
    assert pool.labels["ai-estate/gpu-model"] == "a10g" and pool.gpu_model == "a10g"
    assert group.inputs["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
        {"key": "ai-estate/bu", "value": "fraud", "effect": "NO_SCHEDULE"},
    ]
    assert pool.taints[1] == {"key": "ai-estate/bu", "value": "fraud", "effect": "NoSchedule"}
    assert "remoteAccess" not in group.inputs
    assert group.inputs["updateConfig"] == {"maxUnavailable": 1}
    assert group.inputs["amiType"] == "AL2023_x86_64_NVIDIA" and group.inputs["version"] == "1.31"
    assert group.inputs["instanceTypes"] == ["g5.xlarge", "g5.2xlarge"]
    assert group.inputs["nodeGroupNamePrefix"] == "fraud-prod-train-a10g-"
    assert group.inputs["subnetIds"] == SUBNETS
    assert group.inputs["nodeRoleArn"].endswith(":role/ai-estate/nodes/fraud-prod-gpu-node")
    lt = one(inventory, LAUNCH_TEMPLATE)
    assert group.inputs["launchTemplate"]["id"].startswith("lt-")
    assert lt.urn in group.property_dependencies["launchTemplate"]
    assert pool.max_gpus == 4


@pytest.mark.parametrize(("capacity", "expected"), [("spot", "SPOT"), ("on-demand", "ON_DEMAND")])
def test_capacity_type_mapping(capacity, expected):
    inventory, pool, _ = rendered("managed", capacity_type=capacity)
    assert one(inventory, NODE_GROUP).inputs["capacityType"] == expected
    assert pool.labels["ai-estate/capacity-type"] == capacity


def test_launch_template_requires_imdsv2_one_hop_and_encrypts_with_the_bu_key():
    inventory, _, _ = rendered("managed")
    lt = one(inventory, LAUNCH_TEMPLATE)
    assert lt.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    [device] = lt.inputs["blockDeviceMappings"]
    assert device["deviceName"] == "/dev/xvda"
    assert device["ebs"] == {
        "encrypted": "true",
        "kmsKeyId": KMS_KEY,
        "volumeSize": 200,
        "volumeType": "gp3",
        "deleteOnTermination": "true",
    }
    assert "keyName" not in lt.inputs and "iamInstanceProfile" not in lt.inputs
    specs = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
    assert set(specs) == {"instance", "volume"}
    assert all(
        t["BusinessUnit"] == "fraud" and t["ai-estate/pool"] == "train-a10g" for t in specs.values()
    )


def test_bottlerocket_encrypts_its_os_volume_too():
    inventory, _, _ = rendered("managed", ami_type="BOTTLEROCKET_x86_64_NVIDIA")
    devices = one(inventory, LAUNCH_TEMPLATE).inputs["blockDeviceMappings"]
    assert [d["deviceName"] for d in devices] == ["/dev/xvda", "/dev/xvdb"]
    assert all(d["ebs"]["encrypted"] == "true" and d["ebs"]["kmsKeyId"] == KMS_KEY for d in devices)
    assert devices[1]["ebs"]["volumeSize"] == 200


def test_node_role_trusts_ec2_uses_ssm_and_joins_karpenter_nodes():
    inventory, _, _ = rendered("karpenter")
    role = one(inventory, "aws:iam/role:Role")
    assert (
        role.inputs["path"] == "/ai-estate/nodes/" and role.inputs["name"] == "fraud-prod-gpu-node"
    )
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
        }
    ]
    attached = {
        a.inputs["policyArn"]
        for a in by_type(inventory, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    }
    entry = one(inventory, "aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["type"] == "EC2_LINUX" and entry.inputs["clusterName"] == CLUSTER
    assert "kubernetesGroups" not in entry.inputs
    assert role.urn in entry.property_dependencies["principalArn"]
    # managed node groups create their own access entry
    assert by_type(rendered("managed")[0], "aws:eks/accessEntry:AccessEntry") == []


# Karpenter v1 CRD checks -------------------------------------------------------------------

_DURATION = re.compile(r"^(([0-9]+(s|m|h))+)|(Never)$")
_BUDGET_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TAINT_PART = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
_QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE])?$")
_VOLUME_SIZE = re.compile(r"^[1-9][0-9]{0,4}Gi$")


def _domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def check_node_pool(manifest: dict) -> None:
    """karpenter.sh/v1 NodePool, per the v1 CRD's schema and CEL rules for the fields we set."""
    assert manifest["apiVersion"] == "karpenter.sh/v1" and manifest["kind"] == "NodePool"
    assert manifest["metadata"]["name"]
    spec = manifest["spec"]
    assert set(spec) <= {"template", "disruption", "limits", "weight"}
    template = spec["template"]  # required
    assert set(template) <= {"metadata", "spec"}
    labels = template.get("metadata", {}).get("labels", {})
    assert set(template.get("metadata", {})) <= {"labels", "annotations"}
    for key, value in labels.items():
        assert len(value) <= 63 and _LABEL_VALUE.match(value), key
        assert not _domain(key).endswith(
            ("kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws")
        ), key
    tspec = template["spec"]  # required
    allowed = {
        "nodeClassRef",
        "taints",
        "startupTaints",
        "requirements",
        "expireAfter",
        "terminationGracePeriod",
    }
    assert set(tspec) <= allowed
    ref = tspec["nodeClassRef"]  # required, with group/kind/name required and non-empty
    assert set(ref) == {"group", "kind", "name"} and all(ref.values()) and "/" not in ref["group"]
    requirements = tspec["requirements"]  # required
    assert 1 <= len(requirements) <= 100
    for r in requirements:
        assert set(r) <= {"key", "operator", "values", "minValues"} and r["key"]
        assert r["operator"] in {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
        if r["operator"] == "In":
            assert r["values"], "requirements with operator 'In' must have a value defined"
        assert all(len(v) <= 63 and _LABEL_VALUE.match(v) for v in r.get("values", []))
    for taint in tspec.get("taints", []):
        assert set(taint) <= {"key", "value", "effect"} and taint["key"]
        assert taint["effect"] in {"NoSchedule", "PreferNoSchedule", "NoExecute"}
        assert _TAINT_PART.match(taint["key"]) and _TAINT_PART.match(taint["value"])
    assert _DURATION.match(tspec.get("expireAfter", "720h"))
    disruption = spec.get("disruption")
    if disruption is not None:
        assert set(disruption) <= {"consolidateAfter", "consolidationPolicy", "budgets"}
        assert _DURATION.match(disruption["consolidateAfter"])  # required in v1
        assert disruption.get("consolidationPolicy", "WhenEmptyOrUnderutilized") in {
            "WhenEmpty",
            "WhenEmptyOrUnderutilized",
        }
        for budget in disruption.get("budgets", []):
            assert _BUDGET_NODES.match(budget["nodes"])  # nodes required
            assert ("schedule" in budget) == ("duration" in budget)
    for name, value in spec.get("limits", {}).items():
        assert isinstance(value, int) or _QUANTITY.match(value), name


def check_ec2_node_class(manifest: dict) -> None:
    """karpenter.k8s.aws/v1 EC2NodeClass, per the v1 CRD's schema and CEL rules we touch."""
    assert manifest["apiVersion"] == "karpenter.k8s.aws/v1" and manifest["kind"] == "EC2NodeClass"
    assert manifest["metadata"]["name"]
    spec = manifest["spec"]
    allowed = {
        "amiFamily", "amiSelectorTerms", "associatePublicIPAddress", "blockDeviceMappings",
        "context", "detailedMonitoring", "instanceProfile", "instanceStorePolicy", "kubelet",
        "metadataOptions", "role", "securityGroupSelectorTerms", "subnetSelectorTerms", "tags",
        "userData",
    }  # fmt: skip
    assert set(spec) <= allowed
    for required in ("amiSelectorTerms", "securityGroupSelectorTerms", "subnetSelectorTerms"):
        assert spec[required], f"{required} is required and cannot be empty"
    assert ("role" in spec) != ("instanceProfile" in spec), "exactly one of role/instanceProfile"
    terms = spec["amiSelectorTerms"]
    assert 1 <= len(terms) <= 30
    aliases = [t["alias"] for t in terms if "alias" in t]
    if aliases:
        assert len(terms) == 1 and set(terms[0]) == {"alias"}, "alias is mutually exclusive"
        family, _, version = aliases[0].partition("@")
        assert family in {"al2", "al2023", "bottlerocket", "windows2019", "windows2022"} and version
        assert len(aliases[0]) <= 30
    else:
        assert "amiFamily" in spec
    for term in spec["subnetSelectorTerms"]:
        assert set(term) == {"id"} and re.fullmatch(r"subnet-[0-9a-z]+", term["id"])
    for term in spec["securityGroupSelectorTerms"]:
        assert set(term) == {"id"} and re.fullmatch(r"sg-[0-9a-z]+", term["id"])
    options = spec.get("metadataOptions", {})
    assert set(options) <= {
        "httpEndpoint",
        "httpProtocolIPv6",
        "httpPutResponseHopLimit",
        "httpTokens",
    }
    assert options.get("httpEndpoint", "enabled") in {"enabled", "disabled"}
    assert options.get("httpProtocolIPv6", "disabled") in {"enabled", "disabled"}
    assert options.get("httpTokens", "required") in {"required", "optional"}
    assert 1 <= options.get("httpPutResponseHopLimit", 1) <= 64
    mappings = spec.get("blockDeviceMappings", [])
    assert len(mappings) <= 50 and sum(1 for m in mappings if m.get("rootVolume")) <= 1
    for m in mappings:
        assert set(m) <= {"deviceName", "ebs", "rootVolume"}
        ebs = m["ebs"]
        assert set(ebs) <= {
            "deleteOnTermination", "encrypted", "iops", "kmsKeyID", "snapshotID", "throughput",
            "volumeSize", "volumeType",
        }  # fmt: skip
        assert "volumeSize" in ebs or "snapshotID" in ebs
        assert _VOLUME_SIZE.match(ebs["volumeSize"])
        assert ebs["volumeType"] in {"standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"}
    restricted = ("karpenter.sh/nodepool", "karpenter.sh/managed-by", "karpenter.sh/nodeclaim")
    for key in spec.get("tags", {}):
        assert key and not key.startswith("kubernetes.io/cluster") and key not in restricted
        assert key != "karpenter.k8s.aws/ec2nodeclass"


def manifest_of(resource) -> dict:
    return {
        k: resource.inputs[k]
        for k in ("apiVersion", "kind", "metadata", "spec")
        if k in resource.inputs
    }


def test_karpenter_node_pool_caps_gpus_and_matches_the_crd():
    inventory, pool, _ = rendered("karpenter")
    node_pool = one(inventory, NODE_POOL)
    manifest = manifest_of(node_pool)
    check_node_pool(manifest)
    spec_ = manifest["spec"]
    assert spec_["limits"] == {"nvidia.com/gpu": 32}  # 4 x g5.48xlarge (8 GPUs)
    assert pool.max_gpus == 32 and pool.node_pool_name is not None and pool.node_group_name is None
    requirements = {r["key"]: r for r in spec_["template"]["spec"]["requirements"]}
    assert requirements["node.kubernetes.io/instance-type"] == {
        "key": "node.kubernetes.io/instance-type",
        "operator": "In",
        "values": ["g5.12xlarge", "g5.48xlarge"],
    }
    assert requirements["karpenter.sh/capacity-type"]["values"] == ["spot"]
    assert spec_["template"]["metadata"]["labels"] == pool.labels
    assert spec_["template"]["spec"]["taints"] == pool.taints
    assert spec_["template"]["spec"]["expireAfter"] == "720h"
    assert spec_["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "10%"}],
    }
    assert spec_["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": manifest["metadata"]["name"],
    }
    assert manifest["metadata"]["name"] == "fraud-train-a10g"
    node_class = one(inventory, NODE_CLASS)
    assert node_class.urn in node_pool.dependencies
    assert by_type(inventory, NODE_GROUP) == [] and by_type(inventory, LAUNCH_TEMPLATE) == []


def test_karpenter_node_class_imdsv2_encryption_and_identity():
    inventory, _, _ = rendered(
        "karpenter", ami_type="BOTTLEROCKET_x86_64_NVIDIA", capacity_type="on-demand"
    )
    node_class = one(inventory, NODE_CLASS)
    manifest = manifest_of(node_class)
    check_ec2_node_class(manifest)
    spec_ = manifest["spec"]
    assert spec_["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.26.2"}]
    assert spec_["role"] == "fraud-prod-gpu-node"
    assert spec_["subnetSelectorTerms"] == [{"id": s} for s in SUBNETS]
    assert spec_["securityGroupSelectorTerms"] == [{"id": CLUSTER_SG}]
    assert spec_["metadataOptions"]["httpTokens"] == "required"
    assert spec_["metadataOptions"]["httpPutResponseHopLimit"] == 1
    devices = spec_["blockDeviceMappings"]
    assert [(d["deviceName"], d["rootVolume"]) for d in devices] == [
        ("/dev/xvda", False),
        ("/dev/xvdb", True),
    ]
    assert all(d["ebs"]["encrypted"] is True and d["ebs"]["kmsKeyID"] == KMS_KEY for d in devices)
    assert devices[1]["ebs"]["volumeSize"] == "200Gi" and devices[1]["ebs"]["volumeType"] == "gp3"
    assert spec_["tags"]["BusinessUnit"] == "fraud"
    node_pool = one(inventory, NODE_POOL)
    requirements = {
        r["key"]: r["values"] for r in node_pool.inputs["spec"]["template"]["spec"]["requirements"]
    }
    assert requirements["karpenter.sh/capacity-type"] == ["on-demand"]
    # both objects go to the cluster through the explicit Kubernetes provider
    [provider] = by_type(inventory, "pulumi:providers:kubernetes")
    assert node_class.provider.startswith(provider.urn) and node_pool.provider.startswith(
        provider.urn
    )
    assert one(rendered("karpenter", ami_type="AL2023_x86_64_NVIDIA")[0], NODE_CLASS).inputs[
        "spec"
    ]["amiSelectorTerms"] == [{"alias": "al2023@v20251120"}]


def test_karpenter_explicit_gpu_cap():
    inventory, pool, _ = rendered("karpenter", max_gpus_cap=12)
    assert one(inventory, NODE_POOL).inputs["spec"]["limits"] == {"nvidia.com/gpu": 12}
    assert pool.max_gpus == 12


def test_two_bus_get_different_taints_and_cluster_object_names():
    fraud, _, _ = rendered("karpenter")
    marketing, _, _ = rendered("karpenter", bu="marketing")

    def bu_taint(inventory):
        taints = one(inventory, NODE_POOL).inputs["spec"]["template"]["spec"]["taints"]
        return next(t["value"] for t in taints if t["key"] == "ai-estate/bu")

    assert (bu_taint(fraud), bu_taint(marketing)) == ("fraud", "marketing")
    names = {one(inv, NODE_POOL).inputs["metadata"]["name"] for inv in (fraud, marketing)}
    assert names == {"fraud-train-a10g", "marketing-train-a10g"}
    managed = one(rendered("managed", bu="marketing")[0], NODE_GROUP)
    assert {"key": "ai-estate/bu", "value": "marketing", "effect": "NO_SCHEDULE"} in managed.inputs[
        "taints"
    ]


def test_invalid_pool_fails_the_render_with_the_pool_named():
    def program():
        GpuNodePool(
            "bad",
            {
                "business_unit": "fraud",
                "environment": "prod",
                "cluster_name": CLUSTER,
                "cluster_version": "1.31",
                "subnet_ids": SUBNETS,
                "node_role_arn": "arn:aws:iam::222222222222:role/x",
                "node_role_name": "x",
                "kms_key_arn": KMS_KEY,
                "security_group_ids": [CLUSTER_SG],
                "pool": spec(provisioner="karpenter"),
                "k8s_provider": None,
                "tags": TAGS,
            },
        )

    with pytest.raises(
        ProgramError, match=r"GPU pool 'train-a10g' of BU 'fraud'.*needs k8s_provider"
    ):
        render(program, stack="fraud-prod", project="ai-estate", config={"aws:region": "us-east-1"})
