"""`estate report --html FILE`: the whole estate on one self-contained page.

One HTML file with inline CSS and inline SVG charts drawn in Python (`estate.reports.svg`): no
script, stylesheet, font or image is fetched, so the file works offline, as a CI artifact and
attached to a ticket. For the estate: the BU-to-platform graph, GPU capacity per BU and GPU
model against each BU's quota, and the GPU pools' cost at their caps against each budget. Per
stack: the readiness scorecard (BU stacks), the policy results, the monthly cost (idle /
typical / peak) broken down by component, and the deploy critical path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from estate.analysis import cost as cost_model
from estate.analysis.capacity import BuCapacity, bu_capacity
from estate.analysis.critical_path import critical_path
from estate.analysis.readiness import CAPABILITIES, Scorecard, platform_of, scorecards
from estate.offline.model import StackResult
from estate.reports.common import _findings, _ordered, _resource_label, _status, passed, summarize
from estate.reports.readiness import MARKS, _what
from estate.reports.svg import Step, esc, gantt, graph, score_bars, stacked_bars

CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f3b57; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
nav { padding: 8px 24px; background: #e8eef4; }
nav a { margin-right: 14px; color: #1f3b57; }
main { padding: 8px 24px 32px 24px; max-width: 1100px; }
section.stack, section.estate { background: #fff; border: 1px solid #ddd; border-radius: 6px;
  padding: 12px 18px; margin: 16px 0; }
h2 { margin: 4px 0 8px 0; } h3 { margin: 14px 0 6px 0; font-size: 15px; color: #1f3b57; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; border-bottom: 1px solid #eee; padding: 4px 6px; vertical-align: top; }
th { background: #f3f5f7; }
.score { font-size: 28px; font-weight: bold; }
.mark-met { color: #2e7d32; } .mark-partial { color: #b08800; } .mark-missing { color: #c62828; }
.mark-unknown { color: #888; }
.blocking { color: #c62828; font-weight: bold; } .advisory { color: #b08800; } .waived { color: #888; }
.note { color: #555; font-size: 12px; }
figure { margin: 6px 0 12px 0; } figcaption { font-size: 12px; color: #555; }
"""


def _anchor(stack: str) -> str:
    return "stack-" + "".join(c if c.isalnum() or c == "-" else "_" for c in stack)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- estate-wide ------------------------------------------------------------------------------


def _estate_graph(results: Sequence[StackResult], cards: dict[str, Scorecard]) -> str:
    platforms, bus = [], []
    for r in results:
        if r.inventory is None:
            continue
        kind = r.inventory.config.get("ai-estate:kind")
        env = r.inventory.config.get("ai-estate:environment", "")
        if kind == "bu":
            card = cards.get(r.stack)
            caption = f"{env} · readiness {card.score}" if card else str(env)
            bus.append((r.stack, caption, platform_of(r.inventory)))
        else:
            platforms.append((r.stack, f"{env} · {r.resource_count} resources"))
    order = {name: i for i, (name, _caption) in enumerate(platforms)}
    bus.sort(key=lambda b: (order.get(b[2] or "", len(order)), b[0]))  # edges need not cross
    svg = graph("graph", platforms, bus)
    return _figure(svg, "BU stacks (right) and the platform stack each reads (left).")


