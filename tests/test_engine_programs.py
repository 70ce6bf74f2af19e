"""The offline engine against ordinary, public-example-style Pulumi Python programs.

`estate preview --project DIR` and `estate check --project DIR` render programs nobody wrote for
this tool. These tests render a few such programs (tests/fixtures/programs) exactly as the CLI
does, and check that the mock runtime answers them the way AWS and Kubernetes would: every invoke
answered, outputs shaped like the real ones, inputs and the dependency graph recorded faithfully,
and the same inventory on every render.
"""

from __future__ import annotations

import base64
import gc
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from estate.offline import engine
from estate.offline.mocks import ACCOUNT_ID, UNKNOWN, EstateMocks
from estate.offline.model import Inventory, Resource

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "fixtures" / "programs"

PLATFORM_STACK = "acme/platform/prod"
PLATFORM_OUTPUTS = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "privateSubnetIds": ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"],
}

#: Config each program needs, beyond none at all.
PROGRAM_CONFIG: dict[str, dict[str, Any]] = {
    "stack-reference": {"checkout-app:platformStack": PLATFORM_STACK},
}

RENDERABLE = (
    "ec2-webserver",
    "s3-static-site",
    "eks-cluster",
    "unencrypted-dynamodb",
    "stack-reference",
)

IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")
ARN = re.compile(
    r"^arn:aws:(?P<service>[a-z0-9-]+):(?P<region>[a-z]{2}(-[a-z]+)+-\d|):"
    r"(?P<account>\d{12}|):(?P<resource>.+)$"
)


# -- helpers --------------------------------------------------------------------------------


def project_name(program: str) -> str:
    return yaml.safe_load((PROGRAMS / program / "Pulumi.yaml").read_text())["name"]


def platform_outputs(stack: str) -> dict[str, Any]:
    assert stack == PLATFORM_STACK, f"unexpected stack reference {stack!r}"
    return json.loads(json.dumps(PLATFORM_OUTPUTS))


def render_clean(program: Any, **kwargs: Any) -> Inventory:
    """`engine.render`, then a garbage collection.

    A render can leave never-awaited SDK coroutines behind (a failed program always does).
    Finalized later, inside pytest's own `ast.parse` of a traceback, they trip CPython 3.11's
    "AST constructor recursion depth mismatch" INTERNALERROR; collect them right away instead.
    """
    try:
        return engine.render(program, **kwargs)
    finally:
        gc.collect()


def render_program(
    program: str,
    config: dict[str, Any] | None = None,
    stack_outputs: Callable[[str], dict[str, Any]] | None = platform_outputs,
    **kwargs: Any,
) -> tuple[Inventory, EstateMocks]:
    """Render a fixture program as `estate preview --project` does; return the mocks too."""
    created: list[EstateMocks] = []

    class Recording(EstateMocks):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            created.append(self)

    saved = engine.EstateMocks
    engine.EstateMocks = Recording  # type: ignore[misc]
    try:
        inventory = render_clean(
            PROGRAMS / program,
            stack="dev",
            project=project_name(program),
            config={**PROGRAM_CONFIG.get(program, {}), **(config or {})},
            stack_outputs=stack_outputs,
            **kwargs,
        )
    finally:
        engine.EstateMocks = saved  # type: ignore[misc]
    assert len(created) == 1
    return inventory, created[0]


@cache
def rendered(program: str) -> tuple[Inventory, EstateMocks]:
    """One default render per program per session (renders are deterministic)."""
    return render_program(program)


def of_type(inventory: Inventory, type_token: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_token]


def one(inventory: Inventory, type_token: str, name: str | None = None) -> Resource:
    found = [r for r in of_type(inventory, type_token) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_token} {name or ''}, found {len(found)}"
    return found[0]


def stack_urn(inventory: Inventory) -> str:
    return one(inventory, "pulumi:pulumi:Stack").urn


def assert_arn(value: Any, service: str, region: str = "us-east-1", account: str = ACCOUNT_ID):
    match = ARN.match(str(value))
    assert match, f"not an ARN: {value!r}"
    assert match["service"] == service, value
    assert match["region"] == region, value
    assert match["account"] == account, value
    return match["resource"]


