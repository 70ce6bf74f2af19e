"""What runs inside the EKS cluster on top of EKS's own managed add-ons: the GPU scaling
machinery (Cluster Autoscaler for managed node groups, Karpenter), the NVIDIA GPU software
(device plugin + DCGM exporter, or the GPU Operator), and the admission policy that keeps one
BU's pods off another BU's GPU nodes.

Helm charts are pinned (repository, chart, version, and where and when each version was seen
published) in `components/charts.yaml`, so an upgrade is a one-line, reviewable change that the
deploy workflow resolves against the live repositories before `pulumi up`. Every value key handed
to a chart is one the pinned version's `values.yaml` has (tests/vendor/charts holds them): a
misspelt key is silently ignored by Helm, which is why the builders are plain functions with
their own tests.

The components read nothing global: the stack program (through `EksCluster`) hands them the
cluster name, the Kubernetes provider, and the versions.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml
from pulumi_kubernetes.admissionregistration import v1 as admission
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from .charts import ChartPin, chart
from .iam import account_region_partition, minified_policy_json, pod_identity_trust_policy
from .options import child

# -- pinned charts --------------------------------------------------------------------------


# Repository, chart and version live in charts.yaml (with where and when each was verified);
# these names are what the builders below and the tests refer to.
#: kubernetes/autoscaler charts/cluster-autoscaler. The image tag is set per cluster version
#: below, because the autoscaler simulates the scheduler of its own minor version.
CLUSTER_AUTOSCALER_CHART = chart("cluster-autoscaler")
#: aws/karpenter-provider-aws charts/karpenter, an OCI artifact on ECR Public.
KARPENTER_CHART = chart("karpenter")
#: aws/karpenter-provider-aws charts/karpenter-crd: the CRDs as templates, so they upgrade (Helm
#: never upgrades a chart's `crds/` directory), at the controller's version.
KARPENTER_CRD_CHART = chart("karpenter-crd")
#: NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin.
DEVICE_PLUGIN_CHART = chart("nvidia-device-plugin")
#: NVIDIA/dcgm-exporter deployment/. Stay below 4.9.0: it renames metrics and changes the
#: values format.
DCGM_EXPORTER_CHART = chart("dcgm-exporter")
#: NVIDIA GPU Operator deployments/gpu-operator.
GPU_OPERATOR_CHART = chart("gpu-operator")

#: Cluster Autoscaler image per Kubernetes minor version (the autoscaler must match the
#: control plane's minor version; the chart's default image follows the newest Kubernetes).
CLUSTER_AUTOSCALER_IMAGE_TAGS = {
    "1.29": "v1.29.5",
    "1.30": "v1.30.6",
    "1.31": "v1.31.4",
    "1.32": "v1.32.3",
    "1.33": "v1.33.1",
    "1.34": "v1.34.0",
    # kubernetes/autoscaler tags cluster-autoscaler-1.35.2 and -1.36.1 (read 2026-12-03).
    "1.35": "v1.35.2",
    "1.36": "v1.36.1",
}

# -- labels, taints and names other components rely on ---------------------------------------

#: The taint (and label) key every BU GPU node carries: `ai-estate/bu=<bu>:NoSchedule`.
BU_TAINT_KEY = "ai-estate/bu"
#: The label GPU node pools set so the NVIDIA daemons find their nodes without NFD.
GPU_NODE_LABEL = {"ai-estate/accelerator": "nvidia"}
#: The resource NVIDIA GPUs are advertised as, and the taint GPU nodes commonly carry.
NVIDIA_GPU = "nvidia.com/gpu"
#: The system pool's taint: only cluster add-ons run there, never BU workloads. The key is the
#: one Kubernetes add-ons (CoreDNS, the EBS CSI controller, Karpenter) already tolerate.
SYSTEM_POOL_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}
#: How an add-on tolerates it (`Exists`, as the upstream charts write it).
SYSTEM_POOL_TOLERATION = {"key": "CriticalAddonsOnly", "operator": "Exists"}

GPU_SOFTWARE_MODES = ("device-plugin", "gpu-operator")
MIG_STRATEGIES = ("none", "single", "mixed")

KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
CLUSTER_AUTOSCALER_NAMESPACE = "kube-system"
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
GPU_OPERATOR_NAMESPACE = "gpu-operator"
TIME_SLICING_CONFIG_MAP = "time-slicing-config"

#: The four event kinds Karpenter drains a node ahead of (name suffix -> EventBridge pattern).
KARPENTER_INTERRUPTION_EVENTS: dict[str, dict[str, list[str]]] = {
    "spot-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    },
    "rebalance": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance Rebalance Recommendation"],
    },
    "instance-state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}


# -- pure functions: IAM -------------------------------------------------------------------------


def cluster_autoscaler_policy(partition: str, region: str, account_id: str, cluster: str) -> str:
    """What Cluster Autoscaler may do: read groups and instance types anywhere (the APIs do not
    support resource scoping), but resize or terminate only this cluster's node groups."""
    return minified_policy_json(
        [
            {
                "Sid": "ScaleOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"
                    }
                },
            },
            {
                "Sid": "DiscoverGroupsAndInstanceTypes",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                # Scale-from-zero: the labels and taints of an empty group come from EKS.
                "Sid": "ReadThisClustersNodegroups",
                "Effect": "Allow",
                "Action": "eks:DescribeNodegroup",
                "Resource": f"arn:{partition}:eks:{region}:{account_id}:nodegroup/{cluster}/*",
            },
        ]
    )


