"""Report writers for `estate check` and `estate preview`: JSON, SARIF, JUnit, markdown, terminal.

Every writer is a pure function of the `StackResult` list (or an `Inventory`), so the formats are
tested by building those dataclasses by hand, without Pulumi. The writers share one ordering
(stacks by name; findings blocking first, then advisories, then waived, each by severity, policy
and resource) so that two runs over the same estate produce byte-identical files.

Text that comes from policies and programs is untrusted as far as the formats go: it may hold
pipes, newlines, markup or control characters. Each writer makes it safe for its own format
(XML 1.0 forbids most control characters, a markdown table cell must not hold a raw `|` or a
newline, rich must not read `[...]` as markup) rather than trusting the producer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from estate.offline.model import Finding, Inventory, PolicyInfo, Resource, StackResult

TOOL_NAME = "ai-estate-policy"
"""The SARIF driver name and the JUnit `testsuites` name; code scanning groups alerts by it."""

INFORMATION_URI = "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/"
"""Where SARIF viewers send a reader who asks what the tool is (Pulumi policy as code)."""

PROJECT_FILE = "Pulumi.yaml"

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

FINGERPRINT_KEY = "aiEstateFinding/v1"
"""Versioned so that a change to what is hashed starts a new series instead of reopening alerts."""

GITHUB_COMMENT_LIMIT = 65_536
"""GitHub rejects an issue or pull-request comment longer than this many characters."""

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
"""GitHub code scanning ranks alerts by this CVSS-like score: >= 9 critical, >= 7 high, ..."""

ENFORCEMENT_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning"}
"""SARIF level of a finding by its policy's enforcement; anything else is a `note`."""

ENFORCEMENT_STRICTNESS = {"mandatory": 3, "remediate": 2, "advisory": 1, "disabled": 0}

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Everything XML 1.0 cannot carry, even escaped (most C0 controls, surrogates, U+FFFE/FFFF)."""

_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""Everything `str.splitlines` (and some renderers) treat as a line break, besides `\\n`."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Control characters a terminal or a PR comment should not receive (newlines handled apart)."""


# ---------------------------------------------------------------------------------------------
# Shared ordering, counting and text hygiene


def _ordered(results: Iterable[StackResult]) -> list[StackResult]:
    return sorted(results, key=lambda r: (r.stack, r.source))


def _status(finding: Finding) -> str:
    """`blocking`, `advisory` or `waived`: the three buckets every report groups findings by."""
    if finding.waived_by is not None:
        return "waived"
    return "blocking" if finding.blocking else "advisory"


_STATUS_ORDER = {"blocking": 0, "advisory": 1, "waived": 2}


def _finding_key(finding: Finding) -> tuple[Any, ...]:
    return (
        _STATUS_ORDER[_status(finding)],
        SEVERITY_ORDER.get(finding.severity, len(SEVERITY_ORDER)),
        finding.policy,
        finding.resource_type,
        finding.resource_name,
        finding.urn,
        finding.message,
    )


def _findings(result: StackResult) -> list[Finding]:
    return sorted(result.findings, key=_finding_key)


def _all_findings(results: Sequence[StackResult]) -> list[Finding]:
    return [f for r in _ordered(results) for f in _findings(r)]


def summarize(results: Sequence[StackResult]) -> dict[str, int]:
    """The headline counts every report opens with."""
    return {
        "stacks": len(results),
        "resources": sum(r.resource_count for r in results),
        "blocking": sum(len(r.blocking) for r in results),
        "advisories": sum(len(r.advisories) for r in results),
        "waived": sum(len(r.waived) for r in results),
        "errors": sum(1 for r in results if r.error),
    }


def passed(results: Sequence[StackResult]) -> bool:
    """The gate's verdict: nothing blocks and every stack could be checked."""
    counts = summarize(results)
    return counts["blocking"] == 0 and counts["errors"] == 0


