"""EKS and GPU rules: a bad and a good program per rule, the GPU catalog copy, environments,
policy config, the estate's own GPU pools and shipped stacks, and the real pack end to end.

Programs are built from real pulumi_aws resources and real `pulumi_kubernetes` custom resources
(Karpenter NodePools), rendered by the offline engine, so the property names are the providers'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance import compute, eks, gpu, kubernetes
from governance.catalog import ENVIRONMENTS
from policy_harness import POLICIES_DIR, check, names, render_program
from policy_programs import KEY_ARN, unknown
from pulumi_policy.proxy import UnknownValueError

from components.gpu_catalog import CATALOG as BLUEPRINT_CATALOG
from components.gpu_pools import GpuNodePool, GpuNodeRole, GpuPoolSpec
from estate.offline.runner import run_pack

Program = Callable[[], None]

ROLE_ARN = "arn:aws:iam::123456789012:role/ai-estate/nodes/fraud-prod-gpu-node"
CLUSTER_ROLE_ARN = "arn:aws:iam::123456789012:role/platform-prod-cluster-role"
SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
NODE_POOL_TYPE = "kubernetes:karpenter.sh/v1:NodePool"

ROOT = POLICIES_DIR.parent
SHIPPED_STACKS = ("platform-dev", "platform-prod", "fraud-prod", "marketing-dev")
NEW_RULES = tuple(r.id for r in (*eks.RULES, *gpu.RULES, *kubernetes.RULES))


@dataclass(frozen=True)
class Case:
    bad: Program
    flagged: set[str | None]
    """Logical names of the resources the rule must report in `bad` (None: the stack)."""
    good: Program


# -- building blocks --------------------------------------------------------------------------


def cluster(name: str, **overrides: Any) -> aws.eks.Cluster:
    """An EKS cluster as EksCluster makes it, with some arguments replaced."""
    args: dict[str, Any] = {
        "role_arn": CLUSTER_ROLE_ARN,
        "vpc_config": aws.eks.ClusterVpcConfigArgs(
            subnet_ids=SUBNETS, endpoint_private_access=True, endpoint_public_access=False
        ),
        "encryption_config": aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"],
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=KEY_ARN),
        ),
        "enabled_cluster_log_types": list(eks.CONTROL_PLANE_LOG_TYPES),
    }
    args.update(overrides)
    return aws.eks.Cluster(name, **args)


def gpu_taints(bu: str = "fraud", effect: str = "NO_SCHEDULE") -> list[aws.eks.NodeGroupTaintArgs]:
    return [
        aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect=effect),
        aws.eks.NodeGroupTaintArgs(key="ai-estate/bu", value=bu, effect=effect),
    ]


def node_group(
    name: str,
    instance_types: list[str] | None,
    *,
    max_size: Any = 2,
    taints: list[aws.eks.NodeGroupTaintArgs] | None = None,
    labels: dict[str, str] | None = None,
    **extra: Any,
) -> aws.eks.NodeGroup:
    """An EKS managed node group; GPU types get the BU's taints unless `taints` says otherwise."""
    gpu_types = instance_types and any(gpu.is_gpu_instance_type(t) for t in instance_types)
    return aws.eks.NodeGroup(
        name,
        cluster_name="platform-prod-ai",
        node_role_arn=ROLE_ARN,
        subnet_ids=SUBNETS,
        instance_types=instance_types,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=0, desired_size=0, max_size=max_size
        ),
        taints=gpu_taints() if taints is None and gpu_types else taints,
        labels={"ai-estate/bu": "fraud"} if labels is None else labels,
        **extra,
    )


def node_pool(
    name: str,
    instance_types: list[str] | None = None,
    *,
    requirements: list[dict[str, Any]] | None = None,
    limits: dict[str, Any] | None = None,
    taints: list[dict[str, str]] | None = None,
    bu: str = "fraud",
) -> k8s.apiextensions.CustomResource:
    """A Karpenter v1 NodePool shaped like GpuNodePool's, as a real custom resource."""
    reqs = list(requirements or [])
    if instance_types is not None:
        reqs.insert(
            0,
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": instance_types},
        )
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": name},
        "requirements": reqs,
    }
    template_spec["taints"] = (
        [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
            {"key": "ai-estate/bu", "value": bu, "effect": "NoSchedule"},
        ]
        if taints is None
        else taints
    )
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": {"ai-estate/bu": bu}}, "spec": template_spec}
    }
    if limits is not None:
        spec["limits"] = limits
    return k8s.apiextensions.CustomResource(
        name,
        api_version="karpenter.sh/v1",
        kind="NodePool",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name),
        spec=spec,
    )


