"""Sync a validated LiaisonConfig into the database, idempotently, in one transaction.

The result is a Plan of readable items (created / changed / removed / deactivated).
A dry run computes the plan with the very same code and rolls the transaction back.
Rows absent from the file are deleted, unless other rows still reference them (history such
as measurements or breaches): then partners, targets and users are deactivated and sites kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config.schema import ClientProfile, LiaisonConfig, PartnerConfig, TargetConfig
from bot.domain.wording import plural
from bot.store.db import Database
from bot.store.measurement_days import rebuild_partner
from bot.store.models import Partner, Route, Site, Target, User
from bot.store.policy import PartnerPolicy
from bot.store.schema import metadata

CREATE, CHANGE, REMOVE, DEACTIVATE, KEEP = "create", "change", "remove", "deactivate", "keep"
_MARKS = {CREATE: "+", CHANGE: "~", REMOVE: "-", DEACTIVATE: "-", KEEP: "="}


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One thing apply does (or, for ``keep``, deliberately leaves) to one row."""

    action: str  # create | change | remove | deactivate | keep
    kind: str  # partner | site | target | user | route | policy
    name: str
    details: tuple[str, ...] = ()

    def render(self) -> str:
        verb = {DEACTIVATE: " (deactivated, history kept)", KEEP: " (kept)"}.get(self.action, "")
        head = f"{_MARKS[self.action]} {self.kind} {self.name}{verb}"
        return "\n".join([head, *(f"    {d}" for d in self.details)])


@dataclass(slots=True)
class Plan:
    """Everything one apply did (or, dry run, would do)."""

    items: list[PlanItem] = field(default_factory=list)
    dry_run: bool = False

    def add(self, action: str, kind: str, name: str, details: list[str] | tuple[str, ...] = ()) -> None:
        self.items.append(PlanItem(action, kind, name, tuple(details)))

    def of(self, action: str) -> list[PlanItem]:
        return [i for i in self.items if i.action == action]

    @property
    def has_changes(self) -> bool:
        return any(i.action != KEEP for i in self.items)

    def summary(self) -> str:
        removed = len(self.of(REMOVE)) + len(self.of(DEACTIVATE))
        return f"{len(self.of(CREATE))} created, {len(self.of(CHANGE))} changed, {removed} removed"

    def render(self) -> str:
        """Return the plan as terminal text, one line per item, then the counts."""
        if not self.has_changes:
            lines = ["No changes: the database already matches the file."]
        else:
            lines = [i.render() for i in self.items if i.action != KEEP]
            prefix = "Dry run, nothing written: would apply " if self.dry_run else "Applied: "
            lines.append(prefix + self.summary() + ".")
        lines += [i.render() for i in self.of(KEEP)]
        return "\n".join(lines)


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


async def apply_config(db: Database, config: LiaisonConfig, *, dry_run: bool = False) -> Plan:
    """Make the database match ``config``; return the plan. Dry run: same plan, nothing written."""
    plan = Plan(dry_run=dry_run)
    try:
        async with db.transaction() as session:
            await _Sync(session, config, plan).run()
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return plan


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None:
        return "none"
    return repr(value) if isinstance(value, str) else str(value)


def _diff(row: Any, values: dict[str, Any]) -> list[str]:
    """Set ``values`` on ``row``; return "field: old -> new" for each that differs."""
    changes = []
    for name, new in values.items():
        old = getattr(row, name)
        if old != new:
            changes.append(f"{name}: {_show(old)} -> {_show(new)}")
            setattr(row, name, new)
    return changes


