"""The markdown pull-request comment: verdict, summary and findings, within GitHub's comment limit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from estate.offline.model import Finding, StackResult
from estate.reports.common import (
    _CONTROL,
    _LINE_BREAKS,
    GITHUB_COMMENT_LIMIT,
    _all_findings,
    _one_line,
    _ordered,
    _plural,
    _resource_label,
    _status,
    _text,
    passed,
    summarize,
)
from estate.reports.readiness import delta_text, weakest

_MD_PUNCTUATION = re.compile(r"([|*_`\[\]~])")
_MD_CODE_SAFE = re.compile(r"[A-Za-z0-9.:/@$+=,-]+")
_MD_CELL_LIMIT = 400
_MD_SECTION_ROWS = {
    "Blocking": 50,
    "Advisories": 25,
    "Waived": 25,
    "Resource changes": 40,
    "Cost change (monthly USD estimate)": 40,
    "Readiness (BU stacks, 0-100)": 40,
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
            "Readiness (BU stacks, 0-100)",
            ["Stack", "Score", "Change vs base", "Level", "Weakest capability"],
            [
                _md_row(
                    [
                        _md_code(r.stack),
                        str(r.readiness["score"]),
                        md_cell(delta_text(r.readiness) or "-", 40),
                        md_cell(r.readiness["level"], 20),
                        md_cell(weakest(r.readiness), 200),
                    ]
                )
                for r in _ordered(results)
                if r.readiness
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
