"""OIDC trust pins the subject: GitHub Actions and EKS IRSA roles name their workloads.

`FEDERATION_CASES` has the shape of `test_governance_rules.CASES`; the programs are real
`aws.iam.Role` resources with trust documents as pipelines and IRSA write them.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.federation import RULES, federation_problems, subject_problem
from policy_harness import check, names
from policy_programs import unknown
from pulumi_policy.proxy import UnknownValueError

from components.iam import oidc_trust_statement

Program = Callable[[], None]
ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
EKS = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
RULE = "iam-oidc-trust-pins-subject"


def _provider(host: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"


def _trust(host: str, condition: object) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": _provider(host)},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _aud(host: str) -> dict:
    return {f"{host}:aud": "sts.amazonaws.com"}


def _role(name: str, host: str, condition: object) -> None:
    aws.iam.Role(name, assume_role_policy=_trust(host, condition))


def bad_oidc_subject() -> None:
    _role("aud-only", GITHUB, {"StringEquals": _aud(GITHUB)})
    _role(
        "any-repo",
        GITHUB,
        {"StringEquals": _aud(GITHUB), "StringLike": {f"{GITHUB}:sub": "repo:*"}},
    )
    _role(
        "any-repo-of-org",
        GITHUB,
        {"StringEquals": _aud(GITHUB), "StringLike": {f"{GITHUB}:sub": "repo:acme/*"}},
    )
    _role(
        "one-broad-value",
        GITHUB,
        {
            "StringEquals": _aud(GITHUB),
            "StringLike": {
                f"{GITHUB}:sub": ["repo:acme/models:ref:refs/heads/main", "repo:acme/models:*"]
            },
        },
    )
    _role(
        "negated",
        GITHUB,
        {"StringEquals": _aud(GITHUB), "StringNotLike": {f"{GITHUB}:sub": "repo:evil/*"}},
    )
    _role("irsa-aud-only", EKS, {"StringEquals": _aud(EKS)})
    _role(
        "irsa-any-namespace",
        EKS,
        {"StringEquals": _aud(EKS), "StringLike": {f"{EKS}:sub": "system:serviceaccount:*"}},
    )
    _role(
        "irsa-any-account",
        EKS,
        {"StringLike": {f"{EKS}:sub": "system:serviceaccount:fraud:*", **_aud(EKS)}},
    )


def good_oidc_subject() -> None:
    _role(
        "deploy",
        GITHUB,
        {
            "StringEquals": {
                **_aud(GITHUB),
                f"{GITHUB}:sub": "repo:acme/fraud-models:environment:prod",
            }
        },
    )
    _role(
        "release-branches",
        GITHUB,
        {
            "StringEquals": _aud(GITHUB),
            "StringLike": {f"{GITHUB}:sub": "repo:acme/fraud-models:ref:refs/heads/release/*"},
        },
    )
    _role(
        "irsa",
        EKS,
        {
            "StringEquals": {
                **_aud(EKS),
                f"{EKS}:sub": "system:serviceaccount:fraud:model-server",
            }
        },
    )
    # The estate's own statement builder.
    aws.iam.Role(
        "persona",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    oidc_trust_statement(
                        _provider(GITHUB),
                        GITHUB,
                        "sts.amazonaws.com",
                        ["repo:acme/fraud-models:ref:refs/heads/main"],
                    )
                ],
            }
        ),
    )
    # Not OIDC: service trust and SAML are other rules' concern.
    aws.iam.Role(
        "service",
        assume_role_policy=json.dumps(
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
        ),
    )


FEDERATION_CASES: dict[str, tuple[Program, set[str], Program]] = {
    RULE: (
        bad_oidc_subject,
        {
            "aud-only",
            "any-repo",
            "any-repo-of-org",
            "one-broad-value",
            "negated",
            "irsa-aud-only",
            "irsa-any-namespace",
            "irsa-any-account",
        },
        good_oidc_subject,
    ),
}


def test_every_rule_has_a_case():
    assert set(FEDERATION_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES)


@pytest.mark.parametrize("rule_id", sorted(FEDERATION_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = FEDERATION_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(FEDERATION_CASES))
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_good_program_passes(rule_id: str, environment: str):
    _, _, good = FEDERATION_CASES[rule_id]
    assert check(rule_id, good, environment=environment) == []


@pytest.mark.parametrize(
    ("host", "subject", "pinned"),
    [
        (GITHUB, "repo:acme/models:ref:refs/heads/main", True),
        (GITHUB, "repo:acme/models:pull_request", True),
        (GITHUB, "repo:acme/models:environment:prod", True),
        (GITHUB, "repo:acme/models:*", False),
        (GITHUB, "repo:acme/mod*:ref:refs/heads/main", False),
        (GITHUB, "repo:*/models:ref:refs/heads/main", False),
        (GITHUB, "repo:acme", False),
        (GITHUB, "*", False),
        # A customised subject template (repository_owner_id, ...) must be literal.
        (GITHUB, "repository_owner_id:1234:repository_id:5678", True),
        (GITHUB, "repository_owner_id:1234:*", False),
        (EKS, "system:serviceaccount:fraud:model-server", True),
        (EKS, "system:serviceaccount:fraud:model-*", True),
        (EKS, "system:serviceaccount:fraud:*", False),
        (EKS, "system:serviceaccount:*:model-server", False),
        (EKS, "fraud:model-server", False),
        ("gitlab.example.com", "project_path:acme/models:ref_type:branch:ref:main", True),
        ("gitlab.example.com", "project_path:*", False),
        ("gitlab.example.com", "**", False),
    ],
)
def test_subject_values(host: str, subject: str, pinned: bool):
    assert (subject_problem(host, subject) == "") is pinned


def test_ifexists_and_forallvalues_do_not_pin_the_subject():
    for operator in ("StringLikeIfExists", "ForAllValues:StringLike", "Null"):
        trust = json.loads(
            _trust(GITHUB, {operator: {f"{GITHUB}:sub": "repo:acme/models:ref:refs/heads/main"}})
        )
        assert federation_problems(trust), operator


def test_the_subject_key_must_be_the_providers_own():
    other = {"StringEquals": {f"{EKS}:sub": "system:serviceaccount:fraud:model-server"}}
    [problem] = federation_problems(json.loads(_trust(GITHUB, other)))
    assert f"{GITHUB}:sub" in problem


def test_an_unknown_trust_is_not_read_as_a_pass():
    def program() -> None:
        aws.iam.Role("deploy", assume_role_policy=unknown())

    with pytest.raises(UnknownValueError):
        check(RULE, program)
