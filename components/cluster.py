"""EKS cluster: the shared Kubernetes control plane of an environment, its system node pool,
the EKS managed add-ons, and the GPU machinery every BU's GPU pools plug into.

Safe by default: the API endpoint is private unless public CIDRs are listed (and never open to
the world), Kubernetes secrets are envelope-encrypted with the platform's customer key, all five
control-plane log streams go to a log group encrypted with the same key, authentication is by
EKS access entries only (no `aws-auth` ConfigMap), and workloads get AWS credentials from EKS Pod
Identity rather than from the node role: nodes run with IMDSv2 and a hop limit of 1, so a pod
cannot borrow the node's credentials, and the node role has no CNI or storage permissions.

The system pool is tainted `CriticalAddonsOnly=true:NoSchedule` for the cluster's add-ons only;
BU pods without GPUs run on the untainted BU CPU pool, and GPU pods on their BU's tainted GPU
pools. The Kubernetes version is one in the EKS calendar (estate/data/eks_versions.yaml) with
the upgrade policy said explicitly, EKS add-ons run pinned versions, and BU pipelines get
namespace-scoped access (`bu_deployers`) to deploy their stacks onto the shared cluster.

BU stacks create their GPU node roles under `NODE_ROLE_PATH`; Karpenter may pass only those.

The constructor reads as a table of contents: control plane, deployer access, add-ons, node
pools, Kubernetes access, BU deployers, GPU machinery; each section is a private builder.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_kubernetes.admissionregistration import v1 as admission
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.rbac import v1 as rbac

from .addons import (
    BU_TAINT_KEY,
    SYSTEM_POOL_TAINT,
    SYSTEM_POOL_TOLERATION,
    ClusterAutoscaler,
    GpuSoftware,
    Karpenter,
    TolerationGuard,
    _depends_on_of,
    pod_identity_role,
    validate_gpu_software,
)
from .iam import managed_policy_arn, service_trust_policy
from .kueue import Kueue
from .options import child, stateful

#: IAM path of every role a GPU node may run with; Karpenter's PassRole is limited to it.
NODE_ROLE_PATH = "/ai-estate/nodes/"
#: All control-plane log streams: audit and authenticator are the ones an incident needs.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
GPU_PROVISIONERS = ("managed", "karpenter")
#: The label of the system pool; cluster add-ons are pinned to it (and tolerate its taint,
#: `addons.SYSTEM_POOL_TAINT`, which keeps every other pod off it).
SYSTEM_POOL_LABELS = {"ai-estate/pool": "system"}
#: The label of the untainted CPU pool BU pods without GPUs run on.
BU_CPU_POOL_LABELS = {"ai-estate/pool": "bu-cpu"}
#: `upgrade_policy.support_type` values: STANDARD upgrades the cluster at the end of standard
#: support; EXTENDED keeps it (billed at the extended rate) for 12 more months.
SUPPORT_TYPES = ("STANDARD", "EXTENDED")
#: Prefix of the Kubernetes group a BU deployer is put in, per namespace it may deploy to.
BU_DEPLOYER_GROUP_PREFIX = "ai-estate:bu-deployer:"
#: ValidatingAdmissionPolicy v1 (the toleration guard) is GA from 1.30.
MIN_KUBERNETES_VERSION = (1, 30)


@dataclass(frozen=True)
class ManagedAddon:
    """An EKS managed add-on, and the IAM it gets through Pod Identity, if any."""

    name: str
    service_account: str | None = None
    """The add-on's service account that gets the role."""
    policy: str | None = None
    """AWS managed policy (name after `policy/`) for that role."""
    needs_nodes: bool = False
    """Deployments (not DaemonSets) stay degraded until a node exists: create them after the
    system pool; the DaemonSets come first because nodes cannot become Ready without them."""
    configuration: str | None = None
    """The add-on's `configuration_values` (JSON)."""
    schedules_on_system_pool: bool = False
    """It runs a Deployment (not only DaemonSets), which must tolerate the system pool's
    `CriticalAddonsOnly` taint: CoreDNS and the EBS CSI controller do by default (their
    add-on manifests carry `CriticalAddonsOnly: Exists`)."""


MANAGED_ADDONS = (
    ManagedAddon("eks-pod-identity-agent"),
    # The VPC CNI enforces Kubernetes NetworkPolicy only when asked to: without this, every BU's
    # default-deny policy would be accepted and silently ignored.
    ManagedAddon(
        "vpc-cni",
        "aws-node",
        "AmazonEKS_CNI_Policy",
        configuration='{"enableNetworkPolicy": "true"}',
    ),
    ManagedAddon("kube-proxy"),
    ManagedAddon("coredns", needs_nodes=True, schedules_on_system_pool=True),
    # V2 only touches volumes and snapshots the driver tagged for a cluster, not every volume.
    ManagedAddon(
        "aws-ebs-csi-driver",
        "ebs-csi-controller-sa",
        "AmazonEBSCSIDriverPolicyV2",
        needs_nodes=True,
        schedules_on_system_pool=True,
    ),
)


# -- pure functions ------------------------------------------------------------------------------


def addon_names() -> list[str]:
    """The EKS managed add-ons this component installs (the keys of `addon_versions`)."""
    return [a.name for a in MANAGED_ADDONS]


def validate_addon_versions(addon_versions: dict[str, str]) -> None:
    """Pins name add-ons this component installs; anything else is a typo."""
    unknown = sorted(set(addon_versions) - set(addon_names()))
    if unknown:
        raise ValueError(
            f"addon_versions: unknown add-on {', '.join(unknown)} "
            f"(choose from {', '.join(addon_names())})"
        )


def role_name_of(role_arn: str) -> str:
    """`arn:aws:iam::1:role/path/name` -> `name` (a stable suffix for logical names)."""
    return role_arn.rsplit("/", 1)[-1]


def bu_deployer_groups(namespaces: list[str]) -> list[str]:
    """The Kubernetes groups a BU deployer's access entry maps it to: one per namespace."""
    return [f"{BU_DEPLOYER_GROUP_PREFIX}{ns}" for ns in namespaces]


