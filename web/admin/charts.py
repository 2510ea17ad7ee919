"""Server-rendered SVG charts: nothing loaded from elsewhere, readable without colour.

Each series is told apart by a pattern (solid, hatching, dots…) as well as a colour, every
bar and point carries its value as text, and each chart has a <title>/<desc> for screen
readers (the pages also give the numbers as a table). Text is escaped here: labels come
from subscribers' source tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from feeds.i18n import Texts, texts

# (fill colour, pattern drawing) pairs; the pattern alone tells series apart in greyscale.
PATTERNS = (
    ("#1565c0", ""),
    ("#ef6c00", '<path d="M0,8 L8,0" stroke="#000" stroke-opacity=".55" stroke-width="2"/>'),
    ("#2e7d32", '<circle cx="4" cy="4" r="1.6" fill="#000" fill-opacity=".55"/>'),
    ("#6a1b9a", '<path d="M0,4 H8" stroke="#fff" stroke-width="2"/>'),
    ("#c62828", '<path d="M0,0 L8,8 M0,8 L8,0" stroke="#fff" stroke-width="1.5"/>'),
    ("#00838f", '<path d="M4,0 V8" stroke="#000" stroke-opacity=".5" stroke-width="2"/>'),
)
ENGLISH = texts("en")
ROW = 28
LABEL_WIDTH = 150


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown next to the bar ("42", "14 %")


def _defs(chart_id: str) -> str:
    parts = []
    for index, (colour, drawing) in enumerate(PATTERNS):
        parts.append(
            f'<pattern id="{chart_id}-p{index}" width="8" height="8" patternUnits="userSpaceOnUse">'
            f'<rect width="8" height="8" fill="{colour}"/>{drawing}</pattern>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _frame(chart_id: str, title: str, desc: str, width: int, height: int, body: str) -> Markup:
    # Every text from outside (labels, titles) is escaped where it is put in; ids are ours.
    return Markup(  # noqa: S704
        f'<svg id="{chart_id}" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        f"{_defs(chart_id)}{body}</svg>"
    )


def bar_chart(
    chart_id: str, title: str, bars: Sequence[Bar], *, width: int = 520, value_width: int = 90
) -> Markup:
    """Horizontal bars, one pattern per bar, the value written after each."""
    if not bars:
        bars = [Bar("no data", 0, "0")]
    top = max((bar.value for bar in bars), default=0) or 1
    span = width - LABEL_WIDTH - value_width
    rows = []
    for index, bar in enumerate(bars):
        y = 6 + index * ROW
        length = max(0.0, bar.value) / top * span
        rows.append(
            f'<g class="bar" data-label="{escape(bar.label)}" data-value="{bar.value:g}">'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{escape(bar.label[:24])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{ROW - 8}" '
            f'fill="url(#{chart_id}-p{index % len(PATTERNS)})" stroke="currentColor" stroke-width=".5"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 15}">{escape(bar.text)}</text></g>'
        )
    desc = "; ".join(f"{bar.label}: {bar.text}" for bar in bars)
    return _frame(chart_id, title, desc, width, 12 + len(bars) * ROW, "".join(rows))


def line_chart(
    chart_id: str, title: str, points: Sequence[tuple[str, float]], *,
    width: int = 520, height: int = 220,
) -> Markup:  # fmt: skip
    """One series over time: a line with square markers, the axis labelled with its range."""
    left, right, top_pad, bottom = 44, 16, 16, 36
    values = [value for _, value in points] or [0.0]
    top = max(max(values), 1.0)
    step = (width - left - right) / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top_pad + (1 - value / top) * (height - top_pad - bottom)

    coords = [xy(i, value) for i, (_, value) in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    marks = "".join(
        f'<rect class="point" x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
        f'fill="url(#{chart_id}-p0)" data-label="{escape(label)}" data-value="{value:g}"/>'
        for (x, y), (label, value) in zip(coords, points, strict=True)
    )
    base_y = height - bottom
    axis = (
        f'<path d="M{left},{top_pad} V{base_y} H{width - right}" fill="none" stroke="currentColor"/>'
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{top:g}</text>'
        f'<text x="{left - 6}" y="{base_y}" text-anchor="end">0</text>'
    )
    if points:
        axis += (
            f'<text x="{left}" y="{base_y + 18}">{escape(points[0][0])}</text>'
            f'<text x="{width - right}" y="{base_y + 18}" text-anchor="end">{escape(points[-1][0])}</text>'
        )
        x, y = coords[-1]
        axis += f'<text x="{x - 6:.1f}" y="{y - 8:.1f}" text-anchor="end">{points[-1][1]:g}</text>'
    line = f'<path d="{path}" fill="none" stroke="#1565c0" stroke-width="2.5"/>' if path else ""
    desc = ", ".join(f"{label}: {value:g}" for label, value in points)
    return _frame(chart_id, title, desc, width, height, axis + line + marks)


def percent(value: float | None, t: Texts = ENGLISH) -> str:
    return t.percent(value)
