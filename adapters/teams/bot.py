"""The Teams activity handler: messages and card submits in, Adaptive Cards out, references kept."""

from __future__ import annotations

import logging
import re
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.adaptive_card import form_from_spec, render_card, render_form, with_values
from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import FormErrors, Message, OpenForm, Reply, Section, Severity
from bot.services.home import home_message
from bot.services.identity import resolve_actor
from bot.store.conversations import mark_stale, save_reference
from bot.store.inbound_events import fingerprint, first_time

log = logging.getLogger(__name__)
AT_TAG = re.compile(r"<at>[^<]*</at>")
PLATFORM = "teams"


def card_activity(card: dict[str, Any], *, summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = summary  # what Teams shows in notifications and the activity feed
    return activity


def message_activity(message: Message) -> Activity:
    return card_activity(render_card(message), summary=message.text[:200])


def reply_activity(reply: Reply) -> Activity:
    if isinstance(reply, OpenForm):
        return card_activity(render_form(reply.form), summary=reply.form.title)
    return message_activity(reply)


def user_id_of(activity: Activity) -> str:
    """Teams users are identified by their AAD object id (stable across teams and chats)."""
    sender = activity.from_property
    return (getattr(sender, "aad_object_id", None) or sender.id) if sender else ""


def conversation_key(conversation_id: str) -> str:
    """Return the channel or chat a conversation id belongs to, without its thread part."""
    return conversation_id.split(";messageid=", 1)[0]


def personal_key(user_id: str) -> str:
    """Name the personal chat with a user (AAD object id), as stored and as routes may name it."""
    return f"user:{user_id}"


def member_key(user_id: str) -> str:
    """Key of a user's Teams account as last seen (to open a personal chat with them)."""
    return f"member:{user_id}"


def form_rejected(errors: FormErrors) -> Message:
    return Message(title="The form was not accepted", severity=Severity.WARNING,
                   summary="Nothing was changed. Fix these in the form above and submit it again.",
                   sections=(Section(bullets=tuple(f"{k}: {v}" for k, v in errors.errors.items())),))


def removed(activity: Activity) -> bool:
    """Tell whether the activity says the bot was uninstalled or removed from the conversation."""
    if activity.type == ActivityTypes.installation_update:
        return (activity.action or "").startswith("remove")
    if activity.type == ActivityTypes.conversation_update and activity.recipient:
        return any(m.id == activity.recipient.id for m in activity.members_removed or [])
    return False


class LiaisonTeamsBot(TeamsActivityHandler):
    def __init__(self, core: Core) -> None:
        self.core = core

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type == ActivityTypes.message and activity.id:
            # A replayed activity (same id in the same conversation) acts once, like Slack's requests.
            conversation = activity.conversation.id if activity.conversation else ""
            async with self.core.db.transaction() as session:
                fresh = await first_time(session, platform=PLATFORM, now=self.core.clock.now(),
                                         event_id="act:" + fingerprint(conversation, activity.id))
            if not fresh:
                log.warning("dropped a replayed Teams activity %s", activity.id)
                return
        if removed(turn_context.activity):
            await self._forget(turn_context)
            return
        await self._remember(turn_context)
        await super().on_turn(turn_context)

    async def _forget(self, turn_context: TurnContext) -> None:
        # Teams tells us when the bot is removed; later posts there would only get 403s.
        conversation = turn_context.activity.conversation.id
        async with self.core.db.transaction() as session:
            await mark_stale(session, conversation, reason="the bot was removed from this conversation",
                             now=self.core.clock.now())
        log.info("Teams conversation %s removed the bot; its reference is marked stale", conversation)

    async def _remember(self, turn_context: TurnContext) -> None:
        # Every activity carries a fresh reference; keeping the newest lets alerts reach this
        # conversation later (continue_conversation), and revives one marked stale.
        activity = turn_context.activity
        if not activity.conversation or not activity.service_url:
            return
        ref = TurnContext.get_conversation_reference(activity)
        # Store the channel itself, not the thread this message came from ("19:..;messageid=..")
        # nor the message (activity_id): proactive posts must start new top-level messages.
        ref.conversation.id = conversation_key(activity.conversation.id)
        ref.activity_id = None
        reference = ref.serialize()
        data = activity.channel_data or {}
        name = ((data.get("channel") or {}).get("name") or "") if isinstance(data, dict) else ""
        if activity.conversation.conversation_type == "personal":
            name = personal_key(user_id_of(activity))
        tenant = ((data.get("tenant") or {}).get("id") or "") if isinstance(data, dict) else ""
        tenant = tenant or activity.conversation.tenant_id or ""
        sender = activity.from_property
        async with self.core.db.transaction() as session:
            await save_reference(session, key=ref.conversation.id, reference=reference, name=name,
                                 service_url=activity.service_url, tenant_id=tenant, now=self.core.clock.now())
            if activity.type == ActivityTypes.message and sender and sender.aad_object_id and tenant:
                # Keep the user's Teams id (29:...) so a DM can open a personal chat they never started.
                await save_reference(session, key=member_key(sender.aad_object_id), platform="teams-member",
                                     reference={"user": {"id": sender.id, "aadObjectId": sender.aad_object_id},
                                                "bot": {"id": activity.recipient.id if activity.recipient else ""}},
                                     service_url=activity.service_url, tenant_id=tenant, now=self.core.clock.now())

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        # Installed as a personal app: answer with the user's Home (what needs their attention,
        # stale Teams conversations for admins); in a team or chat the bot stays quiet.
        activity = turn_context.activity
        if activity.conversation.conversation_type != "personal":
            return
        import bot.features  # noqa: F401 - Home sections are registered by feature modules

        actor = await resolve_actor(self.core, platform=PLATFORM, platform_user_id=user_id_of(activity))
        await turn_context.send_activity(message_activity(await home_message(self.core, actor)))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        actor = await resolve_actor(self.core, platform=PLATFORM, platform_user_id=user_id_of(activity))
        value = activity.value if isinstance(activity.value, dict) else None
        if value and value.get("action"):
            await self._press(turn_context, actor, value)
            return
        if value and value.get("form"):
            await self._submit(turn_context, actor, value)
            return
        text = TurnContext.remove_recipient_mention(activity) if activity.entities else activity.text
        # Other @mentions (or one Teams sent without an entity) are not part of the command.
        text = AT_TAG.sub(" ", text or "")
        reply = await dispatch(self.core, text=(text or "").strip() or "help", actor=actor, platform=PLATFORM,
                               channel=activity.conversation.id)
        await turn_context.send_activity(reply_activity(reply))

    async def _press(self, turn_context: TurnContext, actor, value: dict) -> None:  # noqa: ANN001
        activity = turn_context.activity
        try:
            action = ActionId(value["action"])
        except ValueError:
            from bot.compose.errors import unknown_action

            await turn_context.send_activity(message_activity(unknown_action(str(value["action"]))))
            return
        result = await handle_action(self.core, Press(
            action=action, value=str(value.get("value", "")), actor=actor,
            message_ref=f"{activity.conversation.id}|{activity.reply_to_id}" if activity.reply_to_id else None,
            channel=activity.conversation.id))
        if result.replace is not None and activity.reply_to_id:
            # Buttons edit the card they sit on, as Slack messages are edited in place.
            updated = message_activity(result.replace)
            updated.id = activity.reply_to_id
            await turn_context.update_activity(updated)
        for message in (result.post_in_channel, result.reply):
            if message is not None:
                await turn_context.send_activity(message_activity(message))
        if result.open_form is not None:
            await turn_context.send_activity(reply_activity(result.open_form))

    async def _submit(self, turn_context: TurnContext, actor, value: dict) -> None:  # noqa: ANN001
        try:
            form_id = FormId(value["form"])
        except ValueError:
            from bot.compose.errors import unknown_action

            await turn_context.send_activity(message_activity(unknown_action(str(value["form"]))))
            return
        state = str(value.get("state", ""))
        values = {k: v for k, v in value.items() if k not in ("form", "state", "fixed", "spec")}
        values.update(value.get("fixed") or {})
        submission = Submission(form=form_id, values=values, actor=actor, state=state)
        # the card's message id names this form: a double click or retry of it acts once
        activity = turn_context.activity
        once = f"{activity.conversation.id if activity.conversation else ''}|{activity.reply_to_id}" \
            if activity.reply_to_id else None
        result = await handle_form(self.core, submission, once=once)
        if result.errors is not None:
            await self._show_errors(turn_context, submission, value.get("spec"), result.errors)
            return
        if result.reply is not None:
            await turn_context.send_activity(message_activity(result.reply))

    async def _show_errors(self, turn_context: TurnContext, submission: Submission, spec: object,
                           errors: FormErrors) -> None:
        # A Teams card can't stay open like a Slack modal: show the same form again, in place
        # when we know its card, with the errors next to the fields and the typed values kept.
        try:
            if not isinstance(spec, dict):
                raise ValueError("no form spec in the submit data")
            form = with_values(form_from_spec(submission.form, submission.state, spec), submission.values)
        except ValueError:
            await turn_context.send_activity(message_activity(form_rejected(errors)))
            return
        card = card_activity(render_form(form, errors), summary=f"{form.title}: please fix the form")
        reply_to = turn_context.activity.reply_to_id
        if reply_to:
            card.id = reply_to
            await turn_context.update_activity(card)
        else:
            await turn_context.send_activity(card)
