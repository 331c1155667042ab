"""SQLite is one process: a second `liaison serve` on the same file refuses to start, in one line."""

from __future__ import annotations

import asyncio
import subprocess

import aiohttp
import pytest

from tests.fakes.serve import LIAISON, Replica, free_port, serve_env


@pytest.mark.slow
async def test_second_serve_on_one_sqlite_file_is_refused_with_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    env = serve_env(url, LIAISON_EVALUATION_INTERVAL_MINUTES="60")
    first = Replica(env, tmp_path / "serve-1.log")
    try:
        async with aiohttp.ClientSession() as http:
            health = await first.ready(http)
        assert health["coordination"] == "sqlite-single-process"
        second = await asyncio.to_thread(subprocess.run, [LIAISON, "serve", "--port", str(free_port())], env=env,
                                         capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert "another `liaison serve` already runs on" in lines[0] and "PostgreSQL" in lines[0]
        assert first.proc.poll() is None  # the first one carries on
        first.kill()  # a killed serve leaves no stale lock: the next one starts
        third = Replica(env, tmp_path / "serve-3.log")
        try:
            async with aiohttp.ClientSession() as http:
                await third.ready(http)
            assert third.stop() == 0
        finally:
            third.ensure_dead()
    finally:
        first.ensure_dead()
