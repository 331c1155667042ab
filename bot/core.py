"""The core's dependencies in one place: database, clock, settings. Adapters hold one Core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.ports import Clock, OffsetClock, SystemClock
from bot.settings import Settings
from bot.store.db import Database


@dataclass
class Core:
    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    # chat gateways by platform ("slack", "teams"), set by `liaison serve`; jobs deliver through them
    gateways: dict = field(default_factory=dict)
    # set on SIGTERM: the delivery worker claims nothing more and finishes only the send in flight
    draining: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, clock: Clock | None = None) -> Core:
        settings = settings or Settings()
        if clock is None:
            offset = settings.clock_offset_seconds
            clock = OffsetClock(timedelta(seconds=offset)) if offset else SystemClock()
        return cls(db=Database(settings.database_url), settings=settings, clock=clock)
