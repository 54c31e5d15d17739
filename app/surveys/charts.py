"""Server-rendered SVG charts: no JavaScript, nothing from the internet, and
no inline styles (the Content-Security-Policy allows none): colours are
presentation attributes, text takes the page's font and colour.

Every bar carries its numbers as data (`data-label`, `data-series`,
`data-value`) and a <title> a screen reader or a hover shows, so tests read
the chart the way a person does: which bar, how long, what it says."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

EMBER = "#b5542c"
STAGE_COLOURS = ("#cdb9a6", "#e8a36f", "#b5542c", "#7c8f4e", "#2f7a4f", "#b3261e")
FONT = 12


def nice_max(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _svg(width: int, height: int, title: str, body: list[str], kind: str) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{label}" font-size="{FONT}">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _bar(x: float, y: float, w: float, h: float, colour: str, label: str, value: float,
         series: str = "") -> str:
    text = f"{label}{' · ' + series if series else ''}: {_number(value)}"
    series_attr = f' data-series="{escape(series)}"' if series else ""
    return (f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
            f'rx="3" fill="{colour}" data-label="{escape(label)}"{series_attr} data-value="{_number(value)}">'
            f"<title>{escape(text)}</title></rect>")


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, colour: str = EMBER,
              width: int = 560, row: int = 30, label_width: int = 190) -> Markup:
    """Horizontal bars, one per (label, value): answers to a question, choices."""
    top = 6
    height = top + row * max(len(bars), 1) + 6
    scale_max = nice_max(max((v for _l, v in bars), default=0))
    room = width - label_width - 56
    body = []
    for index, (label, value) in enumerate(bars):
        y = top + index * row
        length = room * value / scale_max
        body.append(f'<text x="{label_width - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                    f'fill="currentColor">{escape(_clip(label, 30))}</text>')
        body.append(f'<rect x="{label_width}" y="{y + 5}" width="{room}" height="{row - 10}" rx="3" '
                    f'fill="currentColor" fill-opacity="0.06"/>')
        body.append(_bar(label_width, y + 5, length, row - 10, colour, label, value))
        body.append(f'<text class="value" x="{label_width + length + 6:.1f}" y="{y + row / 2 + 4:.1f}" '
                    f'fill="currentColor" font-weight="600">{_number(value)}</text>')
    return _svg(width, height, title, body, "bars")


def column_chart(columns: Sequence[tuple[str, float]], *, title: str, colour: str = EMBER,
                 width: int = 640, height: int = 220) -> Markup:
    """Vertical columns, one per (label, value): emails per week, a rating scale."""
    left, right, top, bottom = 44, 10, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    scale_max = nice_max(max((v for _l, v in columns), default=0))
    body = _grid(left, top, plot_w, plot_h, scale_max)
    slot = plot_w / max(len(columns), 1)
    bar_w = min(slot * 0.7, 56)
    for index, (label, value) in enumerate(columns):
        h = plot_h * value / scale_max
        x = left + index * slot + (slot - bar_w) / 2
        body.append(_bar(x, top + plot_h - h, bar_w, h, colour, label, value))
        if value:
            body.append(f'<text class="value" x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                        f'text-anchor="middle" fill="currentColor" font-weight="600">{_number(value)}</text>')
        body.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                    f'fill="currentColor">{escape(_clip(label, 12))}</text>')
    return _svg(width, height, title, body, "columns")


def grouped_column_chart(groups: Sequence[str], series: Sequence[tuple[str, str]],
                         values: Mapping[tuple[str, str], float], *, title: str,
                         width: int = 960, height: int = 280) -> Markup:
    """Columns per group, one per series (name, colour), with a legend: the
    programme funnel per cohort."""
    left, right, top, bottom = 44, 10, 34, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    scale_max = nice_max(max(values.values(), default=0))
    body = _legend(series, left, 14)
    body += _grid(left, top, plot_w, plot_h, scale_max)
    slot = plot_w / max(len(groups), 1)
    inner = slot * 0.84
    bar_w = inner / max(len(series), 1)
    for g_index, group in enumerate(groups):
        x0 = left + g_index * slot + (slot - inner) / 2
        for s_index, (name, colour) in enumerate(series):
            value = values.get((group, name), 0)
            h = plot_h * value / scale_max
            body.append(_bar(x0 + s_index * bar_w + 1, top + plot_h - h, bar_w - 2, h, colour, group, value,
                             series=name))
        body.append(f'<text x="{x0 + inner / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                    f'fill="currentColor">{escape(_clip(group, 14))}</text>')
    return _svg(width, height, title, body, "grouped")


def _grid(left: float, top: float, plot_w: float, plot_h: float, scale_max: int) -> list[str]:
    lines = []
    for fraction in (0, 0.5, 1):
        y = top + plot_h - plot_h * fraction
        value = scale_max * fraction
        lines.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" '
                     f'stroke-opacity="{0.35 if fraction == 0 else 0.12}"/>')
        lines.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor" '
                     f'fill-opacity="0.7">{_number(value)}</text>')
    return lines


def _legend(series: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    items = []
    for name, colour in series:
        items.append(f'<rect x="{x:.1f}" y="{y - 9}" width="11" height="11" rx="2" fill="{colour}"/>'
                     f'<text x="{x + 16:.1f}" y="{y}" fill="currentColor">{escape(name)}</text>')
        x += 26 + 7 * len(name)
    return ['<g class="legend">', *items, "</g>"]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
