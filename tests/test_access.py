"""Access: names, trust validation, key and bucket policies (pure), and `BuAccess` under mocks."""

from __future__ import annotations

import ast
import json
import warnings
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.access import (
    BOUNDARY_READ_WILDCARDS,
    ENVIRONMENT_NAMES,
    MANAGED_POLICY_LIMIT,
    PERSONAS,
    WORKLOADS,
    BuAccess,
    BuResources,
    BuScope,
    boundary_document,
    bu_only_bucket_statements,
    persona_policy_document,
    persona_trust_document,
    persona_trust_statements,
    session_seconds,
    validate_business_unit,
    workload_policy_document,
)
from components.iam import pod_identity_trust_document
from components.kms import KmsKey, key_policy_document
from estate.analysis.iam import arn_matches
from estate.offline.engine import render

ACCOUNT = "111122223333"
OTHER = "444455556666"
SAML = f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"
TAGS = {
    "BusinessUnit": "fraud",
    "Owner": "fraud-ml@example.com",
    "CostCenter": "CC-1",
    "Environment": "prod",
    "DataClassification": "restricted",
    "ManagedBy": "ai-estate",
}


def scope(bu="fraud", env="prod", region="us-east-1", partition="aws") -> BuScope:
    return BuScope(bu, env, ACCOUNT, region, partition)


def resources(**kw) -> BuResources:
    s = scope(**kw)
    key = f"arn:{s.partition}:kms:{s.region}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    return BuResources.default(s, key, "platform-prod-ai")


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("bu", ["fraud", "marketing", "fraud-ops", "risk2"])
def test_valid_business_units(bu):
    validate_business_unit(bu, "prod")


@pytest.mark.parametrize(
    ("bu", "problem"),
    [
        ("fraud-prod", "environment word 'prod'"),
        ("dev-tools", "environment word 'dev'"),
        ("nodes", "reserved"),
        ("platform", "reserved"),
        ("Fraud", "lowercase slug"),
        ("f", "lowercase slug"),
    ],
)
def test_business_units_that_could_spell_another_bus_prefix_are_refused(bu, problem):
    with pytest.raises(ValueError, match=problem):
        validate_business_unit(bu, "prod")


_SLUG = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)


@given(
    a=_SLUG,
    b=_SLUG,
    env_a=st.sampled_from(ENVIRONMENT_NAMES),
    env_b=st.sampled_from(ENVIRONMENT_NAMES),
)
def test_no_valid_bu_pattern_matches_another_bus_names(a, b, env_a, env_b):
    """`<a>-<env>-*` (and the role path) never matches a name of a different BU or env."""
    for bu, env in ((a, env_a), (b, env_b)):
        try:
            validate_business_unit(bu, env)
        except ValueError:
            return
    if (a, env_a) == (b, env_b):
        return
    mine, theirs = scope(a, env_a), scope(b, env_b)
    for pattern, name in (
        (mine.bucket_pattern, theirs.bucket_arn(theirs.bucket_name("features"))),
        (mine.table_pattern, theirs.arn("dynamodb", f"table/{theirs.prefix}-profiles")),
        (mine.model_package_pattern, theirs.arn("sagemaker", f"model-package/{theirs.prefix}-m/1")),
        (mine.repository_pattern, theirs.arn("ecr", f"repository/{theirs.prefix}/scorer")),
        (mine.glue_resources[1], theirs.arn("glue", f"database/{theirs.glue_prefix}features")),
        (mine.role_arn_pattern, theirs.role_arn("data-scientist")),
        (mine.log_group_pattern, theirs.arn("logs", f"log-group:/ai-estate/{theirs.prefix}/a")),
    ):
        assert not arn_matches(pattern, name), (pattern, name)


def test_scope_names():
    s = scope()
    assert s.role_arn("data-scientist") == (
        "arn:aws:iam::111122223333:role/ai-estate/fraud/fraud-prod-data-scientist"
    )
    assert s.boundary_arn == "arn:aws:iam::111122223333:policy/ai-estate/fraud/fraud-prod-boundary"
    assert s.key_alias == "alias/ai-estate/fraud-prod"
    assert s.glue_prefix == "fraud_prod_"
    assert s.bucket_name("features").startswith("fraud-prod-features-")
    assert scope(partition="aws-cn").role_arn_pattern.startswith("arn:aws-cn:iam::")


