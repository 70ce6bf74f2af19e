"""The IAM evaluator (estate/analysis/iam.py) against AWS's own worked examples.

Each test reproduces an example from the IAM User Guide and asserts the outcome the page states.
The policies are copied from the pages (account ids and names as there); where a page has a
typo that would change the result, the test says so.
"""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estate.analysis.iam import (
    Principal,
    Request,
    UnsupportedPolicyError,
    action_matches,
    allowed,
    arn_matches,
    condition_holds,
    evaluate,
    glob_match,
)


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


# -- "Policy evaluation logic": the Carlos example and explicit vs implicit deny -------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
# (section "Example identity-based and resource-based policy evaluation", also on
# reference_policies_evaluation-logic_policy-eval-basics.html)

CARLOS = "arn:aws:iam::123456789012:user/carlossalazar"
CARLOS_POLICY = doc(
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS_BUCKET_POLICY = doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": CARLOS},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    }
)


def carlos(*policies):
    return Principal(CARLOS, kind="user", identity_policies=policies)


def test_carlos_is_denied_the_logs_bucket_by_his_own_explicit_deny():
    decision = allowed(carlos(CARLOS_POLICY), "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/f")
    assert not decision and "DenyS3Logs" in decision.reason


def test_carlos_may_save_to_his_bucket_which_both_policies_allow():
    assert allowed(
        carlos(CARLOS_POLICY),
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar/file.txt",
        resource_policy=CARLOS_BUCKET_POLICY,
    )
    assert allowed(carlos(CARLOS_POLICY), "s3:GetBucketLocation", "arn:aws:s3:::anybucket")


def test_one_allowing_policy_type_is_enough_within_an_account():
    # "If one of the policy types allows the request and the other doesn't, the request is
    # still allowed."
    only_list = doc(CARLOS_POLICY["Statement"][0])
    assert allowed(
        carlos(only_list),
        "s3:PutObject",
        "arn:aws:s3:::carlossalazar/file.txt",
        resource_policy=CARLOS_BUCKET_POLICY,
    )
    assert allowed(carlos(CARLOS_POLICY), "s3:PutObject", "arn:aws:s3:::carlossalazar/x")
    assert not allowed(carlos(only_list), "s3:PutObject", "arn:aws:s3:::carlossalazar/x")


REPORTS_POLICY = doc(
    {
        "Sid": "AllowGetList",
        "Effect": "Allow",
        "Action": ["iam:Get*", "iam:List*"],
        "Resource": "*",
    },
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
)


def test_explicit_and_implicit_deny_example():
    admin = Principal("arn:aws:iam::123456789012:role/auditor", identity_policies=(REPORTS_POLICY,))
    assert allowed(admin, "iam:ListRoles", "*")
    implicit = allowed(admin, "iam:CreatePolicy", "*")
    assert not implicit and implicit.reason.startswith("implicit deny")
    # "If someone adds another policy ... such as iam:GenerateCredentialReport, report-related
    # requests are still denied because of this explicit deny."
    more = doc({"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"})
    admin = Principal(admin.arn, identity_policies=(REPORTS_POLICY, more))
    explicit = allowed(admin, "iam:GenerateCredentialReport", "*")
    assert not explicit and "DenyReports" in explicit.reason
    assert not allowed(admin, "iam:GetOrganizationsAccessReport", "*")


# -- "Permissions boundaries for IAM entities" ----------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

SHIRLEY_BOUNDARY = doc(
    {"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", "ec2:*"], "Resource": "*"}
)


def test_a_boundary_does_not_grant_and_caps_identity_policies():
    create_user = doc({"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"})
    shirley = Principal(
        "arn:aws:iam::111122223333:user/ShirleyRodriguez",
        kind="user",
        identity_policies=(create_user,),
        permissions_boundary=SHIRLEY_BOUNDARY,
    )
    # "If you attach this policy ... and Shirley tries to create a user, the operation fails."
    assert not allowed(shirley, "iam:CreateUser", "arn:aws:iam::111122223333:user/x")
    # The boundary alone grants nothing.
    assert not allowed(shirley, "s3:ListBucket", "arn:aws:s3:::b")
    s3 = doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
    shirley = Principal(
        shirley.arn, kind="user", identity_policies=(s3,), permissions_boundary=SHIRLEY_BOUNDARY
    )
    assert allowed(shirley, "s3:ListBucket", "arn:aws:s3:::b")