def _capacity_charts(capacities: list[BuCapacity]) -> str:
    if not capacities:
        return '<p class="note">No BU stack to chart.</p>'
    names = [c.stack for c in capacities]
    models = sorted({m for c in capacities for m in c.by_model()})
    series = {m: [c.by_model().get(m, 0.0) for c in capacities] for m in models}
    quotas = [{"quota": c.quota_gpus} if c.quota_gpus is not None else {} for c in capacities]
    gpus = stacked_bars(
        "gpu-capacity",
        names,
        series or {"no GPU pools": [0.0 for _ in names]},
        unit="",
        markers=quotas,
        label="GPUs at pool caps per BU and GPU model",
    )
    peak = [c.gpu_peak_usd or 0.0 for c in capacities]
    budgets = [{"budget": c.budget_usd} if c.budget_usd is not None else {} for c in capacities]
    money = stacked_bars(
        "gpu-budget",
        names,
        {"GPU pools at their caps (On-Demand)": peak},
        unit="$",
        markers=budgets,
        label="GPU cost at caps against budget",
    )
    rows = [
        [
            esc(c.stack),
            esc(", ".join(f"{m} {n:g}" for m, n in c.by_model().items()) or "none"),
            esc("-" if c.quota_gpus is None else f"{c.quota_gpus:g}"),
            esc("-" if c.gpu_peak_usd is None else f"{c.gpu_peak_usd:,.0f}"),
            esc("-" if c.budget_usd is None else f"{c.budget_usd:,.0f}"),
        ]
        for c in capacities
    ]
    return (
        _figure(gpus, "Physical GPUs each BU's pools can hold at their caps, by GPU model; the "
                "black tick is the BU namespace's GPU quota.")
        + _figure(money, "Monthly cost of every GPU pool at its cap, priced On-Demand (what the "
                  "budget policy judges); the black tick is the BU's monthly budget (USD).")
        + _table(["BU stack", "GPUs at caps by model", "Quota (GPUs)", "GPU peak USD/month",
                  "Budget USD/month"], rows)
    )  # fmt: skip


# -- per stack --------------------------------------------------------------------------------


def _readiness(card: Scorecard) -> str:
    caps = card.capability_scores()
    bars = score_bars("readiness", [(title, caps[cap]) for cap, title in CAPABILITIES])
    rows = []
    for cap, title in CAPABILITIES:
        for item in [i for i in card.items if i.capability == cap]:
            mark = f'<span class="mark-{item.status}">{MARKS[item.status]} {item.status}</span>'
            rows.append([mark, esc(title), esc(item.title), esc(_what(item))])
    return (
        f'<h3>Readiness</h3><p><span class="score" data-score="{card.score}">{card.score}</span>'
        f"/100 · {esc(card.level)}</p>"
        + _figure(bars, "Capability scores (0-100): met items count 1, partial ½, missing 0.")
        + _table(["", "Capability", "Item", "Evidence, or what is missing"], rows)
    )


def _policy(result: StackResult) -> str:
    if result.error:
        return f'<h3>Policy results</h3><p class="blocking">{esc(result.error)}</p>'
    counts = (
        f"{len(result.policies)} policies · {len(result.blocking)} blocking · "
        f"{len(result.advisories)} advisory · {len(result.waived)} waived"
    )
    findings = _findings(result)
    if not findings:
        return f'<h3>Policy results</h3><p class="policy-summary">{esc(counts)}: passed.</p>'
    rows = [
        [
            f'<span class="{_status(f)}">{esc(_status(f))}</span>',
            esc(f.severity),
            esc(f.policy),
            esc(_resource_label(f)),
            esc(f.message),
        ]
        for f in findings[:50]
    ]
    more = f'<p class="note">... and {len(findings) - 50} more</p>' if len(findings) > 50 else ""
    return (
        f'<h3>Policy results</h3><p class="policy-summary">{esc(counts)}</p>'
        + _table(["Status", "Severity", "Policy", "Resource", "Message"], rows)
        + more
    )


def _cost(result: StackResult) -> str:
    assert result.inventory is not None
    try:
        estimate = cost_model.cost_for(result.inventory)
    except cost_model.CostError as exc:
        return f'<h3>Monthly cost</h3><p class="note">No estimate: {esc(exc)}</p>'
    components = cost_model.by_component(estimate)
    series = {name: [row[s] for s in cost_model.SCENARIOS] for name, row in components.items()}
    svg = stacked_bars(
        "cost", list(cost_model.SCENARIOS), series, unit="$", label="monthly cost by component"
    )
    line = cost_model.summary_line(estimate)
    return "<h3>Monthly cost</h3>" + _figure(svg, f"{line}; stacked by estate component.")


