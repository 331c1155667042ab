"""Issue 13: each operator mistake is one line naming the setting or argument, exit status 2, no traceback.

The real ``liaison`` entry point runs as a subprocess with a clean environment, as an operator would start it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

LOG_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO|WARNING) ")
LIAISON = str(Path(sys.executable).parent / "liaison")
ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run([LIAISON, *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def one_line(result: subprocess.CompletedProcess, *names: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    # start-up log records (alembic migrating a fresh file) may precede it; the answer is one line
    lines = [line for line in result.stderr.strip().splitlines() if not LOG_RECORD.match(line)]
    assert len(lines) == 1, result.stderr
    err = lines[0]
    for name in names:
        assert name in err, err
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"LIAISON_DATABASE_URL": f"sqlite:///{tmp_path / 'op.db'}"}


def test_serve_with_an_unreachable_database(tmp_path):
    port = free_port()  # nothing listens there
    result = run(["serve", "--port", str(free_port())],
                 {"LIAISON_DATABASE_URL": f"postgresql://liaison:hunter2@127.0.0.1:{port}/liaison"}, tmp_path)
    err = one_line(result, "LIAISON_DATABASE_URL", "cannot reach the database")
    assert "hunter2" not in err  # the password is not printed


def test_serve_with_a_malformed_database_url(tmp_path):
    one_line(run(["serve", "--port", str(free_port())], {"LIAISON_DATABASE_URL": "postgres//oops"}, tmp_path),
             "LIAISON_DATABASE_URL", "not a database URL")


def test_serve_with_a_non_numeric_evaluation_interval(tmp_path):
    one_line(run(["serve", "--port", str(free_port())],
                 {**sqlite_env(tmp_path), "LIAISON_EVALUATION_INTERVAL_MINUTES": "abc"}, tmp_path),
             "LIAISON_EVALUATION_INTERVAL_MINUTES", "'abc'")


def test_serve_with_a_teams_app_id_but_no_password(tmp_path):
    one_line(run(["serve", "--port", str(free_port())],
                 {**sqlite_env(tmp_path), "MICROSOFT_APP_ID": "00000000-0000-4000-8000-000000000001"}, tmp_path),
             "MICROSOFT_APP_PASSWORD")


def test_serve_socket_mode_without_an_app_token(tmp_path):
    one_line(run(["serve", "--socket-mode", "--port", str(free_port())], sqlite_env(tmp_path), tmp_path),
             "--socket-mode", "SLACK_APP_TOKEN")


def test_serve_on_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line(run(["serve", "--port", str(port)], sqlite_env(tmp_path), tmp_path), f"port {port}", "in use")


@pytest.mark.parametrize("week", ["2026-W99", "2026-W00", "26-W10", "2027-W53"])
def test_digest_with_an_impossible_week(tmp_path, week):
    assert run(["db", "upgrade"], sqlite_env(tmp_path), tmp_path).returncode == 0
    one_line(run(["digest", "--partner", "acme", "--week", week, "--dry-run"], sqlite_env(tmp_path), tmp_path),
             "--week", week)
