"""Issue 13: property-based fuzzing of every input path: no unhandled exception, nothing partially written.

Hypothesis draws the inputs (at most 200 per property, no deadline, so CI time stays low); the async
database checks then run over every drawn input. Paths: the command grammar as Slack (escaped text,
a slash), Teams (an <at> mention) and the console (its own words) type it, for every kind of actor;
the ingest JSON and CSV parsers with validation; and every form's submission.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapters.console.shell import ConsoleSession, answer
from adapters.slack.inbound import plain_text
from adapters.teams.bot import AT_TAG
from bot.actions import FormId
from bot.commands import dispatch
from bot.domain.access import Actor
from bot.ingest.csv_format import parse_csv
from bot.ingest.json_format import parse_json
from bot.ingest.rows import COLUMNS, FormatError
from bot.ingest.validate import PartnerInfo, validate
from bot.interactions import Submission, handle_form
from bot.messages import Message, OpenForm
from bot.store.escalations import Escalation
from tests.escalation_world import UNKNOWN, make_world
from tests.hardening_counts import record

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
VERBS = ["kpi", "sla", "escalate", "feedback", "report", "qbr", "help", "liaison", "dashboard", "staffing"]
WORDS = ["acme", "globex", "northwind", "all", "aht", "csat", "last-week", "show", "list", "open", "pack",
         "schedule", "action", "digest", "ESC-1", "RR-1", "2026-Q4", "2026-W46", "9999-12-31", "0001-Q1",
         "18446744073709551616", "-1", "@maria", '"', "'", "<!channel>", "<@U0ADMIN>", "*bold*", "\u202e", "\x00"]
TOKEN = st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers().map(str),
                  st.dates().map(str), st.from_regex(r"[0-9]{4}-(W[0-9]{2}|Q[0-9]|[0-9]{2}-[0-9]{2})", fullmatch=True))
LINE = st.tuples(st.sampled_from(VERBS), st.lists(TOKEN, max_size=6)).map(lambda t: " ".join([t[0], *t[1]]))
HANDLES = ["admin", "lead", "acme-tl", "globex-tl"]
COUNTS = {"tried": 0, "clean": 0, "tracebacks": 0}


def draw(strategy) -> list:  # noqa: ANN001
    """Collect what Hypothesis generates for ``strategy`` (up to FUZZ's max_examples)."""
    out: list = []

    @FUZZ
    @given(strategy)
    def collect(value) -> None:  # noqa: ANN001
        out.append(value)

    collect()
    return out


async def count(db, model) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def is_answer(reply) -> bool:  # noqa: ANN001
    return isinstance(reply, (Message, OpenForm)) and not (
        isinstance(reply, Message) and reply.title == "Something went wrong on our side")


async def test_the_grammar_answers_every_line_on_every_platform(core, db):
    world = await make_world(db)
    actors = [world.actor(h, p) for h in HANDLES for p in ("slack", "teams")] + [UNKNOWN]
    lines = draw(LINE)
    clean = 0
    for i, line in enumerate(lines):
        actor = actors[i % len(actors)]
        verb, _, rest = line.partition(" ")
        slack = await dispatch(core, text=plain_text(rest), actor=actor, platform="slack", slash=f"/{verb}")
        teams = await dispatch(core, text=AT_TAG.sub(" ", f"<at>Liaison</at> {line}").strip(), actor=actor,
                               platform="teams")
        assert is_answer(slack), (line, slack)
        assert is_answer(teams), (line, teams)
        clean += 2
    session = ConsoleSession(core=core, user="admin", write=lambda _text: None)
    for line in lines:
        assert await answer(session, line) in (True, False)
        assert session.last_message is None or session.last_message.title != "Something went wrong on our side", line
        clean += 1
    COUNTS["tried"] += 3 * len(lines)
    COUNTS["clean"] += clean
    print(f"grammar: {3 * len(lines)} lines tried, {clean} clean answers, 0 tracebacks")
    record("fuzz", tried=3 * len(lines), clean=clean, tracebacks=0)


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                          max_leaves=20)
CELL = st.one_of(st.none(), st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=False),
                 st.text(max_size=16), st.sampled_from(["acme", "voice", "2026-11-16T08:00:00+01:00", "15", "1e300",
                                                         "1_000", "\u0661\u0662", "9999-12-31T23:45:00+00:00"]))
