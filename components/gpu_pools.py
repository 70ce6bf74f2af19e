"""GPU node pools: the GPU capacity of one BU on the shared EKS cluster of its environment.

A BU gets one node identity (`GpuNodeRole`) and any number of pools (`GpuNodePool`), each of one
GPU model. Every GPU node is labelled with its BU, pool, GPU model and capacity type, and
tainted twice: `nvidia.com/gpu=true:NoSchedule` keeps CPU-only pods off expensive nodes, and
`ai-estate/bu=<bu>:NoSchedule` keeps other BUs' pods off them (the tenant's namespace quota caps
how many GPUs a BU may request; the taint decides whose nodes those GPUs land on).

Two provisioners, chosen per pool:

- `managed`: an EKS managed node group scaled by the cluster-autoscaler (CA). It can scale to
  zero; CA then has no node to copy and must be told what a new node would look like (see
  `autoscaler_node_template_tags`).
- `karpenter`: a Karpenter v1 `NodePool` and `EC2NodeClass`. The NodePool's
  `limits["nvidia.com/gpu"]` caps how many GPUs of this model the BU can ever hold.

Both launch nodes with IMDSv2 only and a PUT hop limit of 1: workloads get AWS credentials from
EKS Pod Identity, so no pod needs the node's metadata service and none can borrow the node role.
Both encrypt every EBS volume with the BU's KMS key. Neither allows SSH: nodes are reached, if at
all, through SSM Session Manager.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import labels as keys
from . import naming
from .addons import (
    _depends_on_of,
    capacity_reservation_terms,
    karpenter_capacity_types,
)
from .gpu_catalog import gpu_model_of, instance_info, max_gpus
from .iam import managed_policy_arn_output, service_trust_policy
from .k8s_validation import label_key_problem, label_value_problem
from .options import child

# -- vocabulary -----------------------------------------------------------------------------

LABEL_BU = keys.BU
LABEL_POOL = keys.POOL
LABEL_GPU_MODEL = keys.GPU_MODEL
LABEL_CAPACITY_TYPE = keys.CAPACITY_TYPE
RESERVED_LABELS = frozenset({LABEL_BU, LABEL_POOL, LABEL_GPU_MODEL, LABEL_CAPACITY_TYPE})

GPU_RESOURCE = keys.NVIDIA_GPU
PROVISIONERS = ("managed", "karpenter")
CAPACITY_TYPES = {"spot": "SPOT", "on-demand": "ON_DEMAND"}
"""Our capacity type -> the EKS node group's `capacityType` (Karpenter takes ours verbatim)."""

AMI_TYPES = {
    # EKS managed node group AMI type -> (Karpenter alias family, kubelet data device).
    # Bottlerocket boots from a small OS volume (/dev/xvda) and keeps images, logs and pod
    # storage on a second volume (/dev/xvdb); AL2023 keeps everything on /dev/xvda.
    "AL2023_x86_64_NVIDIA": ("al2023", "/dev/xvda"),
    "BOTTLEROCKET_x86_64_NVIDIA": ("bottlerocket", "/dev/xvdb"),
}
BOTTLEROCKET_OS_VOLUME_GIB = 4
"""Size of Bottlerocket's OS volume; Karpenter's own default for the family."""

NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    # Pull-only, not ReadOnly: nodes pull images and never need to list or describe registries.
    "AmazonEC2ContainerRegistryPullOnly",
    # SSM Session Manager replaces SSH: access is IAM-authorised and logged, no key pairs.
    "AmazonSSMManagedInstanceCore",
)
"""AWS managed policies of the node role. The VPC CNI's policy is not here on purpose: the
platform grants it to the `aws-node` service account through Pod Identity, not to every node."""

NODE_ROLE_PATH = "/ai-estate/nodes/"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RESTRICTED_LABEL_DOMAINS = keys.RESTRICTED_DOMAINS
AMI_VERSION_PATTERNS = {
    # Karpenter v1 `alias: <family>@<version>` (karpenter.sh docs, "Managing AMIs"): EKS AL2023
    # AMIs are versioned by release date (`v20251120`), Bottlerocket by its release (`v1.26.2`).
    "al2023": re.compile(r"^v\d{8}$"),
    "bottlerocket": re.compile(r"^v\d+\.\d+\.\d+$"),
}
UNPINNED_AMI_ENVIRONMENTS = frozenset({"dev"})
"""Where a Karpenter pool may track `latest`: elsewhere every AMI release would drift (replace)
every node of the pool at once, untested."""
_AWS_TAG_LIMIT = 50


# -- arguments ------------------------------------------------------------------------------


