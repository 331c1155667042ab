"""Escalation tables: the escalation itself and its audit trail of events.

The ESC-123 number is the table's primary key: a database sequence (PostgreSQL serial,
SQLite AUTOINCREMENT), so concurrent filings never share a number on either backend and
numbers are never reused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.escalation import State, format_ref
from bot.store.models import utc_column


class Escalation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_escalation_partner_status", "partner_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    severity: str = Field(max_length=2)  # P1..P4
    category: str = Field(max_length=32)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    link: str = Field(default="", max_length=500)
    status: str = Field(default=State.OPEN, max_length=16)
    level: int = 0  # 0-based index into the policy's levels
    max_level: int = 0  # highest level reached (a measure)
    filed_by: int | None = Field(default=None, foreign_key="user.id")
    filer_name: str = Field(default="", max_length=200)
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    assignee_name: str = Field(default="", max_length=200)
    breach_episode_id: int | None = None  # the SLA breach it was opened from
    opened_at: datetime = utc_column()
    level_since: datetime = utc_column()  # when the current level was reached
    acknowledged_at: datetime | None = utc_column(nullable=True)
    acknowledged_by: int | None = Field(default=None, foreign_key="user.id")
    first_acknowledged_at: datetime | None = utc_column(nullable=True)  # survives reopen (measure)
    resolved_at: datetime | None = utc_column(nullable=True)
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    first_resolved_at: datetime | None = utc_column(nullable=True)
    resolution_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    closed_at: datetime | None = utc_column(nullable=True)
    last_notified_at: datetime | None = utc_column(nullable=True)
    escalate_at: datetime | None = utc_column(nullable=True)
    repeat_at: datetime | None = utc_column(nullable=True)
    close_at: datetime | None = utc_column(nullable=True)
    next_action_at: datetime | None = utc_column(nullable=True, index=True)
    notify_count: int = 0
    notified: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # last told
    version: int = 0  # bumped on every change; keys the card's in-place updates
    card_key: str = Field(default="", max_length=120)  # outbox key of the channel post

    @property
    def ref(self) -> str:
        return format_ref(self.id or 0)

    @property
    def state(self) -> State:
        return State(self.status)


class EscalationEvent(SQLModel, table=True):
    """One change to an escalation: who, when, from which state to which, at what level, why."""

    __tablename__ = "escalation_event"

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    at: datetime = utc_column()
    actor_id: int | None = Field(default=None, foreign_key="user.id")  # None: Liaison's timer
    actor_name: str = Field(default="", max_length=200)
    kind: str = Field(max_length=32)  # bot.domain.escalation.Move value
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    level: int = 0
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


async def get_escalation(session: AsyncSession, escalation_id: int, *, lock: bool = False) -> Escalation | None:
    """Return one escalation; ``lock`` takes a row lock on PostgreSQL (SQLite locks the file on write)."""
    from bot.store.types import valid_id

    if not valid_id(escalation_id):
        return None
    stmt = select(Escalation).where(Escalation.id == escalation_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.exec(stmt)).first()


async def list_escalations(session: AsyncSession, *, partner_ids: list[int] | None = None,
                           states: list[str] | None = None, limit: int = 50) -> list[Escalation]:
    """Return escalations newest first, optionally narrowed to partners and states."""
    stmt = select(Escalation).order_by(Escalation.id.desc()).limit(limit)
    if partner_ids is not None:
        stmt = stmt.where(Escalation.partner_id.in_(partner_ids))
    if states is not None:
        stmt = stmt.where(Escalation.status.in_(states))
    return list((await session.exec(stmt)).all())


async def events_of(session: AsyncSession, escalation_id: int) -> list[EscalationEvent]:
    """Return the audit trail of one escalation, oldest first."""
    stmt = (select(EscalationEvent).where(EscalationEvent.escalation_id == escalation_id)
            .order_by(EscalationEvent.at, EscalationEvent.id))
    return list((await session.exec(stmt)).all())


async def due_ids(session: AsyncSession, *, now: datetime, limit: int = 500) -> list[int]:
    """Return ids of escalations whose next timer action is due."""
    stmt = (select(Escalation.id).where(Escalation.next_action_at.is_not(None), Escalation.next_action_at <= now)
            .order_by(Escalation.next_action_at).limit(limit))
    return [i for i in (await session.exec(stmt)).all() if i is not None]
