"""JUnit XML for CI test tabs: one suite per stack, one test case per finding (XML-safe text)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from typing import Any

from estate.offline.model import Finding, StackResult
from estate.reports.common import (
    _XML_INVALID,
    TOOL_NAME,
    _findings,
    _one_line,
    _ordered,
    _resource_label,
    _status,
    _text,
    _waiver_justification,
)


def _xml_safe(value: Any, limit: int | None = None) -> str:
    text = _XML_INVALID.sub("", _text(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _xml_name(value: Any, fallback: str) -> str:
    """A name attribute: XML-safe, on one line, never empty (CI viewers key testcases on it)."""
    return _one_line(_xml_safe(value, 500)).strip() or fallback


def _finding_details(finding: Finding) -> str:
    lines = [
        f"policy: {finding.policy}",
        f"enforcement: {finding.enforcement}",
        f"severity: {finding.severity or '-'}",
        f"resource: {finding.urn or 'stack'}",
    ]
    if finding.resource_type:
        lines.append(f"type: {finding.resource_type}")
    if finding.waived_by is not None:
        lines.append(f"waived: {_waiver_justification(finding.waived_by)}")
    lines.append(f"message: {finding.message}")
    return "\n".join(lines)


def _testcase_names(findings: list[Finding]) -> dict[str, str]:
    """A testcase name per resource URN, unique within one policy of one stack.

    Two resources may share a logical name (a bucket and a role both called `models`); CI
    viewers merge testcases with equal names, so the type, and failing that the URN, is added.
    """
    first = {f.urn: f for f in reversed(findings)}
    names = {urn: _resource_label(f) for urn, f in first.items()}
    for qualify in (
        lambda urn, name: (
            f"{name} ({first[urn].resource_type})" if first[urn].resource_type else name
        ),
        lambda urn, name: f"{name} [{urn}]",
    ):
        taken = Counter(names.values())
        names = {urn: qualify(urn, n) if taken[n] > 1 else n for urn, n in names.items()}
    return names


def _junit_suite(result: StackResult) -> ET.Element:
    stack = _xml_name(result.stack, "(unnamed stack)")
    suite = ET.Element("testsuite", name=stack)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="source", value=_xml_safe(result.source))
    ET.SubElement(properties, "property", name="resources", value=str(result.resource_count))
    counts = Counter[str]()
    used: set[tuple[str, str]] = set()

    def testcase(classname: str, name: str) -> ET.Element:
        # Names that differ only in characters XML cannot hold would merge: number the repeats.
        base, repeat = _xml_name(name, "stack"), 1
        name = base
        while (classname, name) in used:
            repeat += 1
            name = f"{base} #{repeat}"
        used.add((classname, name))
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=classname, name=name)

    if result.error:
        counts["errors"] += 1
        case = testcase(stack, "stack program")
        error = ET.SubElement(
            case, "error", message=_xml_safe(result.error, 1000), type="stack-error"
        )
        error.text = _xml_safe(result.error)

    findings_by_policy: dict[str, list[Finding]] = defaultdict(list)
    for finding in _findings(result):
        findings_by_policy[finding.policy].append(finding)
    declared = {p.name: p for p in result.policies}

    for policy_name in sorted(set(declared) | set(findings_by_policy)):
        classname = f"{stack}.{_xml_name(policy_name, '(unnamed policy)')}"
        findings = findings_by_policy.get(policy_name, [])
        if not findings:
            policy = declared[policy_name]
            case = testcase(classname, "stack" if policy.kind == "stack" else "all resources")
            if policy.enforcement == "disabled":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="policy disabled")
            continue
        names = _testcase_names(findings)
        by_resource: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_resource[finding.urn].append(finding)
        for urn, group in sorted(by_resource.items(), key=lambda item: names[item[0]]):
            case = testcase(classname, names[urn])
            blocking = [f for f in group if _status(f) == "blocking"]
            advisories = [f for f in group if _status(f) == "advisory"]
            waived = [f for f in group if _status(f) == "waived"]
            if blocking:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=_xml_safe(blocking[0].message, 1000),
                    type=_xml_safe(blocking[0].enforcement),
                )
                failure.text = _xml_safe("\n\n".join(_finding_details(f) for f in blocking))
            elif waived and not advisories:
                counts["skipped"] += 1
                skipped = ET.SubElement(
                    case,
                    "skipped",
                    message=_xml_safe(
                        "waived: " + _waiver_justification(waived[0].waived_by or {}), 1000
                    ),
                )
                skipped.text = _xml_safe("\n\n".join(_finding_details(f) for f in waived))
            notes = advisories + waived if blocking or advisories else []
            if notes:
                out = ET.SubElement(case, "system-out")
                out.text = _xml_safe("\n\n".join(_finding_details(f) for f in notes))

    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", str(counts["errors"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{result.seconds:.3f}")
    return suite


def to_junit(results: list[StackResult]) -> str:
    """JUnit XML for CI test tabs: one testsuite per stack, one testcase per policy/resource.

    Blocking findings fail; advisories pass with their messages in `system-out` (so they are
    read but do not turn the build red); waived findings are skipped with the waiver's reason;
    a stack that could not be checked is an error. Policies with no finding pass visibly.
    """
    ordered = _ordered(results)
    root = ET.Element("testsuites", name=TOOL_NAME)
    totals = Counter[str]()
    for result in ordered:
        suite = _junit_suite(result)
        root.append(suite)
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(suite.get(key, "0"))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", f"{sum(r.seconds for r in ordered):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