class GpuPoolSpec(TypedDict):
    """One GPU pool of a BU, as the BU's stack file declares it."""

    name: str
    """Short name, unique in the BU (e.g. `train-a100`); a DNS label of at most 40 characters."""
    previous_name: NotRequired[str | None]
    """The name before a rename: the stack program aliases the pool's component from it."""
    provisioner: str
    """`managed` (EKS managed node group + cluster-autoscaler) or `karpenter`."""
    instance_types: list[str]
    """Catalog GPU instance types, all of one GPU model; spot pools list several."""
    capacity_type: str
    """`spot` or `on-demand`."""
    min_size: int
    """Smallest node count (0 scales to zero when idle). Managed pools only."""
    desired_size: int
    """Initial node count of a managed pool; the cluster-autoscaler owns it afterwards."""
    max_size: int
    """Largest node count; with the largest instance type it also sets the default GPU cap."""
    disk_gib: int
    """Size of the kubelet data volume (images, logs, emptyDir), in GiB."""
    ami_type: str
    """`AL2023_x86_64_NVIDIA` or `BOTTLEROCKET_x86_64_NVIDIA`."""
    labels: NotRequired[dict[str, str]]
    """Extra node labels; the `ai-estate/*` keys are reserved."""
    max_gpus: NotRequired[int | None]
    """GPU cap of the pool (Karpenter `limits`); default `max_size` x GPUs of the largest type."""
    capacity_reservation_ids: NotRequired[list[str]]
    """Karpenter pools: EC2 capacity reservations / Capacity Blocks (`cr-...`) to launch into;
    the pool then launches reserved capacity only."""
    ami_version: NotRequired[str]
    """Karpenter pools: the AMI alias version (`v20251120` for AL2023, `v1.26.2` for
    Bottlerocket), or `latest` (dev only). Default `latest`."""


class GpuNodeRoleArgs(TypedDict):
    """Inputs of `GpuNodeRole`."""

    business_unit: str
    environment: str
    cluster_name: pulumi.Input[str]
    """The EKS cluster the nodes join."""
    path: NotRequired[str]
    """IAM path of the role (default `/ai-estate/nodes/`); the Karpenter controller may only
    pass roles under it, so a BU cannot hand Karpenter an arbitrary role."""
    karpenter: bool
    """Create the `EC2_LINUX` access entry that lets Karpenter-launched nodes join. Managed node
    groups create their own entry for their role, so a BU without Karpenter pools needs none."""
    tags: dict[str, str]


class GpuNodePoolArgs(TypedDict):
    """Inputs of `GpuNodePool`."""

    business_unit: str
    environment: str
    cluster_name: pulumi.Input[str]
    cluster_version: pulumi.Input[str]
    """Kubernetes version of the cluster; managed node groups follow it explicitly."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets the nodes launch in."""
    node_role_arn: pulumi.Input[str]
    """From `GpuNodeRole.role_arn`."""
    node_role_name: pulumi.Input[str]
    """From `GpuNodeRole.role_name` (Karpenter's EC2NodeClass takes a role name)."""
    kms_key_arn: pulumi.Input[str]
    """The BU's key: encrypts every EBS volume of the pool's nodes."""
    security_group_ids: pulumi.Input[list[str]]
    """The cluster security group, attached by Karpenter's EC2NodeClass (managed node groups
    attach it themselves when the launch template names none)."""
    pool: GpuPoolSpec
    k8s_provider: k8s.Provider | None
    """Provider of the cluster's Kubernetes API; required for Karpenter pools."""
    gpu_slices_per_gpu: NotRequired[pulumi.Input[int | None]]
    """How many `nvidia.com/gpu` each physical GPU registers as: the platform's time-slicing
    replicas (`timeSlicingReplicas` output); None or 1 without time-slicing. Karpenter limits and
    cluster-autoscaler node templates count in this unit, as the nodes do."""
    platform_provisioners: NotRequired[pulumi.Input[list[str]] | None]
    """The platform's `gpuProvisioners` output; the pool's provisioner must be one of them
    (`provisioner_error`). None skips the check."""
    tags: dict[str, str]


# -- pure logic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Taint:
    """A node taint in Kubernetes spelling (`effect` is `NoSchedule`, not `NO_SCHEDULE`)."""

    key: str
    value: str
    effect: str = "NoSchedule"

    def eks_effect(self) -> str:
        """The EKS node group API spelling of the effect."""
        return {
            "NoSchedule": "NO_SCHEDULE",
            "NoExecute": "NO_EXECUTE",
            "PreferNoSchedule": "PREFER_NO_SCHEDULE",
        }[self.effect]


@dataclass(frozen=True)
class BlockDevice:
    """One EBS volume of a node."""

    device_name: str
    size_gib: int
    kubelet_data: bool
    """The volume kubelet and the container runtime live on (Karpenter's `rootVolume`)."""