def karpenter_controller_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    cluster: str,
    queue_arn: str,
    node_role_path: str,
    queue_key_arn: str | None = None,
) -> str:
    """The Karpenter v1 controller policy (the upstream CloudFormation reference), with one
    change: it may pass only roles under `node_role_path`, so a BU can never get Karpenter to
    launch nodes with a role that was not made for nodes."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = f"kubernetes.io/cluster/{cluster}"
    launched = [
        f"{ec2}:*:fleet/*",
        f"{ec2}:*:instance/*",
        f"{ec2}:*:volume/*",
        f"{ec2}:*:network-interface/*",
        f"{ec2}:*:launch-template/*",
        f"{ec2}:*:spot-instances-request/*",
    ]
    profiles = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    path = "/" + node_role_path.strip("/") + "/"
    return minified_policy_json(
        [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    f"{ec2}::image/*",
                    f"{ec2}::snapshot/*",
                    f"{ec2}:*:security-group/*",
                    f"{ec2}:*:subnet/*",
                    f"{ec2}:*:capacity-reservation/*",
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": f"{ec2}:*:launch-template/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                # Capacity reservations and capacity blocks (`karpenter.sh/capacity-type:
                # reserved`) are named in the launch request, as upstream v1.8 allows.
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": [*launched, f"{ec2}:*:capacity-reservation/*"],
                "Condition": {
                    "StringEquals": {
                        f"aws:RequestTag/{owned}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": cluster,
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": launched,
                "Condition": {
                    "StringEquals": {
                        f"aws:RequestTag/{owned}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": cluster,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:*:instance/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeInstances",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                # The public EKS AMI ids are SSM parameters under /aws/service/.
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Action": "pricing:GetProducts",
                "Resource": "*",
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": [
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                ],
                "Resource": queue_arn,
            },
            {
                # GPU nodes' EBS volumes are encrypted with their BU's key: EC2 uses it on the
                # caller's behalf when Karpenter launches them, through a grant. Scoped to the
                # estate's keys (tagged ManagedBy=ai-estate) and to EC2.
                "Sid": "AllowEncryptedNodeVolumes",
                "Effect": "Allow",
                "Action": [
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                "Resource": f"arn:{partition}:kms:{region}:{account_id}:key/*",
                "Condition": {
                    "StringEquals": {
                        "aws:ResourceTag/ManagedBy": "ai-estate",
                        "kms:ViaService": f"ec2.{region}.amazonaws.com",
                    }
                },
            },
            *(
                [
                    {
                        # Reading from a KMS-encrypted queue decrypts with its key.
                        "Sid": "AllowInterruptionQueueDecrypt",
                        "Effect": "Allow",
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": queue_key_arn,
                    }
                ]
                if queue_key_arn
                else []
            ),
            {
                "Sid": "AllowPassingNodeRolesOnly",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:{partition}:iam::{account_id}:role{path}*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Action": "iam:CreateInstanceProfile",
                "Resource": profiles,
                "Condition": {
                    "StringEquals": {
                        f"aws:RequestTag/{owned}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": cluster,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Action": "iam:TagInstanceProfile",
                "Resource": profiles,
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/{owned}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": region,
                        f"aws:RequestTag/{owned}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": cluster,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:DeleteInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                ],
                "Resource": profiles,
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/{owned}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": profiles,
            },
            {
                # Instance-profile garbage collection lists profiles; List has no resource scope.
                "Sid": "AllowUnscopedInstanceProfileListAction",
                "Effect": "Allow",
                "Action": "iam:ListInstanceProfiles",
                "Resource": "*",
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster}",
            },
        ]
    )


def interruption_queue_policy(queue_arn: str) -> str:
    """Who may write to the interruption queue: EventBridge (and SQS itself); nobody over
    plain HTTP."""
    return minified_policy_json(
        [
            {
                "Sid": "EventBridgeWrites",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    )


# -- pure functions: chart values ----------------------------------------------------------------


def cluster_autoscaler_image_tag(kubernetes_version: str) -> str:
    """The autoscaler image for a cluster version; unknown versions are a config error."""
    minor = ".".join(kubernetes_version.split(".")[:2])
    if minor not in CLUSTER_AUTOSCALER_IMAGE_TAGS:
        raise ValueError(
            f"no Cluster Autoscaler image is pinned for Kubernetes {kubernetes_version}; "
            f"supported: {', '.join(sorted(CLUSTER_AUTOSCALER_IMAGE_TAGS))}"
        )
    return CLUSTER_AUTOSCALER_IMAGE_TAGS[minor]


def cluster_autoscaler_values(
    cluster: str, region: str, kubernetes_version: str, node_selector: dict[str, str]
) -> dict[str, Any]:
    """Values for the cluster-autoscaler chart: auto-discovery by the tags EKS puts on managed
    node group ASGs, balanced GPU groups, and least-waste expansion (the cheapest fit wins)."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,  # IMDS is unreachable from pods (hop limit 1): region comes from here
        "autoDiscovery": {"clusterName": cluster},
        "image": {"tag": cluster_autoscaler_image_tag(kubernetes_version)},
        "rbac": {"serviceAccount": {"name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT}},
        "extraArgs": {
            # Zonal GPU groups of the same shape scale together instead of piling into one AZ.
            "balance-similar-node-groups": True,
            # DaemonSets (device plugin, DCGM) run on every GPU node; they must not pin it.
            "skip-nodes-with-system-pods": False,
            "expander": "least-waste",
        },
        "nodeSelector": node_selector,
        "tolerations": [SYSTEM_POOL_TOLERATION],
        "resources": {
            "requests": {"cpu": "100m", "memory": "300Mi"},
            "limits": {"memory": "600Mi"},
        },
    }


def karpenter_values(
    cluster: str, queue_name: str, region: str, replicas: int, node_selector: dict[str, str]
) -> dict[str, Any]:
    """Values for the Karpenter chart: interruption handling on, on the system nodes (Karpenter
    must never run on capacity it manages), with the region set because IMDS is closed to pods."""
    return {
        "settings": {"clusterName": cluster, "interruptionQueue": queue_name},
        "serviceAccount": {"name": KARPENTER_SERVICE_ACCOUNT},
        "replicas": replicas,
        "nodeSelector": {"kubernetes.io/os": "linux", **node_selector},
        # The chart's default, written out: the system pool is tainted for add-ons only.
        "tolerations": [SYSTEM_POOL_TOLERATION],
        "controller": {
            "env": [{"name": "AWS_REGION", "value": region}],
            "resources": {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
        },
    }


def gpu_node_affinity() -> dict[str, Any]:
    """Schedule NVIDIA daemons on GPU nodes only: nodes a pool labelled, nodes Karpenter knows
    have NVIDIA GPUs, or nodes NFD/GFD detected (terms are ORed)."""
    [(label, value)] = GPU_NODE_LABEL.items()
    terms = [
        (label, value),
        ("karpenter.k8s.aws/instance-gpu-manufacturer", "nvidia"),
        ("nvidia.com/gpu.present", "true"),
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": key, "operator": "In", "values": [val]}]}
                    for key, val in terms
                ]
            }
        }
    }


