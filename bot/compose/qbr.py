"""QBR messages and the Markdown pack (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.qbr import CHECKLIST
from bot.messages import Fact, Message, Section, Severity


@dataclass(frozen=True, slots=True)
class PackView:
    partner: str
    quarter: str
    kpis: tuple[tuple[str, str, str, str], ...]  # label, value, target, status
    sla_compliance: str  # e.g. "83% of KPI-weeks met target"
    breaches: str  # e.g. "3 breaches, 14h 20m in total"
    escalations: tuple[str, ...]
    feedback: tuple[str, ...]
    open_actions: tuple[str, ...]


def local_time(moment: datetime, tz: str) -> str:
    return f"{moment.astimezone(ZoneInfo(tz)):%a %d %b %Y %H:%M} ({tz})"


def pack_markdown(view: PackView) -> str:
    """Render the QBR pack as a Markdown document."""
    out = [f"# QBR pack · {view.partner} · {view.quarter}", "", "## KPI trends vs targets", "",
           "| KPI | Quarter | Target | Status |", "|---|---|---|---|"]
    out += [f"| {label} | {value} | {target} | {status} |" for label, value, target, status in view.kpis]
    out += ["", "## SLA", "", f"- Compliance: {view.sla_compliance}", f"- Breaches: {view.breaches}", "",
            "## Escalations", ""]
    out += [f"- {line}" for line in view.escalations or ("None this quarter.",)]
    out += ["", "## Feedback and reverse reports", ""]
    out += [f"- {line}" for line in view.feedback or ("None received this quarter.",)]
    out += ["", "## Open action items from the last QBR", ""]
    out += [f"- {line}" for line in view.open_actions or ("None open.",)]
    return "\n".join(out) + "\n"


def qbr_reminder(*, partner: str, tz: str, meeting: datetime, days_before: int, quarter: str,
                 pack: PackView | None, pack_path: str | None) -> Message:
    """Remind both sides of an upcoming QBR, with the checklist (and the pack summary at T-7)."""
    sections = [Section(heading="Preparation checklist", bullets=CHECKLIST)]
    if pack is not None:
        sections.append(Section(heading=f"QBR pack · {quarter}", facts=(
            Fact("SLA compliance", pack.sla_compliance), Fact("Breaches", pack.breaches),
            Fact("Open action items", str(len(pack.open_actions))),
        ), text=f"Full pack: {pack_path}" if pack_path else None))
    when = "tomorrow" if days_before == 1 else f"in {days_before} days"
    return Message(
        title=f"QBR with {partner} {when}",
        summary=f"{local_time(meeting, tz)}; reviewing {quarter}.",
        severity=Severity.INFO, sections=tuple(sections), ephemeral=False,
        thread_key=f"qbr:{partner}:{meeting:%Y%m%d}",
    )


def qbr_list(rows: Sequence[tuple[str, str, datetime, str]]) -> Message:
    """List upcoming QBRs: (partner name, tz, moment, source)."""
    if not rows:
        return Message(title="No upcoming QBRs", summary="Schedule one with `qbr schedule <partner> YYYY-MM-DD HH:MM`.")
    return Message(title="Upcoming QBRs", sections=(Section(facts=tuple(
        Fact(name, f"{local_time(at, tz)} · {source}") for name, tz, at, source in rows)),))


def action_reminder(*, partner: str, title: str, owner: str, due: str) -> Message:
    """Remind an action item's owner that it is due soon."""
    return Message(title=f"QBR action due {due}: {title}", summary=f"Owner {owner} · {partner}", ephemeral=False)
