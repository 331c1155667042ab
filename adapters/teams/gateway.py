"""Deliver messages to Teams proactively with continue_conversation (and create_conversation for DMs)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ChannelAccount, ConversationParameters, ConversationReference

from adapters.teams.auth import make_adapter
from adapters.teams.bot import member_key, message_activity, personal_key
from adapters.teams.pacing import LIMITS, Pacer
from bot.core import Core
from bot.messages import Message
from bot.ports import DeliveryError, PostResult
from bot.store.conversations import find_reference, mark_stale, save_reference

log = logging.getLogger(__name__)
RETRYABLE = {429, 412, 500, 502, 503, 504}
# Teams did not act on these requests, so trying again cannot post twice; a 502/504 may have
# been delivered, so those go back to the outbox (which backs off and retries with a key).
NOT_PROCESSED = {429, 412}
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


class _Refused(Exception):
    def __init__(self, status: int | None, retry_after: float | None, cause: BaseException) -> None:
        super().__init__(f"Teams answered {status or cause.__class__.__name__}")
        self.status, self.retry_after, self.cause = status, retry_after, cause


class TeamsGateway:
    """ChatGateway for Teams; refs are "CONVERSATION_ID|ACTIVITY_ID".

    Each conversation is paced under Teams' limits; a 429/412 is retried here a few times
    with jittered backoff (honouring Retry-After) before the outbox takes over.
    """

    platform = "teams"
    # Teams' per-conversation limits, kept across replicas by the delivery worker (from the
    # outbox's recorded sends); the Pacer below keeps them within this process between its calls
    window_limits = LIMITS

    def __init__(self, core: Core, adapter: CloudAdapter, *, pacer: Pacer | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, rng: random.Random | None = None,
                 quick_retries: int = 2, max_quick_wait: float = 5.0) -> None:
        self.core = core
        self.adapter = adapter
        self.app_id = core.settings.microsoft_app_id
        self.pacer = pacer or Pacer(now=core.clock.now, sleep=sleep)
        self._sleep, self._rng = sleep, rng or random.Random()
        self.quick_retries, self.max_quick_wait = quick_retries, max_quick_wait

    async def _reference(self, destination: str) -> ConversationReference:
        async with self.core.db.session() as session:
            row = await find_reference(session, destination)
        if row is None:
            raise DeliveryError(f"no Teams conversation '{destination}': install Liaison in it (or message the bot) "
                                f"so it can post there", retryable=False, gone=True)
        if row.stale:
            raise DeliveryError(f"Teams conversation '{destination}' is stale ({row.stale_reason}); reinstall the "
                                f"app there or change the route", retryable=False, gone=True)
        reference = ConversationReference().deserialize(row.reference)
        reference.activity_id = None  # a reply-to id would put proactive posts in an old thread
        return reference

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Return the wait before quick retry ``attempt`` (0-based): Retry-After or 1 s, 2 s... with jitter."""
        base = retry_after if retry_after is not None else float(2**attempt)
        return base + self._rng.uniform(0, base / 2)

    async def _run(self, destination: str, conversation: str,
                   call: Callable[[], Awaitable[Any]]) -> Any:
        for attempt in range(self.quick_retries + 1):
            await self.pacer.wait(conversation)
            try:
                return await self._once(call)
            except _Refused as refused:
                delay = self.backoff(attempt, refused.retry_after)
                if refused.status in NOT_PROCESSED and attempt < self.quick_retries and delay <= self.max_quick_wait:
                    log.info("Teams answered %s for %s; retrying in %.1f s", refused.status, conversation, delay)
                    await self._sleep(delay)
                    continue
                await self._give_up(destination, refused)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _once(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call()
        except DeliveryError:
            raise
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            raise DeliveryError(f"Teams unreachable: {exc.__class__.__name__}", retryable=True) from exc
        except Exception as exc:  # noqa: BLE001 - the connector raises msrest errors carrying the response
            raise _Refused(_status(exc), _retry_after(exc), exc) from exc

    async def _give_up(self, destination: str, refused: _Refused) -> None:
        status = refused.status
        if status in GONE:
            async with self.core.db.transaction() as session:
                await mark_stale(session, destination, reason=f"HTTP {status}: bot removed or no access",
                                 now=self.core.clock.now())
            raise DeliveryError(f"Teams answered {status}; conversation '{destination}' marked stale",
                                retryable=False, gone=True) from refused.cause
        if status in RETRYABLE or status is None:
            raise DeliveryError(str(refused), retryable=True, retry_after=refused.retry_after) from refused.cause
        raise DeliveryError(str(refused), retryable=False) from refused.cause

    async def _continue(self, reference: ConversationReference, step: Callable[[TurnContext], Awaitable[Any]]) -> Any:
        result: dict[str, Any] = {}

        async def callback(turn_context: TurnContext) -> None:
            result["value"] = await step(turn_context)

        await self.adapter.continue_conversation(reference, callback, self.app_id)
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

        activity_id = await self._run(destination, conversation, lambda: self._continue(reference, send))
        return PostResult(ref=f"{conversation}|{activity_id}", thread_ref=thread_ref)

    async def update(self, ref: str, message: Message) -> None:
        conversation, activity_id = split_ref(ref)
        reference = await self._reference(conversation)

        async def edit(turn_context: TurnContext) -> None:
            activity = message_activity(message)
            activity.id = activity_id
            await turn_context.update_activity(activity)

        await self._run(conversation, conversation, lambda: self._continue(reference, edit))

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        """Message a user (AAD object id) in their personal chat with the bot, opening it if needed."""
        async with self.core.db.session() as session:
            personal = await find_reference(session, personal_key(user_id))
            member = await find_reference(session, member_key(user_id))
        if personal is not None or member is None:
            return await self.post(personal_key(user_id), message)
        # Seen in a team but never in a personal chat: open one (Teams needs the user's 29: id,
        # which we kept from their last activity, and the tenant).
        data = member.reference
        parameters = ConversationParameters(
            is_group=False, bot=ChannelAccount(id=data.get("bot", {}).get("id", "")),
            members=[ChannelAccount(id=data["user"]["id"])], tenant_id=member.tenant_id,
            channel_data={"tenant": {"id": member.tenant_id}})

        async def open_and_send() -> str:
            sent: dict[str, str] = {}

            async def callback(turn_context: TurnContext) -> None:
                reference = TurnContext.get_conversation_reference(turn_context.activity)
                async with self.core.db.transaction() as session:
                    await save_reference(session, key=reference.conversation.id, name=personal_key(user_id),
                                         reference=reference.serialize(), service_url=member.service_url,
                                         tenant_id=member.tenant_id, now=self.core.clock.now())
                response = await turn_context.send_activity(message_activity(message))
                sent["ref"] = f"{reference.conversation.id}|{response.id if response else ''}"

            await self.adapter.create_conversation(self.app_id, callback, parameters, "msteams", member.service_url)
            return sent["ref"]

        return PostResult(ref=await self._run(member_key(user_id), member_key(user_id), open_and_send))


def gateway_from_core(core: Core) -> TeamsGateway:
    return TeamsGateway(core, make_adapter(core.settings))