# -- trust --------------------------------------------------------------------------------


def principals(document: str) -> list:
    return [s["Principal"] for s in json.loads(document)["Statement"]]


def test_saml_trust_requires_the_audience():
    [statement] = json.loads(
        persona_trust_document("auditor", {"saml_provider_arn": SAML}, account_id=ACCOUNT)
    )["Statement"]
    assert statement["Principal"] == {"Federated": SAML}
    assert statement["Action"] == "sts:AssumeRoleWithSAML"
    assert statement["Condition"] == {
        "StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}
    }


def test_identity_center_trust_is_the_account_held_to_the_permission_set_roles():
    role = (
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
        "AWSReservedSSO_DataScientist_0123abcd"
    )
    [statement] = persona_trust_statements(
        "data-scientist", {"identity_center_role_arns": [role]}, account_id=ACCOUNT
    )
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": [role]}}


def test_oidc_trust_pins_audience_and_subjects():
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    [statement] = persona_trust_statements(
        "ml-engineer",
        {"oidc_provider_arn": provider, "oidc_subjects": ["repo:acme/models:ref:refs/heads/main"]},
        account_id=ACCOUNT,
    )
    host = "token.actions.githubusercontent.com"
    assert statement["Condition"] == {
        "StringEquals": {f"{host}:aud": "sts.amazonaws.com"},
        "StringLike": {f"{host}:sub": ["repo:acme/models:ref:refs/heads/main"]},
    }


def test_cross_account_trust_is_one_statement_per_account_with_named_roles():
    roles = [f"arn:aws:iam::{OTHER}:role/deploy/ci", f"arn:aws:iam::{OTHER}:role/deploy/cd"]
    [statement] = persona_trust_statements(
        "ml-engineer", {"cross_account_role_arns": roles}, account_id=ACCOUNT
    )
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{OTHER}:root"}
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted(roles)}}


@pytest.mark.parametrize(
    ("trust", "problem"),
    [
        ({}, "no trust source"),
        ({"max_session_hours": 2}, "no trust source"),
        ({"saml_provider_arn": "*"}, "not an IAM SAML provider"),
        ({"saml_provider_arn": f"arn:aws:iam::{ACCOUNT}:role/okta"}, "not an IAM SAML provider"),
        ({"identity_center_role_arns": [f"arn:aws:iam::{ACCOUNT}:role/admin"]}, "Identity Center"),
        (
            {
                "identity_center_role_arns": [
                    f"arn:aws:iam::{OTHER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_X_1a"
                ]
            },
            "this account",
        ),
        ({"oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/x.com"}, "oidc_subjects"),
        (
            {
                "oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/x.com",
                "oidc_subjects": ["*"],
            },
            "would match anyone",
        ),
        ({"cross_account_role_arns": [f"arn:aws:iam::{OTHER}:role/*"]}, "not a role ARN"),
        ({"cross_account_role_arns": [f"arn:aws:iam::{OTHER}:root"]}, "not a role ARN"),
        ({"cross_account_role_arns": [f"arn:aws:iam::{ACCOUNT}:role/x"]}, "cross-account"),
    ],
)
def test_untrustworthy_trust_is_refused(trust, problem):
    with pytest.raises(ValueError, match=problem):
        persona_trust_statements("data-scientist", trust, account_id=ACCOUNT)


@pytest.mark.parametrize(
    ("hours", "ok"), [(1, True), (4, True), (0, False), (5, False), ("2", False)]
)
def test_session_length_is_one_to_four_hours(hours, ok):
    if ok:
        assert session_seconds("auditor", {"max_session_hours": hours}) == hours * 3600
    else:
        with pytest.raises(ValueError, match="max_session_hours"):
            session_seconds("auditor", {"max_session_hours": hours})
    assert session_seconds("auditor", {}) == 3600


def test_pod_identity_trust_is_held_to_account_cluster_namespace_and_service_account():
    [statement] = json.loads(
        pod_identity_trust_document(
            account_id=ACCOUNT,
            cluster_name="platform-prod-ai",
            namespace="fraud",
            service_account="feature-reader",
        )
    )["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": ACCOUNT,
        "aws:RequestTag/eks-cluster-name": "platform-prod-ai",
        "aws:RequestTag/kubernetes-namespace": "fraud",
        "aws:RequestTag/kubernetes-service-account": "feature-reader",
    }


