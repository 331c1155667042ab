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
