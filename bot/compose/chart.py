"""Server-side PNG trend chart: each scorecard KPI over recent weeks vs its target."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 900, 600, 100
# Margins fixed once instead of tight_layout per chart (that measured text twice per draw).
_MARGINS = {"left": 0.06, "right": 0.985, "bottom": 0.07, "top": 0.87, "wspace": 0.28, "hspace": 0.5}
# One figure, cleared and reused: the object API needs no pyplot state, and building a figure
# and canvas is a third of a chart's time.
_FIGURE: Figure | None = None
_LOCK = threading.Lock()


def _figure() -> Figure:
    # matplotlib (and numpy, ~30 MB) loads with the first chart, not with every process that imports this
    global _FIGURE
    if _FIGURE is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        _FIGURE = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        FigureCanvasAgg(_FIGURE)
    return _FIGURE


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: tuple[float | None, ...]  # oldest first
    target: float | None


def trend_chart(*, title: str, weeks: Sequence[str], series: Sequence[Series]) -> bytes:
    """Render one small panel per KPI (values vs dashed target) as a 900x600 PNG."""
    count = max(1, len(series))
    cols = min(3, count)
    rows = (count + cols - 1) // cols
    with _LOCK:
        fig = _figure()
        fig.clear()
        axes = fig.subplots(rows, cols, squeeze=False)
        fig.subplots_adjust(**_MARGINS)
        for ax in axes.flat:
            ax.set_visible(False)
        for ax, s in zip(axes.flat, series, strict=False):
            ax.set_visible(True)
            xs = [i for i, v in enumerate(s.values) if v is not None]
            ax.plot(xs, [s.values[i] for i in xs], marker="o", linewidth=1.5)
            if s.target is not None:
                ax.axhline(s.target, linestyle="--", color="grey", linewidth=1)
            ax.set_title(s.label, fontsize=9)
            ax.set_xticks(range(len(weeks)))
            ax.set_xticklabels([w[-3:] for w in weeks], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
        fig.suptitle(title, fontsize=11)
        buffer = io.BytesIO()
        # fixed figure size, no bbox_inches="tight": the PNG is always WIDTH_PX x HEIGHT_PX
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        fig.clear()
        return buffer.getvalue()
