"""Every figure of a digest, a QBR pack and Home, rebuilt from the raw rows with this file's own arithmetic.

The world (tests/fakes/portfolio_world.py) has 30 partners with two or three sites, six time
zones whose DST changes fall in the compared weeks, open and closed breach episodes and a
quarter in progress. Nothing here calls the production query, judging, scoring or formatting
code: windows are local midnights from zoneinfo, values are sums of the raw rows, text is
formatted by the helpers below. Each figure the messages show must equal the one rebuilt here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.commands import dispatch
from bot.domain.access import Actor
from bot.services.digest import build_digest, build_portfolio_digest
from bot.services.home import home_message
from bot.services.identity import resolve_actor
from bot.services.qbr import build_pack
from tests.fakes.portfolio_world import NOW, TARGETS, World, build_world

LABELS = {"service_level": "Service level", "aht": "Average handle time", "fcr": "First contact resolution",
          "csat": "CSAT", "nps": "NPS", "ces": "Customer effort score", "backlog": "Backlog"}
SCALE = {"service_level": 100.0, "fcr": 100.0, "csat": 100.0, "aht": 1.0, "ces": 1.0}
WEIGHTS = ("csat", "nps", "ces", "fcr", "aht")  # the digest's default scorecard, 20% each
HOME_METRICS = ("service_level", "aht", "fcr", "csat", "nps")
PACK_METRICS = ("service_level", "csat", "nps", "ces", "fcr", "aht")


# ---- this file's own arithmetic ------------------------------------------------------------

def local_span(tz: str, first: date, last_exclusive: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return (datetime.combine(first, time(0), zone).astimezone(UTC),
            datetime.combine(last_exclusive, time(0), zone).astimezone(UTC))


def value(world: World, pid: int, metric: str, span: tuple[datetime, datetime], site: int | None = None) -> float | None:
    rows = [r for r in world.rows if r.partner_id == pid and r.metric == metric and span[0] <= r.start < span[1]
            and (site is None or r.site_id == site)]
    if metric == "backlog":  # each site's newest snapshot, added
        newest: dict[int, tuple[datetime, float]] = {}
        for r in rows:
            if r.site_id not in newest or r.start > newest[r.site_id][0]:
                newest[r.site_id] = (r.start, r.num)
        return sum(n for _t, n in newest.values()) if newest else None
    den = sum(r.den for r in rows)
    if not den:
        return None
    if metric == "nps":
        return 100.0 * (sum(r.num for r in rows) - sum(r.aux or 0 for r in rows)) / den
    return SCALE[metric] * sum(r.num for r in rows) / den


def seconds_text(total: int) -> str:
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def shown(metric: str, v: float | None) -> str:
    if v is None:
        return "n/a"
    if metric in ("service_level", "fcr", "csat"):
        return f"{v:.1f}%"
    if metric == "aht":
        return seconds_text(round(v))
    if metric == "nps":
        return f"{v:+.0f}"
    if metric == "ces":
        return f"{v:.2f}"
    return f"{v:,.0f}"


def change(metric: str, d: float) -> str:
    if metric in ("service_level", "fcr", "csat"):
        body = f"{abs(d):.1f} pp"
    elif metric == "aht":
        body = seconds_text(round(abs(d)))
    elif metric == "ces":
        body = f"{abs(d):.2f}"
    else:
        body = f"{abs(d):.0f}"
    if body.strip("0.ps hm") == "":
        return f"±{body}"
    return ("+" if d > 0 else "-") + body


def met(metric: str, v: float) -> bool:
    comparator, target = TARGETS[metric]
    return v >= target if comparator == ">=" else v <= target


def status(metric: str, v: float | None) -> str:
    return "no data" if v is None else ("on target" if met(metric, v) else "breach")


def target_text(metric: str) -> str:
    comparator, target = TARGETS[metric]
    return f"{'≥' if comparator == '>=' else '≤'} {shown(metric, target)}"


def points(metric: str, v: float | None) -> float | None:
    if v is None:
        return None
    target = TARGETS[metric][1]
    if metric == "nps":
        v, target = v + 100, target + 100
    ratio = target / v if metric in ("aht", "ces") else v / target
    return 100 * max(0.0, min(1.2, ratio)) / 1.2


def score(values: dict[str, float | None]) -> float | None:
    got = [p for m in WEIGHTS if (p := points(m, values.get(m))) is not None]
    return round(sum(got) / len(got), 1) if got else None


def week_of(tz: str, monday: date) -> tuple[datetime, datetime]:
    return local_span(tz, monday, monday + timedelta(days=7))


LAST_WEEK = date(2026, 10, 26)  # Monday; NOW is Wednesday 4 November
WEEK_BEFORE = date(2026, 10, 19)


def open_at(world: World, pid: int, moment: datetime) -> list:
    return [e for e in world.episodes if e.partner_id == pid and e.opened_at < moment
            and (e.recovered_at is None or e.recovered_at >= moment)]


@pytest.fixture
async def world(db, core, clock) -> World:  # noqa: ANN001
    clock.set(NOW)
    return await build_world(db)


# ---- the digest ------------------------------------------------------------------------------

async def test_every_partner_digest_figure_is_rebuilt_from_the_raw_rows(db, world):
    for p in world.partners:
        week, prev = week_of(p.timezone, LAST_WEEK), week_of(p.timezone, WEEK_BEFORE)
        async with db.session() as s:
            _label, message = await build_digest(s, partner=p, now=NOW, chart=False)
        kpis, cards, changes = message.sections
        # KPI rows: value, target, status and week-over-week change, one per scorecard metric on voice
        expected = []
        for m in WEIGHTS:
            now_v, prev_v = value(world, p.id, m, week), value(world, p.id, m, prev)
            expected.append((f"{LABELS[m]} (voice)", shown(m, now_v), target_text(m), status(m, now_v),
                             change(m, now_v - prev_v)))
        assert [(k.label, k.value, k.target, k.status.text, k.delta) for k in kpis.kpis] == expected, p.name
        # the scorecard and its movement
        now_score = score({m: value(world, p.id, m, week) for m in WEIGHTS})
        prev_score = score({m: value(world, p.id, m, prev) for m in WEIGHTS})
        assert [(f.label, f.value) for f in cards.facts] == [
            (p.name, f"{now_score:.1f}/100 · {now_score - prev_score:+.1f} vs last week")]
        # the headline agrees with the rows and with the breaches open when the week ended
        below = sum(1 for e in expected if e[3] == "breach")
        still_open = len(open_at(world, p.id, week[1]))
        problems = ([f"{below} KPI{'s' if below != 1 else ''} below target"] if below else []) + (
            [f"{still_open} SLA breach{'es' if still_open != 1 else ''} still open at week end"] if still_open else [])
        assert message.summary.endswith(("; ".join(problems) + ".") if problems
                                        else "All KPIs with data on or near target; no SLA breach open at week end.")
        # one breach line per episode that moved in the week or was open at its end, in local time
        breach_lines = [b for b in changes.bullets if " breach " in b]
        relevant = [e for e in world.episodes if e.partner_id == p.id and e.opened_at < week[1]
                    and (e.recovered_at is None or e.recovered_at >= week[0])]
        assert len(breach_lines) == len(relevant), (p.name, breach_lines)
        for e in relevant:
            opened = e.opened_at.astimezone(ZoneInfo(p.timezone))
            if e.recovered_at is not None and e.recovered_at < week[1]:
                hours = int((e.recovered_at - e.opened_at).total_seconds() // 3600)
                assert any(f"recovered after {hours // 24}d {hours % 24}h" in b for b in breach_lines)
            else:
                assert any(f"{opened:%a %d %b %H:%M}, still open at week end" in b for b in breach_lines)
        assert "UTC" not in " ".join(changes.bullets)


async def test_portfolio_digest_ranks_all_30_with_scores_rebuilt_from_rows(db, world):
    async with db.session() as s:
        _label, message = await build_portfolio_digest(s, partners=world.partners, now=NOW)
    kpis, cards, changes = message.sections
    assert len(kpis.kpis) == 30 * len(WEIGHTS)
    rebuilt = {}
    for p in world.partners:
        week = week_of(p.timezone, LAST_WEEK)
        rebuilt[p.name] = score({m: value(world, p.id, m, week) for m in WEIGHTS})
        for m in WEIGHTS:
            [row] = [k for k in kpis.kpis if k.scope == p.name and k.metric == m]
            assert row.value == shown(m, value(world, p.id, m, week)), (p.name, m)
    order = sorted(rebuilt, key=lambda n: (-rebuilt[n], n))
    assert [f.label for f in cards.facts] == order
    for fact in cards.facts:
        assert fact.value.startswith(f"{rebuilt[fact.label]:.1f}/100 · rank ")
    open_total = sum(len(open_at(world, p.id, week_of(p.timezone, LAST_WEEK)[1])) for p in world.partners)
    assert f"{open_total} SLA breaches still open at week end" in message.summary
    assert sum(" breach " in b for b in changes.bullets) == sum(
        1 for p in world.partners for e in world.episodes if e.partner_id == p.id
        and e.opened_at < week_of(p.timezone, LAST_WEEK)[1]
        and (e.recovered_at is None or e.recovered_at >= week_of(p.timezone, LAST_WEEK)[0]))


# ---- the QBR pack ----------------------------------------------------------------------------

async def test_every_qbr_pack_figure_is_rebuilt_for_a_quarter_in_progress(db, world):
    for p in world.partners:
        zone = ZoneInfo(p.timezone)
        q_start, _q_end = local_span(p.timezone, date(2026, 10, 1), date(2027, 1, 1))
        async with db.session() as s:
            view = await build_pack(s, partner=p, quarter="2026-Q4", now=NOW)
        assert view.period == f"2026-Q4 to date: 1 Oct 2026 – {NOW.astimezone(zone):%-d %b %Y} ({p.timezone})"
        quarter = (q_start, NOW)
        assert [k[:4] for k in view.kpis] == [
            (f"{LABELS[m]} (voice)", shown(m, value(world, p.id, m, quarter)), target_text(m),
             status(m, value(world, p.id, m, quarter))) for m in PACK_METRICS]
        mine = [e for e in world.episodes if e.partner_id == p.id and e.opened_at < NOW
                and (e.recovered_at is None or e.recovered_at > q_start)]
        minutes = sum(int((min(e.recovered_at or NOW, NOW) - max(e.opened_at, q_start)).total_seconds()) for e in mine)
        minutes //= 60
        text = f"{len(mine)} breach{'es' if len(mine) != 1 else ''}, {minutes // 60}h {minutes % 60:02d}m in total"
        still = sum(1 for e in mine if e.recovered_at is None)
        if still:
            text += f" ({still} still open, counted up to {NOW.astimezone(zone):%-d %b %H:%M})"
        assert view.breaches == text, p.name
        targets = [t for t in world.targets if t.partner_id == p.id]
        held = len({t.id for t in targets} - {e.target_id for e in mine})
        expected = f"{held} of {len(targets)} targets held all period ({round(100 * held / len(targets))}%)"
        if held < len(targets):
            expected += f"; {len(targets) - held} breached at least once"
        assert view.sla_compliance == expected, p.name


# ---- Home and kpi --------------------------------------------------------------------------

async def test_admin_home_figures_and_counts_are_rebuilt(core, world):
    admin = await resolve_actor(core, platform="console", platform_user_id="admin")
    message = await home_message(core, admin)
    headings = [s.heading for s in message.sections]
    kpis = message.sections[0]
    assert kpis.heading == "Portfolio — last week" and len(kpis.kpis) == 30 * len(HOME_METRICS)
    for p in world.partners:
        week = week_of(p.timezone, LAST_WEEK)
        got = {k.metric: (k.value, k.status.text) for k in kpis.kpis if k.scope == p.name}
        assert got == {m: (shown(m, value(world, p.id, m, week)), status(m, value(world, p.id, m, week)))
                       for m in HOME_METRICS}, p.name
    open_now = sum(1 for e in world.episodes if e.recovered_at is None)
    assert f"Open breaches ({open_now})" in headings
    [breaches] = [s for s in message.sections if s.heading == f"Open breaches ({open_now})"]
    if open_now > 20:
        assert breaches.bullets[-1].startswith(f"...and {open_now - 20} older open")
    else:
        assert len(breaches.bullets) == open_now
    assert f"Open escalations ({len(world.escalations)})" in headings


async def test_kpi_for_a_site_and_the_backlog_across_sites_are_rebuilt(core, world):
    admin = await resolve_actor(core, platform="console", platform_user_id="admin")
    for p in world.partners[:6]:
        week = week_of(p.timezone, LAST_WEEK)
        reply = await dispatch(core, text=f"kpi {p.slug} backlog last-week", actor=admin, platform="console")
        [row] = [k for s in reply.sections[:1] for k in s.kpis]
        assert row.value == shown("backlog", value(world, p.id, "backlog", week)), p.name
        snapshots = len(world.sites[p.id])
        assert row.note.endswith(f"over {snapshots} snapshots")
        site_id, site_name = world.sites[p.id][0]
        one = await dispatch(core, text=f"kpi {p.slug} sl {site_name.lower()} last-week", actor=admin,
                             platform="console")
        [row] = [k for s in one.sections for k in s.kpis]
        assert row.value == shown("service_level", value(world, p.id, "service_level", week, site=site_id))


def test_the_world_holds_what_the_suite_claims():
    """Sanity of the generated world: DST inside the compared weeks, several sites, both kinds of episodes."""
    assert ZoneInfo("Europe/Warsaw").utcoffset(datetime(2026, 10, 24)) != ZoneInfo("Europe/Warsaw").utcoffset(
        datetime(2026, 10, 26))
    start, end = week_of("America/New_York", LAST_WEEK)
    assert end - start == timedelta(hours=169)  # 1 Nov: an hour longer
    assert Actor  # imported for type checkers of the fixtures above
