"""The EKS cluster component and its add-ons: pure functions, then rendered inventories.

Renders run the real component under the estate's mock runtime (`estate.offline.engine.render`) and
assert on what `pulumi preview` would send: inputs by their camelCase wire names, dependencies,
options. Every Kubernetes object the component creates directly (not through Helm) is rebuilt as
a manifest and validated against the cluster's Kubernetes version.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml

from components import addons, cluster
from components.addons import (
    cluster_autoscaler_image_tag,
    cluster_autoscaler_policy,
    gpu_operator_values,
    karpenter_controller_policy,
    node_name_guard_expression,
    time_slicing_config,
    toleration_guard_expression,
    validate_gpu_software,
)
from components.cluster import (
    NODE_ROLE_PATH,
    EksCluster,
    EksClusterArgs,
    endpoint_access,
    kubeconfig,
    kubernetes_minor,
    validate_node_sizes,
    validate_provisioners,
)
from estate.offline.engine import ProgramError, render

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0d3c1f52-7a11-4c55-9d1e-3b8f6a2e9c10"
DEPLOYER = "arn:aws:iam::123456789012:role/platform-deployer"
K8S_VERSION = "1.35"

PROD_ARGS: dict[str, Any] = {
    "name": "platform-prod-ai",
    "version": K8S_VERSION,
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "private_subnet_ids": ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"],
    "public_access_cidrs": [],
    "kms_key_arn": KEY_ARN,
    "log_retention_days": 365,
    "system_nodes": {
        "instance_types": ["m7i.large"],
        "min_size": 2,
        "desired_size": 3,
        "max_size": 4,
        "disk_gib": 80,
    },
    "gpu_provisioners": ["managed", "karpenter"],
    "gpu_software": "device-plugin",
    "time_slicing_replicas": 4,
    "mig_strategy": "none",
    "protect": True,
    "tags": {"BusinessUnit": "platform", "Environment": "prod", "ManagedBy": "ai-estate"},
    "deployer_role_arn": DEPLOYER,
}


def variant(**changes: Any) -> dict[str, Any]:
    args = copy.deepcopy(PROD_ARGS)
    args.update(changes)
    return args


VARIANTS: dict[str, dict[str, Any]] = {
    # prod: private endpoint, both provisioners, device plugin with time-slicing
    "prod": PROD_ARGS,
    # dev: public endpoint for an office range, managed groups only, GPU Operator with MIG
    "dev": variant(
        name="platform-dev-ai",
        public_access_cidrs=["203.0.113.0/24"],
        gpu_provisioners=["managed"],
        gpu_software="gpu-operator",
        mig_strategy="single",
        time_slicing_replicas=2,
        protect=False,
    ),
    # karpenter only, whole GPUs, deployer taken from the AWS session
    "karpenter": variant(
        name="platform-stage-ai",
        gpu_provisioners=["karpenter"],
        time_slicing_replicas=None,
        protect=False,
        deployer_role_arn=None,
    ),
}


@cache
def rendered(name: str):
    args = VARIANTS[name]
    return render(
        lambda: EksCluster(f"{args['name'].rsplit('-', 1)[0]}-cluster", cast(EksClusterArgs, args)),
        stack=args["name"].rsplit("-", 1)[0],
        project="ai-estate",
        config={"aws:region": "us-east-1"},
    )


def of_type(inventory, typ: str) -> list:
    return [r for r in inventory.resources if r.type == typ]


def one(inventory, typ: str, name_part: str = ""):
    [found] = [r for r in of_type(inventory, typ) if name_part in r.name]
    return found


def statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- pure functions -----------------------------------------------------------------------


def test_endpoint_is_private_without_cidrs_and_never_open_to_the_world():
    assert endpoint_access([]) == (False, [])
    assert endpoint_access(["203.0.113.0/24", "2001:db8::/32"]) == (
        True,
        ["203.0.113.0/24", "2001:db8::/32"],
    )
    for world in ("0.0.0.0/0", "::/0"):
        with pytest.raises(ValueError, match="whole internet"):
            endpoint_access(["203.0.113.0/24", world])
    for bad in ("10.0.0.1/8", "office"):
        with pytest.raises(ValueError, match="not a CIDR"):
            endpoint_access([bad])


def test_cluster_inputs_are_checked_before_anything_is_deployed():
    assert kubernetes_minor("1.31") == (1, 31)
    assert kubernetes_minor("1.31.2") == (1, 31)
    with pytest.raises(ValueError):
        kubernetes_minor("latest")
    validate_node_sizes(0, 0, 1)
    for sizes in ((3, 2, 4), (1, 5, 4), (0, 0, 0)):
        with pytest.raises(ValueError, match="system_nodes"):
            validate_node_sizes(*sizes)
    validate_provisioners([])
    validate_provisioners(["managed", "karpenter"])
    with pytest.raises(ValueError, match="cluster-autoscaler"):
        validate_provisioners(["cluster-autoscaler"])
    validate_gpu_software("gpu-operator", "mixed", None)
    validate_gpu_software("device-plugin", "none", 4)
    with pytest.raises(ValueError, match="MIG needs"):
        validate_gpu_software("device-plugin", "single", None)
    with pytest.raises(ValueError, match="gpu_software"):
        validate_gpu_software("nvidia", "none", None)
    with pytest.raises(ValueError, match="mig_strategy"):
        validate_gpu_software("gpu-operator", "all", None)
    with pytest.raises(ValueError, match="at least 2"):
        validate_gpu_software("device-plugin", "none", 1)


def test_kubeconfig_authenticates_through_aws_eks_get_token():
    config = kubeconfig("platform-prod-ai", "https://x.eks.amazonaws.com", "Q0E=", "eu-west-1")
    [user] = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "aws"
    assert exec_["args"][:2] == ["eks", "get-token"]
    args = exec_["args"]
    assert args[args.index("--cluster-name") + 1] == "platform-prod-ai"
    assert args[args.index("--region") + 1] == "eu-west-1"
    [entry] = config["clusters"]
    assert entry["cluster"] == {
        "server": "https://x.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    assert config["current-context"] == "platform-prod-ai"
    assert "token" not in json.dumps(config["users"]).replace("get-token", "")


TOLERATION_CASES = [
    # (tolerations, namespace BU, allowed)
    (None, "fraud", True),
    ([], "fraud", True),
    (
        [{"key": "ai-estate/bu", "operator": "Equal", "value": "fraud", "effect": "NoSchedule"}],
        "fraud",
        True,
    ),
    ([{"key": "ai-estate/bu", "value": "fraud"}], "fraud", True),  # operator defaults to Equal
    ([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}], "fraud", True),
    (
        [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
        "fraud",
        True,
    ),
    ([{"key": "ai-estate/bu", "operator": "Equal", "value": "marketing"}], "fraud", False),
    ([{"key": "ai-estate/bu", "operator": "Exists"}], "fraud", False),
    ([{"key": "ai-estate/bu", "operator": "Equal"}], "fraud", False),
    ([{"operator": "Exists"}], "fraud", False),  # keyless Exists tolerates every taint
    # the system pool is for the cluster's add-ons only (issue 11)
    ([{"key": "CriticalAddonsOnly", "operator": "Exists"}], "fraud", False),
    ([{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}], "fraud", False),
    ([{"key": "", "operator": "Exists"}], "fraud", False),
    (
        [
            {"key": "ai-estate/bu", "value": "fraud"},
            {"key": "ai-estate/bu", "value": "marketing"},
        ],
        "fraud",
        False,
    ),
]


@pytest.mark.parametrize(("tolerations", "bu", "allowed"), TOLERATION_CASES)
def test_toleration_guard_admits_only_the_namespaces_own_bu(tolerations, bu, allowed):
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(toleration_guard_expression()))
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    activation = celpy.json_to_cel(
        {
            "object": {"spec": spec},
            "namespaceObject": {"metadata": {"labels": {"ai-estate/bu": bu}}},
            "request": {"operation": "CREATE"},
        }
    )
    assert bool(program.evaluate(activation)) is allowed


@pytest.mark.parametrize(
    ("operation", "node_name", "allowed"),
    [
        ("CREATE", None, True),
        ("CREATE", "", True),
        ("CREATE", "ip-10-0-1-20.ec2.internal", False),  # skips the scheduler and its taints
        ("UPDATE", "ip-10-0-1-20.ec2.internal", True),  # set by binding, immutable after
    ],
)
def test_node_name_guard_blocks_scheduler_bypass_on_create(operation, node_name, allowed):
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(node_name_guard_expression()))
    spec: dict[str, Any] = {} if node_name is None else {"nodeName": node_name}
    activation = celpy.json_to_cel({"object": {"spec": spec}, "request": {"operation": operation}})
    assert bool(program.evaluate(activation)) is allowed


def test_karpenter_may_pass_only_node_roles_and_scopes_mutations_to_its_cluster():
    doc = statements(
        karpenter_controller_policy(
            partition="aws",
            region="us-east-1",
            account_id="123456789012",
            cluster="platform-prod-ai",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:platform-prod-ai-karpenter",
            node_role_path=NODE_ROLE_PATH,
            queue_key_arn=KEY_ARN,
        )
    )
    passing = [s for s in doc if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    assert passing[0]["Resource"] == "arn:aws:iam::123456789012:role/ai-estate/nodes/*"
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    reads = ("Describe", "Get", "List")
    for s in doc:
        actions = as_list(s["Action"])
        if s["Resource"] == "*" and "Condition" not in s:
            # unscoped only where the API has no resource scope, and only to read
            assert all(a.split(":")[1].startswith(reads) for a in actions), s["Sid"]
        if any(a in ("ec2:TerminateInstances", "ec2:DeleteLaunchTemplate") for a in actions):
            assert s["Condition"]["StringEquals"] == {
                "aws:ResourceTag/kubernetes.io/cluster/platform-prod-ai": "owned"
            }
    [queue] = [s for s in doc if s["Sid"] == "AllowInterruptionQueueActions"]
    assert queue["Resource"].endswith(":platform-prod-ai-karpenter")
    [decrypt] = [s for s in doc if s["Sid"] == "AllowInterruptionQueueDecrypt"]
    assert decrypt["Resource"] == KEY_ARN and "kms:Decrypt" in decrypt["Action"]
    [ssm] = [s for s in doc if s["Sid"] == "AllowSSMReadActions"]
    assert ssm["Resource"] == "arn:aws:ssm:us-east-1::parameter/aws/service/*"
    assert {"pricing:GetProducts", "eks:DescribeCluster"} <= {
        a for s in doc for a in as_list(s["Action"])
    }
    # an inline role policy must stay within IAM's 10,240-character limit
    longest = karpenter_controller_policy(
        partition="aws-us-gov",
        region="us-gov-west-1",
        account_id="123456789012",
        cluster="x" * 100,
        queue_arn="arn:aws-us-gov:sqs:us-gov-west-1:123456789012:" + "x" * 80,
        node_role_path=NODE_ROLE_PATH,
    )
    assert len(longest) < 10240


def test_cluster_autoscaler_scales_only_this_clusters_groups():
    doc = statements(cluster_autoscaler_policy("aws", "us-east-1", "123456789012", "c1"))
    [scale] = [s for s in doc if "autoscaling:SetDesiredCapacity" in as_list(s["Action"])]
    assert "autoscaling:TerminateInstanceInAutoScalingGroup" in scale["Action"]
    assert scale["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/c1": "owned"}
    }
    for s in doc:
        if s is not scale:
            assert all(
                a.split(":")[1].startswith(("Describe", "Get")) for a in as_list(s["Action"])
            )
    [nodegroups] = [s for s in doc if s["Action"] == "eks:DescribeNodegroup"]
    assert nodegroups["Resource"] == "arn:aws:eks:us-east-1:123456789012:nodegroup/c1/*"
    assert cluster_autoscaler_image_tag("1.31") == "v1.31.4"
    assert cluster_autoscaler_image_tag("1.33.2") == "v1.33.1"
    with pytest.raises(ValueError, match="no Cluster Autoscaler image"):
        cluster_autoscaler_image_tag("1.99")


def test_gpu_software_configuration():
    config = yaml.safe_load(time_slicing_config(4))
    assert config["version"] == "v1"
    assert config["sharing"]["timeSlicing"]["resources"] == [
        {"name": "nvidia.com/gpu", "replicas": 4}
    ]
    values = gpu_operator_values("mixed", None)
    assert values["driver"] == {"enabled": False}  # EKS NVIDIA AMIs ship the driver
    assert values["mig"] == {"strategy": "mixed"}
    assert values["dcgmExporter"] == {"enabled": True}
    assert "devicePlugin" not in values
    assert gpu_operator_values("none", 3)["devicePlugin"]["config"]["name"] == (
        addons.TIME_SLICING_CONFIG_MAP
    )


# -- rendered component ---------------------------------------------------------------------


CLUSTER = "aws:eks/cluster:Cluster"
RELEASE = "kubernetes:helm.sh/v3:Release"


def test_prod_cluster_is_private_encrypted_logged_and_protected():
    inv = rendered("prod")
    c = one(inv, CLUSTER)
    assert c.inputs["name"] == "platform-prod-ai" and c.inputs["version"] == K8S_VERSION
    vpc = c.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == PROD_ARGS["private_subnet_ids"]
    assert c.inputs["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": KEY_ARN},
    }
    assert c.inputs["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert c.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert c.inputs["bootstrapSelfManagedAddons"] is False
    assert c.inputs["deletionProtection"] is True
    assert c.protect and c.retain_on_delete
    # the cluster role may use the key for envelope encryption, and only that key
    kms = one(inv, "aws:iam/rolePolicy:RolePolicy", "cluster-kms")
    [statement] = statements(kms.inputs["policy"])
    assert statement["Resource"] == KEY_ARN and "kms:Encrypt" in statement["Action"]


def test_control_plane_log_group_exists_before_the_cluster():
    for name, protected in (("prod", True), ("dev", False)):
        inv = rendered(name)
        c = one(inv, CLUSTER)
        group = one(inv, "aws:cloudwatch/logGroup:LogGroup")
        assert group.inputs["name"] == f"/aws/eks/{VARIANTS[name]['name']}/cluster"
        assert group.inputs["kmsKeyId"] == KEY_ARN
        assert group.inputs["retentionInDays"] == 365
        assert group.urn in c.dependencies
        assert group.protect is protected and c.protect is protected
        assert c.inputs["deletionProtection"] is protected


def test_public_endpoint_is_limited_to_the_listed_cidrs():
    vpc = one(rendered("dev"), CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_world_open_endpoint_is_refused_at_render():
    args = variant(public_access_cidrs=["0.0.0.0/0"])
    with pytest.raises(ProgramError, match="ValueError") as caught:
        render(
            lambda: EksCluster("platform-prod-cluster", cast(EksClusterArgs, args)),
            stack="platform-prod",
            project="ai-estate",
            config={"aws:region": "us-east-1"},
        )
    causes, error = [], caught.value.__cause__
    while error is not None:
        causes.append(error)
        error = error.__cause__
    assert any(isinstance(e, ValueError) for e in causes)
    assert "whole internet" in str(caught.value)


def test_deployer_gets_an_explicit_cluster_admin_access_entry():
    inv = rendered("prod")
    entry = one(inv, "aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == DEPLOYER
    assert entry.inputs["type"] == "STANDARD"
    association = one(inv, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    )
    assert association.inputs["accessScope"] == {"type": "cluster"}
    # everything inside the cluster waits for that access
    for r in inv.resources:
        if r.type.startswith("kubernetes:"):
            assert association.urn in r.dependencies, r.urn


def test_oidc_provider_trusts_the_cluster_issuer_for_sts():
    inv = rendered("prod")
    oidc = one(inv, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_managed_addons_get_iam_through_pod_identity():
    inv = rendered("prod")
    by_urn = inv.by_urn()
    found = {a.inputs["addonName"]: a for a in of_type(inv, "aws:eks/addon:Addon")}
    assert set(found) == {
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "aws-ebs-csi-driver",
        "eks-pod-identity-agent",
    }
    for addon in found.values():
        assert addon.inputs["addonVersion"].startswith("v"), addon.name  # from getAddonVersion
        assert addon.inputs["clusterName"] == "platform-prod-ai"
    roles = {r.name: r for r in of_type(inv, "aws:iam/role:Role")}
    attachments = of_type(inv, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    expected = {
        "vpc-cni": ("aws-node", "AmazonEKS_CNI_Policy"),
        "aws-ebs-csi-driver": ("ebs-csi-controller-sa", "AmazonEBSCSIDriverPolicyV2"),
    }
    for addon_name, (service_account, policy) in expected.items():
        [association] = found[addon_name].inputs["podIdentityAssociations"]
        assert association["serviceAccount"] == service_account
        role = roles[f"platform-prod-cluster-{addon_name}-role"]
        assert association["roleArn"].split("/")[-1].startswith(role.name)
        [trust] = statements(role.inputs["assumeRolePolicy"])
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        [attached] = [
            a for a in attachments if a.name == f"platform-prod-cluster-{addon_name}-policy"
        ]
        assert attached.inputs["policyArn"] == f"arn:aws:iam::aws:policy/{policy}"
    for name in ("coredns", "kube-proxy", "eks-pod-identity-agent"):
        assert "podIdentityAssociations" not in found[name].inputs
    # DaemonSets first (nodes need them to become Ready), Deployments after the nodes
    node_group = one(inv, "aws:eks/nodeGroup:NodeGroup")
    for name in ("coredns", "aws-ebs-csi-driver"):
        assert node_group.urn in found[name].dependencies
    for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert found[name].urn in node_group.dependencies
    assert found["eks-pod-identity-agent"].urn in found["vpc-cni"].dependencies
    assert by_urn[found["vpc-cni"].parent].type == "ai-estate:compute:EksCluster"


def test_system_nodes_use_imdsv2_hop_limit_one_and_an_encrypted_root_volume():
    inv = rendered("prod")
    lt = one(inv, "aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    [root] = lt.inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeSize": 80,
        "volumeType": "gp3",
        "encrypted": "true",
        "kmsKeyId": KEY_ARN,
        "deleteOnTermination": "true",
    }
    kinds = {spec["resourceType"]: spec["tags"] for spec in lt.inputs["tagSpecifications"]}
    assert set(kinds) == {"instance", "volume", "network-interface"}
    for tags in kinds.values():
        assert tags["BusinessUnit"] == "platform" and tags["Name"] == "platform-prod-ai-system"

    group = one(inv, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert group.inputs["capacityType"] == "ON_DEMAND"
    assert group.inputs["instanceTypes"] == ["m7i.large"]
    assert group.inputs["labels"] == {"ai-estate/pool": "system"}
    assert group.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 4}
    assert group.inputs["launchTemplate"]["id"].startswith("lt-")
    assert lt.urn in group.property_dependencies["launchTemplate"]

    role = one(inv, "aws:iam/role:Role", "system-node-role")
    assert role.inputs.get("path", "/") != NODE_ROLE_PATH  # Karpenter must not pass it
    [trust] = statements(role.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in of_type(inv, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "system-node" in a.name
    }
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"}
    grant = one(inv, "aws:kms/grant:Grant")
    assert grant.inputs["keyId"] == KEY_ARN
    assert grant.inputs["granteePrincipal"].endswith(
        ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )


def test_karpenter_pieces_exist_only_when_karpenter_is_enabled():
    inv = rendered("prod")
    queue = one(inv, "aws:sqs/queue:Queue")
    assert queue.inputs["name"] == "platform-prod-ai-karpenter"
    assert queue.inputs["messageRetentionSeconds"] == 300
    # encrypted with the cluster's customer key, which the controller may decrypt with
    assert queue.inputs["kmsMasterKeyId"] == KEY_ARN
    assert "sqsManagedSseEnabled" not in queue.inputs
    policy = one(inv, "aws:sqs/queuePolicy:QueuePolicy")
    allow = [s for s in statements(policy.inputs["policy"]) if s["Effect"] == "Allow"]
    assert allow[0]["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert allow[0]["Action"] == "sqs:SendMessage"

    rules = of_type(inv, "aws:cloudwatch/eventRule:EventRule")
    patterns = [json.loads(r.inputs["eventPattern"]) for r in rules]
    assert len(rules) >= 4
    assert {p["detail-type"][0] for p in patterns} >= {
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "AWS Health Event",
    }
    targets = of_type(inv, "aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == len(rules)
    for target in targets:
        assert queue.urn in target.property_dependencies["arn"]

    association = one(inv, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter")
    assert association.inputs["namespace"] == "kube-system"
    assert association.inputs["serviceAccount"] == "karpenter"
    controller = one(inv, "aws:iam/rolePolicy:RolePolicy", "karpenter-controller")
    [passing] = [
        s for s in statements(controller.inputs["policy"]) if s["Action"] == "iam:PassRole"
    ]
    assert passing["Resource"] == "arn:aws:iam::123456789012:role/ai-estate/nodes/*"

    release = one(inv, RELEASE, "karpenter-chart")
    assert release.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release.inputs["version"] == addons.KARPENTER_CHART.version
    assert "repositoryOpts" not in release.inputs
    values = release.inputs["values"]
    assert values["settings"] == {
        "clusterName": "platform-prod-ai",
        "interruptionQueue": "platform-prod-ai-karpenter",
    }
    assert values["replicas"] == 2
    assert values["controller"]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert association.urn in release.dependencies
    # The CRDs come from the karpenter-crd chart at the same version, so they upgrade with the
    # controller; the controller's chart does not install its own copy, and waits for them.
    crds = one(inv, RELEASE, "karpenter-crd-chart")
    assert crds.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter-crd"
    assert crds.inputs["name"] == "karpenter-crd"
    assert crds.inputs["version"] == release.inputs["version"]
    assert release.inputs["skipCrds"] is True
    assert "skipCrds" not in crds.inputs
    assert crds.urn in release.dependencies

    assert one(rendered("karpenter"), RELEASE, "karpenter-chart").inputs["values"]["replicas"] == 1
    dev = rendered("dev")
    for typ in (
        "aws:sqs/queue:Queue",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
    ):
        assert of_type(dev, typ) == []
    assert not [r for r in dev.resources if "karpenter" in r.name]


def test_cluster_autoscaler_only_when_managed_groups_are_enabled():
    inv = rendered("prod")
    release = one(inv, RELEASE, "cluster-autoscaler")
    assert release.inputs["chart"] == "cluster-autoscaler"
    assert release.inputs["version"] == addons.CLUSTER_AUTOSCALER_CHART.version
    assert release.inputs["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    values = release.inputs["values"]
    assert values["autoDiscovery"] == {"clusterName": "platform-prod-ai"}
    assert values["image"] == {"tag": "v1.35.2"}
    assert values["extraArgs"]["balance-similar-node-groups"] is True
    assert values["extraArgs"]["skip-nodes-with-system-pods"] is False
    assert values["extraArgs"]["expander"] in ("least-waste", "priority")
    assert values["nodeSelector"] == {"ai-estate/pool": "system"}
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    association = one(
        inv, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "cluster-autoscaler"
    )
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "kube-system",
        "cluster-autoscaler",
    )
    policy = one(inv, "aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler")
    [scale] = [
        s for s in statements(policy.inputs["policy"]) if s["Sid"] == "ScaleOnlyThisClustersGroups"
    ]
    conditions = scale["Condition"]["StringEquals"]
    assert "aws:ResourceTag/k8s.io/cluster-autoscaler/platform-prod-ai" in conditions
    assert one(rendered("dev"), RELEASE, "cluster-autoscaler")
    assert not [r for r in rendered("karpenter").resources if "cluster-autoscaler" in r.name]


def test_device_plugin_and_gpu_operator_are_alternatives():
    prod = rendered("prod")
    charts = {r.inputs["chart"]: r for r in of_type(prod, RELEASE)}
    assert "gpu-operator" not in charts
    plugin, dcgm = charts["nvidia-device-plugin"], charts["dcgm-exporter"]
    assert plugin.inputs["repositoryOpts"] == {"repo": "https://nvidia.github.io/k8s-device-plugin"}
    assert dcgm.inputs["repositoryOpts"] == {
        "repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"
    }
    for release in (plugin, dcgm):
        values = release.inputs["values"]
        tolerated = {(t["key"], t["operator"]) for t in values["tolerations"]}
        assert {("nvidia.com/gpu", "Exists"), ("ai-estate/bu", "Exists")} <= tolerated
        terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        keys = {t["matchExpressions"][0]["key"] for t in terms["nodeSelectorTerms"]}
        assert "ai-estate/accelerator" in keys
    assert dcgm.inputs["values"]["serviceMonitor"] == {"enabled": False}
    shared = yaml.safe_load(plugin.inputs["values"]["config"]["map"]["default"])
    assert shared["sharing"]["timeSlicing"]["resources"][0]["replicas"] == 4
    whole = one(rendered("karpenter"), RELEASE, "device-plugin")
    assert "config" not in whole.inputs["values"]

    dev = rendered("dev")
    charts = {r.inputs["chart"]: r for r in of_type(dev, RELEASE)}
    assert "nvidia-device-plugin" not in charts and "dcgm-exporter" not in charts
    operator = charts["gpu-operator"]
    assert operator.inputs["repositoryOpts"] == {"repo": "https://helm.ngc.nvidia.com/nvidia"}
    assert operator.inputs["namespace"] == "gpu-operator"
    values = operator.inputs["values"]
    assert values["driver"] == {"enabled": False}
    assert values["mig"] == {"strategy": "single"}
    assert values["dcgmExporter"] == {"enabled": True}
    namespace = one(dev, "kubernetes:core/v1:Namespace", "gpu-software")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "privileged"
    )
    config_map = one(dev, "kubernetes:core/v1:ConfigMap")
    assert config_map.inputs["metadata"]["name"] == values["devicePlugin"]["config"]["name"]
    assert yaml.safe_load(config_map.inputs["data"]["any"])["flags"]["migStrategy"] == "single"
    assert namespace.urn in operator.dependencies and config_map.urn in operator.dependencies


def test_toleration_guard_denies_in_bu_namespaces():
    inv = rendered("prod")
    policy = one(inv, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
    spec = policy.inputs["spec"]
    assert spec["failurePolicy"] == "Fail"
    rule = spec["matchConstraints"]["resourceRules"][0]
    assert rule["resources"] == ["pods"] and set(rule["operations"]) == {"CREATE", "UPDATE"}
    assert spec["matchConstraints"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "ai-estate/bu", "operator": "Exists"}]
    }
    expressions = [v["expression"] for v in spec["validations"]]
    assert toleration_guard_expression() in expressions
    assert "namespaceObject.metadata.labels" in expressions[0]
    binding = one(
        inv, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
    )
    assert binding.inputs["spec"]["policyName"] == policy.inputs["metadata"]["name"]
    assert binding.inputs["spec"]["validationActions"] == ["Deny"]
    selector = binding.inputs["spec"]["matchResources"]["namespaceSelector"]
    assert selector == spec["matchConstraints"]["namespaceSelector"]


MANIFEST_KEYS = ("apiVersion", "kind", "metadata", "spec", "data")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_kubernetes_objects_are_valid_for_the_cluster_version(name):
    inv = rendered(name)
    objects = [
        r
        for r in inv.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh")
        # Kueue's custom resources: checked against the chart's CRDs in tests/test_kueue.py.
        and not r.type.startswith("kubernetes:kueue.x-k8s.io")
    ]
    assert len(objects) >= 2
    for r in objects:
        manifest = {k: r.inputs[k] for k in MANIFEST_KEYS if k in r.inputs}
        assert manifest["apiVersion"] and manifest["kind"], r.urn
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_in_cluster_resources_use_the_clusters_provider():
    for name in VARIANTS:
        inv = rendered(name)
        [provider] = of_type(inv, "pulumi:providers:kubernetes")
        config = json.loads(provider.inputs["kubeconfig"])
        assert config["clusters"][0]["name"] == VARIANTS[name]["name"]
        in_cluster = [r for r in inv.resources if r.type.startswith("kubernetes:")]
        assert in_cluster
        for r in in_cluster:
            assert r.provider and r.provider.startswith(provider.urn), r.urn
        components = {r.urn for r in inv.resources if r.type.startswith("ai-estate:compute:")}
        for r in inv.resources:
            if r.type.startswith(("aws:", "kubernetes:")):
                assert r.parent in components, r.urn


def test_every_taggable_aws_resource_carries_the_tags():
    inv = rendered("prod")
    for r in inv.resources:
        if "tags" in r.inputs:
            assert r.inputs["tags"]["BusinessUnit"] == "platform", r.urn
    for typ in (CLUSTER, "aws:eks/nodeGroup:NodeGroup", "aws:sqs/queue:Queue"):
        assert "tags" in one(inv, typ).inputs


def test_component_outputs_name_the_karpenter_pieces_only_when_enabled():
    built: dict[str, EksCluster] = {}

    def program(name: str):
        args = VARIANTS[name]
        built[name] = EksCluster("c", cast(EksClusterArgs, args))

    for name in ("prod", "dev"):
        render(
            lambda n=name: program(n),
            stack=name,
            project="ai-estate",
            config={"aws:region": "us-east-1"},
        )
    prod, dev = built["prod"], built["dev"]
    assert prod.node_role_path == dev.node_role_path == "/ai-estate/nodes/"
    assert prod.karpenter_node_role_path == "/ai-estate/nodes/"
    assert prod.karpenter_controller_role_arn is not None
    assert prod.karpenter_interruption_queue_name is not None
    assert dev.karpenter_controller_role_arn is None
    assert dev.karpenter_interruption_queue_name is None
    assert dev.karpenter_node_role_path is None
    assert isinstance(prod.k8s_provider, cluster.k8s.Provider)
