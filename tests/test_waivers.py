"""Waivers from the stack file, applied by the pack itself: suppressed, audited, time-boxed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "fixtures" / "programs" / "unencrypted-dynamodb"
TODAY = dt.date.today()


def check(project: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "estate", "check", "--project", str(project), "--json", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return done, data


def program_with_waivers(tmp_path: Path, waivers: list[dict]) -> Path:
    project = tmp_path / "program"
    shutil.copytree(PROGRAM, project)
    config = {
        "aws:region": "us-east-1",
        "ai-estate:environment": "prod",
        "ai-estate:waivers": waivers,
    }
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": config}))
    return project


def findings(data: dict) -> list[dict]:
    return [f for s in data["stacks"] for f in s["findings"]]


def waiver(policy: str, expires: dt.date, resource: str = "orders") -> dict:
    return {
        "policy": policy,
        "resource": resource,
        "reason": "Load-test table, synthetic data only",
        "ticket": "SEC-1234",
        "expires": expires.isoformat(),
    }


def test_live_waiver_suppresses_and_reports_the_finding(tmp_path):
    baseline, base_data = check(program_with_waivers(tmp_path / "a", []), tmp_path / "a")
    assert baseline.returncode == 1
    blocking = {f["policy"] for f in findings(base_data) if f["blocking"]}
    project = program_with_waivers(
        tmp_path / "b", [waiver(p, TODAY + dt.timedelta(days=30)) for p in sorted(blocking)]
    )
    done, data = check(project, tmp_path / "b")
    assert done.returncode == 0, done.stdout + done.stderr
    waived = [f for f in findings(data) if f["waived_by"]]
    assert {f["policy"] for f in waived} == blocking
    for f in waived:
        assert f["waived_by"]["ticket"] == "SEC-1234"
        assert f["waived_by"]["expires"] == (TODAY + dt.timedelta(days=30)).isoformat()
        assert f["resource_name"] == "orders" and not f["blocking"]


def test_waiver_glob_must_match_the_resource(tmp_path):
    project = program_with_waivers(
        tmp_path, [waiver("dynamodb-table-pitr", TODAY + dt.timedelta(days=30), "scratch-*")]
    )
    done, data = check(project, tmp_path)
    assert done.returncode == 1
    assert any(f["policy"] == "dynamodb-table-pitr" and f["blocking"] for f in findings(data))


def test_expired_waiver_blocks_and_suppresses_nothing(tmp_path):
    project = program_with_waivers(
        tmp_path, [waiver("dynamodb-table-pitr", TODAY - dt.timedelta(days=1))]
    )
    done, data = check(project, tmp_path)
    assert done.returncode == 1
    policies = {f["policy"] for f in findings(data) if f["blocking"]}
    assert {"waiver-expired", "dynamodb-table-pitr"} <= policies
    expired = next(f for f in findings(data) if f["policy"] == "waiver-expired")
    assert "SEC-1234" in expired["message"] and "expired" in expired["message"]


def test_waiver_for_an_unknown_policy_is_a_config_error(tmp_path):
    project = program_with_waivers(tmp_path, [waiver("no-such-policy", TODAY)])
    done, _ = check(project, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "Pulumi.prod.yaml: ai-estate:waivers[0].policy: no policy 'no-such-policy'" in done.stderr
    )


def test_pack_message_format_round_trips_through_the_runner():
    sys.path.insert(0, str(ROOT / "policies"))
    try:
        from governance.waivers import Waiver, applied_message, parse_applied
    finally:
        sys.path.remove(str(ROOT / "policies"))
    from estate.offline.model import Finding, PolicyInfo
    from estate.offline.runner import unwrap_waived

    w = Waiver("s3-bucket-versioning", "logs-*", "Reason (with parens): yes", "SEC-9", TODAY)
    text = applied_message(
        w, "s3-bucket-versioning", "Bucket 'logs-1' is not versioned.\nSecond line"
    )
    assert parse_applied(text)["message"].endswith("Second line")
    [f] = unwrap_waived(
        [
            Finding(
                stack="s", policy="waiver-applied", message=text, enforcement="advisory", urn="u"
            )
        ],
        [
            PolicyInfo(
                name="s3-bucket-versioning",
                description="d",
                enforcement="mandatory",
                severity="medium",
            )
        ],
    )
    assert f.policy == "s3-bucket-versioning" and f.enforcement == "mandatory" and not f.blocking
    assert f.waived_by == {
        "policy": "s3-bucket-versioning",
        "ticket": "SEC-9",
        "expires": TODAY.isoformat(),
        "reason": "Reason (with parens): yes",
    }


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"policy": "s3-bucket-versioning"}, "resource, reason, ticket, expires required"),
        (waiver("s3-bucket-versioning", TODAY) | {"expires": "next week"}, "must be a date"),
        ("just a string", "must be a mapping"),
    ],
)
def test_malformed_waivers_are_named(entry, problem):
    sys.path.insert(0, str(ROOT / "policies"))
    try:
        from governance.waivers import parse_waivers
    finally:
        sys.path.remove(str(ROOT / "policies"))
    waivers, problems = parse_waivers(
        {"ai-estate:waivers": json.dumps([entry])}, ["s3-bucket-versioning"]
    )
    assert waivers == [] and len(problems) == 1 and problem in problems[0]
