"""The IAM toolkit every component builds its policies with (pulumi-eks `servicerole.ts`).

- Statements and documents: `allow`, `deny`, `policy_json` (stable diffs), `minified_policy_json`
  (IAM counts characters against per-role and per-policy limits).
- Trust policies: one AWS service (`service_trust_policy`), EKS Pod Identity
  (`pod_identity_trust_policy`, `pod_identity_trust_document` held to one service account),
  and the federation statements a persona's trust is made of (SAML, OIDC, account roots).
- ARNs: `managed_policy_arn`, `account_root_arn`, `role_arn`, `AwsContext.arn`.
- Account, region and partition of the provider: `aws_context(parent)` (one Output) or
  `account_region_partition(parent)` (three), so no component spells the three invokes again.

Pure functions return JSON strings or statement dicts: tested without the Pulumi runtime.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

POLICY_VERSION = "2012-10-17"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"

Statement = dict[str, Any]


# -- statements and documents ---------------------------------------------------------------


def allow(
    sid: str,
    actions: Sequence[str],
    resources: str | Sequence[str],
    condition: Mapping[str, Any] | None = None,
) -> Statement:
    """An identity-policy Allow; actions sorted and deduplicated (stable diffs)."""
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def deny(
    sid: str,
    actions: Sequence[str],
    resources: str | Sequence[str] = "*",
    condition: Mapping[str, Any] | None = None,
) -> Statement:
    """An identity-policy Deny (default: on every resource)."""
    statement = allow(sid, actions, resources, condition)
    statement["Effect"] = "Deny"
    return statement


def policy_json(statements: Sequence[Mapping[str, Any]]) -> str:
    """A policy document, rendered the same way every time (stable diffs)."""
    return json.dumps({"Version": POLICY_VERSION, "Statement": list(statements)}, sort_keys=True)


def minified_policy_json(statements: Sequence[Mapping[str, Any]]) -> str:
    """`policy_json` without whitespace: IAM counts characters against its size limits."""
    return json.dumps(
        {"Version": POLICY_VERSION, "Statement": list(statements)},
        sort_keys=True,
        separators=(",", ":"),
    )


def policy_size(document: str) -> int:
    """The size IAM measures: the document without whitespace."""
    return len(json.dumps(json.loads(document), separators=(",", ":")))


# -- ARNs -----------------------------------------------------------------------------------


def managed_policy_arn(partition: str, name: str) -> str:
    """The ARN of an AWS managed IAM policy (`arn:aws:iam::aws:policy/<name>`)."""
    return f"arn:{partition}:iam::aws:policy/{name}"


def managed_policy_arn_output(partition: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    """`managed_policy_arn` for a partition that is an Output (an invoke's result)."""
    return pulumi.Output.from_input(partition).apply(lambda p: managed_policy_arn(p, name))


def account_root_arn(partition: str, account_id: str) -> str:
    """`arn:aws:iam::<account>:root`: the account as a principal (its IAM decides who)."""
    return f"arn:{partition}:iam::{account_id}:root"


def role_arn(partition: str, account_id: str, path_and_name: str) -> str:
    """`arn:aws:iam::<account>:role<path_and_name>`; `path_and_name` starts with `/`."""
    return f"arn:{partition}:iam::{account_id}:role{path_and_name}"


def service_endpoints(region: str, *services: str) -> list[str]:
    """`kms:ViaService` values: the regional endpoints (`s3.us-east-1.amazonaws.com`)."""
    return [f"{s}.{region}.amazonaws.com" for s in services]


@dataclass(frozen=True)
class AwsContext:
    """The provider's account, region and partition, resolved."""

    account_id: str
    region: str
    partition: str

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    @property
    def account_root_arn(self) -> str:
        return account_root_arn(self.partition, self.account_id)

    def role_arn(self, path_and_name: str) -> str:
        return role_arn(self.partition, self.account_id, path_and_name)

    def managed_policy_arn(self, name: str) -> str:
        return managed_policy_arn(self.partition, name)


def account_region_partition(
    parent: pulumi.Resource,
) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
    """The caller's account, the provider's region and partition, as invokes under `parent`."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    return (
        aws.get_caller_identity_output(opts=invoke).account_id,
        aws.get_region_output(opts=invoke).region,
        aws.get_partition_output(opts=invoke).partition,
    )


def aws_context(parent: pulumi.Resource) -> pulumi.Output[AwsContext]:
    """`account_region_partition` as one Output of `AwsContext`."""
    account, region, partition = account_region_partition(parent)
    return pulumi.Output.all(account, region, partition).apply(lambda p: AwsContext(*p))


def partition_of(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The provider's partition (`aws`, `aws-cn`, `aws-us-gov`)."""
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition


# -- trust policies -------------------------------------------------------------------------


def service_trust_policy(service: str, account_id: str | None = None) -> str:
    """A trust policy for one AWS service principal, held to this account when given
    (`aws:SourceAccount`: the confused-deputy guard AWS recommends for service roles)."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps({"Version": POLICY_VERSION, "Statement": [statement]}, sort_keys=True)


def pod_identity_trust_policy() -> str:
    """Trust for EKS Pod Identity: the agent assumes the role and tags the session with the
    cluster, namespace and service account (so policies can key on them). Not held to one
    service account: the association decides (use `pod_identity_trust_document` to hold it)."""
    return minified_policy_json(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ]
    )


def pod_identity_trust_document(
    *, account_id: str, cluster_name: str, namespace: str, service_account: str
) -> str:
    """Trust for EKS Pod Identity, held to one service account of one namespace and cluster.

    The `aws:RequestTag/*` keys are the session tags Pod Identity sets (AWS: "Create IAM role with
    trust policy required by EKS Pod Identity"); without them any Pod Identity association in
    the account could hand this role to any pod.
    """
    return policy_json(
        [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": account_id,
                        "aws:RequestTag/eks-cluster-name": cluster_name,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    }
                },
            }
        ]
    )


def saml_trust_statement(provider_arn: str, audience: str) -> Statement:
    """Federation through an IAM SAML provider; the assertion must carry `SAML:aud`."""
    return {
        "Sid": "SamlFederation",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": audience}},
    }


def oidc_trust_statement(
    provider_arn: str, host: str, audience: str, subjects: Sequence[str]
) -> Statement:
    """Web-identity federation through an IAM OIDC provider, held to an audience and subjects."""
    return {
        "Sid": "OidcFederation",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{host}:aud": audience},
            "StringLike": {f"{host}:sub": sorted(subjects)},
        },
    }


def account_roles_trust_statement(
    sid: str,
    partition: str,
    account_id: str,
    *,
    arn_like: Sequence[str] = (),
    arn_equals: Sequence[str] = (),
) -> Statement:
    """An account root as principal, held to named roles by `aws:PrincipalArn`.

    A role ARN as Principal would be pinned to the role's unique id (and break when the role is
    re-created, as Identity Center does when it re-provisions a permission set); the root plus
    the condition names the same roles by ARN.
    """
    operator, arns = ("ArnLike", arn_like) if arn_like else ("ArnEquals", arn_equals)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": account_root_arn(partition, account_id)},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "Condition": {operator: {"aws:PrincipalArn": sorted(arns)}},
    }