def gpu_node_tolerations() -> list[dict[str, str]]:
    """GPU nodes are tainted for their BU and for GPUs; node daemons must run on all of them."""
    return [
        {"key": NVIDIA_GPU, "operator": "Exists", "effect": "NoSchedule"},
        {"key": BU_TAINT_KEY, "operator": "Exists"},
    ]


def time_slicing_config(replicas: int, mig_strategy: str = "none") -> str:
    """A device-plugin config (YAML) that advertises each GPU as `replicas` shareable GPUs."""
    return yaml.safe_dump(
        {
            "version": "v1",
            "flags": {"migStrategy": mig_strategy},
            "sharing": {"timeSlicing": {"resources": [{"name": NVIDIA_GPU, "replicas": replicas}]}},
        },
        sort_keys=False,
    )


def device_plugin_values(time_slicing_replicas: int | None) -> dict[str, Any]:
    """Values for the nvidia-device-plugin chart."""
    values: dict[str, Any] = {
        "affinity": gpu_node_affinity(),
        "tolerations": gpu_node_tolerations(),
    }
    if time_slicing_replicas:
        values["config"] = {
            "map": {"default": time_slicing_config(time_slicing_replicas)},
            "default": "default",
        }
    return values


def dcgm_exporter_values() -> dict[str, Any]:
    """Values for the dcgm-exporter chart: the ServiceMonitor needs the Prometheus Operator CRDs,
    which the cluster monitoring stack installs, so it stays off here."""
    return {
        "affinity": gpu_node_affinity(),
        "tolerations": gpu_node_tolerations(),
        "serviceMonitor": {"enabled": False},
    }