def contains_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return value == UNKNOWN


# -- every program ----------------------------------------------------------------------------


@pytest.mark.parametrize("program", RENDERABLE)
def test_program_renders_with_every_invoke_answered(program):
    inventory, mocks = rendered(program)
    assert inventory.project == project_name(program)
    assert inventory.resources[0].type == "pulumi:pulumi:Stack"
    assert any(r.custom for r in inventory.resources)
    assert mocks.unanswered_calls == set()


@pytest.mark.parametrize("program", RENDERABLE)
def test_rendering_twice_gives_the_same_inventory(program):
    first, _ = rendered(program)
    second, _ = render_program(program)
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(
        second.to_json(), sort_keys=True
    )


@pytest.mark.parametrize("program", RENDERABLE)
def test_every_resource_hangs_off_the_stack(program):
    inventory, _ = rendered(program)
    urns = {r.urn for r in inventory.resources}
    root = stack_urn(inventory)
    for r in inventory.resources:
        if r.type == "pulumi:pulumi:Stack":
            assert r.parent is None
            continue
        assert r.parent in urns, r.urn
        # Dependencies point at resources of this stack.
        assert set(r.dependencies) <= urns, r.urn
        for prop, deps in r.property_dependencies.items():
            assert set(deps) <= urns, (r.urn, prop)
    assert sum(r.parent == root for r in inventory.resources) >= 1


@pytest.mark.parametrize("program", RENDERABLE)
def test_known_inputs_are_known_in_preview(program):
    """Nothing a program passes through from a mocked resource or invoke stays unknown."""
    inventory, _ = rendered(program)
    for r in inventory.resources:
        assert not contains_unknown(r.inputs), r.urn
    assert not contains_unknown(inventory.outputs)


