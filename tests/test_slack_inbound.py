"""Typed Slack payloads: parsed at the boundary, malformed ones refused with a clear reason."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from adapters.slack.app import web_client
from adapters.slack.inbound import (
    ButtonPress,
    HomeOpened,
    MalformedPayload,
    SlashCommand,
    ViewSubmission,
)
from bot.settings import Settings


def test_inbound_slash_command_blank_fields_become_none():
    cmd = SlashCommand.parse({"command": "/kpi", "text": None, "user_id": "U1", "channel_id": "", "trigger_id": "t"})
    assert (cmd.command, cmd.text, cmd.user_id, cmd.channel_id, cmd.trigger_id) == ("/kpi", "", "U1", None, "t")


def test_inbound_button_press_in_channel_has_channel_ts_ref():
    press = ButtonPress.parse({"actions": [{"action_id": "share_in_channel", "value": "v"}], "user": {"id": "U1"},
                               "channel": {"id": "C1"}, "container": {"message_ts": "171.5"}, "trigger_id": "t"})
    assert (press.action_id, press.value, press.message_ref, press.trigger_id) == ("share_in_channel", "v", "C1:171.5", "t")


def test_inbound_button_press_from_modal_has_no_ref():
    press = ButtonPress.parse({"actions": [{"action_id": "a"}], "user": {"id": "U1"}, "container": {"type": "view"}})
    assert press.message_ref is None and press.value == ""


@pytest.mark.parametrize(("parse", "body", "reason"), [
    (SlashCommand.parse, {"command": "/kpi"}, "user_id"),
    (ButtonPress.parse, {"actions": [], "user": {"id": "U1"}}, "no action"),
    (ButtonPress.parse, {"actions": [{"action_id": "a"}]}, "id"),
    (ViewSubmission.parse, {"user": {"id": "U1"}}, "no view"),
    (ViewSubmission.parse, {"user": {"id": "U1"}, "view": {}}, "callback_id"),
    (HomeOpened.parse, {"tab": "home"}, "user"),
])
def test_inbound_missing_field_raises_malformed_payload(parse, body, reason):
    with pytest.raises(MalformedPayload, match=reason):
        parse(body)


def test_inbound_home_opened_defaults_to_home_tab():
    assert HomeOpened.parse({"user": "U1"}) == HomeOpened(user_id="U1", tab="home")


def test_web_client_retries_connection_errors_once_and_rate_limits_only_at_request_time():
    class _Core:
        settings = Settings(_env_file=None, slack_bot_token=SecretStr("xoxb-t"), slack_api_url="http://127.0.0.1:9/api/")

    kinds = [type(h).__name__ for h in web_client(_Core()).retry_handlers]  # type: ignore[arg-type]
    assert kinds == ["AsyncConnectionErrorRetryHandler", "AsyncRateLimitErrorRetryHandler"]
    outbox = [type(h).__name__ for h in web_client(_Core(), retry_rate_limits=False).retry_handlers]  # type: ignore[arg-type]
    assert outbox == ["AsyncConnectionErrorRetryHandler"]


@pytest.mark.parametrize(("sent", "typed"), [
    ('action acme "Reduce AHT" <@U0ACME1|tomasz> 2027-02-15', 'action acme "Reduce AHT" @tomasz 2027-02-15'),
    ("owner <@U0ACME1>", "owner @U0ACME1"),
    ("post in <#C0ACMEESC|acme-escalations>", "post in #acme-escalations"),
    ("see <https://crm.example.org/t/1?a=1&amp;b=2|crm.example.org/t/1>", "see https://crm.example.org/t/1?a=1&b=2"),
    ("tone was &lt;rude&gt; &amp; slow <!here>", "tone was <rude> & slow @here"),
    ("plain words stay", "plain words stay"),
])
def test_inbound_slash_command_text_is_what_the_person_typed(sent, typed):
    body = {"command": "/qbr", "text": sent, "user_id": "U0LEAD"}
    assert SlashCommand.parse(body).text == typed
