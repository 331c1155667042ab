"""End to end: the T-7 QBR reminder delivered to a fake Slack Web API with the pack attached as Markdown."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.gateway import SlackGateway
from bot.services.delivery import deliver_due
from jobs import qbr as qbr_job
from tests.fakes.slack_api import FakeSlackApi, Scripted
from tests.test_qbr import setup

T7 = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)  # Manila 14:00, seven days before the QBR


async def _deliver(core, fake: FakeSlackApi):  # noqa: ANN001, ANN202
    gateway = SlackGateway(AsyncWebClient(token="xoxb-test", base_url=f"{fake.base_url}api/"))
    return await deliver_due(core, {"slack": gateway})


async def test_qbr_t7_reminder_posts_to_both_sides_with_the_pack_uploaded_in_its_thread(db, core, clock, make_partner):
    await setup(db, make_partner)
    fake = FakeSlackApi()
    await fake.start()
    try:
        clock.set(T7)
        [key] = await qbr_job.run(core)
        assert key.endswith(":T-7")
        assert (await _deliver(core, fake)).sent == 2
        posts = fake.of("chat.postMessage")
        assert sorted(p.body["channel"] for p in posts) == ["C0LEADQBR", "C0NWQBR"]
        assert all("The full pack is attached as qbr-pack-northwind-2026-Q4.md" in str(p.body["blocks"])
                   and "qbr pack northwind 2026-Q4" in str(p.body["blocks"]) for p in posts)
        names = [c.body["filename"] for c in fake.of("files.getUploadURLExternal")]
        assert names == ["qbr-pack-northwind-2026-Q4.md"] * 2
        threads = sorted(c.body.get("thread_ts") for c in fake.of("files.completeUploadExternal"))
        assert threads == sorted(p_ts for p_ts in (await _timestamps(fake)))
        assert all(u.startswith(b"# QBR pack \xc2\xb7 Northwind BPO \xc2\xb7 2026-Q4") for u in fake.uploads)
        assert b"## Reverse reports\n\n- Reverse reports: none this quarter." in fake.uploads[0]
        assert b"## Feedback and reverse reports" not in fake.uploads[0]  # each part under its own heading
    finally:
        await fake.stop()


async def _timestamps(fake: FakeSlackApi) -> list[str]:
    # the fake answers chat.postMessage with ts 1700000000.<n>; the uploads must thread under those
    return [f"1700000000.{n:06d}" for n, call in enumerate(fake.calls, start=1) if call.method == "chat.postMessage"]


async def test_failed_upload_does_not_post_the_reminder_twice(db, core, clock, make_partner):
    await setup(db, make_partner)
    fake = FakeSlackApi()
    await fake.start()
    try:
        clock.set(T7)
        await qbr_job.run(core)
        fake.fail_next("files.getUploadURLExternal", Scripted(status=500), Scripted(status=500))
        report = await _deliver(core, fake)
        assert report.sent == 2 and report.retried == 0  # the messages arrived; only the files did not
        clock.set(T7.replace(minute=30))
        assert (await _deliver(core, fake)).claimed == 0
        assert len(fake.of("chat.postMessage")) == 2 and fake.uploads == []
    finally:
        await fake.stop()
