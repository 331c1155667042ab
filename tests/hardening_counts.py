"""Issue 13's "Done when" counts, added up from what the hardening tests actually tried and checked.

Each test calls ``record(kind, ...)`` with the numbers it asserted on; with LIAISON_HARDENING_COUNTS set
to a file, every call appends one JSON line (the test's node id says which database ran it).

    LIAISON_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.hardening_counts

runs the tests below once and prints, per database, forged requests tried/rejected, replays tried/acted
once, authorization attempts tried/refused/leaked and fuzzed inputs tried/clean answers/tracebacks.
Tests without a database (Teams tokens, the ingest parsers) count for every database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ENV = "LIAISON_HARDENING_COUNTS"
FILES = ["tests/test_hardening_security.py", "tests/test_fuzz.py", "tests/test_teams_auth.py"]
FIELDS = {"forged": ("tried", "rejected"), "replays": ("tried", "acted_once"),
          "authorization": ("tried", "refused", "leaked"), "fuzz": ("tried", "clean", "tracebacks")}


def record(kind: str, **numbers: int) -> None:
    """Note what one test tried and saw (a no-op unless ENV names a file)."""
    assert set(numbers) == set(FIELDS[kind]), (kind, numbers)
    path = os.environ.get(ENV)
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, "test": test, **numbers}) + "\n")


def _backend(test: str) -> str | None:
    params = test.rpartition("[")[2].rstrip("]")
    return next((b for b in ("sqlite", "postgres") if b in params.split("-")), None) if "[" in test else None


def summarize(lines: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    backends = sorted({b for line in lines if (b := _backend(line["test"]))}) or ["sqlite"]
    totals: dict[str, dict[str, dict[str, int]]] = {b: defaultdict(lambda: defaultdict(int)) for b in backends}
    for line in lines:
        for backend in [_backend(line["test"])] if _backend(line["test"]) else backends:
            for field in FIELDS[line["kind"]]:
                totals[backend][line["kind"]][field] += line[field]
    return totals


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "counts.jsonl"
        path.touch()
        status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FILES],
                                 env={**os.environ, ENV: str(path)})
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    for backend, kinds in summarize(lines).items():
        print(f"{backend}:")
        for kind, fields in FIELDS.items():
            print(f"  {kind}: " + ", ".join(f"{kinds[kind][f]} {f.replace('_', ' ')}" for f in fields))
    print(f"pytest exit status {status}" + ("" if status == 0 else " (a failing test records nothing after it failed)"))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