CPU_ONLY = [
    {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]}
]


# -- eks --------------------------------------------------------------------------------------


def bad_endpoint() -> None:
    cluster("default", vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=SUBNETS))
    cluster(
        "no-cidrs",
        vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=SUBNETS, endpoint_public_access=True),
    )
    cluster(
        "world",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=SUBNETS, endpoint_public_access=True, public_access_cidrs=["0.0.0.0/0"]
        ),
    )
    cluster(
        "world-v6",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=SUBNETS,
            endpoint_public_access=True,
            public_access_cidrs=["203.0.113.0/24", "::/0"],
        ),
    )


def good_endpoint() -> None:
    cluster("private")
    cluster(
        "office",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=SUBNETS,
            endpoint_private_access=True,
            endpoint_public_access=True,
            public_access_cidrs=["203.0.113.0/24"],
        ),
    )


def bad_secrets() -> None:
    cluster("plain", encryption_config=None)
    cluster(
        "aws-managed",
        encryption_config=aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"],
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn="alias/aws/eks"),
        ),
    )


def good_secrets() -> None:
    cluster("encrypted")


def bad_logging() -> None:
    cluster("silent", enabled_cluster_log_types=None)
    cluster("partial", enabled_cluster_log_types=["api", "audit"])


def good_logging() -> None:
    cluster("logged")


def bad_ssh() -> None:
    node_group(
        "ssh-world",
        ["m7i.large"],
        remote_access=aws.eks.NodeGroupRemoteAccessArgs(ec2_ssh_key="ops"),
    )
    node_group(
        "ssh-bastion",
        ["m7i.large"],
        remote_access=aws.eks.NodeGroupRemoteAccessArgs(
            ec2_ssh_key="ops", source_security_group_ids=["sg-0bastion"]
        ),
    )
    aws.ec2.LaunchTemplate("keyed-lt", key_name="ops")


def good_ssh() -> None:
    node_group("system", ["m7i.large"])
    aws.ec2.LaunchTemplate(
        "gpu-lt", metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required")
    )


# -- gpu --------------------------------------------------------------------------------------


def bad_types() -> None:
    node_group("h200", ["p5e.48xlarge"])
    aws.ec2.LaunchTemplate("p4de-lt", instance_type="p4de.24xlarge")
    aws.ec2.Instance("legacy", ami="ami-0123456789abcdef0", instance_type="p3.16xlarge")
    node_pool("unpinned", limits={"nvidia.com/gpu": 8})
    node_pool("p5en", ["p5en.48xlarge"], limits={"nvidia.com/gpu": 8})
    node_pool(
        "family-p5e",
        requirements=[
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p5e"]}
        ],
        limits={"nvidia.com/gpu": 8},
    )
    aws.autoscaling.Group(
        "asg",
        max_size=2,
        min_size=0,
        vpc_zone_identifiers=SUBNETS,
        mixed_instances_policy=aws.autoscaling.GroupMixedInstancesPolicyArgs(
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                    launch_template_id="lt-0123456789abcdef0"
                ),
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                        instance_type="g4ad.xlarge"
                    )
                ],
            )
        ),
    )


def good_types() -> None:
    node_group("serve", ["g5.xlarge", "g5.2xlarge"])
    node_group("system", ["m7i.large", "m6i.large"])
    aws.ec2.LaunchTemplate("system-lt", instance_type="m7i.large")
    aws.ec2.Instance("trainer", ami="ami-0123456789abcdef0", instance_type="p5.48xlarge")
    node_pool("train", ["p4d.24xlarge"], limits={"nvidia.com/gpu": 16})
    node_pool(
        "a10g-any-size",
        requirements=[
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"]}
        ],
        limits={"nvidia.com/gpu": 8},
    )
    node_pool("general", requirements=CPU_ONLY, taints=[])
    node_pool(
        "no-gpus",
        requirements=[{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "DoesNotExist"}],
        taints=[],
    )


def bad_pool_size() -> None:
    node_group("wide", ["g5.xlarge"], max_size=20)
    node_group("heavy", ["p5.48xlarge"], max_size=10)
    node_group("uncatalogued", ["g5.4xlarge"])
    node_group("ami-only", None, ami_type="AL2023_x86_64_NVIDIA")
    node_pool("no-limit", ["g5.xlarge"])
    node_pool("big-limit", ["p5.48xlarge"], limits={"nvidia.com/gpu": "128"})


