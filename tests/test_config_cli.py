"""`liaison config check|apply` end to end: exit codes, printed plan, database untouched on error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from adapters.cli import main
from bot.store.db import sync_url
from bot.store.models import Partner, Target, User

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"


@pytest.fixture
def cli_db(db_url, monkeypatch) -> str:
    """Point the CLI at the test database."""
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    return db_url


def _count(url: str, model) -> int:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    """Weekend QBR notes count from "now": pin it, so the expected lines do not move with the calendar."""
    import adapters.cli.config as config_cli
    from bot.ports import ManualClock

    monkeypatch.setattr(config_cli, "CLOCK", ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)))


def test_config_check_example_exits_zero(capsys):
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "OK (3 partners, 4 sites, 28 targets, 7 users)" in capsys.readouterr().out


def test_config_check_invalid_exits_one_with_paths(tmp_path, capsys):
    bad = tmp_path / "liaison.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    bad.write_text(text.replace("window: week, min_volume: 300}", "window: weekly, min_volume: 300}", 1)
                   .replace("timezone: Asia/Manila", "timezone: Asia/Manilla"), encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: 2 problems found, nothing was applied:" in err
    assert "partners[0].targets[1].window: Input should be 'hour', 'day', 'week' or 'month'" in err
    assert "partners[1].timezone: unknown timezone 'Asia/Manilla'" in err


def test_config_apply_then_reapply_prints_plan_then_no_changes(cli_db, capsys):
    assert main(["config", "apply", str(EXAMPLE), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ partner acme (Acme Contact Solutions)" in out
    assert "Dry run, nothing written: would apply 118 created, 0 changed, 0 removed." in out
    assert _count(cli_db, Partner) == 0

    assert main(["config", "apply", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "+ target northwind/sl-chat-day (service_level >= 85 per day chat)" in out
    assert out.rstrip().endswith("Applied: 118 created, 0 changed, 0 removed.")
    assert (_count(cli_db, Partner), _count(cli_db, Target), _count(cli_db, User)) == (3, 28, 21)

    assert main(["config", "apply", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"note: {EXAMPLE}: partners[0].qbr: acme's quarterly QBR (day 15) falls on a weekend on Sat 2027-05-15, "
        "Sun 2027-08-15 (Europe/Warsaw); use cadence 'dates' with weekdays",
        "No changes: the database already matches the file."]


def test_config_apply_invalid_file_exits_one_and_writes_nothing(cli_db, tmp_path, capsys):
    assert main(["config", "apply", str(EXAMPLE)]) == 0
    capsys.readouterr()
    bad = tmp_path / "liaison.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8")
                   .replace("name: Acme Contact Solutions", "name: Acme Renamed")
                   .replace("users: [acme-am]", "users: [acme-manager]"), encoding="utf-8")
    assert main(["config", "apply", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "partners[0].escalation.levels[1].users[0]: no user with id 'acme-manager' in users" in captured.err
    assert captured.out == ""
    engine = create_engine(sync_url(cli_db))
    with engine.connect() as conn:
        names = set(conn.execute(select(Partner.name)).scalars())
    engine.dispose()
    assert names == {"Acme Contact Solutions", "Northwind BPO", "Globex CX"}


def test_config_help_lists_check_and_apply(capsys):
    with pytest.raises(SystemExit):
        main(["config", "--help"])
    out = capsys.readouterr().out
    assert "check" in out and "apply" in out


def test_config_apply_database_without_schema_exits_one_with_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["config", "apply", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "no such table" in err and "liaison db upgrade" in err


def test_config_check_gaps_print_notes_but_pass(tmp_path, capsys):
    # the default quarterly plan (day 15 of the quarter's second month), from 5 December 2026 on
    gappy = tmp_path / "liaison.yaml"
    gappy.write_text(
        "client: {name: Contoso}\n"
        "partners:\n"
        "  - {slug: initech, name: Initech, timezone: Europe/Dublin, channels: [chat]}\n"
        "users:\n"
        "  - {id: lead, name: Lena, role: client, identities: {console: lead}}\n", encoding="utf-8")
    assert main(["config", "check", str(gappy)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"note: {gappy}: partners[0].qbr: initech's quarterly QBR (day 15) falls on a weekend on Sat 2027-05-15, "
        "Sun 2027-08-15 (Europe/Dublin); use cadence 'dates' with weekdays",
        f"note: {gappy}: partners[0].routes.alerts: no Slack or Teams destination: initech's alerts reach no channel",
        f"note: {gappy}: partners[0].routes.escalations: no Slack or Teams destination: initech's escalations reach no channel",
        f"note: {gappy}: partners[0].escalation: no escalation policy: initech's escalations will not climb levels",
        f"note: {gappy}: partners[0].targets: no targets: no SLA alerts for initech",
        f"note: {gappy}: users: no admin user: nobody can change settings from chat",
        f"{gappy}: OK (1 partners, 0 sites, 0 targets, 1 users)",
    ]


WORKSPACES_YAML = (
    "client: {name: Contoso, routes: {digests: {slack: [T0CONTOSO/C0DIGEST]}}}\n"
    "partners:\n"
    "  - slug: initech\n"
    "    name: Initech\n"
    "    timezone: Europe/Dublin\n"
    "    channels: [chat]\n"
    "    routes: {alerts: {slack: [T0INITECH/C0ALERTS, T0CONTOSO/C0SHARED]}, escalations: {slack: [C0BARE]}}\n"
    "users:\n"
    "  - {id: lead, name: Lena, role: admin, identities: {slack: T0CONTOSO/U0LEAD}}\n"
    "  - {id: ian, name: Ian, role: partner, partner: initech, identities: {slack: T0INITECH/U0LEAD}}\n")


async def test_config_check_warns_about_routes_in_workspaces_not_installed(cli_db, db, tmp_path, capsys, monkeypatch):
    from bot.store.workspaces import slack_bots

    async with db.transaction() as s:  # Contoso installed through OAuth, Initech not yet
        await s.execute(slack_bots.insert().values(client_id="1.2", app_id="A0APP", team_id="T0CONTOSO",
                                                   bot_token="xoxb-contoso", is_enterprise_install=False))
    path = tmp_path / "liaison.yaml"
    path.write_text(WORKSPACES_YAML, encoding="utf-8")
    for name, value in (("SLACK_CLIENT_ID", "1.2"), ("SLACK_CLIENT_SECRET", "s"), ("SLACK_STATE_SECRET", "t")):
        monkeypatch.setenv(name, value)
    assert await main_async(["config", "check", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {path}: partners[0].routes.alerts.slack[0]: workspace T0INITECH is not installed: "
        "open /slack/install in it, or messages to it become undelivered",
        f"warning: {path}: partners[0].routes.escalations.slack[0]: 'C0BARE' names no workspace; with OAuth write "
        "it as T0123ABCD/C0BARE (the team id of the workspace it is in)",
        f"warning: {path}: users[1].identities.slack: workspace T0INITECH is not installed: "
        "open /slack/install in it, or messages to it become undelivered",
    ]


def test_config_check_single_workspace_file_reads_no_database(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LIAISON_DATABASE_URL", f"sqlite:///{tmp_path / 'absent' / 'x.db'}")
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "warning:" not in capsys.readouterr().out


async def main_async(argv: list[str]) -> int:
    """Run the CLI from inside a test's event loop (main() would start a second one)."""
    import argparse
    import inspect

    from adapters.cli import build_parser

    args: argparse.Namespace = build_parser().parse_args(argv)
    result = args.func(args)
    return await result if inspect.isawaitable(result) else result
