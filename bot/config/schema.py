"""The shape of liaison.yaml as pydantic models; policy classes are shared with their engines.

Escalation, digest, QBR and pulse engines read their policy back from the database with
``bot.store.policy.load_policy(session, partner_id, kind, Model)`` and get these classes:
``EscalationPolicy`` (with ``EscalationLevel``), ``QbrPlan``, ``DigestSchedule``,
``PulseSchedule``. Times of day are local to the partner (or, client-level, the client).
Cross-references (sites, users, partners) are checked in ``bot.config.loader``.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from bot.domain import metrics
from bot.domain.access import Role
from bot.domain.channels import ContactChannel
from bot.domain.sla import default_comparator

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(value: Any) -> timedelta:
    """Parse "15m", "1h30m", "2d" (w/d/h/m/s) into a positive timedelta."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        match = _DURATION.match(text) if text else None
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 15m, 1h, 1h30m, 2d, 1w")
        result = timedelta(seconds=sum(int(n or 0) * s for n, (_, s) in zip(match.groups(), _UNITS, strict=True)))
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 15m, 1h, 2d")
    if result <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return result


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way config writes it: 1h30m, 2d."""
    seconds = int(value.total_seconds())
    out = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"


def _parse_time(value: Any) -> Any:
    # YAML 1.1 reads 9:30 as the base-60 integer 570; accept it as minutes past midnight.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str) and (match := re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError(f"{value!r} is not a time of day; write e.g. 09:00")
        return time(hour, minute)
    return value


def _format_time(value: time) -> str:
    return value.strftime("%H:%M")


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_weekday(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()[:3]
        if text in _DAYS and value.strip().lower() in (text, _full_day(text)):
            return text
    raise ValueError(f"{value!r} is not a weekday; write mon, tue, ... or monday, tuesday, ...")


def _full_day(short: str) -> str:
    return ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[_DAYS.index(short)]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/Warsaw") from None
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
TimeOfDay = Annotated[time, BeforeValidator(_parse_time), PlainSerializer(_format_time, return_type=str)]
Weekday = Annotated[str, BeforeValidator(_parse_weekday)]
Timezone = Annotated[str, BeforeValidator(_check_timezone)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Purpose(StrEnum):
    ALERTS = "alerts"
    DIGESTS = "digests"
    ESCALATIONS = "escalations"
    REPORTS = "reports"
    QBR = "qbr"
    ANNOUNCEMENTS = "announcements"


class RouteSet(_Model):
    """Destinations on each platform: Slack channel ids and Teams conversation keys."""

    # "C0123ABCD", or "T0ACME/C0123ABCD" naming the workspace (team id) the bot posts to it from
    slack: list[Annotated[str, Field(pattern=r"^(?:T[A-Z0-9]+/)?[CGD][A-Z0-9]+$")]] = []
    teams: list[Annotated[str, Field(min_length=1, max_length=256)]] = []

    def pairs(self) -> list[tuple[str, str]]:
        """Return (platform, destination) pairs."""
        return [("slack", d) for d in self.slack] + [("teams", d) for d in self.teams]


class PartnerRoutes(_Model):
    alerts: RouteSet = RouteSet()
    digests: RouteSet = RouteSet()
    escalations: RouteSet = RouteSet()
    reports: RouteSet = RouteSet()
    qbr: RouteSet = RouteSet()
    announcements: RouteSet = RouteSet()  # empty: announcements go to `reports`, else `alerts`


class ClientRoutes(_Model):
    """Client-side routes: portfolio digests, escalations, reverse reports, critical alerts."""

    alerts: RouteSet = RouteSet()
    digests: RouteSet = RouteSet()
    escalations: RouteSet = RouteSet()
    reports: RouteSet = RouteSet()
    qbr: RouteSet = RouteSet()
    announcements: RouteSet = RouteSet()  # empty: the copies go to `reports`


class SeverityWaits(_Model):
    """How long to wait for an acknowledgement per severity before the next level."""

    P1: Duration
    P2: Duration
    P3: Duration
    P4: Duration

    def for_severity(self, severity: str) -> timedelta:
        return getattr(self, Severity(severity).value)


class EscalationLevel(_Model):
    """One rung: who is told (user handles from ``users[].id``) and/or a channel, and how long to wait."""

    name: str = Field(min_length=1, max_length=100)
    users: list[str] = []
    channel: RouteSet | None = None
    wait: SeverityWaits
    repeat_every: Duration | None = None  # re-notify this level while unacknowledged

    @model_validator(mode="after")
    def _someone(self) -> EscalationLevel:
        if not self.users and not (self.channel and self.channel.pairs()):
            raise ValueError("a level needs users or a channel to notify")
        return self


class BusinessHours(_Model):
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    start: TimeOfDay = time(9, 0)
    end: TimeOfDay = time(17, 0)

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business_hours.end must be after start")
        return self

    def contains(self, local: datetime) -> bool:
        """Tell whether a partner-local moment falls in business hours (end exclusive)."""
        return _DAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class QuietHours(_Model):
    """No notifications between start and end (may wrap past midnight); P1 ignores them."""

    start: TimeOfDay
    end: TimeOfDay

    def contains(self, local: time) -> bool:
        """Tell whether a partner-local time of day is quiet (start inclusive, end exclusive)."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps past midnight


