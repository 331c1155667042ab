"""Issue 13: `liaison demo` run twice tells the same story and writes nothing into the working directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

LIAISON = str(Path(sys.executable).parent / "liaison")
ROOT = Path(__file__).resolve().parents[1]
TEMP = re.compile(r"/\S*liaison-demo-[A-Za-z0-9_]+")
CLOCK = re.compile(r"\b\d{2}:\d{2}\b")  # the demo runs on the wall clock: minutes may tick between runs
# ... and the QBR pack counts a breach still open up to that clock, so its total moves with it
OPEN_HOURS = re.compile(r"\b\d+h \d{2}m in total\b")


def test_demo_twice_shows_the_same_story_outside_the_working_directory(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(ROOT)}
    outputs = []
    for _ in range(2):
        done = subprocess.run([LIAISON, "demo", "--no-shell"], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(OPEN_HOURS.sub("Nh NNm in total", CLOCK.sub("HH:MM", TEMP.sub("TMP", done.stdout))))
    assert outputs[0] == outputs[1]
    assert "chart saved to TMP/" in outputs[0] and "QBR pack written to TMP/" in outputs[0]
    assert list(cwd.iterdir()) == []  # no liaison.db, chart or pack in the working directory
    _the_digest_agrees_with_itself_and_the_pack_has_a_quarter_of_data(outputs[0])


def _the_digest_agrees_with_itself_and_the_pack_has_a_quarter_of_data(out: str) -> None:
    """Issue 12: the demo's digest headline agrees with its breaches; its QBR pack is full of real data."""
    step = out.split("# Weekly digest with chart, QBR reminder and pack", 1)[1]
    digest, rest = step.split("-- What changed", 1)
    changed = rest.split("\n\n", 1)[0]
    still_open = len(re.findall(r"still open at\s+week end", changed))
    headline = re.search(r"\. (\d+) SLA breach(?:es)? still open at week end\.", digest)
    assert (int(headline.group(1)) if headline else 0) == still_open, (digest[:400], changed)
    if still_open:
        assert "All KPIs with data on or near target" not in digest
    pack = step.split("QBR pack written to", 1)[1]
    rows = re.findall(r"^\| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", pack, re.MULTILINE)[1:]  # after the header
    rows = [r for r in rows if not set(r[0]) <= {"-"}]
    assert len(rows) >= 5 and all(value.strip() != "n/a" for _, value, _, _ in rows), rows
    assert not any(status.strip() in ("no data", "no_data") for *_, status in rows), rows
    assert re.search(r"Compliance: \d+ of \d+ targets held all period", pack)
    assert "no KPI with a target had data" not in pack and "sla_performance" not in pack
