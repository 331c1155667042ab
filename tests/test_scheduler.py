"""The job scheduler: every registered job on its trigger, and enqueuing commits wake delivery."""

from __future__ import annotations

from bot.core import Core
from bot.messages import Message
from bot.services import outbox
from bot.settings import Settings
from jobs import deliver as deliver_job
from jobs.registry import all_jobs
from jobs.scheduler import attach_wake, build_scheduler
from tests.fakes.recording_gateway import RecordingGateway


async def test_build_scheduler_registers_every_job_coalesced_single_instance(db, clock):
    core = Core(db=db, settings=Settings(database_url=db.url), clock=clock)
    scheduler = build_scheduler(core, {"slack": RecordingGateway(clock)})
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {j.id for j in all_jobs()} >= {"evaluate", "deliver"}
    assert all(j.coalesce and j.max_instances == 1 for j in jobs.values())
    assert jobs["evaluate"].trigger.interval.total_seconds() == 15 * 60
    assert "slack" in core.gateways


async def test_enqueue_commit_moves_delivery_job_to_now(db, clock):
    core = Core(db=db, settings=Settings(database_url=db.url), clock=clock)
    scheduler = build_scheduler(core, {})
    job = scheduler.get_job("deliver")
    job.modify(next_run_time=job.next_run_time.replace(year=2099))
    listener = attach_wake(scheduler)
    try:
        async with db.transaction() as s:
            await outbox.enqueue(s, platform="slack", destination="C1", message=Message(title="x"),
                                 key="k", now=clock.now())
        assert scheduler.get_job("deliver").next_run_time.year < 2099
    finally:
        outbox.remove_commit_listener(listener)


class EnqueuingGateway(RecordingGateway):
    """Posting the first message commits another one, as a button press would during a delivery run."""

    def __init__(self, clock, db):  # noqa: ANN001
        super().__init__(clock)
        self.db = db

    async def post(self, destination, message, *, thread_ref=None):  # noqa: ANN001, ANN201
        result = await super().post(destination, message, thread_ref=thread_ref)
        if len(self.sent) == 1:
            async with self.db.transaction() as s:
                await outbox.enqueue(s, platform="slack", destination="C2", message=Message(title="during"),
                                     key="during", now=self.clock.now())
        return result


async def test_message_committed_during_a_delivery_run_goes_out_in_that_run(db, clock):
    gateway = EnqueuingGateway(clock, db)
    core = Core(db=db, settings=Settings(database_url=db.url, slack_pace_seconds=0), clock=clock)
    scheduler = build_scheduler(core, {"slack": gateway})
    listener = attach_wake(scheduler)
    try:
        async with db.transaction() as s:
            await outbox.enqueue(s, platform="slack", destination="C1", message=Message(title="first"),
                                 key="first", now=clock.now())
        report = await deliver_job.run(core)
    finally:
        outbox.remove_commit_listener(listener)
    assert [x.message.title for x in gateway.sent] == ["first", "during"] and report.sent == 2


async def test_healthz_says_whether_this_replica_holds_a_job_lock_right_now(db, clock):
    """/healthz scheduler_lock: true only while this process holds a job's lock; another holder makes it false."""
    import aiohttp
    from aiohttp.test_utils import TestServer
    from sqlalchemy import text

    from adapters.http import create_app
    from bot.store.locks import _KEY, try_hold

    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
    server = TestServer(create_app(core, mounts=()), host="127.0.0.1")
    await server.start_server()

    async def health() -> dict:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as resp:
            assert resp.status == 200
            return await resp.json()

    try:
        idle = await health()
        assert (idle["scheduler_lock"], idle["jobs_running"]) == (False, [])
        async with try_hold(db, "job:digest") as mine:
            assert mine
            busy = await health()
            assert (busy["scheduler_lock"], busy["jobs_running"]) == (True, ["digest"])
        assert (await health())["scheduler_lock"] is False
        if not db.is_sqlite:  # another replica (its own session) holds the lock: this one does not get it
            async with db.engine.connect() as other:
                await other.execute(text(f"SELECT pg_advisory_lock({_KEY})"), {"name": "job:digest"})
                async with try_hold(db, "job:digest") as mine:
                    assert not mine
                    assert (await health())["scheduler_lock"] is False
                await other.execute(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": "job:digest"})
        assert (await health())["coordination"] == ("sqlite-single-process" if db.is_sqlite else "postgresql")
    finally:
        await server.close()
