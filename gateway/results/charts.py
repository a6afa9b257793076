"""Bar and line charts drawn on the server as SVG, with every number written beside its mark.

Served inside the page itself: no chart library, no CDN, nothing for an offline hall intranet to
fetch, and no script (the CSP forbids inline script; SVG presentation attributes are not styles).
Each chart is ``role="img"`` with an ``aria-label`` that holds the title *and every number* (a
screen reader announces an image by its name only, so the numbers must be in it), a ``<title>``,
and the public page puts a table of the same numbers next to it for people who would rather read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing to show (no denominator), drawn as "—"
    text: str  # the number written beside the bar, e.g. "92.3%" or "1,204"


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def spoken(title: str, bars: Sequence[Bar]) -> str:
    """The chart as one sentence: "title：label number；label number…" — its text alternative."""
    return f"{title}：" + "；".join(f"{b.label} {b.text}" for b in bars) if bars else f"{title}：暂无数据"


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: float | None = None, css_class: str = "chart",
              label_width: int = 150, width: int = 640, bar_height: int = 26, gap: int = 10) -> Markup:
    """Horizontal bars, one per row: label, bar, number."""
    top = max((b.value or 0) for b in bars) if bars else 0
    scale_max = maximum if maximum is not None else (top or 1)
    value_width = 90
    plot = width - label_width - value_width
    height = max(len(bars), 1) * (bar_height + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(spoken(title, bars))}"><title>{escape(title)}</title>']
    for i, bar in enumerate(bars):
        y = gap + i * (bar_height + gap)
        length = 0.0 if bar.value is None or scale_max <= 0 else max(0.0, min(bar.value / scale_max, 1.0)) * plot
        mid = y + bar_height / 2
        parts.append(f'<text class="label" x="{label_width - 8}" y="{_fmt(mid)}" text-anchor="end" '
                     f'dominant-baseline="middle">{escape(bar.label)}</text>')
        parts.append(f'<rect class="track" x="{label_width}" y="{y}" width="{plot}" height="{bar_height}"/>')
        if length > 0:
            parts.append(f'<rect class="bar" x="{label_width}" y="{y}" width="{_fmt(length)}" '
                         f'height="{bar_height}"/>')
        parts.append(f'<text class="value" x="{label_width + plot + 8}" y="{_fmt(mid)}" '
                     f'dominant-baseline="middle">{escape(bar.text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, points: Sequence[Bar], *, maximum: float | None = None, minimum: float | None = None,
               css_class: str = "chart line", width: int = 640, height: int = 240) -> Markup:
    """A line through ``points`` (left to right) with each value written above its point; a point
    without a value breaks the line.  Without ``minimum`` the scale starts a little below the
    lowest value (rounded down to a tenth of the top), so that small changes stay visible; the
    numbers beside the points say the exact values."""
    pad_left, pad_right, pad_top, pad_bottom = 30, 30, 28, 36
    values = [p.value for p in points if p.value is not None]
    top = maximum if maximum is not None else (max(values) if values else 1) or 1
    if minimum is None:
        low = min(values) if values else 0.0
        step_size = top / 10
        minimum = max(0.0, (int(low / step_size) - 1) * step_size) if step_size else 0.0
    bottom = minimum
    span = (top - bottom) or 1
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    step = plot_w / max(len(points) - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(spoken(title, points))}"><title>{escape(title)}</title>',
             f'<line class="axis" x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - pad_right}" '
             f'y2="{pad_top + plot_h}"/>']
    segment: list[str] = []
    segments: list[list[str]] = []
    marks = []
    for i, point in enumerate(points):
        x = pad_left + (i * step if len(points) > 1 else plot_w / 2)
        marks.append(f'<text class="tick" x="{_fmt(x)}" y="{height - 12}" text-anchor="middle">'
                     f'{escape(point.label)}</text>')
        if point.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        y = pad_top + plot_h - (min(max(point.value, bottom), top) - bottom) / span * plot_h
        segment.append(f"{_fmt(x)},{_fmt(y)}")
        marks.append(f'<circle class="dot" cx="{_fmt(x)}" cy="{_fmt(y)}" r="4"/>')
        marks.append(f'<text class="value" x="{_fmt(x)}" y="{_fmt(y - 10)}" text-anchor="middle">'
                     f'{escape(point.text)}</text>')
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="line" fill="none" points="{" ".join(seg)}"/>')
    parts.extend(marks)
    parts.append("</svg>")
    return Markup("".join(parts))
