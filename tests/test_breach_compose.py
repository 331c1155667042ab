"""Golden files for the breach composers (pure: same view, same message)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.compose.breach import (
    BreachView,
    PreBreachView,
    breach_alert,
    breach_followup,
    breach_recovered,
    duration_text,
    open_breaches_section,
    prebreach_warning,
)
from bot.domain.sparkline import sparkline
from bot.messages import Message
from bot.messages_codec import message_to_dict

GOLDEN = Path(__file__).parent / "golden"
WARSAW = ZoneInfo("Europe/Warsaw")

VIEW = BreachView(
    episode_id=42, partner_name="Acme Contact Solutions", scope="all sites · voice", metric="service_level",
    comparator=">=", target=80.0, value=68.7, worst=61.0, num=412, den=600, window_label="Mon 2026-11-16",
    since=datetime(2026, 11, 15, tzinfo=WARSAW), windows_breached=2, spark="▆▇█▅▃▁",
    contributor="Lisbon: 120 answered within threshold short",
)


def _check(name: str, message: Message) -> None:
    path = GOLDEN / f"{name}.json"
    got = json.dumps(message_to_dict(message), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize(("name", "message"), [
    ("breach_alert", breach_alert(VIEW)),
    ("breach_alert_acknowledged", breach_alert(VIEW.__class__(**{
        **{f: getattr(VIEW, f) for f in VIEW.__slots__},
        "acknowledged_by": "Lead <!channel>", "acknowledged_at": datetime(2026, 11, 16, 9, 5, tzinfo=UTC),
        "critical": True}))),
    ("breach_followup", breach_followup(VIEW)),
    ("breach_recovered", breach_recovered(VIEW, recovered_at=datetime(2026, 11, 17, tzinfo=WARSAW))),
    ("prebreach_warning", prebreach_warning(PreBreachView(
        partner_name="Northwind BPO", scope="all sites · chat", metric="asa", comparator="<=", target=30.0,
        value_so_far=41.5, num=8300, den=200, projected_volume=520, window_label="Mon 2026-11-16",
        elapsed_share=0.4))),
])
def test_breach_composer_matches_golden(name, message):
    _check(name, message)


def test_breach_alert_buttons_carry_episode_and_drop_acknowledge_once_acked():
    ids = [(a.id.value, a.value) for a in breach_alert(VIEW).actions]
    assert ids == [("breach_acknowledge", "breach:42"), ("breach_open_escalation", "breach:42"),
                   ("breach_mute", "breach:42")]


def test_sparkline_scales_between_min_and_max_and_marks_gaps():
    assert sparkline([1, 2, None, 8]) == "▁▂·█"
    assert sparkline([5, 5]) == "▁▁" and sparkline([None]) == ""


def test_duration_text_reads_days_hours_minutes():
    assert duration_text(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert duration_text(timedelta(minutes=45)) == "45 min"


def test_open_breaches_section_empty_says_so():
    assert open_breaches_section([]).text == "No open breaches."
    assert "#42 Acme Contact Solutions" in open_breaches_section([VIEW]).bullets[0]