def test_inventory_json_is_byte_identical_across_processes():
    """Dependency lists come out of SDK sets, whose order follows PYTHONHASHSEED: sorted."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from estate.offline import engine\n"
        "inv = engine.render(Path(sys.argv[1]), stack='dev', project='eks-cluster')\n"
        "print(json.dumps(inv.to_json(), sort_keys=True))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": path}
        done = subprocess.run(
            [sys.executable, "-c", script, str(PROGRAMS / "eks-cluster")],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


# -- ec2-webserver ----------------------------------------------------------------------------


def test_webserver_outputs_look_like_ec2():
    inventory, _ = rendered("ec2-webserver")
    out = inventory.outputs
    assert IPV4.match(out["publicIp"]), out["publicIp"]
    assert ipaddress.ip_address(out["publicIp"]).is_global
    dashed = out["publicIp"].replace(".", "-")
    assert out["publicDns"] == f"ec2-{dashed}.compute-1.amazonaws.com"
    assert out["url"] == f"http://{out['publicDns']}"
    assert re.fullmatch(r"i-[0-9a-f]{17}", out["instanceId"])
    assert re.fullmatch(r"sg-[0-9a-f]{17}", out["securityGroupId"])
    assert re.fullmatch(r"ami-[0-9a-f]{17}", out["amiId"])
    assert assert_arn(out["instanceArn"], "ec2") == f"instance/{out['instanceId']}"


def test_webserver_records_the_open_security_group_and_the_instance_inputs():
    inventory, _ = rendered("ec2-webserver")
    group = one(inventory, "aws:ec2/securityGroup:SecurityGroup", "web-secgrp")
    server = one(inventory, "aws:ec2/instance:Instance", "web-server-www")
    open_ports = {
        rule["fromPort"]
        for rule in group.inputs["ingress"]
        if "0.0.0.0/0" in rule.get("cidrBlocks", [])
    }
    assert open_ports == {22, 80}
    assert server.inputs["instanceType"] == "t3.micro"
    assert server.inputs["ami"] == inventory.outputs["amiId"]
    assert server.inputs["vpcSecurityGroupIds"] == [inventory.outputs["securityGroupId"]]
    assert "http.server 80" in server.inputs["userData"]


def test_webserver_instance_depends_on_its_security_group():
    inventory, _ = rendered("ec2-webserver")
    group = one(inventory, "aws:ec2/securityGroup:SecurityGroup")
    server = one(inventory, "aws:ec2/instance:Instance")
    assert group.urn in server.dependencies
    assert server.property_dependencies["vpcSecurityGroupIds"] == [group.urn]
    assert server.parent == stack_urn(inventory)
    assert server.provider is None  # the default AWS provider


def test_webserver_follows_the_configured_region():
    inventory, mocks = render_program("ec2-webserver", {"aws:region": "eu-west-1"})
    out = inventory.outputs
    dashed = out["publicIp"].replace(".", "-")
    assert out["publicDns"] == f"ec2-{dashed}.eu-west-1.compute.amazonaws.com"
    assert_arn(out["instanceArn"], "ec2", region="eu-west-1")
    assert out["amiId"] != rendered("ec2-webserver")[0].outputs["amiId"]  # AMIs are regional
    assert mocks.unanswered_calls == set()


def test_ami_lookup_answers_the_image_the_filter_asks_for():
    mocks = EstateMocks()
    answer = mocks.call(
        _call(
            "aws:ec2/getAmi:getAmi",
            {
                "mostRecent": True,
                "owners": ["amazon"],
                "filters": [{"name": "name", "values": ["al2023-ami-2023.*-arm64"]}],
            },
        )
    )
    assert answer["name"].startswith("al2023-ami-2023.")
    assert answer["architecture"] == "arm64"
    assert answer["ownerId"] == "137112412989"
    assert answer["imageId"] == answer["id"]
    assert mocks.unanswered_calls == set()


# -- s3-static-site ---------------------------------------------------------------------------


def test_static_site_registers_the_website_stack():
    inventory, _ = rendered("s3-static-site")
    for type_token in (
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketPolicy:BucketPolicy",
    ):
        one(inventory, type_token)
    block = one(inventory, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert {
        k: block.inputs[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    } == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
        False,
    )


def test_static_site_uploads_every_file_as_a_child_of_the_bucket():
    inventory, _ = rendered("s3-static-site")
    bucket = one(inventory, "aws:s3/bucket:Bucket")
    policy = one(inventory, "aws:s3/bucketPolicy:BucketPolicy")
    objects = {r.name: r for r in of_type(inventory, "aws:s3/bucketObject:BucketObject")}
    assert sorted(objects) == ["css/style.css", "error.html", "index.html"]
    for key, obj in objects.items():
        assert obj.parent == bucket.urn
        assert "aws:s3/bucket:Bucket$aws:s3/bucketObject:BucketObject" in obj.urn
        assert obj.inputs["key"] == key
        assert obj.inputs["bucket"] == inventory.outputs["bucketName"]
        assert obj.inputs["source"] == {"asset": f"www/{key}"}
        assert policy.urn in obj.dependencies  # depends_on
        assert obj.property_dependencies["bucket"] == [bucket.urn]
    assert objects["index.html"].inputs["contentType"] == "text/html"
    assert objects["css/style.css"].inputs["contentType"] == "text/css"


def test_static_site_policy_is_public_read_on_the_real_bucket_arn():
    inventory, _ = rendered("s3-static-site")
    bucket = one(inventory, "aws:s3/bucket:Bucket")
    policy = one(inventory, "aws:s3/bucketPolicy:BucketPolicy")
    document = json.loads(policy.inputs["policy"])
    (statement,) = document["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Action"] == ["s3:GetObject"]
    assert statement["Resource"] == [f"arn:aws:s3:::{inventory.outputs['bucketName']}/*"]
    assert bucket.urn in policy.property_dependencies["policy"]
    block = one(inventory, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = one(inventory, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert {block.urn, ownership.urn, bucket.urn} <= set(policy.dependencies)


def test_static_site_outputs_look_like_s3():
    inventory, _ = rendered("s3-static-site")
    out = inventory.outputs
    name = out["bucketName"]
    assert re.fullmatch(r"site-bucket-[0-9a-f]{7}", name)
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name)
    assert out["bucketArn"] == f"arn:aws:s3:::{name}"
    assert out["bucketRegionalDomainName"] == f"{name}.s3.us-east-1.amazonaws.com"
    assert out["websiteEndpoint"] == f"{name}.s3-website-us-east-1.amazonaws.com"
    assert out["websiteUrl"] == f"http://{out['websiteEndpoint']}"


def test_static_site_website_endpoint_uses_the_regions_own_form():
    inventory, _ = render_program("s3-static-site", {"aws:region": "eu-central-1"})
    name = inventory.outputs["bucketName"]
    assert inventory.outputs["websiteEndpoint"] == f"{name}.s3-website.eu-central-1.amazonaws.com"
    assert inventory.outputs["bucketRegionalDomainName"] == (
        f"{name}.s3.eu-central-1.amazonaws.com"
    )


# -- eks-cluster ------------------------------------------------------------------------------


def test_eks_program_registers_network_iam_cluster_and_workload():
    inventory, _ = rendered("eks-cluster")
    counts: dict[str, int] = {}
    for r in inventory.resources:
        counts[r.type] = counts.get(r.type, 0) + 1
    assert counts == {
        "pulumi:pulumi:Stack": 1,
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/routeTable:RouteTable": 1,
        "aws:ec2/subnet:Subnet": 2,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 2,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:iam/role:Role": 2,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 5,
        "aws:eks/cluster:Cluster": 1,
        "aws:eks/nodeGroup:NodeGroup": 1,
        "pulumi:providers:kubernetes": 1,
        "kubernetes:apps/v1:Deployment": 1,
        "kubernetes:core/v1:Service": 1,
    }


def test_eks_subnets_spread_over_the_zones_the_lookup_returned():
    inventory, _ = rendered("eks-cluster")
    zones = [r.inputs["availabilityZone"] for r in of_type(inventory, "aws:ec2/subnet:Subnet")]
    assert sorted(zones) == ["us-east-1a", "us-east-1b"]


def test_eks_cluster_outputs_look_like_eks():
    inventory, _ = rendered("eks-cluster")
    out = inventory.outputs
    name = out["clusterName"]
    assert re.fullmatch(r"eks-cluster-[0-9a-f]{7}", name)
    endpoint = re.fullmatch(
        r"https://([0-9A-F]{32})\.gr7\.us-east-1\.eks\.amazonaws\.com", (out["clusterEndpoint"])
    )
    assert endpoint, out["clusterEndpoint"]
    assert out["oidcIssuer"] == f"https://oidc.eks.us-east-1.amazonaws.com/id/{endpoint[1]}"
    assert assert_arn(out["clusterArn"], "eks") == f"cluster/{name}"
    node_group = assert_arn(out["nodeGroupArn"], "eks").split("/")
    assert node_group[:2] == ["nodegroup", name]
    assert re.fullmatch(r"eks-nodes-[0-9a-f]{7}", node_group[2])
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", node_group[3])
    assert out["nodeGroupStatus"] == "ACTIVE"
    assert out["clusterVpcId"] == out["vpcId"]  # the VPC of the subnets it was given


def test_eks_kubeconfig_parses_and_points_at_the_cluster():
    inventory, _ = rendered("eks-cluster")
    out = inventory.outputs
    kubeconfig = yaml.safe_load(out["kubeconfig"])  # JSON is YAML
    (cluster,) = kubeconfig["clusters"]
    assert cluster["name"] == out["clusterName"]
    assert cluster["cluster"]["server"] == out["clusterEndpoint"]
    pem = base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert pem.endswith("-----END CERTIFICATE-----\n")
    base64.b64decode("".join(pem.splitlines()[1:-1]), validate=True)
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["args"][-1] == out["clusterName"]
    provider = one(inventory, "pulumi:providers:kubernetes")
    assert json.loads(provider.inputs["kubeconfig"]) == kubeconfig


def test_eks_cluster_inputs_carry_real_role_and_subnet_ids():
    inventory, _ = rendered("eks-cluster")
    cluster = one(inventory, "aws:eks/cluster:Cluster")
    role = one(inventory, "aws:iam/role:Role", "eks-cluster-role")
    subnets = of_type(inventory, "aws:ec2/subnet:Subnet")
    role_resource = assert_arn(cluster.inputs["roleArn"], "iam", region="")
    assert re.fullmatch(r"role/eks-cluster-role-[0-9a-f]{7}", role_resource)
    vpc_config = cluster.inputs["vpcConfig"]
    assert all(re.fullmatch(r"subnet-[0-9a-f]{17}", s) for s in vpc_config["subnetIds"])
    assert len(set(vpc_config["subnetIds"])) == 2
    assert vpc_config["endpointPublicAccess"] is True
    assert "encryptionConfig" not in cluster.inputs
    assert role.urn in cluster.property_dependencies["roleArn"]
    assert {s.urn for s in subnets} <= set(cluster.property_dependencies["vpcConfig"])
    attachments = of_type(inventory, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    cluster_attachments = [a for a in attachments if a.name.startswith("eks-cluster-")]
    assert {a.urn for a in cluster_attachments} <= set(cluster.dependencies)
    for attachment in cluster_attachments:
        assert attachment.inputs["role"] == role_resource.split("/", 1)[1]
        assert attachment.inputs["policyArn"].startswith("arn:aws:iam::aws:policy/")


def test_eks_node_group_follows_the_cluster():
    inventory, _ = rendered("eks-cluster")
    cluster = one(inventory, "aws:eks/cluster:Cluster")
    nodes = one(inventory, "aws:eks/nodeGroup:NodeGroup")
    assert nodes.inputs["clusterName"] == inventory.outputs["clusterName"]
    assert nodes.property_dependencies["clusterName"] == [cluster.urn]
    assert nodes.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 1, "maxSize": 4}
    node_role = one(inventory, "aws:iam/role:Role", "eks-node-role")
    assert nodes.property_dependencies["nodeRoleArn"] == [node_role.urn]


def test_eks_workload_uses_the_cluster_provider_and_looks_like_kubernetes():
    inventory, _ = rendered("eks-cluster")
    provider = one(inventory, "pulumi:providers:kubernetes")
    nodes = one(inventory, "aws:eks/nodeGroup:NodeGroup")
    deployment = one(inventory, "kubernetes:apps/v1:Deployment")
    service = one(inventory, "kubernetes:core/v1:Service")
    assert nodes.urn in provider.dependencies
    for r in (deployment, service):
        assert r.provider is not None
        urn, _, provider_id = r.provider.rpartition("::")
        assert urn == provider.urn
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", provider_id)
    assert deployment.urn in service.dependencies
    assert deployment.inputs["kind"] == "Deployment"
    assert deployment.inputs["apiVersion"] == "apps/v1"
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    out = inventory.outputs
    assert re.fullmatch(r"nginx-[0-9a-f]{8}", out["deploymentName"])
    assert out["serviceNamespace"] == "default"
    assert re.fullmatch(
        r"a[0-9a-f]{32}-\d{10}\.us-east-1\.elb\.amazonaws\.com", out["serviceHostname"]
    )


def test_eks_workload_manifests_are_valid_kubernetes():
    import kubernetes_validate

    inventory, _ = rendered("eks-cluster")
    for r in (
        one(inventory, "kubernetes:apps/v1:Deployment"),
        one(inventory, "kubernetes:core/v1:Service"),
    ):
        manifest = {**r.inputs}
        manifest["metadata"] = {**manifest.get("metadata", {}), "name": r.name}
        kubernetes_validate.validate(manifest, "1.31", strict=True)


def test_kubernetes_answers_name_namespace_uid_and_status():
    mocks = EstateMocks(salt="p/s")
    rid, state = mocks.new_resource(
        _resource(
            "kubernetes:core/v1:Service",
            "web",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"type": "NodePort", "ports": [{"port": 80}]},
            },
        )
    )
    assert rid == "shop/web"
    assert state["metadata"]["name"] == "web"
    assert "pulumi.com/autonamed" not in (state["metadata"].get("annotations") or {})
    (port,) = state["spec"]["ports"]
    assert port["targetPort"] == 80 and 30000 <= port["nodePort"] <= 32767
    assert IPV4.match(state["spec"]["clusterIP"])
    assert state["status"] == {"loadBalancer": {}}
    rid, state = mocks.new_resource(
        _resource("kubernetes:core/v1:Namespace", "team", {"kind": "Namespace"})
    )
    assert re.fullmatch(r"team-[0-9a-f]{8}", rid)
    assert "namespace" not in state["metadata"]
    assert state["metadata"]["annotations"] == {"pulumi.com/autonamed": "true"}
    assert state["status"] == {"phase": "Active"}


# -- unencrypted-dynamodb ---------------------------------------------------------------------


def test_unencrypted_table_is_recorded_without_encryption_recovery_or_tags():
    inventory, _ = rendered("unencrypted-dynamodb")
    (table,) = [r for r in inventory.resources if r.custom]
    assert table.type == "aws:dynamodb/table:Table"
    assert table.name == "orders"
    assert table.urn == "urn:pulumi:dev::orders-table::aws:dynamodb/table:Table::orders"
    assert table.parent == stack_urn(inventory)
    for absent in ("serverSideEncryption", "pointInTimeRecovery", "tags"):
        assert absent not in table.inputs
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "orderId"
    out = inventory.outputs
    assert re.fullmatch(r"orders-[0-9a-f]{7}", out["tableName"])
    assert assert_arn(out["tableArn"], "dynamodb") == f"table/{out['tableName']}"


# -- stack-reference --------------------------------------------------------------------------


def test_stack_reference_outputs_come_from_the_callback():
    asked: list[str] = []

    def outputs(stack: str) -> dict[str, Any]:
        asked.append(stack)
        return platform_outputs(stack)

    inventory, mocks = render_program("stack-reference", stack_outputs=outputs)
    assert asked == [PLATFORM_STACK]
    ref = one(inventory, "pulumi:pulumi:StackReference")
    assert ref.name == PLATFORM_STACK
    assert ref.inputs["name"] == PLATFORM_STACK
    group = one(inventory, "aws:ec2/securityGroup:SecurityGroup", "checkout-app")
    assert group.inputs["vpcId"] == PLATFORM_OUTPUTS["vpcId"]
    assert inventory.outputs["vpcId"] == PLATFORM_OUTPUTS["vpcId"]
    assert inventory.outputs["privateSubnetCount"] == 2
    assert assert_arn(inventory.outputs["securityGroupArn"], "ec2").startswith("security-group/sg-")
    assert mocks.unanswered_calls == set()


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "update"])
def test_invokes_fed_by_stack_reference_outputs_resolve(preview):
    """A StackReference's id is known in preview too, so invokes fed by its outputs run."""
    inventory, mocks = render_program("stack-reference", preview=preview)
    cidr = inventory.outputs["vpcCidr"]
    assert cidr != UNKNOWN
    assert ipaddress.ip_network(cidr).is_private
    group = one(inventory, "aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["ingress"][0]["cidrBlocks"] == [cidr]
    assert mocks.unanswered_calls == set()
    assert cidr == rendered("stack-reference")[0].outputs["vpcCidr"]  # same answer every time


def test_missing_stack_output_is_a_program_error():
    with pytest.raises(engine.ProgramError, match="vpcId"):
        render_program("stack-reference", stack_outputs=lambda stack: {"privateSubnetIds": []})


def test_missing_required_config_is_a_program_error():
    with pytest.raises(engine.ProgramError, match="checkout-app:platformStack"):
        render_clean(PROGRAMS / "stack-reference", stack="dev", project="checkout-app", config={})


# -- programs that fail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_in", "message"),
    [
        ("body", r"RuntimeError: refusing to deploy: the change freeze is on"),
        ("apply", r"ValueError: bucket data-[0-9a-f]{7} is not allowed here"),
        ("config", r"Missing required configuration variable 'failing-program:owner'"),
    ],
)
def test_program_exceptions_surface_as_program_errors(fail_in, message):
    with pytest.raises(engine.ProgramError, match=message) as caught:
        render_program("failing-program", {"failing-program:failIn": fail_in})
    if fail_in != "config":
        # Where it was raised, in the program's own file, for the reader to open.
        assert "failing-program/__main__.py:" in str(caught.value)


