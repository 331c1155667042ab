"""Server-side SVG charts for the dashboard: the digest chart's series (values vs target) as vector lines.

Pure string building, no plotting library: a 13-week chart renders in well under a millisecond.
Every text is XML-escaped; the SVG has no script and no external reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from bot.compose.chart import Series

PALETTE = ("#1d3557", "#e76f51", "#2a9d8f", "#e9c46a", "#8d5fd3", "#6c757d", "#d62828", "#264653")
WIDTH, HEIGHT = 640, 240
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 52, 12, 28, 58


def _short(label: str, limit: int = 22) -> str:
    """Shorten a legend label at a word break (the full label is in each point's tooltip)."""
    if len(label) <= limit:
        return label
    head = label[: limit - 1].rpartition(" ")[0] or label[: limit - 1]
    return head + "…"


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _bounds(series: Sequence[Series]) -> tuple[float, float]:
    values = [v for s in series for v in s.values if v is not None]
    values += [s.target for s in series if s.target is not None]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low == high:
        low, high = low - 1, high + 1
    margin = (high - low) * 0.08
    return low - margin, high + margin


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"


def trend_svg(*, title: str, weeks: Sequence[str], series: Sequence[Series], unit: str = "") -> str:
    """Draw each series over ``weeks`` (oldest first) with its dashed target, and a legend."""
    low, high = _bounds(series)
    plot_w, plot_h = WIDTH - _PAD_L - _PAD_R, HEIGHT - _PAD_T - _PAD_B
    n = max(1, len(weeks) - 1)

    def x(i: int) -> float:
        return _PAD_L + plot_w * i / n

    def y(v: float) -> float:
        return _PAD_T + plot_h * (1 - (v - low) / (high - low))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" aria-label="{_attr(title)}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<text x="{_PAD_L}" y="16" font-size="13" font-weight="bold" fill="#222">{escape(title)}</text>']
    for k in range(5):
        v = low + (high - low) * k / 4
        out.append(f'<line x1="{_PAD_L}" x2="{WIDTH - _PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e5e5"/>'
                   f'<text x="{_PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#555">{_fmt(v)}{escape(unit)}</text>')
    for i, week in enumerate(weeks):
        out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - _PAD_B + 16}" text-anchor="middle" fill="#555">'
                   f"{escape(week[-3:])}</text>")
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if s.target is not None:
            out.append(f'<line x1="{_PAD_L}" x2="{WIDTH - _PAD_R}" y1="{y(s.target):.1f}" y2="{y(s.target):.1f}" '
                       f'stroke="{colour}" stroke-dasharray="5 4" stroke-opacity="0.7"/>')
        points = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (px, py), v in zip(points, [v for v in s.values if v is not None], strict=True):
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"><title>{escape(s.label)}: '
                       f"{_fmt(v)}{escape(unit)}</title></circle>")
        lx = _PAD_L + (index % 4) * 150
        ly = HEIGHT - 22 + (index // 4) * 14
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{ly + 1}" fill="#222">{escape(_short(s.label))}</text>')
    if not any(v is not None for s in series for v in s.values):
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#888">no data</text>')
    out.append("</svg>")
    return "".join(out)


def sparkline_svg(values: Sequence[float | None], *, label: str, target: float | None = None) -> str:
    """Draw a 96x24 sparkline of ``values`` (oldest first), the target as a faint line."""
    w, h = 96, 24
    present = [v for v in values if v is not None]
    if not present:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="no data"></svg>'
    series = [Series(label, tuple(values), target)]
    low, high = _bounds(series)
    n = max(1, len(values) - 1)
    pts = [(2 + (w - 4) * i / n, 2 + (h - 4) * (1 - (v - low) / (high - low))) for i, v in enumerate(values)
           if v is not None]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           f'aria-label="{_attr(label)}">']
    if target is not None:
        ty = 2 + (h - 4) * (1 - (target - low) / (high - low))
        out.append(f'<line x1="0" x2="{w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#999" stroke-dasharray="2 2"/>')
    out.append('<polyline fill="none" stroke="#1d3557" stroke-width="1.5" points="'
               + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
    px, py = pts[-1]
    out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2" fill="#1d3557"/></svg>')
    return "".join(out)
