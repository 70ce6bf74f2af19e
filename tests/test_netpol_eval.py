"""The NetworkPolicy evaluator against the examples of the Kubernetes NetworkPolicy page.

https://kubernetes.io/docs/concepts/services-networking/network-policies/ (the manifests are the
page's, from kubernetes/website content/en/examples/service/networking/). Each test is named
after the example and asserts what the page says the example does.
"""

from __future__ import annotations

import pytest

from estate.analysis.netpol import (
    UnsupportedNetworkPolicyError,
    evaluate,
    external,
    pod,
    policy_types,
    selector_matches,
)

# -- the page's manifests ---------------------------------------------------------------------

TEST_NETWORK_POLICY = {
    "metadata": {"name": "test-network-policy", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                    {"podSelector": {"matchLabels": {"role": "frontend"}}},
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 5978}],
            }
        ],
    },
}


def _with_from(peers):
    return {
        "metadata": {"name": "selectors", "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [{"from": peers}]},
    }


# "contains a single from element allowing connections from Pods with the label role=client in
# namespaces with the label user=alice"
NAMESPACE_AND_POD_SELECTOR = _with_from(
    [
        {
            "namespaceSelector": {"matchLabels": {"user": "alice"}},
            "podSelector": {"matchLabels": {"role": "client"}},
        }
    ]
)
# "contains two elements in the from array, and allows connections from Pods in the local
# Namespace with the label role=client, or from any Pod in any namespace with the label
# user=alice"
NAMESPACE_OR_POD_SELECTOR = _with_from(
    [
        {"namespaceSelector": {"matchLabels": {"user": "alice"}}},
        {"podSelector": {"matchLabels": {"role": "client"}}},
    ]
)
DEFAULT_DENY_INGRESS = {
    "metadata": {"name": "default-deny-ingress", "namespace": "default"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}
ALLOW_ALL_INGRESS = {
    "metadata": {"name": "allow-all-ingress", "namespace": "default"},
    "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]},
}
DEFAULT_DENY_EGRESS = {
    "metadata": {"name": "default-deny-egress", "namespace": "default"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
}
ALLOW_ALL_EGRESS = {
    "metadata": {"name": "allow-all-egress", "namespace": "default"},
    "spec": {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]},
}
DEFAULT_DENY_ALL = {
    "metadata": {"name": "default-deny-all", "namespace": "default"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}
MULTI_PORT_EGRESS = {
    "metadata": {"name": "multi-port-egress", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}],
            }
        ],
    },
}
# "Targeting a Namespace by its name": the API server labels every namespace with its name.
EGRESS_NAMESPACES = {
    "metadata": {"name": "egress-namespaces", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "myapp"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/metadata.name",
                                    "operator": "In",
                                    "values": ["frontend", "backend"],
                                }
                            ]
                        }
                    }
                ]
            }
        ],
    },
}

DB = pod("default", "db", {"role": "db"})
FRONTEND = pod("default", "frontend", {"role": "frontend"})
OTHER = pod("default", "other", {"role": "other"})
MYPROJECT_POD = pod("team", "any", {"app": "x"}, namespace_labels={"project": "myproject"})
ELSEWHERE_FRONTEND = pod("elsewhere", "frontend", {"role": "frontend"})


# -- test-network-policy ------------------------------------------------------------------------


def test_test_network_policy_isolates_role_db_for_both_directions():
    assert policy_types(TEST_NETWORK_POLICY) == ["Ingress", "Egress"]
    verdict = evaluate([TEST_NETWORK_POLICY], OTHER, DB, 6379)
    assert not verdict
    assert "ingress of default/db" in verdict.reason
    assert "default/test-network-policy" in verdict.reason


def test_test_network_policy_allows_frontend_pods_of_its_namespace_on_6379():
    assert evaluate([TEST_NETWORK_POLICY], FRONTEND, DB, 6379)
    assert not evaluate([TEST_NETWORK_POLICY], FRONTEND, DB, 6380)
    assert not evaluate([TEST_NETWORK_POLICY], FRONTEND, DB, 6379, "UDP")
    # role=frontend in another namespace is not "a pod in the default namespace"
    assert not evaluate([TEST_NETWORK_POLICY], ELSEWHERE_FRONTEND, DB, 6379)


def test_test_network_policy_allows_any_pod_of_namespaces_labelled_project_myproject():
    assert evaluate([TEST_NETWORK_POLICY], MYPROJECT_POD, DB, 6379)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("172.17.0.1", True),
        ("172.17.0.255", True),
        ("172.17.1.0", False),
        ("172.17.1.200", False),
        ("172.17.2.0", True),
        ("172.17.255.255", True),
        ("172.18.0.1", False),
    ],
)
def test_test_network_policy_ipblock_except(address, allowed):
    # "IP addresses in the ranges 172.17.0.0-172.17.0.255 and 172.17.2.0-172.17.255.255 (ie, all
    # of 172.17.0.0/16 except 172.17.1.0/24)"
    assert bool(evaluate([TEST_NETWORK_POLICY], external("client", address), DB, 6379)) is allowed


