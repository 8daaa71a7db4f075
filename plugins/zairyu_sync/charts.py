"""Inline SVG charts for the run report, drawn in Python (no scripts, fonts or network).

Each chart is a self-contained ``<svg role="img">`` with a ``<title>`` and ``<desc>`` for screen
readers; every drawn bar carries ``class="bar"`` and ``data-value`` so that a browser check can
verify what was rendered. All text is escaped here; the report shows the same numbers as a table
next to each chart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

log = logging.getLogger(__name__)

_FONT = 'font-family="inherit"'
_AXIS_COLOUR = "#9aa5b1"
_GRID_COLOUR = "#e4e7eb"
_TEXT_COLOUR = "#3e4c59"


@dataclass(frozen=True)
class Series:
    """One stacked series of a bar chart.

    Attributes:
        key: machine name, used as the CSS class suffix (``bar-<key>``).
        label: human label (shown in the legend, kept short).
        colour: fill colour.
    """

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class StackedBar:
    """One horizontal bar: a two-line label and one value per series key."""

    label: str
    sublabel: str
    values: dict[str, int]

    @property
    def total(self) -> int:
        """Sum of the bar's values."""
        return sum(self.values.values())


@dataclass(frozen=True)
class Column:
    """One vertical bar: its short axis label, value, tooltip and full label (for tables)."""

    label: str
    value: int
    tooltip: str
    full_label: str = ""


def nice_step(maximum: int, *, target_ticks: int = 5) -> int:
    """A round axis step (1, 2 or 5 times a power of ten) giving about ``target_ticks`` ticks."""
    if maximum <= 0:
        return 1
    raw = maximum / target_ticks
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = int(factor * power)
        if step >= raw:
            return max(step, 1)
    return int(10 * power)


def _open_svg(chart_id: str, width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg id="{escape(chart_id)}" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" {_FONT}>',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]


def stacked_bar_chart(
    bars: Sequence[StackedBar],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    description: str,
    width: int = 980,
    label_width: int = 330,
    row_height: int = 44,
) -> Markup:
    """A horizontal stacked bar chart, one row per bar, the total printed after each bar.

    Args:
        bars: the rows, drawn top to bottom in the given order.
        series: the stacked segments, left to right; values are looked up by ``Series.key``.
        chart_id: the SVG element id (also prefixes the title/desc ids).
        title: accessible title.
        description: accessible description (summarise the numbers).
        width: total width in pixels.
        label_width: width reserved for the two-line row labels.
        row_height: height of each row.

    Returns:
        The SVG markup (escaped text, safe to embed).
    """
    top, bottom = 8, 28
    height = top + bottom + row_height * max(len(bars), 1)
    plot_left, plot_right = label_width, width - 48
    plot_width = plot_right - plot_left
    maximum = max((bar.total for bar in bars), default=0)
    step = nice_step(maximum)
    axis_max = max(step * math.ceil(maximum / step), step)
    scale = plot_width / axis_max
    parts = _open_svg(chart_id, width, height, title, description)
    axis_y = top + row_height * len(bars)
    for tick in range(0, axis_max + 1, step):
        x = plot_left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" '
            f'stroke="{_GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 18}" text-anchor="middle" font-size="11" '
            f'fill="{_TEXT_COLOUR}">{tick}</text>'
        )
    bar_height = row_height * 0.52
    for index, bar in enumerate(bars):
        y = top + index * row_height
        parts.append(
            f'<text x="{label_width - 12}" y="{y + row_height / 2 - 3:.1f}" text-anchor="end" '
            f'font-size="13" font-weight="600" fill="#1f2933">{escape(bar.label)}</text>'
        )
        parts.append(
            f'<text x="{label_width - 12}" y="{y + row_height / 2 + 12:.1f}" text-anchor="end" '
            f'font-size="11" fill="#616e7c">{escape(bar.sublabel)}</text>'
        )
        x = float(plot_left)
        bar_y = y + (row_height - bar_height) / 2
        for item in series:
            value = int(bar.values.get(item.key, 0))
            if value <= 0:
                continue
            segment = value * scale
            parts.append(
                f'<rect class="bar bar-{escape(item.key)}" data-value="{value}" '
                f'x="{x:.1f}" y="{bar_y:.1f}" width="{segment:.1f}" height="{bar_height:.1f}" '
                f'fill="{escape(item.colour)}"><title>{escape(bar.label)} — '
                f"{escape(item.label)}: {value}</title></rect>"
            )
            x += segment
        parts.append(
            f'<text x="{x + 6:.1f}" y="{bar_y + bar_height / 2 + 4:.1f}" font-size="12" '
            f'font-weight="600" fill="#1f2933">{bar.total}</text>'
        )
    parts.append(
        f'<line x1="{plot_left}" y1="{top}" x2="{plot_left}" y2="{axis_y}" '
        f'stroke="{_AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(
    columns: Sequence[Column],
    *,
    chart_id: str,
    title: str,
    description: str,
    colour: str,
    width: int = 980,
    height: int = 240,
    max_labels: int = 20,
) -> Markup:
    """A vertical bar chart with a value above each non-zero bar and a labelled x axis.

    Args:
        columns: the bars, left to right.
        chart_id: the SVG element id (also prefixes the title/desc ids).
        title: accessible title.
        description: accessible description (summarise the numbers).
        colour: bar fill colour.
        width: total width in pixels.
        height: total height in pixels.
        max_labels: at most this many x-axis labels are printed (every n-th bar otherwise).

    Returns:
        The SVG markup (escaped text, safe to embed).
    """
    left, right, top, bottom = 44, 12, 18, 34
    plot_width = width - left - right
    plot_height = height - top - bottom
    maximum = max((column.value for column in columns), default=0)
    step = nice_step(maximum, target_ticks=4)
    axis_max = max(step * math.ceil(maximum / step), step)
    scale = plot_height / axis_max
    axis_y = top + plot_height
    parts = _open_svg(chart_id, width, height, title, description)
    for tick in range(0, axis_max + 1, step):
        y = axis_y - tick * scale
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{_GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_TEXT_COLOUR}">{tick}</text>'
        )
    slot = plot_width / max(len(columns), 1)
    bar_width = min(slot * 0.7, 56.0)
    stride = max(1, math.ceil(len(columns) / max_labels))
    for index, column in enumerate(columns):
        centre = left + slot * index + slot / 2
        bar_height = column.value * scale
        if column.value > 0:
            parts.append(
                f'<rect class="bar" data-value="{column.value}" x="{centre - bar_width / 2:.1f}" '
                f'y="{axis_y - bar_height:.1f}" width="{bar_width:.1f}" '
                f'height="{bar_height:.1f}" rx="2" fill="{escape(colour)}">'
                f"<title>{escape(column.tooltip)}</title></rect>"
            )
            parts.append(
                f'<text x="{centre:.1f}" y="{axis_y - bar_height - 5:.1f}" text-anchor="middle" '
                f'font-size="11" font-weight="600" fill="#1f2933">{column.value}</text>'
            )
        if index % stride == 0:
            parts.append(
                f'<text x="{centre:.1f}" y="{axis_y + 16}" text-anchor="middle" font-size="11" '
                f'fill="{_TEXT_COLOUR}">{escape(column.label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" '
        f'stroke="{_AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