def bu_deployer_cluster_rules(namespaces: list[str]) -> list[dict[str, Any]]:
    """The cluster-scoped objects a BU stack creates, and nothing else: its own Namespace(s)
    (RBAC cannot restrict `create` by name, so creation is open and every later verb is limited
    to the BU's names) and the Karpenter NodePool / EC2NodeClass of its GPU pools (read for
    `pulumi refresh`, written for its pools). Namespaced objects come from the namespace-scoped
    EKS access policy instead."""
    return [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": sorted(namespaces),
            "verbs": ["get", "update", "patch", "delete"],
        },
        {
            # `admin` (the namespace-scoped access policy) only reads these; the BU stack sets
            # its own quota and container defaults. BuDeployerGuard keeps it to its namespaces.
            "apiGroups": [""],
            "resources": ["resourcequotas", "limitranges"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {
            "apiGroups": ["karpenter.sh"],
            "resources": ["nodepools"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {
            "apiGroups": ["karpenter.k8s.aws"],
            "resources": ["ec2nodeclasses"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {
            # The BU's Kueue ClusterQueue (`<bu>-gpu`, components/kueue.py).
            "apiGroups": ["kueue.x-k8s.io"],
            "resources": ["clusterqueues"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        # Custom resources a BU's serving creates in its namespace: `admin` covers a CRD only
        # when its chart aggregates a role into it, which these do not.
        *(
            {"apiGroups": [group], "resources": [resource], "verbs": ALL_VERBS}
            for group, resource in BU_NAMESPACED_CUSTOM_KINDS
        ),
        # The BU's own admission policies (named `ai-estate-<bu>-...`, see BuDeployerGuard).
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
            "verbs": ALL_VERBS,
        },
    ]


ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
#: Namespaced custom resources BU stacks create (serving: routes, autoscaling, target groups;
#: retraining: jobs; Kueue: the LocalQueue).
BU_NAMESPACED_CUSTOM_KINDS = (
    ("gateway.networking.k8s.io", "httproutes"),
    ("gateway.k8s.aws", "listenerruleconfigurations"),
    ("elbv2.k8s.aws", "targetgroupbindings"),
    ("keda.sh", "scaledobjects"),
    ("keda.sh", "scaledjobs"),  # the retraining jobs (components/mlops.py)
    ("keda.sh", "triggerauthentications"),
    ("kueue.x-k8s.io", "localqueues"),
)
#: What `BuDeployerGuard` checks: everything a BU deployer's ClusterRole grants cluster-wide.
BU_DEPLOYER_GUARDED = (
    ("", "namespaces"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("karpenter.sh", "nodepools"),
    ("karpenter.k8s.aws", "ec2nodeclasses"),
    ("kueue.x-k8s.io", "clusterqueues"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    *BU_NAMESPACED_CUSTOM_KINDS,
)


def bu_deployer_scope_expression(namespaces: list[str]) -> str:
    """CEL: a request from a BU deployer (a member of `ai-estate:bu-deployer:<ns>`) touches only
    its own names: the Namespace `<ns>`, objects in `<ns>`, Karpenter objects named `<ns>-...`
    (GPU pools name theirs `<bu>-<pool>`) and admission policies named `ai-estate-<ns>-...`.
    RBAC cannot say "in this namespace" for a grant that must exist before the namespace does;
    this policy can."""
    # The platform's own policies, whatever a BU is called (a BU `bu-deployer` would match).
    platform = "['ai-estate-bu-toleration-guard', 'ai-estate-bu-deployer-scope']"
    clauses = [
        f"('{BU_DEPLOYER_GROUP_PREFIX}{ns}' in request.userInfo.groups && ("
        f"(request.resource.resource == 'namespaces' && request.name == '{ns}') || "
        f"(request.resource.resource != 'namespaces' && request.namespace == '{ns}') || "
        f"((request.resource.group.startsWith('karpenter') || "
        f"request.resource.group == 'kueue.x-k8s.io') && request.name.startsWith('{ns}-')) || "
        f"(request.resource.group == 'admissionregistration.k8s.io' && "
        f"request.name.startsWith('ai-estate-{ns}-') && !(request.name in {platform}))))"
        for ns in sorted(namespaces)
    ]
    return " || ".join(clauses) if clauses else "false"


def bu_deployer_match_condition() -> str:
    """CEL: the request comes from a BU deployer (everyone else is not this policy's concern)."""
    return f"request.userInfo.groups.exists(g, g.startsWith('{BU_DEPLOYER_GROUP_PREFIX}'))"


def cluster_roles_boundary_document(
    partition: str, region: str, account_id: str, cluster: str, node_role_path: str
) -> str:
    """The permission boundary of a BU's dedicated cluster's add-on roles (VPC CNI, EBS CSI,
    Cluster Autoscaler, Karpenter, the CloudWatch agents): the services those add-ons call and
    nothing else, so a compromised add-on can never reach the BU's data (no S3, DynamoDB,
    SageMaker or Glue), change IAM beyond Karpenter's instance profiles, or lift the boundary."""
    path = "/" + node_role_path.strip("/") + "/"
    statements = [
        {
            # What the add-ons look up: no resource-level scope exists for these reads.
            "Sid": "ClusterAddOnReads",
            "Effect": "Allow",
            "Action": [
                "autoscaling:Describe*",
                "ec2:Describe*",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:Describe*",
                "eks:List*",
                "logs:Describe*",
                "pricing:GetProducts",
                "ssm:GetParameter",
                "xray:GetSampling*",
            ],
            "Resource": "*",
        },
        {
            # AWS authorizes these on `*` only.
            "Sid": "MetricsAndTraces",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:PutMetricData",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            ],
            "Resource": "*",
        },
        {
            # Nodes, ENIs, volumes and snapshots in this account and region (AMIs and public
            # snapshots are owned by no account), the node groups' Auto Scaling groups, and the
            # agents' log groups.
            "Sid": "ClusterAddOnWrites",
            "Effect": "Allow",
            "Action": [
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                "ec2:*",
                "logs:*",
            ],
            "Resource": [
                f"arn:{partition}:autoscaling:{region}:{account_id}:autoScalingGroup:*",
                f"arn:{partition}:ec2:{region}:{account_id}:*",
                f"arn:{partition}:ec2:{region}::image/*",
                f"arn:{partition}:ec2:{region}::snapshot/*",
                f"arn:{partition}:logs:{region}:{account_id}:*",
            ],
        },
        {
            "Sid": "KarpenterInterruptionQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ],
            "Resource": f"arn:{partition}:sqs:{region}:{account_id}:{cluster}-karpenter",
        },
        {
            # Karpenter launches nodes with BU node roles and manages their instance profiles.
            "Sid": "KarpenterNodeIdentity",
            "Effect": "Allow",
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:ListInstanceProfiles",
                "iam:PassRole",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
            ],
            "Resource": [
                f"arn:{partition}:iam::{account_id}:instance-profile/*",
                f"arn:{partition}:iam::{account_id}:role{path}*",
            ],
        },
        {
            # Encrypted node volumes and the encrypted interruption queue, through EC2/SQS only.
            "Sid": "KeysViaEc2AndSqs",
            "Effect": "Allow",
            "Action": [
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
            ],
            "Resource": f"arn:{partition}:kms:{region}:{account_id}:key/*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": [f"ec2.{region}.amazonaws.com", f"sqs.{region}.amazonaws.com"]
                }
            },
        },
    ]
    return json.dumps(
        {"Version": "2012-10-17", "Statement": statements}, sort_keys=True, separators=(",", ":")
    )


def kubernetes_minor(version: str) -> tuple[int, int]:
    """`"1.31"` -> `(1, 31)`; anything else is a config error."""
    parts = version.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"Kubernetes version must look like '1.31' (got {version!r})")
    return int(parts[0]), int(parts[1])


def endpoint_access(public_access_cidrs: list[str]) -> tuple[bool, list[str]]:
    """Whether the API endpoint is public, and to which CIDRs.

    No CIDRs means a private endpoint only. A CIDR that covers the whole address space
    (`0.0.0.0/0`, `::/0`) is refused: a public endpoint must be restricted to known networks.
    """
    cidrs = []
    for raw in public_access_cidrs:
        try:
            network = ipaddress.ip_network(raw, strict=True)
        except ValueError as exc:
            raise ValueError(f"public_access_cidrs: {raw!r} is not a CIDR block ({exc})") from exc
        if network.prefixlen == 0:
            raise ValueError(
                f"public_access_cidrs: {raw} opens the API endpoint to the whole internet; "
                "list the networks that may reach it, or none for a private endpoint"
            )
        cidrs.append(str(network))
    return bool(cidrs), cidrs


def validate_provisioners(gpu_provisioners: list[str]) -> None:
    """Only the scaling machinery this component knows how to install."""
    unknown = sorted(set(gpu_provisioners) - set(GPU_PROVISIONERS))
    if unknown:
        raise ValueError(
            f"gpu_provisioners: unknown {', '.join(unknown)} "
            f"(choose from {', '.join(GPU_PROVISIONERS)})"
        )


def validate_node_sizes(min_size: int, desired_size: int, max_size: int) -> None:
    """EKS rejects a scaling config outside min <= desired <= max; say so before deploying."""
    if not 0 <= min_size <= desired_size <= max_size or max_size < 1:
        raise ValueError(
            "system_nodes: need 0 <= min_size <= desired_size <= max_size and max_size >= 1 "
            f"(got {min_size}/{desired_size}/{max_size})"
        )


def cluster_encryption_policy(key_arn: str) -> str:
    """What the cluster role needs on the customer key to envelope-encrypt secrets."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EnvelopeEncryptSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"],
                    "Resource": key_arn,
                }
            ],
        },
        sort_keys=True,
    )


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig that authenticates with `aws eks get-token` as whoever runs Pulumi, so no
    long-lived token is ever stored in state."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
            }
        ],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
        ],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": [
                            "eks",
                            "get-token",
                            "--cluster-name",
                            cluster_name,
                            "--region",
                            region,
                            "--output",
                            "json",
                        ],
                    }
                },
            }
        ],
    }


# -- the component ---------------------------------------------------------------------------


class SystemNodesSpec(TypedDict):
    """The system node pool: CoreDNS, the autoscalers and other cluster add-ons run here."""

    instance_types: list[str]
    """On-demand instance types, e.g. `["m7i.large"]`."""
    min_size: int
    """Fewest nodes (2 or more in prod: CoreDNS and Karpenter spread over nodes)."""
    desired_size: int
    """Nodes at creation; within min..max. Cluster Autoscaler owns it afterwards."""
    max_size: int
    """Most nodes."""
    disk_gib: int
    """Root volume size (gp3, encrypted with the cluster key)."""


class BuCpuNodesSpec(SystemNodesSpec):
    """The BU CPU pool: the system pool's fields, and whether to build it."""

    enabled: NotRequired[bool]
    """False: no BU CPU pool (default True)."""


class BuDeployerSpec(TypedDict):
    """A BU pipeline's role that may deploy its BU's stack onto this (shared) cluster."""

    role_arn: str
    """The IAM role the BU's `pulumi up` runs as."""
    namespaces: list[str]
    """The BU namespaces it may deploy into (usually one: the BU's slug)."""


class EksClusterSettings(TypedDict):
    """The cluster settings a stack file chooses (`ai-estate:cluster`); `EksClusterArgs` adds
    the wiring (network, key, names) the estate supplies."""

    version: str
    """Kubernetes version, e.g. `1.35` (1.30 or later)."""
    public_access_cidrs: list[str]
    """Empty for a private endpoint only; else the public endpoint is open to these CIDRs only
    (never `0.0.0.0/0`)."""
    log_retention_days: int
    """Retention of the control-plane log group."""
    system_nodes: SystemNodesSpec
    """The system node pool."""
    gpu_provisioners: list[str]
    """Which GPU scaling machinery to install: any of `managed` (Cluster Autoscaler for managed
    node groups) and `karpenter`."""
    gpu_software: str
    """`device-plugin` (NVIDIA device plugin + DCGM exporter) or `gpu-operator` (MIG capable)."""
    time_slicing_replicas: int | None
    """Time-slicing replicas per GPU (the device plugin's, or the GPU Operator's); None for
    whole GPUs."""
    mig_strategy: str
    """`none`, `single` or `mixed` (gpu-operator only)."""
    api_access_cidrs: NotRequired[list[str]]
    """Private networks (deploy runners, VPN, peered VPCs) allowed to reach the API endpoint on
    443. The endpoint is private: whoever runs `pulumi up` must come from one of these (or from
    `public_access_cidrs`), or every Kubernetes resource of the stack times out."""
    support_type: NotRequired[str]
    """`STANDARD` (default: EKS upgrades the cluster when standard support ends, no extended
    charges) or `EXTENDED` (stays on its version, billed at the extended-support rate)."""
    addon_versions: NotRequired[dict[str, str]]
    """Pinned EKS add-on versions by add-on name (`vpc-cni: v1.20.4-eksbuild.2`). An add-on
    left out gets EKS's default version for `version` (never "most recent", which would upgrade
    it on any `pulumi up`); the schema requires every pin in prod."""
    bu_cpu_nodes: NotRequired[BuCpuNodesSpec | None]
    """The untainted CPU node group BU pods without GPUs run on (labelled
    `ai-estate/pool=bu-cpu`); None (or `enabled: False`) for none. Cluster Autoscaler scales it
    (and is installed for it on a Karpenter-only cluster)."""
    bu_deployers: NotRequired[list[BuDeployerSpec]]
    """BU pipeline roles that get namespace-scoped access (see `BuDeployerSpec`)."""


class EksClusterArgs(EksClusterSettings):
    """Inputs of `EksCluster`."""

    name: str
    """Physical cluster name, e.g. `platform-prod-ai`."""
    vpc_id: pulumi.Input[str]
    """The VPC the private subnets belong to (EKS derives it from the subnets; not sent)."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Subnets for the control-plane ENIs and the system nodes."""
    kms_key_arn: pulumi.Input[str]
    """Customer key for secrets encryption, the control-plane log group and node volumes."""
    protect: bool
    """Prod: protect and retain the cluster and its log group, and turn on deletion protection."""
    tags: dict[str, str]
    """Tags for every taggable resource (ownership tags included)."""
    deployer_role_arn: NotRequired[pulumi.Input[str] | None]
    """The IAM role that runs `pulumi up` for this stack. It gets a cluster-admin access entry:
    with no bootstrap admin, nothing else could install the add-ons. Default: the role of the
    current AWS session."""
    permissions_boundary: NotRequired[pulumi.Input[str] | None]
    """Permission boundary for every IAM role this cluster creates for pods (the add-on roles).
    A BU's dedicated cluster needs one (its roles are BU roles); see
    `cluster_roles_boundary_document` for a ceiling that fits the add-ons."""


@dataclass(frozen=True)
class _ControlPlane:
    cluster: aws.eks.Cluster
    oidc: aws.iam.OpenIdConnectProvider
    issuer: pulumi.Output[str]


@dataclass(frozen=True)
class _Context:
    """What every builder needs: names, tags, the key and the account context."""

    name: str
    cluster_name: str
    tags: dict[str, str]
    key_arn: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    account_id: pulumi.Output[str]
    caller_arn: pulumi.Output[str]
    invoke: pulumi.InvokeOutputOptions

    def policy_arn(self, policy: str) -> pulumi.Output[str]:
        return self.partition.apply(lambda p: managed_policy_arn(p, policy))

    def access_policy_arn(self, policy: str) -> pulumi.Output[str]:
        return self.partition.apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/{policy}")


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with its system pool, managed add-ons and GPU machinery; see the module
    docstring for the defaults it enforces."""

    cluster_arn: pulumi.Output[str]
    """The cluster's ARN (`arn:<partition>:eks:<region>:<account>:cluster/<name>`): what an
    AWS Backup selection names to back up its state and persistent volumes."""
    cluster_name: pulumi.Output[str]
    """The physical cluster name."""
    endpoint: pulumi.Output[str]
    """The API server URL."""
    certificate_authority: pulumi.Output[str]
    """Base64 PEM of the cluster CA."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider for IRSA (Pod Identity is the default; IRSA stays possible)."""
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer (`https://oidc.eks.<region>.amazonaws.com/id/<id>`)."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS made for the control plane and managed nodes."""
    version: pulumi.Output[str]
    """The Kubernetes version the control plane runs."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig JSON (secret) authenticating through `aws eks get-token`."""
    k8s_provider: k8s.Provider
    """A Kubernetes provider for this cluster, for other components' in-cluster resources."""
    node_role_path: str
    """IAM path BU GPU node roles are created under (`/ai-estate/nodes/`)."""
    system_node_role_arn: pulumi.Output[str]
    """The role of the system nodes (not under `node_role_path`)."""
    karpenter_controller_role_arn: pulumi.Output[str] | None
    """Set when Karpenter is installed."""
    karpenter_interruption_queue_name: pulumi.Output[str] | None
    """Set when Karpenter is installed."""
    karpenter_node_role_path: str | None
    """Set when Karpenter is installed: the path its node roles must live under."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        public, cidrs = _validate(args)
        super().__init__("ai-estate:compute:EksCluster", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        ctx = _Context(
            name=name,
            cluster_name=args["name"],
            tags=args["tags"],
            key_arn=pulumi.Output.from_input(args["kms_key_arn"]),
            partition=aws.get_partition_output(opts=invoke).partition,
            region=aws.get_region_output(opts=invoke).region,
            account_id=identity.account_id,
            caller_arn=identity.arn,
            invoke=invoke,
        )
        boundary = args.get("permissions_boundary")

        plane = self._control_plane(ctx, args, public, cidrs)
        cluster = plane.cluster
        admin_policy = self._deployer_access(ctx, cluster, args.get("deployer_role_arn"))

        # Add-ons nodes need to become Ready come first; the pod identity agent before any
        # add-on with a role, since that role's credentials come through it.
        addons: dict[str, aws.eks.Addon] = {}
        for addon in MANAGED_ADDONS:
            if not addon.needs_nodes:
                agent = [addons["eks-pod-identity-agent"]] if addon.service_account else []
                addons[addon.name] = self._managed_addon(ctx, cluster, args, addon, agent)

        node_role, node_policies = self._system_node_role(ctx)
        node_group = self._node_group(
            ctx,
            "system",
            cluster,
            node_role,
            args["private_subnet_ids"],
            args["system_nodes"],
            description=f"System nodes of {ctx.cluster_name}",
            labels=SYSTEM_POOL_LABELS,
            taints=[SYSTEM_POOL_TAINT],
            depends_on=[*node_policies, *addons.values()],
        )
        for addon in MANAGED_ADDONS:
            if addon.needs_nodes:
                addons[addon.name] = self._managed_addon(ctx, cluster, args, addon, [node_group])
        bu_cpu = _bu_cpu_nodes(args)
        if bu_cpu is not None:
            # Untainted: BU pods that ask for no GPU land here, never beside the controllers.
            self._node_group(
                ctx,
                "bu-cpu",
                cluster,
                node_role,
                args["private_subnet_ids"],
                bu_cpu,
                description=f"BU CPU nodes of {ctx.cluster_name}",
                labels=BU_CPU_POOL_LABELS,
                taints=[],
                depends_on=[*node_policies, *addons.values()],
            )

        self.cluster_security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id
        )
        api_rules = self._api_access_rules(ctx, args.get("api_access_cidrs", []))
        self.kubeconfig, self.k8s_provider = self._kubernetes_access(ctx, plane, api_rules)
        ca_data = cluster.certificate_authority.apply(lambda ca: ca.data)

        # In-cluster resources wait for somewhere to run and the right to be created.
        in_cluster: list[pulumi.Resource] = [node_group, addons["coredns"], admin_policy]
        self._bu_deployers(ctx, cluster, args.get("bu_deployers", []), in_cluster)
        karpenter = self._gpu_machinery(ctx, cluster, args, in_cluster, boundary)
        self.karpenter_controller_role_arn = karpenter.controller_role_arn if karpenter else None
        self.karpenter_interruption_queue_name = (
            karpenter.interruption_queue_name if karpenter else None
        )
        self.karpenter_node_role_path = karpenter.node_role_path if karpenter else None
        TolerationGuard(
            f"{name}-toleration-guard",
            {"k8s_provider": self.k8s_provider, "label_key": BU_TAINT_KEY},
            child(self, depends_on=[admin_policy]),
        )

        # -- outputs ----------------------------------------------------------------------
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.certificate_authority = ca_data
        self.oidc_provider_arn = plane.oidc.arn
        self.oidc_issuer_url = plane.issuer
        self.version = cluster.version
        self.node_role_path = NODE_ROLE_PATH
        self.system_node_role_arn = node_role.arn
        outputs: dict[str, Any] = {
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "certificateAuthority": self.certificate_authority,
            "oidcProviderArn": self.oidc_provider_arn,
            "oidcIssuerUrl": self.oidc_issuer_url,
            "clusterSecurityGroupId": self.cluster_security_group_id,
            "version": self.version,
            "kubeconfig": self.kubeconfig,
            "k8sProvider": self.k8s_provider,
            "nodeRolePath": self.node_role_path,
            "systemNodeRoleArn": self.system_node_role_arn,
        }
        if self.karpenter_controller_role_arn is not None:
            outputs["karpenterControllerRoleArn"] = self.karpenter_controller_role_arn
            outputs["karpenterInterruptionQueueName"] = self.karpenter_interruption_queue_name
            outputs["karpenterNodeRolePath"] = self.karpenter_node_role_path
        self.register_outputs(outputs)

    # -- control plane --------------------------------------------------------------------

    def _control_plane(
        self, ctx: _Context, args: EksClusterArgs, public: bool, cidrs: list[str]
    ) -> _ControlPlane:
        name, protect = ctx.name, args["protect"]
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            description=f"EKS control plane of {ctx.cluster_name}",
            tags=ctx.tags,
            opts=child(self),
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=ctx.policy_arn("AmazonEKSClusterPolicy"),
            opts=child(self),
        )
        encryption_policy = aws.iam.RolePolicy(
            f"{name}-cluster-kms",
            role=cluster_role.id,
            policy=ctx.key_arn.apply(cluster_encryption_policy),
            opts=child(self),
        )
        # EKS writes to exactly this name; made here first, it is encrypted and retained as we
        # say, instead of EKS creating it unencrypted with logs kept forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{ctx.cluster_name}/cluster",
            retention_in_days=args["log_retention_days"],
            kms_key_id=ctx.key_arn,
            tags=ctx.tags,
            opts=stateful(self, protect),
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=ctx.cluster_name,
            version=args["version"],
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args["private_subnet_ids"],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=cidrs if public else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # The creator's implicit admin cannot be seen or revoked as code; the deployer
                # gets an explicit access entry instead.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=ctx.key_arn),
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # Said explicitly: the API's default is EXTENDED, which silently bills a cluster
            # left behind at six times the standard rate.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(
                support_type=args.get("support_type", "STANDARD")
            ),
            # No unmanaged vpc-cni/kube-proxy/CoreDNS: the managed add-ons own them.
            bootstrap_self_managed_addons=False,
            deletion_protection=protect,
            tags=ctx.tags,
            opts=stateful(self, protect, depends_on=[log_group, cluster_policy, encryption_policy]),
        )
        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            # No thumbprint: IAM fetches it itself, and for EKS issuers it trusts the CA anyway.
            tags=ctx.tags,
            opts=child(self),
        )
        return _ControlPlane(cluster, oidc, issuer)

    def _deployer_access(
        self, ctx: _Context, cluster: aws.eks.Cluster, deployer: pulumi.Input[str] | None
    ) -> aws.eks.AccessPolicyAssociation:
        """Who may administer the cluster: the deployer, explicitly."""
        if deployer is None:
            deployer = aws.iam.get_session_context_output(
                arn=ctx.caller_arn, opts=ctx.invoke
            ).issuer_arn
        entry = aws.eks.AccessEntry(
            f"{ctx.name}-deployer",
            cluster_name=cluster.name,
            principal_arn=deployer,
            type="STANDARD",
            tags=ctx.tags,
            opts=child(self),
        )
        return aws.eks.AccessPolicyAssociation(
            f"{ctx.name}-deployer-admin",
            cluster_name=cluster.name,
            principal_arn=entry.principal_arn,
            policy_arn=ctx.access_policy_arn("AmazonEKSClusterAdminPolicy"),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=child(self),
        )

    def _managed_addon(
        self,
        ctx: _Context,
        cluster: aws.eks.Cluster,
        args: EksClusterArgs,
        addon: ManagedAddon,
        depends_on: list[pulumi.Resource],
    ) -> aws.eks.Addon:
        """One EKS managed add-on at its pinned version, with its Pod Identity role if any."""
        name = ctx.name
        associations = None
        if addon.service_account and addon.policy:
            role = pod_identity_role(
                self,
                f"{name}-{addon.name}-role",
                f"{addon.name} add-on of {ctx.cluster_name}",
                ctx.tags,
                args.get("permissions_boundary"),
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-{addon.name}-policy",
                role=role.name,
                policy_arn=ctx.policy_arn(addon.policy),
                opts=child(self),
            )
            associations = [
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=role.arn, service_account=addon.service_account
                )
            ]
        pinned = args.get("addon_versions", {}).get(addon.name)
        version: pulumi.Input[str] = (
            pinned
            if pinned
            # EKS's default for this Kubernetes version (not the newest): it changes only when
            # AWS moves the default, not on every add-on release.
            else aws.eks.get_addon_version_output(
                addon_name=addon.name,
                kubernetes_version=args["version"],
                most_recent=False,
                opts=ctx.invoke,
            ).version
        )
        return aws.eks.Addon(
            f"{name}-{addon.name}",
            cluster_name=cluster.name,
            addon_name=addon.name,
            addon_version=version,
            pod_identity_associations=associations,
            configuration_values=addon.configuration,
            # The add-ons are owned here: configuration drift made by hand is overwritten.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=ctx.tags,
            opts=child(self, depends_on=depends_on),
        )

    # -- node pools -----------------------------------------------------------------------

    def _system_node_role(self, ctx: _Context) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The role of the platform's own nodes (system and BU CPU pools), with the grant Auto
        Scaling needs to launch them with encrypted volumes."""
        name = ctx.name
        node_role = aws.iam.Role(
            f"{name}-system-node-role",
            # Deliberately outside NODE_ROLE_PATH: Karpenter must not launch nodes with it.
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            description=f"System nodes of {ctx.cluster_name}",
            tags=ctx.tags,
            opts=child(self),
        )
        policies: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-system-node-{suffix}",
                role=node_role.name,
                policy_arn=ctx.policy_arn(policy),
                opts=child(self),
            )
            for suffix, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("ecr-pull", "AmazonEC2ContainerRegistryPullOnly"),
            )
        ]
        # Auto Scaling launches the nodes with its service-linked role, which needs a grant to
        # create volumes encrypted with a customer key.
        aws.kms.Grant(
            f"{name}-autoscaling-ebs",
            key_id=ctx.key_arn,
            grantee_principal=pulumi.Output.all(ctx.partition, ctx.account_id).apply(
                lambda p: (
                    f"arn:{p[0]}:iam::{p[1]}:role/aws-service-role/"
                    "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
                )
            ),
            operations=[
                "Encrypt",
                "Decrypt",
                "ReEncryptFrom",
                "ReEncryptTo",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "DescribeKey",
                "CreateGrant",
            ],
            opts=child(self),
        )
        return node_role, policies

    def _node_group(
        self,
        ctx: _Context,
        pool: str,
        cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        subnet_ids: pulumi.Input[list[str]],
        spec: SystemNodesSpec,
        *,
        description: str,
        labels: dict[str, str],
        taints: list[dict[str, str]],
        depends_on: list[pulumi.Resource],
    ) -> aws.eks.NodeGroup:
        """An on-demand AL2023 managed node group of the platform (`system` or `bu-cpu`) on the
        hardened launch template."""
        template = hardened_launch_template(
            self,
            f"{ctx.name}-{pool}-lt",
            f"{ctx.cluster_name}-{pool}",
            description=description,
            disk_gib=spec["disk_gib"],
            kms_key_arn=ctx.key_arn,
            tags=ctx.tags,
        )
        return aws.eks.NodeGroup(
            f"{ctx.name}-{pool}",
            cluster_name=cluster.name,
            # A prefix, not a name: a replacement (new instance types) is created before the
            # old group goes, and both cannot share a name.
            node_group_name_prefix=f"{ctx.cluster_name}-{pool}-",
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=spec["instance_types"],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=spec["min_size"],
                desired_size=spec["desired_size"],
                max_size=spec["max_size"],
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels=labels,
            taints=[
                aws.eks.NodeGroupTaintArgs(
                    key=t["key"], value=t["value"], effect=EKS_TAINT_EFFECTS[t["effect"]]
                )
                for t in taints
            ]
            or None,
            tags=ctx.tags,
            # Cluster Autoscaler discovers every managed group (EKS tags their ASGs) and owns
            # the desired size once the group exists: a `pulumi up` must not reset it.
            opts=child(
                self,
                depends_on=depends_on,
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )

    # -- Kubernetes access ----------------------------------------------------------------

    def _api_access_rules(
        self, ctx: _Context, api_access_cidrs: list[str]
    ) -> list[aws.vpc.SecurityGroupIngressRule]:
        return [
            aws.vpc.SecurityGroupIngressRule(
                f"{ctx.name}-api-access-{i}",
                security_group_id=self.cluster_security_group_id,
                description=f"Kubernetes API (private endpoint) from {cidr}",
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                tags=ctx.tags,
                opts=child(self),
            )
            for i, cidr in enumerate(api_access_cidrs)
        ]

    def _kubernetes_access(
        self,
        ctx: _Context,
        plane: _ControlPlane,
        api_rules: list[aws.vpc.SecurityGroupIngressRule],
    ) -> tuple[pulumi.Output[str], k8s.Provider]:
        """A kubeconfig and provider for this program. The provider waits for the API-access
        rules: without them the private endpoint is unreachable from the deploy runner, and
        on delete it goes before them, so Kubernetes objects are removed while it can still
        reach the API."""
        cluster = plane.cluster
        ca_data = cluster.certificate_authority.apply(lambda ca: ca.data)
        rendered: pulumi.Output[str] = pulumi.Output.all(
            cluster.name, cluster.endpoint, ca_data, ctx.region
        ).apply(lambda p: json.dumps(kubeconfig(p[0], p[1], p[2], p[3])))
        config: pulumi.Output[str] = pulumi.Output.secret(rendered)
        provider = k8s.Provider(
            f"{ctx.name}-k8s",
            kubeconfig=config,
            opts=child(self, depends_on=list(api_rules) or None),
        )
        return config, provider

    def _bu_deployers(
        self,
        ctx: _Context,
        cluster: aws.eks.Cluster,
        deployers: list[BuDeployerSpec],
        in_cluster: list[pulumi.Resource],
    ) -> None:
        """Namespace-scoped access for BU pipelines, and RBAC for the few cluster-scoped
        objects a BU stack creates (`bu_deployer_cluster_rules`).

        `AmazonEKSAdminPolicy` scoped to the BU's namespaces is the least EKS access policy
        that lets the BU stack create its objects: `AmazonEKSEditPolicy` (Kubernetes `edit`)
        cannot create the Roles and RoleBindings of the BU's personas. Neither lets it write
        ResourceQuota or LimitRange (`admin` only reads them), and a RoleBinding for them would
        need the namespace before the BU stack creates it: the ClusterRole grants them, and
        `BuDeployerGuard` (an admission policy) keeps every cluster-wide grant to the BU's own
        names."""
        if deployers:
            BuDeployerGuard(
                f"{ctx.name}-bu-deployer-guard",
                {
                    "k8s_provider": self.k8s_provider,
                    "namespaces": sorted({ns for d in deployers for ns in d["namespaces"]}),
                },
                child(self, depends_on=in_cluster),
            )
        for deployer in deployers:
            slug = role_name_of(deployer["role_arn"])
            namespaces = list(deployer["namespaces"])
            groups = bu_deployer_groups(namespaces)
            entry = aws.eks.AccessEntry(
                f"{ctx.name}-bu-deployer-{slug}",
                cluster_name=cluster.name,
                principal_arn=deployer["role_arn"],
                type="STANDARD",
                kubernetes_groups=groups,
                tags=ctx.tags,
                opts=child(self),
            )
            aws.eks.AccessPolicyAssociation(
                f"{ctx.name}-bu-deployer-{slug}-admin",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=ctx.access_policy_arn("AmazonEKSAdminPolicy"),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="namespace", namespaces=namespaces
                ),
                opts=child(self),
            )
            role_name = f"ai-estate-bu-deployer-{slug}"
            k8s_opts = child(self, provider=self.k8s_provider, depends_on=in_cluster)
            role = rbac.ClusterRole(
                f"{ctx.name}-bu-deployer-{slug}-role",
                metadata=meta.ObjectMetaArgs(name=role_name),
                rules=[
                    rbac.PolicyRuleArgs(
                        api_groups=r["apiGroups"],
                        resources=r["resources"],
                        resource_names=r.get("resourceNames"),
                        verbs=r["verbs"],
                    )
                    for r in bu_deployer_cluster_rules(namespaces)
                ],
                opts=k8s_opts,
            )
            rbac.ClusterRoleBinding(
                f"{ctx.name}-bu-deployer-{slug}-binding",
                metadata=meta.ObjectMetaArgs(name=role_name),
                role_ref=rbac.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role_name
                ),
                subjects=[
                    rbac.SubjectArgs(kind="Group", name=g, api_group="rbac.authorization.k8s.io")
                    for g in groups
                ],
                opts=child(self, provider=self.k8s_provider, depends_on=[*in_cluster, role]),
            )

    # -- GPU machinery --------------------------------------------------------------------

    def _gpu_machinery(
        self,
        ctx: _Context,
        cluster: aws.eks.Cluster,
        args: EksClusterArgs,
        in_cluster: list[pulumi.Resource],
        boundary: pulumi.Input[str] | None,
    ) -> Karpenter | None:
        """Cluster Autoscaler and/or Karpenter, and the NVIDIA software; returns Karpenter."""
        name, protect = ctx.name, args["protect"]
        provisioners = args["gpu_provisioners"]
        # The BU CPU pool is a managed group too: it needs the autoscaler even where GPUs
        # come from Karpenter alone.
        if "managed" in provisioners or _bu_cpu_nodes(args) is not None:
            ClusterAutoscaler(
                f"{name}-cluster-autoscaler",
                {
                    "cluster_name": cluster.name,
                    "kubernetes_version": args["version"],
                    "k8s_provider": self.k8s_provider,
                    "node_selector": SYSTEM_POOL_LABELS,
                    "tags": ctx.tags,
                    "permissions_boundary": boundary,
                },
                child(self, depends_on=in_cluster),
            )
        karpenter = None
        if "karpenter" in provisioners:
            karpenter = Karpenter(
                f"{name}-karpenter",
                {
                    "cluster_name": cluster.name,
                    "node_role_path": NODE_ROLE_PATH,
                    "replicas": 2 if protect else 1,
                    "k8s_provider": self.k8s_provider,
                    "kms_key_arn": args["kms_key_arn"],
                    "node_selector": SYSTEM_POOL_LABELS,
                    "tags": ctx.tags,
                    "permissions_boundary": boundary,
                },
                child(self, depends_on=in_cluster),
            )
        Kueue(
            f"{name}-kueue",
            {
                "k8s_provider": self.k8s_provider,
                "node_selector": SYSTEM_POOL_LABELS,
                "tolerations": [SYSTEM_POOL_TOLERATION],
                "replicas": 2 if protect else 1,
            },
            child(self, depends_on=in_cluster),
        )
        GpuSoftware(
            f"{name}-gpu-software",
            {
                "gpu_software": args["gpu_software"],
                "time_slicing_replicas": args["time_slicing_replicas"],
                "mig_strategy": args["mig_strategy"],
                "k8s_provider": self.k8s_provider,
                "node_selector": SYSTEM_POOL_LABELS,
            },
            child(self, depends_on=in_cluster),
        )
        return karpenter