# -- boundary and policies ------------------------------------------------------------------


def statements_by_sid(document: str) -> dict:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


def test_boundary_denies_leaving_changing_and_reaching_outside():
    res = resources()
    sids = statements_by_sid(boundary_document(res))
    assert sids["DenyLeavingBoundary"]["Action"] == sorted(
        [
            "iam:DeleteRolePermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteUserPermissionsBoundary",
            "iam:PutUserPermissionsBoundary",
        ]
    )
    assert sids["DenyBoundaryChanges"]["Resource"] == res.scope.boundary_arn
    outside = sids["DenyOutsideBusinessUnit"]
    assert outside["Effect"] == "Deny" and res.kms_key_arn in outside["NotResource"]
    # The only KMS resource inside is the BU key: every other key is denied.
    assert [r for r in outside["NotResource"] if ":kms:" in r] == [res.kms_key_arn]
    inside = sids["BusinessUnitResources"]
    assert "eks:DescribeCluster" in inside["Action"]
    # The deny exempts exactly the BU's resources: every allowed pattern is covered by one of
    # its (folded) patterns, and each of those names the BU's prefix or is an allowed resource.
    for resource in inside["Resource"]:
        concrete = resource.replace("*", "x")
        assert any(arn_matches(p, concrete) for p in outside["NotResource"]), resource
    for pattern in outside["NotResource"]:
        assert pattern in inside["Resource"] or "/fraud-prod-*" in pattern, pattern
        assert not arn_matches(
            pattern, "arn:aws:dynamodb:us-east-1:111122223333:table/marketing-prod-t"
        )
    shared = {
        res.kms_key_arn,
        res.scope.arn("glue", "catalog"),
        res.scope.cluster_arn("platform-prod-ai"),
    }
    for resource in inside["Resource"]:
        assert resource in shared or "fraud-prod" in resource or "fraud_prod_" in resource, resource


@pytest.mark.parametrize(
    ("bu", "region", "partition"),
    # The longest BU name whose boundary fits in the longest partition and region (19
    # characters; Lake Formation data access and lineage posting took 11 of the former 32, the
    # deploy dispatch's InvokeApiDestination 2 of the next 21; the retraining queue's SQS actions
    # and ARN pattern fit after the boundary's read-only families became one pattern each).
    [("fraud", "us-east-1", "aws"), ("a" * 12 + "-" + "b" * 6, "ap-southeast-2", "aws-us-gov")],
)
def test_boundary_fits_a_managed_policy_even_for_long_names(bu, region, partition):
    document = boundary_document(
        resources(bu=bu, env="staging", region=region, partition=partition)
    )
    assert len(json.dumps(json.loads(document), separators=(",", ":"))) <= MANAGED_POLICY_LIMIT


def test_a_boundary_iam_would_refuse_is_a_clear_error():
    res = resources()
    long = BuResources(res.scope, res.kms_key_arn, "f", "m", "l", cluster_name="c" * 1200)
    with pytest.raises(ValueError, match="6144"):
        boundary_document(long)


def test_publisher_and_approver_are_separated():
    res = resources()
    publisher = statements_by_sid(workload_policy_document("model-publisher", res))
    approver = statements_by_sid(persona_policy_document("model-approver", res))
    assert "sagemaker:UpdateModelPackage" not in publisher["RegisterModels"]["Action"]
    assert publisher["DenyApproval"]["Action"] == ["sagemaker:UpdateModelPackage"]
    assert publisher["DenySelfApproval"]["Effect"] == "Deny"
    assert approver["ApproveModels"]["Action"] == ["sagemaker:UpdateModelPackage"]
    assert "sagemaker:CreateModelPackage" in approver["DenyPublishing"]["Action"]
    assert "s3:PutObject" in approver["DenyPublishing"]["Action"]


def test_unknown_personas_and_workloads_are_refused():
    with pytest.raises(ValueError, match="unknown persona"):
        persona_policy_document("admin", resources())
    with pytest.raises(ValueError, match="unknown workload"):
        workload_policy_document("trainer", resources())


# -- key and bucket policies -----------------------------------------------------------------