def test_test_network_policy_egress_to_10_0_0_0_24_on_5978_only():
    assert evaluate([TEST_NETWORK_POLICY], DB, external("svc", "10.0.0.7"), 5978)
    refused = evaluate([TEST_NETWORK_POLICY], DB, external("svc", "10.0.1.7"), 5978)
    assert not refused
    assert "refused at egress of default/db" in refused.reason
    assert not evaluate([TEST_NETWORK_POLICY], DB, external("svc", "10.0.0.7"), 443)


def test_test_network_policy_leaves_pods_it_does_not_select_alone():
    assert evaluate([TEST_NETWORK_POLICY], OTHER, FRONTEND, 1234)


# -- namespaceSelector and podSelector: AND vs OR ------------------------------------------------


def test_namespace_and_pod_selector_in_one_peer_are_anded():
    client_in_alice = pod("alice-ns", "c", {"role": "client"}, namespace_labels={"user": "alice"})
    other_in_alice = pod("alice-ns", "o", {"role": "other"}, namespace_labels={"user": "alice"})
    local_client = pod("default", "c", {"role": "client"})
    assert evaluate([NAMESPACE_AND_POD_SELECTOR], client_in_alice, DB, 80)
    assert not evaluate([NAMESPACE_AND_POD_SELECTOR], other_in_alice, DB, 80)
    # the podSelector of a combined peer is not limited to the policy's own namespace, but the
    # namespaceSelector must still match
    assert not evaluate([NAMESPACE_AND_POD_SELECTOR], local_client, DB, 80)


def test_namespace_or_pod_selector_in_two_peers_are_ored():
    other_in_alice = pod("alice-ns", "o", {"role": "other"}, namespace_labels={"user": "alice"})
    local_client = pod("default", "c", {"role": "client"})
    client_elsewhere = pod("bob-ns", "c", {"role": "client"}, namespace_labels={"user": "bob"})
    assert evaluate([NAMESPACE_OR_POD_SELECTOR], other_in_alice, DB, 80)
    assert evaluate([NAMESPACE_OR_POD_SELECTOR], local_client, DB, 80)
    # a lone podSelector selects pods in the policy's own namespace only
    assert not evaluate([NAMESPACE_OR_POD_SELECTOR], client_elsewhere, DB, 80)


# -- default policies ----------------------------------------------------------------------------


def test_default_deny_ingress():
    refused = evaluate([DEFAULT_DENY_INGRESS], FRONTEND, DB, 80)
    assert not refused
    assert "isolated for Ingress by NetworkPolicy default/default-deny-ingress" in refused.reason
    # "This policy does not affect isolation for egress from any pod."
    assert evaluate([DEFAULT_DENY_INGRESS], DB, external("x", "8.8.8.8"), 53, "UDP")


def test_allow_all_ingress():
    # "With this policy in place, no additional policy or policies can cause any incoming
    # connection to those pods to be denied."
    policies = [DEFAULT_DENY_INGRESS, ALLOW_ALL_INGRESS]
    assert evaluate(policies, FRONTEND, DB, 80)
    assert evaluate(policies, external("anywhere", "203.0.113.9"), DB, 9999, "UDP")


def test_default_deny_egress():
    refused = evaluate([DEFAULT_DENY_EGRESS], DB, external("x", "8.8.8.8"), 53, "UDP")
    assert not refused
    assert "egress of default/db" in refused.reason
    assert evaluate([DEFAULT_DENY_EGRESS], external("x", "8.8.8.8"), DB, 80)


def test_allow_all_egress():
    assert evaluate([DEFAULT_DENY_EGRESS, ALLOW_ALL_EGRESS], DB, external("x", "8.8.8.8"), 1)


def test_default_deny_all():
    assert not evaluate([DEFAULT_DENY_ALL], FRONTEND, DB, 80)
    assert not evaluate([DEFAULT_DENY_ALL], DB, external("x", "8.8.8.8"), 443)
    # pods of other namespaces are not selected
    assert evaluate([DEFAULT_DENY_ALL], MYPROJECT_POD, ELSEWHERE_FRONTEND, 80)


def test_both_ends_must_allow_a_pod_to_pod_connection():
    # "For a connection from a source pod to a destination pod to be allowed, both the egress
    # policy on the source pod and the ingress policy on the destination pod need to allow"
    deny_db_egress = {**DEFAULT_DENY_EGRESS, "spec": {**DEFAULT_DENY_EGRESS["spec"]}}
    refused = evaluate([deny_db_egress, ALLOW_ALL_INGRESS], DB, FRONTEND, 80)
    assert not refused and "egress of default/db" in refused.reason
    refused = evaluate([ALLOW_ALL_EGRESS, DEFAULT_DENY_INGRESS], DB, FRONTEND, 80)
    assert not refused and "ingress of default/frontend" in refused.reason


# -- ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "allowed"),
    [(31999, False), (32000, True), (32500, True), (32768, True), (32769, False)],
)
def test_multi_port_egress_end_port(port, allowed):
    verdict = evaluate([MULTI_PORT_EGRESS], DB, external("svc", "10.0.0.9"), port)
    assert bool(verdict) is allowed


