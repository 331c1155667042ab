"""Forecasts (with their versions), schedules and pre-shortfall warnings.

``scope_site`` mirrors ``site_id`` with 0 for partner-level rows (unique keys and NULLs), as in
``Measurement``. A forecast row holds the newest values; every ingest that changed forecasts is
a ``ForecastVersion`` and each value it replaced a ``ForecastChange`` (old and new), so "what
changed since the last forecast" is a query, not a guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utc_column


class ForecastVersion(SQLModel, table=True):
    """One ingest that changed a partner's forecast."""

    __tablename__ = "forecast_version"
    __table_args__ = (UniqueConstraint("partner_id", "number", name="uq_forecast_version_number"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    number: int  # 1, 2, ... per partner
    source: str = Field(default="", max_length=64)
    created: int = 0  # intervals new in this version
    changed: int = 0  # intervals whose values it replaced
    first_start: datetime = utc_column()
    last_start: datetime = utc_column()
    received_at: datetime = utc_column()


class ForecastInterval(SQLModel, table=True):
    __tablename__ = "forecast_interval"
    __table_args__ = (
        UniqueConstraint("partner_id", "scope_site", "channel", "period_start", name="uq_forecast_key"),
        Index("ix_forecast_lookup", "partner_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    scope_site: int = 0
    channel: str = Field(max_length=16)
    period_start: datetime = utc_column()
    period_end: datetime = utc_column()
    contacts: float
    aht_seconds: float
    version_id: int = Field(foreign_key="forecast_version.id")


class ForecastChange(SQLModel, table=True):
    """A forecast value a newer version replaced."""

    __tablename__ = "forecast_change"
    __table_args__ = (Index("ix_forecast_change_version", "version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="forecast_version.id")
    scope_site: int = 0
    channel: str = Field(max_length=16)
    period_start: datetime = utc_column()
    old_contacts: float
    new_contacts: float
    old_aht_seconds: float
    new_aht_seconds: float


class ScheduleInterval(SQLModel, table=True):
    """Agents a partner's WFM export schedules for one site/channel/interval."""

    __tablename__ = "schedule_interval"
    __table_args__ = (
        UniqueConstraint("partner_id", "scope_site", "channel", "period_start", name="uq_schedule_key"),
        Index("ix_schedule_lookup", "partner_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    scope_site: int = 0
    channel: str = Field(max_length=16)
    period_start: datetime = utc_column()
    period_end: datetime = utc_column()
    agents: float  # scheduled_agents, or scheduled_seconds / interval seconds
    source: str = Field(default="", max_length=64)
    ingested_at: datetime = utc_column()


class WarningStatus:
    OPEN = "open"
    CLOSED = "closed"


class StaffingWarning(SQLModel, table=True):
    """One pre-shortfall warning per partner and local day: posted once, then edited in place."""

    __tablename__ = "staffing_warning"
    __table_args__ = (UniqueConstraint("partner_id", "day", name="uq_staffing_warning_day"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    day: str = Field(max_length=10)  # partner-local YYYY-MM-DD
    status: str = Field(default=WarningStatus.OPEN, max_length=8)
    alert_key: str = Field(max_length=128)
    fingerprint: str = Field(max_length=64)  # what was last said, so a rerun says nothing
    spans: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    revisions: int = 0  # follow-ups posted in the thread
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    closed_at: datetime | None = utc_column(nullable=True)