def gpu_operator_values(
    mig_strategy: str,
    time_slicing_replicas: int | None,
    node_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Values for the GPU Operator on EKS NVIDIA AMIs, which already carry the driver and the
    container toolkit: the operator adds the device plugin, DCGM, GFD and MIG management. Its
    own Deployments (the operator, NFD's master and garbage collector) run on the system pool;
    its DaemonSets on GPU nodes."""
    tolerations = gpu_node_tolerations()
    on_system_pool = {"nodeSelector": node_selector or {}, "tolerations": [SYSTEM_POOL_TOLERATION]}
    values: dict[str, Any] = {
        "operator": dict(on_system_pool),
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        "mig": {"strategy": mig_strategy},
        "dcgmExporter": {"enabled": True},
        "daemonsets": {"tolerations": tolerations},
        "node-feature-discovery": {
            "worker": {"tolerations": tolerations},
            "master": dict(on_system_pool),
            "gc": dict(on_system_pool),
        },
    }
    if time_slicing_replicas:
        values["devicePlugin"] = {"config": {"name": TIME_SLICING_CONFIG_MAP, "default": "any"}}
    return values


def validate_gpu_software(
    gpu_software: str, mig_strategy: str, time_slicing_replicas: int | None
) -> None:
    """Reject GPU software settings that cannot work together, in one sentence each."""
    if gpu_software not in GPU_SOFTWARE_MODES:
        raise ValueError(
            f"gpu_software must be one of {', '.join(GPU_SOFTWARE_MODES)} (got {gpu_software!r})"
        )
    if mig_strategy not in MIG_STRATEGIES:
        raise ValueError(
            f"mig_strategy must be one of {', '.join(MIG_STRATEGIES)} (got {mig_strategy!r})"
        )
    if mig_strategy != "none" and gpu_software != "gpu-operator":
        raise ValueError("MIG needs gpu_software 'gpu-operator' (its MIG manager partitions GPUs)")
    if time_slicing_replicas is not None and time_slicing_replicas < 2:
        raise ValueError(
            f"time_slicing_replicas must be at least 2, or None for off (got {time_slicing_replicas})"
        )


# -- pure functions: capacity reservations ---------------------------------------------------


def capacity_reservation_terms(reservation_ids: list[str]) -> list[dict[str, str]]:
    """EC2NodeClass `capacityReservationSelectorTerms` (karpenter.k8s.aws/v1, Karpenter 1.8)
    for On-Demand Capacity Reservations and Capacity Blocks for ML, by id (`cr-...`)."""
    for rid in reservation_ids:
        if not (rid.startswith("cr-") and rid[3:].isalnum() and rid[3:] == rid[3:].lower()):
            raise ValueError(f"capacity reservation id must look like cr-0123abcd (got {rid!r})")
    return [{"id": rid} for rid in reservation_ids]


def karpenter_capacity_types(capacity_type: str, reservation_ids: list[str]) -> list[str]:
    """The NodePool's `karpenter.sh/capacity-type` values: a pool with reservations launches
    into them only (`reserved`; a Capacity Block cannot be used any other way), else the pool's
    own capacity type."""
    return ["reserved"] if reservation_ids else [capacity_type]


# -- pure functions: admission ----------------------------------------------------------------


def toleration_guard_expression(label_key: str = BU_TAINT_KEY) -> str:
    """CEL: every toleration names a key (a keyless `Exists` tolerates every taint, BU taints
    included), none tolerates the system pool's taint (BU pods never run beside the cluster's
    controllers), and a toleration of the BU taint must be `Equal` to the pod's own namespace's
    BU (an `Exists` on the BU key would tolerate every BU)."""
    own_bu = f"namespaceObject.metadata.labels['{label_key}']"
    system = SYSTEM_POOL_TAINT["key"]
    return (
        "!has(object.spec.tolerations) || object.spec.tolerations.all(t, "
        f"has(t.key) && t.key != '' && t.key != '{system}' && "
        f"(t.key != '{label_key}' || "
        "((!has(t.operator) || t.operator == 'Equal') && "
        f"has(t.value) && '{label_key}' in namespaceObject.metadata.labels && "
        f"t.value == {own_bu})))"
    )


def node_name_guard_expression() -> str:
    """CEL: a BU pod may not be created with `spec.nodeName` set, which skips the scheduler and
    so every taint. Scheduling sets it later through the `pods/binding` subresource, which this
    policy does not match, and it is immutable afterwards, so only CREATE is checked."""
    return (
        "request.operation != 'CREATE' || !has(object.spec.nodeName) || object.spec.nodeName == ''"
    )


# -- resources -------------------------------------------------------------------------------


def _depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """A component's `depends_on`, to hand on to its Kubernetes children: Pulumi does not pass a
    component's dependencies to its children, and Helm needs the nodes and access to exist."""
    deps = opts.depends_on if opts is not None else None
    if deps is None:
        return []
    if isinstance(deps, pulumi.Resource):
        return [deps]
    return list(deps)  # type: ignore[arg-type]


def pod_identity_role(
    parent: pulumi.Resource,
    name: str,
    description: str,
    tags: dict[str, str],
    permissions_boundary: pulumi.Input[str] | None = None,
) -> aws.iam.Role:
    """An IAM role that EKS Pod Identity can hand to one service account (under a permission
    boundary when one is given: a BU's dedicated cluster)."""
    return aws.iam.Role(
        name,
        assume_role_policy=pod_identity_trust_policy(),
        description=description,
        permissions_boundary=permissions_boundary,
        tags=tags,
        opts=child(parent),
    )


def bind_service_account(
    parent: pulumi.Resource,
    name: str,
    *,
    cluster_name: pulumi.Input[str],
    namespace: str,
    service_account: str,
    role: aws.iam.Role,
    tags: dict[str, str],
) -> aws.eks.PodIdentityAssociation:
    """Hand `role` to one Kubernetes service account through EKS Pod Identity."""
    return aws.eks.PodIdentityAssociation(
        name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        tags=tags,
        opts=child(parent),
    )


def helm_release(
    parent: pulumi.Resource,
    name: str,
    pin: ChartPin,
    *,
    namespace: str,
    values: pulumi.Input[dict[str, Any]],
    provider: k8s.Provider,
    depends_on: list[pulumi.Resource],
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """One pinned chart as a Helm release named after the chart (a stable name, so `helm ls`
    and upgrades see the same release across runs)."""
    release, reference = pin.name, pin.reference
    repo = None if pin.is_oci else pin.repo
    return k8s.helm.v3.Release(
        name,
        name=release,
        chart=reference,
        version=pin.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo) if repo else None,
        namespace=namespace,
        values=values,
        skip_crds=skip_crds or None,
        max_history=10,  # each revision is a Secret in the namespace; keep rollback, not all
        opts=child(parent, provider=provider, depends_on=depends_on),
    )


class ClusterAutoscalerArgs(TypedDict):
    """Inputs of `ClusterAutoscaler`."""

    cluster_name: pulumi.Input[str]
    """The EKS cluster's name (its output, so the association waits for the cluster)."""
    kubernetes_version: str
    """The cluster's Kubernetes version; picks the matching autoscaler image."""
    k8s_provider: k8s.Provider
    """The provider for the cluster the chart is installed into."""
    node_selector: dict[str, str]
    """Labels of the nodes the autoscaler runs on (the system pool: never a pool it scales)."""
    tags: dict[str, str]
    """Tags for the IAM role and the Pod Identity association."""
    permissions_boundary: NotRequired[pulumi.Input[str] | None]
    """Permission boundary of the autoscaler's role (a BU's dedicated cluster); None for none."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """Cluster Autoscaler for the managed GPU node groups, including scale from zero."""

    role_arn: pulumi.Output[str]
    """The IAM role the autoscaler's service account gets through Pod Identity."""

    def __init__(
        self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:ClusterAutoscaler", name, None, opts)
        after = _depends_on_of(opts)
        account, region, partition = account_region_partition(self)
        cluster_name = pulumi.Output.from_input(args["cluster_name"])
        role = pod_identity_role(
            self,
            f"{name}-role",
            "Cluster Autoscaler (EKS Pod Identity)",
            args["tags"],
            args.get("permissions_boundary"),
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(partition, region, account, cluster_name).apply(
                lambda p: cluster_autoscaler_policy(p[0], p[1], p[2], p[3])
            ),
            opts=child(self),
        )
        association = bind_service_account(
            self,
            f"{name}-pod-identity",
            cluster_name=cluster_name,
            namespace=CLUSTER_AUTOSCALER_NAMESPACE,
            service_account=CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
            role=role,
            tags=args["tags"],
        )
        values = pulumi.Output.all(cluster_name, region).apply(
            lambda p: cluster_autoscaler_values(
                p[0], p[1], args["kubernetes_version"], args["node_selector"]
            )
        )
        helm_release(
            self,
            f"{name}-chart",
            CLUSTER_AUTOSCALER_CHART,
            namespace=CLUSTER_AUTOSCALER_NAMESPACE,
            values=values,
            provider=args["k8s_provider"],
            depends_on=[*after, association],
        )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn})


