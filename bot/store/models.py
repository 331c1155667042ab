"""Foundation tables: partners, sites, users, routes, metric measurements and SLA targets.

Feature modules (alerts, outbox, escalations, ...) keep their tables in their own modules;
``bot.store.schema`` imports them all so metadata and migrations see one schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    """Return a Field stored as UTC (aware in Python, naive UTC in the database)."""
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Partner(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    locale: str = Field(default="en", max_length=16)
    active: bool = True


class Site(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("partner_id", "key", name="uq_site_partner_key"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    country: str = Field(default="", max_length=2)
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    """A chat identity and what it may do: role admin/client/partner, partner for partner users."""

    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_user_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)  # slack | teams | console
    platform_user_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)  # admin | client | partner
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    # extra named capabilities from config, e.g. ["data_protection"]
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # the config-local id (``users[].id`` in liaison.yaml) that escalation levels refer to
    handle: str = Field(default="", max_length=64, index=True)
    # False when removed from config but still referenced by history rows; deny access then
    active: bool = True


class Route(SQLModel, table=True):
    """Where a partner's (or, with no partner, the client's) messages of one purpose go."""

    __table_args__ = (
        UniqueConstraint("partner_id", "purpose", "platform", "destination", name="uq_route"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    purpose: str = Field(max_length=32)  # alerts | digests | escalations | reports | qbr
    platform: str = Field(max_length=16)  # slack | teams | console
    destination: str = Field(max_length=256)  # Slack channel id or Teams conversation key


class Measurement(SQLModel, table=True):
    """The parts of one metric for one partner/site/channel over one period.

    ``scope_site`` mirrors ``site_id`` with 0 for partner-level rows, because SQL unique
    constraints treat NULLs as distinct and the upsert key must include the site.
    """

    __table_args__ = (
        UniqueConstraint(
            "partner_id", "scope_site", "channel", "metric", "period_start",
            name="uq_measurement_key",
        ),
        Index("ix_measurement_lookup", "partner_id", "metric", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    scope_site: int = Field(default=0)
    channel: str = Field(max_length=16)
    metric: str = Field(max_length=32)
    period_start: datetime = utc_column()
    period_end: datetime = utc_column()
    num: float = 0.0
    den: float = 0.0
    aux: float | None = None
    source: str = Field(default="", max_length=64)
    ingested_at: datetime = utc_column()


class Target(SQLModel, table=True):
    """A contractual SLA: scope, metric, comparator and threshold over a window."""

    __table_args__ = (UniqueConstraint("partner_id", "key", name="uq_target_partner_key"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    key: str = Field(max_length=128)  # stable id from config, for idempotent apply
    site_id: int | None = Field(default=None, foreign_key="site.id")
    channel: str | None = Field(default=None, max_length=16)
    metric: str = Field(max_length=32)
    comparator: str = Field(max_length=2)  # ">=" or "<="
    target_value: float
    warning_value: float | None = None
    window: str = Field(max_length=8)  # hour | day | week | month
    min_volume: float = 0.0
    # how far past the target counts as critical (routes to the client's escalation channel)
    critical_margin: float | None = None
    effective_from: datetime | None = utc_column(nullable=True)
    effective_to: datetime | None = utc_column(nullable=True)
    active: bool = True
