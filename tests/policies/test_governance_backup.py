"""Backup rules: good and bad hand-written programs, and AWS Backup's matching semantics."""

from __future__ import annotations

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.backup import arn_matches, glob_match, split_arn
from policy_harness import check, names
from policy_programs import KEY_ARN, OWNERSHIP_TAGS
from test_governance_compute import Case

ROLE = "arn:aws:iam::123456789012:role/backup"


def table(name: str = "fraud-prod-velocity", tags: dict[str, str] | None = None):
    return aws.dynamodb.Table(
        name,
        name=name,
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        billing_mode="PAY_PER_REQUEST",
        tags=tags if tags is not None else OWNERSHIP_TAGS,
    )


def plan() -> aws.backup.Plan:
    vault = aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)
    return aws.backup.Plan(
        "plan",
        name="plan",
        rules=[
            aws.backup.PlanRuleArgs(
                rule_name="daily", target_vault_name=vault.name, schedule="cron(0 5 * * ? *)"
            )
        ],
        tags=OWNERSHIP_TAGS,
    )


def selection(resources=None, conditions=None, not_resources=None, selection_tags=None):
    aws.backup.Selection(
        "selection",
        name="data",
        plan_id=plan().id,
        iam_role_arn=ROLE,
        resources=resources,
        not_resources=not_resources,
        conditions=conditions,
        selection_tags=selection_tags,
    )


def bu_condition(value: str = "fraud"):
    return [
        aws.backup.SelectionConditionArgs(
            string_equals=[
                aws.backup.SelectionConditionStringEqualArgs(
                    key="aws:ResourceTag/BusinessUnit", value=value
                )
            ]
        )
    ]


# -- backup-covers-data-stores --------------------------------------------------------------


def test_table_selected_by_name_pattern_and_bu_tag_passes():
    def program():
        table()
        selection(["arn:aws:dynamodb:*:*:table/fraud-prod-*"], bu_condition())

    assert check("backup-covers-data-stores", program) == []


def test_table_in_no_selection_is_caught():
    def program():
        table()
        plan()

    assert names(check("backup-covers-data-stores", program)) == ["fraud-prod-velocity"]


def test_tag_condition_filters_the_listed_resources():
    """AWS Backup ANDs `resources` with `conditions`: the pattern matches, the tag does not."""

    def program():
        table()
        selection(["arn:aws:dynamodb:*:*:table/*"], bu_condition("marketing"))

    assert names(check("backup-covers-data-stores", program)) == ["fraud-prod-velocity"]


def test_not_resources_take_a_selected_table_out():
    def program():
        table()
        selection(["*"], not_resources=["arn:aws:dynamodb:*:*:table/fraud-prod-velocity"])

    assert names(check("backup-covers-data-stores", program)) == ["fraud-prod-velocity"]


def test_list_of_tags_alone_selects_by_tag():
    def program():
        table()
        selection(
            selection_tags=[
                aws.backup.SelectionSelectionTagArgs(
                    type="STRINGEQUALS", key="BusinessUnit", value="fraud"
                )
            ]
        )

    assert check("backup-covers-data-stores", program) == []


def test_access_log_buckets_are_not_data_but_data_buckets_are():
    def program():
        logs = aws.s3.Bucket("logs", bucket="fraud-logs", tags=OWNERSHIP_TAGS)
        data = aws.s3.Bucket("data", bucket="fraud-data", tags=OWNERSHIP_TAGS)
        aws.s3.BucketLogging(
            "data-logging", bucket=data.id, target_bucket=logs.id, target_prefix="data/"
        )
        plan()

    assert names(check("backup-covers-data-stores", program)) == ["data"]

    def covered():
        aws.s3.Bucket("data", bucket="fraud-data", tags=OWNERSHIP_TAGS)
        selection(["arn:aws:s3:::fraud-data"], bu_condition())

    assert check("backup-covers-data-stores", covered) == []


def test_the_rule_judges_dev_stacks_too():
    def program():
        table()

    assert names(check("backup-covers-data-stores", program, environment="dev")) == [
        "fraud-prod-velocity"
    ]


# -- backup-vault-cmk -----------------------------------------------------------------------


def test_vault_without_a_cmk_is_caught_and_with_one_passes():
    def bad():
        aws.backup.Vault("vault", name="vault", tags=OWNERSHIP_TAGS)

    def good():
        aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)

    assert names(check("backup-vault-cmk", bad)) == ["vault"]
    assert check("backup-vault-cmk", good) == []


