"""User text reads literally on Slack and on Teams: the same typed text, the same shown text, no formatting.

The rule (README, "User text"): whatever a person types (an escalation description, a report, an
announcement, a feedback comment) is shown as typed on both platforms. `*bold*`, `_x_`, `~x~`, a
backtick, a line-leading `>`, `[link](url)`, a list marker, `<!channel>` or an `:emoji:` code in user
text format nothing and notify nobody.

Each case sends one text through the composer, then through the Block Kit and the Adaptive Card
renderers, and reads both payloads back the way the client would: Slack shows a date token's
fallback as plain text and decodes &amp; &lt; &gt;; Teams drops a CommonMark backslash escape. A mark
the renderer left live shows up as a mismatch between the raw payload (marks outside tokens/escapes)
and the typed text.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from adapters.slack.blockkit import render_message
from adapters.teams.adaptive_card import render_card
from bot.compose import announcement as announcement_compose
from bot.compose import escalation as escalation_compose
from bot.compose import feedback as feedback_compose
from bot.compose import report as report_compose
from bot.domain.pulse import Summary
from bot.store.announcements import Announcement
from bot.store.reports import ReverseReport
from tests.test_escalation_compose import CTX, make_escalation

T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
TYPED = [
    "Queue *down* since _09:00_ ~maybe~ `sql` :fire: **big**",
    "<!channel> <@U0ADMIN> <https://evil.example|bank> & [click](https://evil.example) snake_case_name",
    "> quoted line\n- a list item\n1. a numbered item\n  > indented quote",
    "a\\*b a\\_b ~~gone~~ ```block``` :white_check_mark: 10:30",
]

TOKEN = re.compile(r"<!date\^0\^\{_\}\|(.)>", re.DOTALL)
TEAMS_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _mrkdwn(blocks: object) -> list[str]:
    if isinstance(blocks, dict):
        found = [blocks["text"]] if blocks.get("type") == "mrkdwn" else []
        return found + [s for v in blocks.values() for s in _mrkdwn(v)]
    if isinstance(blocks, list):
        return [s for v in blocks for s in _mrkdwn(v)]
    return []


def slack_shown(mrkdwn: str) -> str:
    """What a Slack client displays for a mrkdwn text (formatting aside)."""
    return html.unescape(TOKEN.sub(lambda m: m.group(1), mrkdwn).replace("\u00ad&gt;", "&gt;"))


def slack_live_marks(mrkdwn: str) -> str:
    """The mrkdwn with every literal (token) replaced by X: a remaining mark would format."""
    return html.unescape(TOKEN.sub("X", mrkdwn).replace("\u00ad&gt;", "X"))


def teams_shown(text: str) -> str:
    return TEAMS_ESCAPE.sub(lambda m: m.group(1), text)


def teams_live_marks(text: str) -> str:
    return TEAMS_ESCAPE.sub("X", text)


def slack_expected_live(typed: str) -> tuple[str, str]:
    """The typed text with every mark as X; its first line's ">" is a quote only at a line start (both kept)."""
    text = re.sub(r"[*_~`]|:(?=[a-z0-9_+'-]+:)", "X", typed)
    quoted = re.sub(r"^(\s*)>", r"\1X", text, flags=re.MULTILINE)
    head, _, rest = text.partition("\n")
    return quoted, head + ("\n" + quoted.partition("\n")[2] if rest else "")


def teams_expected_live(typed: str) -> str:
    text = re.sub(r"[\\*_\[\]]", "X", typed)
    text = re.sub(r"^(\s*)[-+](?=\s)", r"\1X", text, flags=re.MULTILINE)
    return re.sub(r"^(\s*\d+)\.(?=\s)", r"\1X", text, flags=re.MULTILINE)


def _escalation(typed: str):
    return escalation_compose.escalation_card(make_escalation(description=typed), CTX)


def _report(typed: str):
    report = ReverseReport(id=7, partner_id=1, author_name="Casey Client", kind="process_issue", rating=2,
                           text=typed, sent_at=T0, reminder_due_at=T0 + timedelta(days=2))
    return report_compose.report_card(report, partner_name="Acme Contact Solutions")


def _announcement(typed: str):
    row = Announcement(id=3, author_name="Casey Client", title="New refund rule", body=typed,
                       category="procedure_change", effective_at=T0, sent_at=T0)
    return announcement_compose.partner_card(row, partner_id=1, partner_name="Acme Contact Solutions",
                                             tz="Europe/Warsaw", lines=[])


def _feedback(typed: str):
    summary = Summary(answers=4, averages={k: 4.0 for k, _ in feedback_compose.QUESTIONS},
                      rated={k: 4 for k, _ in feedback_compose.QUESTIONS}, comments=1)
    period = feedback_compose.PeriodResult(period="2026-11", answered=4, asked=5, summary=summary)
    part = feedback_compose.PartnerResults(partner_name="Acme Contact Solutions", current=period, trend=[period],
                                           comments=[(None, typed)], adhoc=summary, adhoc_comments=[])
    return feedback_compose.results([part])


CASES = {"escalation description": _escalation, "report text": _report, "announcement body": _announcement,
         "feedback comment": _feedback}


@pytest.mark.parametrize("typed", TYPED, ids=[f"text{i}" for i in range(len(TYPED))])
@pytest.mark.parametrize("where", list(CASES))
def test_user_text_reads_the_same_literal_text_on_slack_and_teams(where, typed):
    message = CASES[where](typed)
    slack = _mrkdwn(render_message(message)["blocks"])
    teams = _strings(render_card(message))
    slack_hits = [s for s in slack if typed in slack_shown(s)]
    teams_hits = [t for t in teams if typed in teams_shown(t)]
    # both platforms show exactly what was typed...
    assert slack_hits, f"Slack does not show {typed!r} literally: {slack}"
    assert teams_hits, f"Teams does not show {typed!r} literally: {teams}"
    # ...and every mark in it is inert: in the raw payload it sits inside a literal (token / escape)
    assert any(e in slack_live_marks(s) for s in slack_hits for e in slack_expected_live(typed)), slack_hits
    assert any(teams_expected_live(typed) in teams_live_marks(t) for t in teams_hits), teams_hits
    # no live mention or link anywhere in either payload
    raw_slack = "\n".join(TOKEN.sub("X", s) for s in slack)
    assert "<!channel>" not in raw_slack and "<@U0ADMIN>" not in raw_slack and "<https://evil" not in raw_slack
    assert not any("](https://evil" in t and "\\]" not in t for t in teams)


def test_formatting_the_renderer_adds_itself_stays_live_on_slack():
    """Only data is neutralised: the renderer's own headings and labels are still bold."""
    message = _report("plain words")
    texts = _mrkdwn(render_message(message)["blocks"])
    assert "*Report*\nplain words" in texts
    assert any(t.startswith("*Partner*\n") for t in texts)


def test_clip_never_splits_a_literal_token():
    from adapters.slack.blockkit import MAX_TEXT

    message = _report("*" * 3000)
    texts = _mrkdwn(render_message(message)["blocks"])
    body = next(t for t in texts if t.startswith("*Report*"))
    assert len(body) <= MAX_TEXT and body.endswith("…")
    # every "<" opens a whole token: nothing like "<!date^0^{_" is left for Slack to show raw
    assert TOKEN.sub("", body).count("<") == 0
    assert set(slack_shown(body)[len("*Report*\n"):-1]) == {"*"}
