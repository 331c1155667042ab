"""The floor for slash acks: a bare Bolt AsyncApp on aiohttp that acks /kpi and /sla and answers "ok".

Same slack-bolt and aiohttp as Liaison, no database, no work: what acking a signed command costs.

    python -m bench.bare_bolt --port 3000 --api-url http://127.0.0.1:9/api/ --signing-secret s
"""

from __future__ import annotations

import argparse
import gc

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(*, api_url: str, signing_secret: str) -> web.Application:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-floor", base_url=api_url), signing_secret=signing_secret,
                   ignoring_self_events_enabled=True)

    async def answer(ack, respond) -> None:  # noqa: ANN001
        await ack()
        await respond(text="ok", response_type="ephemeral")

    app.command("/kpi")(answer)
    app.command("/sla")(answer)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    return web_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--signing-secret", required=True)
    args = parser.parse_args()
    app = build(api_url=args.api_url, signing_secret=args.signing_secret)
    gc.collect()
    gc.freeze()  # as `liaison serve` does after start-up
    web.run_app(app, host="127.0.0.1", port=args.port, print=lambda *_a: print("ready", flush=True))


if __name__ == "__main__":
    main()