#: Kubernetes taint effects -> the EKS node group API's spelling.
EKS_TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


def _bu_cpu_nodes(args: EksClusterArgs) -> BuCpuNodesSpec | None:
    """The BU CPU pool to build, if any."""
    spec = args.get("bu_cpu_nodes")
    return spec if spec is not None and spec.get("enabled", True) else None


def _validate(args: EksClusterArgs) -> tuple[bool, list[str]]:
    """Every mistake a user can make in config, reported before anything is registered."""
    if kubernetes_minor(args["version"]) < MIN_KUBERNETES_VERSION:
        raise ValueError(
            f"version: Kubernetes {args['version']} is too old; the estate needs 1.30 or "
            "later (ValidatingAdmissionPolicy v1)"
        )
    public, cidrs = endpoint_access(args["public_access_cidrs"])
    validate_provisioners(args["gpu_provisioners"])
    validate_gpu_software(args["gpu_software"], args["mig_strategy"], args["time_slicing_replicas"])
    spec = args["system_nodes"]
    validate_node_sizes(spec["min_size"], spec["desired_size"], spec["max_size"])
    bu_cpu = _bu_cpu_nodes(args)
    if bu_cpu is not None:
        validate_node_sizes(bu_cpu["min_size"], bu_cpu["desired_size"], bu_cpu["max_size"])
    if args.get("support_type", "STANDARD") not in SUPPORT_TYPES:
        raise ValueError(f"support_type must be one of {', '.join(SUPPORT_TYPES)}")
    validate_addon_versions(args.get("addon_versions", {}))
    return public, cidrs


