"""Import every feature module that registers action/form handlers, commands or providers.

One visible place: adding a feature means adding its import here.
"""

import bot.services.announcements  # noqa: F401
import bot.services.breach_actions  # noqa: F401
import bot.services.dashboard_commands  # noqa: F401
import bot.services.escalation_handlers  # noqa: F401
import bot.services.feedback  # noqa: F401
import bot.services.kpi_commands  # noqa: F401
import bot.services.qbr_commands  # noqa: F401
import bot.services.reports  # noqa: F401
import bot.services.staffing_commands  # noqa: F401
import bot.services.staffing_reports  # noqa: F401
import bot.services.stale_conversations  # noqa: F401
