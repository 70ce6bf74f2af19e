"""BU pods reach what they need and no other BU: the rendered NetworkPolicies, evaluated.

The policies are the shipped stacks' (fraud-prod on platform-prod, marketing-dev on platform-dev),
rendered through the program. A small evaluator applies the Kubernetes NetworkPolicy semantics
(a pod is isolated for a direction once a policy selecting it lists that type; the allowed
traffic is the union of the selecting policies' rules; `namespaceSelector` and `podSelector` in
one peer are ANDed; a peer without `namespaceSelector` means the policy's namespace; empty
`ports` means every port) with vpc-cni's reading of `ipBlock`: it matches addresses, pods'
included, which is the permissive reading and so the one a safety claim must survive.

A connection to a pod needs the source's egress and the destination's ingress; the evaluator
names the hop that refuses. Both BUs are placed on one cluster (one VPC) for the cross-BU
checks, as they would be on a shared platform; it is done once in each platform's VPC.

`estate/analysis/netpol.py` (another change) will be the general evaluator; this one is local on
purpose and only as large as these checks need.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from estate.offline.mocks import EstateMocks

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PREFIX_LIST = "aws:ec2/getManagedPrefixList:getManagedPrefixList"


# -- a minimal NetworkPolicy evaluator --------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    namespace: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}

    def __hash__(self) -> int:
        return hash((self.namespace, self.ip))


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: dict[str, Any], policy_ns: str, pod: Pod | None, ip: str) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if pod is None:
        return False  # selectors match pods only
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], pod.namespace_labels)
    else:
        ns_ok = pod.namespace == policy_ns
    return ns_ok and selects(peer.get("podSelector"), pod.labels)


def port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
    )


def allows(
    policies: list[dict[str, Any]],
    direction: str,
    subject: Pod,
    peer_pod: Pod | None,
    peer_ip: str,
    port: int,
    protocol: str,
) -> tuple[bool, list[str]]:
    """Whether `subject`'s `direction` lets the peer through, and the policies that allow it."""
    selecting = [
        p
        for p in policies
        if p["namespace"] == subject.namespace
        and selects(p["spec"].get("podSelector"), subject.labels)
        and direction in p["spec"].get("policyTypes", [])
    ]
    if not selecting:
        return True, ["(not isolated)"]
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    allowing = []
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                peer_matches(p, policy["namespace"], peer_pod, peer_ip) for p in peers
            )
            if peer_ok and port_matches(rule.get("ports"), port, protocol):
                allowing.append(policy["name"])
    return bool(allowing), allowing


def connect(
    policies: list[dict[str, Any]],
    source: Pod,
    destination: Pod | str,
    port: int,
    protocol: str = "TCP",
) -> tuple[bool, str]:
    """(allowed, the hop that refuses or the policies that allow)."""
    dst_pod = destination if isinstance(destination, Pod) else None
    dst_ip = destination.ip if isinstance(destination, Pod) else destination
    ok, by = allows(policies, "Egress", source, dst_pod, dst_ip, port, protocol)
    if not ok:
        return False, f"egress of {source.namespace}"
    if dst_pod is not None:
        ok_in, by_in = allows(policies, "Ingress", dst_pod, source, source.ip, port, protocol)
        if not ok_in:
            return False, f"ingress of {dst_pod.namespace}"
        by = by + by_in
    return True, ", ".join(by)


# -- the rendered shipped stacks ---------------------------------------------------------------


def network_policies(inventory) -> list[dict[str, Any]]:
    return [
        {
            "name": r.inputs["metadata"]["name"],
            "namespace": r.inputs["metadata"]["namespace"],
            "spec": r.inputs["spec"],
        }
        for r in inventory.resources
        if r.type == NETPOL
    ]


@pytest.fixture(scope="module")
def cluster(rendered):
    """Both BUs' rendered policies, and each platform's VPC block (its `vpcCidr` output)."""
    return {
        "policies": network_policies(rendered("fraud-prod"))
        + network_policies(rendered("marketing-dev")),
        "vpc": {
            "fraud": rendered("platform-prod").outputs["vpcCidr"],
            "marketing": rendered("platform-dev").outputs["vpcCidr"],
        },
    }


def aws_prefix_list(service: str, region: str = "us-east-1") -> list[str]:
    """What the (offline) AWS answers for `com.amazonaws.<region>.<service>`."""
    answer = EstateMocks(region=region).call(
        pulumi.runtime.MockCallArgs(PREFIX_LIST, {"name": f"com.amazonaws.{region}.{service}"}, "")
    )
    return [e["cidr"] for e in answer["entries"]]


def host(cidr: str, index: int = 10) -> str:
    return str(ipaddress.ip_network(cidr)[index])


def pods_in(vpc: str) -> dict[str, Pod]:
    """A fraud feature reader, another fraud pod, a marketing pod and CoreDNS, all in `vpc`."""
    return {
        "fraud": Pod("fraud", host(vpc, 1010), {"app": "feature-reader"}),
        "fraud-other": Pod("fraud", host(vpc, 1020), {"app": "model-publisher"}),
        "marketing": Pod("marketing", host(vpc, 2010), {"app": "explore"}),
        "dns": Pod("kube-system", host(vpc, 30), {"k8s-app": "kube-dns"}),
    }


