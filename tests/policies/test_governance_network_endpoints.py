"""vpc-endpoint-policy: good and bad hand-written programs built from real SDK resources, and the
endpoint policies components.network renders."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from governance.network import full_access_statement
from policy_harness import check, names
from policy_programs import OWNERSHIP_TAGS
from test_governance_compute import Case

from components.network import endpoint_policy

ACCOUNT = "123456789012"
FULL_ACCESS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
    }
)


def _endpoints(s3_policy: str | None, sts_policy: str | None):
    def program():
        aws.ec2.VpcEndpoint(
            "s3-gateway",
            vpc_id="vpc-0123",
            vpc_endpoint_type="Gateway",
            service_name="com.amazonaws.us-east-1.s3",
            route_table_ids=["rtb-0123"],
            policy=s3_policy,
            tags=OWNERSHIP_TAGS,
        )
        aws.ec2.VpcEndpoint(
            "sts-endpoint",
            vpc_id="vpc-0123",
            vpc_endpoint_type="Interface",
            service_name="com.amazonaws.us-east-1.sts",
            subnet_ids=["subnet-0123"],
            private_dns_enabled=True,
            policy=sts_policy,
            tags=OWNERSHIP_TAGS,
        )
        # Gateway Load Balancer endpoints take no policy: nothing to judge.
        aws.ec2.VpcEndpoint(
            "inspection",
            vpc_id="vpc-0123",
            vpc_endpoint_type="GatewayLoadBalancer",
            service_name="com.amazonaws.vpce.us-east-1.vpce-svc-0123",
            subnet_ids=["subnet-0123"],
            tags=OWNERSHIP_TAGS,
        )

    return program


GOOD = _endpoints(
    endpoint_policy("s3", [ACCOUNT], "us-east-1"), endpoint_policy("sts", [ACCOUNT], "us-east-1")
)

ENDPOINT_CASES: dict[str, Case] = {
    "vpc-endpoint-policy": Case(_endpoints(None, FULL_ACCESS), {"s3-gateway", "sts-endpoint"}, GOOD)
}


def test_missing_and_full_access_policies_are_named():
    found = check("vpc-endpoint-policy", _endpoints(None, FULL_ACCESS))
    messages = {v.resource_name: v.message for v in found}
    assert "has no policy" in messages["s3-gateway"]
    assert "every principal every action" in messages["sts-endpoint"]


@pytest.mark.parametrize(
    ("condition", "caught"),
    [
        (None, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),  # restricts how, not who
        ({"StringNotEquals": {"aws:PrincipalAccount": [ACCOUNT]}}, True),  # everyone but one
        ({"StringEquals": {"aws:PrincipalAccount": [ACCOUNT]}}, False),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
        # Who-conditions whose values pin no one restrict nobody.
        ({"StringLike": {"aws:PrincipalOrgID": "*"}}, True),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, True),
    ],
)
def test_only_a_condition_on_who_makes_a_full_statement_acceptable(condition, caught):
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert bool(full_access_statement(document)) is caught
    found = check("vpc-endpoint-policy", _endpoints(json.dumps(document), None))
    assert ("s3-gateway" in names(found)) is caught


def test_the_rule_binds_in_prod_only():
    from governance import rule

    assert rule("vpc-endpoint-policy").enforcement == {
        "dev": "disabled",
        "staging": "advisory",
        "prod": "mandatory",
    }


def test_the_rendered_policies_fence_accounts_and_keep_what_nodes_need():
    s3 = json.loads(endpoint_policy("s3", [ACCOUNT, "210987654321"], "eu-west-1"))
    estate, aws_owned = s3["Statement"]
    assert estate["Condition"]["StringEquals"] == {
        "aws:PrincipalAccount": ["123456789012", "210987654321"],
        "aws:ResourceAccount": ["123456789012", "210987654321"],
    }
    assert aws_owned["Action"] == "s3:GetObject"
    assert "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" in aws_owned["Resource"]
    ecr = json.loads(endpoint_policy("ecr.dkr", [ACCOUNT], "eu-west-1"))
    # ECR pulls add-on images from AWS's registries: the resource account is not fenced.
    assert ecr["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": ["123456789012"]}
    }
    with pytest.raises(ValueError, match="12 digits"):
        endpoint_policy("s3", ["not-an-account"], "eu-west-1")
