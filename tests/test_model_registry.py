"""The model registry: its pure policy builders, and the component under the Pulumi mock runtime.

Renders go through `estate.offline.engine.render`, so inputs are the camelCase wire names the engine
records. The program builds the BU key and access-log bucket beside the registry, as `BuEstate`
will, so the pack's rules see a stack the registry really lives in.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import naming
from components.kms import KmsKey
from components.model_registry import (
    APPROVAL_ACTION,
    APPROVE_ACTIONS,
    ARTIFACT_PURPOSE_TAG,
    PUBLISH_ACTIONS,
    READ_ACTIONS,
    ModelRegistry,
    ModelRegistryArgs,
    approval_event_pattern,
    grants_approval,
    lifecycle_policy,
    model_package_group_name,
    model_package_group_policy,
    object_lock_for,
    repository_name,
    repository_policy,
    self_approval_guard_statement,
)
from components.storage import AccessLogBucket
from components.tags import ownership_tags
from estate.offline.engine import ProgramError, render
from estate.offline.mocks import ACCOUNT_ID
from estate.offline.model import Inventory, Resource

ROOT = Path(__file__).resolve().parent.parent
# The policy harness and the pack's rules, importable as the pack process sees them.
for _path in (str(ROOT / "policies"), str(ROOT / "tests" / "policies")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from governance import RULES  # noqa: E402
from governance import registry as registry_rules  # noqa: E402
from policy_harness import check  # noqa: E402

DEPLOY_ACCOUNT = "210987654321"
CONFIG = {"aws:region": "us-east-1"}


def registry_program(environment: str, *, export: bool = False, **overrides: Any):
    """A BU key, an access-log bucket and the registry, as a BU stack would build them.

    With `export`, the registry's typed outputs become stack outputs (resolved by the engine).
    """

    def program() -> None:
        tags = ownership_tags(
            business_unit="fraud",
            owner="fraud-ml@example.com",
            cost_center="CC-1234",
            environment=environment,
            data_classification="confidential",
        )
        protect = environment == "prod"
        key = KmsKey(
            "fraud-key",
            {
                "alias": f"ai-estate/fraud-{environment}",
                "description": "BU key",
                "service_principals": ["events.amazonaws.com"],
                "tags": tags,
                "protect": protect,
            },
        )
        logs = AccessLogBucket(
            "fraud-access-logs",
            {"account_id": ACCOUNT_ID, "tags": tags, "protect": protect},
        )
        args: ModelRegistryArgs = {
            "business_unit": "fraud",
            "environment": environment,
            "model_families": ["churn", "scoring"],
            "kms_key_arn": key.arn,
            "artifact_bucket_name": naming.bucket_name("fraud", environment, "models", ACCOUNT_ID),
            "access_log_bucket": logs.bucket_name,
            "principal_arns": [],
            "deploy_account_ids": [DEPLOY_ACCOUNT],
            "object_lock_mode": "GOVERNANCE",
            "object_lock_retention_days": 365,
            "noncurrent_version_retention_days": 365,
            "untagged_image_expiry_days": 14,
            "tagged_images_kept": 200,
            "approval_emails": ["model-risk@example.com"],
            "approval_https_endpoints": ["https://hooks.example.com/model-approvals"],
            "mlflow": {"size": "Small"},
            "protect": protect,
            "tags": tags,
        }
        args.update(overrides)  # type: ignore[typeddict-item]
        registry = ModelRegistry(f"fraud-{environment}-registry", args)
        if export:
            pulumi.export("groups", registry.model_package_group_arns)
            pulumi.export("bucketName", registry.artifact_bucket_name)
            pulumi.export("bucketArn", registry.artifact_bucket_arn)
            pulumi.export("repositoryUrls", registry.repository_urls)
            pulumi.export("topicArn", registry.approval_topic_arn)
            pulumi.export("mlflowArn", registry.mlflow_tracking_server_arn)

    return program


def render_registry(environment: str, **overrides: Any) -> Inventory:
    return render(
        registry_program(environment, **overrides),
        stack=f"fraud-{environment}",
        project="ai-estate",
        config={**CONFIG, "ai-estate:environment": environment},
    )


@cache
def rendered(environment: str) -> Inventory:
    return render_registry(environment)


def by_type(inventory: Inventory, typ: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == typ]


def one(inventory: Inventory, typ: str, name_part: str = "") -> Resource:
    [found] = [r for r in by_type(inventory, typ) if name_part in r.name]
    return found


def policy_documents(inventory: Inventory) -> list[tuple[Resource, dict[str, Any]]]:
    """Every JSON policy document the stack renders, with the resource that carries it."""
    found = []
    for r in inventory.resources:
        for prop in ("policy", "resourcePolicy", "assumeRolePolicy"):
            value = r.inputs.get(prop)
            if isinstance(value, str) and value.startswith("{") and "Statement" in value:
                found.append((r, json.loads(value)))
    return found


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def actions_of(statement: dict[str, Any]) -> list[str]:
    found = statement.get("Action", [])
    return found if isinstance(found, list) else [found]


# -- pure functions -----------------------------------------------------------------------


def test_names_are_prefixed_and_validated():
    assert model_package_group_name("fraud-prod", "churn") == "fraud-prod-churn"
    assert repository_name("fraud-prod", "churn") == "fraud-prod/churn"
    with pytest.raises(ValueError, match="1-63"):
        model_package_group_name("fraud-prod", "x" * 60)
    with pytest.raises(ValueError, match="1-63"):
        model_package_group_name("fraud-prod", "churn_v2")
    with pytest.raises(ValueError, match="lowercase"):
        repository_name("fraud-prod", "Churn")


def test_object_lock_is_for_prod_only():
    assert object_lock_for("prod", "GOVERNANCE", 365) == {
        "mode": "GOVERNANCE",
        "retention_days": 365,
    }
    assert object_lock_for("staging", "COMPLIANCE", 365) is None
    assert object_lock_for("dev", "GOVERNANCE", 365) is None


def test_separation_of_duties_constants():
    assert not grants_approval(PUBLISH_ACTIONS)
    assert grants_approval(APPROVE_ACTIONS)
    assert APPROVAL_ACTION in APPROVE_ACTIONS and APPROVAL_ACTION not in PUBLISH_ACTIONS
    assert "sagemaker:CreateModelPackage" in PUBLISH_ACTIONS
    assert "sagemaker:CreateModelPackage" not in APPROVE_ACTIONS
    # Wildcards grant approval too: the access work must not hand them to a publisher.
    for wildcard in ("sagemaker:*", "*", "SageMaker:Update*", "sagemaker:UpdateModel*"):
        assert grants_approval([wildcard]), wildcard
    assert not grants_approval(["sagemaker:UpdateModel", "sagemaker:Describe*"])
    assert ModelRegistry.publish_actions == PUBLISH_ACTIONS
    assert ModelRegistry.approve_actions == APPROVE_ACTIONS


def test_self_approval_guard_denies_only_an_explicit_non_pending_status():
    statement = self_approval_guard_statement(["arn:aws:sagemaker:us-east-1:1:model-package/x/*"])
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "sagemaker:CreateModelPackage"
    assert statement["Condition"] == {
        "Null": {"sagemaker:ModelApprovalStatus": "false"},
        "StringNotEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"},
    }


def test_lifecycle_policy_expires_untagged_and_keeps_the_newest_tagged():
    rules = json.loads(lifecycle_policy(7, 50))["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 7,
    }
    assert rules[1]["selection"]["tagStatus"] == "tagged"
    assert rules[1]["selection"]["tagPatternList"] == ["*"]
    assert rules[1]["selection"]["countType"] == "imageCountMoreThan"
    assert rules[1]["selection"]["countNumber"] == 50
    assert all(r["action"] == {"type": "expire"} for r in rules)
    with pytest.raises(ValueError):
        lifecycle_policy(0, 50)


def test_approval_events_are_the_bus_package_state_changes():
    pattern = json.loads(approval_event_pattern("fraud-prod"))
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [{"prefix": "fraud-prod-"}]},
    }


def test_artifact_purpose_tag_matches_the_policy_pack():
    assert ARTIFACT_PURPOSE_TAG == registry_rules.ARTIFACT_PURPOSE_TAG


ROLE_ARNS = st.lists(
    st.from_regex(r"arn:aws:iam::123456789012:role/fraud-prod-[a-z]{1,12}", fullmatch=True),
    max_size=4,
)
ACCOUNTS = st.lists(st.from_regex(r"[0-9]{12}", fullmatch=True), max_size=3)


@given(principals=ROLE_ARNS, deploy=ACCOUNTS)
def test_resource_policies_never_admit_everyone_nor_grant_writes(principals, deploy):
    documents = [
        model_package_group_policy(
            group_name="fraud-prod-churn",
            group_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package-group/fraud-prod-churn",
            partition="aws",
            region="us-east-1",
            account_id="123456789012",
            business_unit="fraud",
            principal_arns=principals,
            deploy_account_ids=deploy,
        ),
        repository_policy(
            partition="aws",
            account_id="123456789012",
            business_unit="fraud",
            principal_arns=principals,
            deploy_account_ids=deploy,
        ),
    ]
    for document in documents:
        for statement in statements_of(json.loads(document)):
            aws_principals = statement["Principal"]["AWS"]
            aws_principals = (
                aws_principals if isinstance(aws_principals, list) else [aws_principals]
            )
            assert "*" not in aws_principals and statement["Principal"] != "*"
            assert all(p.startswith("arn:aws:iam::") for p in aws_principals)
            assert set(actions_of(statement)) <= set(READ_ACTIONS) | {
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:ListImages",
            }
            if statement["Sid"].startswith("Bu") and not principals:
                # The placeholder before personas exist: the account, held to the BU's tag.
                assert aws_principals == ["arn:aws:iam::123456789012:root"]
                assert statement["Condition"] == {
                    "StringEquals": {"aws:PrincipalTag/BusinessUnit": "fraud"}
                }
            elif statement["Sid"].startswith("Bu"):
                assert aws_principals == sorted(set(principals))
                assert "Condition" not in statement
            else:
                expected = {f"arn:aws:iam::{a}:root" for a in deploy} - {
                    "arn:aws:iam::123456789012:root"
                }
                assert set(aws_principals) == expected


# -- rendered: prod ---------------------------------------------------------------------------


def test_one_model_package_group_per_family_each_with_its_policy():
    inv = rendered("prod")
    groups = {r.urn: r for r in by_type(inv, "aws:sagemaker/modelPackageGroup:ModelPackageGroup")}
    assert {g.inputs["modelPackageGroupName"] for g in groups.values()} == {
        "fraud-prod-churn",
        "fraud-prod-scoring",
    }
    policies = by_type(inv, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")
    assert len(policies) == 2
    for policy in policies:
        [group_urn] = policy.property_dependencies["modelPackageGroupName"]
        group = groups[group_urn]
        name = group.inputs["modelPackageGroupName"]
        assert policy.inputs["modelPackageGroupName"] == name
        doc = json.loads(policy.inputs["resourcePolicy"])
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        assert set(by_sid) == {"BuPrincipalsRead", "DeployAccountsRead"}
        assert by_sid["DeployAccountsRead"]["Principal"] == {
            "AWS": [f"arn:aws:iam::{DEPLOY_ACCOUNT}:root"]
        }
        assert sorted(by_sid["DeployAccountsRead"]["Action"]) == sorted(READ_ACTIONS)
        assert by_sid["BuPrincipalsRead"]["Condition"] == {
            "StringEquals": {"aws:PrincipalTag/BusinessUnit": "fraud"}
        }
        assert by_sid["BuPrincipalsRead"]["Resource"] == [
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:model-package-group/{name}",
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:model-package/{name}/*",
        ]


def test_artifact_bucket_is_hardened_and_locked_in_prod():
    inv = rendered("prod")
    bucket = one(inv, "aws:s3/bucket:Bucket", "registry-artifacts")
    assert bucket.inputs["bucket"] == naming.bucket_name("fraud", "prod", "models", ACCOUNT_ID)
    assert bucket.inputs["objectLockEnabled"] is True
    assert bucket.inputs["tags"]["Purpose"] == "model-artifacts"
    assert bucket.inputs["tags"]["BusinessUnit"] == "fraud"
    assert bucket.protect and bucket.retain_on_delete

    def satellite(typ: str) -> Resource:
        [found] = [
            r for r in by_type(inv, typ) if r.property_dependencies.get("bucket") == [bucket.urn]
        ]
        return found

    lock = satellite("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}
    versioning = satellite("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    assert versioning.urn in lock.dependencies  # versioning first, as S3 requires
    pab = satellite("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        pab.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = satellite(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    [key] = [k for k in by_type(inv, "aws:kms/key:Key") if not k.inputs.get("region")]
    assert default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert key.urn in sse.property_dependencies["rules"]
    logging = satellite("aws:s3/bucketLogging:BucketLogging")
    log_bucket = one(inv, "aws:s3/bucket:Bucket", "fraud-access-logs")
    assert logging.property_dependencies["targetBucket"] == [log_bucket.urn]
    assert logging.inputs["targetPrefix"] == f"{bucket.inputs['bucket']}/"
    policy = json.loads(satellite("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    read = by_sid["DeployAccountsReadModels"]
    assert read["Principal"] == {"AWS": [f"arn:aws:iam::{DEPLOY_ACCOUNT}:root"]}
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == f"arn:aws:s3:::{bucket.inputs['bucket']}/models/*"


def test_image_repositories_are_immutable_scanned_encrypted_and_owned():
    inv = rendered("prod")
    [key] = [k for k in by_type(inv, "aws:kms/key:Key") if not k.inputs.get("region")]
    repos = {r.urn: r for r in by_type(inv, "aws:ecr/repository:Repository")}
    assert {r.inputs["name"] for r in repos.values()} == {"fraud-prod/churn", "fraud-prod/scoring"}
    for repo in repos.values():
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        [encryption] = repo.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS"
        assert encryption["kmsKey"].startswith("arn:aws:kms:")
        assert key.urn in repo.property_dependencies["encryptionConfigurations"]
        assert repo.inputs["forceDelete"] is False
        assert repo.protect and repo.retain_on_delete
    for typ in (
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
    ):
        attached = by_type(inv, typ)
        assert {tuple(r.property_dependencies["repository"]) for r in attached} == {
            (urn,) for urn in repos
        }
    lifecycle = by_type(inv, "aws:ecr/lifecyclePolicy:LifecyclePolicy")[0]
    assert json.loads(lifecycle.inputs["policy"]) == json.loads(lifecycle_policy(14, 200))
    pull = json.loads(by_type(inv, "aws:ecr/repositoryPolicy:RepositoryPolicy")[0].inputs["policy"])
    assert {s["Sid"] for s in pull["Statement"]} == {"BuPrincipalsPull", "DeployAccountsPull"}
    assert all("Resource" not in s for s in pull["Statement"])


def test_approval_flow_goes_from_eventbridge_to_an_encrypted_topic():
    inv = rendered("prod")
    rule = one(inv, "aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == json.loads(
        approval_event_pattern("fraud-prod")
    )
    topic = one(inv, "aws:sns/topic:Topic")
    [key] = [k for k in by_type(inv, "aws:kms/key:Key") if not k.inputs.get("region")]
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert key.urn in topic.property_dependencies["kmsMasterKeyId"]
    target = one(inv, "aws:cloudwatch/eventTarget:EventTarget")
    assert target.property_dependencies["rule"] == [rule.urn]
    assert target.property_dependencies["arn"] == [topic.urn]
    topic_policy = one(inv, "aws:sns/topicPolicy:TopicPolicy")
    assert topic_policy.urn in target.dependencies
    [statement] = json.loads(topic_policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == topic_policy.inputs["arn"]
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/{rule.inputs['name']}"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    subscriptions = by_type(inv, "aws:sns/topicSubscription:TopicSubscription")
    assert {(s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions} == {
        ("email", "model-risk@example.com"),
        ("https", "https://hooks.example.com/model-approvals"),
    }
    assert all(s.property_dependencies["topic"] == [topic.urn] for s in subscriptions)


def test_subscription_names_do_not_depend_on_list_order():
    reordered = render_registry(
        "dev",
        approval_emails=["second@example.com", "model-risk@example.com"],
    )
    names = {
        r.inputs["endpoint"]: r.name
        for r in by_type(reordered, "aws:sns/topicSubscription:TopicSubscription")
    }
    original = {
        r.inputs["endpoint"]: r.name
        for r in by_type(rendered("dev"), "aws:sns/topicSubscription:TopicSubscription")
    }
    assert names["model-risk@example.com"] == original["model-risk@example.com"]


def test_mlflow_tracking_server_uses_the_bucket_prefix_and_a_scoped_role():
    inv = rendered("prod")
    bucket = one(inv, "aws:s3/bucket:Bucket", "registry-artifacts")
    server = one(inv, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
    assert server.inputs["artifactStoreUri"] == f"s3://{bucket.inputs['bucket']}/mlflow"
    assert bucket.urn in server.property_dependencies["artifactStoreUri"]
    assert server.inputs["trackingServerName"] == "fraud-prod-mlflow"
    assert server.inputs["trackingServerSize"] == "Small"
    assert server.inputs["automaticModelRegistration"] is False
    assert server.protect
    role = one(inv, "aws:iam/role:Role", "mlflow")
    assert role.urn in server.property_dependencies["roleArn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    policy = one(inv, "aws:iam/rolePolicy:RolePolicy", "mlflow")
    assert policy.urn in server.dependencies
    bucket_arn = f"arn:aws:s3:::{bucket.inputs['bucket']}"
    by_sid = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert by_sid["ArtifactObjects"]["Resource"] == f"{bucket_arn}/mlflow/*"
    assert by_sid["ArtifactListing"]["Condition"] == {
        "StringLike": {"s3:prefix": ["mlflow/", "mlflow/*"]}
    }
    assert by_sid["BuKey"]["Resource"].startswith("arn:aws:kms:")
    for statement in by_sid.values():
        assert "*" not in str(statement["Resource"]).replace("/mlflow/*", "")
        assert not any(a.endswith(":*") or a == "*" for a in actions_of(statement))


def test_outputs():
    inv = render(
        registry_program("prod", export=True),
        stack="fraud-prod",
        project="ai-estate",
        config={**CONFIG, "ai-estate:environment": "prod"},
    )
    out = inv.outputs
    region_account = f"us-east-1:{ACCOUNT_ID}"
    assert out["groups"] == {
        f: f"arn:aws:sagemaker:{region_account}:model-package-group/fraud-prod-{f}"
        for f in ("churn", "scoring")
    }
    bucket = naming.bucket_name("fraud", "prod", "models", ACCOUNT_ID)
    assert out["bucketName"] == bucket and out["bucketArn"] == f"arn:aws:s3:::{bucket}"
    assert out["repositoryUrls"] == {
        i: f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/{i}"
        for i in ("churn", "scoring")
    }
    assert out["topicArn"] == f"arn:aws:sns:{region_account}:fraud-prod-model-approvals"
    assert out["mlflowArn"].startswith(f"arn:aws:sagemaker:{region_account}:")


# -- rendered: prod vs dev ----------------------------------------------------------------------


STATEFUL = {
    "aws:s3/bucket:Bucket",
    "aws:ecr/repository:Repository",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
    "aws:kms/key:Key",
}


def test_prod_protects_and_locks_dev_does_neither():
    prod, dev = rendered("prod"), rendered("dev")
    for r in prod.resources:
        if r.type in STATEFUL:
            assert r.protect and r.retain_on_delete, r.urn
    for r in dev.resources:
        if r.type in STATEFUL:
            assert not r.protect and not r.retain_on_delete, r.urn
    lock = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
    assert len(by_type(prod, lock)) == 1 and by_type(dev, lock) == []
    dev_bucket = one(dev, "aws:s3/bucket:Bucket", "registry-artifacts")
    assert "objectLockEnabled" not in dev_bucket.inputs
    # Everything else is the same shape in both.
    assert sorted(r.type for r in dev.resources if r.type != lock) == sorted(
        r.type for r in prod.resources if r.type != lock
    )


def test_no_generated_policy_admits_everyone_or_lets_the_registry_be_written():
    for env in ("prod", "dev"):
        documents = policy_documents(rendered(env))
        assert len(documents) >= 9  # 2 group, 2 repo, 2 bucket, topic, trust, mlflow role
        for resource, document in documents:
            for statement in statements_of(document):
                principal = statement.get("Principal")
                everyone = principal == "*" or (
                    isinstance(principal, dict) and "*" in json.dumps(principal.get("AWS", []))
                )
                if everyone:
                    # Only the TLS-only deny speaks to everyone, and it is conditional.
                    assert statement["Effect"] == "Deny" and statement["Condition"], resource.urn
                assert "NotPrincipal" not in statement, resource.urn
                if statement["Effect"] == "Allow":
                    assert not grants_approval(actions_of(statement)), resource.urn
                    assert "sagemaker:CreateModelPackage" not in actions_of(statement)


def test_named_principals_replace_the_account_root_placeholder():
    def program() -> None:
        approver = aws.iam.Role("fraud-prod-approver", assume_role_policy="{}")
        registry_program("prod", principal_arns=[approver.arn])()

    inv = render(
        program,
        stack="fraud-prod",
        project="ai-estate",
        config={**CONFIG, "ai-estate:environment": "prod"},
    )
    approver = one(inv, "aws:iam/role:Role", "approver")
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/fraud-prod-approver-"  # autonamed
    for typ, prop in (
        ("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", "resourcePolicy"),
        ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
    ):
        for r in by_type(inv, typ):
            assert approver.urn in r.property_dependencies[prop]
            bu = json.loads(r.inputs[prop])["Statement"][0]
            [arn] = bu["Principal"]["AWS"]
            assert arn.startswith(role_arn) and ":root" not in arn
            assert "Condition" not in bu


def test_without_mlflow_there_is_no_tracking_server():
    inv = render_registry("dev", mlflow=None, deploy_account_ids=[])
    assert by_type(inv, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer") == []
    assert [r for r in by_type(inv, "aws:iam/role:Role") if "mlflow" in r.name] == []
    doc = json.loads(
        one(inv, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", "churn").inputs[
            "resourcePolicy"
        ]
    )
    assert [s["Sid"] for s in doc["Statement"]] == ["BuPrincipalsRead"]


def test_separate_image_names_get_their_own_repositories():
    inv = render_registry("dev", image_names=["serving-cpu", "serving-gpu"])
    assert {r.inputs["name"] for r in by_type(inv, "aws:ecr/repository:Repository")} == {
        "fraud-dev/serving-cpu",
        "fraud-dev/serving-gpu",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_families": ["churn", "churn"]}, "model families must be unique"),
        ({"deploy_account_ids": ["*"]}, "not a 12-digit id"),
        ({"approval_https_endpoints": ["http://hooks.example.com"]}, "must be an https://"),
        ({"object_lock_mode": "LEGAL_HOLD"}, "GOVERNANCE or COMPLIANCE"),
    ],
)
def test_bad_args_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ProgramError, match=message):
        render_registry("prod", **overrides)


# -- the pack's rules over what the registry renders ------------------------------------------


ENFORCED = [
    (environment, rule)
    for environment in ("prod", "dev")
    for rule in RULES
    if rule.enforcement[environment] != "disabled"  # a disabled rule is not run in that env
    # the registry alone has no backup plan, trail or DR replica: BuEstate adds them
    # (tests/test_backup.py, tests/test_audit.py, tests/test_replication.py prove them on the
    # shipped stacks)
    and rule.id
    not in (
        "backup-covers-data-stores",
        "cloudtrail-covers-data-stores",
        "artifact-bucket-replicated",
        "mlops-prod-family-loop",  # the loop and the cards: tests/test_mlops.py
    )
]


@pytest.mark.parametrize(
    ("environment", "rule"), ENFORCED, ids=[f"{e}-{r.id}" for e, r in ENFORCED]
)
def test_the_registry_passes_every_rule_the_environment_enforces(environment, rule):
    assert check(rule.id, rendered(environment)) == []


def test_the_registry_rules_see_the_registry():
    """The pass above is not vacuous: the registry rules find what they govern."""
    prod = rendered("prod")
    assert len(by_type(prod, "aws:ecr/repository:Repository")) == 2
    from governance.registry import artifact_buckets
    from policy_harness import stack_args

    found = artifact_buckets(list(stack_args(prod).resources))
    assert [b.name for b in found.values()] == ["fraud-prod-registry-artifacts-bucket"]
    dev_violations = check("model-artifact-bucket-object-lock", rendered("dev"))
    assert [v.resource_name for v in dev_violations] == ["fraud-dev-registry-artifacts-bucket"]