class KarpenterArgs(TypedDict):
    """Inputs of `Karpenter`."""

    cluster_name: pulumi.Input[str]
    """The EKS cluster's name (its output, so everything here waits for the cluster)."""
    node_role_path: str
    """IAM path of the roles Karpenter may pass to the nodes it launches (`/ai-estate/nodes/`)."""
    replicas: int
    """Controller replicas: 2 in prod (leader election, one survives a node loss), 1 elsewhere."""
    k8s_provider: k8s.Provider
    """The provider for the cluster the chart is installed into."""
    kms_key_arn: pulumi.Input[str]
    """Customer key encrypting the interruption queue (its policy must let
    `events.amazonaws.com` use it, or EventBridge cannot deliver)."""
    node_selector: dict[str, str]
    """Labels of the nodes the controller runs on (the system pool, which Karpenter never owns)."""
    tags: dict[str, str]
    """Tags for the queue, the rules, the IAM role and the Pod Identity association."""
    permissions_boundary: NotRequired[pulumi.Input[str] | None]
    """Permission boundary of the controller's role (a BU's dedicated cluster); None for none."""


class Karpenter(pulumi.ComponentResource):
    """Karpenter with interruption handling: an SQS queue fed by EventBridge with spot
    interruptions, rebalance recommendations, instance state changes and scheduled health events,
    so nodes are drained before AWS takes them away."""

    controller_role_arn: pulumi.Output[str]
    """The IAM role the controller's service account gets through Pod Identity."""
    interruption_queue_name: pulumi.Output[str]
    """The SQS queue Karpenter reads interruption events from."""
    node_role_path: str
    """The IAM path BU node roles must be created under for Karpenter to use them."""

    def __init__(
        self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:Karpenter", name, None, opts)
        after = _depends_on_of(opts)
        account, region, partition = account_region_partition(self)
        cluster_name = pulumi.Output.from_input(args["cluster_name"])
        tags = args["tags"]

        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            name=pulumi.Output.concat(cluster_name, "-karpenter"),
            message_retention_seconds=300,  # an interruption older than 5 minutes is moot
            # The platform key (whose policy admits EventBridge): interruption events name
            # instances and accounts, and the governance profile requires customer keys.
            kms_master_key_id=args["kms_key_arn"],
            kms_data_key_reuse_period_seconds=300,
            tags=tags,
            opts=child(self),
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruptions-policy",
            queue_url=queue.url,
            policy=queue.arn.apply(interruption_queue_policy),
            opts=child(self),
        )
        for suffix, pattern in KARPENTER_INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=pulumi.Output.concat(cluster_name, f"-karpenter-{suffix}"),
                description=f"Karpenter interruption handling: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                tags=tags,
                opts=child(self),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                rule=rule.name,
                target_id="KarpenterInterruptionQueueTarget",
                arn=queue.arn,
                opts=child(self),
            )

        role = pod_identity_role(
            self,
            f"{name}-controller-role",
            "Karpenter controller (EKS Pod Identity)",
            tags,
            args.get("permissions_boundary"),
        )
        aws.iam.RolePolicy(
            f"{name}-controller-policy",
            role=role.id,
            policy=pulumi.Output.all(
                partition, region, account, cluster_name, queue.arn, args["kms_key_arn"]
            ).apply(
                lambda p: karpenter_controller_policy(
                    partition=p[0],
                    region=p[1],
                    account_id=p[2],
                    cluster=p[3],
                    queue_arn=p[4],
                    node_role_path=args["node_role_path"],
                    queue_key_arn=p[5],
                )
            ),
            opts=child(self),
        )
        association = bind_service_account(
            self,
            f"{name}-pod-identity",
            cluster_name=cluster_name,
            namespace=KARPENTER_NAMESPACE,
            service_account=KARPENTER_SERVICE_ACCOUNT,
            role=role,
            tags=tags,
        )
        values = pulumi.Output.all(cluster_name, queue.name, region).apply(
            lambda p: karpenter_values(p[0], p[1], p[2], args["replicas"], args["node_selector"])
        )
        # The CRDs come from their own chart so that they upgrade with the controller; the
        # controller's chart then must not install its (never upgraded) copy of them.
        crds = helm_release(
            self,
            f"{name}-crd-chart",
            KARPENTER_CRD_CHART,
            namespace=KARPENTER_NAMESPACE,
            values={},
            provider=args["k8s_provider"],
            depends_on=after,
        )
        helm_release(
            self,
            f"{name}-chart",
            KARPENTER_CHART,
            namespace=KARPENTER_NAMESPACE,
            values=values,
            provider=args["k8s_provider"],
            depends_on=[*after, association, crds],
            skip_crds=True,
        )
        self.controller_role_arn = role.arn
        self.interruption_queue_name = queue.name
        self.node_role_path = args["node_role_path"]
        self.register_outputs(
            {
                "controllerRoleArn": self.controller_role_arn,
                "interruptionQueueName": self.interruption_queue_name,
                "nodeRolePath": self.node_role_path,
            }
        )


