"""Approval -> deployment on the shipped fraud-prod stack: which model-package events reach the
deploy workflow (as EventBridge matches them, with moto's matcher), the exact
`repository_dispatch` body (moto's input-transformer implementation), what the invoke role may
do (the IAM evaluator), and what the archive keeps."""

from __future__ import annotations

import itertools
import json

import pytest
from moto.events.models import EventPattern
from moto.events.utils import EventTemplateParser

from components.deploy_dispatch import PLACEHOLDER_TOKEN
from estate.analysis.iam import Principal, Request, evaluate
from tests.test_backup import of, one

STACK = "fraud-prod"
FAMILIES = ("card-fraud", "merchant-risk")
STATUSES = ("Approved", "PendingManualApproval", "Rejected")
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"


def package_event(group: str, status: str, version: int = 7, account: str = "222222222222") -> dict:
    """A SageMaker model package state change as EventBridge delivers it (moto's put_events
    adds `ingestion-time`, which its template parser reads)."""
    account = account or "111111111111"
    arn = f"arn:aws:sagemaker:eu-west-1:{account}:model-package/{group}/{version}"
    return {
        "version": "0",
        "id": "2f1c7e0a-5b9e-4d7c-9d7e-1f0c6e3c9a11",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": "2026-12-04T06:00:00Z",
        "region": "eu-west-1",
        "resources": [arn],
        "ingestion-time": "2026-12-04T06:00:01Z",
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
        },
    }


@pytest.fixture(scope="module")
def inventory(rendered):
    return rendered(STACK)


def _where(inventory) -> tuple[str, str]:
    """(account, region) of the stack, from its key's ARN."""
    parts = inventory.outputs["kmsKeyArn"].split(":")
    return parts[4], parts[3]


def _arn_of(inventory, resource) -> str:
    """The ARN AWS gives `resource` (what every input naming it must carry)."""
    account, region = _where(inventory)
    name = resource.inputs["name"]
    if resource.type == DESTINATION:
        # `api-destination/<name>/<uuid>`: the uuid is AWS's, taken from the target
        [target, *_] = [t for t in of(inventory, TARGET) if "api-destination/" in t.inputs["arn"]]
        uuid = target.inputs["arn"].rsplit("/", 1)[1]
        return f"arn:aws:events:{region}:{account}:api-destination/{name}/{uuid}"
    if resource.type == "aws:iam/role:Role":
        return f"arn:aws:iam::{account}:role{resource.inputs['path']}{name}"
    if resource.type == "aws:iam/policy:Policy":
        return f"arn:aws:iam::{account}:policy{resource.inputs['path']}{name}"
    if resource.type == "aws:sqs/queue:Queue":
        return f"arn:aws:sqs:{region}:{account}:{name}"
    raise AssertionError(resource.type)


def _rule(inventory, family: str):
    return one(inventory, RULE, f"deploy-dispatch-{family}-approved")


def test_each_familys_approval_and_nothing_else_reaches_its_rule(inventory, rendered):
    other_bu_groups = [
        f"marketing-dev-{f}"
        for f in rendered("marketing-dev").outputs["modelRegistry"]["modelPackageGroupArns"]
    ]
    assert other_bu_groups, "marketing-dev ships a registry to compare with"
    for family in FAMILIES:
        pattern = EventPattern.load(_rule(inventory, family).inputs["eventPattern"])
        own = f"fraud-prod-{family}"
        assert pattern.matches_event(package_event(own, "Approved"))
        for status in ("PendingManualApproval", "Rejected"):
            assert not pattern.matches_event(package_event(own, status))
        for other in [f"fraud-prod-{f}" for f in FAMILIES if f != family] + other_bu_groups:
            assert not pattern.matches_event(package_event(other, "Approved")), other
        # the same family of the BU's dev stack is another stack's approval
        assert not pattern.matches_event(package_event(f"fraud-dev-{family}", "Approved"))
        # and a non-SageMaker event carrying the same detail does not match
        forged = package_event(own, "Approved")
        forged["source"] = "custom.app"
        assert not pattern.matches_event(forged)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_target_sends_exactly_the_dispatch_payload(inventory, family):
    rule = _rule(inventory, family)
    [target] = [t for t in of(inventory, TARGET) if t.inputs["rule"] == rule.inputs["name"]]
    transformer = target.inputs["inputTransformer"]
    event = package_event(f"fraud-prod-{family}", "Approved", version=12)
    body = EventTemplateParser.parse(
        input_template=transformer["inputTemplate"],
        input_paths_map=transformer["inputPaths"],
        event=event,
    )
    assert body == {
        "event_type": "model-approved",
        "client_payload": {
            "stack": STACK,
            "family": family,
            "modelPackageArn": event["detail"]["ModelPackageArn"],
        },
    }
    # the template is JSON on its own (a placeholder inside a string), so EventBridge accepts it
    json.loads(transformer["inputTemplate"])
    destination = one(inventory, DESTINATION)
    assert target.inputs["arn"] == _arn_of(inventory, destination)
    role = one(inventory, "aws:iam/role:Role", "deploy-dispatch-invoke-role")
    assert target.inputs["roleArn"] == _arn_of(inventory, role)
    dlq = one(inventory, "aws:sqs/queue:Queue", "deploy-dispatch-dlq")
    assert target.inputs["deadLetterConfig"]["arn"] == _arn_of(inventory, dlq)
    assert target.inputs["retryPolicy"]["maximumRetryAttempts"] > 0