def good_pool_size() -> None:
    node_group("serve", ["g5.12xlarge"], max_size=4)
    node_group("system", ["m7i.large"], max_size=50)
    node_pool("train", ["p5.48xlarge"], limits={"nvidia.com/gpu": 64})


def bad_bu_gpus() -> None:
    node_group("train-a", ["p5.48xlarge"], max_size=8)
    node_group("train-b", ["p5.48xlarge"], max_size=8)
    aws.ec2.Instance("debug", ami="ami-0123456789abcdef0", instance_type="p5.48xlarge")


def good_bu_gpus() -> None:
    node_group("serve", ["g5.xlarge", "g5.2xlarge"], max_size=4)
    node_pool("train", ["g5.12xlarge", "g5.48xlarge"], limits={"nvidia.com/gpu": 8})
    node_group("system", ["m7i.large"], max_size=100)


def bad_nvidia_taint() -> None:
    node_group(
        "untainted",
        ["g5.xlarge"],
        taints=[
            aws.eks.NodeGroupTaintArgs(key="ai-estate/bu", value="fraud", effect="NO_SCHEDULE")
        ],
    )
    node_group("soft", ["g5.xlarge"], taints=gpu_taints(effect="PREFER_NO_SCHEDULE"))
    node_pool(
        "np-untainted",
        ["g6.xlarge"],
        limits={"nvidia.com/gpu": 4},
        taints=[{"key": "ai-estate/bu", "value": "fraud", "effect": "NoSchedule"}],
    )


def good_nvidia_taint() -> None:
    node_group("serve", ["g5.xlarge"])
    node_group("execute", ["g5.xlarge"], taints=gpu_taints(effect="NO_EXECUTE"))
    node_group("system", ["m7i.large"], taints=[])
    node_pool("train", ["g5.12xlarge"], limits={"nvidia.com/gpu": 8})


def bad_bu_taint() -> None:
    node_group(
        "shared",
        ["g5.xlarge"],
        taints=[
            aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect="NO_SCHEDULE")
        ],
    )
    node_group(
        "blank",
        ["g5.xlarge"],
        taints=[
            aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect="NO_SCHEDULE"),
            aws.eks.NodeGroupTaintArgs(key="ai-estate/bu", effect="NO_SCHEDULE"),
        ],
    )
    node_group("mislabelled", ["g5.xlarge"], labels={"ai-estate/bu": "marketing"})
    node_pool(
        "np-shared",
        ["g6.xlarge"],
        limits={"nvidia.com/gpu": 4},
        taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
    )


def good_bu_taint() -> None:
    node_group("serve", ["g5.xlarge"])
    node_group("system", ["m7i.large"], labels={})
    node_pool("train", ["g5.12xlarge"], limits={"nvidia.com/gpu": 8})
    node_pool("general", requirements=CPU_ONLY, taints=[])


def node_class(name: str, alias: str) -> None:
    k8s.apiextensions.CustomResource(
        name,
        api_version="karpenter.k8s.aws/v1",
        kind="EC2NodeClass",
        metadata={"name": name},
        spec={"amiSelectorTerms": [{"alias": alias}], "role": "node-role"},
    )


def bad_ami_pin() -> None:
    node_class("tracks-al2023", "al2023@latest")
    node_class("tracks-bottlerocket", "bottlerocket@latest")


def good_ami_pin() -> None:
    node_class("pinned-al2023", "al2023@v20251120")
    node_class("pinned-bottlerocket", "bottlerocket@v1.26.2")


COMPUTE_CASES: dict[str, Case] = {
    "eks-endpoint-not-public": Case(
        bad_endpoint, {"default", "no-cidrs", "world", "world-v6"}, good_endpoint
    ),
    "eks-secrets-encryption": Case(bad_secrets, {"plain", "aws-managed"}, good_secrets),
    "eks-control-plane-logging": Case(bad_logging, {"silent", "partial"}, good_logging),
    "eks-nodegroup-no-ssh": Case(bad_ssh, {"ssh-world", "ssh-bastion", "keyed-lt"}, good_ssh),
    "gpu-instance-type-allowed": Case(
        bad_types,
        {"h200", "p4de-lt", "legacy", "unpinned", "p5en", "family-p5e", "asg"},
        good_types,
    ),
    "gpu-pool-size-cap": Case(
        bad_pool_size,
        {"wide", "heavy", "uncatalogued", "ami-only", "no-limit", "big-limit"},
        good_pool_size,
    ),
    "gpu-bu-gpu-cap": Case(bad_bu_gpus, {None}, good_bu_gpus),
    "gpu-pool-nvidia-taint": Case(
        bad_nvidia_taint, {"untainted", "soft", "np-untainted"}, good_nvidia_taint
    ),
    "gpu-pool-bu-taint": Case(
        bad_bu_taint, {"shared", "blank", "mislabelled", "np-shared"}, good_bu_taint
    ),
    "karpenter-ami-pinned": Case(
        bad_ami_pin, {"tracks-al2023", "tracks-bottlerocket"}, good_ami_pin
    ),
}