def key_policy(**kw) -> dict:
    base = {
        "partition": "aws",
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "log_group_prefixes": ["/ai-estate/fraud-prod/"],
        "service_principals": [],
    }
    return json.loads(key_policy_document(**{**base, **kw}))


def test_key_policy_without_options_is_unchanged_in_shape():
    sids = [s["Sid"] for s in key_policy(ebs_for_autoscaling=True)["Statement"]]
    assert sids == [
        "AccountAdministersKey",
        "CloudWatchLogsUseKey",
        "AutoScalingUseKeyForEbs",
        "AutoScalingGrantsForEbs",
    ]


def test_key_users_admins_and_other_bus_denied():
    policy = key_policy(
        user_principals=[f"arn:aws:iam::{OTHER}:root"],
        admin_principals=[f"arn:aws:iam::{ACCOUNT}:role/key-admin"],
        isolated_business_unit=("fraud", "prod"),
    )
    sids = {s["Sid"]: s for s in policy["Statement"]}
    users = sids["KeyUsers"]
    assert users["Principal"] == {"AWS": [f"arn:aws:iam::{OTHER}:root"]}
    assert "s3.us-east-1.amazonaws.com" in users["Condition"]["StringEquals"]["kms:ViaService"]
    admins = sids["KeyAdministrators"]
    assert not {"kms:Decrypt", "kms:CreateGrant", "kms:*"} & set(admins["Action"])
    deny = sids["DenyOtherBusinessUnitRoles"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "kms:*"
    assert deny["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ai-estate/*"},
        "ArnNotLike": {
            "aws:PrincipalArn": [
                f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-*",
                f"arn:aws:iam::{ACCOUNT}:role/ai-estate/nodes/*",
            ]
        },
        "Bool": {"aws:PrincipalIsAWSService": "false"},
    }
    # The account root statement stays: without it IAM could never manage the key.
    assert sids["AccountAdministersKey"]["Action"] == "kms:*"


def test_key_admins_get_administration_never_data_use_or_the_policy():
    admins = {
        s["Sid"]: s
        for s in key_policy(admin_principals=[f"arn:aws:iam::{ACCOUNT}:role/key-admin"])[
            "Statement"
        ]
    }["KeyAdministrators"]
    assert {"kms:ScheduleKeyDeletion", "kms:Disable*", "kms:EnableKeyRotation"} <= set(
        admins["Action"]
    )
    for forbidden in ("kms:Decrypt", "kms:Encrypt", "kms:CreateGrant", "kms:PutKeyPolicy"):
        assert not any(arn_matches(a, forbidden) for a in admins["Action"]), forbidden


def test_s3_reader_accounts_decrypt_through_s3_only():
    policy = key_policy(s3_reader_accounts=[OTHER, ACCOUNT])
    [reader] = [s for s in policy["Statement"] if s["Sid"] == "OtherAccountsDecryptViaS3"]
    # The key's own account is never a "reader": its IAM already decides.
    assert reader["Principal"] == {"AWS": [f"arn:aws:iam::{OTHER}:root"]}
    assert reader["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert reader["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": [OTHER],
            "kms:ViaService": ["s3.us-east-1.amazonaws.com"],
        }
    }
    assert "OtherAccountsDecryptViaS3" not in {
        s["Sid"] for s in key_policy(s3_reader_accounts=[ACCOUNT])["Statement"]
    }