ITEM = st.dictionaries(st.sampled_from(COLUMNS), CELL, max_size=10)
PARTNERS = {"acme": PartnerInfo(1, "Europe/Warsaw", {"krakow": 1})}


def test_the_json_parser_and_validation_never_raise_anything_but_a_format_error():
    bodies = draw(st.one_of(JSON_VALUE.map(json.dumps), st.lists(ITEM, max_size=5).map(json.dumps),
                            st.binary(max_size=64)))
    for body in bodies:
        try:
            records, errors = parse_json(body)
        except FormatError:
            continue
        rows, problems = validate(records, PARTNERS)
        assert all(p.where.startswith("item ") for p in problems + errors)
    COUNTS["tried"] += len(bodies)
    COUNTS["clean"] += len(bodies)
    print(f"json: {len(bodies)} bodies tried, all answered")
    record("fuzz", tried=len(bodies), clean=len(bodies), tracebacks=0)


def test_the_csv_parser_and_validation_never_raise_anything_but_a_format_error():
    header = ",".join(COLUMNS[:8])
    files = draw(st.one_of(st.text(max_size=200),
                           st.lists(st.lists(CELL.map(lambda c: "" if c is None else str(c).replace("\n", " ")),
                                             min_size=8, max_size=8).map(",".join), max_size=5)
                           .map(lambda rows: "\n".join([header, *rows]))))
    for text in files:
        try:
            records, errors = parse_csv(text)
        except FormatError:
            continue
        validate(records, PARTNERS)
    COUNTS["tried"] += len(files)
    COUNTS["clean"] += len(files)
    print(f"csv: {len(files)} files tried, all answered")
    record("fuzz", tried=len(files), clean=len(files), tracebacks=0)


FORM_VALUE = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["acme", "globex", "P1", "P9", "yes", "5",
                                                                         "sla_performance", "data_protection",
                                                                         "x" * 3001, "\x00\u202e"]),
                       st.lists(st.text(max_size=5), max_size=3))
FIELDS = ["partner", "severity", "category", "title", "description", "link", "note", "assignee", "comment",
          "rating", "kind", "text", "anonymous", "csat", "nps"]


async def test_every_form_answers_any_submission_and_writes_all_or_nothing(core, db):
    world = await make_world(db)
    actors: list[Actor] = [world.actor(h) for h in HANDLES] + [UNKNOWN]
    submissions = draw(st.tuples(st.sampled_from(list(FormId)), st.dictionaries(st.sampled_from(FIELDS), FORM_VALUE),
                                 st.one_of(st.just(""), st.text(max_size=12),
                                           st.sampled_from(["breach:1", "escalation:1", "pulse:1", "breach:99999999999"])),
                                 st.integers(min_value=0, max_value=len(actors) - 1)))
    for form, values, state, who in submissions:
        before = await count(db, Escalation)
        result = await handle_form(core, Submission(form=form, values=values, actor=actors[who], state=state))
        after = await count(db, Escalation)
        if result.errors is not None:
            assert after == before, (form, values)  # refused forms write nothing
        assert result.reply is None or result.reply.title != "Something went wrong on our side"
    COUNTS["tried"] += len(submissions)
    COUNTS["clean"] += len(submissions)
    print(f"forms: {len(submissions)} submissions tried, all answered ({datetime.now(UTC):%H:%M})")
    record("fuzz", tried=len(submissions), clean=len(submissions), tracebacks=0)


async def test_invisible_characters_are_cleaned_the_same_on_both_databases(core, db):
    world = await make_world(db)
    values = {"partner": "acme", "severity": "P3", "category": "sla_performance",
              "title": "Queue\x00 at\u200b 40%\u202e", "description": "line one\nline\u2066 two\ufeff"}
    result = await handle_form(core, Submission(form=FormId.ESCALATION_FILE, values=values,
                                                actor=world.actor("acme-tl")))
    assert result.errors is None, result.errors
    async with db.session() as s:
        esc = (await s.execute(select(Escalation))).scalars().one()
    assert (esc.title, esc.description) == ("Queue at 40%", "line one\nline two")