def hardened_launch_template(
    parent: pulumi.Resource,
    name: str,
    node_name: str,
    *,
    description: str,
    disk_gib: int,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
) -> aws.ec2.LaunchTemplate:
    """The launch template every platform node group uses: IMDSv2 only with one hop (pods
    cannot borrow the node's credentials), an encrypted gp3 root volume, and tags that reach
    the instances, volumes and ENIs (node group tags alone stop at the Auto Scaling group)."""
    node_tags = {**tags, "Name": node_name}
    return aws.ec2.LaunchTemplate(
        name,
        name_prefix=f"{node_name}-",
        description=description,
        update_default_version=True,
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # One hop: the node reaches IMDS, pods behind the CNI do not.
            http_put_response_hop_limit=1,
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",  # the AL2023 root device
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=disk_gib,
                    volume_type="gp3",
                    encrypted="true",
                    kms_key_id=kms_key_arn,
                    delete_on_termination="true",
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=node_tags)
            for kind in ("instance", "volume", "network-interface")
        ],
        tags=tags,
        opts=child(parent),
    )


class BuDeployerGuardArgs(TypedDict):
    """Inputs of `BuDeployerGuard`."""

    k8s_provider: k8s.Provider
    """The provider for the cluster the policy is installed into."""
    namespaces: list[str]
    """Every BU namespace some deployer may deploy to."""


