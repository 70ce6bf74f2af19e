"""A hand-written, well-configured BU program passes every rule of the new families.

What a platform team writes by hand without the estate's components: a queue and a topic with
resource policies, a key with its own policy, a GitHub Actions deploy role, account guardrails,
a database, a file system, a Glue job, an internal LoadBalancer Service and a GPU instance. It must
produce no violation of any rule in these modules, in dev and in prod.
"""

from __future__ import annotations

import json

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from governance import (
    eks_support,
    exposure,
    federation,
    guardrails,
    privilege,
    resource_policies,
    services,
)
from policy_harness import check, render_program
from policy_programs import KEY_ARN

ACCOUNT = "123456789012"
ORG = "o-a1b2c3d4e5"
GITHUB = "token.actions.githubusercontent.com"
RULES = [
    r
    for module in (resource_policies, federation, privilege, guardrails, services, exposure)
    for r in module.RULES
] + list(eks_support.RULES)


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def program() -> None:
    queue = aws.sqs.Queue("requests", kms_master_key_id=KEY_ARN)
    aws.sqs.QueuePolicy(
        "requests-policy",
        queue_url=queue.url,
        policy=_doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:requests",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
            }
        ),
    )
    topic = aws.sns.Topic("alarms", kms_master_key_id=KEY_ARN)
    aws.sns.TopicPolicy(
        "alarms-policy",
        arn=topic.arn,
        policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ),
    )
    key = aws.kms.Key("data", enable_key_rotation=True)
    aws.kms.KeyPolicy(
        "data-policy",
        key_id=key.id,
        policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ),
    )
    deploy = aws.iam.Role(
        "deploy",
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB}:aud": "sts.amazonaws.com",
                        f"{GITHUB}:sub": "repo:acme/fraud-models:environment:prod",
                    }
                },
            }
        ),
    )
    aws.iam.RolePolicyAttachment(
        "deploy-read", role=deploy.name, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    aws.s3.AccountPublicAccessBlock(
        "account",
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketVersioning(
        "imported-versioning",
        bucket="fraud-prod-features-1a2b3c",
        versioning_configuration={"status": "Enabled"},
    )
    aws.ebs.EncryptionByDefault("ebs-default", enabled=True)
    aws.ec2.DefaultSecurityGroup("default", vpc_id="vpc-0a1b2c3d")
    aws.rds.Instance(
        "features-db",
        engine="postgres",
        instance_class="db.t4g.medium",
        allocated_storage=20,
        username="app",
        manage_master_user_password=True,
        storage_encrypted=True,
        kms_key_id=KEY_ARN,
        backup_retention_period=7,
    )
    aws.efs.FileSystem("models", encrypted=True, kms_key_id=KEY_ARN)
    aws.glue.Job(
        "etl",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-glue",
        command=aws.glue.JobCommandArgs(script_location="s3://fraud-prod-code/etl.py"),
        security_configuration="fraud-prod-glue-kms",
    )
    k8s.core.v1.Service(
        "scorer",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            namespace="fraud",
            annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
        ),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="LoadBalancer",
            selector={"app": "scorer"},
            ports=[k8s.core.v1.ServicePortArgs(port=443, target_port=8443)],
        ),
    )
    aws.ec2.Instance(
        "gpu-box",
        ami="ami-0123456789abcdef0",
        instance_type="g5.xlarge",
        associate_public_ip_address=False,
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_a_well_configured_program_has_no_finding(environment: str):
    inventory = render_program(program, environment=environment)
    found = {r.id: check(r.id, inventory) for r in RULES}
    assert {k: v for k, v in found.items() if v} == {}
    assert len(RULES) == 15