def _jsonable(value: Any) -> Any:
    """Plain JSON: a waiver's `expires` read from YAML is a `date`, which json cannot write."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(_jsonable(value))


def _one_line(value: Any) -> str:
    """For terminals and table cells: control characters gone, line breaks become spaces."""
    text = _LINE_BREAKS.sub("\n", _text(value)).replace("\t", " ")
    return _CONTROL.sub("", text).replace("\n", " ")


def _resource_label(finding: Finding) -> str:
    if finding.resource_name:
        return finding.resource_name
    if finding.urn:
        return finding.urn.rsplit("::", 1)[-1]
    return "stack"


def _waiver_justification(waiver: dict[str, Any]) -> str:
    reason = _text(waiver.get("reason")).strip() or "waived"
    ticket = _text(waiver.get("ticket")).strip()
    expires = _text(waiver.get("expires")).strip()
    details = ", ".join(part for part in (ticket, f"expires {expires}" if expires else "") if part)
    return f"{reason} ({details})" if details else reason


# ---------------------------------------------------------------------------------------------
# JSON


def to_json(results: list[StackResult]) -> dict[str, Any]:
    """The machine-readable report of `estate check --format json`."""
    ordered = _ordered(results)
    return {
        "summary": summarize(ordered),
        "stacks": [
            {
                "stack": r.stack,
                "source": r.source,
                "resources": r.resource_count,
                "seconds": round(r.seconds, 3),
                "error": r.error,
                "findings": [_jsonable(f.to_json()) for f in _findings(r)],
                "notApplicable": _jsonable(r.not_applicable),
                **({"diff": _jsonable(r.diff)} if r.diff is not None else {}),
            }
            for r in ordered
        ],
    }


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0


def _artifact_uri(source: str) -> str:
    """A repo-relative path as a relative URI reference (forward slashes, percent-encoded).

    A result without a source still needs a file for code scanning to show it against: the
    project file at the repository root is where every stack starts.
    """
    path = source.replace("\\", "/") or PROJECT_FILE
    while path.startswith("./"):
        path = path[2:]
    return quote(path, safe="/")


def _physical_location(source: str) -> dict[str, Any]:
    # Findings point at a whole stack (its config file or program), never a line: line 1 is what
    # code scanning needs to anchor an alert to the file.
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _artifact_uri(source)},
            "region": {"startLine": 1},
        }
    }


def _rule_catalogue(results: Sequence[StackResult]) -> dict[str, PolicyInfo]:
    """Every policy any stack ran, by name; the strictest enforcement seen wins.

    A policy can be advisory in dev and mandatory in prod: its rule's default level should be
    the one that blocks. Findings from policies no stack declared (the runner's own, such as an
    expired waiver) still need a rule, so one is made from the finding.
    """
    catalogue: dict[str, PolicyInfo] = {}
    for result in _ordered(results):
        for policy in result.policies:
            known = catalogue.get(policy.name)
            if known is None:
                catalogue[policy.name] = replace(policy, tags=list(policy.tags))
            elif ENFORCEMENT_STRICTNESS.get(policy.enforcement, 0) > ENFORCEMENT_STRICTNESS.get(
                known.enforcement, 0
            ):
                known.enforcement = policy.enforcement
    for finding in _all_findings(results):
        if finding.policy not in catalogue:
            catalogue[finding.policy] = PolicyInfo(
                name=finding.policy,
                description=finding.description,
                enforcement=finding.enforcement,
                severity=finding.severity,
            )
    return dict(sorted(catalogue.items()))


def _sarif_rule(policy: PolicyInfo) -> dict[str, Any]:
    description = policy.description.strip() or policy.name
    short = description.split("\n", 1)[0]
    enforcement = policy.enforcement
    configuration: dict[str, Any] = {
        "level": "none" if enforcement == "disabled" else ENFORCEMENT_LEVEL.get(enforcement, "note")
    }
    if enforcement == "disabled":
        configuration["enabled"] = False
    tags = list(dict.fromkeys(policy.tags))
    properties: dict[str, Any] = {"enforcement": enforcement, "kind": policy.kind}
    if policy.severity:
        properties["severity"] = policy.severity
    if policy.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[policy.severity]
        # GitHub only reads security-severity from rules tagged "security".
        if "security" not in tags:
            tags.append("security")
        properties["precision"] = "very-high"
    properties["tags"] = tags
    rule: dict[str, Any] = {
        "id": policy.name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": description},
        "help": {"text": policy.remediation.strip() or description},
        "defaultConfiguration": configuration,
        "properties": properties,
    }
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[!-~]+", policy.url):
        rule["helpUri"] = policy.url
    return rule


def finding_fingerprint(finding: Finding) -> str:
    """Stable across runs and message rewording: what code scanning uses to track one alert."""
    key = f"{finding.stack}|{finding.policy}|{finding.urn}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _sarif_result(finding: Finding, source: str, rule_index: int) -> dict[str, Any]:
    resource = _resource_label(finding)
    where = f"{resource} ({finding.resource_type})" if finding.resource_type else resource
    result: dict[str, Any] = {
        "ruleId": finding.policy,
        "ruleIndex": rule_index,
        "level": ENFORCEMENT_LEVEL.get(finding.enforcement, "note"),
        "message": {"text": f"[{finding.stack}] {where}: {finding.message}"},
        "locations": [_physical_location(source)],
        "partialFingerprints": {FINGERPRINT_KEY: finding_fingerprint(finding)},
        "properties": {
            key: value
            for key, value in (
                ("stack", finding.stack),
                ("enforcement", finding.enforcement),
                ("severity", finding.severity),
                ("blocking", finding.blocking),
                ("resourceType", finding.resource_type),
                ("pack", finding.pack),
            )
            if value != ""
        },
    }
    if finding.urn:
        result["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": finding.urn, "name": resource, "kind": "resource"}
        ]
    if finding.waived_by is not None:
        waiver = finding.waived_by
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": _waiver_justification(waiver),
        }
        if waiver:
            suppression["properties"] = _jsonable(waiver)
        result["suppressions"] = [suppression]
    return result


def to_sarif(
    results: list[StackResult], *, tool_version: str, information_uri: str = INFORMATION_URI
) -> dict[str, Any]:
    """A SARIF 2.1.0 log for GitHub code scanning (`upload-sarif`) and other SARIF viewers."""
    ordered = _ordered(results)
    catalogue = _rule_catalogue(ordered)
    rule_index = {name: index for index, name in enumerate(catalogue)}
    sarif_results = [
        _sarif_result(f, r.source, rule_index[f.policy]) for r in ordered for f in _findings(r)
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"[{r.stack}] could not be checked: {r.error}"},
            "locations": [_physical_location(r.source)],
            "properties": {"stack": r.stack},
        }
        for r in ordered
        if r.error
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version,
                        "informationUri": information_uri,
                        "rules": [_sarif_rule(p) for p in catalogue.values()],
                    }
                },
                "invocations": [invocation],
                "results": sarif_results,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# JUnit XML


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


# ---------------------------------------------------------------------------------------------
# Markdown (pull-request comment)

_MD_PUNCTUATION = re.compile(r"([|*_`\[\]~])")
_MD_CODE_SAFE = re.compile(r"[A-Za-z0-9.:/@$+=,-]+")
_MD_CELL_LIMIT = 400
_MD_SECTION_ROWS = {
    "Blocking": 50,
    "Advisories": 25,
    "Waived": 25,
    "Resource changes": 40,
    "Cost change (monthly USD estimate)": 40,
    "Errors": 20,
}
_MD_RESERVED_ROWS = 3
_MD_SUMMARY_ROWS = 100
COMMENT_MARKER = "<!-- ai-estate-policy-report -->"
"""Lets a pipeline find and update its earlier comment instead of adding another."""


def md_cell(value: Any, limit: int = _MD_CELL_LIMIT) -> str:
    """Text made safe for one GitHub markdown table cell.

    HTML-significant characters and backslashes become entities (so `<unknown>` shows and a
    trailing backslash cannot escape the column separator); `|` and emphasis characters are
    backslash-escaped; line breaks become `<br>`; control characters are dropped.
    """
    text = _LINE_BREAKS.sub("\n", _text(value)).replace("\t", " ")
    text = _CONTROL.sub("", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = (
        text.replace("&", "&amp;").replace("\\", "&#92;").replace("<", "&lt;").replace(">", "&gt;")
    )
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    return text.replace("\n", "<br>")


def _md_code(value: str) -> str:
    """An identifier in a code span when that is safe, else an escaped plain cell."""
    if value and len(value) <= _MD_CELL_LIMIT and _MD_CODE_SAFE.fullmatch(value):
        return f"`{value}`"
    return md_cell(value)


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(header: Sequence[str]) -> list[str]:
    return [_md_row(header), _md_row("---" for _ in header)]


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _md_verdict(results: Sequence[StackResult], title: str) -> str:
    counts = summarize(results)
    tally = ", ".join(
        [
            _plural(counts["blocking"], "blocking finding"),
            _plural(counts["advisories"], "advisory", "advisories"),
            _plural(counts["waived"], "waived finding"),
            _plural(counts["errors"], "stack error"),
        ]
    )
    scope = f"{_plural(counts['stacks'], 'stack')}, {_plural(counts['resources'], 'resource')}"
    mark, word = ("✅", "passed") if passed(results) else ("❌", "failed")
    return f"## {mark} {_one_line(title)}: {word} — {tally} ({scope})"


def _md_summary(results: Sequence[StackResult]) -> list[str]:
    lines = _md_table(["Stack", "Resources", "Blocking", "Advisories", "Waived"])
    for result in results[:_MD_SUMMARY_ROWS]:
        if result.error:
            mark = "💥"
        elif result.blocking:
            mark = "❌"
        elif result.advisories:
            mark = "⚠️"
        else:
            mark = "✅"
        lines.append(
            _md_row(
                [
                    f"{mark} {_md_code(result.stack)}",
                    "error" if result.error else str(result.resource_count),
                    str(len(result.blocking)),
                    str(len(result.advisories)),
                    str(len(result.waived)),
                ]
            )
        )
    if len(results) > _MD_SUMMARY_ROWS:
        lines.append("")
        lines.append(f"... and {len(results) - _MD_SUMMARY_ROWS} more stacks")
    return lines


def _md_finding_row(finding: Finding) -> list[str]:
    return [
        _md_code(finding.stack),
        _md_code(finding.policy),
        _md_code(_resource_label(finding)),
    ]


def _md_sections(results: Sequence[StackResult]) -> list[tuple[str, list[str], list[str]]]:
    """(heading, table header, rows) for each non-empty section, in the comment's order."""
    findings = _all_findings(results)
    finding_header = ["Stack", "Policy", "Resource", "Message"]
    sections = [
        (
            "Blocking",
            finding_header,
            [
                _md_row([*_md_finding_row(f), md_cell(f.message)])
                for f in findings
                if _status(f) == "blocking"
            ],
        ),
        (
            "Advisories",
            finding_header,
            [
                _md_row([*_md_finding_row(f), md_cell(f.message)])
                for f in findings
                if _status(f) == "advisory"
            ],
        ),
        (
            "Waived",
            ["Stack", "Policy", "Resource", "Reason", "Ticket", "Expires"],
            [
                _md_row(
                    [
                        *_md_finding_row(f),
                        md_cell((f.waived_by or {}).get("reason")),
                        md_cell((f.waived_by or {}).get("ticket"), 100),
                        md_cell((f.waived_by or {}).get("expires"), 40),
                    ]
                )
                for f in findings
                if _status(f) == "waived"
            ],
        ),
        (
            "Resource changes",
            ["Stack", "Change", "Type", "Resource", "Detail"],
            [
                _md_row(
                    [
                        _md_code(r.stack),
                        md_cell(c.get("change"), 20),
                        _md_code(str(c.get("type", ""))),
                        _md_code(str(c.get("name", ""))),
                        md_cell(c.get("detail"), 200),
                    ]
                )
                for r in _ordered(results)
                if r.diff
                for c in r.diff.get("changes", [])
                if c.get("change") != "changed" or c.get("detail")
            ],
        ),
        (
            "Cost change (monthly USD estimate)",
            ["Stack", "Idle", "Typical", "Peak"],
            [
                _md_row(
                    [_md_code(r.stack)]
                    + [f"{r.diff['costDelta'][k]:+,.0f}" for k in ("idle", "typical", "peak")]
                )
                for r in _ordered(results)
                if r.diff and r.diff.get("costDelta") and any(r.diff["costDelta"].values())
            ],
        ),
        (
            "Errors",
            ["Stack", "Source", "Error"],
            [
                _md_row([_md_code(r.stack), _md_code(r.source), md_cell(r.error, 1000)])
                for r in _ordered(results)
                if r.error
            ],
        ),
    ]
    return [section for section in sections if section[2]]


