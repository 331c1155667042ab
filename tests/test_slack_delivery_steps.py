"""Slack delivery in recorded steps: the message, then its files; a send in doubt is looked up first.

Real slack_sdk over loopback HTTP against the fake Slack Web API (tests/fakes/slack_api.py),
which keeps every post (never de-duplicates) and answers conversations.history with metadata.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from adapters.slack.gateway import METADATA_EVENT, SlackGateway
from bot.core import Core
from bot.messages import Image, Message
from bot.services import outbox
from bot.services.delivery import deliver_due
from bot.settings import Settings
from bot.store.outbox import OutboxItem, OutboxStatus
from tests.fakes.slack_api import FakeSlackApi, Scripted


@pytest.fixture
async def slack():
    fake = FakeSlackApi()
    await fake.start()
    yield fake
    await fake.stop()


def _gateway(slack: FakeSlackApi) -> SlackGateway:
    return SlackGateway(AsyncWebClient(token="xoxb-test", base_url=f"{slack.base_url}api/", timeout=5))


def _core(db, clock) -> Core:  # noqa: ANN001
    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url, slack_pace_seconds=0), clock=clock)


async def _row(db, key: str) -> OutboxItem:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(OutboxItem).where(OutboxItem.key == key))).scalar_one()


def _breaking(slack: FakeSlackApi, how: str) -> None:
    if how == "SlackRequestError":  # the upload POST itself fails
        slack.upload_failures = 10
    elif how == "TypeError":  # an answer without upload_url: slack_sdk trips over it
        slack.fail_next("files.getUploadURLExternal", *[Scripted(body={"ok": True, "file_id": "F1"})] * 10)
    else:  # SlackApiError: Slack refuses the completion
        slack.fail_next("files.completeUploadExternal", *[Scripted(error="internal_error")] * 10)


@pytest.mark.parametrize("how", ["SlackRequestError", "TypeError", "SlackApiError"])
async def test_failed_upload_never_posts_the_message_again(db, clock, slack, how):
    core = _core(db, clock)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C0DIGEST", key="digest:acme:2026-W46",
                             message=Message(title="Weekly digest", image=Image(alt="chart", png=b"\x89PNG")),
                             now=clock.now())
    _breaking(slack, how)
    for _ in range(4):  # the worker comes round again (and again) after any retry
        await deliver_due(core, {"slack": _gateway(slack)})
        clock.advance(seconds=700)
    assert len(slack.of("chat.postMessage")) == 1
    row = await _row(db, "digest:acme:2026-W46")
    assert row.status == OutboxStatus.SENT and row.ref and "files failed" in row.last_error


async def test_a_send_in_doubt_found_in_history_is_not_posted_again(db, clock, slack):
    core = _core(db, clock)
    gateway = _gateway(slack)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C0ALERTS", key="breach:7@slack:C0ALERTS",
                             message=Message(title="Breach"), now=clock.now())
        await outbox.enqueue(s, platform="slack", destination="C0ALERTS", key="breach:8@slack:C0ALERTS",
                             message=Message(title="Another"), now=clock.now())
    # a replica posted breach:7 and died before recording it: the row is in flight, its lease lapsed
    await gateway.post_keyed("C0ALERTS", Message(title="Breach"), key="breach:7@slack:C0ALERTS")
    async with db.transaction() as s:
        await s.execute(update(OutboxItem).where(OutboxItem.key == "breach:7@slack:C0ALERTS").values(
            sending_since=clock.now(), claim_token="dead-replica", claimed_until=clock.now() - timedelta(seconds=1)))
    report = await deliver_due(core, {"slack": gateway})
    assert (report.found, report.sent) == (1, 2)
    posted = slack.messages["C0ALERTS"]
    assert [m["text"] for m in posted].count("Breach") == 1 and len(posted) == 2
    assert all(m["metadata"]["event_type"] == METADATA_EVENT for m in posted)
    assert len(slack.of("conversations.history")) == 1  # only the row in doubt was looked up
    row = await _row(db, "breach:7@slack:C0ALERTS")
    assert row.ref == f"C0ALERTS:{posted[0]['ts']}" and row.sending_since is None


async def test_a_send_in_doubt_missing_from_history_is_posted(db, clock, slack):
    core = _core(db, clock)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C0ALERTS", key="k1", message=Message(title="Hi"),
                             now=clock.now())
        await s.execute(update(OutboxItem).values(sending_since=clock.now(), claim_token="dead",
                                                  claimed_until=clock.now() - timedelta(seconds=1)))
    report = await deliver_due(core, {"slack": _gateway(slack)})
    assert (report.found, report.sent) == (0, 1)
    assert [m["text"] for m in slack.messages["C0ALERTS"]] == ["Hi"]


async def test_a_failed_lookup_keeps_the_row_in_doubt(db, clock, slack):
    core = _core(db, clock)
    gateway = _gateway(slack)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C0ALERTS", key="k1", message=Message(title="Once"),
                             now=clock.now())
    await gateway.post_keyed("C0ALERTS", Message(title="Once"), key="k1")  # reached Slack, never recorded
    async with db.transaction() as s:
        await s.execute(update(OutboxItem).values(sending_since=clock.now(), claim_token="dead",
                                                  claimed_until=clock.now() - timedelta(seconds=1)))
    slack.fail_next("conversations.history", Scripted(status=500))
    assert (await deliver_due(core, {"slack": gateway})).retried == 1
    clock.advance(seconds=700)
    report = await deliver_due(core, {"slack": gateway})
    assert (report.found, report.sent) == (1, 1)
    assert [m["text"] for m in slack.messages["C0ALERTS"]] == ["Once"]
