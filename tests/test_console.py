"""The console adapter: rendering, the scripted shell, and `liaison demo` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.console.render import render
from adapters.console.shell import ConsoleSession, run_lines
from bot.actions import ActionId, FormId
from bot.messages import (
    Action,
    Fact,
    FieldKind,
    Form,
    FormField,
    KpiRow,
    Message,
    OpenForm,
    Option,
    Section,
    Severity,
    Status,
)

ROOT = Path(__file__).resolve().parents[1]


def test_render_message_shows_severity_kpis_and_numbered_buttons():
    message = Message(
        title="SLA breach", summary="Acme <!channel> below target", severity=Severity.CRITICAL,
        sections=(Section(heading="Facts", facts=(Fact("Partner", "Acme"),),
                          kpis=(KpiRow("service_level", "Service level", "77.8%", "≥ 80.0%", Status.BREACH,
                                       delta="-3.1 pp", sparkline="▁▃█", note="480 of 617 answered"),)),),
        actions=(Action(ActionId.BREACH_ACKNOWLEDGE, "Acknowledge"), Action(ActionId.BREACH_MUTE, "Mute 24 h")),
        context="Breach #5",
    )
    text = render(message)
    assert text.startswith("[CRITICAL] SLA breach")
    assert "<!channel>" in text  # the terminal shows data verbatim; only chat renderers escape
    assert "BREACH" in text and "-3.1 pp" in text and "▁▃█" in text and "480 of 617" in text
    assert "[1 Acknowledge]  [2 Mute 24 h]" in text


def test_render_form_lists_fields_with_choices():
    form = Form(FormId.ESCALATION_FILE, "File an escalation", fields=(
        FormField("severity", "Severity", FieldKind.SELECT, options=(Option("P1", "P1"), Option("P2", "P2"))),
        FormField("title", "Title", max_length=150),
    ))
    text = render(OpenForm(form))
    assert "severity: Severity (select, required) one of: P1, P2" in text and "submit field=value" in text


@pytest.fixture
async def session(core, make_partner, make_user):
    acme = await make_partner("acme")
    await make_user("admin", role="admin")
    await make_user("acme-tl", role="partner", partner=acme)
    out: list[str] = []
    return ConsoleSession(core=core, user="admin", write=out.append), out


async def test_shell_scripted_lines_answer_each_and_switch_user(session):
    console, out = session
    await run_lines(console, ["kpi acme", "whoami", "as acme-tl", "kpi", "press 1", "bogus", "quit", "kpi"])
    text = "\n".join(out)
    assert "admin> kpi acme" in text and "Acme — KPIs" in text
    assert "Now acting as acme-tl (partner)." in text
    assert "[OK] Shared" not in text and "Shared by acme-tl" in text  # press 1 = Share in channel
    assert "'bogus' is not a Liaison command." in text
    assert text.count("acme-tl> kpi") == 1  # nothing after quit


async def test_shell_press_without_buttons_and_submit_without_form_explain_themselves(session):
    console, out = session
    await run_lines(console, ["press 1", "submit title=x"], echo=False)
    assert out == ["There is no button to press: the last message has none.",
                   "No form is open. Commands such as `escalate`, `feedback` or `report` open one."]


@pytest.mark.slow
def test_demo_no_shell_runs_end_to_end_on_sqlite_with_piped_commands(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "SLACK_", "MICROSOFT_"))}
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "demo"], cwd=tmp_path, env=env, text=True,
        input="kpi all csat last-week\nas acme-tl\nkpi globex\nquit\n", capture_output=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    # the demo's own fresh database lives in a temporary directory, not the working directory
    assert not (tmp_path / "liaison.db").exists() and "liaison-demo.db" in out
    assert "Config: " in out and "3 partners" in out
    assert "Acme Contact Solutions — KPIs" in out
    assert "SLA compliance — all partners" in out
    assert "SLA breach:" in out and "Resolved:" in out  # an alert and its recovery were shown
    assert "Portfolio KPIs" in out and "not a partner, metric or window I know" in out
    assert "files ESC-1 with /escalate in Slack" in out and "Lena Lead presses Acknowledge in Teams" in out
    assert "1 escalation opened, 1 resolved" in out  # and the digest's "What changed" counts it


def test_cli_help_lists_every_command_with_a_description():
    result = subprocess.run([sys.executable, "-m", "adapters.cli", "--help"], text=True, capture_output=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0
    for name in ("demo", "shell", "serve", "ingest", "config", "db", "demo-data", "outbox"):
        assert f"    {name}" in result.stdout