def to_markdown(
    results: list[StackResult],
    *,
    title: str = "AI Estate policy gate",
    max_chars: int = GITHUB_COMMENT_LIMIT - 1_536,
) -> str:
    """A pull-request comment: verdict, stack summary, then blocking, advisories, waived, errors.

    Sections are cut with a "... and N more" line to fit `max_chars` (default: GitHub's comment
    limit less a margin for a pipeline that wraps the comment); earlier sections take precedence.
    """
    ordered = _ordered(results)
    head = [_md_verdict(ordered, title), "", *_md_summary(ordered)]
    tail = ["", COMMENT_MARKER]
    sections = _md_sections(ordered)

    def length(lines: Iterable[str]) -> int:
        return sum(len(line) + 1 for line in lines)

    def more(count: int) -> list[str]:
        return ["", f"... and {count} more"]

    def opening(heading: str, columns: Sequence[str], rows: int) -> list[str]:
        return ["", f"### {heading} ({rows})", "", *_md_table(columns)]

    # Each section not yet written keeps room for its heading, table header, first rows and
    # "... and N more" line, so one long section cannot crowd the later ones out of the comment.
    reserves = [
        length(opening(h, c, len(r)) + r[:_MD_RESERVED_ROWS] + more(len(r))) for h, c, r in sections
    ]
    body: list[str] = []
    for index, (heading, columns, rows) in enumerate(sections):
        available = max_chars - length(head) - length(tail) - length(body)
        available -= sum(reserves[index + 1 :]) + length(more(len(rows)))
        chunk = opening(heading, columns, len(rows))
        used = length(chunk)
        shown = 0
        for row in rows[: _MD_SECTION_ROWS[heading]]:
            if used + length([row]) > available:
                break
            chunk.append(row)
            used += length([row])
            shown += 1
        if shown < len(rows):
            chunk += more(len(rows) - shown)
        body += chunk
    text = "\n".join([*head, *body, *tail]) + "\n"
    if len(text) > max_chars:  # only a summary table of pathological stack names gets here
        text = text[: max_chars - 40].rsplit("\n", 1)[0] + "\n\n... (truncated)\n"
    return text


