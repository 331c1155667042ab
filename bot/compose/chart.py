"""Server-side PNG trend chart: each scorecard KPI over recent weeks vs its target."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

WIDTH_PX, HEIGHT_PX, DPI = 900, 600, 100


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
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, squeeze=False)
    try:
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
        fig.tight_layout()
        buffer = io.BytesIO()
        # fixed figure size, no bbox_inches="tight": the PNG is always WIDTH_PX x HEIGHT_PX
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(fig)
