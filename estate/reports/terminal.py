"""The terminal view of `estate check`: a per-stack summary, then the findings, blocking first."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from estate.offline.model import StackResult
from estate.reports.common import (
    _STATUS_ORDER,
    _all_findings,
    _one_line,
    _ordered,
    _resource_label,
    _status,
    _waiver_justification,
)

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
    # below the wide layout the stack name keeps the room: no policy count, no time
    for column in counts if wide else [c for c in counts if c not in ("Policies", "Time")]:
        summary.add_column(column, justify="right", no_wrap=True)
    summary.add_column("Status", no_wrap=True)
    for result in ordered:
        if result.error:
            verdict = Text("error", style="bold red")
        elif result.blocking:
            verdict = Text("blocked", style="bold red")
        elif result.advisories:
            verdict = Text("advisories", style="yellow")
        else:
            verdict = Text("passed", style="green")
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
            *([f"{result.seconds:.1f}s"] if wide else []),
            verdict,
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