# ---------------------------------------------------------------------------------------------
# Terminal

_STATUS_STYLE = {"blocking": "bold red", "advisory": "yellow", "waived": "dim"}
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


_WIDE_CONSOLE = 110
"""From this width on the summary also shows each stack's source file and policy count."""


def render_table(results: list[StackResult], console: Console) -> None:
    """The terminal view of `estate check`: per-stack summary, then findings, blocking first.

    Stack errors and the verdict line are the CLI's to print (errors go to stderr there). The
    layout fits an 80-column CI log: counts never wrap, and the findings table stacks related
    fields (status over severity, stack over policy, name over type) instead of adding columns.
    """
    ordered = _ordered(results)
    wide = console.width >= _WIDE_CONSOLE
    summary = Table(
        title="Policy check", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD
    )
    summary.add_column("Stack", overflow="fold")
    if wide:
        summary.add_column("Source", style="dim", overflow="fold")
    counts = ["Resources", "Policies", "Blocking", "Advisories", "Waived", "Time"]
    for column in counts if wide else [c for c in counts if c != "Policies"]:
        summary.add_column(column, justify="right", no_wrap=True)
    summary.add_column("Status", no_wrap=True)
    for result in ordered:
        if result.error:
            status = Text("error", style="bold red")
        elif result.blocking:
            status = Text("blocked", style="bold red")
        elif result.advisories:
            status = Text("advisories", style="yellow")
        else:
            status = Text("passed", style="green")
        cells: list[Text | str] = [Text(_one_line(result.stack))]
        if wide:
            cells.append(Text(_one_line(result.source)))
        cells.append("-" if result.error else str(result.resource_count))
        if wide:
            cells.append(str(len(result.policies)))
        cells += [
            Text(str(len(result.blocking)), style="bold red" if result.blocking else ""),
            Text(str(len(result.advisories)), style="yellow" if result.advisories else ""),
            Text(str(len(result.waived)), style="dim"),
            f"{result.seconds:.1f}s",
            status,
        ]
        summary.add_row(*cells)
    # soft_wrap off: a console made with soft_wrap=True would let rows run past its width.
    console.print(summary, soft_wrap=False)

    # Across stacks, not per stack: everything that blocks is read before any advisory.
    findings = sorted(_all_findings(ordered), key=lambda f: _STATUS_ORDER[_status(f)])
    if not findings:
        return
    table = Table(title="Findings", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("Status", no_wrap=True)
    table.add_column("Stack / policy", overflow="fold", max_width=36)
    table.add_column("Resource", overflow="fold", max_width=36)
    table.add_column("Message", overflow="fold", ratio=1, min_width=20)
    for finding in findings:
        status = _status(finding)
        message = Text(_one_line(finding.message), style="dim" if status == "waived" else "")
        if finding.waived_by is not None:
            message.append(f"\nwaived: {_one_line(_waiver_justification(finding.waived_by))}")
        resource = Text(_one_line(_resource_label(finding)))
        if finding.resource_type:
            resource.append(f"\n{_one_line(finding.resource_type)}", style="dim")
        table.add_row(
            Text.assemble(
                (status, _STATUS_STYLE[status]),
                "\n",
                (finding.severity or "-", _SEVERITY_STYLE.get(finding.severity, "dim")),
            ),
            Text.assemble(
                _one_line(finding.stack),
                "\n",
                (_one_line(finding.policy), "bold" if status == "blocking" else ""),
            ),
            resource,
            message,
        )
    console.print(table, soft_wrap=False)


def _children_by_parent(inventory: Inventory) -> tuple[list[Resource], dict[str, list[Resource]]]:
    """Roots (no parent, or a parent the inventory does not hold) and each URN's children."""
    known = {r.urn for r in inventory.resources}
    roots: list[Resource] = []
    children: dict[str, list[Resource]] = defaultdict(list)
    for resource in inventory.resources:
        if resource.parent and resource.parent in known and resource.parent != resource.urn:
            children[resource.parent].append(resource)
        else:
            roots.append(resource)
    return roots, children


def _descendants(urn: str, children: dict[str, list[Resource]]) -> list[Resource]:
    found: list[Resource] = []
    pending, seen = [urn], {urn}
    while pending:
        for child in children.get(pending.pop(), []):
            if child.urn not in seen:
                seen.add(child.urn)
                found.append(child)
                pending.append(child.urn)
    return found


_TIMES = " \N{MULTIPLICATION SIGN} "
STACK_TYPE = "pulumi:pulumi:Stack"


def _type_summary(counts: Counter[str], limit: int = 4) -> str:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    parts = [f"{n}{_TIMES}{t}" for t, n in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f"+{_plural(len(ranked) - limit, 'more type')}")
    return ", ".join(parts)


def inventory_tree(inventory: Inventory, *, collapse_over: int = 8) -> Tree:
    """The resources of one stack as a rich Tree, by parent.

    Components are branches labelled with how many resources of each type they hold; more than
    `collapse_over` siblings of one type are shown as one line: the count, a times sign, the type.
    """
    roots, children = _children_by_parent(inventory)
    descendants: dict[str, Counter[str]] = {}

    def counts_for(urn: str) -> Counter[str]:
        if urn not in descendants:
            descendants[urn] = Counter(r.type for r in _descendants(urn, children))
        return descendants[urn]

    def label(resource: Resource) -> Text:
        text = Text.assemble(
            (_one_line(resource.name), "bold" if children.get(resource.urn) else ""),
            "  ",
            (_one_line(resource.type), "cyan" if resource.custom else "magenta"),
        )
        if resource.protect:
            text.append("  protected", style="yellow")
        counts = counts_for(resource.urn)
        if counts:
            total = sum(counts.values())
            text.append(
                f"  ({_plural(total, 'resource')}: {_one_line(_type_summary(counts))})",
                style="dim",
            )
        return text

    def add(node: Tree, siblings: list[Resource], seen: set[str]) -> None:
        by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in siblings:
            by_type[resource.type].append(resource)
        # Branches (components) first, then leaves; each by type and name, for a stable view.
        ordered = sorted(
            by_type.items(),
            key=lambda item: (not any(children.get(r.urn) for r in item[1]), item[0]),
        )
        for resource_type, group in ordered:
            if len(group) > collapse_over:
                inner = sum(sum(counts_for(r.urn).values()) for r in group)
                text = Text.assemble(
                    (f"{len(group)}{_TIMES}", "bold"), (_one_line(resource_type), "cyan")
                )
                if inner:
                    text.append(f"  (+{_plural(inner, 'resource')} inside)", style="dim")
                node.add(text)
                continue
            for resource in sorted(group, key=lambda r: (r.name, r.urn)):
                if resource.urn in seen:
                    continue
                seen.add(resource.urn)
                branch = node.add(label(resource))
                add(branch, children.get(resource.urn, []), seen)

    title = Text.assemble(
        ("stack ", "dim"),
        (_one_line(inventory.stack), "bold"),
        (f"  ({_one_line(inventory.project)})", "dim") if inventory.project else "",
    )
    tree = Tree(title, guide_style="dim")
    # The stack resource is the title already: its children are the top level.
    top: list[Resource] = []
    for resource in roots:
        if resource.type == STACK_TYPE:
            top += children.get(resource.urn, [])
        else:
            top.append(resource)
    # Resources whose parents form a cycle hang from no root; show them rather than drop them.
    reachable = {r.urn for r in roots}
    for root in roots:
        reachable.update(r.urn for r in _descendants(root.urn, children))
    top += [r for r in inventory.resources if r.urn not in reachable]
    add(tree, top, set())
    return tree


def render_inventory_tree(
    inventory: Inventory, console: Console, *, collapse_over: int = 8
) -> None:
    """The view of `estate preview --format table`: the resource tree, then a total line."""
    # soft_wrap off: a console made with soft_wrap=True would cut long labels at its width.
    console.print(inventory_tree(inventory, collapse_over=collapse_over), soft_wrap=False)
    custom = sum(1 for r in inventory.resources if r.custom)
    by_type = Counter(r.type for r in inventory.resources)
    console.print(
        Text.assemble(
            ("Total: ", "bold"),
            f"{_plural(len(inventory.resources), 'resource')} "
            f"({custom} custom, {len(inventory.resources) - custom} components) "
            f"of {_plural(len(by_type), 'type')} in stack {_one_line(inventory.stack)}",
        )
    )


# ---------------------------------------------------------------------------------------------
# Files


def write_reports(
    results: list[StackResult],
    *,
    json_path: str | Path | None = None,
    sarif_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    tool_version: str,
) -> list[Path]:
    """Write each requested report (UTF-8, parent folders created); returns the paths written."""

    def dump(data: dict[str, Any]) -> str:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    writers = [
        (json_path, lambda: dump(to_json(results))),
        (sarif_path, lambda: dump(to_sarif(results, tool_version=tool_version))),
        (junit_path, lambda: to_junit(results)),
        (markdown_path, lambda: to_markdown(results)),
    ]
    written: list[Path] = []
    for destination, render in writers:
        if destination is None:
            continue
        path = Path(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate (text mis-decoded upstream) must not lose the whole report.
        path.write_bytes(render().encode("utf-8", "replace"))
        written.append(path)
    return written
