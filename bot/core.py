"""The core's dependencies in one place: database, clock, settings. Adapters hold one Core."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.ports import Clock, SystemClock
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
        return cls(db=Database(settings.database_url), settings=settings, clock=clock or SystemClock())
