"""SLA breach episodes, per-target evaluation marks and pre-breach warnings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class EpisodeStatus:
    OPEN = "open"
    RECOVERED = "recovered"


class BreachEpisode(SQLModel, table=True):
    """One continuous breach of a target: opened at the first violating window, closed on recovery."""

    __tablename__ = "breach_episode"
    # At most one open episode per target, whoever evaluates: a replica that loses the race
    # rolls back instead of announcing a second breach.
    __table_args__ = (Index("uq_breach_open_target", "target_id", unique=True,
                            postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    status: str = Field(default=EpisodeStatus.OPEN, max_length=12, index=True)
    opened_at: datetime = utc_column()  # start of the first violating window
    last_violating_start: datetime = utc_column()  # start of the newest violating window
    last_violating_end: datetime = utc_column()
    recovered_at: datetime | None = utc_column(nullable=True)  # start of the first compliant window
    windows_breached: int = 1
    worst_value: float
    last_value: float
    critical: bool = False  # far past target: the client's channel got it too
    alert_key: str = Field(default="", max_length=128)  # outbox key of the original alert
    last_followup_at: datetime | None = utc_column(nullable=True)
    followups: int = 0
    acknowledged_by: str | None = Field(default=None, max_length=200)
    acknowledged_at: datetime | None = utc_column(nullable=True)
    muted_until: datetime | None = utc_column(nullable=True)
    muted_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = utc_column()


class EvaluationMark(SQLModel, table=True):
    """How far a target has been evaluated: the end of its newest judged window (UTC)."""

    __tablename__ = "evaluation_mark"

    target_id: int = Field(foreign_key="target.id", primary_key=True)
    evaluated_until: datetime = utc_column()
    updated_at: datetime = utc_column()


class PreBreachWarning(SQLModel, table=True):
    """One warning per target and running window projected to miss."""

    __tablename__ = "prebreach_warning"
    __table_args__ = (UniqueConstraint("target_id", "window_start", name="uq_prebreach_window"),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True)
    window_start: datetime = utc_column()
    projected_value: float
    created_at: datetime = utc_column()