def test_the_destination_posts_to_the_repositorys_dispatches_with_the_github_headers(inventory):
    destination = one(inventory, DESTINATION)
    assert destination.inputs["httpMethod"] == "POST"
    assert (
        destination.inputs["invocationEndpoint"]
        == "https://api.github.com/repos/acme/ai-estate/dispatches"
    )
    assert 1 <= destination.inputs["invocationRateLimitPerSecond"] <= 10
    connection = one(inventory, CONNECTION)
    account, region = _where(inventory)
    assert destination.inputs["connectionArn"].startswith(
        f"arn:aws:events:{region}:{account}:connection/{connection.inputs['name']}/"
    )
    assert connection.inputs["authorizationType"] == "API_KEY"
    auth = connection.inputs["authParameters"]
    assert auth["apiKey"]["key"] == "Authorization"
    # fraud-prod sets no tokenSecretArn: a placeholder the platform team replaces, which the
    # stack then leaves alone
    assert auth["apiKey"]["value"] == PLACEHOLDER_TOKEN
    assert connection.ignore_changes == ["authParameters.apiKey.value"]
    headers = {h["key"]: h["value"] for h in auth["invocationHttpParameters"]["headers"]}
    assert headers == {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def test_a_token_secret_reaches_the_connection_as_a_pulumi_secret():
    from tests.conftest import render_config, shipped_config

    config = shipped_config(STACK)
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ci/github-dispatch-AbCdEf"
    config["ai-estate:mlops"]["deployDispatch"]["tokenSecretArn"] = arn
    inventory = render_config(STACK, config)
    connection = one(inventory, CONNECTION)
    value = connection.inputs["authParameters"]["apiKey"]["value"]
    assert value != PLACEHOLDER_TOKEN
    assert value.startswith("Bearer ")
    assert connection.ignore_changes == []


def _invoke_role(inventory) -> tuple[Principal, dict]:
    role = one(inventory, "aws:iam/role:Role", "deploy-dispatch-invoke-role")
    [policy] = [
        p
        for p in of(inventory, "aws:iam/rolePolicy:RolePolicy")
        if p.property_dependencies.get("role") == [role.urn]
    ]
    [boundary] = [
        b
        for b in of(inventory, "aws:iam/policy:Policy")
        if b.inputs["name"] == "fraud-prod-boundary"
    ]
    assert role.inputs["permissionsBoundary"] == _arn_of(inventory, boundary)
    principal = Principal(
        _arn_of(inventory, role),
        identity_policies=(json.loads(policy.inputs["policy"]),),
        permissions_boundary=json.loads(boundary.inputs["policy"]),
    )
    return principal, json.loads(role.inputs["assumeRolePolicy"])


def test_the_invoke_role_can_only_invoke_its_own_destination(inventory, rendered):
    role, trust = _invoke_role(inventory)
    destination = _arn_of(inventory, one(inventory, DESTINATION))
    assert evaluate(Request(role, "events:InvokeApiDestination", destination)).allowed
    account, region = destination.split(":")[4], destination.split(":")[3]
    others = [
        # another destination of the same BU, one of another BU, one named like ours elsewhere
        f"arn:aws:events:{region}:{account}:api-destination/fraud-prod-other/1234",
        f"arn:aws:events:{region}:{account}:api-destination/marketing-dev-deploy-dispatch/1",
        f"arn:aws:events:{region}:999999999999:api-destination/fraud-prod-deploy-dispatch/1",
    ]
    for other in others:
        assert not evaluate(Request(role, "events:InvokeApiDestination", other)).allowed, other
    dlq = _arn_of(inventory, one(inventory, "aws:sqs/queue:Queue", "deploy-dispatch-dlq"))
    bucket = "arn:aws:s3:::" + rendered(STACK).outputs["modelRegistry"]["artifactBucketName"]
    for action, resource in [
        ("events:PutEvents", f"arn:aws:events:{region}:{account}:event-bus/default"),
        ("sqs:SendMessage", dlq),
        ("s3:GetObject", f"{bucket}/models/card-fraud/3/model.tar.gz"),
        (
            "sagemaker:UpdateModelPackage",
            f"arn:aws:sagemaker:{region}:{account}:model-package/fraud-prod-card-fraud/3",
        ),
        ("iam:PassRole", role.arn),
    ]:
        assert not evaluate(Request(role, action, resource)).allowed, action
    # only EventBridge, for this account, may assume it
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}


