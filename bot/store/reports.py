"""Reverse reports (client -> partner feedback) and the nudges that keep client managers sending them.

The RR-12 reference is the primary key (a database sequence on both backends, never reused).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class ReverseReport(SQLModel, table=True):
    __table_args__ = (
        Index("ix_reverse_report_partner_time", "partner_id", "sent_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    author_id: int | None = Field(default=None, foreign_key="user.id")
    author_handle: str = Field(default="", max_length=64)
    author_name: str = Field(default="", max_length=200)
    kind: str = Field(max_length=24)  # lead_quality | customer_signal | qa_calibration | process_issue | praise
    rating: int | None = None  # 1-5
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    link: str = Field(default="", max_length=500)
    sent_at: datetime = utc_column()
    reminder_due_at: datetime = utc_column(index=True)  # 2 partner business days after sending
    reminder_sent_at: datetime | None = utc_column(nullable=True)
    acknowledged_at: datetime | None = utc_column(nullable=True)
    acknowledged_by: int | None = Field(default=None, foreign_key="user.id")
    acknowledged_name: str = Field(default="", max_length=200)
    card_key: str = Field(default="", max_length=120)  # outbox key of the partner-channel post

    @property
    def ref(self) -> str:
        return f"RR-{self.id}"


class ReportNudge(SQLModel, table=True):
    """A nudge sent to a client manager who sent a partner no reverse report for a while."""

    __table_args__ = (UniqueConstraint("handle", "partner_id", "sent_at", name="uq_report_nudge"),)

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=64, index=True)
    partner_id: int = Field(foreign_key="partner.id")
    sent_at: datetime = utc_column()
