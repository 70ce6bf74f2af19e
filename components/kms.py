"""KMS: the customer-managed keys that encrypt the estate's data, and their key policies.

- `KmsKey`: a symmetric key with yearly rotation and an alias: one per BU (`BuEstate`) and one
  for the platform. Its policy names, as configured: the services that use it on their own, key
  administrators (who never use it for data), key users, accounts that read through S3 (the
  deploy accounts that fetch model artifacts), and a deny of every *other* BU's roles.
- `key_policy_document`: the policy, as a pure function (tested without the Pulumi runtime).

The patterns are AWS's ("Key policies in AWS KMS", "Default key policy"): the account root keeps
`kms:*` so IAM policies apply and the key can never be locked; key administrators get the
administration actions without `kms:Decrypt`/`kms:Encrypt` (and without `kms:CreateGrant` and
`kms:PutKeyPolicy`, which would let them grant themselves data use); other accounts use the key
through a service only ("Allowing users in other accounts to use a KMS key", with
`kms:ViaService` and `kms:CallerAccount`).

The type token stays `ai-estate:access:KmsKey` (the key was declared in components/access.py
before this module existed; a new token would change every key's URN).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .access import BuScope, validate_business_unit
from .iam import account_root_arn, aws_context, service_endpoints
from .options import child, stateful

KEY_USER_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:Disable*",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Get*",
    "kms:List*",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)
"""AWS's key-administrator set ("Allows key administrators to administer the KMS key") without
what would be data use or a way to it: no Decrypt/Encrypt, no CreateGrant (a grant is data use),
no PutKeyPolicy (it could grant itself Decrypt; the policy is the stack's), no alias changes."""
KEY_USER_SERVICES = ("s3", "dynamodb", "sagemaker", "ecr")
"""Services through which named key users may use the key (`kms:ViaService`)."""
CROSS_ACCOUNT_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
"""What another account needs to read SSE-KMS objects: S3 calls Decrypt on the caller's
behalf for GetObject; DescribeKey lets its tooling resolve the key."""


def key_policy_document(
    *,
    partition: str,
    account_id: str,
    region: str,
    log_group_prefixes: list[str],
    service_principals: list[str],
    ebs_for_autoscaling: bool = False,
    user_principals: Sequence[str] = (),
    admin_principals: Sequence[str] = (),
    s3_reader_accounts: Sequence[str] = (),
    isolated_business_unit: tuple[str, str] | None = None,
    cloudtrail_trails: Sequence[str] = (),
    event_archives: bool = False,
) -> str:
    """The key policy: the account administers it (so IAM policies apply), services may use it.

    CloudWatch Logs must be named in the key policy itself (it does not go through IAM), and is
    held to log groups under `log_group_prefixes` by the encryption context. Other services
    (DynamoDB, SageMaker, S3) use the key on a caller's behalf through IAM, so they need no
    statement here.

    `user_principals` may use the key for data through S3, DynamoDB, SageMaker and ECR;
    `admin_principals` may administer it but not use it. Both must exist before the key (KMS
    refuses a policy naming an unknown principal), so they suit deploy accounts and platform
    roles, not the BU's own roles, whose policies need the key's ARN first.

    `s3_reader_accounts` (other accounts' ids, e.g. the registry's deploy accounts) may decrypt
    through S3 only: the bucket policy lets them read objects, and this is the half of that
    read only the key policy can give. Their own IAM must allow it too (cross-account).

    With `isolated_business_unit=(bu, env)`, every AI Estate role of another BU is denied the key
    outright. Why a deny, and why the root statement stays: without `AccountAdministersKey` no
    IAM policy could ever manage or use the key (a key policy that loses it can lock the key for
    good), but with it *any* principal whose IAM allows `kms:*` could use the key. For the BUs'
    roles that gap is closed twice: their permission boundary explicitly denies KMS on every key
    but their own, and this statement denies them here even if a boundary were detached.
    Platform principals stay governed by IAM: they are administrators by design.

    Why the deny names other BUs' roles, and not "everyone outside the BU" as the data buckets'
    deny does: the key is also used, on the caller's behalf, by whoever builds what it encrypts
    (the deployer creating DynamoDB tables, ECR repositories and grants; Karpenter launching
    encrypted volumes through EC2; EC2 Auto Scaling), and `aws:PrincipalArn` cannot tell those
    calls from data reads. The buckets' deny keeps everyone else out of the S3 data; this one
    keeps every other BU out of everything the key protects, S3 or not.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": account_root_arn(partition, account_id)},
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
                # Only the operations that carry an encryption context: DescribeKey carries
                # none, so the condition below could never let Logs call it anyway. The context
                # value is a string, hence StringLike (same match as ArnLike for these
                # patterns, whose wildcard is in the resource part only).
                "Action": [
                    "kms:Decrypt",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {
                    "StringLike": {
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
    if cloudtrail_trails:
        # CloudTrail encrypts log files with the key itself (AWS: "Configure AWS KMS key
        # policies for CloudTrail"): only these trails, and only with their own context.
        trail_context = f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"
        statements.append(
            {
                "Sid": "CloudTrailEncryptLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": sorted(cloudtrail_trails)},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                },
            }
        )
        statements.append(
            {
                "Sid": "CloudTrailDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": sorted(cloudtrail_trails)}},
            }
        )
    if event_archives:
        # EventBridge archives of this account's default bus encrypt with the key itself (AWS:
        # "Encrypting EventBridge archives with AWS KMS keys"): DescribeKey to validate it, the
        # data operations only under the bus's encryption context.
        bus = f"arn:{partition}:events:{region}:{account_id}:event-bus/default"
        statements.append(
            {
                "Sid": "EventBridgeArchivesDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        )
        statements.append(
            {
                "Sid": "EventBridgeArchivesUseKey",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": bus}
                },
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
    if user_principals:
        statements.append(
            {
                "Sid": "KeyUsers",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(user_principals))},
                "Action": list(KEY_USER_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": service_endpoints(region, *KEY_USER_SERVICES)
                    }
                },
            }
        )
    if admin_principals:
        statements.append(
            {
                "Sid": "KeyAdministrators",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(admin_principals))},
                "Action": list(KEY_ADMIN_ACTIONS),
                "Resource": "*",
            }
        )
    readers = sorted(set(s3_reader_accounts) - {account_id})
    if readers:
        statements.append(
            {
                "Sid": "OtherAccountsDecryptViaS3",
                "Effect": "Allow",
                "Principal": {"AWS": [account_root_arn(partition, a) for a in readers]},
                "Action": list(CROSS_ACCOUNT_READ_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": readers,
                        "kms:ViaService": service_endpoints(region, "s3"),
                    }
                },
            }
        )
    if isolated_business_unit is not None:
        bu, env = isolated_business_unit
        scope = BuScope(bu, env, account_id, region, partition)
        statements.append(
            {
                "Sid": "DenyOtherBusinessUnitRoles",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:*",
                "Resource": "*",
                # Keyed on the caller's role ARN, as the data buckets' deny is: the BU's roles (its
                # IAM path and name prefix) and the GPU node roles pass; AWS services acting as
                # themselves are never estate roles, and the Bool keeps that explicit.
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": scope.estate_role_arn_pattern},
                    "ArnNotLike": {
                        "aws:PrincipalArn": [scope.role_arn_pattern, scope.node_role_arn_pattern]
                    },
                    "Bool": {"aws:PrincipalIsAWSService": "false"},
                },
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
    user_principals: NotRequired[list[pulumi.Input[str]]]
    """ARNs (or bare account ids) that may use the key for data through S3, DynamoDB, SageMaker or
    ECR, e.g. the deploy accounts that read model artifacts. They must exist before the key."""
    admin_principals: NotRequired[list[pulumi.Input[str]]]
    """ARNs that may administer the key (rotation, tags, enable, disable, schedule deletion) but
    never use it for data. They must exist before the key."""
    s3_reader_accounts: NotRequired[list[str]]
    """Other accounts (12-digit ids) that may decrypt through S3, e.g. the deploy accounts that
    read model artifacts (the bucket policy must let them read the objects too)."""
    isolated_business_unit: NotRequired[tuple[str, str]]
    """`(business unit, environment)`: deny every other BU's AI Estate roles any use of the key."""
    cloudtrail_trails: NotRequired[list[str]]
    """Names of this account's trails (in the key's region) that encrypt their log files with
    the key."""
    event_archives: NotRequired[bool]
    """Let EventBridge archives of the account's default bus encrypt with the key."""
    region: NotRequired[str]
    """Create the key in this region instead of the provider's (a DR copy's key: KMS keys never
    leave their region)."""


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
        users = list(args.get("user_principals") or [])
        admins = list(args.get("admin_principals") or [])
        readers = list(args.get("s3_reader_accounts") or [])
        isolated = args.get("isolated_business_unit")
        if isolated is not None:
            validate_business_unit(*isolated)
        region = args.get("region")
        policy = pulumi.Output.all(aws_context(self), *users, *admins).apply(
            lambda parts: key_policy_document(
                partition=parts[0].partition,
                account_id=parts[0].account_id,
                region=region or parts[0].region,
                log_group_prefixes=list(args.get("log_group_prefixes", [])),
                service_principals=list(args.get("service_principals", [])),
                ebs_for_autoscaling=args.get("ebs_for_autoscaling", False),
                user_principals=parts[1 : 1 + len(users)],
                admin_principals=parts[1 + len(users) :],
                s3_reader_accounts=readers,
                isolated_business_unit=isolated,
                cloudtrail_trails=[
                    f"arn:{parts[0].partition}:cloudtrail:{region or parts[0].region}:"
                    f"{parts[0].account_id}:trail/{t}"
                    for t in args.get("cloudtrail_trails", [])
                ],
                event_archives=args.get("event_archives", False),
            )
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args["description"],
            enable_key_rotation=True,
            deletion_window_in_days=args.get("deletion_window_days", 30),
            policy=policy,
            region=region,
            tags=args["tags"],
            opts=stateful(self, args["protect"]),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args['alias']}",
            target_key_id=self.key.key_id,
            region=region,
            opts=child(self),
        )
        self.arn = self.key.arn
        self.alias_name = alias.name
        self.register_outputs({"arn": self.arn, "aliasName": self.alias_name})
