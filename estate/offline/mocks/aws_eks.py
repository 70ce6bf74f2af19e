"""EKS: clusters (endpoint, OIDC issuer, certificate), node groups, Fargate profiles and add-ons."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import CREATED_AT, fake_certificate_data, stable_hex, stable_uuid
from estate.offline.mocks.registry import (
    Arn,
    AwsType,
    NewAwsResource,
    aws_types,
    invoke,
    resource,
    resource_id,
)

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


#: Current default add-on versions, answered to `aws.eks.get_addon_version`.
ADDON_VERSIONS = {
    "vpc-cni": "v1.19.2-eksbuild.1",
    "coredns": "v1.11.4-eksbuild.2",
    "kube-proxy": "v1.31.3-eksbuild.2",
    "aws-ebs-csi-driver": "v1.38.1-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.4-eksbuild.1",
    "amazon-cloudwatch-observability": "v2.6.0-eksbuild.1",
}

#: The Kubernetes version EKS reports when a program does not choose one.
EKS_DEFAULT_VERSION = "1.31"


aws_types(
    {
        "aws:eks/addon:Addon": AwsType(
            name_property="addonName", arn=Arn("eks", "addon/{cluster}/{name}/{uuid}")
        ),
        "aws:eks/cluster:Cluster": AwsType(arn=Arn("eks", "cluster/{name}")),
        "aws:eks/fargateProfile:FargateProfile": AwsType(
            name_property="fargateProfileName",
            arn=Arn("eks", "fargateprofile/{cluster}/{name}/{uuid}"),
        ),
        "aws:eks/nodeGroup:NodeGroup": AwsType(
            name_property="nodeGroupName", arn=Arn("eks", "nodegroup/{cluster}/{name}/{uuid}")
        ),
    }
)


@resource_id(
    "aws:eks/nodeGroup:NodeGroup", "aws:eks/fargateProfile:FargateProfile", "aws:eks/addon:Addon"
)
def _cluster_scoped_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    return f"{inputs.get('clusterName', 'cluster')}:{physical}"


@resource("aws:eks/cluster:Cluster")
def _cluster(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, physical, region = r.inputs, r.physical, r.region
    return eks_cluster_state(m, inputs, physical, region)


@resource("aws:eks/nodeGroup:NodeGroup")
def _node_group(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, physical, region = r.inputs, r.physical, r.region
    return _node_group_state(m, inputs, physical, region)


@resource("aws:eks/addon:Addon")
def _addon(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, physical = r.inputs, r.physical
    addon = inputs.get("addonName") or physical
    return {
        "addonVersion": inputs.get("addonVersion")
        or ADDON_VERSIONS.get(addon, "v1.0.0-eksbuild.1"),
        "createdAt": CREATED_AT,
        "modifiedAt": CREATED_AT,
    }


def eks_cluster_state(
    m: EstateMocks, inputs: dict[str, Any], physical: str, region: str
) -> dict[str, Any]:
    """What EKS reports for a cluster created with `inputs` (also answers `get_cluster`)."""
    oidc_id = stable_hex(m.account_id, region, physical, length=32).upper()
    vpc_config = dict(inputs.get("vpcConfig") or {})
    subnet_ids = vpc_config.get("subnetIds") or []
    first_subnet = m.lookup(subnet_ids[0] if subnet_ids else None, "aws:ec2/subnet:Subnet")
    vpc_config.setdefault("endpointPublicAccess", True)
    vpc_config.setdefault("endpointPrivateAccess", False)
    if vpc_config.get("endpointPublicAccess"):
        vpc_config.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
    vpc_config["clusterSecurityGroupId"] = "sg-" + stable_hex("clustersg", region, physical)
    vpc_config["vpcId"] = first_subnet.get("vpcId") or "vpc-" + stable_hex("clustervpc", physical)
    network = dict(inputs.get("kubernetesNetworkConfig") or {})
    network.setdefault("ipFamily", "ipv4")
    network.setdefault("serviceIpv4Cidr", "172.20.0.0/16")
    access = dict(inputs.get("accessConfig") or {})
    access.setdefault("authenticationMode", "CONFIG_MAP")
    access.setdefault("bootstrapClusterCreatorAdminPermissions", True)
    return {
        "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": fake_certificate_data("eks", region, physical)},
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}
        ],
        "clusterId": stable_uuid(physical),
        "createdAt": CREATED_AT,
        "platformVersion": "eks.10",
        "status": "ACTIVE",
        "version": inputs.get("version") or EKS_DEFAULT_VERSION,
        "vpcConfig": vpc_config,
        "kubernetesNetworkConfig": network,
        "accessConfig": access,
    }


def _node_group_state(
    m: EstateMocks, inputs: dict[str, Any], physical: str, region: str
) -> dict[str, Any]:
    cluster = m.lookup(inputs.get("clusterName"), "aws:eks/cluster:Cluster")
    version = inputs.get("version") or cluster.get("version") or EKS_DEFAULT_VERSION
    asg = f"eks-{physical}-{stable_uuid('asg', region, physical)}"
    return {
        "status": "ACTIVE",
        "version": version,
        "releaseVersion": inputs.get("releaseVersion") or f"{version}.3-20260101",
        "amiType": inputs.get("amiType") or "AL2023_x86_64_STANDARD",
        "capacityType": inputs.get("capacityType") or "ON_DEMAND",
        "diskSize": inputs.get("diskSize") or 20,
        "instanceTypes": inputs.get("instanceTypes") or ["t3.medium"],
        "updateConfig": inputs.get("updateConfig") or {"maxUnavailable": 1},
        "resources": [{"autoscalingGroups": [{"name": asg}], "remoteAccessSecurityGroupId": ""}],
    }


@invoke("aws:eks/getAddonVersion:getAddonVersion")
def _get_addon_version(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    version = ADDON_VERSIONS.get(a.get("addonName", ""), "v1.0.0-eksbuild.1")
    return {
        "id": a.get("addonName", "addon"),
        "addonName": a.get("addonName"),
        "kubernetesVersion": a.get("kubernetesVersion"),
        "version": version,
    }


@invoke("aws:eks/getCluster:getCluster")
def _get_cluster(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return _describe_cluster(m, str(a.get("name") or "cluster"), region)


@invoke("aws:eks/getClusterAuth:getClusterAuth")
def _get_cluster_auth(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    name = str(a.get("name") or "cluster")
    token_value = "k8s-aws-v1." + base64.urlsafe_b64encode(
        f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity"
        f"&X-Amz-Signature={stable_hex('auth', name, length=64)}".encode()
    ).decode().rstrip("=")
    return {"id": name, "name": name, "token": token_value}


def _describe_cluster(m: EstateMocks, name: str, region: str) -> dict[str, Any]:
    """A cluster as `aws.eks.get_cluster` reports it: one the program made, or a stable one."""
    known = m.lookup(name, "aws:eks/cluster:Cluster")
    state = known or eks_cluster_state(m, {}, name, region)
    return {
        "id": name,
        "name": name,
        "arn": known.get("arn") or m.arn("eks", f"cluster/{name}", True, region),
        "endpoint": state["endpoint"],
        "version": state["version"],
        "status": "ACTIVE",
        "platformVersion": state["platformVersion"],
        "clusterId": state["clusterId"],
        "createdAt": CREATED_AT,
        "roleArn": known.get("roleArn") or f"arn:aws:iam::{m.account_id}:role/{name}-cluster-role",
        "certificateAuthorities": [state["certificateAuthority"]],
        "identities": state["identities"],
        "vpcConfig": state["vpcConfig"],
        "kubernetesNetworkConfigs": [state["kubernetesNetworkConfig"]],
        "accessConfigs": [state["accessConfig"]],
        "tags": known.get("tags") or {},
    }