def test_bu_only_bucket_statements():
    bucket = "arn:aws:s3:::fraud-prod-models-1a2b3c4d"
    [statement] = bu_only_bucket_statements(
        bucket,
        allowed_principal_arns=[scope().role_arn_pattern],
        allowed_account_ids=[OTHER],
    )
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Resource"] == [bucket, f"{bucket}/*"]
    assert not any(a.startswith("s3:PutBucket") for a in statement["Action"])
    assert statement["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}
    assert statement["Condition"]["StringNotEquals"] == {"aws:PrincipalAccount": [OTHER]}
    with pytest.raises(ValueError):
        bu_only_bucket_statements(bucket, allowed_principal_arns=[])


# -- parliament on every document shape ------------------------------------------------------


def parliament_findings(document: str, resource: str | None = None) -> list[tuple[str, str]]:
    import parliament

    doc = json.loads(document)
    if resource:  # a trust policy: lint it against the role it protects (see test_isolation)
        doc["Statement"] = [{**s, "Resource": resource} for s in doc["Statement"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = parliament.analyze_policy_string(json.dumps(doc), ignore_private_auditors=True)
    return [
        (f.issue, parliament.enhance_finding(f).severity)
        for f in result.findings
        if not mlflow_ui_under_wildcard(f.issue, str(f.detail))
    ]


def mlflow_ui_under_wildcard(issue: str, detail: str) -> bool:
    """The accepted RESOURCE_MISMATCH findings, both parliament's pattern matching and not IAM's:

    - `sagemaker-mlflow:*` on the tracking server includes AccessUI, which AWS authorizes on `*`
      only (Service Authorization Reference, "Amazon SageMaker with MLflow"): the wildcard
      cannot grant it there, so the personas get it on `*` separately;
    - the boundary names every SageMaker resource of the BU with one `<type>/<prefix>-*`
      pattern (`BuScope.sagemaker_pattern`, to fit IAM's size limit), which IAM matches as a
      glob but parliament does not recognise as a feature-group or model-package ARN;
    - the boundary's read-only families (`BOUNDARY_READ_WILDCARDS`, e.g. `athena:Get*`) expand
      to reads on resource types the BU does not own (capacity reservations, global tables):
      an Allow grants an action only on a listed resource of its own type, so those grant
      nothing. Parliament reports each unmatched expansion; each must be one of those reads.
    """
    if issue != "RESOURCE_MISMATCH":
        return False
    actions = [m["action"] for m in ast.literal_eval(detail)]
    return all(
        a.startswith("sagemaker:")
        or a == "sagemaker-mlflow:AccessUI"
        or any(fnmatchcase(a, w) for w in BOUNDARY_READ_WILDCARDS)
        for a in actions
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_generated_permission_policies_have_no_parliament_findings(region):
    res = resources(region=region)
    documents = [boundary_document(res)]
    documents += [persona_policy_document(p, res) for p in PERSONAS]
    documents += [workload_policy_document(w, res) for w in WORKLOADS]
    documents.append(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": bu_only_bucket_statements(
                    "arn:aws:s3:::fraud-prod-features-1a2b3c4d",
                    allowed_principal_arns=[res.scope.role_arn_pattern],
                ),
            }
        )
    )
    for document in documents:
        assert parliament_findings(document) == []


def test_generated_trust_policies_have_no_parliament_findings():
    role = scope().role_arn("data-scientist")
    trusts = [
        persona_trust_document("x", {"saml_provider_arn": SAML}, account_id=ACCOUNT),
        persona_trust_document(
            "x",
            {
                "identity_center_role_arns": [
                    f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/"
                    "AWSReservedSSO_DataScientist_*"
                ],
                "cross_account_role_arns": [f"arn:aws:iam::{OTHER}:role/deploy"],
            },
            account_id=ACCOUNT,
        ),
        pod_identity_trust_document(
            account_id=ACCOUNT, cluster_name="c", namespace="fraud", service_account="sa"
        ),
    ]
    for trust in trusts:
        assert parliament_findings(trust, role) == []


def test_key_policy_parliament_findings_are_only_low_resource_star():
    policy = key_policy(
        ebs_for_autoscaling=True,
        service_principals=["events.amazonaws.com"],
        user_principals=[f"arn:aws:iam::{OTHER}:root"],
        admin_principals=[f"arn:aws:iam::{ACCOUNT}:role/key-admin"],
        isolated_business_unit=("fraud", "prod"),
    )
    findings = parliament_findings(json.dumps(policy))
    assert findings and set(findings) == {("RESOURCE_STAR", "LOW")}


# -- components under the mock runtime -------------------------------------------------------


def access_program(with_key: bool = True, **overrides):
    def program():
        key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        if with_key:
            key_arn = KmsKey(
                "fraud-prod-key",
                {
                    "alias": "ai-estate/fraud-prod",
                    "description": "BU key",
                    "tags": TAGS,
                    "protect": False,
                    "isolated_business_unit": ("fraud", "prod"),
                },
            ).arn
        args = {
            "business_unit": "fraud",
            "environment": "prod",
            "account_id": ACCOUNT,
            "kms_key_arn": key_arn,
            "personas": {p: {"saml_provider_arn": SAML} for p in PERSONAS},
            "cluster_name": "platform-prod-ai",
            "tags": TAGS,
            **overrides,
        }
        BuAccess("fraud-prod-access", args)

    return program


@pytest.fixture(scope="module")
def inventory():
    return render(
        access_program(),
        stack="fraud-prod",
        project="ai-estate",
        config={"aws:region": "us-east-1"},
        account_id=ACCOUNT,
    )


def of_type(inv, typ):
    return [r for r in inv.resources if r.type == typ]


def test_every_role_is_bounded_pathed_and_short_lived(inventory):
    roles = of_type(inventory, "aws:iam/role:Role")
    assert {r.inputs["name"] for r in roles} == {
        f"fraud-prod-{who}" for who in (*PERSONAS, *WORKLOADS)
    }
    [boundary] = of_type(inventory, "aws:iam/policy:Policy")
    assert boundary.inputs["name"] == "fraud-prod-boundary"
    assert boundary.inputs["path"] == "/ai-estate/fraud/"
    for role in roles:
        assert role.inputs["path"] == "/ai-estate/fraud/"
        assert role.inputs["permissionsBoundary"] == (
            "arn:aws:iam::111122223333:policy/ai-estate/fraud/fraud-prod-boundary"
        )
        assert 3600 <= role.inputs["maxSessionDuration"] <= 14400
        assert role.inputs["tags"]["BusinessUnit"] == "fraud"
    policies = of_type(inventory, "aws:iam/rolePolicy:RolePolicy")
    assert {p.inputs["role"] for p in policies} == {r.inputs["name"] for r in roles}


def test_workloads_are_bound_to_service_accounts_in_the_bu_namespace(inventory):
    associations = of_type(inventory, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert {(a.inputs["namespace"], a.inputs["serviceAccount"]) for a in associations} == {
        ("fraud", "feature-reader"),
        ("fraud", "model-publisher"),
        ("fraud", "model-trainer"),
    }
    for association in associations:
        assert association.inputs["clusterName"] == "platform-prod-ai"
        assert association.inputs["roleArn"].startswith(
            "arn:aws:iam::111122223333:role/ai-estate/fraud/fraud-prod-"
        )
        assert association.inputs["disableSessionTags"] is False


def test_no_iam_users_or_access_keys(inventory):
    assert not [r for r in inventory.resources if r.type.startswith("aws:iam/user")]
    assert not [r for r in inventory.resources if r.type == "aws:iam/accessKey:AccessKey"]


def test_key_policy_of_the_rendered_key_denies_other_bus(inventory):
    [key] = [k for k in of_type(inventory, "aws:kms/key:Key") if not k.inputs.get("region")]
    sids = [s["Sid"] for s in json.loads(key.inputs["policy"])["Statement"]]
    assert sids[0] == "AccountAdministersKey" and sids[-1] == "DenyOtherBusinessUnitRoles"


def test_without_a_cluster_there_are_no_workload_roles():
    inv = render(
        access_program(cluster_name=None, personas={"auditor": {"saml_provider_arn": SAML}}),
        stack="fraud-prod",
        project="ai-estate",
        config={"aws:region": "us-east-1"},
        account_id=ACCOUNT,
    )
    assert [r.inputs["name"] for r in of_type(inv, "aws:iam/role:Role")] == ["fraud-prod-auditor"]
    assert not of_type(inv, "aws:eks/podIdentityAssociation:PodIdentityAssociation")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"personas": {"admin": {"saml_provider_arn": SAML}}}, "unknown personas"),
        ({"service_accounts": {"trainer": "t"}}, "unknown workloads"),
        ({"personas": {"auditor": {}}}, "no trust source"),
        ({"business_unit": "fraud-prod"}, "environment word"),
    ],
)
def test_config_errors_name_the_problem(overrides, problem):
    from estate.offline.engine import ProgramError

    with pytest.raises(ProgramError, match=problem):
        render(
            # No key: a program failing while other resources are still registering leaves the
            # mock runtime's event loop to the garbage collector (a noisy, harmless warning).
            access_program(with_key=False, **overrides),
            stack="fraud-prod",
            project="ai-estate",
            config={"aws:region": "us-east-1"},
            account_id=ACCOUNT,
        )
