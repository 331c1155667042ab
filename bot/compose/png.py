"""Fit a PNG under a size limit (Pillow only; no matplotlib import)."""

from __future__ import annotations

import io

from PIL import Image


def compact_png(png: bytes, *, max_bytes: int) -> bytes | None:
    """Return ``png`` shrunk under ``max_bytes`` for places with a size limit (an Adaptive Card).

    A chart has few colours, so a 16-colour palette loses nothing a reader sees; if that is not
    enough the image is scaled down in steps to no less than half its width. None if nothing fits.
    """
    if len(png) <= max_bytes:
        return png
    try:
        original = Image.open(io.BytesIO(png)).convert("RGB")
    except (OSError, ValueError):  # not an image Pillow can read: nothing to shrink
        return None
    for scale in (1.0, 0.8, 0.64, 0.5):
        image = original if scale == 1.0 else original.resize(
            (round(original.width * scale), round(original.height * scale)), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.quantize(colors=16, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    return None
