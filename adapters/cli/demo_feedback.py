"""The demo's feedback pulse step: acme's monthly round opens at 10:00 Warsaw on its day, each acme person
gets one Slack DM with a button, three answer (one anonymously) and the lead reads `feedback results acme`.

Runs on the example config through the pulse job's service, the delivery worker and the handlers the
Slack adapter calls (handle_action / handle_form with the people's Slack identities), on a ManualClock
at the moment the current round opened, so the digest step can count it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

import bot.services.feedback  # noqa: F401 - registers the feedback command, button and form
from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.config.schema import PulseSchedule
from bot.core import Core
from bot.domain.pulse import opens_at, period_of
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.ports import ManualClock
from bot.services.delivery import deliver_all
from bot.services.feedback import run_partner
from bot.services.identity import resolve_actor
from bot.store.feedback import Pulse
from bot.store.models import Partner, User
from bot.store.policy import load_policy

Write = Callable[[str], object]
# the example config has two acme people; the demo adds a quality analyst so three can answer
EXTRA = User(platform="slack", platform_user_id="U0ACME3", name="Ana Quality", role="partner", handle="acme-qa")
# (Slack id, values): all three answer anonymously. One or two anonymous ratings beside named ones
# would hide a question's average (the named ratings are known, so the average would give them away).
ANSWERS = (
    ("U0ACME1", {"communication": "4", "clarity": "3", "support": "5", "tooling": "2",
                 "comment": "The knowledge base is behind the current campaign scripts.", "anonymous": "yes"}),
    ("U0ACME2", {"communication": "5", "clarity": "4", "support": "4", "tooling": "3",
                 "comment": "Weekly calibration with the client works well.", "anonymous": "yes"}),
    ("U0ACME3", {"communication": "4", "clarity": "2", "support": "4", "anonymous": "yes"}),
)


async def show_pulse(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """Open acme's current round, show the Slack DM, three answers, then the results."""
    async with core.db.transaction() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one_or_none()
        schedule = await load_policy(s, acme.id, "pulse", PulseSchedule) if acme is not None else None
        if acme is not None and (await s.execute(select(User).where(User.handle == EXTRA.handle))).first() is None:
            s.add(User(**{**EXTRA.model_dump(exclude={"id"}), "partner_id": acme.id}))
    if acme is None or schedule is None or not schedule.enabled:
        write("No acme partner with a feedback pulse in the config; skipping the pulse showcase.")
        return
    period = period_of(core.clock.now(), schedule.cadence, acme.timezone)
    clock = ManualClock(opens_at(period, day=schedule.day, at=schedule.time, tz=acme.timezone))
    replay = Core(db=core.db, settings=core.settings, clock=clock)
    async with replay.db.transaction() as s:
        keys = await run_partner(s, partner=acme, now=clock.now())
        pulse = (await s.execute(select(Pulse).where(Pulse.partner_id == acme.id, Pulse.period == period))
                 ).scalar_one_or_none()
    if pulse is None:
        write("The acme pulse round did not open; skipping the pulse showcase.")
        return
    local = clock.now().astimezone(ZoneInfo(acme.timezone))
    write(f"{local:%a %d %b %H:%M} ({acme.timezone}): acme's feedback pulse {period} opens; "
          f"{sum(':invite:' in k for k in keys)} people are asked, one DM each.")
    slack = preview["slack"]
    seen = len(slack.posted)
    await deliver_all(replay, preview, limit=500)
    # destinations are delivered in parallel: show the first by id, so two runs tell the same story
    dm = min(((d, m) for d, m in slack.posted[seen:] if d.startswith("user:") and m.actions),
             key=lambda posted: posted[0], default=None)
    if dm is not None:
        write(f"\nThe DM in Slack to {dm[0].removeprefix('user:')}:")
        write(render(dm[1]))
    clock.set(clock.now() + timedelta(hours=2))
    for slack_id, values in ANSWERS:
        actor = await resolve_actor(replay, platform="slack", platform_user_id=slack_id)
        pressed = await handle_action(replay, Press(ActionId.FEEDBACK_OPEN_FORM, f"pulse:{pulse.id}", actor))
        if pressed.open_form is None:
            write(f"  {actor.display}: {pressed.reply.summary if pressed.reply else 'no form'}")
            continue
        result = await handle_form(replay, Submission(FormId.FEEDBACK, values, actor,
                                                      state=pressed.open_form.form.state))
        how = "anonymously" if values.get("anonymous") == "yes" else "with their name"
        write(f"  {actor.display} presses Give feedback and answers {how}: "
              f"{result.reply.summary if result.reply else dict(result.errors.errors)}")
    lead = await resolve_actor(replay, platform="slack", platform_user_id="U0LEAD")
    write("\nlead> feedback results acme")
    write(render(await dispatch(replay, text="feedback results acme", actor=lead, platform="slack")))
