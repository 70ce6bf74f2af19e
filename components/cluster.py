"""EKS cluster: the shared Kubernetes control plane of an environment, its system node pool,
the EKS managed add-ons, and the GPU machinery every BU's GPU pools plug into.

Safe by default: the API endpoint is private unless public CIDRs are listed (and never open to
the world), Kubernetes secrets are envelope-encrypted with the platform's customer key, all five
control-plane log streams go to a log group encrypted with the same key, authentication is by
EKS access entries only (no `aws-auth` ConfigMap), and workloads get AWS credentials from EKS Pod
Identity rather than from the node role: nodes run with IMDSv2 and a hop limit of 1, so a pod
cannot borrow the node's credentials, and the node role has no CNI or storage permissions.

BU stacks create their GPU node roles under `NODE_ROLE_PATH`; Karpenter may pass only those.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .addons import (
    BU_TAINT_KEY,
    ClusterAutoscaler,
    GpuSoftware,
    Karpenter,
    TolerationGuard,
    pod_identity_role,
    validate_gpu_software,
)
from .network import service_trust_policy
from .options import child, stateful

#: IAM path of every role a GPU node may run with; Karpenter's PassRole is limited to it.
NODE_ROLE_PATH = "/ai-estate/nodes/"
#: All control-plane log streams: audit and authenticator are the ones an incident needs.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
GPU_PROVISIONERS = ("managed", "karpenter")
#: The label of the system pool; cluster add-ons are pinned to it.
SYSTEM_POOL_LABELS = {"ai-estate/pool": "system"}
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
    ManagedAddon("coredns", needs_nodes=True),
    # V2 only touches volumes and snapshots the driver tagged for a cluster, not every volume.
    ManagedAddon(
        "aws-ebs-csi-driver",
        "ebs-csi-controller-sa",
        "AmazonEBSCSIDriverPolicyV2",
        needs_nodes=True,
    ),
)


# -- pure functions ------------------------------------------------------------------------------


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


def managed_policy_arn(partition: str, name: str) -> str:
    """The ARN of an AWS managed IAM policy."""
    return f"arn:{partition}:iam::aws:policy/{name}"


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
    """Nodes at creation; within min..max."""
    max_size: int
    """Most nodes."""
    disk_gib: int
    """Root volume size (gp3, encrypted with the cluster key)."""


class EksClusterSettings(TypedDict):
    """The cluster settings a stack file chooses (`ai-estate:cluster`); `EksClusterArgs` adds
    the wiring (network, key, names) the estate supplies."""

    version: str
    """Kubernetes version, e.g. `1.31` (1.30 or later)."""
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


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with its system pool, managed add-ons and GPU machinery; see the module
    docstring for the defaults it enforces."""

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
        # Every mistake a user can make in config is reported before anything is registered.
        if kubernetes_minor(args["version"]) < MIN_KUBERNETES_VERSION:
            raise ValueError(
                f"version: Kubernetes {args['version']} is too old; the estate needs 1.30 or "
                "later (ValidatingAdmissionPolicy v1)"
            )
        public, cidrs = endpoint_access(args["public_access_cidrs"])
        validate_provisioners(args["gpu_provisioners"])
        validate_gpu_software(
            args["gpu_software"], args["mig_strategy"], args["time_slicing_replicas"]
        )
        spec = args["system_nodes"]
        validate_node_sizes(spec["min_size"], spec["desired_size"], spec["max_size"])
        super().__init__("ai-estate:compute:EksCluster", name, None, opts)

        cluster_name, tags, protect = args["name"], args["tags"], args["protect"]
        key_arn = pulumi.Output.from_input(args["kms_key_arn"])
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        def policy_arn(policy: str) -> pulumi.Output[str]:
            return partition.apply(lambda p: managed_policy_arn(p, policy))

        # -- control plane ----------------------------------------------------------------
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            description=f"EKS control plane of {cluster_name}",
            tags=tags,
            opts=child(self),
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=policy_arn("AmazonEKSClusterPolicy"),
            opts=child(self),
        )
        encryption_policy = aws.iam.RolePolicy(
            f"{name}-cluster-kms",
            role=cluster_role.id,
            policy=key_arn.apply(cluster_encryption_policy),
            opts=child(self),
        )
        # EKS writes to exactly this name; made here first, it is encrypted and retained as we
        # say, instead of EKS creating it unencrypted with logs kept forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=args["log_retention_days"],
            kms_key_id=key_arn,
            tags=tags,
            opts=stateful(self, protect),
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
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
                # gets an explicit access entry below instead.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn),
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # No unmanaged vpc-cni/kube-proxy/CoreDNS: the managed add-ons below own them.
            bootstrap_self_managed_addons=False,
            deletion_protection=protect,
            tags=tags,
            opts=stateful(self, protect, depends_on=[log_group, cluster_policy, encryption_policy]),
        )
        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            # No thumbprint: IAM fetches it itself, and for EKS issuers it trusts the CA anyway.
            tags=tags,
            opts=child(self),
        )

        # -- who may administer it: the deployer, explicitly ------------------------------
        deployer = args.get("deployer_role_arn")
        if deployer is None:
            deployer = aws.iam.get_session_context_output(arn=identity.arn, opts=invoke).issuer_arn
        admin_entry = aws.eks.AccessEntry(
            f"{name}-deployer",
            cluster_name=cluster.name,
            principal_arn=deployer,
            type="STANDARD",
            tags=tags,
            opts=child(self),
        )
        admin_policy = aws.eks.AccessPolicyAssociation(
            f"{name}-deployer-admin",
            cluster_name=cluster.name,
            principal_arn=admin_entry.principal_arn,
            policy_arn=partition.apply(
                lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
            ),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=child(self),
        )

        # -- managed add-ons that nodes need to become Ready ------------------------------
        addons: dict[str, aws.eks.Addon] = {}

        def managed_addon(addon: ManagedAddon, depends_on: list[pulumi.Resource]) -> aws.eks.Addon:
            associations = None
            if addon.service_account and addon.policy:
                role = pod_identity_role(
                    self,
                    f"{name}-{addon.name}-role",
                    f"{addon.name} add-on of {cluster_name}",
                    tags,
                )
                aws.iam.RolePolicyAttachment(
                    f"{name}-{addon.name}-policy",
                    role=role.name,
                    policy_arn=policy_arn(addon.policy),
                    opts=child(self),
                )
                associations = [
                    aws.eks.AddonPodIdentityAssociationArgs(
                        role_arn=role.arn, service_account=addon.service_account
                    )
                ]
            version = aws.eks.get_addon_version_output(
                addon_name=addon.name,
                kubernetes_version=args["version"],
                most_recent=True,
                opts=invoke,
            )
            resource = aws.eks.Addon(
                f"{name}-{addon.name}",
                cluster_name=cluster.name,
                addon_name=addon.name,
                addon_version=version.version,
                pod_identity_associations=associations,
                configuration_values=addon.configuration,
                # The add-ons are owned here: configuration drift made by hand is overwritten.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                opts=child(self, depends_on=depends_on),
            )
            addons[addon.name] = resource
            return resource

        for addon in MANAGED_ADDONS:
            if not addon.needs_nodes:
                # An add-on with a role gets its credentials from the Pod Identity agent.
                agent = [addons["eks-pod-identity-agent"]] if addon.service_account else []
                managed_addon(addon, agent)

        # -- system node pool -------------------------------------------------------------
        node_role = aws.iam.Role(
            f"{name}-system-node-role",
            # Deliberately outside NODE_ROLE_PATH: Karpenter must not launch nodes with it.
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            description=f"System nodes of {cluster_name}",
            tags=tags,
            opts=child(self),
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-system-node-{suffix}",
                role=node_role.name,
                policy_arn=policy_arn(policy),
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
            key_id=key_arn,
            grantee_principal=pulumi.Output.all(partition, identity.account_id).apply(
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
        node_tags = {**tags, "Name": f"{cluster_name}-system"}
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-system-lt",
            name_prefix=f"{cluster_name}-system-",
            description=f"System nodes of {cluster_name}",
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
                        volume_size=spec["disk_gib"],
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            # Launch-template tags reach the instances, volumes and ENIs EKS launches; node
            # group tags alone stop at the Auto Scaling group.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=node_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags,
            opts=child(self),
        )
        node_group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            # A prefix, not a name: a replacement (new instance types) is created before the
            # old group goes, and both cannot share a name.
            node_group_name_prefix=f"{cluster_name}-system-",
            node_role_arn=node_role.arn,
            subnet_ids=args["private_subnet_ids"],
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
                id=launch_template.id, version=launch_template.latest_version.apply(str)
            ),
            labels=SYSTEM_POOL_LABELS,
            tags=tags,
            opts=child(self, depends_on=[*node_policies, *addons.values()]),
        )

        for addon in MANAGED_ADDONS:
            if addon.needs_nodes:
                managed_addon(addon, [node_group])

        # -- Kubernetes access from this program -----------------------------------------
        ca_data = cluster.certificate_authority.apply(lambda ca: ca.data)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, ca_data, region).apply(
                lambda p: json.dumps(kubeconfig(p[0], p[1], p[2], p[3]))
            )
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=child(self)
        )
        # In-cluster resources wait for somewhere to run and the right to be created.
        in_cluster = [node_group, addons["coredns"], admin_policy]

        # -- GPU machinery ----------------------------------------------------------------
        provisioners = args["gpu_provisioners"]
        if "managed" in provisioners:
            ClusterAutoscaler(
                f"{name}-cluster-autoscaler",
                {
                    "cluster_name": cluster.name,
                    "kubernetes_version": args["version"],
                    "k8s_provider": self.k8s_provider,
                    "node_selector": SYSTEM_POOL_LABELS,
                    "tags": tags,
                },
                child(self, depends_on=in_cluster),
            )
        self.karpenter_controller_role_arn = None
        self.karpenter_interruption_queue_name = None
        self.karpenter_node_role_path = None
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
                    "tags": tags,
                },
                child(self, depends_on=in_cluster),
            )
            self.karpenter_controller_role_arn = karpenter.controller_role_arn
            self.karpenter_interruption_queue_name = karpenter.interruption_queue_name
            self.karpenter_node_role_path = karpenter.node_role_path
        GpuSoftware(
            f"{name}-gpu-software",
            {
                "gpu_software": args["gpu_software"],
                "time_slicing_replicas": args["time_slicing_replicas"],
                "mig_strategy": args["mig_strategy"],
                "k8s_provider": self.k8s_provider,
            },
            child(self, depends_on=in_cluster),
        )
        TolerationGuard(
            f"{name}-toleration-guard",
            {"k8s_provider": self.k8s_provider, "label_key": BU_TAINT_KEY},
            child(self, depends_on=[admin_policy]),
        )

        # -- outputs ----------------------------------------------------------------------
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = ca_data
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer_url = issuer
        self.cluster_security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id
        )
        for i, cidr in enumerate(args.get("api_access_cidrs", [])):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-access-{i}",
                security_group_id=self.cluster_security_group_id,
                description=f"Kubernetes API (private endpoint) from {cidr}",
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                tags=tags,
                opts=child(self),
            )
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
