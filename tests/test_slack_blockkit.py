"""Block Kit rendering: limits by construction, escaping, forms, golden files, the gateway and the manifest."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from adapters.cli.manifest import slack_manifest
from adapters.slack.app import slash_commands
from adapters.slack.blockkit import form_view, render_message, view_values
from adapters.slack.gateway import SlackGateway, gateway_from_core
from bot.actions import ActionId, FormId
from bot.commands import commands
from bot.compose.breach import BreachView, breach_alert
from bot.compose.help import help_message
from bot.compose.kpi import TargetStatus, sla_status
from bot.core import Core
from bot.domain.metrics import CATALOGUE
from bot.messages import (
    Action,
    Fact,
    FieldKind,
    Form,
    FormField,
    Image,
    KpiRow,
    Message,
    Option,
    Section,
    Severity,
    Status,
)
from bot.ports import DeliveryError
from bot.settings import Settings
from tests.fakes.slack_api import FakeSlackApi, Scripted

GOLDEN = Path(__file__).parent / "golden" / "slack"
ROOT = Path(__file__).resolve().parents[1]


def golden(name: str, payload: dict) -> None:
    """Compare with the golden file; LIAISON_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("LIAISON_UPDATE_GOLDEN") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def valid(payload: dict) -> dict:
    assert payload["text"]
    assert len(payload["blocks"]) <= 50
    for block in Block.parse_all(payload["blocks"]):
        block.validate_json()
    for raw in payload["blocks"]:
        if raw["type"] == "section" and "text" in raw:
            assert len(raw["text"]["text"]) <= 3000
    return payload


VIEW = BreachView(episode_id=5, partner_name="Acme <@U123>", scope="Kraków · voice", metric="service_level",
                  comparator=">=", target=80.0, value=68.7, worst=68.7, num=412, den=600, window_label="Mon 2026-11-16",
                  since=datetime(2026, 11, 16, tzinfo=UTC), windows_breached=1, spark="▇▆▅▃▁", contributor="Kraków")


def test_blockkit_breach_alert_golden_and_escaped():
    payload = valid(render_message(breach_alert(VIEW)))
    raw = json.dumps(payload)
    assert "<@U123>" not in raw and "&lt;@U123&gt;" in raw
    assert [e["action_id"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "breach_acknowledge", "breach_open_escalation", "breach_mute"]
    golden("breach_alert", payload)


def test_blockkit_sla_status_and_help_golden():
    status = TargetStatus("Acme", "all sites · voice", CATALOGUE["service_level"], ">=", 80.0, "2026-W46", 77.1,
                          Status.BREACH, "2026-W47", 83.0, Status.WARNING, 900)
    golden("sla_status", valid(render_message(sla_status([status], open_breaches=None, title_scope="Acme"))))
    # Pinned to two verbs so the golden file does not change as features register theirs.
    specs = [s for s in commands() if s.verb in ("kpi", "sla")]
    golden("help", valid(render_message(help_message(specs, registered=True))))


def test_blockkit_huge_message_is_cut_to_limits_with_and_more():
    rows = tuple(KpiRow("aht", f"Metric {i} " + "x" * 80, "5m", "≤ 6m", Status.OK, note="n" * 200) for i in range(300))
    sections = tuple(Section(heading=f"Partner {i}", kpis=rows[:20], facts=tuple(Fact(f"f{j}", "v") for j in range(25)))
                     for i in range(40))
    message = Message(title="T" * 400, summary="s" * 5000, sections=sections,
                      actions=tuple(Action(ActionId.SHARE_IN_CHANNEL, "b" * 100, value="v" * 5000) for _ in range(3)))
    payload = valid(render_message(message))
    assert len(payload["blocks"]) == 50
    assert "...and" in json.dumps(payload["blocks"][-2])  # the cut notice sits just above the buttons
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    button = payload["blocks"][-1]["elements"][0]
    assert len(button["text"]["text"]) <= 75 and len(button["value"]) <= 2000


def test_blockkit_form_round_trips_values_and_fixed_fields():
    form = Form(FormId.ESCALATION_FILE, "File an escalation with a long title", state="breach:4", fields=(
        FormField("partner", "Partner", FieldKind.SELECT, options=(Option("acme", "Acme"),), initial="acme",
                  read_only=True),
        FormField("severity", "Severity", FieldKind.SELECT, options=(Option("P1", "P1 — outage"), Option("P2", "P2"))),
        FormField("title", "Title", max_length=150),
        FormField("due", "Due", FieldKind.DATE, required=False),
    ))
    view = form_view(form)
    View(**view).validate_json()
    assert len(view["title"]["text"]) <= 24
    view["state"] = {"values": {
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": "P1"}}},
        "title": {"title": {"type": "plain_text_input", "value": "Calls dropped"}},
        "due": {"due": {"type": "datepicker", "selected_date": None}},
    }}
    values, state = view_values(view)
    assert values == {"severity": "P1", "title": "Calls dropped", "due": None, "partner": "acme"}
    assert state == "breach:4"


@pytest.fixture
async def fake():
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


def gateway(fake: FakeSlackApi) -> SlackGateway:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr("xoxb-test"), slack_api_url=fake.base_url + "api/")
    return gateway_from_core(Core(db=None, settings=settings))  # type: ignore[arg-type]


