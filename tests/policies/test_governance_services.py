"""RDS, EFS and Glue job rules: a bad and a good program each, from real pulumi_aws resources.

`SERVICES_CASES` has the shape of `test_governance_rules.CASES`.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.services import RULES
from policy_harness import check, names
from policy_programs import KEY_ARN, unknown
from pulumi_policy.proxy import UnknownValueError

Program = Callable[[], None]


def _db(name: str, **overrides: object) -> aws.rds.Instance:
    settings: dict[str, object] = {
        "engine": "postgres",
        "instance_class": "db.t4g.medium",
        "allocated_storage": 20,
        "username": "app",
        "manage_master_user_password": True,
        "storage_encrypted": True,
        "kms_key_id": KEY_ARN,
        "backup_retention_period": 14,
        "publicly_accessible": False,
        **overrides,
    }
    return aws.rds.Instance(name, **settings)  # type: ignore[arg-type]


def _cluster(name: str, **overrides: object) -> aws.rds.Cluster:
    settings: dict[str, object] = {
        "engine": "aurora-postgresql",
        "master_username": "app",
        "manage_master_user_password": True,
        "storage_encrypted": True,
        "kms_key_id": KEY_ARN,
        "backup_retention_period": 7,
        **overrides,
    }
    return aws.rds.Cluster(name, **settings)  # type: ignore[arg-type]


def bad_rds_encrypted() -> None:
    _db("plain-db", storage_encrypted=False, kms_key_id=None)
    _db("unset-db", storage_encrypted=None, kms_key_id=None)
    _cluster("plain-cluster", storage_encrypted=None, kms_key_id=None)


def good_rds_encrypted() -> None:
    source = _db("features-db")
    # A read replica inherits its source's encryption.
    aws.rds.Instance(
        "features-replica",
        instance_class="db.t4g.medium",
        replicate_source_db=source.identifier,
    )
    _cluster("features-cluster")


def bad_rds_backups() -> None:
    _db("no-backups", backup_retention_period=0)
    _db("default-backups", backup_retention_period=None)
    _cluster("short-cluster", backup_retention_period=3)


def good_rds_backups() -> None:
    _db("features-db")
    _cluster("features-cluster", backup_retention_period=35)


def bad_rds_public() -> None:
    _db("public-db", publicly_accessible=True)
    cluster = _cluster("features-cluster")
    aws.rds.ClusterInstance(
        "public-member",
        cluster_identifier=cluster.id,
        instance_class="db.r6g.large",
        engine="aurora-postgresql",
        publicly_accessible=True,
    )


def good_rds_public() -> None:
    _db("features-db")
    _db("default-db", publicly_accessible=None)
    cluster = _cluster("features-cluster")
    aws.rds.ClusterInstance(
        "member",
        cluster_identifier=cluster.id,
        instance_class="db.r6g.large",
        engine="aurora-postgresql",
    )


def bad_efs() -> None:
    aws.efs.FileSystem("plain-efs")
    aws.efs.FileSystem("managed-efs", encrypted=True)
    aws.efs.FileSystem(
        "alias-efs",
        encrypted=True,
        kms_key_id="arn:aws:kms:us-east-1:1:alias/aws/elasticfilesystem",
    )


def good_efs() -> None:
    aws.efs.FileSystem("models-efs", encrypted=True, kms_key_id=KEY_ARN)


def _job(name: str, **overrides: object) -> None:
    aws.glue.Job(
        name,
        role_arn="arn:aws:iam::123456789012:role/ai-estate/fraud/fraud-prod-glue",
        command=aws.glue.JobCommandArgs(script_location="s3://fraud-prod-code/etl.py"),
        **overrides,  # type: ignore[arg-type]
    )


def bad_glue_job() -> None:
    _job("etl")


def good_glue_job() -> None:
    _job("etl", security_configuration="fraud-prod-glue-kms")


SERVICES_CASES: dict[str, tuple[Program, set[str], Program]] = {
    "rds-storage-encrypted": (
        bad_rds_encrypted,
        {"plain-db", "unset-db", "plain-cluster"},
        good_rds_encrypted,
    ),
    "rds-backup-retention": (
        bad_rds_backups,
        {"no-backups", "default-backups", "short-cluster"},
        good_rds_backups,
    ),
    "rds-not-publicly-accessible": (
        bad_rds_public,
        {"public-db", "public-member"},
        good_rds_public,
    ),
    "efs-encrypted-cmk": (bad_efs, {"plain-efs", "managed-efs", "alias-efs"}, good_efs),
    "glue-job-security-configuration": (bad_glue_job, {"etl"}, good_glue_job),
}


def test_every_rule_has_a_case():
    assert set(SERVICES_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES)


@pytest.mark.parametrize("rule_id", sorted(SERVICES_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = SERVICES_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(SERVICES_CASES))
def test_good_program_passes(rule_id: str):
    _, _, good = SERVICES_CASES[rule_id]
    assert check(rule_id, good, environment="prod") == []


def test_backup_minimum_follows_the_profile():
    def program() -> None:
        _db("scratch-db", backup_retention_period=1)

    assert names(check("rds-backup-retention", program, environment="prod")) == ["scratch-db"]
    assert check("rds-backup-retention", program, environment="dev") == []
    assert find_rule("rds-backup-retention").enforcement["prod"] == "mandatory"


def test_an_unknown_encryption_flag_is_not_read_as_a_pass():
    def program() -> None:
        _db("features-db", storage_encrypted=unknown())

    with pytest.raises(UnknownValueError):
        check("rds-storage-encrypted", program)
