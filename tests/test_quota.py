"""ResourceQuota arithmetic: exact quantities, LimitRange defaulting, quota and pool caps."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estate.analysis.quota import (
    PoolCap,
    QuantityError,
    Workload,
    fits_pool,
    fits_quota,
    parse_quantity,
    pod_usage,
    show,
)

# -- quantities (examples from the Quantity reference page) -------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("2Gi", Fraction(2 * 2**30)),
        ("128974848", Fraction(128974848)),
        ("129e6", Fraction(129_000_000)),
        ("129M", Fraction(129_000_000)),
        ("123Mi", Fraction(123 * 2**20)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("1.5Gi", Fraction(3 * 2**29)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("+3k", Fraction(3000)),
        ("-1", Fraction(-1)),
        ("1Ki", Fraction(1024)),
        ("1k", Fraction(1000)),
        (8, Fraction(8)),
    ],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "1KB", "1 Gi", "Gi", "1.2.3", "1ki", "1e", "0x10", "1mi", "--1"]
)
def test_parse_quantity_refuses_what_kubernetes_refuses(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"m": Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@given(st.integers(0, 10**9), st.sampled_from(sorted(BINARY)))
def test_binary_suffixes_are_powers_of_two(n, suffix):
    assert parse_quantity(f"{n}{suffix}") == n * BINARY[suffix]


@given(st.integers(0, 10**9), st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffixes_are_powers_of_ten(n, suffix):
    assert parse_quantity(f"{n}{suffix}") == n * DECIMAL[suffix]


@given(st.integers(0, 10**6), st.integers(-6, 9))
def test_exponent_form_equals_decimal_form(n, exponent):
    assert parse_quantity(f"{n}e{exponent}") == Fraction(n) * Fraction(10) ** exponent


@given(st.integers(0, 10**6))
def test_millis_round_trip_through_show(millis):
    amount = Fraction(millis, 1000)
    assert parse_quantity(show(amount)) == amount


@given(st.integers(0, 2**70))
def test_whole_amounts_round_trip_through_show(amount):
    assert parse_quantity(show(Fraction(amount))) == amount


def test_show_uses_binary_suffixes_for_bytes():
    assert show(Fraction(16 * 2**30)) == "16Gi"
    assert show(Fraction(3, 2)) == "1500m"


# -- pods under a LimitRange ---------------------------------------------------------------------

LIMIT_RANGE = {
    "spec": {
        "limits": [
            {
                "type": "Container",
                "default": {"cpu": "2", "memory": "4Gi"},
                "defaultRequest": {"cpu": "1"},
            }
        ]
    }
}


def container(requests=None, limits=None):
    return {
        "name": "c",
        "image": "x",
        "resources": {"requests": requests or {}, "limits": limits or {}},
    }


def test_limit_range_defaults_and_limit_implies_request():
    usage = pod_usage({"containers": [container(), container(limits={"cpu": "3"})]}, [LIMIT_RANGE])
    # first: request cpu 1 (defaultRequest), memory 4Gi (defaultRequest defaults to default)
    # second: cpu limit 3, so request 3 (its own limit wins over the LimitRange default request)
    assert usage["requests.cpu"] == 4
    assert usage["limits.cpu"] == 5
    assert usage["requests.memory"] == 8 * 2**30


def test_extended_resources_request_their_limit_and_missing_means_zero():
    usage = pod_usage({"containers": [container(limits={"nvidia.com/gpu": 2}), container()]})
    assert usage["requests.nvidia.com/gpu"] == 2
    assert usage["limits.nvidia.com/gpu"] == 2


def test_an_init_container_larger_than_the_sum_sets_the_pod_request():
    spec = {
        "initContainers": [container({"cpu": "4"})],
        "containers": [container({"cpu": "1"}), container({"cpu": "500m"})],
    }
    assert pod_usage(spec)["requests.cpu"] == 4


QUOTA = {
    "metadata": {"namespace": "fraud", "name": "compute"},
    "spec": {
        "hard": {
            "requests.cpu": "8",
            "limits.cpu": "8",
            "requests.memory": "16Gi",
            "requests.nvidia.com/gpu": "4",
            "pods": "10",
        }
    },
}


def workload(replicas, **resources):
    return Workload("w", "fraud", replicas, {"containers": [container(**resources)]})


def test_fits_quota_until_one_more_replica():
    w = workload(
        4, requests={"cpu": "2", "memory": "4Gi"}, limits={"cpu": "2", "nvidia.com/gpu": "1"}
    )
    assert fits_quota(w, [QUOTA])
    refused = fits_quota(
        workload(
            5, requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "1", "nvidia.com/gpu": 1}
        ),
        [QUOTA],
    )
    assert not refused
    assert refused.reason == (
        "fraud/w (5 replicas): refused by ResourceQuota fraud/compute: requests.nvidia.com/gpu "
        "5 x 1 = 5 + used 0 > hard 4"
    )


def test_quota_counts_what_is_already_used():
    w = workload(1, requests={"cpu": "2", "memory": "1Gi"}, limits={"cpu": "2"})
    assert fits_quota(w, [QUOTA], used={"requests.cpu": "6"})
    refused = fits_quota(w, [QUOTA], used={"requests.cpu": "6500m"})
    assert not refused and "requests.cpu 1 x 2 = 2 + used 6500m > hard 8" in refused.reason


def test_a_quota_tracking_cpu_refuses_pods_that_do_not_say_it():
    refused = fits_quota(workload(1, requests={"memory": "1Gi"}), [QUOTA])
    assert not refused and "tracks limits.cpu" in refused.reason
    # ... unless the namespace's LimitRange supplies it
    assert fits_quota(workload(1, requests={"memory": "1Gi"}), [QUOTA], [LIMIT_RANGE])


def test_quotas_of_other_namespaces_do_not_apply():
    other = {**QUOTA, "metadata": {"namespace": "marketing", "name": "compute"}}
    assert fits_quota(workload(100), [other])


@given(st.integers(1, 64), st.integers(1, 8), st.integers(0, 128))
def test_quota_holds_exactly_when_the_product_fits(replicas, gpus, hard):
    quota = {
        "metadata": {"namespace": "fraud", "name": "q"},
        "spec": {"hard": {"requests.nvidia.com/gpu": str(hard)}},
    }
    verdict = fits_quota(workload(replicas, limits={"nvidia.com/gpu": gpus}), [quota])
    assert bool(verdict) is (replicas * gpus <= hard)


# -- pool caps -----------------------------------------------------------------------------------

NODE_POOL = {
    "metadata": {"name": "fraud-train-a10g"},
    "spec": {
        "template": {
            "spec": {
                "requirements": [
                    {
                        "key": "node.kubernetes.io/instance-type",
                        "operator": "In",
                        "values": ["g5.12xlarge", "g5.48xlarge"],
                    }
                ]
            }
        },
        "limits": {"nvidia.com/gpu": 8},
    },
}
NODE_GROUP = {
    "nodeGroupName": "fraud-serve-a10g",
    "instanceTypes": ["g5.xlarge", "g5.2xlarge"],
    "scalingConfig": {"maxSize": 4},
}


def test_karpenter_pool_cap_is_its_gpu_limit():
    cap = PoolCap.from_node_pool(NODE_POOL)
    assert cap.max_gpus == 8
    assert fits_pool(workload(2, limits={"nvidia.com/gpu": 4}), cap)
    refused = fits_pool(workload(3, limits={"nvidia.com/gpu": 4}), cap)
    assert not refused
    assert (
        "refused by pool fraud-train-a10g (NodePool fraud-train-a10g limits.nvidia.com/gpu 8): needs 12 > 8"
        in refused.reason
    )


def test_a_pod_larger_than_the_largest_node_never_fits():
    refused = fits_pool(
        workload(1, limits={"nvidia.com/gpu": 2}), PoolCap.from_node_group(NODE_GROUP)
    )
    assert not refused and "its largest node (g5.xlarge, g5.2xlarge) has 1" in refused.reason


def test_managed_pool_holds_max_size_nodes_of_its_smallest_type():
    cap = PoolCap.from_node_group(NODE_GROUP)
    assert fits_pool(workload(4, limits={"nvidia.com/gpu": 1}), cap)
    refused = fits_pool(workload(5, limits={"nvidia.com/gpu": 1}), cap)
    assert (
        not refused and "at most 4 such pods (4 nodes x 1 on the smallest type)" in refused.reason
    )


def test_time_sliced_nodes_count_their_slices_against_a_node_pool_limit():
    # issue 11 item 5: a NodePool limit caps the devices nodes register, slices included
    t4 = {
        **NODE_POOL,
        "metadata": {"name": "mk"},
        "spec": {**NODE_POOL["spec"], "limits": {"nvidia.com/gpu": 4}},
    }
    t4["spec"]["template"] = {
        "spec": {
            "requirements": [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g4dn.xlarge"],
                }
            ]
        }
    }
    cap = PoolCap.from_node_pool(t4, slices=4)
    assert cap.device_cap == 4 and cap.smallest_node_devices == 4
    assert fits_pool(workload(4, limits={"nvidia.com/gpu": 1}), cap)
    assert not fits_pool(workload(5, limits={"nvidia.com/gpu": 1}), cap)
    # a whole physical T4 in slices fits on one node: the pod may ask for all four
    assert fits_pool(workload(1, limits={"nvidia.com/gpu": 4}), cap)


def test_time_slicing_multiplies_the_devices_of_a_managed_pool():
    group = {
        "nodeGroupName": "t4",
        "instanceTypes": ["g4dn.xlarge"],
        "scalingConfig": {"maxSize": 2},
    }
    cap = PoolCap.from_node_group(group, slices=4)
    assert cap.device_cap == 8
    assert fits_pool(workload(8, limits={"nvidia.com/gpu": 1}), cap)
    assert not fits_pool(workload(9, limits={"nvidia.com/gpu": 1}), cap)


@given(st.integers(1, 10), st.integers(1, 20), st.integers(1, 8))
def test_managed_capacity_is_nodes_times_pods_per_node(max_size, replicas, gpus):
    group = {
        "nodeGroupName": "g",
        "instanceTypes": ["g5.48xlarge"],
        "scalingConfig": {"maxSize": max_size},
    }
    verdict = fits_pool(
        workload(replicas, limits={"nvidia.com/gpu": gpus}), PoolCap.from_node_group(group)
    )
    assert bool(verdict) is (replicas <= max_size * (8 // gpus))