async def test_gateway_posts_threads_updates_dms_and_uploads_chart(fake):
    gw = gateway(fake)
    message = Message(title="Digest", image=Image(alt="trend", png=b"\x89PNG fake"), severity=Severity.INFO)
    first = await gw.post("C1", message)
    reply = await gw.post("C1", Message(title="follow-up"), thread_ref=first.ref)
    await gw.update(first.ref, Message(title="edited"))
    await gw.send_direct("U9", Message(title="dm"))
    posts = fake.of("chat.postMessage")
    assert first.ref.startswith("C1:") and reply.ref != first.ref
    assert posts[1].body["thread_ts"] == first.ref.split(":")[1]
    assert fake.of("chat.update")[0].body["ts"] == first.ref.split(":")[1]
    assert posts[-1].body["channel"] == "DU9"
    assert fake.uploads == [b"\x89PNG fake"] and fake.of("files.completeUploadExternal")


@pytest.mark.parametrize(("answer", "retryable", "gone", "retry_after"), [
    (Scripted(status=429, error="ratelimited", retry_after=7), True, False, 7.0),
    (Scripted(status=500, error="internal_error"), True, False, None),
    (Scripted(error="channel_not_found"), False, True, None),
    (Scripted(error="invalid_auth"), False, False, None),
])
async def test_gateway_maps_slack_errors_to_delivery_errors(fake, answer, retryable, gone, retry_after):
    fake.fail_next("chat.postMessage", answer)
    with pytest.raises(DeliveryError) as info:
        await gateway(fake).post("C1", Message(title="x"))
    assert (info.value.retryable, info.value.gone, info.value.retry_after) == (retryable, gone, retry_after)


def test_manifest_commands_match_the_command_registry():
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    registry = {f"/{spec.verb}" for spec in commands() if spec.slash} | {"/liaison"}
    assert declared == set(slash_commands())
    assert registry <= declared
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_manifest_cli_fills_in_the_host():
    text = slack_manifest("https://liaison.example.org/")
    assert "YOUR-HOST" not in text and "https://liaison.example.org/slack/events" in text
    with pytest.raises(ValueError):
        slack_manifest("http://insecure.example.org")


async def test_gateway_slow_slack_is_a_retryable_delivery_error(fake):
    fake.fail_next("chat.postMessage", Scripted(delay=1.0))
    gw = SlackGateway(AsyncWebClient(token="xoxb-test", base_url=fake.base_url + "api/", timeout=0.2))
    with pytest.raises(DeliveryError) as info:
        await gw.post("C1", Message(title="x"))
    assert info.value.retryable and not info.value.gone