# -- backup-vault-compliance-lock -----------------------------------------------------------


@pytest.mark.parametrize(("grace", "caught"), [(3, False), (None, True)])
def test_prod_vault_needs_a_compliance_mode_lock(grace, caught):
    def program():
        vault = aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)
        aws.backup.VaultLockConfiguration(
            "lock", backup_vault_name=vault.name, min_retention_days=7, changeable_for_days=grace
        )

    assert names(check("backup-vault-compliance-lock", program)) == (["vault"] if caught else [])


def test_unlocked_vault_is_caught_in_prod_only():
    def program():
        aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)

    assert names(check("backup-vault-compliance-lock", program)) == ["vault"]
    # dev vaults stay disposable: the rule does not run there (coverage still advises in dev)
    assert find_rule("backup-vault-compliance-lock").enforcement["dev"] == "disabled"
    assert find_rule("backup-covers-data-stores").enforcement["dev"] == "advisory"


def test_auto_named_vault_is_not_a_false_positive_when_a_lock_exists():
    def program():
        vault = aws.backup.Vault("vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)
        aws.backup.VaultLockConfiguration(
            "lock", backup_vault_name=vault.name, min_retention_days=7, changeable_for_days=3
        )

    assert check("backup-vault-compliance-lock", program) == []


# -- the matcher ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("*", "arn:aws:dynamodb:us-east-1:1:table/t", True),
        ("arn:aws:dynamodb:*:*:table/*", "arn:aws:dynamodb:us-east-1:1:table/t", True),
        ("arn:aws:dynamodb:*:*:table/fraud-*", "arn:aws:dynamodb:us-east-1:1:table/mkt-t", False),
        ("arn:aws:ec2:*:*:volume/*", "arn:aws:dynamodb:us-east-1:1:table/t", False),
        ("arn:aws:s3:::fraud-data", "arn:aws:s3:::fraud-data", True),
        ("arn:aws:s3:::fraud-data", "arn:aws:s3:::fraud-data-2", False),
        ("arn:aws:s3:::fraud-?", "arn:aws:s3:::fraud-a", False),  # `?` is literal here
    ],
)
def test_arn_patterns_match_as_aws_backup_documents(pattern, arn, matches):
    parts = split_arn(arn)
    assert parts is not None
    assert arn_matches(pattern, parts) is matches


def test_unknown_segments_match_but_known_ones_must():
    unknown_region = ("arn", None, "dynamodb", None, None, "table/fraud-prod-t")
    assert arn_matches("arn:aws:dynamodb:us-east-1:1:table/fraud-*", unknown_region)
    assert not arn_matches("arn:aws:dynamodb:us-east-1:1:table/mkt-*", unknown_region)
    assert glob_match("prod*", "production") and not glob_match("prod", "production")


# -- the bad/good table every rule has --------------------------------------------------------


def _uncovered_table():
    table()
    plan()


def _covered_table():
    table()
    selection(["arn:aws:dynamodb:*:*:table/fraud-prod-*"], bu_condition())


def _vault_without_cmk():
    aws.backup.Vault("vault", name="vault", tags=OWNERSHIP_TAGS)


def _vault_with_cmk():
    aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)


def _locked(grace: int | None):
    def program():
        vault = aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)
        aws.backup.VaultLockConfiguration(
            "lock", backup_vault_name=vault.name, min_retention_days=7, changeable_for_days=grace
        )

    return program


def _plan_copying_to(region: str | None):
    def program():
        vault = aws.backup.Vault("vault", name="vault", kms_key_arn=KEY_ARN, tags=OWNERSHIP_TAGS)
        copies = (
            [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=f"arn:aws:backup:{region}:123456789012:backup-vault:dr"
                )
            ]
            if region
            else None
        )
        aws.backup.Plan(
            "plan",
            name="plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=vault.name,
                    schedule="cron(0 5 * * ? *)",
                    copy_actions=copies,
                )
            ],
            tags=OWNERSHIP_TAGS,
        )

    return program


@pytest.mark.parametrize(
    ("region", "caught"), [(None, True), ("us-east-1", True), ("us-west-2", False)]
)
def test_prod_plans_copy_to_another_region(region, caught):
    found = check(
        "backup-copies-out-of-region", _plan_copying_to(region), config={"aws:region": "us-east-1"}
    )
    assert names(found) == (["plan"] if caught else [])
    if region == "us-east-1":
        assert "only to us-east-1" in found[0].message