def _check_label(key: str, value: str, where: str) -> None:
    # The same rules the config schema applies to `gpuPools[].labels` (k8s_validation).
    problem = label_key_problem(key) or label_value_problem(value)
    if problem:
        raise ValueError(f"{where}: {problem}")


def validate_pool(
    business_unit: str, environment: str, pool: GpuPoolSpec, *, has_k8s_provider: bool
) -> None:
    """Raise ValueError (one sentence naming the pool) if the pool cannot be built as declared.

    Spot rule: a managed spot pool must list at least two instance types. Its node group is one
    Auto Scaling group; with one type, a reclaimed Spot pool leaves it unable to launch anything
    until that type's capacity returns, and the cluster-autoscaler just waits. Karpenter chooses
    across types and zones per launch and falls back on its own, so a single-type Karpenter spot
    pool is allowed with a warning (see `pool_warnings`).
    """
    name = pool.get("name", "")
    where = f"GPU pool {name!r} of BU {business_unit!r}"
    if not _DNS_LABEL.match(business_unit) or len(business_unit) > 30:
        raise ValueError(
            f"{where}: the BU name must be a lower-case DNS label of at most 30 characters"
        )
    if not _DNS_LABEL.match(name) or len(name) > 40:
        raise ValueError(
            f"{where}: the pool name must be a lower-case DNS label of at most 40 characters"
        )
    if len(business_unit) + 1 + len(name) > 63:
        # `<bu>-<pool>` names the Karpenter NodePool, which Karpenter copies into a label value.
        raise ValueError(f"{where}: BU and pool names together must stay within 62 characters")
    if (
        pool.get("provisioner") == "managed"
        and len(managed_name_prefix(business_unit, environment, name)) > 37
    ):
        # EKS node group names stop at 63 characters and Pulumi appends 26 to a name prefix.
        raise ValueError(f"{where}: '<bu>-<environment>-<pool>-' must stay within 37 characters")
    if pool["provisioner"] not in PROVISIONERS:
        raise ValueError(
            f"{where}: provisioner must be 'managed' or 'karpenter' (got {pool['provisioner']!r})"
        )
    if pool["capacity_type"] not in CAPACITY_TYPES:
        raise ValueError(
            f"{where}: capacity_type must be 'spot' or 'on-demand' (got {pool['capacity_type']!r})"
        )
    if pool["ami_type"] not in AMI_TYPES:
        raise ValueError(
            f"{where}: ami_type must be one of {', '.join(AMI_TYPES)} (got {pool['ami_type']!r})"
        )
    types = list(pool["instance_types"])
    if not types:
        raise ValueError(f"{where}: instance_types is empty")
    if len(set(types)) != len(types):
        raise ValueError(f"{where}: instance_types lists a type twice")
    try:
        gpu_model_of(types)
    except KeyError as exc:
        raise ValueError(f"{where}: {exc.args[0]}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    low, desired, high = pool["min_size"], pool["desired_size"], pool["max_size"]
    if not 0 <= low <= desired <= high or high < 1:
        raise ValueError(
            f"{where}: sizes must satisfy 0 <= min_size <= desired_size <= max_size and "
            f"max_size >= 1 (got {low}/{desired}/{high})"
        )
    if pool["provisioner"] == "managed" and len({instance_info(t).gpus for t in types}) != 1:
        raise ValueError(
            f"{where}: a managed pool's instance types must have the same GPU count, because the "
            "cluster-autoscaler sizes every new node from one of them"
        )
    if pool["provisioner"] == "managed" and pool["capacity_type"] == "spot" and len(types) < 2:
        raise ValueError(
            f"{where}: a managed spot pool needs at least two instance types of its GPU model, "
            "so a Spot interruption in one type does not strand the node group"
        )
    if not 20 <= pool["disk_gib"] <= 16384:
        raise ValueError(f"{where}: disk_gib must be between 20 and 16384 (got {pool['disk_gib']})")
    cap = pool.get("max_gpus")
    if cap is not None:
        ceiling = max_gpus(types, high)
        if cap < 1:
            raise ValueError(f"{where}: max_gpus must be at least 1 (got {cap})")
        if pool["provisioner"] == "managed" and cap < ceiling:
            raise ValueError(
                f"{where}: a managed pool is capped by max_size only ({ceiling} GPUs); lower "
                f"max_size instead of setting max_gpus={cap}"
            )
    for key, value in (pool.get("labels") or {}).items():
        if key in RESERVED_LABELS:
            raise ValueError(f"{where}: label {key!r} is set by AI Estate and cannot be overridden")
        _check_label(key, value, where)
    if pool["provisioner"] == "karpenter" and not has_k8s_provider:
        raise ValueError(f"{where}: a karpenter pool needs k8s_provider to create its NodePool")
    ami_problem = ami_version_error(pool, environment)
    if ami_problem:
        raise ValueError(f"{where}: {ami_problem}")


def ami_version_error(pool: Mapping[str, Any], environment: str) -> str | None:
    """Why a pool's Karpenter AMI version cannot be used in `environment`, or None.

    `latest` follows every EKS AMI release: Karpenter sees the EC2NodeClass's resolved AMI change
    and drifts (replaces) every node of the pool, untested, on AWS's schedule. Allowed in dev,
    where that is how new AMIs get tried; refused elsewhere. Managed node groups take no alias.
    """
    if pool.get("provisioner") != "karpenter":
        return None
    version = str(pool.get("ami_version") or "latest")
    family = AMI_TYPES.get(str(pool.get("ami_type")), ("al2023", ""))[0]
    if version == "latest":
        if environment in UNPINNED_AMI_ENVIRONMENTS:
            return None
        example = "v20251120" if family == "al2023" else "v1.26.2"
        return (
            f"amiVersion 'latest' is allowed in dev only; pin the {family} AMI release in "
            f"{environment} (e.g. amiVersion: {example}) so nodes roll when the stack says so"
        )
    pattern = AMI_VERSION_PATTERNS.get(family)
    if pattern is not None and not pattern.match(version):
        shape = "vYYYYMMDD" if family == "al2023" else "vMAJOR.MINOR.PATCH"
        return f"amiVersion {version!r} is not a {family} AMI release ({shape}) or 'latest'"
    return None


def provisioner_error(pool: Mapping[str, Any], platform_provisioners: Sequence[str]) -> str | None:
    """Why a BU pool cannot run on a platform with `platform_provisioners`, or None.

    A `managed` pool on a platform without the cluster-autoscaler (or a `karpenter` pool on one
    without Karpenter) deploys fine and never scales: nothing watches it. That is a config
    error, found where the BU's platform outputs (`gpuProvisioners`) are known.
    """
    provisioner = str(pool.get("provisioner"))
    if provisioner in platform_provisioners:
        return None
    offered = ", ".join(platform_provisioners) or "none"
    return (
        f"provisioner {provisioner!r} is not installed on the platform (its gpuProvisioners: "
        f"{offered}); a {provisioner} pool there would never scale"
    )


def slices_factor(replicas: int | float | None) -> int:
    """What one physical GPU registers as in `nvidia.com/gpu`: time-slicing replicas, else 1.

    Stack outputs carry numbers as JSON, so `4.0` arrives for 4.
    """
    if replicas is None:
        return 1
    if int(replicas) != replicas or replicas < 1:
        raise ValueError(f"time-slicing replicas must be a whole number >= 1 (got {replicas!r})")
    return int(replicas)


def gpu_units(
    physical_gpus: int, slices_per_gpu: pulumi.Input[int | None] | None = None
) -> pulumi.Input[int]:
    """`physical_gpus` counted in the cluster's `nvidia.com/gpu` unit (slices when time-sliced).

    The one conversion every cap goes through: the namespace quota, the Karpenter NodePool limit,
    the cluster-autoscaler node template and the at-max alarm all count what nodes advertise,
    so with 4 replicas a pool of 4 T4s is capped at 16, not at the 4 one node already registers.
    Plain in, plain out; an Output (a platform stack output) in, an Output out.
    """
    if isinstance(slices_per_gpu, pulumi.Output):
        return slices_per_gpu.apply(lambda r: physical_gpus * slices_factor(r))
    return physical_gpus * slices_factor(slices_per_gpu)  # type: ignore[arg-type]


def managed_name_prefix(business_unit: str, environment: str, pool_name: str) -> str:
    """Name prefix of a managed pool's node group and launch template (`fraud-prod-train-`)."""
    return f"{naming.prefix(business_unit, environment)}-{pool_name}-"


def pool_warnings(pool: GpuPoolSpec) -> list[str]:
    """Advice that does not block the pool. The stack program logs it as Pulumi warnings naming
    the stack file and key (`estate.stack.config.stack_warnings`); `estate check` reports them
    as advisory findings."""
    warnings = []
    if pool["capacity_type"] == "spot" and len(pool["instance_types"]) < 2:
        warnings.append(
            f"GPU pool {pool['name']!r} is a spot pool with one instance type; Spot interruptions "
            "can leave it without capacity until that type returns"
        )
    return warnings


def effective_max_gpus(pool: GpuPoolSpec) -> int:
    """The most GPUs the pool may hold.

    Karpenter pools: `max_gpus` when given (it becomes the NodePool limit), else `max_size` nodes
    of the largest type. Managed pools: what `max_size` allows, since nothing else caps them.
    """
    ceiling = max_gpus(pool["instance_types"], pool["max_size"])
    cap = pool.get("max_gpus")
    if cap is None:
        return ceiling
    return min(cap, ceiling) if pool["provisioner"] == "managed" else cap


def node_labels(business_unit: str, pool: GpuPoolSpec) -> dict[str, str]:
    """The labels every node of the pool carries (spec labels first, ours win)."""
    return {
        **(pool.get("labels") or {}),
        LABEL_BU: business_unit,
        LABEL_POOL: pool["name"],
        LABEL_GPU_MODEL: gpu_model_of(pool["instance_types"]),
        LABEL_CAPACITY_TYPE: pool["capacity_type"],
        # What the NVIDIA device plugin and DCGM exporter select GPU nodes by (addons.py).
        **keys.GPU_NODE_LABEL,
    }


def node_taints(business_unit: str) -> list[Taint]:
    """The taints of every GPU node of a BU: GPU-only, and this BU only."""
    return [Taint(GPU_RESOURCE, "true"), Taint(LABEL_BU, business_unit)]


def gpus_per_node(instance_types: Sequence[str]) -> int:
    """GPUs a new node surely brings: the fewest among the types (managed pools have one)."""
    return min(instance_info(t).gpus for t in instance_types)


def autoscaler_node_template_tags(
    labels: Mapping[str, str], taints: Sequence[Taint], gpus: int
) -> dict[str, str]:
    """The `k8s.io/cluster-autoscaler/node-template/*` tags (`gpus` in registered units) that describe a node not yet running.

    With zero nodes CA cannot copy a live node, so it builds a template from the Auto Scaling
    group's tags; without the taint tags it would think untainted nodes could come up and scale
    the wrong group, and without the GPU resource it could not tell a GPU pod fits.
    """
    tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
    tags.update(
        {
            f"k8s.io/cluster-autoscaler/node-template/taint/{t.key}": f"{t.value}:{t.effect}"
            for t in taints
        }
    )
    tags[GPU_TEMPLATE_TAG] = str(gpus)
    return tags


GPU_TEMPLATE_TAG = f"k8s.io/cluster-autoscaler/node-template/resources/{GPU_RESOURCE}"
"""The node-template tag telling cluster-autoscaler how many `nvidia.com/gpu` a new node of a
scaled-to-zero group registers: physical GPUs x time-slicing replicas."""


def autoscaler_tags(
    cluster_name: str, labels: Mapping[str, str], taints: Sequence[Taint], gpus: int
) -> dict[str, str]:
    """CA's auto-discovery tags plus the node-template tags, as the node group carries them."""
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        **autoscaler_node_template_tags(labels, taints, gpus),
    }