class BuDeployerGuard(pulumi.ComponentResource):
    """A ValidatingAdmissionPolicy that keeps BU deployers' cluster-wide grants (Namespaces,
    ResourceQuotas, LimitRanges, Karpenter NodePools and EC2NodeClasses) to their own BU's
    names; see `bu_deployer_scope_expression`."""

    def __init__(
        self, name: str, args: BuDeployerGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:BuDeployerGuard", name, None, opts)
        provider = args["k8s_provider"]
        after = _depends_on_of(opts)
        groups = sorted({g for g, _ in BU_DEPLOYER_GUARDED})
        policy = admission.ValidatingAdmissionPolicy(
            f"{name}-policy",
            metadata=meta.ObjectMetaArgs(name="ai-estate-bu-deployer-scope"),
            spec=admission.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=admission.MatchResourcesArgs(
                    resource_rules=[
                        admission.NamedRuleWithOperationsArgs(
                            api_groups=[group],
                            api_versions=["*"],
                            operations=["CREATE", "UPDATE", "DELETE"],
                            resources=sorted(r for g, r in BU_DEPLOYER_GUARDED if g == group),
                        )
                        for group in groups
                    ]
                ),
                match_conditions=[
                    admission.MatchConditionArgs(
                        name="from-a-bu-deployer", expression=bu_deployer_match_condition()
                    )
                ],
                validations=[
                    admission.ValidationArgs(
                        expression=bu_deployer_scope_expression(args["namespaces"]),
                        message=(
                            "a BU deployer may change only its own namespace, the objects in "
                            "it, and Karpenter objects named after its BU"
                        ),
                        reason="Forbidden",
                    )
                ],
            ),
            opts=child(self, provider=provider, depends_on=after),
        )
        admission.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            metadata=meta.ObjectMetaArgs(name="ai-estate-bu-deployer-scope"),
            spec=admission.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy.metadata.name, validation_actions=["Deny"]
            ),
            opts=child(self, provider=provider, depends_on=[*after, policy]),
        )
        self.register_outputs({})