def test_latest_amis_pass_in_dev_where_new_releases_are_tried():
    assert check("karpenter-ami-pinned", bad_ami_pin, environment="dev") == []
    assert len(check("karpenter-ami-pinned", bad_ami_pin, environment="staging")) == 2


def test_every_eks_and_gpu_rule_has_a_bad_and_a_good_case():
    assert set(COMPUTE_CASES) == {r.id for r in (*eks.RULES, *gpu.RULES)}


@pytest.mark.parametrize("rule_id", sorted(COMPUTE_CASES))
def test_bad_program_is_caught(rule_id: str):
    case = COMPUTE_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged
    assert all(v.message.endswith(".") for v in violations)


@pytest.mark.parametrize("rule_id", sorted(COMPUTE_CASES))
def test_good_program_passes(rule_id: str):
    assert check(rule_id, COMPUTE_CASES[rule_id].good, environment="prod") == []


# -- details of the EKS rules -----------------------------------------------------------------


def test_a_public_endpoint_by_default_says_so():
    [violation] = check(
        "eks-endpoint-not-public",
        lambda: cluster("default", vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=SUBNETS)),
    )
    assert "by default" in violation.message and "0.0.0.0/0" in violation.message


def test_ssh_without_source_groups_is_called_open_to_the_world():
    violations = {v.resource_name: v.message for v in check("eks-nodegroup-no-ssh", bad_ssh)}
    assert "0.0.0.0/0" in violations["ssh-world"]
    assert "security groups" in violations["ssh-bastion"]


def test_required_log_types_follow_policy_config():
    def program():
        cluster("partial", enabled_cluster_log_types=["audit", "authenticator"])

    assert names(check("eks-control-plane-logging", program)) == ["partial"]
    relaxed = {"requiredLogTypes": ["audit", "authenticator"]}
    assert check("eks-control-plane-logging", program, policy_config=relaxed) == []


def test_imdsv2_rule_already_covers_launch_template_metadata_options():
    """The brief's IMDSv2 requirement is `ec2-imdsv2-required` (compute.py), not a new rule."""

    def program():
        aws.ec2.LaunchTemplate("optional", metadata_options={"http_tokens": "optional"})
        aws.ec2.LaunchTemplate("unset", instance_type="g5.xlarge")
        aws.ec2.LaunchTemplate(
            "required",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="required", http_put_response_hop_limit=1
            ),
        )

    assert set(names(check("ec2-imdsv2-required", program))) == {"optional", "unset"}


def test_imds_hop_limit_above_one_is_refused_and_the_fix_says_one():
    def program():
        aws.ec2.LaunchTemplate(
            "two-hops",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="required", http_put_response_hop_limit=2
            ),
        )
        aws.ec2.Instance(
            "one-hop",
            ami="ami-0123456789abcdef0",
            instance_type="g5.xlarge",
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_tokens="required", http_put_response_hop_limit=1
            ),
        )

    [violation] = check("ec2-imdsv2-required", program)
    assert "two-hops" in violation.message and "HopLimit is 2; must be 1" in violation.message
    [rule] = [r for r in compute.RULES if r.id == "ec2-imdsv2-required"]
    assert "'http_put_response_hop_limit': 1" in rule.remediation


