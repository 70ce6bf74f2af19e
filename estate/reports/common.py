"""What every report format shares: the tool's identity, one ordering of stacks and findings, counts, and text hygiene."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from estate.offline.model import Finding, StackResult

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


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
