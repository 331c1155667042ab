"""Deliver outbox messages to Teams proactively with continue_conversation."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference

from adapters.teams.auth import make_adapter
from adapters.teams.bot import message_activity
from adapters.teams.pacing import Pacer
from bot.core import Core
from bot.messages import Message
from bot.ports import DeliveryError, PostResult
from bot.store.conversations import find_reference, mark_stale

log = logging.getLogger(__name__)
RETRYABLE = {429, 412, 500, 502, 503, 504}
GONE = {403, 404}


def split_ref(ref: str) -> tuple[str, str]:
    conversation, _, activity_id = ref.partition("|")
    return conversation, activity_id


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) or getattr(response, "status", None)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


class TeamsGateway:
    """ChatGateway for Teams; refs are "CONVERSATION_ID|ACTIVITY_ID"."""

    platform = "teams"

    def __init__(self, core: Core, adapter: CloudAdapter, *, pacer: Pacer | None = None) -> None:
        self.core = core
        self.adapter = adapter
        self.app_id = core.settings.microsoft_app_id
        self.pacer = pacer or Pacer(now=core.clock.now)

    async def _reference(self, destination: str) -> ConversationReference:
        async with self.core.db.session() as session:
            row = await find_reference(session, destination)
        if row is None:
            raise DeliveryError(f"no Teams conversation '{destination}': install Liaison in it (or message the bot) "
                                f"so it can post there", retryable=False, gone=True)
        if row.stale:
            raise DeliveryError(f"Teams conversation '{destination}' is stale ({row.stale_reason})",
                                retryable=False, gone=True)
        return ConversationReference().deserialize(row.reference)

    async def _run(self, destination: str, reference: ConversationReference, step) -> Any:  # noqa: ANN001
        await self.pacer.wait(reference.conversation.id)
        result: dict[str, Any] = {}

        async def callback(turn_context: TurnContext) -> None:
            result["value"] = await step(turn_context)

        try:
            await self.adapter.continue_conversation(reference, callback, self.app_id)
        except DeliveryError:
            raise
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            raise DeliveryError(f"Teams unreachable: {exc.__class__.__name__}", retryable=True) from exc
        except Exception as exc:
            status = _status(exc)
            if status in GONE:
                async with self.core.db.transaction() as session:
                    await mark_stale(session, destination, reason=f"HTTP {status}: bot removed or no access",
                                     now=self.core.clock.now())
                raise DeliveryError(f"Teams answered {status}; conversation marked stale", retryable=False,
                                    gone=True) from exc
            if status in RETRYABLE or status is None:
                raise DeliveryError(f"Teams answered {status or exc.__class__.__name__}", retryable=True,
                                    retry_after=_retry_after(exc)) from exc
            raise DeliveryError(f"Teams answered {status}", retryable=False) from exc
        return result.get("value")

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        reference = await self._reference(destination)
        conversation = reference.conversation.id
        if thread_ref:
            # A reply in a channel thread goes to "<conversation>;messageid=<root activity id>".
            reference.conversation.id = f"{split_ref(thread_ref)[0]};messageid={split_ref(thread_ref)[1]}"

        async def send(turn_context: TurnContext) -> str:
            response = await turn_context.send_activity(message_activity(message))
            return response.id if response else ""

        activity_id = await self._run(destination, reference, send)
        return PostResult(ref=f"{conversation}|{activity_id}", thread_ref=thread_ref)

    async def update(self, ref: str, message: Message) -> None:
        conversation, activity_id = split_ref(ref)
        reference = await self._reference(conversation)

        async def edit(turn_context: TurnContext) -> None:
            activity = message_activity(message)
            activity.id = activity_id
            await turn_context.update_activity(activity)

        await self._run(conversation, reference, edit)

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        # Personal chats are remembered as "user:<aad id>" when the user first talks to the bot.
        return await self.post(f"user:{user_id}", message)


def gateway_from_core(core: Core) -> TeamsGateway:
    return TeamsGateway(core, make_adapter(core.settings))
