"""LoadBalancer Services, GPU public IPs and the EKS support calendar.

`EXPOSURE_CASES` has the shape of `test_governance_rules.CASES`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance import rule as find_rule
from governance.eks_support import CALENDAR, support_problem
from governance.exposure import RULES as EXPOSURE_RULES
from policy_harness import check, names
from policy_programs import unknown
from pulumi_policy.proxy import UnknownValueError

from estate.stack.eks_versions import calendar

Program = Callable[[], None]
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
ROLE_ARN = "arn:aws:iam::123456789012:role/ai-estate/nodes/platform-prod-gpu"
SUBNETS = ["subnet-0a", "subnet-0b"]
DAY = "2026-12-03"


def _service(name: str, service_type: str = "LoadBalancer", **annotations: str) -> None:
    k8s.core.v1.Service(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace="fraud", annotations=annotations or None),
        spec=k8s.core.v1.ServiceSpecArgs(
            type=service_type,
            selector={"app": "scorer"},
            ports=[k8s.core.v1.ServicePortArgs(port=443, target_port=8443)],
        ),
    )


def bad_lb_service() -> None:
    _service("unannotated")
    _service("public", **{SCHEME: "internet-facing"})
    _service(
        "contradicting",
        **{
            SCHEME: "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        },
    )


def good_lb_service() -> None:
    _service("scorer", **{SCHEME: "internal"})
    _service("legacy", **{"service.beta.kubernetes.io/aws-load-balancer-internal": "true"})
    _service("cluster-ip", "ClusterIP")


def _template(name: str, *, public: object, instance_type: str | None = None):
    return aws.ec2.LaunchTemplate(
        name,
        instance_type=instance_type,
        network_interfaces=[
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(associate_public_ip_address=public)
        ],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_tokens="required", http_put_response_hop_limit=1
        ),
    )


def _node_group(name: str, template: aws.ec2.LaunchTemplate, types: list[str]) -> None:
    aws.eks.NodeGroup(
        name,
        cluster_name="platform-prod-ai",
        node_role_arn=ROLE_ARN,
        subnet_ids=SUBNETS,
        instance_types=types,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, desired_size=0, max_size=2),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version="1"),
    )


def bad_gpu_public_ip() -> None:
    aws.ec2.Instance(
        "gpu-box",
        ami="ami-0123456789abcdef0",
        instance_type="g5.xlarge",
        associate_public_ip_address=True,
    )
    _template("gpu-template", public="true", instance_type="p4d.24xlarge")
    pooled = _template("pool-template", public="true")
    _node_group("gpu-pool", pooled, ["g6e.xlarge"])


def good_gpu_public_ip() -> None:
    aws.ec2.Instance("gpu-box", ami="ami-0123456789abcdef0", instance_type="g5.xlarge")
    # A CPU bastion may be public as far as this rule goes (other rules judge its ingress).
    aws.ec2.Instance(
        "bastion",
        ami="ami-0123456789abcdef0",
        instance_type="t3.micro",
        associate_public_ip_address=True,
    )
    private = _template("pool-template", public="false")
    _node_group("gpu-pool", private, ["g6e.xlarge"])
    cpu = _template("cpu-template", public="true")
    _node_group("cpu-pool", cpu, ["m6i.large"])


def bad_eks_version() -> None:
    aws.eks.Cluster("old", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS}, version="1.34")
    aws.eks.Cluster(
        "ancient", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS}, version="1.25"
    )


def good_eks_version() -> None:
    aws.eks.Cluster(
        "current", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS}, version="1.35"
    )
    aws.eks.Cluster("default", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS})


EXPOSURE_CASES: dict[str, tuple[Program, set[str], Program]] = {
    "k8s-loadbalancer-service-internal": (
        bad_lb_service,
        {"unannotated", "public", "contradicting"},
        good_lb_service,
    ),
    "gpu-instance-no-public-ip": (
        bad_gpu_public_ip,
        {"gpu-box", "gpu-template", "pool-template"},
        good_gpu_public_ip,
    ),
}


def bad_eks_version_any_day() -> None:
    aws.eks.Cluster(
        "ancient", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS}, version="1.25"
    )


def good_eks_version_any_day() -> None:
    aws.eks.Cluster("default", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS})


EKS_SUPPORT_CASES: dict[str, tuple[Program, set[str], Program]] = {
    # Judged on whatever day the suite runs, so only cases true on every day.
    "eks-version-standard-support": (
        bad_eks_version_any_day,
        {"ancient"},
        good_eks_version_any_day,
    ),
}


def test_eks_support_case_holds_today():
    bad, flagged, good = EKS_SUPPORT_CASES["eks-version-standard-support"]
    assert set(names(check("eks-version-standard-support", bad))) == flagged
    assert check("eks-version-standard-support", good) == []


@pytest.mark.parametrize("rule_id", sorted(EXPOSURE_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = EXPOSURE_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(EXPOSURE_CASES))
def test_good_program_passes(rule_id: str):
    _, _, good = EXPOSURE_CASES[rule_id]
    assert check(rule_id, good, environment="prod") == []


def test_every_exposure_rule_has_a_case():
    assert set(EXPOSURE_CASES) == {r.id for r in EXPOSURE_RULES}
    assert all(find_rule(r.id) is r for r in EXPOSURE_RULES)


# -- eks-version-standard-support (judged on a fixed day, so it cannot drift) -------------------


def test_eks_versions_out_of_standard_support_are_flagged_on_a_fixed_day():
    rule = "eks-version-standard-support"
    config = {"supportDate": DAY}
    assert set(names(check(rule, bad_eks_version, policy_config=config))) == {"old", "ancient"}
    assert check(rule, good_eks_version, policy_config=config) == []
    # The day before 1.34 left standard support, it passed.
    assert check(rule, bad_eks_version, policy_config={"supportDate": "2026-12-02"}) != []
    assert names(check(rule, bad_eks_version, policy_config={"supportDate": "2026-12-02"})) == [
        "ancient"
    ]


@pytest.mark.parametrize(
    ("version", "day", "ok"),
    [
        ("1.35", "2027-03-27", True),
        ("1.35", "2027-03-28", False),
        ("1.31", "2026-12-03", False),  # past extended support
        ("1.99", "2026-12-03", True),  # newer than the calendar: not judged
        ("latest", "2026-12-03", True),
    ],
)
def test_support_problem(version: str, day: str, ok: bool):
    assert (support_problem(version, dt.date.fromisoformat(day)) == "") is ok


def test_the_pack_calendar_equals_the_estates():
    estate = {v: (e.end_of_standard, e.end_of_extended) for v, e in calendar().items()}
    assert estate == CALENDAR


def test_an_unknown_version_is_not_read_as_a_pass():
    def program() -> None:
        aws.eks.Cluster(
            "c", role_arn=ROLE_ARN, vpc_config={"subnet_ids": SUBNETS}, version=unknown()
        )

    with pytest.raises(UnknownValueError):
        check("eks-version-standard-support", program, policy_config={"supportDate": DAY})
