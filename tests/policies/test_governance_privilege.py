"""Administrator managed policies are never attached; all-wildcard ARNs count as `*`.

`PRIVILEGE_CASES` has the shape of `test_governance_rules.CASES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.identity import is_any_resource, wildcard_problems
from governance.privilege import RULES
from policy_harness import check, names

Program = Callable[[], None]
RULE = "iam-no-admin-managed-policy"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _role(name: str, **extra: object) -> aws.iam.Role:
    return aws.iam.Role(name, assume_role_policy=SERVICE_TRUST, **extra)  # type: ignore[arg-type]


def bad_admin_policy() -> None:
    role = _role("training")
    aws.iam.RolePolicyAttachment("training-admin", role=role.name, policy_arn=ADMIN)
    _role(
        "inline-managed",
        managed_policy_arns=["arn:aws:iam::aws:policy/PowerUserAccess"],
    )
    aws.iam.RolePolicyAttachmentsExclusive(
        "exclusive",
        role_name=role.name,
        policy_arns=["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"],
    )
    group = aws.iam.Group("operators")
    aws.iam.GroupPolicyAttachment("operators-admin", group=group.name, policy_arn=ADMIN)
    aws.iam.PolicyAttachment("everyone-admin", roles=[role.name], policy_arn=ADMIN)


def good_admin_policy() -> None:
    role = _role("training")
    aws.iam.RolePolicyAttachment(
        "training-read",
        role=role.name,
        policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    aws.iam.RolePolicyAttachment(
        "training-own",
        role=role.name,
        # A customer policy that happens to carry the name is the customer's own, not AWS's.
        policy_arn="arn:aws:iam::123456789012:policy/fraud-prod-AdministratorAccess-notes",
    )
    _role(
        "endpoint",
        managed_policy_arns=["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"],
    )


PRIVILEGE_CASES: dict[str, tuple[Program, set[str], Program]] = {
    RULE: (
        bad_admin_policy,
        {"training-admin", "inline-managed", "exclusive", "operators-admin", "everyone-admin"},
        good_admin_policy,
    ),
}


def test_every_rule_has_a_case():
    assert set(PRIVILEGE_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES)


@pytest.mark.parametrize("rule_id", sorted(PRIVILEGE_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = PRIVILEGE_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(PRIVILEGE_CASES))
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_good_program_passes(rule_id: str, environment: str):
    _, _, good = PRIVILEGE_CASES[rule_id]
    assert check(rule_id, good, environment=environment) == []


def test_the_refused_list_is_a_setting():
    def program() -> None:
        role = _role("training")
        aws.iam.RolePolicyAttachment(
            "read-all",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
        )

    assert check(RULE, program) == []
    flagged = check(RULE, program, policy_config={"refusedPolicies": ["ReadOnlyAccess"]})
    assert names(flagged) == ["read-all"]


# -- iam-no-wildcard-write: all-wildcard ARNs ------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "everything"),
    [
        ("*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:s3:::*/*", True),
        ("arn:*:*:*:*:*", True),
        ("arn:aws:dynamodb:*:*:*", True),
        ("arn:aws:s3:::fraud-prod-*", False),
        ("arn:aws:dynamodb:*:*:table/*", False),
        ("arn:aws:ec2:us-east-1:*:network-interface/*", False),
        ("arn:aws:iam::123456789012:role/*", False),
    ],
)
def test_any_resource_arns(resource: str, everything: bool):
    assert is_any_resource(resource) is everything


def test_a_write_on_an_all_wildcard_arn_is_a_write_on_everything():
    document = {
        "Statement": [
            {
                "Sid": "Put",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::*/*",
            },
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::*",
            },
        ]
    }
    [problem] = wildcard_problems(document, [])
    assert problem.startswith("Put allows s3:PutObject on every resource")
    assert "arn:aws:s3:::*/*" in problem


def test_the_rule_flags_an_all_wildcard_arn_in_a_policy():
    def program() -> None:
        aws.iam.Policy(
            "writer",
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:PutItem",
                            "Resource": "arn:aws:dynamodb:*:*:*",
                        }
                    ],
                }
            ),
        )

    assert names(check("iam-no-wildcard-write", program)) == ["writer"]
