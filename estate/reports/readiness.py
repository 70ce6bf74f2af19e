"""The readiness scorecard in the terminal, as JSON and as markdown (`estate readiness`).

Pure functions of `estate.analysis.readiness.Scorecard`s; the PR comment's short readiness
section is in `markdown.py` and reads the scorecard JSON each BU `StackResult` carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from estate.analysis.readiness import CAPABILITIES, Item, Scorecard
from estate.reports.common import _one_line

MARKS = {"met": "✔", "partial": "◐", "missing": "✘", "unknown": "?"}
"""One character per status, the same in every format."""

_STYLE = {"met": "green", "partial": "yellow", "missing": "red", "unknown": "dim"}


def _what(item: Item, limit: int = 3) -> str:
    """Evidence when met; otherwise what is missing, and which key adds it."""
    if item.status == "met":
        shown = ", ".join(
            (f"{e.label} ({e.key})" if e.urn else e.key) + (f": {e.detail}" if e.detail else "")
            for e in item.evidence[:limit]
        )
        more = len(item.evidence) - limit
        return shown + (f" and {more} more" if more > 0 else "")
    text = item.missing
    if item.fix:
        text += f" → add {item.fix}"
    return text


def to_json(cards: Sequence[Scorecard]) -> dict[str, Any]:
    """`{"stacks": [scorecard...]}`, stacks by name."""
    return {"stacks": [c.to_json() for c in sorted(cards, key=lambda c: c.stack)]}


def render_readiness(cards: Sequence[Scorecard], console: Console) -> None:
    """One table per BU stack: capability scores, then every item with its proof or gap."""
    for card in sorted(cards, key=lambda c: c.stack):
        caps = card.capability_scores()
        console.print(
            Text(f"{card.stack}: readiness {card.score}/100 ({card.level})", style="bold"),
        )
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False)
        table.add_column("", no_wrap=True)
        table.add_column("Item", overflow="fold", ratio=2)
        table.add_column("Evidence, or what is missing", overflow="fold", ratio=5)
        for cap, title in CAPABILITIES:
            score = caps[cap]
            table.add_row(
                "", Text(f"{title} ({'-' if score is None else score})", style="bold"), ""
            )
            for item in [i for i in card.items if i.capability == cap]:
                table.add_row(
                    Text(MARKS[item.status], style=_STYLE[item.status]),
                    Text(item.title),
                    Text(_one_line(_what(item, limit=2))),
                )
        console.print(table)


def _md(text: str) -> str:
    from estate.reports.markdown import md_cell

    return md_cell(text)


def to_markdown(cards: Sequence[Scorecard]) -> str:
    """The scorecards as a markdown document (one section per stack)."""
    lines = ["# AI Estate readiness", ""]
    lines += ["| Stack | Score | Level | " + " | ".join(t for _, t in CAPABILITIES) + " |"]
    lines += ["|" + "---|" * (3 + len(CAPABILITIES))]
    for card in sorted(cards, key=lambda c: c.stack):
        caps = card.capability_scores()
        cells = ["-" if caps[c] is None else str(caps[c]) for c, _ in CAPABILITIES]
        lines.append(
            f"| `{card.stack}` | {card.score} | {card.level} | " + " | ".join(cells) + " |"
        )
    for card in sorted(cards, key=lambda c: c.stack):
        lines += ["", f"## `{card.stack}`: {card.score}/100 ({card.level})", ""]
        lines += ["| | Capability | Item | Evidence, or what is missing |", "|---|---|---|---|"]
        for cap, title in CAPABILITIES:
            for item in [i for i in card.items if i.capability == cap]:
                lines.append(
                    f"| {MARKS[item.status]} | {title} | {_md(item.title)} | {_md(_what(item))} |"
                )
    return "\n".join(lines) + "\n"


def delta_text(readiness: Mapping[str, Any]) -> str:
    """The PR comment's score change: `+8 (52 → 60)`, `new`, or `=` when unchanged."""
    if "base" not in readiness:
        return ""
    base = readiness.get("base")
    if base is None:
        return "new stack"
    change = int(base["comparableScore"]) - int(base["score"])
    sign = f"{change:+d}" if change else "±0"
    return f"{sign} ({base['score']} → {base['comparableScore']})"


def weakest(readiness: Mapping[str, Any]) -> str:
    """The capability with the lowest score (what to invest in next)."""
    scored = [c for c in readiness.get("capabilities", []) if c.get("score") is not None]
    if not scored:
        return ""
    low = min(scored, key=lambda c: (c["score"], c["id"]))
    gaps = [i["title"] for i in low["items"] if i["status"] in ("missing", "partial")]
    return f"{low['title']} {low['score']}" + (f": {gaps[0]}" if gaps else "")
