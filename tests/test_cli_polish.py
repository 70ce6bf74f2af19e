"""CLI polish a platform team notices first: version, help text, `preview --all`, pipes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.test_cli import ROOT, estate

COMMANDS = ("stacks", "validate", "preview", "check", "verify", "readiness", "report")


def test_version_works_without_a_command():
    done = estate("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("estate ") and done.stdout.split()[1][0].isdigit()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_flag_placeholders_and_no_machine_paths(command):
    done = estate(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "<bool>" not in done.stdout  # `--all <bool>` reads as if the flag took a value
    assert str(ROOT) not in done.stdout  # a default must not show this checkout's path
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stdout).split())  # the panel, unwrapped
    if "--jobs" in words:
        assert "0 (the default): one per CPU core" in words  # what `--jobs 0` means


def test_preview_all_prints_one_row_per_stack_and_no_trees():
    names = [line.split("\t")[0] for line in estate("stacks").stdout.splitlines()]
    done = estate("preview", "--all")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == names
    assert "├──" not in done.stdout  # trees only with --tree
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_preview_all_json_is_a_list_of_the_single_stack_documents():
    many = json.loads(estate("preview", "--all", "--format", "json").stdout)
    one = json.loads(estate("preview", "--stack", "marketing-dev", "--format", "json").stdout)
    names = [line.split("\t")[0] for line in estate("stacks").stdout.splitlines()]
    assert [d["stack"] for d in many] == names
    same = next(d for d in many if d["stack"] == "marketing-dev")
    assert same.keys() == one.keys() and len(same["resources"]) == len(one["resources"])


def test_preview_without_a_stack_names_both_choices():
    done = estate("preview")
    assert done.returncode == 2
    assert done.stderr.strip() == "estate preview: give --stack NAME or --all"


def test_a_reader_leaving_the_pipe_is_not_a_verdict(tmp_path):
    """`estate check | head -1`: the command still writes its reports and exits with its own
    verdict (0 here), not click's exit 1 for a broken pipe, which reads as violations."""
    report = tmp_path / "check.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "estate",
            "check",
            "--stack",
            "marketing-dev",
            "--json",
            str(report),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, stderr
    assert "Traceback" not in stderr and "Broken pipe" not in stderr
    assert json.loads(report.read_text())["stacks"][0]["stack"] == "marketing-dev"


def _one_type_spot_pool(project_copy):
    stack = project_copy / "stacks" / "Pulumi.marketing-dev.yaml"
    text = stack.read_text()
    assert "instanceTypes: [g4dn.xlarge, g4dn.2xlarge]" in text
    stack.write_text(text.replace("[g4dn.xlarge, g4dn.2xlarge]", "[g4dn.xlarge]"))
    return "stacks/Pulumi.marketing-dev.yaml: ai-estate:gpuPools[0].instanceTypes: warning: "


def test_validate_prints_a_warning_naming_file_and_key_and_passes(project_copy):
    where = _one_type_spot_pool(project_copy)
    done = estate("validate", "--stack", "marketing-dev", "--project", str(project_copy))
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(where) and "spot pool with one instance type" in line


def test_a_program_warning_is_an_advisory_finding_in_the_reports(project_copy, tmp_path):
    where = _one_type_spot_pool(project_copy)
    report = tmp_path / "check.json"
    done = estate(
        "check", "--stack", "marketing-dev", "--project", str(project_copy), "--json", str(report)
    )
    assert done.returncode == 0, done.stderr  # advice never blocks
    assert "warning:" not in done.stderr  # not a bare stderr line
    findings = json.loads(report.read_text())["stacks"][0]["findings"]
    warned = [f for f in findings if f["policy"] == "program-warning"]
    assert [f["enforcement"] for f in warned] == ["advisory"]
    assert warned[0]["message"].startswith(where)


def test_the_shipped_stacks_warn_about_nothing():
    from estate.offline.project import load_project

    project = load_project(ROOT)
    warnings = {name: project.stack_warnings(name) for name in project.stacks()}
    assert warnings and not any(warnings.values()), warnings


def test_stack_repeats_and_an_unknown_stack_is_named():
    from typer.testing import CliRunner

    from estate.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["validate", "--stack", "fraud-prod", "--stack", "marketing-dev"])
    assert result.exit_code == 0, result.output
    assert "2 stack(s) valid: fraud-prod, marketing-dev" in result.output
    result = runner.invoke(app, ["validate", "--stack", "fraud-prod", "--stack", "nope"])
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml: no such stack" in result.output