def test_the_archive_keeps_every_model_package_event_of_the_bu_and_no_other(inventory, rendered):
    archive = one(inventory, ARCHIVE)
    pattern = EventPattern.load(archive.inputs["eventPattern"])
    for family, status in itertools.product(FAMILIES, STATUSES):
        assert pattern.matches_event(package_event(f"fraud-prod-{family}", status)), (
            family,
            status,
        )
    for group in ["marketing-dev-propensity", "fraud-dev-card-fraud", "fraudprod-card-fraud"]:
        for status in STATUSES:
            assert not pattern.matches_event(package_event(group, status)), group
    key = rendered(STACK).outputs["kmsKeyArn"]
    assert archive.inputs["kmsKeyIdentifier"] == key
    assert archive.inputs["eventSourceArn"].endswith(":event-bus/default")
    assert archive.inputs["retentionDays"] >= 365


def test_eventbridge_may_use_the_bu_key_for_the_archive_and_the_dlq_only_as_documented(inventory):
    [alias] = [
        a
        for a in of(inventory, "aws:kms/alias:Alias")
        if a.inputs["name"] == "alias/ai-estate/fraud-prod"
    ]
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if k.parent == alias.parent]
    policy = json.loads(key.inputs["policy"])
    key_arn = inventory.outputs["kmsKeyArn"]
    account, region = key_arn.split(":")[4], key_arn.split(":")[3]
    bus = f"arn:aws:events:{region}:{account}:event-bus/default"
    events = Principal(arn="events.amazonaws.com", kind="service")

    def may(action: str, context: dict[str, str]) -> bool:
        return evaluate(Request(events, action, key_arn, context, policy)).allowed

    archive_context = {"kms:EncryptionContext:aws:events:event-bus:arn": bus}
    for action in ("kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncryptFrom"):
        assert may(action, archive_context), action
    assert may("kms:DescribeKey", {"aws:SourceAccount": account})
    # another bus's context, or another account, is refused
    assert not may(
        "kms:ReEncryptFrom", {"kms:EncryptionContext:aws:events:event-bus:arn": bus + "x"}
    )
    assert not may("kms:DescribeKey", {"aws:SourceAccount": "999999999999"})
    dlq = one(inventory, "aws:sqs/queue:Queue", "deploy-dispatch-dlq")
    assert dlq.inputs["kmsMasterKeyId"] == key_arn


def test_shipped_stacks_pass_the_archive_cmk_rule(rendered):
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "policies"))
    sys.path.insert(0, str(ROOT / "tests" / "policies"))
    from policy_harness import check

    for stack in ("fraud-prod", "marketing-dev"):
        assert (
            check("mlops-queue-and-archive-cmk", rendered(stack), environment=stack.split("-")[1])
            == []
        )
        assert of(rendered(stack), ARCHIVE), stack
