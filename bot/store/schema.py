"""Import every table module so ``SQLModel.metadata`` holds the whole schema.

Alembic's env and the test fixtures import this module; add new table modules here.
"""

from sqlmodel import SQLModel

import bot.store.alerts  # noqa: F401
import bot.store.announcements  # noqa: F401
import bot.store.conversations  # noqa: F401
import bot.store.escalations  # noqa: F401
import bot.store.feedback  # noqa: F401
import bot.store.inbound_events  # noqa: F401
import bot.store.measurement_days  # noqa: F401
import bot.store.outbox  # noqa: F401
import bot.store.policy  # noqa: F401
import bot.store.qbr  # noqa: F401
import bot.store.reports  # noqa: F401
import bot.store.staffing  # noqa: F401
import bot.store.workspaces  # noqa: F401
from bot.store import models  # noqa: F401

metadata = SQLModel.metadata
