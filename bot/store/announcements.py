"""Announcements (product, procedure, CRM changes) sent to partner sites, their cards and per-site acknowledgements.

The AN-12 reference is the primary key (never reused). One AnnouncementPartner row per addressed
partner holds its card and its two reminder moments; one AnnouncementSite row per addressed site
holds that site's acknowledgement and training.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class Announcement(SQLModel, table=True):
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="user.id")
    author_handle: str = Field(default="", max_length=64)
    author_name: str = Field(default="", max_length=200)
    title: str = Field(max_length=150)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    category: str = Field(max_length=24)  # product_launch | procedure_change | crm_change | policy_compliance | other
    effective_at: datetime = utc_column()
    # {"kind": "all"|"partners"|"sites", "partners": [slug], "sites": ["acme/krakow"], "channels": ["voice"]}
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    link: str = Field(default="", max_length=500)
    ack_deadline: datetime | None = utc_column(nullable=True)  # None: no acknowledgement asked
    training_due: datetime | None = utc_column(nullable=True)  # None: no training asked
    sent_at: datetime = utc_column(index=True)
    revision: int = 0  # edits after sending
    edited_at: datetime | None = utc_column(nullable=True)
    missing_reported_at: datetime | None = utc_column(nullable=True)  # the author's missing-sites list
    copy_key: str = Field(default="", max_length=120)  # outbox key of the client's copy

    @property
    def ref(self) -> str:
        return f"AN-{self.id}"


class AnnouncementPartner(SQLModel, table=True):
    """One addressed partner: its card and its reminders (partner business hours)."""

    __tablename__ = "announcement_partner"
    __table_args__ = (UniqueConstraint("announcement_id", "partner_id", name="uq_announcement_partner"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    card_key: str = Field(default="", max_length=120)
    half_due_at: datetime | None = utc_column(nullable=True, index=True)
    half_sent_at: datetime | None = utc_column(nullable=True)
    deadline_due_at: datetime | None = utc_column(nullable=True, index=True)
    deadline_sent_at: datetime | None = utc_column(nullable=True)


class AnnouncementSite(SQLModel, table=True):
    """One addressed site (or, for a partner without sites, the partner): acknowledgement and training."""

    __tablename__ = "announcement_site"
    __table_args__ = (UniqueConstraint("announcement_id", "partner_id", "scope_site", name="uq_announcement_site"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    partner_id: int = Field(foreign_key="partner.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    scope_site: int = Field(default=0)  # site_id or 0, so the unique key holds
    site_key: str = Field(default="", max_length=64)
    site_name: str = Field(default="", max_length=200)
    acknowledged_at: datetime | None = utc_column(nullable=True)
    acknowledged_by: int | None = Field(default=None, foreign_key="user.id")
    acknowledged_name: str = Field(default="", max_length=200)
    trained_at: datetime | None = utc_column(nullable=True)
    agents_trained: int | None = None
    trained_by_name: str = Field(default="", max_length=200)
