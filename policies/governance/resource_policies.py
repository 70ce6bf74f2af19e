"""Resource policies of queues, topics, keys, secrets and registries admit no one anonymously.

S3 bucket policies are judged by `s3-no-public-grants` (storage.py), model package group and ECR
repository policies by `registry-policy-no-public-principal` (registry.py). This module applies
the same condition-aware analysis to every other resource policy a program can declare: SQS
queue policies (`aws.sqs.QueuePolicy`, or `policy` on the queue), SNS topic policies
(`aws.sns.TopicPolicy`, or `policy` on the topic), KMS key policies (`policy` on the key, or
`aws.kms.KeyPolicy`), the ECR registry policy and Secrets Manager secret policies.

An Allow statement with `Principal: "*"` (or `{"AWS": "*"}`) is public unless its Condition
restricts *who* (`properties.condition_restricts_who`: the principal, its account or
organisation, the source ARN or account, the source VPC or VPC endpoint, `kms:CallerAccount`)
with values that pin a concrete caller (`properties.value_pins_who`: a 12-digit account, an
`o-…` organisation, an ARN naming its account, a `vpc-`/`vpce-` id); a wildcard value such as
`ArnLike aws:SourceArn "arn:aws:*:*:*:*"` or `StringLike aws:PrincipalOrgID "*"` restricts
nobody.
`aws:SecureTransport`, `aws:CurrentTime` or `aws:SourceIp` alone restrict how or from where,
not who: such a statement still admits every AWS account in the world. `NotPrincipal` with Allow
admits everyone but a few. A service principal (`{"Service": "events.amazonaws.com"}`) is not
public; holding it to `aws:SourceArn` is good practice the rule does not demand.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, Rule, Settings, checkov, securityhub
from .properties import json_document, text
from .registry import public_statement_problems

SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ECR_REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"

POLICY_PROPERTY: Mapping[str, str] = {
    SQS_QUEUE: "policy",
    SQS_QUEUE_POLICY: "policy",
    SNS_TOPIC: "policy",
    SNS_TOPIC_POLICY: "policy",
    KMS_KEY: "policy",
    KMS_KEY_POLICY: "policy",
    ECR_REGISTRY_POLICY: "policy",
    SECRET_POLICY: "policy",
}
"""Where each resource type keeps its resource policy document."""

KIND: Mapping[str, str] = {
    SQS_QUEUE: "SQS queue",
    SQS_QUEUE_POLICY: "SQS queue policy",
    SNS_TOPIC: "SNS topic",
    SNS_TOPIC_POLICY: "SNS topic policy",
    KMS_KEY: "KMS key",
    KMS_KEY_POLICY: "KMS key policy",
    ECR_REGISTRY_POLICY: "ECR registry policy",
    SECRET_POLICY: "Secrets Manager secret policy",
}


def validate_no_public_resource_policy(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    prop = POLICY_PROPERTY[args.resource_type]
    raw = args.props.get(prop)
    kind = KIND[args.resource_type]
    document = json_document(raw)
    if document is None:
        # Absent: the service's default policy (owner account only). Present but not JSON: the
        # provider would refuse it, but it cannot be shown to be private either.
        if text(raw):
            report(f"{kind} '{args.name}' has a {prop} that is not a JSON policy document.", None)
        return
    for problem in public_statement_problems(document):
        report(f"{kind} '{args.name}' is open to everyone: {problem}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="resource-policy-no-public-principal",
        title="Queue, topic, key and secret policies admit no one anonymously",
        description=(
            "No SQS queue, SNS topic, KMS key, ECR registry or Secrets Manager secret policy "
            "allows Principal '*' (or uses NotPrincipal) without a condition on who may call "
            "(principal, account, organisation, source ARN or account, VPC or VPC endpoint)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Name the principals (the BU's role ARNs, an account root, a service principal such "
            "as events.amazonaws.com) or hold the Principal '*' statement to a condition on "
            "who: aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceArn, aws:SourceAccount, "
            "aws:SourceVpce or kms:CallerAccount, with concrete values (an account id, o-..., "
            "vpce-..., an ARN naming its account): aws:SecureTransport alone, or a wildcard "
            "value such as aws:SourceArn 'arn:aws:*:*:*:*', restricts no one."
        ),
        kind="resource",
        validate=validate_no_public_resource_policy,
        resource_types=frozenset(POLICY_PROPERTY),
        frameworks=(
            checkov("CKV_AWS_33"),
            checkov("CKV_AWS_168"),
            checkov("CKV_AWS_169"),
            securityhub("SQS.3"),
            securityhub("SNS.4"),
            securityhub("KMS.5"),
        ),
        domain="identity",
        rationale=(
            "Queues carry inference requests, topics carry alarms and approvals, keys decrypt "
            "every BU's data: a policy anyone can use is a breach whatever the data. A condition "
            "on transport, time or source IP admits every AWS account in the world, so only "
            "conditions on who count as a guard."
        ),
    ),
)
