"""The CLI loads only the module of the command it runs: `liaison --help` names every command cheaply."""

from __future__ import annotations

import argparse
import subprocess
import sys

from adapters.cli import COMMANDS, build_parser

HEAVY = ("matplotlib", "alembic", "slack_bolt", "botbuilder", "numpy", "aiohttp", "sqlalchemy")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    return dict(action.choices)


def test_cli_every_listed_command_is_registered_by_its_module():
    # Built in full, each module registers exactly the commands the table says it does.
    registered = _subcommands(build_parser())
    assert set(registered) == set(COMMANDS)
    for command, (module, _help) in COMMANDS.items():
        alone = _subcommands(build_parser([command, "--help"]))
        assert alone[command].format_usage() == registered[command].format_usage(), (command, module)


def test_cli_help_imports_no_heavy_library():
    code = ("import sys\nfrom adapters.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    for command in COMMANDS:
        assert command in out


def test_clock_offset_setting_moves_every_core_clock_by_the_same_amount():
    """LIAISON_CLOCK_OFFSET_SECONDS: a rehearsal clock that every replica shares (tests/test_replicas_reminders.py)."""
    from datetime import timedelta

    from bot.core import Core
    from bot.ports import OffsetClock, SystemClock
    from bot.settings import Settings

    moved = Core.from_settings(Settings(LIAISON_CLOCK_OFFSET_SECONDS="-86400", LIAISON_DATABASE_URL="sqlite://"))
    assert isinstance(moved.clock, OffsetClock) and moved.clock.offset == timedelta(days=-1)
    assert isinstance(Core.from_settings(Settings(LIAISON_DATABASE_URL="sqlite://")).clock, SystemClock)


_SERVE_APP = """
import asyncio, sys
from bot.core import Core
from bot.settings import Settings

async def main():
    core = Core.from_settings(Settings(_env_file=None))
    from adapters.cli.serve import build_gateways
    from adapters.http import create_app
    from jobs.scheduler import build_scheduler
    create_app(core)
    build_scheduler(core, build_gateways(core))
    print(sorted(m for m in ("matplotlib", "numpy", "PIL", "botbuilder") if m in sys.modules))

asyncio.run(main())
"""


def _serve_app_imports(tmp_path, **env: str) -> str:  # noqa: ANN001
    import os

    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite:///{tmp_path / 'liaison.db'}",
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret", **env}
    env.pop("MICROSOFT_APP_ID", None)
    done = subprocess.run([sys.executable, "-c", _SERVE_APP], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_serve_app_loads_no_chart_library_and_no_teams_sdk_until_needed(tmp_path):
    # the app and scheduler of `liaison serve` (#14's RSS goal: matplotlib, numpy and botbuilder
    # held about 65 MB from start-up on): charts load with the first chart, Teams where it is served
    assert _serve_app_imports(tmp_path) == "[]"
    assert "'botbuilder'" in _serve_app_imports(tmp_path, LIAISON_TEAMS_ALLOW_UNAUTHENTICATED="true")