def test_a_failed_render_leaves_the_next_one_clean():
    with pytest.raises(engine.ProgramError):
        render_program("failing-program", {"failing-program:failIn": "body"})
    inventory, mocks = render_program("unencrypted-dynamodb")
    assert [r.type for r in inventory.resources] == [
        "pulumi:pulumi:Stack",
        "aws:dynamodb/table:Table",
    ]
    assert mocks.unanswered_calls == set()


def test_a_directory_without_a_program_is_a_program_error(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: empty\nruntime: python\n")
    with pytest.raises(engine.ProgramError, match=r"no __main__\.py"):
        render_clean(tmp_path, stack="dev", project="empty")


# -- explicit providers and other invokes ------------------------------------------------------


def _london_program() -> None:
    import pulumi_aws as aws

    london = aws.Provider("london", region="eu-west-2", default_tags={"tags": {"team": "data"}})
    opts = pulumi.ResourceOptions(provider=london)
    bucket = aws.s3.Bucket("logs", tags={"app": "audit"}, opts=opts)
    table = aws.dynamodb.Table(
        "events", hash_key="k", attributes=[{"name": "k", "type": "S"}], opts=opts
    )
    zones = aws.get_availability_zones_output(opts=pulumi.InvokeOutputOptions(provider=london))
    pulumi.export("domain", bucket.bucket_regional_domain_name)
    pulumi.export("tagsAll", bucket.tags_all)
    pulumi.export("tableArn", table.arn)
    pulumi.export("zoneIds", zones.zone_ids)


def test_an_explicit_provider_sets_region_and_default_tags():
    inventory = render_clean(_london_program, stack="dev", project="p")
    out = inventory.outputs
    assert out["domain"].endswith(".s3.eu-west-2.amazonaws.com")
    assert out["tagsAll"] == {"app": "audit", "team": "data"}
    assert_arn(out["tableArn"], "dynamodb", region="eu-west-2")
    assert out["zoneIds"] == ["euw2-az1", "euw2-az2", "euw2-az3"]
    bucket = one(inventory, "aws:s3/bucket:Bucket")
    assert bucket.provider is not None and "pulumi:providers:aws::london::" in bucket.provider


def test_common_invokes_have_aws_shaped_answers():
    mocks = EstateMocks(region="us-west-2")
    auth = mocks.call(_call("aws:eks/getClusterAuth:getClusterAuth", {"name": "prod"}))
    assert auth["token"].startswith("k8s-aws-v1.")
    default_vpc = mocks.call(_call("aws:ec2/getVpc:getVpc", {"default": True}))
    assert default_vpc["cidrBlock"] == "172.31.0.0/16" and default_vpc["default"] is True
    subnet = mocks.call(_call("aws:ec2/getSubnet:getSubnet", {"id": "subnet-0123"}))
    assert subnet["vpcId"] == default_vpc["id"]
    assert re.fullmatch(r"us-west-2[a-c]", subnet["availabilityZone"])
    cluster = mocks.call(_call("aws:eks/getCluster:getCluster", {"name": "prod"}))
    assert cluster["endpoint"].startswith("https://")
    assert cluster["certificateAuthorities"][0]["data"]
    decoded = mocks.call(
        _call("kubernetes:yaml:decode", {"text": "kind: Namespace\n---\nkind: ConfigMap\n"})
    )
    assert decoded == {"result": [{"kind": "Namespace"}, {"kind": "ConfigMap"}]}
    assert mocks.unanswered_calls == set()
    mocks.call(_call("acme:index:getWidget", {"size": 3}))
    assert mocks.unanswered_calls == {"acme:index:getWidget"}


# -- URNs and aliases ---------------------------------------------------------------------------


class _Component(pulumi.ComponentResource):
    def __init__(self, type_token: str, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(type_token, name, None, opts)


def _nested_program() -> None:
    import pulumi_aws as aws

    outer = _Component("acme:index:Outer", "outer")
    inner = _Component("acme:index:Inner", "inner", pulumi.ResourceOptions(parent=outer))
    aws.s3.Bucket("nested", opts=pulumi.ResourceOptions(parent=inner))


def test_urns_are_the_ones_the_pulumi_engine_assigns():
    """No `pulumi:pulumi:Stack$` prefix; every ancestor's type chained, as the engine does."""
    table = one(rendered("unencrypted-dynamodb")[0], "aws:dynamodb/table:Table")
    assert table.urn == "urn:pulumi:dev::orders-table::aws:dynamodb/table:Table::orders"
    nested = render_clean(_nested_program, stack="dev", project="p")
    bucket = one(nested, "aws:s3/bucket:Bucket")
    assert bucket.urn == (
        "urn:pulumi:dev::p::acme:index:Outer$acme:index:Inner$aws:s3/bucket:Bucket::nested"
    )


def _bucket_under(parent_type: str, alias_parent_type: str | None) -> Callable[[], None]:
    def program() -> None:
        import pulumi_aws as aws

        parents = {
            t: _Component(t, f"{t.rsplit(':', 1)[-1].lower()}-parent")
            for t in ("acme:index:Old", "acme:index:New")
        }
        aliases = [pulumi.Alias(parent=parents[alias_parent_type])] if alias_parent_type else []
        aws.s3.Bucket(
            "moved", opts=pulumi.ResourceOptions(parent=parents[parent_type], aliases=aliases)
        )

    return program


def test_a_parent_alias_names_the_urn_the_resource_had_before_it_moved():
    before = render_clean(_bucket_under("acme:index:Old", None), stack="dev", project="p")
    after = render_clean(
        _bucket_under("acme:index:New", "acme:index:Old"), stack="dev", project="p"
    )
    old_urn = one(before, "aws:s3/bucket:Bucket").urn
    assert old_urn in one(after, "aws:s3/bucket:Bucket").aliases


# -- helpers for calling the mocks directly -----------------------------------------------------


def _call(token: str, args: dict[str, Any]):
    return pulumi.runtime.MockCallArgs(token=token, args=args, provider="")


def _resource(type_token: str, name: str, inputs: dict[str, Any]):
    return pulumi.runtime.MockResourceArgs(typ=type_token, name=name, inputs=inputs, custom=True)


def test_a_record_named_by_an_unknown_output_renders_with_a_string_id():
    """A DNS validation record takes its name from the certificate's validation options, unknown
    at preview. The engine answers its registration with a string ID (the SDK's response needs
    one) and keeps the name unknown, instead of failing as an internal error."""
    inventory, _ = render_program(
        "dns-validated-certificate", config={"dns-validated-certificate:domain": "www.example.com"}
    )
    record = one(inventory, "aws:route53/record:Record", "www.example.com-validation")
    assert record.inputs["name"] == UNKNOWN and record.inputs["ttl"] == 60
    assert inventory.outputs["recordName"] == UNKNOWN  # the state keeps the name unknown
    assert "<pulumi" not in json.dumps(inventory.to_json())  # no object text in any value
    validation = one(inventory, "aws:acm/certificateValidation:CertificateValidation")
    assert record.urn in validation.dependencies


def test_a_kubernetes_object_named_by_an_unknown_output_gets_a_stable_string_id():
    """The same for the Kubernetes mocks: a ConfigMap named after a value unknown at preview
    keeps the name unknown, and its ID and uid are stable strings, not an object's text."""
    import pulumi_aws as aws
    import pulumi_kubernetes as k8s

    def program() -> None:
        cert = aws.acm.Certificate("cert", domain_name="www.example.com", validation_method="DNS")
        name = cert.domain_validation_options.apply(lambda o: o[0].resource_record_name)
        config_map = k8s.core.v1.ConfigMap(
            "validation", metadata={"name": name, "namespace": "web"}, data={"a": "b"}
        )
        pulumi.export("configMapName", name)
        pulumi.export("configMapId", config_map.id)
        pulumi.export("configMapUid", config_map.metadata.uid)

    renders = [
        render_clean(program, stack="dev", project="unknown-names", config={}) for _ in range(2)
    ]
    texts = [json.dumps(r.to_json(), sort_keys=True) for r in renders]
    assert texts[0] == texts[1]  # stable: no object address in any ID or uid
    assert "<pulumi" not in texts[0]
    config_map = one(renders[0], "kubernetes:core/v1:ConfigMap")
    assert config_map.inputs["metadata"]["name"] == UNKNOWN
    assert renders[0].outputs["configMapName"] == UNKNOWN
    assert isinstance(renders[0].outputs["configMapUid"], str)
