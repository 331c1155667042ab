"""The delivery outbox table: every outgoing chat message is a row before it is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class OutboxStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # an operator-visible retry state (kept for `outbox retry`)
    DEAD = "dead"


class OutboxItem(SQLModel, table=True):
    """One message to deliver: where, what (neutral Message JSON), and how it went."""

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_workspace", "platform", "workspace", "status"),
                      # a destination's pending rows: what a claim checks for every row it looks at
                      Index("ix_outbox_destination", "platform", "destination", "status"))

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    # channel id / conversation key, or "user:<platform user id>" for a direct message
    destination: str = Field(max_length=256)
    # the workspace (Slack team id) the destination belongs to; "" for a single-workspace deployment
    workspace: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    key: str = Field(max_length=400, unique=True)  # idempotency key
    status: str = Field(default=OutboxStatus.PENDING, max_length=8)
    attempts: int = 0
    next_attempt_at: datetime = utc_column()
    # lease: a worker that claimed the row owns it until then (crash -> lease lapses -> retry)
    claimed_until: datetime | None = utc_column(nullable=True)
    # who holds the claim (one token per delivery batch): a row is finished only by its holder
    claim_token: str | None = Field(default=None, max_length=36)
    # set just before the platform is called, cleared when the outcome is recorded: a row
    # reclaimed with it set may already have reached the platform (its sender died mid-send)
    sending_since: datetime | None = utc_column(nullable=True)
    last_error: str = Field(default="", max_length=1000)
    ref: str | None = Field(default=None, max_length=256)  # platform message ref once sent
    thread_of: str | None = Field(default=None, max_length=400)  # key of the item to thread under
    update_of: str | None = Field(default=None, max_length=400)  # key of the item to edit in place
    created_at: datetime = utc_column()
    # the delivery horizon counts from here (enqueue, or an operator's retry)
    horizon_start: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True)


class DestinationHold(SQLModel, table=True):
    """Per destination state shared by every replica: a platform hold and the pace.

    ``until``: the platform told us to leave the destination alone until then (Slack 429
    Retry-After); every row for it waits, including rows enqueued after the 429 arrived, so
    nothing jumps the queue into a channel that is rate limited. ``next_send_at``: the pace
    (one message per LIAISON_SLACK_PACE_SECONDS), kept here so N replicas together keep it.
    """

    __tablename__ = "destination_hold"

    platform: str = Field(max_length=16, primary_key=True)
    destination: str = Field(max_length=256, primary_key=True)
    until: datetime = utc_column()
    next_send_at: datetime | None = utc_column(nullable=True)
