"""bot/ stays platform-neutral; botbuilder stays inside adapters/teams/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ("slack_sdk", "slack_bolt", "slack", "botbuilder", "botframework", "aiohttp", "adapters")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_import_lint_bot_imports_no_platform_sdk():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imports(path) if n.split(".")[0] in PLATFORM)
        for path in (ROOT / "bot").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_import_lint_botbuilder_only_inside_adapters_teams():
    outside = []
    for top in ("bot", "adapters", "jobs", "bench"):
        for path in (ROOT / top).rglob("*.py"):
            if path.is_relative_to(ROOT / "adapters" / "teams"):
                continue
            if any(n.split(".")[0] in ("botbuilder", "botframework") for n in imports(path)):
                outside.append(str(path.relative_to(ROOT)))
    assert outside == []