def test_an_unset_hop_limit_on_ec2_is_refused_because_al2023_amis_default_to_two():
    """AWS: an AMI with ImdsSupport v2.0 launches with hop limit 2 ("Configure instance metadata
    options for new instances"); only an explicit 1 keeps the limit at one hop."""

    def program():
        aws.ec2.LaunchTemplate(
            "tokens-only",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required"),
        )
        aws.ec2.LaunchConfiguration(
            "legacy-asg",
            image_id="ami-0123456789abcdef0",
            instance_type="m7i.large",
            metadata_options=aws.ec2.LaunchConfigurationMetadataOptionsArgs(http_tokens="required"),
        )
        aws.ec2.SpotInstanceRequest(
            "spot",
            ami="ami-0123456789abcdef0",
            instance_type="g5.xlarge",
            metadata_options=aws.ec2.SpotInstanceRequestMetadataOptionsArgs(
                http_tokens="required", http_put_response_hop_limit=1
            ),
        )

    violations = check("ec2-imdsv2-required", program)
    assert sorted(names(violations)) == ["legacy-asg", "tokens-only"]
    assert all("ImdsSupport v2.0" in v.message and "must be 1" in v.message for v in violations)


def karpenter_node_class(
    name: str, metadata_options: dict[str, Any] | None, api_version: str = "karpenter.k8s.aws/v1"
) -> None:
    spec: dict[str, Any] = {"amiSelectorTerms": [{"alias": "al2023@v20251120"}], "role": "r"}
    if metadata_options is not None:
        spec["metadataOptions"] = metadata_options
    k8s.apiextensions.CustomResource(
        name,
        api_version=api_version,
        kind="EC2NodeClass",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name),
        spec=spec,
    )


@pytest.mark.parametrize(
    ("api_version", "metadata_options", "problems"),
    [
        # Karpenter v1's CRD defaults: httpTokens required, hop limit 1 (as a whole, per field).
        ("karpenter.k8s.aws/v1", None, []),
        ("karpenter.k8s.aws/v1", {}, []),
        ("karpenter.k8s.aws/v1", {"httpEndpoint": "enabled"}, []),
        ("karpenter.k8s.aws/v1", {"httpTokens": "required", "httpPutResponseHopLimit": 1}, []),
        ("karpenter.k8s.aws/v1", {"httpTokens": "optional"}, ["IMDSv1"]),
        ("karpenter.k8s.aws/v1", {"httpPutResponseHopLimit": 2}, ["is 2;"]),
        (
            "karpenter.k8s.aws/v1",
            {"httpTokens": "optional", "httpPutResponseHopLimit": 3},
            ["IMDSv1", "is 3;"],
        ),
        ("karpenter.k8s.aws/v1", {"httpEndpoint": "disabled", "httpTokens": "optional"}, []),
        # v1beta1 defaulted the hop limit to 2 (v0.37 pkg/apis/v1beta1/ec2nodeclass.go).
        ("karpenter.k8s.aws/v1beta1", None, ["is 2 by default;"]),
        ("karpenter.k8s.aws/v1beta1", {"httpTokens": "required"}, ["is 2 by default;"]),
        ("karpenter.k8s.aws/v1beta1", {"httpPutResponseHopLimit": 1}, []),
    ],
)
def test_karpenter_node_classes_are_judged_with_karpenters_defaults(
    api_version, metadata_options, problems
):
    violations = check(
        "ec2-imdsv2-required", lambda: karpenter_node_class("gpu", metadata_options, api_version)
    )
    assert len(violations) == len(problems)
    for violation, problem in zip(violations, problems, strict=True):
        assert violation.message.startswith("EC2NodeClass 'gpu'")
        assert problem in violation.message


def test_an_unknown_node_class_hop_limit_is_not_read_as_a_pass():
    with pytest.raises(UnknownValueError):
        check(
            "ec2-imdsv2-required",
            lambda: karpenter_node_class(
                "gpu", {"httpTokens": "required", "httpPutResponseHopLimit": unknown()}
            ),
        )


def test_the_imds_rule_watches_the_node_class_types_the_ami_rule_does():
    [imds] = [r for r in compute.RULES if r.id == "ec2-imdsv2-required"]
    assert imds.resource_types >= gpu.EC2_NODE_CLASSES
    assert "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass" in gpu.EC2_NODE_CLASSES


