"""`liaison teams refs/link/package` against a real database."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from datetime import timedelta

from PIL import Image

from adapters.cli import main
from bot.commands import commands
from bot.store.conversations import find_reference, mark_stale, save_reference

APP_ID = "11111111-2222-3333-4444-555555555555"


def run(argv: list[str]) -> int:
    # main() calls asyncio.run; give it its own thread since the test already runs a loop
    out: list[int] = []
    thread = threading.Thread(target=lambda: out.append(main(argv)))
    thread.start()
    thread.join()
    return out[0]


async def seed(db, clock) -> None:  # noqa: ANN001
    async with db.transaction() as s:
        for key, name in (("19:alerts@thread.tacv2", "acme-alerts"), ("19:old@thread.tacv2", "globex-alerts")):
            await save_reference(s, key=key, name=name, reference={"conversation": {"id": key}},
                                 service_url="https://smba.example/", tenant_id="tenant-1", now=clock.now())
    async with db.transaction() as s:
        await mark_stale(s, "globex-alerts", reason="HTTP 403: bot removed or no access",
                         now=clock.now() + timedelta(hours=1))


async def test_teams_refs_lists_stale_first_with_reason_and_filters(db, db_url, clock, monkeypatch, capsys):
    await seed(db, clock)
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert run(["teams", "refs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("STALE") and "globex-alerts" in lines[1]
    assert "HTTP 403: bot removed" in lines[2] and "Reinstall the app" in lines[2]
    assert lines[3].startswith("ok") and lines[3].endswith("19:alerts@thread.tacv2")
    assert run(["teams", "refs", "--stale"]) == 0
    out = capsys.readouterr().out
    assert "globex-alerts" in out and "acme-alerts" not in out


async def test_teams_refs_empty_database_explains_how_to_get_references(db, db_url, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert run(["teams", "refs", "--stale"]) == 0
    assert capsys.readouterr().out.strip() == "no stale Teams conversations"
    assert run(["teams", "refs"]) == 0
    assert "install the app in a team or chat" in capsys.readouterr().out


async def test_teams_link_moves_a_route_name_to_another_conversation(db, db_url, clock, monkeypatch, capsys):
    await seed(db, clock)
    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert run(["teams", "link", "19:alerts@thread.tacv2", "globex-alerts"]) == 0
    assert run(["teams", "link", "19:nowhere", "x"]) == 1
    assert "no Teams conversation '19:nowhere'" in capsys.readouterr().out
    async with db.session() as s:
        assert (await find_reference(s, "globex-alerts")).key == "19:alerts@thread.tacv2"
        assert await find_reference(s, "acme-alerts") is None


def test_teams_package_command_writes_zip_with_icons_and_grammar_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    out = tmp_path / "liaison-teams.zip"
    assert run(["teams", "package", "--out", str(out), "--host", "liaison.example.org"]) == 1
    assert "MICROSOFT_APP_ID" in capsys.readouterr().out
    assert run(["teams", "package", "--out", str(out), "--app-id", APP_ID, "--host",
                "https://liaison.example.org/"]) == 0
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        color = Image.open(io.BytesIO(zf.read("color.png")))
        outline = Image.open(io.BytesIO(zf.read("outline.png")))
    assert (color.size, outline.size) == ((192, 192), (32, 32))
    # Teams wants the outline icon white on transparent: no pixel may be coloured
    assert all(c[3] == 0 or c[:3] == (255, 255, 255) for _, c in outline.convert("RGBA").getcolors())
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["liaison.example.org"]
    titles = [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]]
    assert titles == [spec.verb for spec in commands()][:10]