# -- artifact-bucket-replicated: good and bad programs ------------------------------------------


def _artifact_bucket(name: str = "artifacts", region: str | None = None):
    return aws.s3.Bucket(
        name,
        bucket=f"fraud-prod-{name}",
        region=region,
        tags={**OWNERSHIP_TAGS, "Purpose": "model-artifacts"},
    )


def _replicated_to(region: str | None):
    def program():
        source = _artifact_bucket()
        if region is None:
            return
        replica = aws.s3.Bucket(
            "replica", bucket="fraud-prod-artifacts-dr", region=region, tags=OWNERSHIP_TAGS
        )
        aws.s3.BucketReplicationConfig(
            "replication",
            bucket=source.id,
            role="arn:aws:iam::123456789012:role/replication",
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="dr",
                    status="Enabled",
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Disabled"
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=replica.arn,
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=KEY_ARN
                        ),
                    ),
                )
            ],
        )

    return program


@pytest.mark.parametrize(
    ("region", "words"),
    [(None, "replicated nowhere"), ("us-east-1", "only within us-east-1"), ("us-west-2", None)],
)
def test_artifact_buckets_must_replicate_out_of_region(region, words):
    found = check(
        "artifact-bucket-replicated", _replicated_to(region), config={"aws:region": "us-east-1"}
    )
    if words is None:
        assert found == []
    else:
        assert names(found) == ["artifacts"] and words in found[0].message


def test_replicas_are_not_asked_for_their_own_backup_selection():
    """The replica is the copy: `backup-covers-data-stores` judges the source only."""
    found = check("backup-covers-data-stores", _replicated_to("us-west-2"))
    assert names(found) == ["artifacts"]


BACKUP_CASES: dict[str, Case] = {
    "artifact-bucket-replicated": Case(
        _replicated_to(None), {"artifacts"}, _replicated_to("us-west-2")
    ),
    "backup-copies-out-of-region": Case(
        _plan_copying_to(None), {"plan"}, _plan_copying_to("us-west-2")
    ),
    "backup-covers-data-stores": Case(_uncovered_table, {"fraud-prod-velocity"}, _covered_table),
    "backup-vault-cmk": Case(_vault_without_cmk, {"vault"}, _vault_with_cmk),
    "backup-vault-compliance-lock": Case(_locked(None), {"vault"}, _locked(3)),
}


@pytest.mark.parametrize("rule_id", sorted(BACKUP_CASES))
def test_backup_cases(rule_id):
    case = BACKUP_CASES[rule_id]
    assert set(names(check(rule_id, case.bad))) == case.flagged
    assert check(rule_id, case.good) == []


# -- EKS clusters (AWS Backup for Amazon EKS: cluster state and persistent volumes) ---------


def _cluster(name: str = "platform-prod-ai"):
    return aws.eks.Cluster(
        name,
        name=name,
        role_arn="arn:aws:iam::123456789012:role/cluster",
        vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=["subnet-1", "subnet-2"]),
        access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API"),
        tags={**OWNERSHIP_TAGS, "BusinessUnit": "platform"},
    )


@pytest.mark.parametrize(
    ("resources", "caught"),
    [
        (None, True),  # a plan, no selection
        (["arn:aws:eks:us-east-1:123456789012:cluster/platform-prod-ai"], False),
        (["arn:aws:eks:*:*:cluster/platform-*"], False),
        (["arn:aws:eks:us-east-1:123456789012:cluster/other-ai"], True),
        (["arn:aws:dynamodb:*:*:table/*"], True),  # another resource type
    ],
)
def test_prod_eks_clusters_must_be_in_a_backup_selection(resources, caught):
    def program():
        _cluster()
        if resources is None:
            plan()
        else:
            selection(resources, bu_condition("platform"))

    found = check("backup-covers-data-stores", program)
    assert names(found) == (["platform-prod-ai"] if caught else [])
    if caught:
        assert "EKS cluster 'platform-prod-ai'" in found[0].message


def test_a_cluster_selected_by_arn_is_still_filtered_by_the_tag_conditions():
    def program():
        _cluster()
        selection(["arn:aws:eks:*:*:cluster/platform-prod-ai"], bu_condition("fraud"))

    assert names(check("backup-covers-data-stores", program)) == ["platform-prod-ai"]
