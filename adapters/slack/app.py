"""The Bolt app: every Slack listener registered in one place, translating to and from the core.

Listeners only parse the payload, call the core (commands, interactions, Home) and render
what comes back; decisions and authorization live in bot/.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blockkit import error_view, form_view, home_view, render_message, view_values
from adapters.slack.inbound import ButtonPress, HomeOpened, SlashCommand, ViewSubmission
from bot.actions import ActionId, FormId
from bot.commands import commands, dispatch
from bot.compose.errors import internal_error
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import Message, OpenForm
from bot.services.home import home_message
from bot.services.identity import resolve_actor
from bot.services.outbox import bury_workspace
from bot.store.inbound_events import fingerprint, first_time

log = logging.getLogger(__name__)
PLATFORM = "slack"
# Every command manifest.yaml declares. Verbs whose feature has not landed yet still get a
# listener, so Slack shows the core's "not a Liaison command" answer instead of dispatch_failed.
DECLARED_COMMANDS = ("kpi", "sla", "escalate", "feedback", "report", "qbr", "liaison")


def web_client(core: Core, *, retry_rate_limits: bool = True) -> AsyncWebClient:
    """Create the Web API client on SLACK_API_URL.

    slack_sdk installs no rate-limit retry by default; request-time calls get one that honours
    Retry-After. The outbox gateway passes ``retry_rate_limits=False``: its worker holds the
    destination for Retry-After itself instead of sleeping inside a send.
    """
    settings = core.settings
    # With OAuth every call names its workspace's token (Bolt's authorize, the outbox gateway).
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token and not settings.slack_oauth else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10)
    # slack_sdk already installs one AsyncConnectionErrorRetryHandler (a single retry) by default.
    if retry_rate_limits:
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def slash_commands() -> list[str]:
    """List every slash command the app listens to: the registry's verbs plus the declared ones."""
    verbs = {spec.verb for spec in commands() if spec.slash} | set(DECLARED_COMMANDS)
    return sorted(f"/{verb}" for verb in verbs)


def create_app(core: Core) -> AsyncApp:
    """Build the AsyncApp from settings and register every listener.

    With SLACK_CLIENT_ID/SECRET and SLACK_STATE_SECRET the app is distributed: Bolt's OAuth flow
    installs it per workspace and authorizes each request with its team's token.
    """
    settings = core.settings
    if not settings.slack_configured:
        raise RuntimeError("Slack needs SLACK_SIGNING_SECRET plus SLACK_BOT_TOKEN, or SLACK_CLIENT_ID, "
                           "SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for OAuth installs")
    assert settings.slack_signing_secret is not None
    client = web_client(core)
    oauth = None
    if settings.slack_oauth:
        from adapters.slack.oauth import oauth_settings

        oauth = oauth_settings(core, client=client)
    app = AsyncApp(client=client, signing_secret=settings.slack_signing_secret.get_secret_value(),
                   oauth_settings=oauth, ignoring_self_events_enabled=True)
    register(app, core)
    if oauth is not None:
        register_installs(app, core)
    return app


def identity(core: Core, *, user_id: str, team_id: str | None) -> str:
    """Return the identity Liaison knows a Slack user by: "T.../U..." with OAuth, the bare id otherwise.

    A user id is only unique inside its workspace: with several workspaces installed the same
    U-id in two teams is two people, so the team is part of the identity.
    """
    return f"{team_id}/{user_id}" if core.settings.slack_oauth and team_id else user_id


def register_installs(app: AsyncApp, core: Core) -> None:
    """Forget a workspace that uninstalled the app or revoked its bot token; bury its queued messages."""

    async def forget(context, body, why: str) -> None:  # noqa: ANN001
        team = context.team_id or body.get("team_id")
        if not team:
            return
        await app.installation_store.async_delete_all(enterprise_id=context.enterprise_id, team_id=team)
        reason = (f"workspace {team} {why}; reinstall Liaison there through /slack/install, "
                  "then resend with `liaison outbox retry ID`")
        async with core.db.transaction() as session:
            buried = await bury_workspace(session, platform=PLATFORM, workspace=team, reason=reason)
        log.warning("workspace %s %s: installation removed, %d queued messages are dead letters", team, why, buried)

    @app.event("app_uninstalled")
    async def on_uninstalled(context, body) -> None:  # noqa: ANN001
        await forget(context, body, "uninstalled Liaison")

    @app.event("tokens_revoked")
    async def on_tokens_revoked(event, context, body) -> None:  # noqa: ANN001
        # Liaison only uses bot tokens; revoked user tokens (none are requested) change nothing.
        if (event.get("tokens") or {}).get("bot"):
            await forget(context, body, "revoked Liaison's bot token")


def _reply_args(message: Message) -> dict[str, Any]:
    return {**render_message(message), "response_type": "ephemeral" if message.ephemeral else "in_channel"}


# Work after the ack runs in the background; bounding it keeps a burst of commands queued
# here instead of exhausting the database pool (and timing out) all at once.
WORK_SLOTS = 8


