"""Access: the customer-managed KMS keys that encrypt each BU's (and the platform's) data.

Persona roles, permission boundaries, EKS access entries and namespaces join this module with
the access issue; the key comes first because every store is encrypted with it.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .options import child, stateful


def key_policy_document(
    *,
    partition: str,
    account_id: str,
    region: str,
    log_group_prefixes: list[str],
    service_principals: list[str],
    ebs_for_autoscaling: bool = False,
) -> str:
    """The key policy: the account administers it (so IAM policies apply), services may use it.

    CloudWatch Logs must be named in the key policy itself (it does not go through IAM), and is
    held to log groups under `log_group_prefixes` by the encryption context. Other services
    (DynamoDB, SageMaker, S3) use the key on a caller's behalf through IAM, so they need no
    statement here.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if log_group_prefixes:
        statements.append(
            {
                "Sid": "CloudWatchLogsUseKey",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            f"arn:{partition}:logs:{region}:{account_id}:log-group:{prefix}*"
                            for prefix in log_group_prefixes
                        ]
                    }
                },
            }
        )
    if ebs_for_autoscaling:
        # EC2 Auto Scaling launches nodes with EBS volumes encrypted by this key on the caller's
        # behalf, through its service-linked role, which IAM policies cannot grant: only the key
        # policy can (AWS: "Required KMS key policy for use with encrypted volumes").
        asg_role = (
            f"arn:{partition}:iam::{account_id}:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        )
        statements.append(
            {
                "Sid": "AutoScalingUseKeyForEbs",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
            }
        )
        statements.append(
            {
                "Sid": "AutoScalingGrantsForEbs",
                "Effect": "Allow",
                "Principal": {"AWS": asg_role},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    for service in service_principals:
        statements.append(
            {
                "Sid": f"{service.split('.')[0].title()}UseKey",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class KmsKeyArgs(TypedDict):
    """Inputs of `KmsKey`."""

    alias: str
    """Alias without the `alias/` prefix, e.g. `ai-estate/fraud-prod`."""
    description: str
    tags: dict[str, str]
    protect: bool
    """Protect and retain the key (prod): losing a key loses every object encrypted with it."""
    log_group_prefixes: NotRequired[list[str]]
    """Let CloudWatch Logs encrypt log groups whose names start with one of these prefixes."""
    service_principals: NotRequired[list[str]]
    """Service principals that write encrypted data on their own (e.g. `sns.amazonaws.com`)."""
    ebs_for_autoscaling: NotRequired[bool]
    """Let EC2 Auto Scaling encrypt node volumes with this key (GPU and system node groups)."""
    deletion_window_days: NotRequired[int]
    """Waiting period before a scheduled deletion takes effect (default 30, the maximum)."""


class KmsKey(pulumi.ComponentResource):
    """A customer-managed symmetric KMS key with yearly rotation and an alias."""

    key: aws.kms.Key
    arn: pulumi.Output[str]
    """The key ARN (use it wherever a `kms_key_id`/`kms_key_arn` is asked for)."""
    alias_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: KmsKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:access:KmsKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)
        policy = pulumi.Output.all(partition.partition, identity.account_id, region.region).apply(
            lambda parts: key_policy_document(
                partition=parts[0],
                account_id=parts[1],
                region=parts[2],
                log_group_prefixes=list(args.get("log_group_prefixes", [])),
                service_principals=list(args.get("service_principals", [])),
                ebs_for_autoscaling=args.get("ebs_for_autoscaling", False),
            )
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args["description"],
            enable_key_rotation=True,
            deletion_window_in_days=args.get("deletion_window_days", 30),
            policy=policy,
            tags=args["tags"],
            opts=stateful(self, args["protect"]),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args['alias']}",
            target_key_id=self.key.key_id,
            opts=child(self),
        )
        self.arn = self.key.arn
        self.alias_name = alias.name
        self.register_outputs({"arn": self.arn, "aliasName": self.alias_name})
