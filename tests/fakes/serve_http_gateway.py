"""Run the real ``serve()`` (web app, scheduler, delivery job) with tests' HTTP Slack gateway.

For the kill-and-restart test while adapters/slack/gateway.py is not available:
``python -m tests.fakes.serve_http_gateway PORT SLACK_API_URL`` (settings from the environment).
"""

from __future__ import annotations

import asyncio
import sys

from adapters.cli.serve import serve
from bot.core import Core
from bot.settings import Settings
from tests.fakes.http_gateway import HttpSlackGateway


async def _main(port: int, slack_url: str) -> None:
    core = Core.from_settings(Settings())
    await serve(core, host="127.0.0.1", port=port, gateways={"slack": HttpSlackGateway(slack_url, timeout=2.0)})


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2]))
