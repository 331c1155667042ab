"""Adaptive Cards for every composed message kind: structure, version, size, escaping, golden files.

The neutral golden files in tests/golden/*.json are pinned by the composers' own tests; each is
rendered here and compared with tests/golden/teams/<name>.json (LIAISON_UPDATE_GOLDEN=1 rewrites).
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image as PILImage

from adapters.teams.adaptive_card import (
    MAX_BYTES,
    escape,
    form_from_spec,
    problems,
    render_card,
    render_form,
    size,
    with_values,
)
from bot.actions import ActionId, FormId
from bot.compose.chart import Series, trend_chart
from bot.compose.digest import DigestView, digest_message
from bot.compose.errors import access_denied, internal_error, not_understood, unknown_action
from bot.compose.qbr import action_reminder, qbr_list, qbr_reminder
from bot.domain.scorecard import Scorecard
from bot.messages import (
    Action,
    Fact,
    FieldKind,
    Form,
    FormErrors,
    FormField,
    Image,
    KpiRow,
    Message,
    Option,
    Section,
    Severity,
    Status,
)
from bot.messages_codec import _decode  # forms have no public decoder; the goldens hold both kinds

GOLDEN = Path(__file__).parent / "golden"
TEAMS_GOLDEN = GOLDEN / "teams"
NEUTRAL = sorted(p.stem for p in GOLDEN.glob("*.json"))
KPIS = (KpiRow("service_level", "Service level · voice", "68.7%", "≥ 80.0%", Status.BREACH, delta="-4.1 pp",
               sparkline="▆▅▃▂", note="412 of 600 answered within 20 s"),
        KpiRow("aht", "AHT · chat", "5m 01s", "≤ 6m 00s", Status.OK, delta="-12s"),
        KpiRow("csat", "CSAT", "—", None, Status.NO_DATA))
DIRECT: dict[str, Message] = {
    "error_access_denied": access_denied("partner users see only their own partner"),
    "error_unknown_action": unknown_action("frobnicate"),
    "error_not_understood": not_understood("no partner 'acem'", suggestions=("acme",), usage="kpi [partner]"),
    "error_internal": internal_error("a1b2c3d4"),
    "qbr_reminder": qbr_reminder(partner="Acme Contact Solutions", tz="Europe/Warsaw",
                                 meeting=datetime(2026, 12, 3, 9, tzinfo=UTC), days_before=7, quarter="2026-Q4",
                                 pack=None, pack_command=None),
    "qbr_list": qbr_list([("Globex CX", "America/Sao_Paulo", datetime(2026, 12, 10, 13, tzinfo=UTC), "plan")]),
    "qbr_list_empty": qbr_list([]),
    "qbr_action_reminder": action_reminder(partner="Northwind BPO", title="Fix IVR routing", owner="Lead",
                                           due="2026-12-01"),
    "digest": digest_message(DigestView(
        title_scope="Acme Contact Solutions", week="2026-W46", period="Mon 9 Nov - Sun 15 Nov 2026 (Europe/Warsaw)",
        kpis=KPIS, scorecards=(Scorecard("Acme Contact Solutions", 71.5, (), rank=2, previous_score=69.0),
                               Scorecard("Globex CX", None, ())),
        changes=("CSAT improved +10.0 pp week over week",))),
}


def golden(name: str, card: dict) -> None:
    """Compare with the golden file; LIAISON_UPDATE_GOLDEN=1 rewrites it."""
    path = TEAMS_GOLDEN / f"{name}.json"
    got = json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("LIAISON_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with LIAISON_UPDATE_GOLDEN=1 if intended"


def render(neutral: Message | Form) -> dict:
    return render_form(neutral) if isinstance(neutral, Form) else render_card(neutral)


def test_teams_cards_cover_every_neutral_golden():
    assert len(NEUTRAL) >= 20  # breach, escalation (cards and forms), sla status, help...


@pytest.mark.parametrize("name", NEUTRAL)
def test_teams_card_from_neutral_golden_is_valid_and_matches_golden(name):
    neutral = _decode(json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8")))
    card = render(neutral)
    assert problems(card) == [], problems(card)
    golden(name, card)


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_teams_card_composed_directly_is_valid_and_matches_golden(name):
    card = render_card(DIRECT[name])
    assert problems(card) == [], problems(card)
    golden(name, card)


def test_teams_card_status_and_severity_carry_words_not_only_colour():
    card = render_card(DIRECT["digest"])
    text = json.dumps(card, ensure_ascii=False)
    assert card["body"][0]["text"].startswith("WARNING: ") and card["body"][0]["color"] == "Warning"
    rows = [c for c in card["body"] if c["type"] == "ColumnSet"]
    status_cells = [r["columns"][3]["items"][0] for r in rows]
    assert [(c["text"], c["color"]) for c in status_cells] == [
        (Status.BREACH.text, "Attention"), (Status.OK.text, "Good"), (Status.NO_DATA.text, "Default")]
    assert "≥ 80.0%" in text and "412 of 600 answered within 20 s" in text


def test_teams_card_buttons_carry_the_slack_action_ids():
    message = Message(title="t", actions=(Action(ActionId.BREACH_ACKNOWLEDGE, "Acknowledge", value="breach:42"),
                                          Action(ActionId.SHARE_IN_CHANNEL, "Docs", url="https://example.org/d")))
    submit, link = render_card(message)["actions"]
    assert submit == {"type": "Action.Submit", "title": "Acknowledge",
                      "data": {"action": "breach_acknowledge", "value": "breach:42"}}
    assert link == {"type": "Action.OpenUrl", "title": "Docs", "url": "https://example.org/d"}


def test_teams_card_data_cannot_add_markdown_links_lists_or_mentions():
    hostile = "<at>Everyone</at> **urgent** [click](https://evil.example) _x_ `code`\n- item\n1. first"
    card = render_card(Message(title=hostile, sections=(Section(text=hostile, facts=(Fact(hostile, hostile),),
                                                                 bullets=(hostile,)),)))
    texts = [card["body"][0]["text"], card["body"][1]["text"], card["body"][2]["facts"][0]["value"]]
    for text in texts:
        assert "**" not in text.replace("\\*", "") and "[click]" not in text and "\n- " not in text
        assert "\\[click\\](https://evil.example)" in text and "\n1\\. first" in text
    assert "msteams" not in json.dumps(card)  # no mention entities, so <at> stays text
    assert escape("80.0% of 3.5 - x") == "80.0% of 3.5 - x"  # numbers and dashes mid-line untouched


def test_teams_card_over_the_limit_keeps_every_section_and_counts_what_it_left_out():
    rows = tuple(KpiRow("aht", f"AHT site {i} " + "x" * 80, "5m", "≤ 6m", Status.OK, note="n" * 200)
                 for i in range(40))
    message = Message(title="Big", sections=(
        *(Section(heading=f"Partner {i}", kpis=rows) for i in range(10)),
        Section(heading="What changed", bullets=tuple(f"change {i} ·" for i in range(5)))),
        actions=(Action(ActionId.SHARE_IN_CHANNEL, "Share", value="kpi all"),), context="ctx")
    card = render_card(message)
    # measured as the connector client sends it: json.dumps with non-ASCII escaped
    assert size(card) == len(json.dumps(card).encode()) <= MAX_BYTES and problems(card) == []
    texts = [b.get("text", "") for b in card["body"]]
    assert [f"Partner {i}" for i in range(10)] + ["What changed"] == [t for t in texts if t.startswith(
        ("Partner", "What"))]
    shown = sum(1 for b in card["body"] if b["type"] == "ColumnSet") + sum(t.startswith("• ") for t in texts)
    notes = [int(t.split()[1]) for t in texts if t.startswith("...and ")]
    assert len(notes) >= 10 and shown + sum(notes) == 405  # every row either shown or counted
    assert "• change 0 ·" in texts and shown >= 20
    assert card["actions"] and card["body"][-1]["text"] == "ctx"


def test_teams_card_small_png_inline_large_png_explained_url_kept():
    small = render_card(Message(title="t", image=Image(alt="tiny chart", png=b"\x89PNG" + b"0" * 100)))
    assert small["body"][-1]["type"] == "Image" and small["body"][-1]["url"].startswith("data:image/png;base64,")
    chart = trend_chart(title="Acme", weeks=[f"W{i}" for i in range(40, 48)],
                        series=[Series("Service level", (80, 82, 79, 85, 70, 68, 75, 77), 80.0),
                                Series("CSAT", (90, 91, 88, 87, 86, 92, 93, 90), 85.0)])
    assert len(chart) > 12 * 1024  # too large to inline as rendered
    large = render_card(Message(title="t", image=Image(alt="Acme KPIs over 8 weeks", png=chart)))
    inline = large["body"][-1]
    assert inline["type"] == "Image" and inline["altText"] == "Acme KPIs over 8 weeks"
    shrunk = base64.b64decode(inline["url"].removeprefix("data:image/png;base64,"))
    assert size(large) <= MAX_BYTES and problems(large) == []
    picture = PILImage.open(io.BytesIO(shrunk))
    assert picture.format == "PNG" and picture.mode == "P" and picture.width >= 450  # palette, still readable
    noise = io.BytesIO()
    PILImage.frombytes("RGB", (900, 600), random.Random(7).randbytes(900 * 600 * 3)).save(noise, format="PNG")
    hopeless = render_card(Message(title="t", image=Image(alt="noise", png=noise.getvalue())))
    assert hopeless["body"][-1]["text"].startswith("Chart not shown in Teams (too large for a card)")
    broken = render_card(Message(title="t", image=Image(alt="broken", png=b"\x89PNG" + b"0" * 20000)))
    assert broken["body"][-1]["text"].startswith("Chart not shown in Teams")
    linked = render_card(Message(title="t", image=Image(alt="chart", url="https://example.org/c.png")))
    assert linked["body"][-1] == {"type": "Image", "url": "https://example.org/c.png", "altText": "chart"}


def test_teams_form_every_field_kind_renders_with_validation_and_round_trips_its_spec():
    form = Form(FormId.ESCALATION_FILE, "File an escalation", intro="Tell us what happened.", state="breach:42",
                fields=(FormField("partner", "Partner", FieldKind.SELECT, options=(Option("acme", "Acme"),),
                                  initial="acme", read_only=True),
                        FormField("severity", "Severity", FieldKind.SELECT, options=(Option("P1", "P1 · outage"),
                                                                                      Option("P2", "P2"))),
                        FormField("tags", "Tags", FieldKind.MULTI_SELECT, required=False,
                                  options=(Option("gdpr", "GDPR"),)),
                        FormField("title", "Title", max_length=120, placeholder="One line", hint="Shown in lists"),
                        FormField("details", "Details", FieldKind.TEXTAREA),
                        FormField("day", "Day", FieldKind.DATE), FormField("at", "At", FieldKind.TIME),
                        FormField("agents", "Agents", FieldKind.NUMBER, min_value=1, max_value=500),
                        FormField("link", "Link", FieldKind.URL, required=False),
                        FormField("notify", "Notify partner", FieldKind.CHECKBOX, required=False)))
    card = render_form(form)
    assert problems(card) == []
    inputs = {e["id"]: e for e in card["body"] if e["type"].startswith("Input.")}
    assert {k: v["type"] for k, v in inputs.items()} == {
        "severity": "Input.ChoiceSet", "tags": "Input.ChoiceSet", "title": "Input.Text", "details": "Input.Text",
        "day": "Input.Date", "at": "Input.Time", "agents": "Input.Number", "link": "Input.Text",
        "notify": "Input.Toggle"}
    assert inputs["severity"]["isRequired"] and inputs["severity"]["errorMessage"] == "Severity is required"
    assert inputs["tags"]["isMultiSelect"] and (inputs["agents"]["min"], inputs["agents"]["max"]) == (1, 500)
    assert inputs["details"]["isMultiline"] and inputs["link"]["style"] == "Url"
    data = card["actions"][0]["data"]
    assert (data["form"], data["state"], data["fixed"]) == ("escalation_file", "breach:42", {"partner": "acme"})
    rebuilt = form_from_spec(FormId(data["form"]), data["state"], data["spec"])
    assert rebuilt == form
    again = render_form(with_values(rebuilt, {"title": "IVR down", "severity": "P1"}),
                        FormErrors({"details": "Say what happened"}))
    text = json.dumps(again)
    assert "Nothing was saved. Please fix: Details: Say what happened" in text
    assert {e["id"]: e.get("value") for e in again["body"] if e.get("id") in ("title", "severity")} == {
        "title": "IVR down", "severity": "P1"}


@pytest.mark.parametrize("spec", [None, {}, {"title": "x"}, {"title": "x", "fields": [{"id": "a"}]},
                                  {"title": "x", "fields": [{"id": "a", "label": "A", "kind": "nope"}]}])
def test_teams_form_spec_not_ours_is_refused(spec):
    with pytest.raises(ValueError, match="not a Liaison form spec"):
        form_from_spec(FormId.ESCALATION_FILE, "", spec)


def test_teams_card_severity_header_words_for_each_level():
    words = {sev: render_card(Message(title="T", severity=sev))["body"][0]["text"] for sev in Severity}
    assert words == {Severity.INFO: "T", Severity.SUCCESS: "OK: T", Severity.WARNING: "WARNING: T",
                     Severity.CRITICAL: "CRITICAL: T"}


def test_teams_chart_gets_the_room_left_in_a_small_card_not_a_fixed_cap():
    """A 6 KB digest has room for a chart over 12 KB: it is shown, and the card stays under the limit."""
    noise = io.BytesIO()
    PILImage.frombytes("RGB", (80, 60), random.Random(3).randbytes(80 * 60 * 3)).save(noise, format="PNG")
    png = noise.getvalue()
    assert 12 * 1024 < len(png) < 16 * 1024  # over the old fixed cap, and not compressible by a palette
    message = Message(title="Weekly digest · Globex · 2026-W46", sections=(Section(heading="KPIs", kpis=tuple(
        KpiRow("csat", f"CSAT {i}", "90.0%", "≥ 85.0%", Status.OK) for i in range(5))),),
        image=Image(alt="Globex scorecard KPIs", png=png))
    card = render_card(message)
    [image] = [b for b in card["body"] if b["type"] == "Image"]
    assert image["url"].startswith("data:image/png;base64,") and size(card) <= MAX_BYTES
    # with the card already full, the same chart is explained, not silently dropped
    full = Message(title="t", sections=(Section(bullets=tuple("x" * 400 for _ in range(60))),),
                   image=Image(alt="Globex scorecard KPIs", png=png))
    texts = [b.get("text", "") for b in render_card(full)["body"]]
    assert any(t.startswith("Chart not shown in Teams") for t in texts)


def test_slack_clip_cuts_at_a_word_break():
    from adapters.slack.blockkit import clip

    assert clip("First contact resolution · all sites · all channels", 44) == "First contact resolution · all sites · all…"
    assert clip("First contact resolution · all sites · all channels", 40) == "First contact resolution · all sites…"
    assert clip("short", 44) == "short"


def test_teams_kpi_rows_line_up_with_or_without_a_trend():
    rows = (KpiRow("aht", "AHT", "5m 00s", "≤ 6m 00s", Status.OK, delta="+1m 00s", sparkline="▁▂▃"),
            KpiRow("csat", "CSAT", "90.0%", None, Status.NO_TARGET))
    card = render_card(Message(title="t", sections=(Section(kpis=rows),)))
    widths = [[c["width"] for c in b["columns"]] for b in card["body"] if b["type"] == "ColumnSet"]
    assert len(widths) == 2 and widths[0] == widths[1] and widths[0][0] == "stretch"
    assert all(w.endswith("px") for w in widths[0][1:])
