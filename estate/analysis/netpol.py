"""A small NetworkPolicy evaluator: the parts of `networking.k8s.io/v1` AI Estate's policies use.

It exists to prove, on the rendered stacks, that a BU's intended connections are open and every
other one is shut. It follows the Kubernetes semantics as the NetworkPolicy concept page states
them (https://kubernetes.io/docs/concepts/services-networking/network-policies/) and is tested
against that page's examples (tests/test_netpol_eval.py):

- A pod is isolated for a direction once any policy in its namespace whose `podSelector`
  selects it lists that direction in `policyTypes` (default: `Ingress`, plus `Egress` when the
  policy has egress rules). A pod no policy isolates allows everything in that direction.
- What an isolated pod allows is the union of the rules of every policy selecting it; policies
  only add. A connection needs the source's egress AND the destination's ingress to allow it.
- In a peer, `namespaceSelector` and `podSelector` are ANDed; separate peers are ORed; a peer
  with only `podSelector` means pods of the policy's own namespace. `from`/`to` missing or empty:
  every peer. `ingress`/`egress` missing or empty: no connection (default deny); `[{}]`: all.
- `ports` missing or empty: every port; a port entry's protocol defaults to TCP; a port may be
  a name (the destination pod's named container port), and `endPort` makes a range.
- `ipBlock` with `except`; label selectors with `matchLabels` and `matchExpressions` (`In`,
  `NotIn`, `Exists`, `DoesNotExist`), namespaces carrying `kubernetes.io/metadata.name`.

`ipBlock` and pod addresses: the API leaves it to the network plugin whether an `ipBlock` also
matches pod IPs. vpc-cni (the plugin EKS enforces policies with) matches addresses, so a pod
given an `ip` here is matched by `ipBlock`s covering it. That is the generous reading: a "this is
refused" proof stays sound.

Out of scope, refused loudly: `namespaceSelector`/`podSelector` with unknown operators, empty
peers (the API server rejects them), SCTP semantics beyond the protocol name, AdminNetworkPolicy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["Ingress", "Egress"]
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (Kubernetes >= 1.22): selects a namespace by name."""


class UnsupportedNetworkPolicyError(ValueError):
    """The policy uses a part of the API this evaluator does not model."""


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (with a namespace) or an address outside the cluster."""

    name: str
    """What the failure sentence calls it: `fraud/feature-reader`, `S3 (gateway endpoint)`."""
    namespace: str | None = None
    """The pod's namespace; None for an endpoint outside the cluster."""
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    """The namespace's labels (`kubernetes.io/metadata.name` is added from `namespace`)."""
    ip: str | None = None
    """The address: required for outside endpoints, optional for pods (see the module doc)."""
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    """A pod's named container ports: name -> (number, protocol)."""

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    def all_namespace_labels(self) -> dict[str, str]:
        labels = dict(self.namespace_labels)
        if self.namespace is not None:
            labels[NAMESPACE_NAME_LABEL] = self.namespace
        return labels


def pod(
    namespace: str,
    name: str,
    labels: Mapping[str, str] | None = None,
    *,
    namespace_labels: Mapping[str, str] | None = None,
    ip: str | None = None,
    named_ports: Mapping[str, tuple[int, str]] | None = None,
) -> Endpoint:
    """A pod endpoint, named `namespace/name` in sentences."""
    return Endpoint(
        f"{namespace}/{name}",
        namespace,
        dict(labels or {}),
        dict(namespace_labels or {}),
        ip,
        dict(named_ports or {}),
    )


def external(name: str, ip: str) -> Endpoint:
    """An address outside the cluster (an AWS endpoint, a load balancer, the internet)."""
    ipaddress.ip_address(ip)  # a typo in a test's address fails here, not as a silent deny
    return Endpoint(name, None, {}, {}, ip, {})