XCOMPANY_BOUNDARIES = doc(
    {
        "Sid": "ServiceBoundaries",
        "Effect": "Allow",
        "Action": ["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"],
        "Resource": "*",
    },
    {
        "Sid": "AllowIAMConsoleForCredentials",
        "Effect": "Allow",
        "Action": ["iam:ListUsers", "iam:GetAccountPasswordPolicy"],
        "Resource": "*",
    },
    {
        "Sid": "AllowManageOwnPasswordAndAccessKeys",
        "Effect": "Allow",
        "Action": [
            "iam:*AccessKey*",
            "iam:ChangePassword",
            "iam:GetUser",
            "iam:*ServiceSpecificCredential*",
            "iam:*SigningCertificate*",
        ],
        "Resource": ["arn:aws:iam::*:user/${aws:username}"],
    },
    {
        "Sid": "DenyS3Logs",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
    },
    {
        "Sid": "DenyEC2Production",
        "Effect": "Deny",
        "Action": "ec2:*",
        "Resource": "arn:aws:ec2:*:*:instance/i-1234567890abcdef0",
    },
)
DELEGATED_USER_BOUNDARY = doc(
    {
        "Sid": "CreateOrChangeOnlyWithBoundary",
        "Effect": "Allow",
        "Action": [
            "iam:CreateUser",
            "iam:DeleteUserPolicy",
            "iam:AttachUserPolicy",
            "iam:DetachUserPolicy",
            "iam:PutUserPermissionsBoundary",
        ],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/XCompanyBoundaries"
            }
        },
    },
    {
        "Sid": "CloudWatchAndOtherIAMTasks",
        "Effect": "Allow",
        "Action": [
            "cloudwatch:*",
            "iam:GetUser",
            "iam:ListUsers",
            "iam:DeleteUser",
            "iam:UpdateUser",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:GetAccountPasswordPolicy",
            "iam:GetLoginProfile",
            "iam:*Group*",
            "iam:CreatePolicy",
            "iam:DeletePolicy",
            "iam:DeletePolicyVersion",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:GetUserPolicy",
            "iam:GetRolePolicy",
            "iam:ListPolicies",
            "iam:ListPolicyVersions",
            "iam:ListEntitiesForPolicy",
            "iam:ListUserPolicies",
            "iam:ListAttachedUserPolicies",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:PutUserPolicy",
            "iam:SetDefaultPolicyVersion",
            "iam:SimulatePrincipalPolicy",
            "iam:SimulateCustomPolicy",
        ],
        "Resource": "*",
    },
    {
        "Sid": "NoBoundaryPolicyEdit",
        "Effect": "Deny",
        "Action": [
            "iam:CreatePolicyVersion",
            "iam:DeletePolicy",
            "iam:DeletePolicyVersion",
            "iam:SetDefaultPolicyVersion",
        ],
        # The page mixes 123456789012 here and 111122223333 above; kept as printed.
        "Resource": [
            "arn:aws:iam::123456789012:policy/XCompanyBoundaries",
            "arn:aws:iam::123456789012:policy/DelegatedUserBoundary",
        ],
    },
    {
        "Sid": "NoBoundaryUserDelete",
        "Effect": "Deny",
        "Action": "iam:DeleteUserPermissionsBoundary",
        "Resource": "*",
    },
)
DELEGATED_USER_PERMISSIONS = doc(
    {"Sid": "IAM", "Effect": "Allow", "Action": "iam:*", "Resource": "*"},
    {
        "Sid": "CloudWatchLimited",
        "Effect": "Allow",
        "Action": [
            "cloudwatch:GetDashboard",
            "cloudwatch:GetMetricData",
            "cloudwatch:ListDashboards",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:ListMetrics",
        ],
        "Resource": "*",
    },
    {
        "Sid": "S3BucketContents",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::ZhangBucket",
    },
)
ZHANG = Principal(
    "arn:aws:iam::123456789012:user/Zhang",
    kind="user",
    identity_policies=(DELEGATED_USER_PERMISSIONS,),
    permissions_boundary=DELEGATED_USER_BOUNDARY,
)
NIKHIL_ARN = "arn:aws:iam::123456789012:user/Nikhil"


