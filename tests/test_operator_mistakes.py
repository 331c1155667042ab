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


def test_teams_package_refuses_a_non_guid_app_id(tmp_path):
    result = run(["teams", "package", "--out", str(tmp_path / "p.zip"), "--app-id", "liaison-bot",
                  "--host", "liaison.example.org"], sqlite_env(tmp_path), tmp_path)
    one_line(result, "--app-id", "GUID")
    assert not (tmp_path / "p.zip").exists()


def test_teams_package_versions_bump_and_links_are_served(tmp_path):
    import json as _json
    import zipfile
    from datetime import UTC, datetime, timedelta

    from aiohttp.test_utils import TestClient, TestServer  # noqa: F401

    from adapters.teams.package import automatic_version, check_version

    one_line(run(["teams", "package", "--out", str(tmp_path / "p.zip"), "--app-id",
                  "11111111-2222-3333-4444-555555555555", "--host", "h.example.org", "--version", "1.2"],
                 sqlite_env(tmp_path), tmp_path), "--version")
    earlier = automatic_version(datetime(2026, 12, 5, 9, 59, tzinfo=UTC))
    later = automatic_version(datetime(2026, 12, 5, 9, 59, tzinfo=UTC) + timedelta(minutes=1))
    assert tuple(map(int, later.split("."))) > tuple(map(int, earlier.split("."))) and check_version(later)
    ok = run(["teams", "package", "--out", str(tmp_path / "p.zip"), "--app-id", "11111111-2222-3333-4444-555555555555",
              "--host", "h.example.org", "--version", "1.4.2"], sqlite_env(tmp_path), tmp_path)
    assert ok.returncode == 0, ok.stderr
    manifest = _json.loads(zipfile.ZipFile(tmp_path / "p.zip").read("manifest.json"))
    assert manifest["version"] == "1.4.2"
    assert manifest["developer"]["privacyUrl"].endswith("/privacy")
    assert manifest["developer"]["termsOfUseUrl"].endswith("/terms")


async def test_serve_has_the_privacy_and_terms_pages_the_package_links(core):
    import aiohttp
    from aiohttp.test_utils import TestServer

    from adapters.http import create_app

    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/privacy", "/terms"):
                async with http.get(server.make_url(path)) as resp:
                    assert resp.status == 200 and "Liaison" in await resp.text()
    finally:
        await server.close()
