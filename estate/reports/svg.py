"""Inline SVG charts for the HTML report, drawn in Python: no script, font or URL is loaded.

Every chart is one `<svg class="chart" data-chart="<kind>">` whose marks (bars, segments,
markers, nodes) carry `class="mark"` and a `data-value`, and a `<title>` a browser shows on
hover; the browser test asserts on exactly those. Text is escaped here, once.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
"""Tableau 10: distinguishable, and readable by most colour-blind readers."""

STATUS_COLOURS = {
    "met": "#59a14f",
    "partial": "#edc948",
    "missing": "#e15759",
    "unknown": "#bab0ac",
}

FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(kind: str, width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" data-chart="{esc(kind)}" role="img" aria-label="{esc(label)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f"{FONT}>" + "".join(body) + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, value: float, tip: str) -> str:
    return (
        f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
        f'fill="{fill}" data-value="{value:g}"><title>{esc(tip)}</title></rect>'
    )


def _text(x: float, y: float, text: object, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{esc(text)}</text>'


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def amount(value: float, unit: str) -> str:
    """`$1,250` for dollars (`unit="$"`), `12 min` otherwise."""
    number = f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"
    return f"${number}" if unit == "$" else f"{number}{unit}"


def _axis(x0: float, width: float, y: float, top: float, high: float, unit: str) -> list[str]:
    body = []
    for i in range(5):
        value = high * i / 4
        x = x0 + width * i / 4
        body.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(x, y + 14, amount(value, unit), "middle", 'fill="#555"'))
    return body


def stacked_bars(
    kind: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    unit: str = "",
    label: str = "",
    markers: Sequence[Mapping[str, float]] | None = None,
    width: float = 720,
) -> str:
    """Horizontal bars, one per category, stacked by series (legend below). `markers[row]`
    draws a labelled tick across that row's bar (its quota, its budget)."""
    left, right, bar, gap = 120.0, 60.0, 22.0, 10.0
    top = 10.0
    plot = width - left - right
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    marks = list(markers or [{} for _ in categories])
    high = _nice_max(max([*totals, *(v for m in marks for v in m.values()), 0.0]))
    bottom = top + len(categories) * (bar + gap)
    body = _axis(left, plot, bottom, top, high, unit)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for row, category in enumerate(categories):
        y = top + row * (bar + gap)
        body.append(_text(left - 8, y + bar * 0.7, category, "end"))
        x = left
        for name, values in series.items():
            value = values[row]
            if value <= 0:
                continue
            w = plot * value / high
            tip = f"{category} · {name}: {amount(value, unit)}"
            body.append(_rect(x, y, w, bar, colours[name], value, tip))
            x += w
        body.append(_text(x + 4, y + bar * 0.7, amount(totals[row], unit), extra='fill="#333"'))
    for row, row_marks in enumerate(marks):
        y = top + row * (bar + gap)
        for name, value in row_marks.items():
            x = left + plot * value / high
            body.append(
                f'<line class="mark marker" x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x:.1f}" '
                f'y2="{y + bar + 3:.1f}" stroke="#222" stroke-width="3" data-value="{value:g}">'
                f"<title>{esc(categories[row])} {esc(name)}: {esc(amount(value, unit))}</title></line>"
            )
    legend_y = bottom + 30
    x = left
    for name, colour in colours.items():
        body.append(
            f'<rect x="{x:.1f}" y="{legend_y - 9:.1f}" width="10" height="10" fill="{colour}"/>'
        )
        body.append(_text(x + 14, legend_y, name))
        x += 24 + 7 * len(name)
        if x > width - 120:
            x = left
            legend_y += 16
    return _svg(kind, width, legend_y + 10, body, label or kind)


def score_bars(kind: str, rows: Sequence[tuple[str, int | None]], *, width: float = 720) -> str:
    """One 0-100 bar per row (a capability score), coloured by band."""
    left, bar, gap, top = 170.0, 18.0, 8.0, 6.0
    plot = width - left - 60
    body = []
    for i, (name, score) in enumerate(rows):
        y = top + i * (bar + gap)
        body.append(_text(left - 8, y + bar * 0.75, name, "end"))
        body.append(
            f'<rect x="{left:.1f}" y="{y:.1f}" width="{plot:.1f}" height="{bar}" fill="#eee"/>'
        )
        if score is None:
            body.append(_text(left + 4, y + bar * 0.75, "no items judged", extra='fill="#777"'))
            continue
        colour = (
            STATUS_COLOURS["met"]
            if score >= 80
            else STATUS_COLOURS["partial"]
            if score >= 50
            else STATUS_COLOURS["missing"]
        )
        body.append(_rect(left, y, plot * score / 100, bar, colour, score, f"{name}: {score}/100"))
        body.append(_text(left + plot + 6, y + bar * 0.75, f"{score}"))
    return _svg(kind, width, top + len(rows) * (bar + gap) + 4, body, kind)


