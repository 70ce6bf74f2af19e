"""No AWS-managed administrator policies attached by a program.

`AdministratorAccess` (everything), `PowerUserAccess` (everything but IAM and Organizations) and
`IAMFullAccess` (which can grant itself everything) make a permission boundary the only wall
between a role and every BU's data, and hide the grant inside an ARN that reviews skim over.
BUs share an AWS account per environment, so a BU role holding one of them reaches every other
BU. The estate never needs them: people get administration through IAM Identity Center
permission sets, managed outside any stack, and workloads get scoped policies.

Every way a program attaches a managed policy is judged: `aws.iam.RolePolicyAttachment`,
`UserPolicyAttachment`, `GroupPolicyAttachment`, `PolicyAttachment` (`policyArn`), a role's
`managedPolicyArns`, and the `*PolicyAttachmentsExclusive` resources (`policyArns`). The ARN is
matched in every partition (`arn:aws:`, `arn:aws-cn:`, `arn:aws-us-gov:`). The refused names are
a setting, so an organisation can add its own (`ReadOnlyAccess` stays allowed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, ENVIRONMENTS, Rule, Setting, Settings, checkov, cis
from .properties import as_list, text

DEFAULT_REFUSED = ["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"]

POLICY_ARN_PROPERTY = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/role:Role": "managedPolicyArns",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
}
"""Where each type names the managed policies it attaches."""

_AWS_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.+/)?(?P<name>[^/]+)$")


def refused_policies(arns: Iterable[object], refused: Iterable[str]) -> list[str]:
    """The AWS-managed policy ARNs among `arns` whose name is refused."""
    names = {str(n) for n in refused}
    found = []
    for arn in arns:
        match = _AWS_MANAGED.match(text(arn))
        if match and match.group("name") in names:
            found.append(text(arn))
    return found


def validate_no_admin_policy(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    prop = POLICY_ARN_PROPERTY[args.resource_type]
    for arn in refused_policies(as_list(args.props.get(prop)), settings["refusedPolicies"]):
        report(
            f"'{args.name}' attaches the AWS-managed {arn.rsplit('/', 1)[-1]} policy ({arn}); "
            "grant the actions the role needs on the resources it owns instead.",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="iam-no-admin-managed-policy",
        title="No administrator managed policies attached",
        description=(
            "No role, group, user or policy attachment attaches AdministratorAccess, "
            "PowerUserAccess or IAMFullAccess (or another refused AWS-managed policy)."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Remove the attachment; give the role a policy naming the BU's resources "
            "(components.access.BuScope). People administer through IAM Identity Center "
            "permission sets, which no stack attaches."
        ),
        kind="resource",
        validate=validate_no_admin_policy,
        resource_types=frozenset(POLICY_ARN_PROPERTY),
        frameworks=(cis("1.16"), checkov("CKV_AWS_274")),
        settings=(
            Setting(
                name="refusedPolicies",
                description="Names of AWS-managed policies no program may attach.",
                schema={"type": "array", "items": {"type": "string", "minLength": 1}},
                defaults={env: list(DEFAULT_REFUSED) for env in ENVIRONMENTS},
            ),
        ),
        domain="identity",
        rationale=(
            "A permission boundary caps these policies, but then the boundary is the only wall "
            "between BUs in a shared account; IAMFullAccess can also rewrite the boundary's "
            "attachment on other roles."
        ),
    ),
)