def test_zhang_creates_users_only_with_the_company_boundary():
    user = NIKHIL_ARN
    # First attempt, boundary section skipped: "The operation fails and access is denied."
    assert not allowed(ZHANG, "iam:CreateUser", user)
    # Second attempt with XCompanyBoundaries: "The user is created."
    with_boundary = {
        "iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/XCompanyBoundaries"
    }
    assert allowed(ZHANG, "iam:CreateUser", user, context=with_boundary)


def test_zhang_effective_permissions_are_the_intersection():
    # CloudWatch: limited only by his permissions policy.
    assert allowed(ZHANG, "cloudwatch:GetDashboard", "*")
    assert not allowed(ZHANG, "cloudwatch:PutDashboard", "*")
    # S3: "his permissions boundary does not allow any Amazon S3 action".
    assert not allowed(ZHANG, "s3:ListBucket", "arn:aws:s3:::ZhangBucket")
    # He may not remove boundaries, nor edit the boundary policies.
    assert not allowed(ZHANG, "iam:DeleteUserPermissionsBoundary", NIKHIL_ARN)
    edit = allowed(
        ZHANG, "iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/XCompanyBoundaries"
    )
    assert not edit and "NoBoundaryPolicyEdit" in edit.reason


IAM_FULL_ACCESS = doc({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
S3_READ_ONLY = doc({"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"})
NIKHIL = Principal(
    NIKHIL_ARN,
    kind="user",
    identity_policies=(IAM_FULL_ACCESS, S3_READ_ONLY),
    permissions_boundary=XCOMPANY_BOUNDARIES,
)


def test_nikhil_can_change_his_own_password_but_not_create_users():
    me = {"aws:username": "Nikhil"}
    assert allowed(NIKHIL, "iam:ChangePassword", NIKHIL_ARN, context=me)
    assert not allowed(
        NIKHIL, "iam:ChangePassword", "arn:aws:iam::123456789012:user/Zhang", context=me
    )
    assert not allowed(NIKHIL, "iam:CreateUser", "arn:aws:iam::123456789012:user/x", context=me)
    assert not allowed(NIKHIL, "iam:PutUserPolicy", NIKHIL_ARN, context=me)


def test_nikhil_reads_his_buckets_but_never_the_logs_bucket():
    assert allowed(NIKHIL, "s3:GetObject", "arn:aws:s3:::nikhil-bucket/report.csv")
    assert not allowed(NIKHIL, "s3:PutObject", "arn:aws:s3:::nikhil-bucket/report.csv")
    # "even if someone grants him ownership to the logs bucket, he cannot view it"
    owner_grant = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": NIKHIL_ARN},
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::logs/*",
        }
    )
    assert not allowed(NIKHIL, "s3:GetObject", "arn:aws:s3:::logs/a", resource_policy=owner_grant)


def test_resource_policies_and_nikhils_boundary():
    instance = "arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"
    start_stop = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": NIKHIL_ARN},
            "Action": ["ec2:StartInstances", "ec2:StopInstances"],
            "Resource": instance,
        }
    )
    # "any actions on the i-1234567890abcdef0 instance are explicitly denied by his boundary"
    assert not allowed(NIKHIL, "ec2:StartInstances", instance, resource_policy=start_stop)
    # "if a resource-based policy attached to a Secrets Manager secret allows Nikhil ... he can
    # retrieve ... permissions boundaries do not limit resource-based policies"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    secret_policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": NIKHIL_ARN},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    )
    assert allowed(NIKHIL, "secretsmanager:GetSecretValue", secret, resource_policy=secret_policy)
    assert not allowed(NIKHIL, "secretsmanager:GetSecretValue", secret)


# -- resource-based policies and role principals (same page, "Resource-based policies") ------


ROLE = "arn:aws:iam::111122223333:role/examplerole"
TIGHT_BOUNDARY = doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
QUEUE = "arn:aws:sqs:us-east-1:111122223333:orders"


def queue_policy(principal_arn):
    return doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principal_arn},
            "Action": "s3:GetObject",
            "Resource": "*",
        }
    )


def test_grants_to_a_role_arn_are_capped_by_its_boundary_grants_to_its_session_are_not():
    role = Principal(
        ROLE, permissions_boundary=TIGHT_BOUNDARY, session_name="examplerolesessionname"
    )
    obj = "arn:aws:s3:::reports/q1.csv"
    # "Resource-based policies that grant permissions to an IAM role ARN are limited by an
    # implicit deny in a permissions boundary"
    assert not allowed(role, "s3:GetObject", obj, resource_policy=queue_policy(ROLE))
    # "... an IAM role session ARN ... are not limited by an implicit deny in ... a permissions
    # boundary"
    session = "arn:aws:sts::111122223333:assumed-role/examplerole/examplerolesessionname"
    assert role.session_arn == session
    assert allowed(role, "s3:GetObject", obj, resource_policy=queue_policy(session))
    # A grant to the account root only delegates to IAM: the identity policy must allow.
    assert not allowed(role, "s3:GetObject", obj, resource_policy=queue_policy("111122223333"))


# -- KMS: the key policy must allow ----------------------------------------------------------
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html ("allows the
# AWS account ... and enables IAM policies"), and "KMS key policies are exceptions" on the
# evaluation-logic page.

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
USE_KEY = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
ROOT_KEY_POLICY = doc(
    {
        "Sid": "Enable IAM policies",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)


def test_kms_needs_the_key_policy_to_allow():
    role = Principal(ROLE, identity_policies=(USE_KEY,))
    no_root = doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/admin"},
         "Action": "kms:*", "Resource": "*"}
    )  # fmt: skip
    assert not allowed(role, "kms:Decrypt", KEY, resource_policy=no_root)
    assert allowed(role, "kms:Decrypt", KEY, resource_policy=ROOT_KEY_POLICY)
    # The root statement only delegates: without an identity policy, no access.
    assert not allowed(Principal(ROLE), "kms:Decrypt", KEY, resource_policy=ROOT_KEY_POLICY)
    # A key policy naming the role grants directly, capped by the role's boundary.
    direct = doc(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    assert allowed(Principal(ROLE), "kms:Decrypt", KEY, resource_policy=direct)
    capped = Principal(ROLE, permissions_boundary=TIGHT_BOUNDARY)
    assert not allowed(capped, "kms:Decrypt", KEY, resource_policy=direct)


def test_trust_policies_gate_assume_role():
    trust = doc(
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
         "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "fraud"}}}
    )  # fmt: skip
    pods = Principal("pods.eks.amazonaws.com", kind="service")
    assert evaluate(
        Request(
            pods, "sts:AssumeRole", ROLE, {"aws:RequestTag/kubernetes-namespace": "fraud"}, trust
        )
    )
    assert not evaluate(
        Request(pods, "sts:AssumeRole", ROLE, {"aws:RequestTag/kubernetes-namespace": "mkt"}, trust)
    )
    other = Principal("ec2.amazonaws.com", kind="service")
    assert not evaluate(Request(other, "sts:AssumeRole", ROLE, {}, trust))


# -- NotAction and NotResource ---------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html


def test_notaction_with_allow_scoped_by_resource():
    policy = doc({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})
    user = Principal(ROLE, identity_policies=(policy,))
    assert allowed(user, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allowed(user, "s3:DeleteBucket", "arn:aws:s3:::b")
    # "This policy also does not allow actions in other services, because other service actions
    # are not applicable to the S3 resources."
    assert not allowed(user, "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1")


def test_notaction_deny_without_mfa():
    deny = doc(
        {
            "Sid": "DenyAllUsersNotUsingMFA",
            "Effect": "Deny",
            "NotAction": "iam:*",
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        }
    )
    everything = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    user = Principal(ROLE, identity_policies=(everything, deny))
    # Without MFA (the key is absent for long-term keys, false otherwise) non-IAM is denied.
    assert not allowed(user, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allowed(
        user, "s3:GetObject", "arn:aws:s3:::b/k", context={"aws:MultiFactorAuthPresent": False}
    )
    assert allowed(user, "iam:ChangePassword", "*")
    assert allowed(
        user, "s3:GetObject", "arn:aws:s3:::b/k", context={"aws:MultiFactorAuthPresent": True}
    )


def test_notresource_deny_hr_payroll():
    deny = doc(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
        }
    )
    # "this policy does not grant the user access to any resources"
    member = Principal(ROLE, identity_policies=(deny,))
    assert not allowed(member, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv")
    grant = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    member = Principal(ROLE, identity_policies=(grant, deny))
    assert allowed(member, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv")
    assert not allowed(member, "s3:GetObject", "arn:aws:s3:::HRBucket/Bonus/jan.csv")
    # Actions of other services are not limited by this statement.
    assert allowed(member, "s3:ListAllMyBuckets", "*") is not None


# -- condition operators ---------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html


def test_arnlike_checks_each_part_but_stringlike_spans_colons():
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    # "With a StringLike condition, the match succeeds ... With an ArnLike condition ... fails."
    assert condition_holds("StringLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})
    assert not condition_holds("ArnLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})
    assert condition_holds("ArnNotLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})


def test_string_condition_on_principal_tag():
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "iam:*AccessKey*",
            "Resource": "arn:aws:iam::account-id:user/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        }
    )
    user = Principal("arn:aws:iam::account-id:user/x", kind="user", identity_policies=(policy,))
    res = "arn:aws:iam::account-id:user/bob"
    tagged = {"aws:PrincipalTag/job-category": "iamuser-admin"}
    assert allowed(user, "iam:CreateAccessKey", res, context=tagged)
    # "If a user without the tag attempts to view or edit an access key, the condition returns
    # false and the request is implicitly denied"
    assert not allowed(user, "iam:CreateAccessKey", res)
    # String matching is case-sensitive.
    shouting = {"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"}
    assert not allowed(user, "iam:CreateAccessKey", res, context=shouting)


def test_missing_keys_fail_positive_and_satisfy_negated_operators():
    # "If the key that you specify in a policy condition is not present in the request context,
    # the values do not match and the condition is false. If the policy condition requires that
    # the key is not matched, such as StringNotLike or ArnNotLike ... the condition is true."
    assert not condition_holds("StringLike", "k", "a*", {})
    assert condition_holds("StringNotLike", "k", "a*", {})
    assert not condition_holds("ArnLike", "k", "arn:*:*:*:*:*", {})
    assert condition_holds("ArnNotLike", "k", "arn:*:*:*:*:*", {})
    assert not condition_holds("Bool", "k", "true", {})
    # Condition key names are case-insensitive.
    assert condition_holds("StringEquals", "AWS:SourceAccount", "1", {"aws:sourceaccount": "1"})


def test_null_operator_temporary_credentials_example():
    policy = doc(
        {
            "Action": "ec2:*",
            "Effect": "Allow",
            "Resource": "*",
            "Condition": {"Null": {"aws:TokenIssueTime": "true"}},
        }
    )
    user = Principal("arn:aws:iam::1:user/u", kind="user", identity_policies=(policy,))
    assert allowed(user, "ec2:DescribeInstances", "*")
    assert not allowed(
        user, "ec2:DescribeInstances", "*", context={"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}
    )


def test_ifexists_run_instances_example():
    broken = doc(
        {
            "Sid": "THISPOLICYDOESNOTWORK",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": "*",
            "Condition": {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        }
    )
    fixed = doc(
        {
            "Sid": "RunInstance",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": "*",
            "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        }
    )
    image = "arn:aws:ec2:us-east-1::image/ami-1"
    instance = "arn:aws:ec2:us-east-1:1:instance/*"
    small, big = {"ec2:InstanceType": "t2.micro"}, {"ec2:InstanceType": "p3.2xlarge"}
    for policy, image_ok in ((broken, False), (fixed, True)):
        user = Principal("arn:aws:iam::1:user/u", kind="user", identity_policies=(policy,))
        # The image carries no ec2:InstanceType key.
        assert bool(allowed(user, "ec2:RunInstances", image)) is image_ok
        assert allowed(user, "ec2:RunInstances", instance, context=small)
        assert not allowed(user, "ec2:RunInstances", instance, context=big)


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
THREAD = "arn:aws:dynamodb:REGION:ACCOUNT-ID-WITHOUT-HYPHENS:table/Thread"


def test_forallvalues_example():
    # The page writes "Action": "GetItem"; without the service prefix it would match nothing.
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": THREAD,
            "Condition": {
                "ForAllValues:StringLike": {
                    "dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]
                }
            },
        }
    )
    user = Principal("arn:aws:iam::1:user/u", kind="user", identity_policies=(policy,))

    def get(attrs):
        return allowed(
            user, "dynamodb:GetItem", THREAD, context={"dynamodb:requestedAttributes": attrs}
        )

    assert get(["PostDateTime", "Message"])
    assert not get(["PostDateTime", "UserName"])
    # "If the key values in the request resolve to an empty data set ... ForAllValues returns
    # true" (which is why ForAllValues belongs in Deny statements, not Allow ones).
    assert allowed(user, "dynamodb:GetItem", THREAD)


def test_foranyvalue_example():
    deny = doc(
        {
            "Effect": "Deny",
            "Action": "dynamodb:PutItem",
            "Resource": THREAD,
            "Condition": {
                "ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}
            },
        }
    )
    grant = doc({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": THREAD})
    user = Principal("arn:aws:iam::1:user/u", kind="user", identity_policies=(grant, deny))

    def put(attrs):
        return allowed(
            user, "dynamodb:PutItem", THREAD, context={"dynamodb:requestedAttributes": attrs}
        )

    assert not put(["UserName", "Message", "PostDateTime"])
    assert put(["UserName"])
    assert not condition_holds("ForAnyValue:StringLike", "k", ["ID"], {})


# -- wildcards and case ----------------------------------------------------------------------


def test_actions_are_case_insensitive_arns_are_not():
    # "The prefix and the action name are case insensitive. For example, iam:ListAccessKeys is
    # the same as IAM:listaccesskeys." (reference_policies_elements_action.html)
    assert action_matches("iam:ListAccessKeys", "IAM:listaccesskeys")
    assert action_matches("IAM:*AccessKey*", "iam:CreateAccessKey")
    assert action_matches("*", "anything:AtAll")
    assert not action_matches("iam:List*", "iam:GetUser")
    assert arn_matches("arn:aws:s3:::Carlos/*", "arn:aws:s3:::Carlos/x")
    assert not arn_matches("arn:aws:s3:::Carlos/*", "arn:aws:s3:::carlos/x")
    # `?` is exactly one character; `*` in the resource part spans slashes.
    assert arn_matches("arn:aws:s3:::log?/*", "arn:aws:s3:::logs/a/b")
    assert not arn_matches("arn:aws:s3:::log?/*", "arn:aws:s3:::log/a")
    # A wildcard in one ARN part never swallows the next.
    assert not arn_matches(
        "arn:aws:dynamodb:*:111122223333:table/t", "arn:aws:dynamodb:us-east-1:444455556666:table/t"
    )


def test_unmodelled_parts_are_refused_not_guessed():
    with pytest.raises(UnsupportedPolicyError):
        condition_holds("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "5"})
    not_principal = doc(
        {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}
    )
    with pytest.raises(UnsupportedPolicyError):
        allowed(Principal(ROLE), "s3:GetObject", "arn:aws:s3:::b/k", resource_policy=not_principal)


# "Cross-account policy evaluation logic": the trusting account's resource policy and the
# trusted account's identity policy must both allow; a deny on either side wins.
OTHER_ROLE = "arn:aws:iam::444455556666:role/reader"
GET_ALL = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def bucket_for(principal):
    return doc(
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"}
    )  # fmt: skip


def cross(principal, action="s3:GetObject", resource="arn:aws:s3:::b/k", policy=None, **context):
    return evaluate(
        Request(principal, action, resource, context, policy, resource_account="111122223333")
    )


def test_cross_account_needs_both_the_resource_policy_and_the_callers_identity_policy():
    reader = Principal(OTHER_ROLE, identity_policies=(GET_ALL,))
    for grantee in ("arn:aws:iam::444455556666:root", "444455556666", OTHER_ROLE):
        assert cross(reader, policy=bucket_for(grantee)), grantee
    # Only one side: refused.
    assert not cross(Principal(OTHER_ROLE), policy=bucket_for("444455556666"))
    assert not cross(reader, policy=None)
    assert not cross(reader, policy=bucket_for("arn:aws:iam::999999999999:root"))
    # Within the same account the resource policy alone would have been enough.
    same = Principal("arn:aws:iam::111122223333:role/r")
    assert evaluate(Request(same, "s3:GetObject", "arn:aws:s3:::b/k", {}, bucket_for(same.arn)))


def test_cross_account_boundary_and_denies_still_apply():
    capped = Principal(
        OTHER_ROLE,
        identity_policies=(GET_ALL,),
        permissions_boundary=doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}),
    )
    decision = cross(capped, policy=bucket_for("444455556666"))
    assert not decision and "boundary" in decision.reason
    denied = {
        **bucket_for("444455556666"),
        "Statement": [
            *bucket_for("444455556666")["Statement"],
            {"Sid": "No", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        ],
    }
    decision = cross(Principal(OTHER_ROLE, identity_policies=(GET_ALL,)), policy=denied)
    assert not decision and "(No)" in decision.reason


def test_kms_sets_the_callers_account_for_key_policy_conditions():
    key = doc(
        {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": "444455556666"},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": "444455556666"}}}
    )  # fmt: skip
    reader = Principal(
        OTHER_ROLE,
        identity_policies=(doc({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),),
    )
    assert cross(reader, "kms:Decrypt", KEY, key)


_PIECES = st.sampled_from(["a", "b", "-", "/", ":", "*", "?"])


@given(
    pattern=st.lists(_PIECES, max_size=8).map("".join),
    value=st.lists(st.sampled_from(["a", "b", "-", "/", ":"]), max_size=8).map("".join),
)
def test_glob_agrees_with_fnmatch_on_star_and_question_mark(pattern, value):
    assert glob_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)


@given(
    action=st.sampled_from(["s3:GetObject", "s3:PutObject", "kms:Decrypt", "iam:PassRole"]),
    resource=st.sampled_from(["arn:aws:s3:::b/k", "*", KEY, ROLE]),
    deny_first=st.booleans(),
)
def test_an_explicit_deny_always_wins(action, resource, deny_first):
    everything = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    deny = doc({"Effect": "Deny", "Action": action, "Resource": "*"})
    policies = (deny, everything) if deny_first else (everything, deny)
    principal = Principal(ROLE, identity_policies=policies)
    grant_all = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    decision = allowed(principal, action, resource, resource_policy=grant_all)
    assert not decision and decision.reason.startswith("explicit deny")
