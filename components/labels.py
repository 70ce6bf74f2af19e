"""Every Kubernetes label, taint and annotation key the estate sets or selects on, in one place.

`tags.py` does this for AWS tags. Keys here are contracts between components (a GPU pool labels
its nodes with `POOL`, the GPU metric agent copies it into the `Pool` dimension, the admission
policy requires pods to select on it), so a key spelt twice is a contract that can drift.

Keys of the estate's own domain (`ai-estate/...`) are ours; the others are well-known keys of
Kubernetes, Karpenter, EKS and NVIDIA that we select on, listed so a reader sees every one.
"""

from __future__ import annotations

# -- ours ------------------------------------------------------------------------------------

BU = "ai-estate/bu"
"""The business unit: on namespaces, GPU nodes (label and `NoSchedule` taint) and pools."""
ENVIRONMENT = "ai-estate/environment"
"""The environment (`dev`, `staging`, `prod`) of a BU's namespaced objects."""
POOL = "ai-estate/pool"
"""The node pool a node belongs to (`system`, a BU's GPU pool name); GPU pods select on it."""
GPU_MODEL = "ai-estate/gpu-model"
"""The GPU model of a GPU pool's nodes (`a10g`, `t4`, ...)."""
CAPACITY_TYPE = "ai-estate/capacity-type"
"""`spot` or `on-demand`, on GPU nodes."""
ACCELERATOR = "ai-estate/accelerator"
"""`nvidia` on every GPU node: what the NVIDIA device plugin and DCGM exporter select."""
GPU_SLICES_PER_GPU = "ai-estate/gpu-slices-per-gpu"
"""Annotation on a Karpenter NodePool: how many `nvidia.com/gpu` each physical GPU registers as
(the platform's time-slicing replicas, 1 without). Its `limits` count slices; dividing by this
gives physical GPUs, which is what cost and cap policies reason about."""
CONFIG_HASH = "ai-estate/config-hash"
"""Pod-template annotation: a digest of mounted configuration, so a change rolls the pods."""

GPU_NODE_LABEL = {ACCELERATOR: "nvidia"}
"""The label every GPU node carries (the NVIDIA DaemonSets' node selector)."""

# -- well-known keys -------------------------------------------------------------------------

NVIDIA_GPU = "nvidia.com/gpu"
"""The NVIDIA device plugin's extended resource, and the GPU nodes' `NoSchedule` taint key."""
MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
KUEUE_QUEUE_NAME = "kueue.x-k8s.io/queue-name"
"""Kueue's label naming the LocalQueue a Job (or a KEDA ScaledJob, copied to its Jobs) is
admitted through; BU batch Jobs must carry it (components/kueue.py)."""
NAMESPACE_NAME = "kubernetes.io/metadata.name"
"""Set by Kubernetes (>= 1.22) on every namespace: what namespace selectors match by name."""
K8S_APP = "k8s-app"
"""CoreDNS pods carry `k8s-app: kube-dns`."""
POD_SECURITY_MODES = ("enforce", "warn", "audit")


def pod_security(mode: str) -> str:
    """`pod-security.kubernetes.io/<mode>`: the Pod Security Admission namespace labels."""
    return f"pod-security.kubernetes.io/{mode}"


INSTANCE_TYPE = "node.kubernetes.io/instance-type"
ARCH = "kubernetes.io/arch"
OS = "kubernetes.io/os"
KARPENTER_GPU_MANUFACTURER = "karpenter.k8s.aws/instance-gpu-manufacturer"
"""Karpenter's node label naming the GPU maker (`nvidia`) of the instance."""
NVIDIA_GPU_PRESENT = "nvidia.com/gpu.present"
"""NVIDIA GPU feature discovery's node label on nodes with a GPU (`true`)."""
KARPENTER_CAPACITY_TYPE = "karpenter.sh/capacity-type"
KARPENTER_NODE_POOL = "karpenter.sh/nodepool"
"""Karpenter labels every node it launches with its NodePool's name."""
EKS_NODE_GROUP = "eks.amazonaws.com/nodegroup"
"""EKS labels every managed node group node with its node group's name."""

RESTRICTED_DOMAINS = ("kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws")
"""Label domains reserved for Kubernetes and Karpenter: a pool's extra labels may not use them."""