def _doc_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """List leaf differences between two JSON documents as ``path: old -> new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += _doc_diff(old.get(key), new.get(key), sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in _doc_diff(a, b, f"{path}[{i}]")]
    if old != new:
        return [f"{path or 'document'}: {_show(old)} -> {_show(new)}"]
    return []


def _local_midnight(day: date | None, tz: str) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def _references(session: AsyncSession, table: str, row_id: int) -> int:
    """Count rows in any table whose foreign key points at ``table``.id == row_id."""
    total = 0
    for other in metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table.name == table and fk.column.name == "id":
                result = await session.exec(
                    select(func.count()).select_from(other).where(fk.parent == row_id))
                total += int(result.one())
    return total


class _Sync:
    """One apply: compares each section with its rows, writes the differences, records the plan."""

    def __init__(self, session: AsyncSession, config: LiaisonConfig, plan: Plan) -> None:
        self.s = session
        self.config = config
        self.plan = plan
        self.partner_ids: dict[str, int] = {}
        self.slug_by_id: dict[int, str] = {}
        self.stale_sites: list[Site] = []

    async def _all(self, model: type) -> list[Any]:
        return list((await self.s.exec(select(model))).all())

    async def run(self) -> None:
        existing = await self._all(Partner)
        self.slug_by_id = {p.id: p.slug for p in existing}
        by_slug = {p.slug: p for p in existing}
        for pc in self.config.partners:
            await self._partner(pc, by_slug.get(pc.slug))
        for pc in self.config.partners:
            await self._sites(pc)
        for pc in self.config.partners:
            await self._targets(pc)
        await self._routes()
        await self._policies()
        await self._users()
        await self._remove_partners([p for p in existing if p.slug not in self.partner_ids])

    def _scope(self, partner_id: int | None) -> str:
        return self.slug_by_id.get(partner_id, "?") if partner_id else "client"

    async def _partner(self, pc: PartnerConfig, row: Partner | None) -> None:
        values = {"name": pc.name, "timezone": pc.timezone, "locale": pc.locale, "active": pc.active}
        if row is None:
            row = Partner(slug=pc.slug, **values)
            self.s.add(row)
            await self.s.flush()
            self.plan.add(CREATE, "partner", f"{pc.slug} ({pc.name})")
        elif changes := _diff(row, values):
            self.plan.add(CHANGE, "partner", pc.slug, changes)
            if any(c.startswith("timezone:") for c in changes):
                # daily sums are per local day: a new timezone moves every day's edges
                await self.s.flush()
                await rebuild_partner(self.s, row.id)
        self.partner_ids[pc.slug] = row.id
        self.slug_by_id[row.id] = pc.slug

    async def _sites(self, pc: PartnerConfig) -> None:
        pid = self.partner_ids[pc.slug]
        rows = {r.key: r for r in (await self.s.exec(select(Site).where(Site.partner_id == pid)))}
        for sc in pc.sites:
            values = {"name": sc.name, "country": sc.country, "languages": list(sc.languages)}
            name = f"{pc.slug}/{sc.key}"
            row = rows.pop(sc.key, None)
            if row is None:
                self.s.add(Site(partner_id=pid, key=sc.key, **values))
                self.plan.add(CREATE, "site", f"{name} ({sc.name}, {sc.country})")
            elif changes := _diff(row, values):
                self.plan.add(CHANGE, "site", name, changes)
        await self.s.flush()
        self.stale_sites += rows.values()

    async def _targets(self, pc: PartnerConfig) -> None:
        pid = self.partner_ids[pc.slug]
        sites = {r.key: r.id for r in (await self.s.exec(select(Site).where(Site.partner_id == pid)))}
        rows = {r.key: r for r in (await self.s.exec(select(Target).where(Target.partner_id == pid)))}
        for tc in pc.targets:
            values = self._target_values(tc, sites, pc.timezone)
            row = rows.pop(tc.key, None)
            name = f"{pc.slug}/{tc.key}"
            if row is None:
                self.s.add(Target(partner_id=pid, key=tc.key, **values))
                self.plan.add(CREATE, "target", f"{name} ({_describe(tc)})")
            elif changes := _diff(row, values):
                keys = {v: k for k, v in sites.items()}
                changes = [_site_names(c, keys) for c in changes]
                self.plan.add(CHANGE, "target", name, changes)
        await self.s.flush()
        await self._remove_targets(pc.slug, list(rows.values()))

    @staticmethod
    def _target_values(tc: TargetConfig, sites: dict[str, int], tz: str) -> dict[str, Any]:
        return {
            "site_id": sites[tc.site] if tc.site else None,
            "channel": tc.channel.value if tc.channel else None,
            "metric": tc.metric,
            "comparator": tc.comparator,
            "target_value": float(tc.target),
            "warning_value": float(tc.warning) if tc.warning is not None else None,
            "window": tc.window,
            "min_volume": float(tc.min_volume),
            "critical_margin": float(tc.critical_margin) if tc.critical_margin is not None else None,
            "effective_from": _local_midnight(tc.effective_from, tz),
            "effective_to": _local_midnight(tc.effective_to, tz),
            "active": True,
        }

    async def _remove_targets(self, slug: str, rows: list[Target]) -> None:
        for row in rows:
            name = f"{slug}/{row.key}"
            if await _references(self.s, "target", row.id):
                if row.active:
                    row.active = False
                    self.plan.add(DEACTIVATE, "target", name, ["still referenced by alert history"])
            else:
                await self.s.delete(row)
                self.plan.add(REMOVE, "target", name)
        await self.s.flush()

    async def _routes(self) -> None:
        wanted: dict[tuple[int | None, str, str, str], None] = {}
        client = self.config.client.routes.model_dump()
        sections: list[tuple[int | None, dict[str, Any]]] = [(None, client)]
        sections += [(self.partner_ids[p.slug], p.routes.model_dump()) for p in self.config.partners]
        for pid, routes in sections:
            for purpose, dests in routes.items():
                for platform in ("slack", "teams"):
                    for dest in dests[platform]:
                        wanted[(pid, purpose, platform, dest)] = None
        for row in await self._all(Route):
            key = (row.partner_id, row.purpose, row.platform, row.destination)
            if key in wanted:
                del wanted[key]
            else:
                await self.s.delete(row)
                self.plan.add(REMOVE, "route", self._route_name(key))
        for key in wanted:
            pid, purpose, platform, dest = key
            self.s.add(Route(partner_id=pid, purpose=purpose, platform=platform, destination=dest))
            self.plan.add(CREATE, "route", self._route_name(key))
        await self.s.flush()

    def _route_name(self, key: tuple[int | None, str, str, str]) -> str:
        pid, purpose, platform, dest = key
        return f"{self._scope(pid)} {purpose} -> {platform} {dest}"

    async def _policies(self) -> None:
        wanted: dict[tuple[int, str], dict[str, Any]] = {}
        client = self.config.client
        profile = ClientProfile(name=client.name, timezone=client.timezone)
        wanted[(0, "client")] = profile.model_dump(mode="json")
        wanted[(0, "digest")] = client.digest.model_dump(mode="json")
        for pc in self.config.partners:
            pid = self.partner_ids[pc.slug]
            if pc.escalation is not None:
                wanted[(pid, "escalation")] = pc.escalation.model_dump(mode="json")
            wanted[(pid, "qbr")] = pc.qbr.model_dump(mode="json")
            wanted[(pid, "digest")] = pc.digest.model_dump(mode="json")
            wanted[(pid, "pulse")] = pc.pulse.model_dump(mode="json")
            wanted[(pid, "staffing")] = pc.staffing.model_dump(mode="json")
            wanted[(pid, "channels")] = {"channels": [c.value for c in pc.channels]}  # announcement audiences
        for row in await self._all(PartnerPolicy):
            key = (row.scope_partner, row.kind)
            name = f"{self._scope(row.partner_id)} {row.kind}"
            doc = wanted.pop(key, None)
            if doc is None:
                await self.s.delete(row)
                self.plan.add(REMOVE, "policy", name)
            elif row.document != doc:
                self.plan.add(CHANGE, "policy", name, _doc_diff(row.document, doc))
                row.document = doc
        for (scope, kind), doc in wanted.items():
            pid = scope or None
            self.s.add(PartnerPolicy(partner_id=pid, scope_partner=scope, kind=kind, document=doc))
            self.plan.add(CREATE, "policy", f"{self._scope(pid)} {kind}")
        await self.s.flush()

    async def _users(self) -> None:
        rows = {(r.platform, r.platform_user_id): r for r in await self._all(User)}
        for uc in self.config.users:
            values = {
                "name": uc.name, "email": uc.email, "role": uc.role.value,
                "partner_id": self.partner_ids[uc.partner] if uc.partner else None,
                "capabilities": list(uc.capabilities), "handle": uc.id, "active": True,
            }
            for platform, ident in uc.identities.pairs():
                name = f"{uc.id} ({platform} {ident})"
                row = rows.pop((platform, ident), None)
                if row is None:
                    self.s.add(User(platform=platform, platform_user_id=ident, **values))
                    who = f", {uc.partner}" if uc.partner else ""
                    self.plan.add(CREATE, "user", f"{name} {uc.role.value}{who}")
                elif changes := _diff(row, values):
                    self.plan.add(CHANGE, "user", name, changes)
        await self.s.flush()
        for row in rows.values():
            name = f"{row.handle or row.name} ({row.platform} {row.platform_user_id})"
            if await _references(self.s, "user", row.id):
                if row.active:
                    row.active = False
                    self.plan.add(DEACTIVATE, "user", name, ["still referenced by history; access denied"])
            else:
                await self.s.delete(row)
                self.plan.add(REMOVE, "user", name)
        await self.s.flush()

    async def _remove_partners(self, gone: list[Partner]) -> None:
        for row in sorted(self.stale_sites, key=lambda s: (s.partner_id, s.key)):
            name = f"{self._scope(row.partner_id)}/{row.key}"
            refs = await _references(self.s, "site", row.id)
            if refs:
                self.plan.add(KEEP, "site", name, [f"removed from the file but {plural(refs, 'row')} {'references' if refs == 1 else 'reference'} it"])
            else:
                await self.s.delete(row)
                self.plan.add(REMOVE, "site", name)
        await self.s.flush()
        for row in gone:
            # targets first: a site-scoped target would otherwise pin its site
            await self._remove_targets(
                row.slug, list(await self.s.exec(select(Target).where(Target.partner_id == row.id))))
            for site in (await self.s.exec(select(Site).where(Site.partner_id == row.id))):
                if await _references(self.s, "site", site.id):
                    self.plan.add(KEEP, "site", f"{row.slug}/{site.key}", ["its partner left the file; history kept"])
                else:
                    await self.s.delete(site)
                    self.plan.add(REMOVE, "site", f"{row.slug}/{site.key}")
            await self.s.flush()
            if await _references(self.s, "partner", row.id):
                if row.active:
                    row.active = False
                    self.plan.add(DEACTIVATE, "partner", row.slug, ["measurements or other history reference it"])
            else:
                await self.s.delete(row)
                self.plan.add(REMOVE, "partner", row.slug)
        await self.s.flush()


def _site_names(change: str, keys: dict[int, str]) -> str:
    """Show a target's site change by site key instead of row id."""
    if not change.startswith("site_id: "):
        return change
    old, new = change.removeprefix("site_id: ").split(" -> ")
    show = {str(i): repr(k) for i, k in keys.items()} | {"none": "none"}
    return f"site: {show.get(old, 'removed site')} -> {show.get(new, new)}"


def _describe(tc: TargetConfig) -> str:
    scope = "".join(f" {p}" for p in (tc.site, tc.channel.value if tc.channel else None) if p)
    return f"{tc.metric} {tc.comparator} {tc.target:g} per {tc.window}{scope}"