class EscalationPolicy(_Model):
    """Ordered levels, waits per severity, business and quiet hours (partner timezone)."""

    levels: list[EscalationLevel] = Field(min_length=1)
    business_hours: BusinessHours = BusinessHours()
    quiet_hours: QuietHours | None = None
    auto_close_after: Duration = timedelta(days=7)  # resolved escalations close after this

    def wait(self, level: int, severity: str) -> timedelta:
        """Return the wait at ``level`` (0-based) for ``severity`` before escalating further."""
        return self.levels[level].wait.for_severity(severity)


def _parse_local_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time; write e.g. 2027-01-20 14:00") from None
    return value


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_local_datetime),
    PlainSerializer(lambda v: v.strftime("%Y-%m-%d %H:%M"), return_type=str),
]


class QbrPlan(_Model):
    """When QBRs happen: quarterly (month of quarter, day, time) or explicit local dates."""

    cadence: Literal["quarterly", "dates"] = "quarterly"
    month_offset: int = Field(1, ge=0, le=2)  # 0 = first month of the quarter
    day: int = Field(15, ge=1, le=28)
    time: TimeOfDay = time(14, 0)
    dates: list[LocalDateTime] = []  # partner-local, for cadence "dates"
    reminders_days: list[int] = [14, 7, 1]

    @field_validator("dates")
    @classmethod
    def _naive(cls, value: list[datetime]) -> list[datetime]:
        if any(d.tzinfo is not None for d in value):
            raise ValueError("QBR dates are in the partner's timezone; leave out the offset")
        return sorted(value)

    @model_validator(mode="after")
    def _cadence(self) -> QbrPlan:
        if self.cadence == "dates" and not self.dates:
            raise ValueError("cadence 'dates' needs a list of dates")
        if self.cadence == "quarterly" and self.dates:
            raise ValueError("dates are only used with cadence 'dates'")
        return self

    def occurrences(self, year: int) -> list[datetime]:
        """Return the partner-local (naive) QBR moments in ``year``."""
        if self.cadence == "dates":
            return [d for d in self.dates if d.year == year]
        return [datetime.combine(date(year, q * 3 + 1 + self.month_offset, self.day), self.time)
                for q in range(4)]


DEFAULT_SCORECARD = {"csat": 20.0, "nps": 20.0, "ces": 20.0, "fcr": 20.0, "aht": 20.0}


class DigestSchedule(_Model):
    """The weekly digest: day and local time, and the balanced scorecard weights (sum 100)."""

    enabled: bool = True
    day: Weekday = "mon"
    time: TimeOfDay = time(9, 0)
    scorecard: dict[str, float] = dict(DEFAULT_SCORECARD)

    @field_validator("scorecard")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, weight in value.items():
            out[metric_key(name)] = weight
            if weight <= 0:
                raise ValueError(f"weight of {name!r} must be positive")
        if abs(sum(out.values()) - 100.0) > 1e-6:
            raise ValueError(f"scorecard weights must add up to 100, not {sum(out.values()):g}")
        return out


class PulseSchedule(_Model):
    """The partner feedback pulse: how often, on which day of the month, reminder, anonymity."""

    enabled: bool = True
    cadence: Literal["monthly", "quarterly"] = "monthly"
    day: int = Field(1, ge=1, le=28)
    time: TimeOfDay = time(10, 0)
    reminder_after: Duration = timedelta(days=3)
    anonymous: bool = True  # answers may be given anonymously


# How fast a contact must be answered to count for the service level, per channel, when
# staffing is planned (Erlang C needs it; SLA targets judge measured shares only).
DEFAULT_ANSWER_WITHIN = {"voice": 20, "chat": 30, "email": 3600, "social": 900}


class StaffingPolicy(_Model):
    """Staffing against the forecast: shrinkage, how far ahead to warn, and the margin that stays quiet."""

    shrinkage: float = Field(30.0, ge=0, lt=100)  # % of scheduled time not on the phones
    warn_days: int = Field(14, ge=1, le=60)  # look this far ahead for shortfalls
    margin: float = Field(3.0, ge=0, le=50)  # expected SL this many points under target still stays quiet
    answer_within: dict[ContactChannel, Duration] = {}  # per channel; defaults in DEFAULT_ANSWER_WITHIN

    def threshold_seconds(self, channel: str) -> float:
        """Return the answer-within threshold for ``channel`` in seconds."""
        given = self.answer_within.get(ContactChannel(channel))
        return given.total_seconds() if given is not None else float(DEFAULT_ANSWER_WITHIN[channel])