def test_the_v1_defaults_the_rule_assumes_are_the_vendored_crds():
    """Karpenter 1.8.1's EC2NodeClass CRD (tests/vendor) defaults metadataOptions as a whole and
    field by field; the rule assumes exactly those values for v1."""
    import yaml

    crd_file = (
        ROOT / "tests" / "vendor" / "karpenter-1.8.1" / "karpenter.k8s.aws_ec2nodeclasses.yaml"
    )
    crd = yaml.safe_load(crd_file.read_text())
    [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    options = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["metadataOptions"]
    fields = options["properties"]
    tokens, hops = compute.KARPENTER_METADATA_DEFAULTS[
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
    ]
    assert options["default"]["httpTokens"] == fields["httpTokens"]["default"] == tokens
    assert (
        options["default"]["httpPutResponseHopLimit"]
        == fields["httpPutResponseHopLimit"]["default"]
        == hops
    )


# -- the GPU catalog copy -----------------------------------------------------------------------


def test_pack_gpu_catalog_equals_the_blueprints():
    blueprint = {t: (i.gpu_model, i.gpus) for t, i in BLUEPRINT_CATALOG.items()}
    pack = {t: (g.gpu_model, g.gpus) for t, g in gpu.GPU_CATALOG.items()}
    assert pack == blueprint


@pytest.mark.parametrize("instance_type", sorted(BLUEPRINT_CATALOG))
def test_every_catalog_type_is_recognised_as_gpu_by_its_family(instance_type):
    assert gpu.is_gpu_family(gpu.instance_family(instance_type))


@pytest.mark.parametrize(
    ("instance_type", "is_gpu"),
    [
        ("g5.4xlarge", True),
        ("g4ad.xlarge", True),
        ("gr6.4xlarge", True),
        ("p5en.48xlarge", True),
        ("p6-b200.48xlarge", True),
        ("m7i.large", False),
        ("c6gn.xlarge", False),
        ("inf2.xlarge", False),
        ("trn1.32xlarge", False),
        ("t3.medium", False),
        ("", False),
    ],
)
def test_gpu_instance_types_are_told_from_others(instance_type, is_gpu):
    assert gpu.is_gpu_instance_type(instance_type) is is_gpu


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_default_allow_list_entry_matches_a_catalog_type(env):
    for pattern in gpu.DEFAULT_ALLOWED_TYPES[env]:
        assert any(gpu.type_allowed(t, [pattern]) for t in gpu.GPU_CATALOG), pattern


def test_allow_lists_only_widen_towards_prod():
    dev, staging, prod = (set(gpu.DEFAULT_ALLOWED_TYPES[e]) for e in ENVIRONMENTS)
    for instance_type in gpu.GPU_CATALOG:
        allowed = [gpu.type_allowed(instance_type, level) for level in (dev, staging, prod)]
        assert allowed == sorted(allowed), instance_type


# -- environments and policy config -------------------------------------------------------------


def p5_pool() -> None:
    node_group("train-h100", ["p5.48xlarge"], max_size=1)


def g5_large_pool() -> None:
    node_pool("train-a10g", ["g5.12xlarge"], limits={"nvidia.com/gpu": 4})


@pytest.mark.parametrize(
    ("program", "env", "flagged"),
    [
        (p5_pool, "dev", ["train-h100"]),
        (p5_pool, "staging", ["train-h100"]),
        (p5_pool, "prod", []),
        (g5_large_pool, "dev", ["train-a10g"]),
        (g5_large_pool, "staging", []),
        (g5_large_pool, "prod", []),
    ],
)
def test_allowed_types_depend_on_the_environment(program, env, flagged):
    assert names(check("gpu-instance-type-allowed", program, environment=env)) == flagged


def test_a_family_is_allowed_only_when_every_size_is():
    def program():
        node_pool(
            "a10g",
            requirements=[
                {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"]}
            ],
            limits={"nvidia.com/gpu": 4},
        )

    # dev allows g5.xlarge and g5.2xlarge only, not every g5 size.
    assert names(check("gpu-instance-type-allowed", program, environment="dev")) == ["a10g"]
    assert check("gpu-instance-type-allowed", program, environment="staging") == []


def test_allow_list_can_be_changed_through_policy_config():
    config = {"allowedInstanceTypes": ["g4dn.xlarge", "p5.*"]}
    assert (
        check("gpu-instance-type-allowed", p5_pool, environment="dev", policy_config=config) == []
    )
    violations = check(
        "gpu-instance-type-allowed", p5_pool, policy_config={"allowedInstanceTypes": []}
    )
    assert names(violations) == ["train-h100"]
    assert "none" in violations[0].message


@pytest.mark.parametrize(("env", "flagged"), [("dev", ["wide"]), ("staging", []), ("prod", [])])
def test_pool_caps_depend_on_the_environment(env, flagged):
    def program():
        node_group("wide", ["g4dn.xlarge"], max_size=6)  # 6 nodes, 6 GPUs

    assert names(check("gpu-pool-size-cap", program, environment=env)) == flagged


def test_pool_caps_can_be_raised_through_policy_config():
    def program():
        node_group("heavy", ["p5.48xlarge"], max_size=10)

    assert names(check("gpu-pool-size-cap", program)) == ["heavy"]
    config = {"maxPoolNodes": 16, "maxPoolGpus": 80}
    assert check("gpu-pool-size-cap", program, policy_config=config) == []


def test_pool_cap_uses_the_largest_gpu_type():
    def program():
        node_group("mixed", ["g5.xlarge", "g5.12xlarge"], max_size=4)  # 4 x 4 GPUs

    [violation] = check("gpu-pool-size-cap", program, environment="dev")
    assert "16 GPUs" in violation.message and "8" in violation.message


def test_bu_cap_names_every_pool_and_the_total():
    [violation] = check("gpu-bu-gpu-cap", bad_bu_gpus)
    assert "136 GPUs" in violation.message
    assert all(n in violation.message for n in ("train-a", "train-b", "debug"))


def test_an_uncapped_pool_makes_the_bu_total_unbounded():
    def program():
        node_group("serve", ["g5.xlarge"], max_size=1)
        node_pool("no-limit", ["g5.xlarge"])

    [violation] = check("gpu-bu-gpu-cap", program)
    assert "unbounded" in violation.message and "no-limit" in violation.message


@pytest.mark.parametrize(("env", "blocked"), [("dev", True), ("staging", False), ("prod", False)])
def test_bu_cap_depends_on_the_environment(env, blocked):
    def program():
        node_group("train", ["g5.12xlarge"], max_size=5)  # 20 GPUs

    violations = check("gpu-bu-gpu-cap", program, environment=env)
    # The pool cap is a separate rule; this one only adds up.
    assert bool(violations) is blocked


def test_a_cpu_karpenter_pool_is_not_a_gpu_pool():
    def program():
        node_pool("general", requirements=CPU_ONLY, taints=[])

    for rule_id in ("gpu-pool-size-cap", "gpu-bu-gpu-cap", "gpu-pool-nvidia-taint"):
        assert check(rule_id, program) == []


# -- the estate's own pools ------------------------------------------------------------------


def estate_pools() -> None:
    """One managed and one Karpenter pool, built by the blueprint's own components."""
    provider = k8s.Provider("cluster", kubeconfig="{}")
    role = GpuNodeRole(
        "fraud-gpu-nodes",
        {
            "business_unit": "fraud",
            "environment": "prod",
            "cluster_name": "platform-prod-ai",
            "karpenter": True,
            "tags": {"BusinessUnit": "fraud"},
        },
    )
    pools: list[GpuPoolSpec] = [
        {
            "name": "serve-a10g",
            "provisioner": "managed",
            "instance_types": ["g5.xlarge", "g5.2xlarge"],
            "capacity_type": "on-demand",
            "min_size": 1,
            "desired_size": 1,
            "max_size": 4,
            "disk_gib": 200,
            "ami_type": "AL2023_x86_64_NVIDIA",
        },
        {
            "name": "train-a10g",
            "provisioner": "karpenter",
            "instance_types": ["g5.12xlarge", "g5.48xlarge"],
            "capacity_type": "spot",
            "min_size": 0,
            "desired_size": 0,
            "max_size": 2,
            "max_gpus": 8,
            "disk_gib": 500,
            "ami_type": "BOTTLEROCKET_x86_64_NVIDIA",
            "ami_version": "v1.26.2",  # prod pins the AMI release
        },
    ]
    for pool in pools:
        GpuNodePool(
            f"fraud-gpu-{pool['name']}",
            {
                "business_unit": "fraud",
                "environment": "prod",
                "cluster_name": "platform-prod-ai",
                "cluster_version": "1.31",
                "subnet_ids": SUBNETS,
                "node_role_arn": role.role_arn,
                "node_role_name": role.role_name,
                "kms_key_arn": KEY_ARN,
                "security_group_ids": ["sg-0cluster"],
                "pool": pool,
                "k8s_provider": provider,
                "tags": {"BusinessUnit": "fraud"},
            },
        )


@pytest.fixture(scope="module")
def estate_pool_inventory():
    return render_program(estate_pools, environment="prod")


def test_karpenter_node_pools_arrive_as_the_custom_resource_type_the_rules_watch(
    estate_pool_inventory,
):
    types = {r.type for r in estate_pool_inventory.resources}
    assert NODE_POOL_TYPE in types and NODE_POOL_TYPE in gpu.KARPENTER_NODE_POOLS
    assert "aws:eks/nodeGroup:NodeGroup" in types


@pytest.mark.parametrize("rule_id", [r.id for r in (*eks.RULES, *gpu.RULES)])
def test_the_estates_gpu_pools_comply(estate_pool_inventory, rule_id):
    assert check(rule_id, estate_pool_inventory) == []


def test_the_estates_gpu_pools_are_counted_as_the_blueprint_counts_them(estate_pool_inventory):
    from policy_harness import stack_args

    args = stack_args(estate_pool_inventory)
    caps = {r.name: c.gpus for r, c in gpu.stack_gpu_caps(args.resources)}
    # 4 x g5.2xlarge (1 GPU) for the managed pool, the NodePool's limit for the Karpenter pool.
    assert caps == {"fraud-gpu-serve-a10g-node-group": 4, "fraud-gpu-train-a10g-node-pool": 8}


# -- shipped stacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
@pytest.mark.parametrize("rule_id", NEW_RULES)
def test_shipped_stacks_meet_the_compute_and_kubernetes_rules(rendered, stack, rule_id):
    assert check(rule_id, rendered(stack)) == []


# -- unknowns ---------------------------------------------------------------------------------


def test_an_unknown_pool_size_is_not_read_as_a_pass():
    def program():
        node_group("serve", ["g5.xlarge"], max_size=unknown())

    with pytest.raises(UnknownValueError):
        check("gpu-pool-size-cap", program)
    with pytest.raises(UnknownValueError):
        check("gpu-bu-gpu-cap", program)


def test_an_unknown_endpoint_flag_is_not_read_as_a_pass():
    def program():
        cluster(
            "maybe-public",
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=SUBNETS, endpoint_public_access=unknown()
            ),
        )

    with pytest.raises(UnknownValueError):
        check("eks-endpoint-not-public", program)


# -- the real pack, end to end ----------------------------------------------------------------


def bad_platform() -> None:
    """What the rules exist for: everything wrong at once, in a dev stack."""
    cluster("public", vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=SUBNETS))
    node_group(
        "ssh-nodes",
        ["m7i.large"],
        remote_access=aws.eks.NodeGroupRemoteAccessArgs(ec2_ssh_key="ops"),
    )
    node_group("train-h100", ["p5.48xlarge"], max_size=1)
    k8s.apps.v1.DaemonSet(
        "node-hacker",
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace="marketing"),
        spec=k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "node-hacker"}),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": "node-hacker"}),
                spec=k8s.core.v1.PodSpecArgs(
                    containers=[
                        k8s.core.v1.ContainerArgs(
                            name="agent",
                            image="busybox:1.36",
                            security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
                            volume_mounts=[
                                k8s.core.v1.VolumeMountArgs(name="root", mount_path="/host")
                            ],
                        )
                    ],
                    volumes=[
                        k8s.core.v1.VolumeArgs(
                            name="root", host_path=k8s.core.v1.HostPathVolumeSourceArgs(path="/")
                        )
                    ],
                ),
            ),
        ),
    )


