"""The command grammar: every verb through dispatch, suggestions, and per-partner access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.actions import ActionId
from bot.commands import dispatch, parse, tokenize
from bot.domain.access import NOT_REGISTERED, Actor
from bot.interactions import Press, handle_action
from bot.messages import Message, Severity, Status
from bot.store.models import Measurement, Target


@pytest.fixture
async def world(core, make_partner, make_user):
    acme = await make_partner("acme", name="Acme Contact", tz="Europe/Berlin")
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo", sites=("saopaulo",))
    async with core.db.transaction() as s:
        for p, within in ((acme, 70), (globex, 90)):
            s.add(Target(partner_id=p.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                         warning_value=85, window="week", min_volume=10, channel="voice"))
            start = datetime(2026, 11, 10, 9, tzinfo=UTC)
            for day in range(3):
                t = start + timedelta(days=day)
                s.add(Measurement(partner_id=p.id, scope_site=0, channel="voice", metric="service_level",
                                  period_start=t, period_end=t + timedelta(minutes=15), num=within, den=100,
                                  ingested_at=t))
    return {
        "acme": acme, "globex": globex,
        "client": await make_user("lead", role="client"),
        "admin": await make_user("admin", role="admin"),
        "acme_user": await make_user("acme-tl", role="partner", partner=acme),
        "globex_user": await make_user("globex-tl", role="partner", partner=globex),
        "unknown": Actor(platform="console", platform_user_id="stranger"),
    }


async def ask(core, actor, text: str, **kw) -> Message:  # noqa: ANN001
    reply = await dispatch(core, text=text, actor=actor, platform="console", **kw)
    assert isinstance(reply, Message)
    return reply


def rows(message: Message) -> list:
    return [row for section in message.sections for row in section.kpis]


def test_parse_slash_and_plain_forms_reach_same_verb_and_tokens():
    assert parse("acme aht last-week", slash="/kpi")[:2] == ("kpi", ["acme", "aht", "last-week"])
    assert parse("kpi acme aht last-week")[:2] == ("kpi", ["acme", "aht", "last-week"])
    assert tokenize('action acme "Reduce AHT on returns" @owner') == ["action", "acme", "Reduce AHT on returns", "@owner"]


async def test_kpi_client_without_arguments_sees_portfolio(core, world):
    reply = await ask(core, world["client"], "kpi sl last-week")
    assert reply.title.startswith("Portfolio KPIs")
    statuses = {r.value: r.status for r in rows(reply)}
    assert statuses == {"70.0%": Status.BREACH, "90.0%": Status.OK}
    assert reply.severity is Severity.CRITICAL
    assert reply.actions[0].id is ActionId.SHARE_IN_CHANNEL and reply.actions[0].value == "kpi sl last-week"


async def test_kpi_partner_user_without_arguments_sees_only_own_partner(core, world):
    reply = await ask(core, world["acme_user"], "kpi sl last-week")
    assert reply.title.startswith("Acme Contact")
    assert [r.value for r in rows(reply)] == ["70.0%"]
    assert "Globex" not in str(reply)


async def test_kpi_partner_user_asking_for_other_partner_is_refused(core, world):
    # refused in the words of a partner that does not exist: the other partner's name never shows
    for verb in ("kpi", "sla"):
        reply = await ask(core, world["acme_user"], f"{verb} globex")
        missing = await ask(core, world["acme_user"], f"{verb} zzzzzz")
        assert reply.title == missing.title == "I didn't understand that"
        assert reply.summary.replace("globex", "X") == missing.summary.replace("zzzzzz", "X")
        assert "Globex" not in str(reply) and "globex" not in str(reply.sections)


async def test_kpi_unknown_user_gets_ask_an_admin_answer(core, world):
    for text in ("kpi", "sla", "kpi acme"):
        reply = await ask(core, world["unknown"], text)
        assert reply.summary == NOT_REGISTERED


@pytest.mark.parametrize(("text", "suggestion"), [
    ("kpi acmee", "acme"), ("kpi acme ahtt", "aht"), ("kpi acme last-wek", "last-week"), ("kpii acme", "kpi"),
])
async def test_kpi_typos_get_closest_valid_names(core, world, text, suggestion):
    reply = await ask(core, world["client"], text)
    assert reply.title == "I didn't understand that"
    assert suggestion in [b for s in reply.sections for b in s.bullets]


async def test_kpi_impossible_window_says_what_is_accepted(core, world):
    reply = await ask(core, world["client"], "kpi acme 2026-W60")
    assert "2026-W60" in reply.summary and "not a real date" in reply.summary


async def test_sla_lists_targets_per_partner_with_status(core, world):
    reply = await ask(core, world["client"], "sla")
    headings = [s.heading for s in reply.sections]
    assert headings[:2] == ["Acme Contact", "Globex CX"] and "Open breaches" in headings


async def test_help_lists_every_registered_command(core, world):
    reply = await ask(core, world["unknown"], "help")
    headings = {s.heading for s in reply.sections}
    assert {"kpi", "sla", "escalate"} <= headings
    assert "not set up" in reply.summary
    slash = await dispatch(core, text="help", actor=world["client"], platform="slack", slash="/liaison")
    assert "/kpi" in {s.heading for s in slash.sections}


async def test_share_in_channel_reruns_for_presser_and_posts_publicly(core, world):
    result = await handle_action(core, Press(ActionId.SHARE_IN_CHANNEL, "kpi sl last-week", world["client"]))
    shared = result.post_in_channel
    assert shared is not None and shared.ephemeral is False
    assert "Shared by lead" in shared.context and not shared.actions


async def test_share_in_channel_is_reauthorized_for_presser(core, world):
    # A partner user pressing a button that asks for another partner's data gets a private refusal.
    result = await handle_action(core, Press(ActionId.SHARE_IN_CHANNEL, "kpi globex", world["acme_user"]))
    assert result.post_in_channel is None and "is not a partner, metric or window I know" in result.reply.text
    assert "Globex" not in str(result.reply)
