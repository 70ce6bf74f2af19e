"""EKS rules: a private (or allow-listed) API endpoint, envelope-encrypted secrets, all
control-plane logs, and no SSH into nodes.

The API server is the one endpoint from which every BU's workloads, secrets and GPU nodes can be
reached, so its exposure blocks everywhere. Secrets encryption and control-plane logs are the
controls an incident review needs; they must be right before anything is promoted. Nodes are
reached through SSM Session Manager (the GPU node role carries AmazonSSMManagedInstanceCore), so
an SSH key pair on a node is never needed and always a standing credential to revoke.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    ENVIRONMENTS,
    Rule,
    Setting,
    Settings,
    checkov,
    cis_eks,
    securityhub,
)
from .properties import as_list, get, is_customer_managed_key, is_true, text

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
"""Every EKS control-plane log stream (the same list as components/cluster.py)."""


# -- eks-endpoint-not-public ----------------------------------------------------------------------


def covers_everything(cidr: Any) -> bool:
    """Whether a CIDR is the whole IPv4 or IPv6 address space (`0.0.0.0/0`, `::/0`)."""
    try:
        return ipaddress.ip_network(text(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def validate_endpoint(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    vpc = args.props.get("vpcConfig")
    public = get(vpc, "endpointPublicAccess")
    # EKS makes the endpoint public unless told otherwise.
    if public is not None and not is_true(public):
        return
    cidrs = [text(c) for c in as_list(get(vpc, "publicAccessCidrs"))]
    state = "public" if public is not None else "public by default (endpointPublicAccess unset)"
    if not cidrs:
        report(
            f"EKS cluster '{args.name}' has an API endpoint that is {state} with no "
            "publicAccessCidrs, which AWS opens to 0.0.0.0/0.",
            None,
        )
        return
    world = [c for c in cidrs if covers_everything(c)]
    if world:
        report(
            f"EKS cluster '{args.name}' has an API endpoint that is {state} and open to "
            f"{', '.join(world)}.",
            None,
        )


# -- eks-secrets-encryption ----------------------------------------------------------------------


def validate_secrets_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    # pulumi-aws v7 has one `encryptionConfig` block; a list is accepted for older programs.
    for config in as_list(args.props.get("encryptionConfig")):
        resources = {text(r) for r in as_list(get(config, "resources"))}
        if "secrets" in resources and is_customer_managed_key(get(config, "provider", "keyArn")):
            return
    report(
        f"EKS cluster '{args.name}' does not envelope-encrypt Kubernetes secrets with a KMS key "
        "(encryptionConfig with resources ['secrets'] and provider.keyArn).",
        None,
    )


# -- eks-control-plane-logging ------------------------------------------------------------------


def validate_control_plane_logging(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    enabled = {text(t) for t in as_list(args.props.get("enabledClusterLogTypes"))}
    missing = [str(t) for t in settings["requiredLogTypes"] if str(t) not in enabled]
    if missing:
        report(
            f"EKS cluster '{args.name}' does not send the {', '.join(missing)} control-plane "
            "logs to CloudWatch (enabledClusterLogTypes).",
            None,
        )


# -- eks-nodegroup-no-ssh ------------------------------------------------------------------------


def validate_no_ssh(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    if args.resource_type == LAUNCH_TEMPLATE:
        key = text(args.props.get("keyName"))
        if key:
            report(
                f"Launch template '{args.name}' installs the EC2 key pair '{key}' on its nodes.",
                None,
            )
        return
    remote = args.props.get("remoteAccess")
    key = text(get(remote, "ec2SshKey"))
    sources = as_list(get(remote, "sourceSecurityGroupIds"))
    if not key and not sources:
        return
    # Without source security groups EKS opens port 22 to 0.0.0.0/0 (CKV_AWS_100).
    opened = "to the listed security groups" if sources else "from any address (0.0.0.0/0)"
    with_key = f" with key pair '{key}'" if key else ""
    report(f"Node group '{args.name}' enables SSH remote access{with_key}, {opened}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="eks-endpoint-not-public",
        title="EKS API endpoint is not open to the internet",
        description=(
            "Every EKS cluster's API endpoint is private, or public only to listed CIDRs that "
            "are not 0.0.0.0/0 or ::/0."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set vpc_config endpoint_private_access=True and endpoint_public_access=False, or "
            "keep it public with public_access_cidrs listing the networks that need it "
            "(EksCluster does this from public_access_cidrs)."
        ),
        kind="resource",
        validate=validate_endpoint,
        resource_types=frozenset({CLUSTER}),
        frameworks=(checkov("CKV_AWS_38"), cis_eks("5.4.1")),
        domain="eks",
        rationale=(
            "CKV_AWS_39 (public endpoint disabled) is not claimed: a public endpoint restricted "
            "to known CIDRs is allowed, for pipelines that cannot reach the VPC."
        ),
    ),
    Rule(
        id="eks-secrets-encryption",
        title="EKS secrets are encrypted with a customer key",
        description=(
            "Every EKS cluster envelope-encrypts Kubernetes secrets with a customer-managed KMS "
            "key (encryptionConfig resources ['secrets'], provider.keyArn)."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set encryption_config=aws.eks.ClusterEncryptionConfigArgs(resources=['secrets'], "
            "provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=<platform key ARN>)) "
            "and give the cluster role kms:Encrypt/Decrypt/DescribeKey on that key."
        ),
        kind="resource",
        validate=validate_secrets_encryption,
        resource_types=frozenset({CLUSTER}),
        frameworks=(checkov("CKV_AWS_58"), cis_eks("5.3.1"), securityhub("EKS.3")),
        domain="eks",
        rationale=(
            "Secrets encryption can be added to a running cluster but never removed, so a dev "
            "cluster without it is advised rather than blocked."
        ),
    ),
    Rule(
        id="eks-control-plane-logging",
        title="EKS control-plane logs are all enabled",
        description=(
            "Every EKS cluster sends the api, audit, authenticator, controllerManager and "
            "scheduler logs to CloudWatch."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set enabled_cluster_log_types=['api', 'audit', 'authenticator', "
            "'controllerManager', 'scheduler'] and create the /aws/eks/<name>/cluster log group "
            "first, with retention and the platform key."
        ),
        kind="resource",
        validate=validate_control_plane_logging,
        resource_types=frozenset({CLUSTER}),
        frameworks=(checkov("CKV_AWS_37"), cis_eks("2.1.1"), securityhub("EKS.8")),
        settings=(
            Setting(
                name="requiredLogTypes",
                description="Control-plane log types every EKS cluster must enable.",
                schema={
                    "type": "array",
                    "items": {"type": "string", "enum": list(CONTROL_PLANE_LOG_TYPES)},
                    "uniqueItems": True,
                },
                defaults={env: list(CONTROL_PLANE_LOG_TYPES) for env in ENVIRONMENTS},
            ),
        ),
        domain="eks",
    ),
    Rule(
        id="eks-nodegroup-no-ssh",
        title="EKS nodes have no SSH access",
        description=(
            "No EKS managed node group sets remoteAccess, and no launch template installs an "
            "EC2 key pair (keyName)."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Remove remote_access from the node group and key_name from the launch template; "
            "reach nodes with SSM Session Manager (AmazonSSMManagedInstanceCore on the node "
            "role), which is IAM-authorised and logged."
        ),
        kind="resource",
        validate=validate_no_ssh,
        resource_types=frozenset({NODE_GROUP, LAUNCH_TEMPLATE}),
        frameworks=(checkov("CKV_AWS_100"),),
        domain="eks",
        rationale=(
            "Launch templates are included because a node group that uses one cannot set "
            "remoteAccess: the key pair moves into the template. In this estate launch templates "
            "exist only for nodes, and SSM replaces key pairs everywhere."
        ),
    ),
)