@dataclass(frozen=True)
class Verdict:
    """The answer, with the sentence a reviewer reads in a failing test."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


# -- selectors ---------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: `matchLabels` and every `matchExpressions` entry must hold (an empty
    selector selects everything)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = list(expression.get("values") or [])
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            # Kubernetes: NotIn also selects objects that lack the key.
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            raise UnsupportedNetworkPolicyError(f"selector operator {operator!r} is not modelled")
        if not ok:
            return False
    return True


# -- policies ----------------------------------------------------------------------------------


def _spec(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    return policy.get("spec") or {}


def policy_namespace(policy: Mapping[str, Any]) -> str:
    return (policy.get("metadata") or {}).get("namespace") or "default"


def policy_id(policy: Mapping[str, Any]) -> str:
    """`namespace/name`, how sentences name a policy."""
    return f"{policy_namespace(policy)}/{(policy.get('metadata') or {}).get('name', '?')}"


def policy_types(policy: Mapping[str, Any]) -> list[str]:
    """`policyTypes`, defaulted as the API server does: Ingress, plus Egress with egress rules."""
    spec = _spec(policy)
    declared = spec.get("policyTypes")
    if declared:
        return list(declared)
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def selects(policy: Mapping[str, Any], endpoint: Endpoint) -> bool:
    """Whether the policy applies to the endpoint (a pod of its namespace its selector matches)."""
    return (
        endpoint.is_pod
        and policy_namespace(policy) == endpoint.namespace
        and selector_matches(_spec(policy).get("podSelector") or {}, endpoint.labels)
    )


def _in_block(block: Mapping[str, Any], ip: str | None) -> bool:
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(block["cidr"], strict=False)
    if address.version != network.version or address not in network:
        return False
    return not any(
        address in ipaddress.ip_network(e, strict=False)
        for e in block.get("except") or []
        if ipaddress.ip_network(e, strict=False).version == address.version
    )


def peer_matches(peer: Mapping[str, Any], owner_namespace: str, other: Endpoint) -> bool:
    """One `from`/`to` entry against the other end of the connection."""
    if "ipBlock" in peer:
        if "podSelector" in peer or "namespaceSelector" in peer:
            raise UnsupportedNetworkPolicyError("ipBlock cannot be combined with selectors")
        return _in_block(peer["ipBlock"], other.ip)
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        raise UnsupportedNetworkPolicyError(
            "a peer must name podSelector, namespaceSelector or ipBlock"
        )
    if not other.is_pod:
        return False  # selectors select pods only
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"] or {}, other.all_namespace_labels()):
            return False
    elif other.namespace != owner_namespace:
        return False  # a lone podSelector means pods of the policy's own namespace
    return selector_matches(peer.get("podSelector") or {}, other.labels)


def port_matches(
    ports: Sequence[Mapping[str, Any]] | None, port: int, protocol: str, destination: Endpoint
) -> bool:
    """A rule's `ports` against the destination port (named ports are the destination pod's)."""
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True  # every port of this protocol
        if isinstance(wanted, str) and not wanted.isdigit():
            named = destination.named_ports.get(wanted)
            if named is not None and named == (port, protocol):
                return True
            continue
        low = int(wanted)
        high = int(entry.get("endPort", low))
        if low <= port <= high:
            return True
    return False


def _describe(port: int, protocol: str) -> str:
    return f"{protocol} {port}"


def _direction_verdict(
    policies: Iterable[Mapping[str, Any]],
    direction: Direction,
    pod_end: Endpoint,
    other: Endpoint,
    port: int,
    protocol: str,
    destination: Endpoint,
) -> tuple[bool, str]:
    """Whether the pod's side of the hop lets the connection through, and the sentence why."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolating = [p for p in policies if selects(p, pod_end) and direction in policy_types(p)]
    arrow = f"from {other.name}" if direction == "Ingress" else f"to {other.name}"
    what = f"{_describe(port, protocol)} {arrow}"
    if not isolating:
        return True, f"{direction.lower()} of {pod_end.name}: not isolated (no policy selects it)"
    for policy in isolating:
        for index, rule in enumerate(_spec(policy).get(key) or []):
            peers = rule.get(peers_key) or []
            peer_ok = not peers or any(
                peer_matches(peer, policy_namespace(policy), other) for peer in peers
            )
            if peer_ok and port_matches(rule.get("ports"), port, protocol, destination):
                return True, (
                    f"{direction.lower()} of {pod_end.name}: allowed by NetworkPolicy "
                    f"{policy_id(policy)} {key} rule #{index}"
                )
    names = ", ".join(policy_id(p) for p in isolating)
    return False, (
        f"refused at {direction.lower()} of {pod_end.name}: isolated for {direction} by "
        f"NetworkPolicy {names}, and no {key} rule of theirs allows {what}"
    )


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    src: Endpoint,
    dst: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> Verdict:
    """Whether a connection from `src` to `dst` on `port`/`protocol` is allowed.

    The source's egress is checked when the source is a pod, the destination's ingress when it
    is one; the sentence names the first hop that refuses (policy and direction), or the rules
    that allow each hop.
    """
    policies = list(policies)
    hops: list[str] = []
    if src.is_pod:
        ok, why = _direction_verdict(policies, "Egress", src, dst, port, protocol, dst)
        if not ok:
            return Verdict(False, f"{src.name} → {dst.name} {protocol} {port}: {why}")
        hops.append(why)
    if dst.is_pod:
        ok, why = _direction_verdict(policies, "Ingress", dst, src, port, protocol, dst)
        if not ok:
            return Verdict(False, f"{src.name} → {dst.name} {protocol} {port}: {why}")
        hops.append(why)
    return Verdict(True, f"{src.name} → {dst.name} {protocol} {port}: " + "; ".join(hops))
