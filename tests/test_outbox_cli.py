"""`liaison outbox list/retry` against a real database."""

from __future__ import annotations

from sqlalchemy import select

from adapters.cli import main
from bot.messages import Message
from bot.services import outbox
from bot.store.outbox import OutboxItem, OutboxStatus


async def _seed(db, clock) -> None:
    async with db.transaction() as s:
        ok = await outbox.enqueue(s, platform="slack", destination="C1", message=Message(title="fine"),
                                  key="ok", now=clock.now())
        dead = await outbox.enqueue(s, platform="slack", destination="C404", message=Message(title="lost"),
                                    key="dead", now=clock.now())
        ok.status = OutboxStatus.SENT
        dead.status, dead.last_error = OutboxStatus.DEAD, "channel_not_found"


def _run(argv: list[str]) -> int:
    import threading

    # main() calls asyncio.run; give it its own thread since the test already runs a loop
    out: list[int] = []
    thread = threading.Thread(target=lambda: out.append(main(argv)))
    thread.start()
    thread.join()
    return out[0]


async def test_outbox_list_failed_shows_dead_rows_with_reason(db, db_url, clock, monkeypatch, capsys):
    await _seed(db, clock)
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert _run(["outbox", "list", "--failed"]) == 0
    out = capsys.readouterr().out
    assert "dead" in out and "channel_not_found" in out and "C404" in out and " ok" not in out


async def test_outbox_retry_all_failed_requeues_and_unknown_id_explains(db, db_url, clock, monkeypatch, capsys):
    await _seed(db, clock)
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert _run(["outbox", "retry", "1"]) == 1
    assert "not failed or dead" in capsys.readouterr().out
    assert _run(["outbox", "retry", "--all-failed"]) == 0
    assert "1 message(s) queued again" in capsys.readouterr().out
    async with db.session() as s:
        dead = (await s.execute(select(OutboxItem).where(OutboxItem.key == "dead"))).scalar_one()
    assert dead.status == OutboxStatus.PENDING and dead.attempts == 0


async def test_evaluate_cli_reports_counts_and_rejects_bad_since(db, db_url, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert _run(["evaluate", "--since", "yesterday-ish"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().out
    assert _run(["evaluate"]) == 0
    assert "judged 0 windows of 0 targets" in capsys.readouterr().out