def block_devices(ami_type: str, disk_gib: int) -> list[BlockDevice]:
    """The EBS volumes a node of `ami_type` needs, all of which we encrypt.

    Bottlerocket's OS volume is listed too: left to the AMI's own mapping it would come from an
    unencrypted snapshot unless the account happens to encrypt EBS by default.
    """
    _family, data_device = AMI_TYPES[ami_type]
    devices = []
    if data_device != "/dev/xvda":
        devices.append(BlockDevice("/dev/xvda", BOTTLEROCKET_OS_VOLUME_GIB, kubelet_data=False))
    devices.append(BlockDevice(data_device, disk_gib, kubelet_data=True))
    return devices


def karpenter_ami_alias(ami_type: str, version: str = "latest") -> str:
    """The EC2NodeClass `amiSelectorTerms[].alias` for an EKS AMI type (`al2023@latest`)."""
    return f"{AMI_TYPES[ami_type][0]}@{version}"


def ec2_node_class_spec(
    *,
    ami_type: str,
    ami_version: str,
    role_name: str,
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    kms_key_arn: str,
    disk_gib: int,
    tags: Mapping[str, str],
    capacity_reservation_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """The `spec` of a Karpenter v1 `EC2NodeClass` (karpenter.k8s.aws/v1)."""
    reservations = (
        {
            "capacityReservationSelectorTerms": capacity_reservation_terms(
                list(capacity_reservation_ids)
            )
        }
        if capacity_reservation_ids
        else {}
    )
    return {
        **reservations,
        # An alias both selects the EKS-optimised GPU AMI for the cluster version and implies the
        # AMI family, so `amiFamily` is left out (the CRD only allows the matching family).
        "amiSelectorTerms": [{"alias": karpenter_ami_alias(ami_type, ami_version)}],
        "role": role_name,
        "subnetSelectorTerms": [{"id": s} for s in subnet_ids],
        "securityGroupSelectorTerms": [{"id": g} for g in security_group_ids],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": d.device_name,
                "rootVolume": d.kubelet_data,
                "ebs": {
                    "volumeSize": f"{d.size_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": kms_key_arn,
                    "deleteOnTermination": True,
                },
            }
            for d in block_devices(ami_type, disk_gib)
        ],
        "tags": dict(tags),
    }


