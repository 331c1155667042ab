"""``liaison digest`` against the example config: dry-run render, enqueue, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"


@pytest.fixture
def cli_db(db_url, monkeypatch) -> str:
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert main(["config", "apply", str(EXAMPLE)]) == 0
    return db_url


def test_digest_cli_dry_run_renders_then_enqueue_queues_once_per_route(cli_db, capsys):
    capsys.readouterr()
    assert main(["digest", "--partner", "acme", "--week", "2026-W46", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Weekly digest · Acme Contact Solutions · 2026-W46" in out
    assert "Balanced scorecard" in out
    assert main(["digest", "--partner", "acme", "--week", "2026-W46"]) == 0
    assert "2026-W46 digest for acme queued to" in capsys.readouterr().out
    assert main(["digest", "--portfolio", "--week", "2026-W46", "--dry-run"]) == 0
    assert "Weekly digest · Portfolio · 2026-W46" in capsys.readouterr().out


def test_digest_cli_unknown_partner_and_bad_week_explain(cli_db, capsys):
    capsys.readouterr()
    assert main(["digest", "--partner", "nope", "--dry-run"]) == 1
    assert "unknown partner 'nope'; known partners: acme, globex, northwind" in capsys.readouterr().out
    assert main(["digest", "--partner", "acme", "--week", "46"]) == 2
    assert "write it like 2026-W46" in capsys.readouterr().err  # operator mistakes answer on stderr


def test_qbr_pack_cli_writes_markdown_and_rejects_bad_quarter(cli_db, tmp_path, capsys):
    out = tmp_path / "pack.md"
    assert main(["qbr", "pack", "--partner", "acme", "--quarter", "2026-Q4", "--out", str(out)]) == 0
    assert out.read_text().startswith("# QBR pack · Acme Contact Solutions · 2026-Q4\n")
    assert "## Open action items from the last QBR" in out.read_text()
    capsys.readouterr()
    assert main(["qbr", "pack", "--partner", "acme", "--quarter", "Q4"]) == 2
    assert "write it like 2026-Q4" in capsys.readouterr().out


async def test_demo_showcase_digest_and_qbr_writes_chart_and_pack(core, make_partner, tmp_path, monkeypatch):
    from adapters.cli.digest import show_digest_and_qbr

    monkeypatch.chdir(tmp_path)  # PostgreSQL has no db file to sit beside
    await make_partner("acme", name="Acme", tz="Europe/Warsaw")
    out: list[str] = []
    await show_digest_and_qbr(core, {}, out.append)
    text = "\n".join(out)
    assert "Weekly digest · Acme · 2026-W46" in text
    assert "# QBR pack · Acme · 2026-Q3" in text
    assert list(Path(core.settings.database_url.split(":///")[1]).parent.glob("qbr-pack-acme-2026-Q3.md")) \
        if core.settings.database_url.startswith("sqlite") else (tmp_path / "qbr-pack-acme-2026-Q3.md").exists()


def test_demo_qbr_meeting_is_a_weekday_afternoon_at_least_a_week_ahead():
    """The demo's T-7 reminder names a meeting people would hold: never a weekend, never 01:24 at night."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from adapters.cli.digest import demo_meeting

    start = datetime(2026, 11, 30, 0, 24, tzinfo=UTC)
    for hours in range(0, 24 * 7, 5):  # every weekday and hour of a week, Warsaw and Manila
        now = start + timedelta(hours=hours)
        for tz in ("Europe/Warsaw", "Asia/Manila"):
            meeting = demo_meeting(now, tz)
            local = meeting.astimezone(ZoneInfo(tz))
            assert local.weekday() < 5 and (local.hour, local.minute) == (14, 0), (now, tz, local)
            assert timedelta(days=7) <= meeting - now < timedelta(days=10), (now, tz, meeting)
