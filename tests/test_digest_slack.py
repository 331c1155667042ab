"""End to end: the digest job's outbox rows delivered to a fake Slack Web API; the chart goes up via files_upload_v2."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.gateway import SlackGateway
from bot.services.delivery import deliver_due
from bot.store.models import Route
from jobs import digest as digest_job
from tests.fakes.slack_api import FakeSlackApi
from tests.test_digest import crafted


async def test_digest_job_delivered_to_slack_with_chart_uploaded(db, core, clock, make_partner):
    acme = await crafted(db, make_partner)
    async with db.transaction() as s:
        s.add(Route(partner_id=acme.id, purpose="digests", platform="slack", destination="C0ACMEDIG"))
    fake = FakeSlackApi()
    url = await fake.start()
    try:
        clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))  # Warsaw Monday 09:00
        assert await digest_job.run(core) == ["digest:acme:2026-W46"]
        gateway = SlackGateway(AsyncWebClient(token="xoxb-test", base_url=f"{url}api/"))
        report = await deliver_due(core, {"slack": gateway})
        assert report.sent == 1
        post = fake.of("chat.postMessage")[0].body
        assert post["channel"] == "C0ACMEDIG"
        assert "Weekly digest" in post["text"] and "Acme CX" in post["text"]
        assert fake.of("files.getUploadURLExternal") and fake.of("files.completeUploadExternal")
        assert fake.uploads and fake.uploads[0].startswith(b"\x89PNG")
        assert (await deliver_due(core, {"slack": gateway})).claimed == 0
    finally:
        await fake.stop()