def node_pool_spec(
    *,
    node_class_name: str,
    instance_types: Sequence[str],
    capacity_type: str,
    labels: Mapping[str, str],
    taints: Sequence[Taint],
    gpu_limit: pulumi.Input[int],
    capacity_reservation_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """The `spec` of a Karpenter v1 `NodePool` (karpenter.sh/v1).

    `gpu_limit` is in the unit nodes register `nvidia.com/gpu` in (`gpu_units`): Karpenter sums
    its nodes' registered capacity against it. Karpenter itself does not know about time-slicing
    (kubernetes-sigs/karpenter#729, #2140): it sizes a new node for pending pods from the
    instance type's physical GPU count, so a burst of slice-sized pods can launch more nodes than
    they need before the first registers; consolidation removes the empty ones afterwards.
    """
    return {
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": node_class_name,
                },
                "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints],
                "requirements": [
                    {
                        "key": keys.INSTANCE_TYPE,
                        "operator": "In",
                        "values": list(instance_types),
                    },
                    {
                        "key": keys.KARPENTER_CAPACITY_TYPE,
                        "operator": "In",
                        "values": karpenter_capacity_types(
                            capacity_type, list(capacity_reservation_ids)
                        ),
                    },
                    # The AMI types are x86_64 builds; say so rather than rely on the catalog.
                    {"key": keys.ARCH, "operator": "In", "values": ["amd64"]},
                ],
                # Nodes are replaced monthly so AMI and driver fixes reach long-lived pools.
                "expireAfter": "720h",
            },
        },
        # The per-BU, per-model cap: Karpenter launches nothing that would exceed it.
        "limits": {GPU_RESOURCE: gpu_limit},
        "disruption": {
            # Idle GPUs are the largest waste in the estate. Training pods that must not be moved
            # carry the `karpenter.sh/do-not-disrupt: "true"` annotation.
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": "10m",
            "budgets": [{"nodes": "10%"}],
        },
    }


