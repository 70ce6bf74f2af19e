"""The catalog itself: ids, metadata, framework references, settings, and the pack's footprint."""

from __future__ import annotations

import re
import subprocess
import sys

import jsonschema
import pytest
from governance import PACK_NAME, RULES
from governance.catalog import ENVIRONMENTS, Rule, Setting, checkov
from policy_harness import POLICIES_DIR

CHECKOV_ID = re.compile(r"^CKV2?_(AWS|K8S|SECRET)_\d+$")
CIS_CONTROL = re.compile(r"^\d+(\.\d+)+$")


def test_there_are_at_least_eighteen_rules_with_unique_kebab_case_ids():
    ids = [r.id for r in RULES]
    assert len(ids) >= 18
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", i) for i in ids)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented(rule: Rule):
    assert rule.title and rule.description.endswith(".")
    assert len(rule.remediation) > 20
    assert rule.domain
    assert set(rule.enforcement) == set(ENVIRONMENTS)
    if rule.kind == "resource":
        assert rule.resource_types, "resource rules are type-based"
        assert all(t.startswith(("aws:", "kubernetes:")) for t in rule.resource_types)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_framework_references_are_well_formed(rule: Rule):
    for ref in rule.frameworks:
        if ref.framework == "Checkov":
            assert CHECKOV_ID.match(ref.control), ref
        elif ref.framework == "AWS Security Hub":
            assert re.fullmatch(r"[A-Za-z0-9]+\.\d+", ref.control), ref
        else:
            assert ref.framework in ("CIS AWS Foundations", "CIS Amazon EKS")
            assert CIS_CONTROL.match(ref.control) and ref.version, ref


@pytest.mark.parametrize("rule", [r for r in RULES if r.settings], ids=lambda r: r.id)
def test_setting_defaults_satisfy_their_schema(rule: Rule):
    for setting in rule.settings:
        for env in ENVIRONMENTS:
            jsonschema.validate(setting.defaults[env], dict(setting.schema))


def test_pack_name():
    assert PACK_NAME == "ai-estate-governance"


def test_invalid_rules_are_refused():
    def noop(args, report, settings):
        return None

    base = {
        "title": "t",
        "description": "d.",
        "severity": "high",
        "enforcement": {"dev": "advisory", "staging": "advisory", "prod": "mandatory"},
        "remediation": "r",
        "kind": "resource",
        "validate": noop,
    }
    with pytest.raises(ValueError, match="kebab-case"):
        Rule(id="NotKebab", **base)
    with pytest.raises(ValueError, match="severity"):
        Rule(id="a-rule", **{**base, "severity": "severe"})
    with pytest.raises(ValueError, match="enforcement"):
        Rule(id="a-rule", **{**base, "enforcement": {"prod": "mandatory"}})
    with pytest.raises(ValueError, match="not allowed"):
        Rule(id="a-rule", **{**base, "enforcement": {e: "remediate" for e in ENVIRONMENTS}})
    with pytest.raises(ValueError, match="stack rules"):
        Rule(id="a-rule", **{**base, "kind": "stack", "resource_types": frozenset({"aws:x"})})
    with pytest.raises(ValueError, match="default for each"):
        Setting(name="days", description="", schema={}, defaults={"prod": 1})
    assert checkov("CKV_AWS_7").label == "CKV_AWS_7"


def test_the_pack_imports_without_pulumi_aws():
    """The pack starts once per stack in every pipeline: it must not pull in the AWS SDK."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import governance; "
        "assert 'pulumi_aws' not in sys.modules, 'pulumi_aws imported'; "
        "print(len(governance.RULES))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(POLICIES_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(RULES)


def test_pack_entry_point_only_builds_the_pack():
    source = (POLICIES_DIR / "__main__.py").read_text()
    code = [
        line for line in source.splitlines() if line.strip() and not line.startswith(('"""', "#"))
    ]
    assert code == ["from governance import build_pack", "build_pack()"]
