"""benchmarks/coverage.md is current, and the Checkov ids the rules cite are real and on topic.

The Checkov snapshot's checks are vendored in benchmarks/scanner_counts.json (written by
benchmarks/scanner_counts.py from the fetched snapshot, commit recorded there), so both checks
run offline.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from governance.pack import RULES

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "rule_coverage", ROOT / "benchmarks" / "rule_coverage.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
DATA = json.loads(SCRIPT.COUNTS.read_text())
CHECKOV = DATA["checkov"]


def test_the_coverage_table_is_current():
    assert SCRIPT.table() in SCRIPT.COVERAGE.read_text(), "run benchmarks/rule_coverage.py --write"


def test_every_type_a_rule_judges_has_a_row_and_a_mapping():
    rows = SCRIPT.pack_counts()
    for rule in RULES:
        if rule.id == SCRIPT.EVERYWHERE:
            continue
        for token in rule.resource_types:
            assert rule.id in rows[SCRIPT.row_key(token)]
            if token.startswith("aws:"):
                assert token.removeprefix("aws:") in SCRIPT.AWS, f"map {token} in rule_coverage.AWS"


def test_the_pack_column_counts_the_pack():
    rows = SCRIPT.pack_counts()
    notebook = {
        r.id for r in RULES if "aws:sagemaker/notebookInstance:NotebookInstance" in r.resource_types
    }
    assert rows["sagemaker/notebookInstance:NotebookInstance"] == notebook
    # every version and the Patch variant of a kind is one row
    role_rules = {r.id for r in RULES if any(t.endswith(":RolePatch") for t in r.resource_types)}
    assert role_rules <= rows["k8s Role"]


def test_scanner_columns_follow_the_recorded_snapshot():
    # Checkov judges a Deployment's pod template as a Pod: the Pod checks count on Deployment
    by_kind = SCRIPT._by_type(CHECKOV["kubernetes"])
    assert "Deployment" in CHECKOV["pod_template_owners"]
    _, _, deployment = SCRIPT.scanner_counts("k8s Deployment", DATA)
    assert deployment == len(by_kind["Pod"] | by_kind.get("Deployment", set()))
    awsguard, _, checkov = SCRIPT.scanner_counts("s3/bucketV2:BucketV2", DATA)
    assert checkov == len(SCRIPT._by_type(CHECKOV["terraform"])["aws_s3_bucket"])
    assert awsguard == len(SCRIPT._by_type(DATA["awsguard"]["cloudformation"])["AWS::S3::Bucket"])


def _terraform_and_kinds(rule) -> set[str]:
    """The Terraform types and Kubernetes kinds a resource rule judges."""
    names: set[str] = set()
    for token in rule.resource_types:
        if token.startswith("aws:"):
            names |= set(SCRIPT.AWS[token.removeprefix("aws:")][0])
        elif token.startswith("kubernetes:"):
            kind = token.rsplit(":", 1)[-1].removesuffix("Patch")
            names.add(kind)
            if kind in CHECKOV["pod_template_owners"]:
                names.add("Pod")
    return names


CITED = sorted(
    {
        (rule.id, ref.control)
        for rule in RULES
        for ref in rule.frameworks
        if ref.framework == "Checkov"
    }
)


@pytest.mark.parametrize(("rule_id", "check"), CITED)
def test_cited_checkov_ids_exist_and_judge_the_rules_type(rule_id, check):
    rule = next(r for r in RULES if r.id == rule_id)
    located = {
        part: CHECKOV[part][check]
        for part in ("terraform", "kubernetes", "terraform_data", "cloudformation", "secrets")
        if check in CHECKOV[part]
    }
    assert located, f"{rule_id} cites {check}, which the Checkov snapshot does not have"
    if ("terraform" in located or "kubernetes" in located) and rule.kind == "resource":
        types = set(located.get("terraform", [])) | set(located.get("kubernetes", []))
        assert types & _terraform_and_kinds(rule), (rule_id, check, types)