# -- components -----------------------------------------------------------------------------


class GpuNodeRole(pulumi.ComponentResource):
    """The IAM identity of one BU's GPU nodes, shared by all its pools."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: GpuNodeRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:GpuNodeRole", name, None, opts)
        bu, env = args["business_unit"], args["environment"]
        role_name = f"{naming.prefix(bu, env)}-gpu-node"
        if len(role_name) > 64:
            raise ValueError(f"GPU node role name {role_name!r} is longer than IAM's 64 characters")
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        role = aws.iam.Role(
            f"{name}-role",
            # A fixed name: the Karpenter controller and audit trails refer to it by name.
            name=role_name,
            path=args.get("path", NODE_ROLE_PATH),
            # No aws:SourceAccount condition: EC2 does not send it when an instance assumes it.
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            description=f"GPU nodes of BU {bu} in {env}",
            tags=args["tags"],
            opts=child(self),
        )
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}",
                role=role.name,
                policy_arn=managed_policy_arn_output(partition, policy),
                opts=child(self),
            )
        if args["karpenter"]:
            aws.eks.AccessEntry(
                f"{name}-access-entry",
                cluster_name=args["cluster_name"],
                principal_arn=role.arn,
                # EKS puts EC2_LINUX principals in system:nodes itself; no groups may be given.
                type="EC2_LINUX",
                tags=args["tags"],
                opts=child(self),
            )
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"roleArn": self.role_arn, "roleName": self.role_name})


class GpuNodePool(pulumi.ComponentResource):
    """One GPU pool of a BU: a managed node group or a Karpenter NodePool (see module docstring)."""

    node_group_name: pulumi.Output[str] | None
    """The EKS node group's name (managed pools)."""
    node_pool_name: pulumi.Output[str] | None
    """The Karpenter NodePool's name (karpenter pools)."""
    labels: dict[str, str]
    """Labels every node carries; workloads select the pool with them."""
    taints: list[dict[str, str]]
    """Taints every node carries (`key`, `value`, `effect`); workloads must tolerate them."""
    max_gpus: int
    gpu_model: str

    def __init__(
        self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:GpuNodePool", name, None, opts)
        # Nodes and node classes wait for what the pool waits for (the node role's access
        # entry among them) themselves: a component's dependencies do not reach its children,
        # and on delete the entry must outlive the nodes that use it.
        self._after = _depends_on_of(opts)
        bu, pool = args["business_unit"], args["pool"]
        validate_pool(
            bu, args["environment"], pool, has_k8s_provider=args.get("k8s_provider") is not None
        )

        taints = node_taints(bu)
        self.labels = node_labels(bu, pool)
        self.taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints]
        self.gpu_model = self.labels[LABEL_GPU_MODEL]
        self.max_gpus = effective_max_gpus(pool)
        tags = {**args["tags"], keys.POOL: pool["name"]}
        self.node_group_name = None
        self.node_pool_name = None

        if pool["provisioner"] == "managed":
            self.node_group_name = self._managed(name, args, taints, tags)
        else:
            self.node_pool_name = self._karpenter(name, args, taints, tags)

        provisioner_checked: pulumi.Input[str] | None = None
        offered = args.get("platform_provisioners")
        if offered is not None:
            provisioner_checked = pulumi.Output.from_input(offered).apply(
                lambda p: _require_provisioner(bu, pool, list(p or []))
            )
        self.register_outputs(
            {
                # Registered so the platform check's error fails the deployment.
                "provisioner": provisioner_checked,
                "nodeGroupName": self.node_group_name,
                "nodePoolName": self.node_pool_name,
                "labels": self.labels,
                "taints": self.taints,
                "maxGpus": self.max_gpus,
                "gpuModel": self.gpu_model,
            }
        )

    def _managed(
        self, name: str, args: GpuNodePoolArgs, taints: list[Taint], tags: dict[str, str]
    ) -> pulumi.Output[str]:
        bu, env, pool = args["business_unit"], args["environment"], args["pool"]
        prefix = managed_name_prefix(bu, env, pool["name"])
        gpus = gpus_per_node(pool["instance_types"])
        # What a new node registers as `nvidia.com/gpu`: slices when the platform time-slices.
        units = pulumi.Output.from_input(gpu_units(gpus, args.get("gpu_slices_per_gpu")))
        # Keys (and the tag count) do not depend on the unit; values are set from `units`.
        template_tags = autoscaler_node_template_tags(self.labels, taints, gpus)
        # AWS allows 50 tags per node group; the CA tags below must fit beside the ownership tags.
        if len(tags) + len(template_tags) + 2 > _AWS_TAG_LIMIT:
            count = len(tags) + len(template_tags) + 2
            raise ValueError(
                f"GPU pool {pool['name']!r} of BU {bu!r}: {count} node group tags exceed AWS's "
                f"{_AWS_TAG_LIMIT}; drop some extra labels"
            )

        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name_prefix=prefix,
            description=f"GPU pool {pool['name']} of BU {bu} in {env}",
            # Pods use EKS Pod Identity, so none needs IMDS: tokens required, one hop (the node).
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=d.device_name,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=d.size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args["kms_key_arn"],
                        delete_on_termination="true",
                    ),
                )
                for d in block_devices(pool["ami_type"], pool["disk_gib"])
            ],
            # Node group tags stop at the node group; instances and volumes get theirs from here,
            # which is what cost allocation and the ownership policy read.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            tags=tags,
            opts=child(self),
        )

        node_group_tags = pulumi.Output.all(args["cluster_name"], units).apply(
            lambda v: {**tags, **autoscaler_tags(v[0], self.labels, taints, v[1])}
        )
        node_group = aws.eks.NodeGroup(
            f"{name}-node-group",
            cluster_name=args["cluster_name"],
            # A prefix, not a name: instance type, capacity type and AMI type changes replace the
            # group, and a replacement is created before the old one is deleted.
            node_group_name_prefix=prefix,
            version=args["cluster_version"],
            node_role_arn=args["node_role_arn"],
            subnet_ids=args["subnet_ids"],
            ami_type=pool["ami_type"],
            capacity_type=CAPACITY_TYPES[pool["capacity_type"]],
            instance_types=list(pool["instance_types"]),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool["min_size"],
                desired_size=pool["desired_size"],
                max_size=pool["max_size"],
            ),
            labels=self.labels,
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=t.eks_effect())
                for t in taints
            ],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id,
                # The number, not "$Latest": EKS stores numbers, so "$Latest" would show a diff on
                # every preview (pulumi-aws docs). A new template version rolls the nodes.
                version=launch_template.latest_version.apply(
                    lambda v: None if v is None else str(v)
                ),
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            # No remote_access: no SSH keys on GPU nodes (SSM Session Manager instead).
            tags=node_group_tags,
            # The cluster-autoscaler owns desired_size once the group exists.
            opts=child(self, depends_on=self._after, ignore_changes=["scalingConfig.desiredSize"]),
        )

        # How CA learns what a node of a scaled-to-zero group looks like:
        # - EKS tags the group's Auto Scaling group with CA's auto-discovery keys
        #   (`k8s.io/cluster-autoscaler/enabled`, `.../<cluster>`) and `eks:nodegroup-name`.
        # - For an ASG carrying `eks:nodegroup-name`, CA's AWS provider (since 1.24) calls
        #   eks:DescribeNodegroup and adds the group's labels and taints to its node template. It
        #   needs eks:DescribeNodegroup in CA's IAM policy and falls back to ASG tags without it.
        # - EKS does NOT copy node group tags to the ASG (aws/containers-roadmap#608), and every CA
        #   release reads node-template tags from the ASG, which is also the only place an explicit
        #   GPU count (`resources/nvidia.com/gpu`) is read from besides CA's instance-type table.
        #   So the node-template tags are written onto the ASG itself, and the copies on the node
        #   group are a record of intent (newer CA releases read those too).
        asg_name = node_group.resources.apply(_first_autoscaling_group_name)
        for key, value in sorted(template_tags.items()):
            # Named after the tag key, so adding a label never renames another tag's resource.
            suffix = key.removeprefix("k8s.io/cluster-autoscaler/node-template/").replace("/", "-")
            aws.autoscaling.Tag(
                f"{name}-asg-{suffix}",
                autoscaling_group_name=asg_name,
                # Nodes get labels and taints from the node group; the tag is for CA alone.
                tag=aws.autoscaling.TagTagArgs(
                    key=key,
                    value=units.apply(str) if key == GPU_TEMPLATE_TAG else value,
                    propagate_at_launch=False,
                ),
                opts=child(self),
            )
        return node_group.node_group_name

    def _karpenter(
        self, name: str, args: GpuNodePoolArgs, taints: list[Taint], tags: dict[str, str]
    ) -> pulumi.Output[str]:
        bu, pool = args["business_unit"], args["pool"]
        provider = args["k8s_provider"]
        # Cluster-scoped objects: the BU prefix keeps two BUs' `train-a100` pools apart.
        object_name = f"{bu}-{pool['name']}"
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=object_name,
            labels={
                LABEL_BU: bu,
                LABEL_POOL: pool["name"],
                keys.MANAGED_BY: "pulumi",
            },
        )
        node_class_spec = pulumi.Output.all(
            args["node_role_name"],
            args["subnet_ids"],
            args["security_group_ids"],
            args["kms_key_arn"],
        ).apply(
            lambda v: ec2_node_class_spec(
                ami_type=pool["ami_type"],
                ami_version=pool.get("ami_version") or "latest",
                role_name=v[0],
                subnet_ids=v[1],
                security_group_ids=v[2],
                kms_key_arn=v[3],
                disk_gib=pool["disk_gib"],
                tags=tags,
                capacity_reservation_ids=pool.get("capacity_reservation_ids", []),
            )
        )
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata=metadata,
            spec=node_class_spec,
            opts=child(self, provider=provider, depends_on=self._after),
        )
        slices = pulumi.Output.from_input(args.get("gpu_slices_per_gpu"))
        node_pool = k8s.apiextensions.CustomResource(
            f"{name}-node-pool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=object_name,
                labels=metadata.labels,
                # Says what unit `limits` counts in, for readers and for the policy pack.
                annotations={
                    keys.GPU_SLICES_PER_GPU: slices.apply(lambda r: str(slices_factor(r)))
                },
            ),
            spec=node_pool_spec(
                node_class_name=object_name,
                instance_types=pool["instance_types"],
                capacity_type=pool["capacity_type"],
                labels=self.labels,
                taints=taints,
                gpu_limit=gpu_units(self.max_gpus, args.get("gpu_slices_per_gpu")),
                capacity_reservation_ids=pool.get("capacity_reservation_ids", []),
            ),
            opts=child(self, provider=provider, depends_on=[node_class]),
        )
        return node_pool.metadata.apply(lambda _: object_name)


def _first_autoscaling_group_name(resources: Any) -> str | None:
    """The ASG name in a node group's `resources` output (None until EKS reports one)."""
    for resource in resources or []:
        for group in getattr(resource, "autoscaling_groups", None) or []:
            if getattr(group, "name", None):
                return group.name
    return None


def _require_provisioner(business_unit: str, pool: GpuPoolSpec, offered: list[str]) -> str:
    problem = provisioner_error(pool, offered)
    if problem:
        raise ValueError(f"GPU pool {pool['name']!r} of BU {business_unit!r}: {problem}")
    return pool["provisioner"]
