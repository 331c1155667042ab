"""Clean what people type before anything stores or shows it, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import re

# NUL (PostgreSQL text refuses it) and other C0/C1 controls except tab and newline; zero-width
# characters; bidi embeddings, overrides and isolates (they can make "ESC-12" display as another
# ref); lone surrogates (not encodable as UTF-8).
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Return ``text`` without control, zero-width and bidi-override characters."""
    return _INVISIBLE.sub("", text)
