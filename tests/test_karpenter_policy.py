"""The Karpenter controller policy grants what upstream's policy for the pinned version grants
(tests/vendor/karpenter-1.8.1/controller-policy.json), statement by statement, with only the
deliberate differences listed here."""

from __future__ import annotations

import json
from pathlib import Path

from components.addons import KARPENTER_CHART, karpenter_controller_policy

VENDORED = Path(__file__).resolve().parent / "vendor" / "karpenter-1.8.1" / "controller-policy.json"
PARTITION, REGION, ACCOUNT, CLUSTER = "aws", "us-east-1", "123456789012", "platform-prod-ai"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{CLUSTER}-karpenter"
NODE_ROLE_PATH = "/ai-estate/nodes/"

#: Sid -> why ours differs from upstream's (anything else must match exactly).
DELIBERATE = {
    # ours may pass any role under the node path (one per BU), never the one named role
    "AllowPassingInstanceRole": "replaced by AllowPassingNodeRolesOnly",
    # ours also reads queue attributes and zones (harmless reads, kept from the v1.0 policy)
    "AllowInterruptionQueueActions": "adds sqs:GetQueueAttributes",
    "AllowRegionalReadActions": "adds ec2:DescribeAvailabilityZones",
}


def upstream() -> dict[str, dict]:
    text = VENDORED.read_text()
    for placeholder, value in {
        "${AWS::Partition}": PARTITION,
        "${AWS::Region}": REGION,
        "${AWS::AccountId}": ACCOUNT,
        "${ClusterName}": CLUSTER,
        "${KarpenterInterruptionQueue.Arn}": QUEUE,
        "${KarpenterNodeRole.Arn}": f"arn:aws:iam::{ACCOUNT}:role/KarpenterNodeRole-{CLUSTER}",
    }.items():
        text = text.replace(placeholder, value)
    assert "${" not in text
    return {s["Sid"]: s for s in json.loads(text)["Statement"]}


def ours() -> dict[str, dict]:
    document = karpenter_controller_policy(
        partition=PARTITION,
        region=REGION,
        account_id=ACCOUNT,
        cluster=CLUSTER,
        queue_arn=QUEUE,
        node_role_path=NODE_ROLE_PATH,
    )
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


def as_set(value) -> set:
    return set(value) if isinstance(value, list) else {value}


def test_the_vendored_policy_is_for_the_pinned_version():
    assert VENDORED.parent.name == f"karpenter-{KARPENTER_CHART.version}"


def test_every_upstream_statement_is_granted_the_same_actions_resources_and_conditions():
    theirs, mine = upstream(), ours()
    for sid, statement in theirs.items():
        if sid in DELIBERATE:
            continue
        assert sid in mine, f"{sid} is missing"
        assert as_set(mine[sid]["Action"]) == as_set(statement["Action"]), sid
        assert as_set(mine[sid]["Resource"]) == as_set(statement["Resource"]), sid
        assert mine[sid].get("Condition") == statement.get("Condition"), sid


def test_capacity_reservations_can_be_launched_into():
    # Capacity reservations and capacity blocks are named in RunInstances/CreateFleet requests.
    reservation = f"arn:aws:ec2:{REGION}:*:capacity-reservation/*"
    mine = ours()
    assert reservation in mine["AllowScopedEC2InstanceAccessActions"]["Resource"]
    assert reservation in mine["AllowScopedEC2InstanceActionsWithTags"]["Resource"]
    assert "ec2:DescribeCapacityReservations" in mine["AllowRegionalReadActions"]["Action"]


def test_the_deliberate_differences_are_exactly_these():
    theirs, mine = upstream(), ours()
    assert as_set(mine["AllowInterruptionQueueActions"]["Action"]) - as_set(
        theirs["AllowInterruptionQueueActions"]["Action"]
    ) == {"sqs:GetQueueAttributes"}
    assert as_set(mine["AllowRegionalReadActions"]["Action"]) - as_set(
        theirs["AllowRegionalReadActions"]["Action"]
    ) == {"ec2:DescribeAvailabilityZones"}
    passing = mine["AllowPassingNodeRolesOnly"]
    assert passing["Resource"] == f"arn:aws:iam::{ACCOUNT}:role{NODE_ROLE_PATH}*"
    assert passing["Action"] == "iam:PassRole"
    # ours adds only what the estate needs: BU-key node volumes and the encrypted queue's key
    extra = set(mine) - set(theirs) - {"AllowPassingNodeRolesOnly"}
    assert extra == {"AllowEncryptedNodeVolumes"}
