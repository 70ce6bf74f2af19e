"""Capacity reservations and Capacity Blocks for ML on Karpenter GPU pools (p5 users need
them): a pool's `capacityReservationIds` become the EC2NodeClass's
`capacityReservationSelectorTerms`, the NodePool launches `reserved` capacity only, both
validate against Karpenter 1.8.1's CRDs, and the controller may launch into them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.addons import karpenter_controller_policy
from estate.offline.gate import render_stack
from estate.offline.project import load_project
from estate.stack.config import ConfigError, split_namespace, validate_config

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT / "tests" / "vendor" / "karpenter-1.8.1"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
RESERVATION = "cr-0a1b2c3d4e5f67890"


def spec_schema(crd_file: str) -> dict:
    crd = yaml.safe_load((CRDS / crd_file).read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


@pytest.fixture(scope="module")
def reserved_fraud(tmp_path_factory):
    root = tmp_path_factory.mktemp("reserved")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, root / name)
    for name in ("components", "estate"):
        (root / name).symlink_to(ROOT / name)
    (root / "stacks").mkdir()
    for stack in ("platform-prod", "fraud-prod"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{stack}.yaml", root / "stacks")
    path = root / "stacks" / "Pulumi.fraud-prod.yaml"
    doc = yaml.safe_load(path.read_text())
    pools = doc["config"]["ai-estate:gpuPools"]
    [train] = [p for p in pools if p.get("provisioner", "karpenter") == "karpenter"]
    train["capacityReservationIds"] = [RESERVATION]
    path.write_text(yaml.safe_dump(doc))
    return render_stack(load_project(root), "fraud-prod")


def test_reserved_pool_selects_its_reservations_and_launches_reserved_only(reserved_fraud):
    [node_class] = [r for r in reserved_fraud.resources if r.type == NODE_CLASS]
    assert node_class.inputs["spec"]["capacityReservationSelectorTerms"] == [{"id": RESERVATION}]
    [node_pool] = [r for r in reserved_fraud.resources if r.type == NODE_POOL]
    [capacity] = [
        q
        for q in node_pool.inputs["spec"]["template"]["spec"]["requirements"]
        if q["key"] == "karpenter.sh/capacity-type"
    ]
    assert capacity["values"] == ["reserved"]
    jsonschema.validate(
        node_class.inputs["spec"], spec_schema("karpenter.k8s.aws_ec2nodeclasses.yaml")
    )
    jsonschema.validate(node_pool.inputs["spec"], spec_schema("karpenter.sh_nodepools.yaml"))


def test_shipped_karpenter_pools_validate_against_the_crds(rendered):
    inventory = rendered("fraud-prod")
    for typ, crd in (
        (NODE_CLASS, "karpenter.k8s.aws_ec2nodeclasses.yaml"),
        (NODE_POOL, "karpenter.sh_nodepools.yaml"),
    ):
        found = [r for r in inventory.resources if r.type == typ]
        assert found
        for r in found:
            jsonschema.validate(r.inputs["spec"], spec_schema(crd))
            assert "capacityReservationSelectorTerms" not in r.inputs["spec"]


def test_a_bad_reservation_id_or_a_managed_pool_is_a_config_error():
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.fraud-prod.yaml").read_text())
    values = split_namespace(doc["config"])
    managed = next(p for p in values["gpuPools"] if p.get("provisioner") == "managed")
    managed["capacityReservationIds"] = [RESERVATION]
    with pytest.raises(ConfigError, match="capacityReservationIds needs provisioner: karpenter"):
        validate_config(values, "stacks/Pulumi.fraud-prod.yaml")
    managed.pop("capacityReservationIds")
    karpenter = next(
        p for p in values["gpuPools"] if p.get("provisioner", "karpenter") == "karpenter"
    )
    karpenter["capacityReservationIds"] = ["reservation-1"]
    with pytest.raises(ConfigError, match="capacityReservationIds"):
        validate_config(values, "stacks/Pulumi.fraud-prod.yaml")


def test_the_controller_may_launch_into_reservations():
    policy = json.loads(
        karpenter_controller_policy(
            partition="aws",
            region="us-east-1",
            account_id="123456789012",
            cluster="c",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:c-karpenter",
            node_role_path="/ai-estate/nodes/",
        )
    )
    launch = [
        s for s in policy["Statement"] if "ec2:RunInstances" in s["Action"] and "Condition" not in s
    ]
    assert any("arn:aws:ec2:us-east-1:*:capacity-reservation/*" in s["Resource"] for s in launch)
