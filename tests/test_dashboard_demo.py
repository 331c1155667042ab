"""`liaison demo` prints a dashboard link that works in a browser while its console is open."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import aiohttp
import pytest

from tests.fakes.browser import Browser

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/dashboard/login\?t=\S+)")


@pytest.mark.slow
async def test_demo_link_opens_the_dashboard_while_the_console_is_open(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "SLACK_", "MICROSOFT_"))}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "demo", "--weeks", "3", cwd=tmp_path, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        link = None
        while link is None:
            line = (await asyncio.wait_for(demo.stdout.readline(), 600)).decode()
            assert line, "the demo ended without printing a dashboard link"
            if match := LINK.search(line):
                link = match.group(1)
        async with Browser(tmp_path / "profile") as browser:
            assert await browser.goto(link) == 200
            assert "Acme Contact Solutions" in await browser.text("#scorecard")
            assert await browser.click('section[data-slug="acme"] h2 a') == 200
            assert await browser.evaluate("document.querySelectorAll('#charts figure svg polyline').length") > 3
            await browser.screenshot(tmp_path / "demo-partner.png")
        demo.stdin.write(b"kpi acme\nquit\n")
        await demo.stdin.drain()
        rest = (await asyncio.wait_for(demo.stdout.read(), 120)).decode()
        assert await demo.wait() == 0, rest[-2000:]
        assert "Acme Contact Solutions — KPIs" in rest
        # the console is closed: so is the dashboard
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as http, http.get(link):
                pass
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