def register(app: AsyncApp, core: Core) -> None:
    """Register every slash command, button, form and event listener (the one visible place)."""
    slots = asyncio.Semaphore(WORK_SLOTS)

    @app.middleware
    async def drop_event_retries(req, resp, next):  # noqa: ANN001 - Bolt's middleware signature
        # Slack resends an event it thinks we missed (X-Slack-Retry-Num); handle each event_id once.
        body = req.body or {}
        if body.get("type") == "event_callback" and body.get("event_id"):
            async with core.db.transaction() as session:
                fresh = await first_time(session, platform=PLATFORM, event_id=body["event_id"], now=core.clock.now())
            if not fresh:
                return BoltResponse(status=200, body="")
            return await next()
        # A slash command or interactive payload has no id of its own; a captured signed request
        # replayed inside the 5-minute signature window must not act twice. Its signature covers
        # timestamp and body, so it fingerprints the request (rows are kept well past 5 minutes).
        # A slash command is checked after its ack (on_command): the check writes a row, and before
        # the ack it queued every ack of a burst behind the database (ack p99 1,444 ms against
        # 257 ms without it, 1,000 commands, 50 in flight, SQLite). Its ack says nothing either way.
        if body.get("type") not in ("url_verification", "ssl_check") and "command" not in body \
                and not await first_request(req.headers):
            return BoltResponse(status=200, body="")
        return await next()

    async def first_request(headers) -> bool:  # noqa: ANN001 - Bolt's header mapping
        """Say whether this signed request is seen for the first time (an unsigned one always is)."""
        signature = (headers.get("x-slack-signature") or [""])[0]
        stamp = (headers.get("x-slack-request-timestamp") or [""])[0]
        if not signature:
            return True
        async with core.db.transaction() as session:
            fresh = await first_time(session, platform=PLATFORM, now=core.clock.now(),
                                     event_id="req:" + fingerprint(stamp, signature))
        if not fresh:
            log.warning("dropped a replayed Slack request (signature seen before)")
        return fresh

    async def on_command(ack, command, respond, client, request) -> None:  # noqa: ANN001
        await ack()  # within Slack's 3 seconds, before any work
        async with slots:
            if await first_request(request.headers):
                await _answer_command(command, respond, client)

    async def _answer_command(command, respond, client) -> None:  # noqa: ANN001
        try:
            cmd = SlashCommand.parse(command)
            actor = await resolve_actor(core, platform=PLATFORM,
                                        platform_user_id=identity(core, user_id=cmd.user_id, team_id=cmd.team_id))
            reply = await dispatch(core, text=cmd.text, actor=actor, platform=PLATFORM,
                                   channel=cmd.channel_id, slash=cmd.command)
            if isinstance(reply, OpenForm):
                await client.views_open(trigger_id=cmd.trigger_id, view=form_view(reply.form))
            else:
                await respond(**_reply_args(reply))
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("slash command %s failed (ref %s)", command.get("command"), reference)
            await respond(**_reply_args(internal_error(reference)))

    for name in slash_commands():
        app.command(name)(on_command)

    async def on_action(ack, body, respond, client) -> None:  # noqa: ANN001
        await ack()
        action_id = ((body.get("actions") or [{}])[0] or {}).get("action_id")
        try:
            press = ButtonPress.parse(body)
            channel = press.channel_id
            actor = await resolve_actor(core, platform=PLATFORM,
                                        platform_user_id=identity(core, user_id=press.user_id, team_id=press.team_id))
            result = await handle_action(core, Press(
                action=ActionId(press.action_id), value=press.value, actor=actor,
                message_ref=press.message_ref, channel=channel))
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("button %s failed (ref %s)", action_id, reference)
            await respond(**_reply_args(internal_error(reference)), replace_original=False)
            return
        if result.replace is not None:
            await respond(**render_message(result.replace), replace_original=True)
        if result.post_in_channel is not None and channel:
            posted = await client.chat_postMessage(channel=channel, **render_message(result.post_in_channel))
            shared = result.post_in_channel
            if shared.image and shared.image.png:  # a response_url answer can carry no file: the chart goes here
                try:
                    await client.files_upload_v2(channel=channel, thread_ts=posted["ts"], content=shared.image.png,
                                                 filename="chart.png", title=shared.image.title or shared.image.alt,
                                                 alt_txt=shared.image.alt)
                except Exception:  # the shared message reads on its own
                    log.warning("shared %s but could not upload its chart", action_id, exc_info=True)
        if result.reply is not None:
            await respond(**_reply_args(result.reply), replace_original=False)
        if result.open_form is not None:
            await client.views_open(trigger_id=press.trigger_id, view=form_view(result.open_form.form))

    for action_id in ActionId:
        app.action(action_id.value)(on_action)

    async def on_view(ack, body, client) -> None:  # noqa: ANN001
        try:
            submission = ViewSubmission.parse(body)
            values, state = view_values(submission.view)
            user_id = submission.user_id
            actor = await resolve_actor(core, platform=PLATFORM,
                                        platform_user_id=identity(core, user_id=user_id, team_id=submission.team_id))
            # the view id names this modal: its double click or client retry acts once
            result = await handle_form(core, Submission(form=FormId(submission.callback_id), values=values,
                                                        actor=actor, state=state),
                                       once=str(submission.view.get("id") or "") or None)
        except Exception:
            # Without an ack Slack shows the user a bare "We had some trouble connecting"; answer
            # inside the modal instead with a reference an admin can find in the log.
            reference = uuid.uuid4().hex[:8]
            log.exception("form %s failed (ref %s)", (body.get("view") or {}).get("callback_id"), reference)
            await ack(response_action="update", view=error_view(internal_error(reference)))
            return
        if result.errors is not None:
            await ack(response_action="errors", errors=dict(result.errors.errors))
            return
        await ack()
        if result.reply is not None:
            await client.chat_postMessage(channel=user_id, **render_message(result.reply))

    for form_id in FormId:
        app.view(form_id.value)(on_view)

    @app.event("app_home_opened")
    async def on_home(event, client, context) -> None:  # noqa: ANN001
        opened = HomeOpened.parse(event)
        if opened.tab != "home":
            return
        team = opened.team_id or context.team_id
        actor = await resolve_actor(core, platform=PLATFORM,
                                    platform_user_id=identity(core, user_id=opened.user_id, team_id=team))
        await client.views_publish(user_id=opened.user_id, view=home_view(await home_message(core, actor)))