def _critical_path(result: StackResult) -> str:
    assert result.inventory is not None
    path = critical_path(result.inventory)
    steps, start = [], 0.0
    for step in path["chain"]:
        name = step["urn"].rsplit("::", 1)[-1]
        steps.append(Step(name, start, float(step["minutes"]), step["type"]))
        start += float(step["minutes"])
    svg = gantt("critical-path", steps)
    caption = f"{path['criticalPathMinutes']:.1f} minutes over {len(steps)} steps, in order."
    return "<h3>Deploy critical path</h3>" + _figure(svg, caption)


def _stack_section(result: StackResult, card: Scorecard | None) -> str:
    inv = result.inventory
    kind = env = ""
    if inv is not None:
        kind = str(inv.config.get("ai-estate:kind") or "")
        env = str(inv.config.get("ai-estate:environment") or "")
    head = (
        f'<section class="stack" id="{_anchor(result.stack)}" data-stack="{esc(result.stack)}">'
        f'<h2>{esc(result.stack)}</h2><p class="note">{esc(kind)} stack · {esc(env)} · '
        f"{esc(result.source)} · {result.resource_count} resources</p>"
    )
    if inv is None:
        return head + _policy(result) + "</section>"
    parts = [_readiness(card)] if card is not None else []
    parts += [_policy(result), _cost(result), _critical_path(result)]
    return head + "".join(parts) + "</section>"


def to_html(
    results: list[StackResult],
    *,
    title: str = "AI Estate report",
    generated: dt.datetime | None = None,
) -> str:
    """The report page for checked stacks (each with its inventory and policy results)."""
    ordered = _ordered(results)
    # platforms first, as `estate stacks` lists them
    ordered.sort(key=lambda r: (not r.stack.startswith("platform-"), r.stack))
    cards = scorecards(ordered)
    outputs: dict[str, Any] = {r.stack: r.inventory.outputs for r in ordered if r.inventory}
    capacities = []
    for r in ordered:
        if r.inventory is not None and r.stack in cards:
            platform_outputs = outputs.get(platform_of(r.inventory) or "") or {}
            slices = platform_outputs.get("timeSlicingReplicas")
            capacities.append(bu_capacity(r.inventory, int(slices) if slices else None))
    counts = summarize(ordered)
    verdict = "passed" if passed(ordered) else "failed"
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{_anchor(r.stack)}">{esc(r.stack)}</a>' for r in ordered)
    readiness_rows = [
        [esc(s), f"{c.score}", esc(c.level)]
        + [("-" if v is None else str(v)) for v in c.capability_scores().values()]
        for s, c in sorted(cards.items())
    ]
    estate = (
        '<section class="estate" id="estate"><h2>Estate</h2>'
        f"<p>Policy gate {esc(verdict)}: {counts['stacks']} stacks, {counts['resources']} "
        f"resources, {counts['blocking']} blocking, {counts['advisories']} advisory, "
        f"{counts['waived']} waived, {counts['errors']} errors.</p>"
        + _table(["BU stack", "Readiness", "Level", *(t for _, t in CAPABILITIES)], readiness_rows)
        + "<h3>Stacks</h3>"
        + _estate_graph(ordered, cards)
        + "<h3>GPU capacity, quota and budget per BU</h3>"
        + _capacity_charts(capacities)
        + "</section>"
    )
    sections = "".join(_stack_section(r, cards.get(r.stack)) for r in ordered)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><div>Generated {esc(when)} by estate report, offline "
        "from the stack files.</div></header>"
        f'<nav><a href="#estate">Estate</a>{nav}</nav><main>{estate}{sections}</main>'
        "</body></html>\n"
    )