def test_port_protocol_defaults_to_tcp_and_a_rule_without_ports_allows_every_port():
    policy = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 53}]}],
        },
    }
    assert evaluate([policy], FRONTEND, DB, 53)
    assert not evaluate([policy], FRONTEND, DB, 53, "UDP")
    all_ports = {
        **policy,
        "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
    }
    assert evaluate([all_ports], FRONTEND, DB, 53, "UDP")


def test_named_ports_are_the_destination_pods_container_ports():
    policy = {
        "metadata": {"name": "named", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]},
    }
    web = pod("default", "web", {"role": "web"}, named_ports={"http": (8080, "TCP")})
    assert evaluate([policy], FRONTEND, web, 8080)
    assert not evaluate([policy], FRONTEND, web, 80)
    assert not evaluate([policy], FRONTEND, DB, 8080)  # db names no port "http"


# -- policyTypes default, union, selectors -------------------------------------------------------


def test_policy_types_default_to_ingress_plus_egress_when_egress_rules_exist():
    ingress_only = {"metadata": {"name": "a"}, "spec": {"podSelector": {}}}
    with_egress = {"metadata": {"name": "b"}, "spec": {"podSelector": {}, "egress": [{}]}}
    assert policy_types(ingress_only) == ["Ingress"]
    assert policy_types(with_egress) == ["Ingress", "Egress"]
    # the default-typed policy without rules isolates ingress only
    assert not evaluate([ingress_only], FRONTEND, DB, 80)
    assert evaluate([ingress_only], DB, external("x", "1.1.1.1"), 443)


def test_allowed_traffic_is_the_union_of_every_selecting_policy():
    a = {
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]},
    }
    b = {
        "metadata": {"name": "b", "namespace": "default"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "db"}},
            "ingress": [{"ports": [{"port": 5432}]}],
        },
    }
    assert evaluate([a, b], FRONTEND, DB, 80)
    allowed = evaluate([a, b], FRONTEND, DB, 5432)
    assert allowed and "default/b ingress rule #0" in allowed.reason
    assert not evaluate([a, b], FRONTEND, FRONTEND, 5432)


def test_egress_namespaces_targets_namespaces_by_their_name_label():
    app = pod("default", "app", {"app": "myapp"})
    assert evaluate([EGRESS_NAMESPACES], app, pod("frontend", "x"), 80)
    assert evaluate([EGRESS_NAMESPACES], app, pod("backend", "x"), 80)
    assert not evaluate([EGRESS_NAMESPACES], app, pod("database", "x"), 80)


@pytest.mark.parametrize(
    ("expression", "labels", "matches"),
    [
        ({"key": "env", "operator": "In", "values": ["prod"]}, {"env": "prod"}, True),
        ({"key": "env", "operator": "In", "values": ["prod"]}, {}, False),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"env": "dev"}, True),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {}, True),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"env": "prod"}, False),
        ({"key": "env", "operator": "Exists"}, {"env": ""}, True),
        ({"key": "env", "operator": "Exists"}, {}, False),
        ({"key": "env", "operator": "DoesNotExist"}, {}, True),
        ({"key": "env", "operator": "DoesNotExist"}, {"env": "x"}, False),
    ],
)
def test_match_expressions(expression, labels, matches):
    assert selector_matches({"matchExpressions": [expression]}, labels) is matches


def test_empty_peer_is_refused_not_guessed():
    policy = _with_from([{}])
    with pytest.raises(UnsupportedNetworkPolicyError):
        evaluate([policy], FRONTEND, DB, 80)


def test_ipblock_matches_pod_addresses_as_vpc_cni_does():
    policy = {
        "metadata": {"name": "vpc", "namespace": "default"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}],
        },
    }
    other_bu = pod("marketing", "m", ip="10.20.3.4")
    assert evaluate([policy], DB, other_bu, 443)
    assert not evaluate([policy], DB, pod("marketing", "no-ip"), 443)


def test_an_empty_namespace_selector_selects_pods_of_every_namespace():
    policy = _with_from(
        [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}}]
    )
    assert evaluate([policy], pod("anywhere", "c", {"role": "client"}), DB, 80)
    assert not evaluate([policy], pod("anywhere", "o", {"role": "other"}), DB, 80)
    # selectors select pods only: an outside address is not "every namespace"
    assert not evaluate([policy], external("outside", "203.0.113.1"), DB, 80)


def test_a_missing_or_empty_from_list_matches_every_source():
    # NetworkPolicyIngressRule.from: "If this field is empty or missing, this rule matches all
    # sources"; an empty `ingress` list, by contrast, allows nothing.
    missing = {
        "metadata": {"name": "m", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]},
    }
    empty = {
        "metadata": {"name": "e", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 80}]}]},
    }
    no_rules = {
        "metadata": {"name": "n", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": []},
    }
    for policy in (missing, empty):
        assert evaluate([policy], external("anywhere", "198.51.100.7"), DB, 80)
    assert not evaluate([no_rules], external("anywhere", "198.51.100.7"), DB, 80)
