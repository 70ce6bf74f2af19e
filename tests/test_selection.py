"""Which stacks a check covers: `--affected --base REF` and `--shard K/N`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estate.offline.selection import (
    SHARED_FILES,
    SelectionError,
    affected_stacks,
    parse_shard,
    select_shard,
)
from tests.test_config_hardening import make_project
from tests.test_diff import _git

ROOT = Path(__file__).resolve().parent.parent
NAMES = [f"bu{i:04d}-{('dev', 'prod')[i % 2]}" for i in range(1000)]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=50))
def test_every_one_of_1000_stacks_is_checked_by_exactly_one_shard(n):
    seen: dict[str, int] = {}
    for k in range(1, n + 1):
        chosen = select_shard(NAMES, k, n)
        assert set(chosen.selected).isdisjoint(chosen.skipped)
        assert sorted([*chosen.selected, *chosen.skipped]) == sorted(NAMES)
        for name in chosen.selected:
            assert name not in seen, f"{name} in shards {seen.get(name)} and {k}"
            seen[name] = k
    assert sorted(seen) == sorted(NAMES)


def test_a_stack_keeps_its_shard_when_others_come_and_go():
    before = {k: select_shard(NAMES[:100], k, 7).selected for k in range(1, 8)}
    after = {k: select_shard([*NAMES[:100], "new-dev"], k, 7).selected for k in range(1, 8)}
    assert {k: [n for n in v if n != "new-dev"] for k, v in after.items()} == before


@pytest.mark.parametrize("bad", ["", "3", "0/3", "4/3", "1/0", "a/b", "-1/2", "1/2/3"])
def test_bad_shard_values_are_one_clear_sentence(bad):
    with pytest.raises(SelectionError, match="--shard"):
        parse_shard(bad)


def test_bad_shard_on_the_command_line_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "estate", "check", "--all", "--shard", "5/4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "estate check: --shard 5/4: K must be between 1 and N, and N at least 1"
    ]


def _pick(changed: list[str]):
    names = ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"]
    platforms = {"fraud-prod": "platform-prod", "marketing-dev": "platform-dev"}
    return affected_stacks(
        names, changed, lambda n: f"stacks/Pulumi.{n}.yaml", platforms.get, "main"
    )


def test_affected_is_the_changed_stack_file_only():
    chosen = _pick(["stacks/Pulumi.marketing-dev.yaml", "README.md", "docs/x.md"])
    assert chosen.selected == ["marketing-dev"]
    assert set(chosen.skipped) == {"platform-dev", "platform-prod", "fraud-prod"}
    assert "unchanged since main" in chosen.skipped["fraud-prod"]
    assert "platform-prod" in chosen.skipped["fraud-prod"]


def test_a_changed_platform_stack_affects_the_bu_stacks_that_read_it():
    chosen = _pick(["stacks/Pulumi.platform-prod.yaml"])
    assert chosen.selected == ["platform-prod", "fraud-prod"]


@pytest.mark.parametrize(
    "path",
    [
        "components/serving.py",
        "policies/governance/tagging.py",
        "estate/stack/config.py",
        *sorted(SHARED_FILES),
    ],
)
def test_shared_code_affects_every_stack(path):
    chosen = _pick([path])
    assert len(chosen.selected) == 4 and chosen.skipped == {}


def test_nothing_changed_skips_everything():
    chosen = _pick([])
    assert chosen.selected == [] and len(chosen.skipped) == 4


def test_check_affected_renders_only_the_changed_stack_and_lists_the_skipped(tmp_path):
    repo = make_project(tmp_path / "repo")  # the project's files, the shipped stacks
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    stack_file = repo / "stacks" / "Pulumi.marketing-dev.yaml"
    stack_file.write_text(stack_file.read_text() + "# a reviewed change\n")

    report, md = tmp_path / "r.json", tmp_path / "r.md"
    cmd = [sys.executable, "-m", "estate", "check", "--project", str(repo), "--all"]
    cmd += ["--affected", "--base", "HEAD", "--json", str(report), "--markdown", str(md)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert [s["stack"] for s in data["stacks"]] == ["marketing-dev"]
    assert data["stacks"][0]["diff"]["summary"]["removed"] == 0  # compared with its base
    assert {s["stack"] for s in data["skipped"]} == {"platform-dev", "platform-prod", "fraud-prod"}
    assert "3 stack(s) skipped" in md.read_text()
    assert "skipped fraud-prod: unchanged since HEAD" in done.stdout
    assert done.stdout.strip().endswith("3 skipped")
