"""The VPC layout: internal load-balancer subnets that no node or pod uses.

vpc-cni gives pods addresses of their node's subnet, so a NetworkPolicy `ipBlock` over the node
subnets admits every pod of the cluster. The endpoints admit "the load balancer" by its subnets;
that is only a boundary if the load balancer has subnets of its own. These tests hold the plan
(pure), the schema (same rule, one line), and the rendered shipped stacks to that.
"""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.network import plan_subnets
from estate.stack.config import ConfigError, load_stack

ROOT = Path(__file__).resolve().parent.parent
INTERNAL_ELB = "kubernetes.io/role/internal-elb"
SUBNET = "aws:ec2/subnet:Subnet"
PLATFORMS = ("platform-prod", "platform-dev")
BUS = ("fraud-prod", "marketing-dev")


def legacy_layout(vpc_cidr: str, az_count: int) -> list[tuple[str, str]]:
    """(private, public) of each AZ as `plan_subnets` cut them before the load-balancer
    subnets existed: running subnets must keep exactly these blocks (a new CIDR replaces them)."""
    network = ipaddress.IPv4Network(vpc_cidr)
    parts = list(network.subnets(prefixlen_diff=math.ceil(math.log2(az_count + 1))))
    public = list(parts[-1].subnets(prefixlen_diff=4))
    return [(str(parts[i]), str(public[i])) for i in range(az_count)]


# Every block the schema accepts: RFC 1918, /16 to /22, aligned.
RANGES = [
    (ipaddress.IPv4Network("10.0.0.0/8"), 16),
    (ipaddress.IPv4Network("172.16.0.0/12"), 16),
    (ipaddress.IPv4Network("192.168.0.0/16"), 16),
]


@st.composite
def vpc_blocks(draw) -> str:
    base, _ = draw(st.sampled_from(RANGES))
    prefix = draw(st.integers(min_value=max(16, base.prefixlen), max_value=22))
    blocks = 2 ** (prefix - base.prefixlen)
    index = draw(st.integers(min_value=0, max_value=blocks - 1))
    return str(
        ipaddress.IPv4Network((int(base.network_address) + index * 2 ** (32 - prefix), prefix))
    )


@given(cidr=vpc_blocks(), azs=st.integers(min_value=2, max_value=6))
def test_load_balancer_subnets_are_disjoint_inside_the_vpc_and_big_enough(cidr, azs):
    vpc = ipaddress.IPv4Network(cidr)
    try:
        plan = plan_subnets(cidr, azs)
    except ValueError as exc:
        # Only blocks too small for the AZs are refused, and they are refused by name.
        assert "too small" in str(exc)
        assert vpc.prefixlen >= 21
        return
    assert [p.az_index for p in plan] == list(range(azs))
    lbs = [ipaddress.IPv4Network(p.load_balancer_cidr) for p in plan]
    others = [ipaddress.IPv4Network(c) for p in plan for c in (p.private_cidr, p.public_cidr)]
    assert all(lb.subnet_of(vpc) for lb in lbs)
    for i, lb in enumerate(lbs):
        assert not any(lb.overlaps(o) for o in others), (cidr, azs, lb)
        assert not any(lb.overlaps(o) for o in lbs[i + 1 :]), (cidr, azs, lb)
        # An ALB needs a /27 per subnet (and 8 free addresses).
        assert lb.prefixlen <= 27
    # The node and NAT subnets are byte-identical to the layout before this change.
    assert [(p.private_cidr, p.public_cidr) for p in plan] == legacy_layout(cidr, azs)


def test_plan_refuses_blocks_whose_load_balancer_subnets_would_be_too_small():
    # /21 over 6 AZs has /28 public pieces: fine for NAT, too small for an ALB.
    with pytest.raises(ValueError, match=r"too small for 6 .* would be /28; an ALB needs a /27"):
        plan_subnets("10.0.0.0/21", 6)
    assert plan_subnets("10.0.0.0/22", 3)[2].load_balancer_cidr == "10.0.3.192/27"
    assert [p.load_balancer_cidr for p in plan_subnets("10.20.0.0/16", 3)] == [
        "10.20.224.0/21",
        "10.20.232.0/21",
        "10.20.240.0/21",
    ]


def test_schema_refuses_a_vpc_too_small_for_its_load_balancer_subnets(tmp_path):
    text = (ROOT / "stacks" / "Pulumi.platform-dev.yaml").read_text()
    assert "cidr: 10.10.0.0/16\n    azCount: 3\n" in text
    path = tmp_path / "Pulumi.platform-dev.yaml"
    path.write_text(
        text.replace("cidr: 10.10.0.0/16\n    azCount: 3\n", "cidr: 10.10.0.0/21\n    azCount: 6\n")
    )
    with pytest.raises(ConfigError) as info:
        load_stack(path, "stacks/Pulumi.platform-dev.yaml")
    [line] = info.value.lines
    assert line.startswith("stacks/Pulumi.platform-dev.yaml: ai-estate:network")
    assert "10.10.0.0/21 is too small for 6 availability zones" in line


# -- the rendered shipped stacks ----------------------------------------------------------


def _subnets(inv, kind: str) -> list:
    return sorted(
        (r for r in inv.resources if r.type == SUBNET and r.name.rsplit("-", 2)[-2] == kind),
        key=lambda r: r.name,
    )


