"""Config apply: creates, changes and removes rows idempotently, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.config import EscalationPolicy, parse_config
from bot.config.schema import ClientProfile, DigestSchedule, QbrPlan
from bot.services.config_apply import CHANGE, CREATE, DEACTIVATE, KEEP, REMOVE, apply_config
from bot.store.models import Measurement, Partner, Route, Site, Target, User
from bot.store.policy import PartnerPolicy, load_policy, users_by_handle

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"
TABLES = (Partner, Site, Target, User, Route, PartnerPolicy)


@pytest.fixture
def make_config():
    """Return a function: mutate(dict) applied to the example -> validated LiaisonConfig."""

    def make(mutate=None):
        data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
        if mutate is not None:
            mutate(data)
        return parse_config(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    return make


async def _counts(db) -> dict[str, int]:
    async with db.session() as s:
        return {t.__name__: (await s.exec(select(func.count()).select_from(t))).one() for t in TABLES}


async def _snapshot(db) -> dict[str, list]:
    async with db.session() as s:
        return {t.__name__: sorted(repr(r.model_dump()) for r in (await s.exec(select(t))).all()) for t in TABLES}


def _names(plan, action: str, kind: str) -> list[str]:
    return [i.name for i in plan.items if i.action == action and i.kind == kind]


async def test_apply_example_creates_expected_rows(db, make_config):
    plan = await apply_config(db, make_config())
    assert await _counts(db) == {"Partner": 3, "Site": 4, "Target": 28, "User": 21, "Route": 42,
                                 "PartnerPolicy": 20}
    assert {i.action for i in plan.items} == {CREATE}
    assert len(plan.items) == 3 + 4 + 28 + 21 + 42 + 20
    assert "partner acme (Acme Contact Solutions)" in plan.render().splitlines()[0]
    async with db.session() as s:
        acme = (await s.exec(select(Partner).where(Partner.slug == "acme"))).one()
        krakow = (await s.exec(select(Site).where(Site.key == "krakow"))).one()
        assert (acme.name, acme.timezone, krakow.partner_id) == ("Acme Contact Solutions", "Europe/Warsaw", acme.id)
        assert krakow.languages == ["pl", "de", "en"] and krakow.country == "PL"
        target = (await s.exec(select(Target).where(Target.partner_id == acme.id,
                                                    Target.key == "sl-voice-krakow-day"))).one()
        assert (target.site_id, target.channel, target.comparator, target.target_value) == (krakow.id, "voice", ">=", 80.0)
        abandon = (await s.exec(select(Target).where(Target.key == "abandon-voice-day",
                                                     Target.partner_id == acme.id))).one()
        assert (abandon.comparator, abandon.warning_value, abandon.critical_margin) == ("<=", 4.0, 5.0)
        tl = (await s.exec(select(User).where(User.platform == "console", User.platform_user_id == "acme-tl"))).one()
        assert (tl.role, tl.partner_id, tl.handle, tl.active) == ("partner", acme.id, "acme-tl", True)
        lead = (await s.exec(select(User).where(User.platform == "slack", User.platform_user_id == "U0LEAD"))).one()
        assert (lead.role, lead.partner_id, lead.capabilities) == ("client", None, ["data_protection"])
        client_routes = (await s.exec(select(Route).where(Route.partner_id == None))).all()  # noqa: E711
        assert {(r.purpose, r.platform, r.destination) for r in client_routes} >= {
            ("escalations", "slack", "C0CXESC"), ("digests", "teams", "cx-digests"), ("reports", "slack", "C0CXREPORT")}
        policy = await load_policy(s, acme.id, "escalation", EscalationPolicy)
        assert [lv.name for lv in policy.levels] == [
            "Partner team lead", "Partner account manager", "Client BPO lead", "Head of customer experience"]
        assert policy.wait(0, "P1") == timedelta(minutes=15)
        assert (await load_policy(s, acme.id, "qbr", QbrPlan)).month_offset == 1
        assert (await load_policy(s, None, "digest", DigestSchedule)).time.isoformat() == "08:30:00"
        assert (await load_policy(s, None, "client", ClientProfile)).timezone == "Europe/Berlin"
        people = await users_by_handle(s, ["acme-tl", "lead"])
        assert sorted(u.platform for u in people["acme-tl"]) == ["console", "slack", "teams"]


async def test_apply_same_file_twice_reports_no_changes(db, make_config):
    await apply_config(db, make_config())
    before = await _snapshot(db)
    plan = await apply_config(db, make_config())
    assert plan.items == [] and not plan.has_changes
    assert plan.render() == "No changes: the database already matches the file."
    assert await _snapshot(db) == before


async def test_apply_changed_file_reports_exactly_the_changes(db, make_config):
    await apply_config(db, make_config())

    def mutate(d):
        acme = d["partners"][0]
        acme["targets"][0]["target"] = 82
        acme["escalation"]["levels"][0]["wait"]["P1"] = "20m"
        acme["routes"]["alerts"]["slack"] = ["C0ACMEALERT2"]
        acme["sites"].append({"key": "porto", "name": "Porto", "country": "PT", "languages": ["pt"]})
        d["users"][1]["name"] = "Lena Lead-Kowalska"
        d["partners"][1]["targets"][0]["effective_from"] = "2026-12-01"

    plan = await apply_config(db, make_config(mutate))
    got = sorted((i.action, i.kind, i.name, i.details) for i in plan.items)
    assert got == sorted([
        (CHANGE, "target", "acme/sl-voice-day", ("target_value: 80 -> 82",)),
        (CHANGE, "policy", "acme escalation", ("levels[0].wait.P1: '15m' -> '20m'",)),
        (REMOVE, "route", "acme alerts -> slack C0ACMEALERT", ()),
        (CREATE, "route", "acme alerts -> slack C0ACMEALERT2", ()),
        (CREATE, "site", "acme/porto (Porto, PT)", ()),
        (CHANGE, "user", "lead (slack U0LEAD)", ("name: 'Lena Lead' -> 'Lena Lead-Kowalska'",)),
        (CHANGE, "user", "lead (teams 00000000-0000-4000-8000-00000000c001)", ("name: 'Lena Lead' -> 'Lena Lead-Kowalska'",)),
        (CHANGE, "user", "lead (console lead)", ("name: 'Lena Lead' -> 'Lena Lead-Kowalska'",)),
        (CHANGE, "target", "northwind/sl-voice-day",
         ("effective_from: none -> 2026-11-30T16:00:00+00:00",)),  # Manila midnight in UTC
    ])
    assert plan.summary() == "2 created, 6 changed, 1 removed"
    async with db.session() as s:
        nw = (await s.exec(select(Target).where(Target.key == "sl-voice-day", Target.effective_from != None))).one()  # noqa: E711
        assert nw.effective_from == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert (await apply_config(db, make_config(mutate))).items == []


async def test_apply_removed_partner_without_history_is_deleted_with_children(db, make_config):
    await apply_config(db, make_config())

    def mutate(d):
        del d["partners"][2]
        d["users"] = [u for u in d["users"] if u.get("partner") != "globex"]
        del d["partners"][0]["targets"][-1]

    plan = await apply_config(db, make_config(mutate))
    assert _names(plan, REMOVE, "partner") == ["globex"]
    assert _names(plan, REMOVE, "site") == ["globex/saopaulo"]
    assert len(_names(plan, REMOVE, "target")) == 8 + 1
    assert "acme/frt-email-day" in _names(plan, REMOVE, "target")
    assert len(_names(plan, REMOVE, "route")) == 10
    assert sorted(_names(plan, REMOVE, "policy")) == ["globex channels", "globex digest", "globex escalation",
                                                            "globex pulse", "globex qbr", "globex staffing"]
    assert len(_names(plan, REMOVE, "user")) == 3
    assert not plan.of(CREATE) and not plan.of(CHANGE)
    assert await _counts(db) == {"Partner": 2, "Site": 3, "Target": 19, "User": 18, "Route": 32, "PartnerPolicy": 14}
    assert (await apply_config(db, make_config(mutate))).items == []


async def test_apply_removed_partner_with_measurements_is_deactivated(db, make_config):
    await apply_config(db, make_config())
    async with db.transaction() as s:
        globex = (await s.exec(select(Partner).where(Partner.slug == "globex"))).one()
        site = (await s.exec(select(Site).where(Site.key == "saopaulo"))).one()
        start = datetime(2026, 11, 16, 12, tzinfo=UTC)
        s.add(Measurement(partner_id=globex.id, site_id=site.id, scope_site=site.id, channel="voice",
                          metric="service_level", period_start=start, period_end=start + timedelta(minutes=15),
                          num=80, den=100, ingested_at=start))

    def mutate(d):
        del d["partners"][2]
        d["users"] = [u for u in d["users"] if u.get("partner") != "globex"]

    plan = await apply_config(db, make_config(mutate))
    assert _names(plan, DEACTIVATE, "partner") == ["globex"]
    assert _names(plan, KEEP, "site") == ["globex/saopaulo"]
    assert "globex (deactivated, history kept)" in plan.render()
    async with db.session() as s:
        globex = (await s.exec(select(Partner).where(Partner.slug == "globex"))).one()
        assert globex.active is False
        assert (await s.exec(select(func.count()).select_from(Measurement))).one() == 1
    again = await apply_config(db, make_config(mutate))
    assert not again.has_changes


async def test_apply_dry_run_writes_nothing_and_plans_the_same(db, make_config):
    dry = await apply_config(db, make_config(), dry_run=True)
    assert await _counts(db) == dict.fromkeys(("Partner", "Site", "Target", "User", "Route", "PartnerPolicy"), 0)
    assert dry.render().splitlines()[-1].startswith("Dry run, nothing written: would apply 118 created")
    real = await apply_config(db, make_config())
    assert dry.items == real.items

    before = await _snapshot(db)
    dry_change = await apply_config(db, make_config(lambda d: d["partners"].pop(1) and d.update(
        users=[u for u in d["users"] if u.get("partner") != "northwind"])), dry_run=True)
    assert _names(dry_change, REMOVE, "partner") == ["northwind"]
    assert await _snapshot(db) == before


async def test_apply_database_error_rolls_back_everything(db, make_config):
    await apply_config(db, make_config())
    before = await _snapshot(db)
    # a partner outside the file: apply would delete it, unless the apply fails as a whole
    async with db.transaction() as s:
        s.add(Partner(slug="initech", name="Initech", timezone="UTC"))
    with_initech = await _snapshot(db)
    assert with_initech != before

    def mutate(d):
        d["partners"][0]["targets"][0]["target"] = 82
        d["users"].append({"id": "ghost", "name": "Ghost", "role": "partner", "partner": "acme",
                           "identities": {"slack": "U0ACME1"}})

    # cross-checks would refuse two users sharing U0ACME1; skip them so the database refuses it
    with pytest.raises(IntegrityError):
        await apply_config(db, make_config_unchecked(mutate))
    assert await _snapshot(db) == with_initech


def make_config_unchecked(mutate):
    """Build a config that skips cross-checks, to reach the database with a clash."""
    from bot.config.schema import LiaisonConfig

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    mutate(data)
    return LiaisonConfig.model_validate(data)


GOLDEN = Path(__file__).resolve().parent / "golden"


async def test_apply_plan_render_for_edits_matches_golden(db, make_config):
    await apply_config(db, make_config())

    def mutate(d):
        acme = d["partners"][0]
        acme["targets"][0]["site"] = "lisbon"
        acme["targets"][4]["warning"] = 3.5
        del acme["targets"][11]
        acme["escalation"]["quiet_hours"]["start"] = "21:30"
        acme["routes"]["qbr"]["teams"].append("acme-leadership")
        d["users"].append({"id": "acme-qa", "name": "Ola QA", "role": "partner", "partner": "acme",
                           "identities": {"console": "acme-qa"}})

    plan = await apply_config(db, make_config(mutate), dry_run=True)
    expected = (GOLDEN / "config_plan_edit.txt").read_text(encoding="utf-8")
    assert plan.render() + "\n" == expected


async def test_apply_removed_partner_with_site_scoped_target_removes_site_too(db, make_config):
    await apply_config(db, make_config())

    def mutate(d):
        del d["partners"][0]
        d["users"] = [u for u in d["users"] if u.get("partner") != "acme"]

    plan = await apply_config(db, make_config(mutate))
    assert _names(plan, REMOVE, "partner") == ["acme"]
    assert sorted(_names(plan, REMOVE, "site")) == ["acme/krakow", "acme/lisbon"]
    assert "acme/sl-voice-krakow-day" in _names(plan, REMOVE, "target")
    assert not plan.of(KEEP) and not plan.of(DEACTIVATE)
    async with db.session() as s:
        assert (await s.exec(select(func.count()).select_from(Site))).one() == 2
