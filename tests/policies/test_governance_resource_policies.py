"""Queue, topic, key, registry and secret policies: condition-aware public-principal analysis.

`RESOURCE_POLICY_CASES` has the shape of `test_governance_rules.CASES` (bad program, the logical
names it must flag, good program); each program is built from real pulumi_aws resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.properties import WHO_CONDITION_KEYS, value_pins_who
from governance.resource_policies import POLICY_PROPERTY, RULES
from policy_harness import check, names
from policy_programs import KEY_ARN, unknown
from pulumi_policy.proxy import UnknownValueError

Program = Callable[[], None]
ACCOUNT = "123456789012"
ORG = "o-a1b2c3d4e5"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:fraud-prod-requests"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:fraud-prod-alarms"
RULE = "resource-policy-no-public-principal"
TLS_ONLY = {"Bool": {"aws:SecureTransport": "true"}}


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(principal: object, action: object, resource: str = "*", **extra: object) -> dict:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def _root_admin() -> dict:
    return _allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*", Sid="KeyAdministration")


def bad_public_resource_policies() -> None:
    queue = aws.sqs.Queue("requests", kms_master_key_id=KEY_ARN)
    # Principal '*' held only to TLS: every AWS account in the world may send.
    aws.sqs.QueuePolicy(
        "requests-policy",
        queue_url=queue.url,
        policy=_policy(_allow("*", "sqs:SendMessage", QUEUE_ARN, Sid="Send", Condition=TLS_ONLY)),
    )
    aws.sqs.Queue(
        "inline-queue",
        kms_master_key_id=KEY_ARN,
        policy=_policy(_allow({"AWS": "*"}, "sqs:ReceiveMessage", QUEUE_ARN)),
    )
    topic = aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN)
    aws.sns.TopicPolicy(
        "alarms-policy",
        arn=topic.arn,
        policy=_policy(
            _allow(
                "*",
                "sns:Publish",
                TOPIC_ARN,
                Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, **TLS_ONLY},
            )
        ),
    )
    aws.sns.Topic(
        "inline-topic",
        kms_master_key_id=KEY_ARN,
        policy=_policy(
            {"Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "sns:Subscribe"}
        ),
    )
    aws.kms.Key(
        "open-key",
        enable_key_rotation=True,
        policy=_policy(_root_admin(), _allow({"AWS": "*"}, ["kms:Decrypt"], Sid="Everyone")),
    )
    key = aws.kms.Key("bu-key", enable_key_rotation=True)
    aws.kms.KeyPolicy(
        "bu-key-policy",
        key_id=key.id,
        policy=_policy(
            _root_admin(),
            _allow(
                "*",
                "kms:Decrypt",
                # Everyone except one account is still everyone else.
                Condition={"StringNotEquals": {"aws:PrincipalAccount": "111111111111"}},
            ),
        ),
    )
    aws.ecr.RegistryPolicy(
        "registry",
        policy=_policy(_allow("*", ["ecr:ReplicateImage"], Condition=TLS_ONLY)),
    )
    secret = aws.secretsmanager.Secret("token", kms_key_id=KEY_ARN)
    aws.secretsmanager.SecretPolicy(
        "token-policy",
        secret_arn=secret.arn,
        policy=_policy(_allow("*", "secretsmanager:GetSecretValue")),
    )


def good_public_resource_policies() -> None:
    queue = aws.sqs.Queue("requests", kms_master_key_id=KEY_ARN)
    aws.sqs.QueuePolicy(
        "requests-policy",
        queue_url=queue.url,
        policy=_policy(
            # A service principal held to the rule that sends.
            _allow(
                {"Service": "events.amazonaws.com"},
                "sqs:SendMessage",
                QUEUE_ARN,
                Condition={
                    "ArnEquals": {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/x"}
                },
            ),
            # Principal '*' held to the organisation, next to a TLS condition.
            _allow(
                "*",
                "sqs:ReceiveMessage",
                QUEUE_ARN,
                Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}, **TLS_ONLY},
            ),
            # Denying everyone is how TLS-only is written.
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": QUEUE_ARN,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ),
    )
    aws.sqs.Queue("default-policy", kms_master_key_id=KEY_ARN)
    topic = aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN)
    aws.sns.TopicPolicy(
        "alarms-policy",
        arn=topic.arn,
        policy=_policy(
            _allow(
                {"Service": "cloudwatch.amazonaws.com"},
                "sns:Publish",
                TOPIC_ARN,
                Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            ),
            _allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "sns:Subscribe", TOPIC_ARN),
        ),
    )
    aws.kms.Key(
        "bu-key",
        enable_key_rotation=True,
        policy=_policy(
            _root_admin(),
            # The shape of AWS's own default key policy for EBS: any principal of this account
            # using the key through EC2.
            _allow(
                {"AWS": "*"},
                ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
                Condition={
                    "StringEquals": {
                        "kms:CallerAccount": ACCOUNT,
                        "kms:ViaService": "ec2.us-east-1.amazonaws.com",
                    }
                },
            ),
        ),
    )
    key = aws.kms.Key("data-key", enable_key_rotation=True)
    aws.kms.KeyPolicy("data-key-policy", key_id=key.id, policy=_policy(_root_admin()))
    aws.ecr.RegistryPolicy(
        "registry",
        policy=_policy(_allow({"AWS": "arn:aws:iam::210987654321:root"}, ["ecr:ReplicateImage"])),
    )
    secret = aws.secretsmanager.Secret("token", kms_key_id=KEY_ARN)
    aws.secretsmanager.SecretPolicy(
        "token-policy",
        secret_arn=secret.arn,
        policy=_policy(
            _allow(
                "*",
                "secretsmanager:GetSecretValue",
                Condition={"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}},
            )
        ),
    )


RESOURCE_POLICY_CASES: dict[str, tuple[Program, set[str], Program]] = {
    RULE: (
        bad_public_resource_policies,
        {
            "requests-policy",
            "inline-queue",
            "alarms-policy",
            "inline-topic",
            "open-key",
            "bu-key-policy",
            "registry",
            "token-policy",
        },
        good_public_resource_policies,
    ),
}


def test_every_rule_has_a_case():
    assert set(RESOURCE_POLICY_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES), "the rules are in the pack"


@pytest.mark.parametrize("rule_id", sorted(RESOURCE_POLICY_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = RESOURCE_POLICY_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(RESOURCE_POLICY_CASES))
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_good_program_passes(rule_id: str, environment: str):
    _, _, good = RESOURCE_POLICY_CASES[rule_id]
    assert check(rule_id, good, environment=environment) == []


def test_enforcement_blocks_in_every_environment():
    [rule] = RULES
    assert set(rule.enforcement.values()) == {"mandatory"}


def test_messages_name_the_resource_kind_and_the_statement():
    violations = {v.resource_name: v.message for v in check(RULE, bad_public_resource_policies)}
    assert violations["requests-policy"].startswith("SQS queue policy 'requests-policy'")
    assert "'Send'" in violations["requests-policy"]
    assert "NotPrincipal" in violations["inline-topic"]
    assert violations["open-key"].startswith("KMS key 'open-key'")


def test_an_unknown_policy_is_not_read_as_a_pass():
    def program() -> None:
        queue = aws.sqs.Queue("requests", kms_master_key_id=KEY_ARN)
        aws.sqs.QueuePolicy("requests-policy", queue_url=queue.url, policy=unknown(queue))

    with pytest.raises(UnknownValueError):
        check(RULE, program)


def test_a_policy_that_is_not_json_is_reported():
    def program() -> None:
        aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN, policy="{not json")

    [violation] = check(RULE, program)
    assert "not a JSON policy document" in violation.message


def test_every_policy_type_is_a_real_pulumi_aws_type():
    import importlib

    for token in POLICY_PROPERTY:
        module = token.split(":")[1].split("/")[0]
        sdk = importlib.import_module(f"pulumi_aws.{module}")
        resource = token.rsplit(":", 1)[1]
        assert hasattr(sdk, resource), token


# -- who-conditions must pin someone: wildcards restrict nobody -----------------------------------

WILDCARD_GUARDS: dict[str, dict] = {
    "any-arn": {"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}},
    "any-org": {"StringLike": {"aws:PrincipalOrgID": "*"}},
    "any-account": {"StringLike": {"aws:SourceAccount": "*"}},
    "any-caller-account": {"StringLike": {"kms:CallerAccount": "????????????"}},
    "any-role-named-admin": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
    "any-bucket-prefixed": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::fraud-prod-*"}},
    "any-org-path": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "*/r-ab12/*"}},
    "any-vpce": {"StringLike": {"aws:SourceVpce": "vpce-*"}},
    "one-wildcard-among-values": {"StringEquals": {"aws:PrincipalOrgID": [ORG, "*"]}},
    "policy-variable": {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}},
}
"""Conditions on who-keys whose values pin no one: each admits every AWS account in the world."""

CONCRETE_GUARDS: dict[str, dict] = {
    "org": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    "account": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    "account-as-number": {"StringEquals": {"aws:PrincipalAccount": int(ACCOUNT)}},
    "rules-of-the-account": {"ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{ACCOUNT}:rule/*"}},
    "roles-of-the-account": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
    "one-bucket": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::fraud-prod-features"}},
    "org-path": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/r-ab12/*"}},
    "vpce": {"StringEquals": {"aws:SourceVpce": ["vpce-0a1b2c3d", "vpce-0e1f2a3b"]}},
    "vpc": {"StringEquals": {"aws:SourceVpc": "vpc-0a1b2c3d4e5f67890"}},
    # A wildcard key beside a concrete one: the keys are ANDed, so the concrete one holds.
    "wildcard-and-org": {
        "StringLike": {"aws:SourceArn": "*"},
        "StringEquals": {"aws:PrincipalOrgID": ORG},
    },
}


def _guarded(action: str, resource: str, condition: dict) -> str:
    return _policy(_allow("*", action, resource, Sid="Guarded", Condition=condition))


def _s3_policies(guards: dict[str, dict]) -> None:
    bucket = aws.s3.Bucket("features")
    for name, condition in guards.items():
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=_guarded("s3:GetObject", "arn:aws:s3:::features/*", condition),
        )


def _sqs_policies(guards: dict[str, dict]) -> None:
    queue = aws.sqs.Queue("requests", kms_master_key_id=KEY_ARN)
    for name, condition in guards.items():
        aws.sqs.QueuePolicy(
            name, queue_url=queue.url, policy=_guarded("sqs:SendMessage", QUEUE_ARN, condition)
        )


def _sns_policies(guards: dict[str, dict]) -> None:
    topic = aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN)
    for name, condition in guards.items():
        aws.sns.TopicPolicy(
            name, arn=topic.arn, policy=_guarded("sns:Publish", TOPIC_ARN, condition)
        )


def _kms_policies(guards: dict[str, dict]) -> None:
    key = aws.kms.Key("bu-key", enable_key_rotation=True, policy=_policy(_root_admin()))
    for name, condition in guards.items():
        aws.kms.KeyPolicy(
            name,
            key_id=key.id,
            policy=_policy(
                _root_admin(), _allow("*", "kms:Decrypt", Sid="Guarded", Condition=condition)
            ),
        )


def _ecr_policies(guards: dict[str, dict]) -> None:
    repo = aws.ecr.Repository(
        "serving",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
            scan_on_push=True
        ),
    )
    for name, condition in guards.items():
        aws.ecr.RepositoryPolicy(
            name, repository=repo.name, policy=_guarded("ecr:BatchGetImage", "*", condition)
        )


def _model_package_group_policies(guards: dict[str, dict]) -> None:
    aws.sagemaker.ModelPackageGroup("churn", model_package_group_name="fraud-prod-churn")
    for name, condition in guards.items():
        aws.sagemaker.ModelPackageGroupPolicy(
            name,
            model_package_group_name="fraud-prod-churn",
            resource_policy=_guarded("sagemaker:DescribeModelPackage", "*", condition),
        )


POLICY_TYPES: dict[str, tuple[str, Callable[[dict[str, dict]], None]]] = {
    "s3": ("s3-no-public-grants", _s3_policies),
    "sqs": (RULE, _sqs_policies),
    "sns": (RULE, _sns_policies),
    "kms": (RULE, _kms_policies),
    "ecr": ("registry-policy-no-public-principal", _ecr_policies),
    "model-package-group": ("registry-policy-no-public-principal", _model_package_group_policies),
}


@pytest.mark.parametrize("service", sorted(POLICY_TYPES))
def test_a_who_condition_of_wildcards_restricts_nobody(service: str):
    rule_id, build = POLICY_TYPES[service]
    violations = check(rule_id, lambda: build(WILDCARD_GUARDS))
    assert set(names(violations)) == set(WILDCARD_GUARDS)
    assert all("'Guarded'" in v.message for v in violations)


@pytest.mark.parametrize("service", sorted(POLICY_TYPES))
def test_a_who_condition_pinning_a_concrete_caller_is_a_guard(service: str):
    rule_id, build = POLICY_TYPES[service]
    assert check(rule_id, lambda: build(CONCRETE_GUARDS)) == []


@pytest.mark.parametrize(
    ("kind", "value", "pins"),
    [
        ("account", ACCOUNT, True),
        ("account", "12345678901", False),  # 11 digits
        ("account", "1234567890*", False),
        ("account", "*", False),
        ("org", ORG, True),
        ("org", "o-*", False),
        ("org", "*", False),
        ("org-path", f"{ORG}/*", True),
        ("org-path", "o-*/r-ab12/*", False),
        ("arn", f"arn:aws:iam::{ACCOUNT}:root", True),
        ("arn", f"arn:aws:*:*:{ACCOUNT}:*", True),
        ("arn", "arn:aws:*:*:*:*", False),
        ("arn", "arn:aws:iam::*:role/deployer", False),
        ("arn", "arn:aws:s3:::fraud-prod-models", True),
        ("arn", "arn:aws:s3:::*", False),
        ("arn", "arn:*:s3:::fraud-prod-models", True),  # any partition, still one bucket name
        ("arn", "*", False),
        ("arn", "arn:aws:iam", False),
        ("vpc", "vpc-0a1b2c3d", True),
        ("vpc", "vpc-*", False),
        ("vpce", "vpce-0a1b2c3d", True),
        ("vpce", "vpc-0a1b2c3d", False),
        ("user-id", "AROAEXAMPLEID:*", True),
        ("user-id", "*:jane", False),
        ("service", "sns.amazonaws.com", True),
        ("service", "*.amazonaws.com", False),
        ("account", True, False),
        ("account", None, False),
    ],
)
def test_which_values_pin_a_caller(kind: str, value: object, pins: bool):
    assert value_pins_who(kind, value) is pins


def test_every_who_key_has_a_known_kind_of_value():
    kinds = {"account", "org", "org-path", "arn", "vpc", "vpce", "user-id", "service"}
    assert set(WHO_CONDITION_KEYS.values()) <= kinds
    assert all(key == key.lower() for key in WHO_CONDITION_KEYS)