class ClusterRolesBoundaryArgs(TypedDict):
    """Inputs of `ClusterRolesBoundary`."""

    cluster_name: str
    """The physical cluster name (the policy is `<cluster>-addon-boundary`)."""
    tags: dict[str, str]
    """Tags of the policy."""


class ClusterRolesBoundary(pulumi.ComponentResource):
    """The managed policy that bounds the add-on roles of a BU's dedicated cluster: see
    `cluster_roles_boundary_document`."""

    arn: pulumi.Output[str]
    """The policy ARN (the roles' `permissions_boundary`)."""

    def __init__(
        self, name: str, args: ClusterRolesBoundaryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:compute:ClusterRolesBoundary", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account = aws.get_caller_identity_output(opts=invoke).account_id
        cluster = args["cluster_name"]
        policy = aws.iam.Policy(
            f"{name}-policy",
            name=f"{cluster}-addon-boundary",
            description=f"Ceiling of the add-on roles of EKS cluster {cluster}",
            policy=pulumi.Output.all(partition, region, account).apply(
                lambda p: cluster_roles_boundary_document(p[0], p[1], p[2], cluster, NODE_ROLE_PATH)
            ),
            tags=args["tags"],
            opts=child(self),
        )
        self.arn = policy.arn
        self.register_outputs({"arn": self.arn})
