"""Real `liaison serve` processes for tests: replicas on loopback ports, killed or stopped on cue.

Several replicas = several real processes (never threads in the test's own process). Each
logs to a file so a failing test can show what the process said.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

LIAISON = str(Path(sys.executable).parent / "liaison")


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for(predicate: Callable[[], bool], *, within: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def serve_env(db_url: str, **extra: str) -> dict[str, str]:
    """Return the environment of a replica on ``db_url`` (the test's own PG variable removed)."""
    env = {**os.environ, "LIAISON_DATABASE_URL": db_url, **extra}
    env.pop("LIAISON_TEST_DATABASE_URL", None)
    return env


class Replica:
    """A `liaison serve` process on a loopback port, reachable as a base URL."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = open(log, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([LIAISON, "serve", "--port", str(self.port)],
                                     env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        """Return the end of the process's log."""
        return self.log.read_text(encoding="utf-8")[-3000:]

    async def ready(self, http: aiohttp.ClientSession, within: float = 60) -> dict:
        """Wait until /healthz answers 200; return its JSON."""
        deadline = time.monotonic() + within
        while True:
            assert self.proc.poll() is None, f"liaison serve exited: {self.output()}"
            try:
                async with http.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return await resp.json()
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "liaison serve never became healthy"
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup (a crashed server)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM (a rolling restart); ``wait`` for the exit status."""
        os.kill(self.proc.pid, signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._out.close()
        return code

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if not self._out.closed:
            self._out.close()
