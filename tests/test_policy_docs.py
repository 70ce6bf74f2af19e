"""`docs/policies.md` is generated from the pack's rules and never goes stale.

A rule added to `governance.RULES` changes the rendered reference, so `test_doc_is_fresh` fails
until `python -m estate.docgen.policy_docs` is run: the reference cannot fall behind the pack.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from estate.docgen import policy_docs

ROOT = Path(__file__).resolve().parent.parent
CELL_SPLIT = re.compile(r"(?<!\\)\|")


def cells(row: str) -> list[str]:
    """The cells of one markdown table row (escaped pipes stay inside their cell)."""
    return [c.strip() for c in CELL_SPLIT.split(row.strip())[1:-1]]


def row_of(text: str, rule_id: str) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith(f"| `{rule_id}` |")]
    assert len(rows) == 1, f"{rule_id}: {len(rows)} rows"
    return cells(rows[0])


@pytest.fixture(scope="module")
def rules():
    return policy_docs.load_rules()


@pytest.fixture(scope="module")
def catalog():
    policy_docs.load_governance()
    return importlib.import_module("governance.catalog")


def test_doc_is_fresh():
    assert policy_docs.main(["--check"]) == 0, (
        "docs/policies.md is stale: run `.venv/bin/python -m estate.docgen.policy_docs`"
    )


def test_module_runs_as_a_script_from_a_fresh_process():
    done = subprocess.run(
        [sys.executable, "-m", "estate.docgen.policy_docs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_every_rule_has_a_row_with_its_metadata(rules, catalog):
    text = policy_docs.render(rules)
    for rule in rules:
        row = row_of(text, rule.id)
        assert len(row) == len(policy_docs.COLUMNS)
        assert row[2] == rule.severity
        assert row[3:6] == [rule.enforcement[env] for env in catalog.ENVIRONMENTS]
        for ref in rule.frameworks:
            assert f"`{ref.control}`" in row[8], (rule.id, ref)
        for setting in rule.settings:
            assert f"`{setting.name}`" in row[9], (rule.id, setting.name)


def test_rules_are_grouped_by_domain_in_catalog_order(rules):
    text = policy_docs.render(rules)
    headings = re.findall(r"^## (\S+)$", text, flags=re.M)
    expected: list[str] = []
    for rule in rules:
        if rule.domain not in expected:
            expected.append(rule.domain)
    assert headings == expected
    for domain in expected:
        section = text.split(f"\n## {domain}\n", 1)[1].split("\n## ", 1)[0]
        ids = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M)
        assert ids == [r.id for r in rules if r.domain == domain]


def test_settings_show_each_environments_default(rules, catalog):
    text = policy_docs.render(rules)
    for rule in rules:
        for setting in rule.settings:
            values = [setting.defaults[env] for env in catalog.ENVIRONMENTS]
            cell = row_of(text, rule.id)[9]
            if len(set(map(repr, values))) == 1:
                assert "in every environment" in cell
            else:
                for env in catalog.ENVIRONMENTS:
                    assert f"{env} `" in cell, (rule.id, setting.name, env)


def test_a_rule_added_later_is_documented_and_escaped(rules, catalog):
    def validate(args, report, settings):
        return None

    new_rule = catalog.Rule(
        id="synthetic-later-rule",
        title="Later | rules <show>",
        description="Pipes | and\nnewlines stay in one cell.",
        severity="low",
        enforcement={"dev": "disabled", "staging": "advisory", "prod": "mandatory"},
        remediation="Set `x_y` to *true* (see <docs>).",
        kind="stack",
        validate=validate,
        frameworks=(catalog.checkov("CKV_AWS_999"), catalog.cis("9.9", "3.0.0")),
        settings=(
            catalog.Setting(
                name="maxWidgets",
                description="How many widgets.",
                schema={"type": "integer"},
                defaults={"dev": 1, "staging": 2, "prod": 3},
            ),
        ),
        domain="synthetic",
        rationale="Because | later.",
    )
    text = policy_docs.render((*rules, new_rule))
    assert "\n## synthetic\n" in text
    assert "| [synthetic](#synthetic) | 1 |" in text
    row = row_of(text, "synthetic-later-rule")
    assert len(row) == len(policy_docs.COLUMNS)
    assert row[1] == r"Later \| rules &lt;show&gt;"
    assert row[3:6] == ["disabled", "advisory", "mandatory"]
    assert row[6] == r"Pipes \| and newlines stay in one cell."
    assert "`CKV_AWS_999`" in row[8] and "CIS AWS Foundations 3.0.0: `9.9`" in row[8]
    assert "dev `1`; staging `2`; prod `3`" in row[9]
    assert r"- `synthetic-later-rule`: Because \| later." in text
    assert f"{len(rules) + 1} rules" in text


def test_check_reports_a_stale_or_missing_doc(tmp_path: Path, capsys):
    doc = tmp_path / "policies.md"
    assert policy_docs.main(["--check", "--output", str(doc)]) == 1
    assert policy_docs.main(["--output", str(doc)]) == 0
    assert policy_docs.main(["--check", "--output", str(doc)]) == 0
    doc.write_text(doc.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert policy_docs.main(["--check", "--output", str(doc)]) == 1
    assert "stale; run `python -m estate.docgen.policy_docs`" in capsys.readouterr().err


def test_rendering_is_deterministic(rules):
    assert policy_docs.render(rules) == policy_docs.render(rules)
