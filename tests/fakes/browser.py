"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

No driver to install: aiohttp's websocket client speaks CDP to the page target. Navigate,
read the DOM with Runtime.evaluate, read cookies, capture full-page screenshots.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "chromium"


def chromium_path() -> str:
    """Return the chromium binary; fail loudly (CI installs it: .ci/run)."""
    path = shutil.which(CHROMIUM)
    if path is None:
        raise RuntimeError("chromium is not installed: apt-get install -y chromium (.ci/run does this)")
    return path


class Browser:
    """One headless Chromium with one page; ``async with Browser(profile_dir) as b``."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 900) -> None:
        self.profile = profile
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._events: list[dict[str, Any]] = []
        self._event = asyncio.Event()

    async def __aenter__(self) -> Browser:
        self.profile.mkdir(parents=True, exist_ok=True)
        args = [chromium_path(), "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio",
                f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
                f"--window-size={self.width},{self.height}", "--hide-scrollbars", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root (CI containers)
        self.process = await asyncio.create_subprocess_exec(*args, stdout=subprocess.DEVNULL,
                                                            stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip().count("\n") >= 1):
            if time.monotonic() > deadline or self.process.returncode is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self._http = aiohttp.ClientSession()
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json() if t["type"] == "page"]
        self._ws = await self._http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        await self.send("Page.enable")
        await self.send("Network.enable")
        await self.send("Log.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        await self._ws.close()
        await self._http.close()
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self._events.append(data)
                self._event.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result (raise on a protocol error)."""
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        await self._ws.send_str(json.dumps({"id": number, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def goto(self, url: str) -> int:
        """Navigate and wait for the load event; return the main document's HTTP status."""
        self._events.clear()
        await self.send("Page.navigate", url=url)
        return await self._loaded(url)

    async def click(self, selector: str) -> int:
        """Click the element ``selector`` names (a link) and wait for the next page; return its status."""
        self._events.clear()
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
        return await self._loaded(selector)

    async def _loaded(self, url: str) -> int:
        deadline = time.monotonic() + 60
        while True:
            if any(e["method"] == "Page.loadEventFired" for e in self._events):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), 1)
            except TimeoutError:
                pass
        documents = [e["params"]["response"] for e in self._events if e["method"] == "Network.responseReceived"
                     and e["params"].get("type") == "Document"]
        return documents[-1]["status"] if documents else 0

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (DevTools, not the page's own scripts) and return the value."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def url(self) -> str:
        return await self.evaluate("location.href")

    async def text(self, selector: str = "body") -> str:
        return await self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText")

    async def cookies(self) -> list[dict[str, Any]]:
        return (await self.send("Network.getAllCookies"))["cookies"]

    def console_problems(self) -> list[dict[str, Any]]:
        """Return CSP violations and errors the page logged (Log domain entries and console errors)."""
        return [e for e in self._events if e["method"] in ("Log.entryAdded", "Runtime.exceptionThrown")]

    async def screenshot(self, path: Path) -> Path:
        """Save a full-page PNG of the current page."""
        size = await self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                               clip={"x": 0, "y": 0, "width": max(size[0], self.width),
                                     "height": min(size[1], 12000), "scale": 1})
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def pdf(self, path: Path) -> Path:
        """Print the page to PDF (what the browser's print dialog makes) and save it."""
        printed = await self.send("Page.printToPDF", printBackground=False, preferCSSPageSize=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(printed["data"]))
        return path