def metric_key(name: str) -> str:
    """Resolve a metric key or alias, or fail with close suggestions."""
    metric = metrics.lookup(name) if isinstance(name, str) else None
    if metric is None:
        close = difflib.get_close_matches(str(name).lower(), metrics.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(metrics.CATALOGUE)}"
        raise ValueError(f"unknown metric {name!r}{hint}")
    return metric.key


class TargetConfig(_Model):
    """One SLA: a metric judged over a window, optionally for one site and/or channel."""

    key: Slug
    metric: str
    comparator: Literal[">=", "<="] | None = None  # default from the metric's direction
    target: float
    warning: float | None = None
    window: Literal["hour", "day", "week", "month"]
    min_volume: float = Field(0.0, ge=0)
    site: str | None = None
    channel: ContactChannel | None = None
    critical_margin: float | None = Field(None, gt=0)
    effective_from: date | None = None
    effective_to: date | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return metric_key(value)

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, data: Any) -> Any:
        # Time metrics (AHT, first response time, ASA) read better as 6m or 4h than as seconds.
        if not isinstance(data, dict):
            return data
        metric = metrics.lookup(data["metric"]) if isinstance(data.get("metric"), str) else None
        if metric is None or metric.unit is not metrics.Unit.SECONDS:
            return data
        out = dict(data)
        for name in ("target", "warning", "critical_margin"):
            if isinstance(out.get(name), str):
                out[name] = parse_duration(out[name]).total_seconds()
        return out

    @model_validator(mode="after")
    def _consistent(self) -> TargetConfig:
        if self.comparator is None:
            object.__setattr__(self, "comparator", default_comparator(self.metric))
        if self.warning is not None:
            good_side = self.warning >= self.target if self.comparator == ">=" else self.warning <= self.target
            if not good_side:
                side = "at or above" if self.comparator == ">=" else "at or below"
                raise ValueError(f"warning {self.warning:g} must be {side} the target {self.target:g} "
                                 f"(it marks the early-warning line on the good side)")
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self


class SiteConfig(_Model):
    key: Slug
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = []


class PartnerConfig(_Model):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    timezone: Timezone
    locale: str = Field("en", max_length=16)
    active: bool = True
    sites: list[SiteConfig] = []
    channels: list[ContactChannel] = Field(min_length=1)
    targets: list[TargetConfig] = []
    routes: PartnerRoutes = PartnerRoutes()
    escalation: EscalationPolicy | None = None
    qbr: QbrPlan = QbrPlan()
    digest: DigestSchedule = DigestSchedule()
    pulse: PulseSchedule = PulseSchedule()
    staffing: StaffingPolicy = StaffingPolicy()


class ClientProfile(_Model):
    """The client company as stored (policy kind "client"): name and timezone."""

    name: str
    timezone: str


class ClientConfig(_Model):
    name: str = Field(min_length=1, max_length=200)
    timezone: Timezone = "UTC"
    routes: ClientRoutes = ClientRoutes()
    digest: DigestSchedule = DigestSchedule()  # the portfolio digest


class Identities(_Model):
    # "U0123ABCD", or "T0ACME/U0123ABCD": a user id is only unique within its workspace
    slack: Annotated[str, Field(pattern=r"^(?:T[A-Z0-9]+/)?[UW][A-Z0-9]+$")] | None = None
    teams: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    console: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$", max_length=128)] | None = None

    def pairs(self) -> list[tuple[str, str]]:
        """Return (platform, platform_user_id) pairs."""
        return [(p, v) for p, v in (("slack", self.slack), ("teams", self.teams), ("console", self.console)) if v]


class UserConfig(_Model):
    id: Slug  # config-local handle, referenced by escalation levels
    name: str = Field(min_length=1, max_length=200)
    email: str = ""
    role: Role
    partner: str | None = None
    capabilities: list[str] = []
    identities: Identities

    @model_validator(mode="after")
    def _partner(self) -> UserConfig:
        if self.role is Role.PARTNER and not self.partner:
            raise ValueError("a partner user needs `partner: <slug>`")
        if self.role is not Role.PARTNER and self.partner:
            raise ValueError(f"only partner users belong to a partner; a {self.role.value} user has none")
        if not self.identities.pairs():
            raise ValueError("give at least one identity (slack, teams or console)")
        return self


class LiaisonConfig(_Model):
    """The whole liaison.yaml."""

    version: Literal[1] = 1
    client: ClientConfig
    partners: list[PartnerConfig] = []
    users: list[UserConfig] = []
