"""Model registry rules: a bad and a good program for each, plus linking and preview behaviour.

Every program is built from real pulumi_aws resources, so the property names the rules read are
the provider's. `REGISTRY_CASES` has the shape of `test_governance_rules.CASES` (bad program, the
logical names it must flag, good program) so that table can take these rules in too.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.registry import (
    ARTIFACT_PURPOSE_TAG,
    RULES,
    public_statement_problems,
    retention_days,
)
from policy_harness import check, names
from policy_programs import KEY_ARN, unknown, versioning
from pulumi_policy.proxy import UnknownValueError

Program = Callable[[], None]
ACCOUNT = "123456789012"
ARTIFACT_TAGS = dict([ARTIFACT_PURPOSE_TAG])


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _read(principal: object, **extra: object) -> dict:
    return {
        "Sid": "Read",
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
        **extra,
    }


def _repository(name: str, **overrides: object) -> aws.ecr.Repository:
    settings: dict[str, object] = {
        "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": aws.ecr.RepositoryImageScanningConfigurationArgs(
            scan_on_push=True
        ),
        "encryption_configurations": [
            aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=KEY_ARN)
        ],
        **overrides,
    }
    return aws.ecr.Repository(name, **settings)  # type: ignore[arg-type]


def _locked_bucket(name: str, days: int = 365, mode: str = "GOVERNANCE", **bucket: object):
    created = aws.s3.Bucket(name, object_lock_enabled=True, **bucket)  # type: ignore[arg-type]
    versioning(f"{name}-versioning", created)
    aws.s3.BucketObjectLockConfiguration(
        f"{name}-lock",
        bucket=created.id,
        rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
            default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                mode=mode, days=days
            )
        ),
    )
    return created


# -- ecr-repository-immutable-tags ------------------------------------------------------------


def bad_immutable_tags() -> None:
    aws.ecr.Repository("default-mutable")
    _repository("mutable", image_tag_mutability="MUTABLE")
    _repository(
        "latest-excluded",
        image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=[
            aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(
                filter="latest*", filter_type="WILDCARD"
            )
        ],
    )


def good_immutable_tags() -> None:
    _repository("serving")


# -- ecr-repository-scan-on-push --------------------------------------------------------------


def bad_scan_on_push() -> None:
    aws.ecr.Repository("unscanned", image_tag_mutability="IMMUTABLE")
    _repository(
        "scan-off",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
            scan_on_push=False
        ),
    )


def good_scan_on_push() -> None:
    _repository("serving")


# -- model-artifact-bucket-object-lock --------------------------------------------------------


def bad_artifact_lock() -> None:
    unlocked = aws.s3.Bucket("unlocked", tags=ARTIFACT_TAGS)
    versioning("unlocked-versioning", unlocked)
    aws.s3.Bucket("lock-no-retention", object_lock_enabled=True, tags=ARTIFACT_TAGS)
    _locked_bucket("short-lock", days=7, tags=ARTIFACT_TAGS)
    suspended = aws.s3.Bucket("suspended", object_lock_enabled=True, tags=ARTIFACT_TAGS)
    versioning("suspended-versioning", suspended, status="Suspended")
    store = aws.s3.Bucket("mlflow-store")
    role = aws.iam.Role("mlflow-role", assume_role_policy="{}")
    aws.sagemaker.MlflowTrackingServer(
        "mlflow",
        tracking_server_name="fraud-prod-mlflow",
        artifact_store_uri=store.bucket.apply(lambda b: f"s3://{b}/mlflow"),
        role_arn=role.arn,
    )


def good_artifact_lock() -> None:
    _locked_bucket("models", tags=ARTIFACT_TAGS)
    _locked_bucket("compliance-models", days=3650, mode="COMPLIANCE", tags=ARTIFACT_TAGS)
    aws.s3.Bucket("not-an-artifact-store")  # other buckets are other rules' business
    store = _locked_bucket("mlflow-store")
    role = aws.iam.Role("mlflow-role", assume_role_policy="{}")
    aws.sagemaker.MlflowTrackingServer(
        "mlflow",
        tracking_server_name="fraud-prod-mlflow",
        artifact_store_uri=store.bucket.apply(lambda b: f"s3://{b}/mlflow"),
        role_arn=role.arn,
    )


# -- sagemaker-model-package-group-policy-present ---------------------------------------------


def bad_group_policy() -> None:
    aws.sagemaker.ModelPackageGroup("orphan", model_package_group_name="fraud-prod-orphan")
    aws.sagemaker.ModelPackageGroup("churn", model_package_group_name="fraud-prod-churn")
    aws.sagemaker.ModelPackageGroupPolicy(
        "someone-elses-policy",
        model_package_group_name="marketing-prod-churn",
        resource_policy=_policy(_read({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
    )


def good_group_policy() -> None:
    churn = aws.sagemaker.ModelPackageGroup("churn", model_package_group_name="fraud-prod-churn")
    aws.sagemaker.ModelPackageGroupPolicy(
        "churn-policy",
        model_package_group_name=churn.model_package_group_name,
        resource_policy=_policy(_read({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
    )
    aws.sagemaker.ModelPackageGroup("scoring", model_package_group_name="fraud-prod-scoring")
    aws.sagemaker.ModelPackageGroupPolicy(
        "scoring-policy",
        model_package_group_name="fraud-prod-scoring",  # a literal name links too
        resource_policy=_policy(_read({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
    )


# -- registry-policy-no-public-principal -----------------------------------------------------


def bad_public_principal() -> None:
    aws.sagemaker.ModelPackageGroupPolicy(
        "anyone-reads-group",
        model_package_group_name="fraud-prod-churn",
        resource_policy=_policy(_read("*")),
    )
    repo = _repository("serving")
    aws.ecr.RepositoryPolicy(
        "anyone-pulls",
        repository=repo.name,
        policy=_policy({**_read({"AWS": "*"}), "Action": "ecr:BatchGetImage"}),
    )
    aws.ecr.RepositoryPolicy(
        "all-but-one",
        repository=repo.name,
        policy=_policy(
            {
                "Sid": "AllButOne",
                "Effect": "Allow",
                "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "ecr:BatchGetImage",
            }
        ),
    )
    # Conditions on who whose values pin no one.
    aws.sagemaker.ModelPackageGroupPolicy(
        "any-org-reads-group",
        model_package_group_name="fraud-prod-scoring",
        resource_policy=_policy(_read("*", Condition={"StringLike": {"aws:PrincipalOrgID": "*"}})),
    )
    aws.ecr.RepositoryPolicy(
        "any-account-pulls",
        repository=repo.name,
        policy=_policy(
            {
                **_read("*"),
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringLike": {"aws:PrincipalAccount": "*"}},
            }
        ),
    )


def good_public_principal() -> None:
    aws.sagemaker.ModelPackageGroupPolicy(
        "named-readers",
        model_package_group_name="fraud-prod-churn",
        resource_policy=_policy(
            _read({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-approver"]})
        ),
    )
    aws.sagemaker.ModelPackageGroupPolicy(
        "account-roles-read",
        model_package_group_name="fraud-prod-scoring",
        resource_policy=_policy(
            _read(
                "*",
                Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
            )
        ),
    )
    repo = _repository("serving")
    aws.ecr.RepositoryPolicy(
        "org-only",
        repository=repo.name,
        policy=_policy(
            {
                **_read("*"),
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            },
            # A Deny to everyone is a restriction, not an exposure.
            {
                "Sid": "NoDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:BatchDeleteImage",
            },
        ),
    )


REGISTRY_CASES: dict[str, tuple[Program, set[str], Program]] = {
    "ecr-repository-immutable-tags": (
        bad_immutable_tags,
        {"default-mutable", "mutable", "latest-excluded"},
        good_immutable_tags,
    ),
    "ecr-repository-scan-on-push": (bad_scan_on_push, {"unscanned", "scan-off"}, good_scan_on_push),
    "model-artifact-bucket-object-lock": (
        bad_artifact_lock,
        {"unlocked", "lock-no-retention", "short-lock", "suspended", "mlflow-store"},
        good_artifact_lock,
    ),
    "sagemaker-model-package-group-policy-present": (
        bad_group_policy,
        {"orphan", "churn"},
        good_group_policy,
    ),
    "registry-policy-no-public-principal": (
        bad_public_principal,
        {
            "anyone-reads-group",
            "anyone-pulls",
            "all-but-one",
            "any-org-reads-group",
            "any-account-pulls",
        },
        good_public_principal,
    ),
}


def test_every_registry_rule_has_a_case():
    assert set(REGISTRY_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES), "registry rules are in the pack"


@pytest.mark.parametrize("rule_id", sorted(REGISTRY_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = REGISTRY_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(REGISTRY_CASES))
def test_good_program_passes(rule_id: str):
    _, _, good = REGISTRY_CASES[rule_id]
    assert check(rule_id, good, environment="prod") == []


# -- details --------------------------------------------------------------------------------


def test_object_lock_messages_say_what_is_missing():
    violations = check("model-artifact-bucket-object-lock", bad_artifact_lock)
    by_name: dict[str | None, list[str]] = {}
    for v in violations:
        by_name.setdefault(v.resource_name, []).append(v.message)
    assert ["does not have S3 Object Lock enabled" in m for m in by_name["unlocked"]] == [True]
    assert "has no default retention rule" in by_name["lock-no-retention"][0]
    assert "7 days, under the 30-day minimum" in by_name["short-lock"][0]
    # The MLflow store is neither versioned nor locked: both are reported.
    assert len(by_name["mlflow-store"]) == 2 and "not versioned" in by_name["mlflow-store"][0]


def test_minimum_retention_follows_the_profile_and_policy_config():
    def program() -> None:
        _locked_bucket("models", days=10, tags=ARTIFACT_TAGS)

    assert len(check("model-artifact-bucket-object-lock", program, environment="prod")) == 1
    assert check("model-artifact-bucket-object-lock", program, environment="staging") == []
    assert (
        check("model-artifact-bucket-object-lock", program, policy_config={"minRetentionDays": 7})
        == []
    )
    assert find_rule("model-artifact-bucket-object-lock").enforcement["dev"] == "disabled"


def test_retention_in_years_counts():
    assert retention_days({"years": 2}) == 730
    assert retention_days({"days": 30, "years": 2}) == 30
    assert retention_days({}) is None


def test_inline_deprecated_object_lock_is_honoured():
    def program() -> None:
        bucket = aws.s3.Bucket(
            "legacy-models",
            tags=ARTIFACT_TAGS,
            object_lock_configuration=aws.s3.BucketObjectLockConfigurationArgs(
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode="COMPLIANCE", years=1
                    )
                ),
            ),
        )
        versioning("legacy-versioning", bucket)

    assert check("model-artifact-bucket-object-lock", program) == []


def test_mlflow_store_named_by_a_literal_uri_is_an_artifact_store():
    def program() -> None:
        aws.s3.Bucket("literal-store", bucket="fraud-prod-mlflow-artifacts")
        aws.sagemaker.MlflowTrackingServer(
            "mlflow",
            tracking_server_name="fraud-prod-mlflow",
            artifact_store_uri="s3://fraud-prod-mlflow-artifacts/mlflow",
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlflow",
        )

    assert set(names(check("model-artifact-bucket-object-lock", program))) == {"literal-store"}


def test_group_policy_links_by_dependency_while_the_name_is_unknown():
    def program() -> None:
        group = aws.sagemaker.ModelPackageGroup(
            "churn", model_package_group_name="fraud-prod-churn"
        )
        aws.sagemaker.ModelPackageGroupPolicy(
            "churn-policy",
            model_package_group_name=unknown(group),
            resource_policy=_policy(_read({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
        )

    assert check("sagemaker-model-package-group-policy-present", program) == []


def test_an_unknown_resource_policy_is_not_read_as_a_pass():
    def program() -> None:
        aws.sagemaker.ModelPackageGroupPolicy(
            "pending", model_package_group_name="fraud-prod-churn", resource_policy=unknown()
        )

    with pytest.raises(UnknownValueError):
        check("registry-policy-no-public-principal", program)


def test_a_policy_that_is_not_json_is_reported():
    def program() -> None:
        repo = _repository("serving")
        aws.ecr.RepositoryPolicy("garbled", repository=repo.name, policy="not json")

    [violation] = check("registry-policy-no-public-principal", program)
    assert "not a JSON policy document" in violation.message


def test_public_statement_problems_name_the_statement():
    doc = {"Statement": [_read("*"), _read({"AWS": ["*"]}, Sid="")]}
    assert public_statement_problems(doc) == [
        "statement 'Read' allows Principal '*' without a condition on who may call",
        "a statement allows Principal '*' without a condition on who may call",
    ]
    org_only = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    assert public_statement_problems({"Statement": _read("*", Condition=org_only)}) == []


@pytest.mark.parametrize(
    ("condition", "guarded"),
    [
        # Restricts how, not who: anyone in the world over TLS.
        ({"Bool": {"aws:SecureTransport": "true"}}, False),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, True),
        ({"StringEquals": {"aws:PrincipalAccount": ["111111111111"]}}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:111111111111:rule/x"}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-0123"}}, True),
        ({"StringEquals": {"kms:CallerAccount": "111111111111"}}, True),
        # Everyone but one account is still everyone else.
        ({"StringNotEquals": {"aws:PrincipalAccount": "111111111111"}}, False),
        # A request without the key matches an IfExists operator.
        ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-0123"}}, False),
        ({"StringLike": {"aws:PrincipalArn": "*"}}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}}, False),
        ({"StringLike": {"aws:PrincipalOrgID": "*"}}, False),
        ({"StringEquals": {"aws:SourceAccount": "*"}}, False),
        ({"StringEquals": {"aws:PrincipalOrgID": ["o-abc123", "*"]}}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:*:111111111111:*"}}, True),
        ({"Null": {"aws:PrincipalOrgID": "false"}}, False),
        ({"Bool": {}}, False),
        ("not a condition", False),
    ],
)
def test_only_conditions_on_who_guard_a_public_principal(condition, guarded):
    found = public_statement_problems({"Statement": _read("*", Condition=condition)})
    assert (found == []) is guarded


def test_a_tls_only_condition_leaves_an_ecr_policy_public():
    def program() -> None:
        repo = _repository("serving")
        aws.ecr.RepositoryPolicy(
            "tls-only",
            repository=repo.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": _read("*", Condition={"Bool": {"aws:SecureTransport": "true"}}),
                }
            ),
        )

    [violation] = check("registry-policy-no-public-principal", program)
    assert "tls-only" in violation.message


def test_rules_are_stack_or_type_scoped_as_documented():
    kinds = {r.id: r.kind for r in RULES}
    assert kinds["model-artifact-bucket-object-lock"] == "stack"
    assert kinds["sagemaker-model-package-group-policy-present"] == "stack"
    assert all(r.domain == "registry" for r in RULES)
    # The ECR and SNS encryption rules the registry relies on live in encryption.py, once.
    ids = [r.id for r in RULES]
    assert "ecr-repository-encryption-cmk" not in ids and "sns-topic-encryption-cmk" not in ids
