"""Server-side PNG of required vs scheduled agents over time, one panel per site and channel."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH_PX, HEIGHT_PX, DPI = 900, 600, 100
MAX_PANELS = 6


@dataclass(frozen=True, slots=True)
class Panel:
    label: str  # "voice · Kraków"
    ticks: tuple[str, ...]  # x labels (local times or days), one per point
    required: tuple[float, ...]
    scheduled: tuple[float | None, ...]


def staffing_chart(*, title: str, panels: Sequence[Panel]) -> bytes:
    """Render required (dashed) vs scheduled (solid) agents per panel as a 900x600 PNG."""
    shown = list(panels)[:MAX_PANELS]
    count = max(1, len(shown))
    cols = 1 if count == 1 else 2
    rows = (count + cols - 1) // cols
    # matplotlib (and numpy, ~30 MB) loads with the first chart, not with every process that imports
    # this (`liaison serve` idled at 172 MB with it loaded at start-up). The object API keeps no
    # global figure state, so charts drawn in worker threads do not meet.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, p in zip(axes.flat, shown, strict=False):
        ax.set_visible(True)
        xs = range(len(p.required))
        ax.plot(xs, p.required, linestyle="--", color="tab:red", linewidth=1.2, label="needed")
        sx = [i for i, v in enumerate(p.scheduled) if v is not None]
        ax.plot(sx, [p.scheduled[i] for i in sx], color="tab:blue", linewidth=1.5, label="scheduled")
        step = max(1, len(p.ticks) // 8)
        ax.set_xticks(list(xs)[::step])
        ax.set_xticklabels(list(p.ticks)[::step], fontsize=7, rotation=0)
        ax.set_title(p.label, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    more = len(panels) - len(shown)
    fig.suptitle(title + (f" (+{more} more in the text)" if more > 0 else ""), fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