class GpuSoftwareArgs(TypedDict):
    """Inputs of `GpuSoftware`."""

    gpu_software: str
    """`device-plugin` (NVIDIA device plugin + DCGM exporter) or `gpu-operator` (MIG capable)."""
    time_slicing_replicas: int | None
    """Advertise each GPU as this many shareable GPUs (time-slicing); None for whole GPUs."""
    mig_strategy: str
    """`none`, `single` or `mixed`; anything but `none` needs the GPU Operator."""
    k8s_provider: k8s.Provider
    """The provider for the cluster the software is installed into."""
    node_selector: NotRequired[dict[str, str]]
    """Labels of the system pool, where the GPU Operator's own Deployments run."""


class GpuSoftware(pulumi.ComponentResource):
    """The NVIDIA software every GPU node needs to advertise GPUs to the scheduler and export
    their metrics."""

    namespace: str
    """Where the NVIDIA daemons run."""

    def __init__(
        self, name: str, args: GpuSoftwareArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:GpuSoftware", name, None, opts)
        mode, mig, slices = (
            args["gpu_software"],
            args["mig_strategy"],
            args["time_slicing_replicas"],
        )
        validate_gpu_software(mode, mig, slices)
        after = _depends_on_of(opts)
        provider = args["k8s_provider"]

        if mode == "device-plugin":
            self.namespace = "kube-system"
            helm_release(
                self,
                f"{name}-device-plugin",
                DEVICE_PLUGIN_CHART,
                namespace=self.namespace,
                values=device_plugin_values(slices),
                provider=provider,
                depends_on=after,
            )
            helm_release(
                self,
                f"{name}-dcgm-exporter",
                DCGM_EXPORTER_CHART,
                namespace=self.namespace,
                values=dcgm_exporter_values(),
                provider=provider,
                depends_on=after,
            )
        else:
            self.namespace = GPU_OPERATOR_NAMESPACE
            # The operator's daemons are privileged; the namespace says so to Pod Security
            # Admission instead of the chart creating an unlabelled one.
            namespace = core.Namespace(
                f"{name}-namespace",
                metadata=meta.ObjectMetaArgs(
                    name=GPU_OPERATOR_NAMESPACE,
                    labels={"pod-security.kubernetes.io/enforce": "privileged"},
                ),
                opts=child(self, provider=provider, depends_on=after),
            )
            ready: list[pulumi.Resource] = [*after, namespace]
            if slices:
                ready.append(
                    core.ConfigMap(
                        f"{name}-time-slicing",
                        metadata=meta.ObjectMetaArgs(
                            name=TIME_SLICING_CONFIG_MAP, namespace=GPU_OPERATOR_NAMESPACE
                        ),
                        data={"any": time_slicing_config(slices, mig)},
                        opts=child(self, provider=provider, depends_on=[namespace]),
                    )
                )
            helm_release(
                self,
                f"{name}-gpu-operator",
                GPU_OPERATOR_CHART,
                namespace=GPU_OPERATOR_NAMESPACE,
                values=gpu_operator_values(mig, slices, args.get("node_selector")),
                provider=provider,
                depends_on=ready,
            )
        self.register_outputs({"namespace": self.namespace})


class TolerationGuardArgs(TypedDict):
    """Inputs of `TolerationGuard`."""

    k8s_provider: k8s.Provider
    """The provider for the cluster the policy is installed into."""
    label_key: str
    """The namespace label naming a BU, which is also the taint key of that BU's GPU nodes."""


class TolerationGuard(pulumi.ComponentResource):
    """A ValidatingAdmissionPolicy that keeps BU pods off other BUs' GPU nodes.

    BU GPU nodes are tainted `ai-estate/bu=<bu>:NoSchedule`; a pod in a namespace labelled
    `ai-estate/bu=<bu>` may tolerate only its own BU's taint, may not tolerate every taint with
    a keyless toleration, and may not bypass the scheduler with `spec.nodeName`. The check runs
    in the API server (admissionregistration.k8s.io/v1, GA in Kubernetes 1.30): no webhook to
    keep alive.
    """

    policy_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: TolerationGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:TolerationGuard", name, None, opts)
        after = _depends_on_of(opts)
        label_key, provider = args["label_key"], args["k8s_provider"]
        bu_namespaces = meta.LabelSelectorArgs(
            match_expressions=[meta.LabelSelectorRequirementArgs(key=label_key, operator="Exists")]
        )
        policy = admission.ValidatingAdmissionPolicy(
            f"{name}-policy",
            metadata=meta.ObjectMetaArgs(name="ai-estate-bu-toleration-guard"),
            spec=admission.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=admission.MatchResourcesArgs(
                    namespace_selector=bu_namespaces,
                    resource_rules=[
                        admission.NamedRuleWithOperationsArgs(
                            api_groups=[""],
                            api_versions=["v1"],
                            operations=["CREATE", "UPDATE"],
                            resources=["pods"],
                        )
                    ],
                ),
                validations=[
                    admission.ValidationArgs(
                        expression=toleration_guard_expression(label_key),
                        message=(
                            f"pods in a BU namespace may tolerate the '{label_key}' taint only "
                            "with their own namespace's BU, never the system pool's "
                            f"'{SYSTEM_POOL_TAINT['key']}', and every toleration must name a key"
                        ),
                        reason="Forbidden",
                    ),
                    admission.ValidationArgs(
                        expression=node_name_guard_expression(),
                        message="pods in a BU namespace may not set spec.nodeName",
                        reason="Forbidden",
                    ),
                ],
            ),
            opts=child(self, provider=provider, depends_on=after),
        )
        admission.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            metadata=meta.ObjectMetaArgs(name="ai-estate-bu-toleration-guard"),
            spec=admission.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy.metadata.name,
                validation_actions=["Deny"],
                match_resources=admission.MatchResourcesArgs(namespace_selector=bu_namespaces),
            ),
            opts=child(self, provider=provider, depends_on=[*after, policy]),
        )
        self.policy_name = policy.metadata.name
        self.register_outputs({"policyName": self.policy_name})
