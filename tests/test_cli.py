"""The `estate` CLI as pipelines use it: a subprocess, exit codes, files, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "tests" / "fixtures" / "programs"


def estate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    return subprocess.run(
        [sys.executable, "-m", "estate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_stacks_lists_one_per_line_name_first():
    done = estate("stacks")
    assert done.returncode == 0, done.stderr
    names = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert names[:2] == ["platform-dev", "platform-prod"]
    assert set(names) >= {"platform-dev", "platform-prod", "fraud-prod", "marketing-dev"}


def test_validate_all_passes_on_shipped_stacks():
    done = estate("validate", "--all")
    assert done.returncode == 0, done.stderr


def test_bad_config_value_exits_2_with_one_line_naming_file_and_key(project_copy):
    stack = project_copy / "stacks" / "Pulumi.fraud-prod.yaml"
    original = stack.read_text()
    stack.write_text(original.replace("environment: prod", "environment: moon"))
    for command in (["validate", "--stack", "fraud-prod"], ["check", "--stack", "fraud-prod"]):
        done = estate(*command, "--project", str(project_copy))
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines == [
            "stacks/Pulumi.fraud-prod.yaml: ai-estate:environment: must be one of dev, staging, "
            "prod (got 'moon')"
        ], lines
        assert "Traceback" not in done.stderr
    assert "environment: moon" in stack.read_text()  # nothing lost: the file is untouched


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--stack", "fraud-prod", "--all"],
        ["check", "--stack", "no-such-stack"],
        ["preview", "--stack", "fraud-prod", "--format", "yaml"],
        ["check"],
        ["check", "--all", "--policy-pack-config", "/nonexistent/config.json"],
    ],
)
def test_usage_errors_exit_2_without_traceback(args):
    done = estate(*args)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.strip()


def test_preview_json_has_the_documented_shape():
    done = estate("preview", "--stack", "fraud-prod", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["stack"] == "fraud-prod"
    keys = {
        "urn",
        "type",
        "name",
        "parent",
        "inputs",
        "protect",
        "retainOnDelete",
        "dependencies",
        "provider",
    }
    assert all(keys <= set(r) for r in data["resources"])
    types = {r["type"] for r in data["resources"]}
    assert "aws:dynamodb/table:Table" in types and "ai-estate:data:FeatureStore" in types
    assert data["outputs"]["platformVpcId"].startswith("vpc-")


def test_preview_table_shows_component_tree_with_counts():
    done = estate("preview", "--stack", "platform-prod")
    assert done.returncode == 0, done.stderr
    assert "ai-estate:network:Network" in done.stdout or "Network" in done.stdout
    assert "Subnet" in done.stdout


@pytest.mark.slow
def test_check_all_shipped_stacks_pass_with_valid_reports(tmp_path):
    sarif, junit, md, js = (tmp_path / n for n in ("r.sarif", "r.xml", "r.md", "r.json"))
    done = estate(
        "check",
        "--all",
        "--sarif",
        str(sarif),
        "--junit",
        str(junit),
        "--markdown",
        str(md),
        "--json",
        str(js),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(js.read_text())
    assert report["summary"]["blocking"] == 0
    # 0 findings (issue 15): nothing blocks, nothing advises; only waived findings remain, each
    # under its reviewed waiver
    unwaived = [
        (s["stack"], f["policy"], f.get("resource_name"))
        for s in report["stacks"]
        for f in s["findings"]
        if not f.get("waived_by")
    ]
    assert unwaived == []
    assert {s["stack"] for s in report["stacks"]} >= {
        "platform-dev",
        "platform-prod",
        "fraud-prod",
        "marketing-dev",
    }
    log = json.loads(sarif.read_text())
    assert log["version"] == "2.1.0" and len(log["runs"][0]["tool"]["driver"]["rules"]) >= 15
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites" and int(suites.get("failures", "0")) == 0
    assert md.read_text().strip()


@pytest.mark.slow
def test_hand_written_unencrypted_table_fails_the_gate_naming_resource_and_policy(tmp_path):
    js = tmp_path / "r.json"
    done = estate("check", "--project", str(PROGRAMS / "unencrypted-dynamodb"), "--json", str(js))
    assert done.returncode == 1, done.stdout + done.stderr
    findings = [
        f for s in json.loads(js.read_text())["stacks"] for f in s["findings"] if f["blocking"]
    ]
    dynamo = [f for f in findings if f["resource_type"] == "aws:dynamodb/table:Table"]
    assert dynamo, findings
    policies = {f["policy"] for f in dynamo}
    assert any("dynamodb" in p and ("encrypt" in p or "cmk" in p) for p in policies), policies
    names = {f["resource_name"] for f in dynamo}
    assert len(names) == 1 and names.pop() in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("program", "expected_policies"),
    [
        ("ec2-webserver", {"security-group-no-public-ingress", "ec2-imdsv2-required"}),
        ("s3-static-site", {"s3-bucket-public-access-block", "s3-bucket-encryption-cmk"}),
        ("eks-cluster", {"eks-secrets-encryption", "eks-control-plane-logging"}),
    ],
)
def test_public_example_programs_render_and_are_judged_like_ours(
    tmp_path, program, expected_policies
):
    preview = estate("preview", "--project", str(PROGRAMS / program), "--format", "json")
    assert preview.returncode == 0, preview.stderr
    assert len(json.loads(preview.stdout)["resources"]) > 2
    js = tmp_path / "r.json"
    done = estate("check", "--project", str(PROGRAMS / program), "--json", str(js))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(js.read_text())
    assert report["summary"]["errors"] == 0
    blocking = {f["policy"] for s in report["stacks"] for f in s["findings"] if f["blocking"]}
    assert expected_policies <= blocking