@dataclass(frozen=True)
class Step:
    """One bar of a Gantt chart."""

    label: str
    start: float
    minutes: float
    detail: str = ""


def gantt(kind: str, steps: Sequence[Step], *, width: float = 720, max_rows: int = 40) -> str:
    """Steps as bars on a minutes axis, one row each, in order (the deploy critical path)."""
    shown = list(steps)[:max_rows]
    left, right, bar, gap, top = 260.0, 30.0, 14.0, 4.0, 6.0
    plot = width - left - right
    end = max([s.start + s.minutes for s in shown] + [0.0])
    high = _nice_max(end)
    bottom = top + len(shown) * (bar + gap)
    body = _axis(left, plot, bottom, top, high, " min")
    for i, s in enumerate(shown):
        y = top + i * (bar + gap)
        name = s.label if len(s.label) <= 40 else "…" + s.label[-39:]
        body.append(_text(left - 6, y + bar * 0.8, name, "end", 'font-size="11"'))
        x = left + plot * s.start / high
        w = max(plot * s.minutes / high, 1.5)  # an instant step still shows
        tip = f"{s.label}: {s.minutes:g} min from {s.start:g} min" + (
            f" ({s.detail})" if s.detail else ""
        )
        body.append(_rect(x, y, w, bar, PALETTE[i % len(PALETTE)], s.minutes, tip))
    if len(steps) > len(shown):
        body.append(_text(left, bottom + 28, f"... and {len(steps) - len(shown)} more steps"))
    return _svg(kind, width, bottom + 34, body, kind)


def graph(
    kind: str,
    platforms: Sequence[tuple[str, str]],
    bus: Sequence[tuple[str, str, str | None]],
    *,
    width: float = 720,
) -> str:
    """Platform stacks (left) and the BU stacks that reference them (right), joined by edges.

    `platforms`: (stack, caption); `bus`: (stack, caption, platform stack or None).
    """
    node_w, node_h, gap, top = 200.0, 40.0, 16.0, 10.0
    rows = max(len(platforms), len(bus), 1)
    height = top * 2 + rows * (node_h + gap)
    lx, rx = 20.0, width - node_w - 20
    ys = {}
    body: list[str] = []
    for i, (name, _caption) in enumerate(platforms):
        ys[name] = top + i * (node_h + gap)
    for i, (name, _caption, platform) in enumerate(bus):
        y = top + i * (node_h + gap)
        if platform in ys:
            y1, y2 = ys[platform] + node_h / 2, y + node_h / 2
            mid = (lx + node_w + rx) / 2
            body.append(
                f'<path class="mark edge" d="M{lx + node_w:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} '
                f'{mid:.1f},{y2:.1f} {rx:.1f},{y2:.1f}" fill="none" stroke="#888" '
                f'stroke-width="2" data-value="1"><title>{esc(name)} reads {esc(platform)}'
                "</title></path>"
            )
    for name, caption in platforms:
        body.append(_node(lx, ys[name], node_w, node_h, name, caption, "#4e79a7"))
    for i, (name, caption, _platform) in enumerate(bus):
        body.append(_node(rx, top + i * (node_h + gap), node_w, node_h, name, caption, "#f28e2b"))
    return _svg(kind, width, height, body, kind)


def _node(x: float, y: float, w: float, h: float, name: str, caption: str, colour: str) -> str:
    return (
        f'<g class="node" data-stack="{esc(name)}">'
        f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
        f'fill="{colour}" data-value="1"><title>{esc(name)}: {esc(caption)}</title></rect>'
        + _text(x + 10, y + 16, name, extra='fill="#fff" font-weight="bold"')
        + _text(x + 10, y + 32, caption, extra='fill="#fff" font-size="11"')
        + "</g>"
    )