def test_the_real_pack_blocks_a_deliberately_bad_dev_program():
    inventory = render_program(bad_platform, environment="dev")
    run = run_pack(POLICIES_DIR, inventory)
    blocking = {(f.policy, f.resource_name) for f in run.findings if f.blocking}
    expected = {
        ("eks-endpoint-not-public", "public"),
        ("eks-nodegroup-no-ssh", "ssh-nodes"),
        ("gpu-instance-type-allowed", "train-h100"),
        ("k8s-no-privileged", "node-hacker"),
        ("k8s-no-hostpath", "node-hacker"),
    }
    assert expected <= blocking, sorted(blocking)
    # The pack advertises the new rules with the dev profile's enforcement.
    enforcement = {p.name: p.enforcement for p in run.policies}
    assert enforcement["gpu-pool-nvidia-taint"] == "advisory"
    assert enforcement["k8s-no-privileged"] == "mandatory"


def test_the_pack_accepts_the_gpu_allow_list_through_policy_config():
    inventory = render_program(p5_pool, environment="dev")
    config = {"gpu-instance-type-allowed": {"allowedInstanceTypes": ["p5.48xlarge"]}}
    run = run_pack(POLICIES_DIR, inventory, policy_config=config)
    assert not [f for f in run.findings if f.policy == "gpu-instance-type-allowed"]
