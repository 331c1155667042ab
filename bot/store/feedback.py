"""Partner feedback pulses: a survey round per partner and period, who was asked, the answers.

Anonymity is kept by construction: an anonymous ``FeedbackResponse`` stores no author, and
``PulseInvite.answered`` (which drives the single reminder) carries no link to the answer
and no answer time. Views and exports show averages only for groups of at least
``bot.domain.pulse.MIN_GROUP`` answers, so one person's ratings cannot be read off a mean.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class Pulse(SQLModel, table=True):
    """One survey round for one partner (e.g. acme, 2026-11)."""

    __table_args__ = (UniqueConstraint("partner_id", "period", name="uq_pulse_partner_period"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    period: str = Field(max_length=16)  # 2026-11 (monthly) or 2026-Q4 (quarterly)
    opened_at: datetime = utc_column()
    reminder_due_at: datetime = utc_column()
    reminder_sent_at: datetime | None = utc_column(nullable=True)
    anonymous_allowed: bool = True


class PulseInvite(SQLModel, table=True):
    """A person asked in a pulse round; ``answered`` only says whether to remind them."""

    __table_args__ = (UniqueConstraint("pulse_id", "handle", name="uq_pulse_invite"),)

    id: int | None = Field(default=None, primary_key=True)
    pulse_id: int = Field(foreign_key="pulse.id", index=True)
    handle: str = Field(max_length=64)  # the person (users[].id), whatever platforms they use
    answered: bool = False


class FeedbackResponse(SQLModel, table=True):
    """One answer: to a pulse round, or given any time with ``feedback`` (pulse_id None)."""

    __table_args__ = (Index("ix_feedback_partner_time", "partner_id", "submitted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    pulse_id: int | None = Field(default=None, foreign_key="pulse.id")
    submitted_at: datetime = utc_column()
    anonymous: bool = False
    author_handle: str | None = Field(default=None, max_length=64)  # None when anonymous
    author_name: str | None = Field(default=None, max_length=200)  # None when anonymous
    # 1-5 ratings; None when skipped
    communication: int | None = None
    clarity: int | None = None  # clarity of goals
    support: int | None = None  # support from the client
    tooling: int | None = None  # tooling and knowledge base
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
