"""Config as code: liaison.yaml's schema, its loader, and (in bot.services.config_apply) its sync."""

from bot.config.loader import ConfigError, ConfigIssue, load_config, parse_config
from bot.config.schema import (
    DigestSchedule,
    EscalationLevel,
    EscalationPolicy,
    LiaisonConfig,
    PulseSchedule,
    QbrPlan,
)

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "DigestSchedule",
    "EscalationLevel",
    "EscalationPolicy",
    "LiaisonConfig",
    "PulseSchedule",
    "QbrPlan",
    "load_config",
    "parse_config",
]