@pytest.mark.parametrize("stack", PLATFORMS)
def test_only_the_load_balancer_subnets_carry_the_internal_elb_role(rendered, stack):
    inv = rendered(stack)
    subnets = [r for r in inv.resources if r.type == SUBNET]
    tagged = {r.name for r in subnets if (r.inputs.get("tags") or {}).get(INTERNAL_ELB) == "1"}
    lb = _subnets(inv, "lb")
    assert len(lb) == 3 and tagged == {r.name for r in lb}
    cluster = str(inv.outputs["clusterName"])
    for r in lb:
        assert r.inputs["tags"][f"kubernetes.io/cluster/{cluster}"] == "shared"
        assert not r.inputs.get("mapPublicIpOnLaunch")
    # Karpenter here selects subnets by id; no subnet carries a discovery tag it could match.
    assert not any("karpenter.sh/discovery" in (r.inputs.get("tags") or {}) for r in subnets)
    lb_cidrs = [r.inputs["cidrBlock"] for r in lb]
    node_cidrs = [r.inputs["cidrBlock"] for r in _subnets(inv, "private")]
    assert not any(
        ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
        for a in lb_cidrs
        for b in node_cidrs
    )


@pytest.mark.parametrize("stack", PLATFORMS)
def test_load_balancer_subnets_route_through_their_azs_nat(rendered, stack):
    """An internal ALB validating JWTs fetches the issuer's JWKS through NAT."""
    inv = rendered(stack)
    assoc = {
        r.inputs["subnetId"]: r.inputs["routeTableId"]
        for r in inv.resources
        if r.type == "aws:ec2/routeTableAssociation:RouteTableAssociation"
    }
    private_ids, lb_ids = inv.outputs["privateSubnetIds"], inv.outputs["loadBalancerSubnetIds"]
    assert len(lb_ids) == len(private_ids) == 3 and not set(lb_ids) & set(private_ids)
    for private_id, lb_id in zip(private_ids, lb_ids, strict=True):
        # the AZ's private route table: out through NAT, with the S3/DynamoDB gateway routes
        assert assoc[lb_id] == assoc[private_id]


@pytest.mark.parametrize("stack", PLATFORMS + BUS)
def test_no_node_ever_lands_in_a_load_balancer_subnet(rendered, stack):
    inv = rendered(stack)
    platform = (
        rendered(stack) if stack in PLATFORMS else rendered(f"platform-{stack.split('-')[1]}")
    )
    lb_ids = set(platform.outputs["loadBalancerSubnetIds"])
    node_ids = set(platform.outputs["privateSubnetIds"])
    selected: list[tuple[str, set[str]]] = []
    for r in inv.resources:
        if r.type == "aws:eks/cluster:Cluster":
            selected.append((r.name, set(r.inputs["vpcConfig"]["subnetIds"])))
        elif r.type == "aws:eks/nodeGroup:NodeGroup":
            selected.append((r.name, set(r.inputs["subnetIds"])))
        elif r.inputs.get("kind") == "EC2NodeClass":
            terms = r.inputs["spec"]["subnetSelectorTerms"]
            # by id only: a tag term could match subnets this test cannot see
            assert all(set(t) == {"id"} for t in terms), (r.name, terms)
            selected.append((r.name, {t["id"] for t in terms}))
    assert selected, f"{stack} renders no cluster, node group or EC2NodeClass"
    for name, ids in selected:
        assert ids and ids <= node_ids and not ids & lb_ids, (stack, name, ids)


def test_gateway_alb_is_pinned_to_the_load_balancer_subnets(rendered):
    inv = rendered("platform-prod")
    [config] = [r for r in inv.resources if r.inputs.get("kind") == "LoadBalancerConfiguration"]
    assert config.inputs["spec"]["scheme"] == "internal"
    assert config.inputs["spec"]["loadBalancerSubnets"] == [
        {"identifier": i} for i in inv.outputs["loadBalancerSubnetIds"]
    ]
    lb_cidrs = [r.inputs["cidrBlock"] for r in _subnets(inv, "lb")]
    assert inv.outputs["serving"]["loadBalancerSubnetCidrs"] == lb_cidrs


@pytest.mark.parametrize("stack", BUS)
def test_endpoint_ingress_admits_exactly_the_load_balancer_subnets(rendered, stack):
    inv = rendered(stack)
    platform = rendered(f"platform-{stack.split('-')[1]}")
    lb_cidrs = sorted(r.inputs["cidrBlock"] for r in _subnets(platform, "lb"))
    node_nets = [ipaddress.ip_network(r.inputs["cidrBlock"]) for r in _subnets(platform, "private")]
    policies = [
        r
        for r in inv.resources
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and r.inputs["metadata"]["name"].endswith("-serving")
    ]
    bindings = [r for r in inv.resources if r.inputs.get("kind") == "TargetGroupBinding"]
    assert policies and len(bindings) == len(policies)
    for r in policies:
        [rule] = r.inputs["spec"]["ingress"]
        blocks = [p["ipBlock"]["cidr"] for p in rule["from"]]
        assert all(set(p) == {"ipBlock"} for p in rule["from"])
        assert sorted(blocks) == lb_cidrs, r.name
        # not one node or pod address is admitted
        assert not any(ipaddress.ip_network(b).overlaps(n) for b in blocks for n in node_nets)
    for r in bindings:
        [rule] = r.inputs["spec"]["networking"]["ingress"]
        assert sorted(p["ipBlock"]["cidr"] for p in rule["from"]) == lb_cidrs, r.name