# -- liveness: what BU workloads need ------------------------------------------------------------


@pytest.mark.parametrize("service", ["s3", "dynamodb"])
def test_a_fraud_pod_reaches_the_gateway_endpoint_services_on_443_only(cluster, service):
    fraud = pods_in(cluster["vpc"]["fraud"])["fraud"]
    cidrs = aws_prefix_list(service)
    assert cidrs
    for cidr in cidrs:
        for address in (host(cidr, 0), host(cidr, -1)):
            ok, by = connect(cluster["policies"], fraud, address, 443)
            assert ok, f"{service} {address}: refused by {by}"
            assert "allow-aws-gateway-endpoints" in by
            assert not connect(cluster["policies"], fraud, address, 80)[0]


def test_a_fraud_pod_reaches_interface_endpoints_in_the_vpc_on_443(cluster):
    vpc = cluster["vpc"]["fraud"]
    fraud = pods_in(vpc)["fraud"]
    # an interface endpoint's network interface: an address of a private subnet of the VPC
    endpoint = host(vpc, 4000)
    ok, by = connect(cluster["policies"], fraud, endpoint, 443)
    assert ok and "allow-aws-interface-endpoints" in by
    assert not connect(cluster["policies"], fraud, endpoint, 22)[0]
    # outside the VPC and the AWS lists nothing is reachable (e.g. the internet through NAT)
    for address in ("8.8.8.8", "1.1.1.1", host(cluster["vpc"]["marketing"], 4000)):
        ok, by = connect(cluster["policies"], fraud, address, 443)
        assert not ok and by == "egress of fraud", address


def test_a_fraud_pod_resolves_names_and_gets_credentials(cluster):
    pods = pods_in(cluster["vpc"]["fraud"])
    for protocol in ("UDP", "TCP"):
        ok, by = connect(cluster["policies"], pods["fraud"], pods["dns"], 53, protocol)
        assert ok and "allow-dns" in by
    ok, by = connect(cluster["policies"], pods["fraud"], "169.254.170.23", 80)
    assert ok and "allow-pod-identity" in by
    assert not connect(cluster["policies"], pods["fraud"], "169.254.169.254", 80)[0]  # IMDS


def test_pods_of_one_bu_reach_each_other(cluster):
    pods = pods_in(cluster["vpc"]["fraud"])
    ok, by = connect(cluster["policies"], pods["fraud"], pods["fraud-other"], 8080)
    assert ok and "allow-same-namespace" in by


# -- safety: nothing to another BU ----------------------------------------------------------------


@pytest.mark.parametrize("platform", ["fraud", "marketing"])
@pytest.mark.parametrize("port", [443, 8080, 53])
def test_bus_cannot_reach_each_others_pods(cluster, platform, port):
    """Fraud -> marketing and marketing -> fraud are refused on every port, in either VPC.

    On 443 within the VPC the source's own egress lets the packet go (the interface-endpoint
    rule matches pod addresses under vpc-cni), and the destination's ingress is the hop that
    refuses it; the test names that hop, so relaxing `default-deny` would fail here.
    """
    pods = pods_in(cluster["vpc"][platform])
    for source, destination in (("fraud", "marketing"), ("marketing", "fraud")):
        ok, hop = connect(cluster["policies"], pods[source], pods[destination], port)
        assert not ok, f"{source} -> {destination}:{port} allowed by {hop}"
        in_vpc_https = port == 443 and platform == source
        if in_vpc_https:
            assert hop == f"ingress of {destination}"


def test_every_bu_namespace_refuses_ingress_from_outside_itself(cluster):
    for namespace in ("fraud", "marketing"):
        outsider = Pod("default", host(cluster["vpc"]["fraud"], 5000), {"app": "x"})
        target = Pod(namespace, host(cluster["vpc"]["fraud"], 6000), {})
        ok, by = allows(cluster["policies"], "Ingress", target, outsider, outsider.ip, 443, "TCP")
        assert not ok, f"{namespace} admits a pod of another namespace: {by}"


# -- the evaluator itself, on the Kubernetes documentation's semantics ---------------------------


def test_evaluator_follows_the_kubernetes_semantics():
    web = Pod("prod", "10.0.0.5", {"app": "web"})
    db = Pod("prod", "10.0.0.6", {"app": "db"})
    other = Pod("dev", "10.0.1.7", {"app": "web"})
    deny = {
        "name": "deny",
        "namespace": "prod",
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    # no policy selects a pod: it is not isolated
    assert connect([], web, db, 5432)[0]
    # default deny isolates ingress; egress of the source is still open
    assert not connect([deny], web, db, 5432)[0]
    both = {
        "name": "from-web",
        "namespace": "prod",
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress"],
            # namespaceSelector AND podSelector in one peer
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "prod"}
                            },
                            "podSelector": {"matchLabels": {"app": "web"}},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }
            ],
        },
    }
    assert connect([deny, both], web, db, 5432)[0]
    assert not connect([deny, both], web, db, 22)[0]
    assert not connect([deny, both], other, db, 5432)[0]  # right pod label, wrong namespace
    block = {
        "name": "out",
        "namespace": "prod",
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}]}],
        },
    }
    assert connect([block], web, "10.0.2.1", 1)[0]
    assert not connect([block], web, "10.0.1.1", 1)[0]
