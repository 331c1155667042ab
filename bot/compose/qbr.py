"""QBR messages and the Markdown pack (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.qbr import CHECKLIST
from bot.messages import Attachment, Fact, Message, Section, Severity


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
    period: str = ""  # e.g. "2026-Q4 to date: 1 Oct 2026 – 5 Dec 2026 (Europe/Warsaw)"
    # the features' parts, each under its heading (pulse, reverse reports, changes, staffing), with lines
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def sections(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The features' parts; one "none received" part when none of them had anything this quarter."""
        return self.parts or (((NO_PARTS[0], self.feedback),) if self.feedback else (NO_PARTS,))


NO_PARTS = ("Feedback and reverse reports", ("None received this quarter.",))


def local_time(moment: datetime, tz: str) -> str:
    return f"{moment.astimezone(ZoneInfo(tz)):%a %d %b %Y %H:%M} ({tz})"


def pack_markdown(view: PackView) -> str:
    """Render the QBR pack as a Markdown document."""
    out = [f"# QBR pack · {view.partner} · {view.quarter}", ""]
    if view.period:
        out += [f"Period reviewed: {view.period}", ""]
    out += ["## KPI trends vs targets", "",
           "| KPI | Quarter | Target | Status |", "|---|---|---|---|"]
    out += [f"| {label} | {value} | {target} | {status} |" for label, value, target, status in view.kpis]
    out += ["", "## SLA", "", f"- Compliance: {view.sla_compliance}", f"- Breaches: {view.breaches}", "",
            "## Escalations", ""]
    out += [f"- {line}" for line in view.escalations or ("None this quarter.",)]
    for heading, lines in view.sections():
        out += ["", f"## {heading}", ""]
        out += [f"- {line}" for line in lines]
    out += ["", "## Open action items from the last QBR", ""]
    out += [f"- {line}" for line in view.open_actions or ("None open.",)]
    return "\n".join(out) + "\n"


def pack_filename(view: PackView, slug: str) -> str:
    return f"qbr-pack-{slug}-{view.quarter}.md"


def pack_message(view: PackView) -> Message:
    """The whole pack as a chat message (what `qbr pack acme 2026-Q4` answers)."""
    return Message(title=f"QBR pack · {view.partner} · {view.quarter}",
                   summary=f"Period reviewed: {view.period}" if view.period else None, sections=(
        Section(heading="KPIs vs targets", facts=tuple(
            Fact(label, f"{value} (target {target}, {status})") for label, value, target, status in view.kpis)
            or (Fact("KPIs", "no data this quarter"),)),
        Section(heading="SLA", facts=(Fact("Compliance", view.sla_compliance), Fact("Breaches", view.breaches))),
        Section(heading="Escalations", bullets=view.escalations or ("None this quarter.",)),
        *(Section(heading=heading, bullets=lines) for heading, lines in view.sections()),
        Section(heading="Open action items", bullets=view.open_actions or ("None open.",)),
    ))


def qbr_reminder(*, partner: str, tz: str, meeting: datetime, days_before: int, quarter: str,
                 pack: PackView | None, pack_command: str | None, slug: str = "") -> Message:
    """Remind both sides of an upcoming QBR, with the checklist (and the pack at T-7, attached as Markdown)."""
    sections = [Section(heading="Preparation checklist", bullets=CHECKLIST)]
    attachments: tuple[Attachment, ...] = ()
    if pack is not None:
        name = pack_filename(pack, slug or partner.lower().replace(" ", "-"))
        attachments = (Attachment(name, pack_markdown(pack).encode(), title=f"QBR pack · {partner} · {quarter}"),)
        where = f"The full pack is attached as {name} where files can be attached"
        sections.append(Section(heading=f"QBR pack · {quarter}", facts=(
            *((Fact("Period reviewed", pack.period),) if pack.period else ()),
            Fact("SLA compliance", pack.sla_compliance), Fact("Breaches", pack.breaches),
            Fact("Escalations", "; ".join(pack.escalations) or "none this quarter"),
            *(Fact(heading, "; ".join(lines)) for heading, lines in pack.sections()),
            Fact("Open action items", str(len(pack.open_actions))),
        ), text=f"{where}; type `{pack_command}` to read it in chat." if pack_command else f"{where}."))
    when = "tomorrow" if days_before == 1 else f"in {days_before} days"
    return Message(
        title=f"QBR with {partner} {when}",
        summary=f"{local_time(meeting, tz)}; reviewing {quarter}.",
        severity=Severity.INFO, sections=tuple(sections), ephemeral=False, attachments=attachments,
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
