"""Every Security Hub and CIS id a rule cites was checked against its source.

benchmarks/framework_ids.json holds each verified id with its title as documented and the URL
it was read from (Checkov ids are checked against the vendored Checkov snapshot instead, in
test_rule_coverage.py). Its `rejected` section names ids that were once cited but that the rule
does not implement; citing one again fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from governance.catalog import FrameworkRef
from governance.pack import RULES

ROOT = Path(__file__).resolve().parents[2]
VERIFIED = json.loads((ROOT / "benchmarks" / "framework_ids.json").read_text())


def _entry(ref: FrameworkRef) -> dict | None:
    if ref.framework == "AWS Security Hub":
        return VERIFIED["AWS Security Hub"].get(ref.control)
    return VERIFIED.get(ref.framework, {}).get(ref.version, {}).get(ref.control)


def _name(ref: FrameworkRef) -> str:
    return " ".join(p for p in (ref.framework, ref.version, ref.control) if p)


CITED = sorted(
    {(rule.id, ref) for rule in RULES for ref in rule.frameworks if ref.framework != "Checkov"},
    key=lambda pair: (pair[0], _name(pair[1])),
)


@pytest.mark.parametrize(("rule_id", "ref"), CITED, ids=lambda x: x if isinstance(x, str) else "")
def test_every_cited_id_was_verified(rule_id: str, ref: FrameworkRef):
    entry = _entry(ref)
    assert entry, f"{rule_id} cites {_name(ref)}, which benchmarks/framework_ids.json lacks"
    assert entry["title"].strip() and entry["url"].startswith("https://")


def test_security_hub_urls_point_at_the_controls_anchor():
    for control, entry in VERIFIED["AWS Security Hub"].items():
        service, number = control.split(".")
        assert re.fullmatch(r"[A-Za-z0-9]+", service) and number.isdigit(), control
        assert entry["url"].endswith(f"/{service.lower()}-controls.html#{service.lower()}-{number}")


def test_every_verified_id_is_cited():
    cited = {_name(ref) for _, ref in CITED}
    listed = {f"AWS Security Hub {c}" for c in VERIFIED["AWS Security Hub"]}
    for framework in ("CIS AWS Foundations", "CIS Amazon EKS"):
        for version, controls in VERIFIED[framework].items():
            listed |= {f"{framework} {version} {c}" for c in controls}
    assert listed == cited, (listed - cited, cited - listed)


def test_rejected_ids_stay_uncited():
    cited = {(rule_id, _name(ref)) for rule_id, ref in CITED}
    names = {name for _, name in cited}
    for rejected in VERIFIED["rejected"]:
        if " on " in rejected:  # an id rejected for one rule only
            name, rule_id = rejected.split(" on ")
            assert (rule_id, name) not in cited, rejected
        else:
            assert rejected not in names, rejected
