"""Words for numbers people read: plurals, possessives and durations that agree with their figures."""

from __future__ import annotations

from datetime import timedelta

_IRREGULAR = {"breach": "breaches", "escalation": "escalations", "window": "windows", "snapshot": "snapshots"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """Count ``word``: "1 breach", "2 breaches", "0 windows"."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or _IRREGULAR.get(word) or (word + 'es' if word.endswith(('s', 'sh', 'ch', 'x')) else word + 's')}"


def possessive(name: str) -> str:
    """Say whose: "Acme's", "Globex Solutions'" (a name ending in s takes only the apostrophe)."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def hours_minutes(delta: timedelta) -> str:
    """Render a duration as "1464h 00m" (whole minutes, never negative)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60}h {minutes % 60:02d}m"


def comparator_symbol(comparator: str) -> str:
    """Write a target's comparator the one way every message does: ≥ or ≤."""
    return {">=": "≥", "<=": "≤"}.get(comparator, comparator)
