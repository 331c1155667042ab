"""QBR meetings, their action items, and which reminders went out."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class Qbr(SQLModel, table=True):
    """One quarterly business review meeting with a partner."""

    __table_args__ = (UniqueConstraint("partner_id", "scheduled_at", name="uq_qbr_partner_time"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    scheduled_at: datetime = utc_column()
    source: str = Field(default="config", max_length=8)  # config | manual
    status: str = Field(default="scheduled", max_length=12)  # scheduled | held | cancelled
    reminders_sent: str = Field(default="", max_length=64)  # comma list of days_before sent, e.g. "14,7"
    pack_sent_at: datetime | None = utc_column(nullable=True)

    @property
    def sent_days(self) -> list[int]:
        return [int(d) for d in self.reminders_sent.split(",") if d]


class QbrActionItem(SQLModel, table=True):
    """Something agreed at a QBR: who does it by when."""

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    qbr_id: int | None = Field(default=None, foreign_key="qbr.id")
    title: str = Field(max_length=300)
    owner: str = Field(max_length=200)
    due_on: date
    status: str = Field(default="open", max_length=8)  # open | done
    reminded_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = utc_column()
