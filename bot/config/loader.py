"""Read liaison.yaml into a validated LiaisonConfig, or list every problem with its path."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from bot.config.schema import LiaisonConfig, PartnerConfig, UserConfig
from bot.domain.access import Role
from bot.domain.wording import plural

M = TypeVar("M", PartnerConfig, UserConfig)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: where in the file (``partners[2].targets[0].window``) and why."""

    path: str
    message: str
    line: int | None = None


class ConfigError(Exception):
    """The file is invalid; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        """Return one line per problem: file:line: path: reason."""
        lines = [f"{self.source}: {plural(len(self.issues), 'problem')} found, nothing was applied:"]
        for issue in self.issues:
            where = f"{self.source}:{issue.line}" if issue.line else self.source
            path = f" {issue.path}:" if issue.path else ""
            lines.append(f"  {where}:{path} {issue.message}")
        return "\n".join(lines)


class _Loader(yaml.SafeLoader):
    """YAML without the 1.1 surprises: only true/false are booleans (country NO stays "NO"),
    no base-60 integers (9:30 stays text), and a repeated key is an error, not a silent overwrite."""


_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT, re.compile(r"^(?:[-+]?0|[-+]?[1-9][0-9_]*)$"), list("-+0123456789"))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges are fine
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def format_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic location as ``partners[2].targets[0].window``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: dict[str, Any]) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if error["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see liaison.example.yaml)"
    elif error["type"] == "string_pattern_mismatch":
        msg = f"{error['input']!r}: {_pattern_hint(error['loc'])}"
    return msg


def _pattern_hint(loc: tuple[Any, ...]) -> str:
    names = [p for p in loc if isinstance(p, str)]
    field = names[-1] if names else ""
    if field == "slack":
        if "identities" in names:
            return ("a Slack user id looks like U0123ABCD (profile > copy member ID), "
                    "or T0123ABCD/U0123ABCD with its workspace")
        return ("a Slack channel id looks like C0123ABCD (channel details > copy channel ID), not its name, "
                "or T0123ABCD/C0123ABCD with its workspace")
    return {
        "country": "use the two-letter ISO 3166 country code in capitals, e.g. PL",
        "languages": "use ISO 639 language codes in lowercase, e.g. en, pl",
        "console": "use letters, digits, dot, dash or underscore",
    }.get(field, "use lowercase letters, digits, - or _ and start with a letter or digit, e.g. acme")


def load_config(path: str | Path) -> LiaisonConfig:
    """Read and validate ``path``; raise ConfigError naming the file and every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the file: {exc.strerror or exc}")]) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "liaison.yaml") -> LiaisonConfig:
    """Validate YAML ``text``; ``source`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        where = f" (column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(source, [ConfigIssue("", f"YAML syntax error: {problem}{where}", line)]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "the file must be a mapping with client, partners and users")])
    try:
        config = LiaisonConfig.model_validate(data)
    except ValidationError as exc:
        issues = [ConfigIssue(format_path(e["loc"]), _message(e)) for e in exc.errors()]
        raise ConfigError(source, _with_lines(text, issues + _partial_cross_check(data))) from None
    issues = cross_check(config)
    if issues:
        raise ConfigError(source, _with_lines(text, issues))
    return config


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _with_lines(text: str, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Give each issue the line of the deepest node its path reaches, so errors read file:line: path."""
    try:
        root = yaml.compose(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError:
        return issues
    out = []
    for issue in issues:
        node, line = root, None
        for name, index in _PART.findall(issue.path):
            if node is None:
                break
            line = node.start_mark.line + 1
            if index and isinstance(node, yaml.SequenceNode):
                node = node.value[int(index)] if int(index) < len(node.value) else None
            elif name and isinstance(node, yaml.MappingNode):
                found = [(k, v) for k, v in node.value if getattr(k, "value", None) == name]
                # a missing key: the mapping that lacks it; an unknown one: the key itself
                node = found[0][1] if found else None
                if found:
                    line = found[0][0].start_mark.line + 1
            else:
                node = None
        if node is not None:
            line = node.start_mark.line + 1
        out.append(issue if issue.line or line is None else ConfigIssue(issue.path, issue.message, line))
    return out


def _duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def _valid_items(raw: Any, model: type[M]) -> list[tuple[int, M]]:
    items = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            items.append((i, model.model_validate(item)))
        except ValidationError:
            continue  # its own errors are already listed
    return items


def _partial_cross_check(data: dict[str, Any]) -> list[ConfigIssue]:
    """Cross-check the entries that are valid on their own, so one run lists every problem."""
    raw_partners = data.get("partners") if isinstance(data.get("partners"), list) else []
    raw_users = data.get("users") if isinstance(data.get("users"), list) else []
    return _cross_check(
        _valid_items(raw_partners, PartnerConfig), _valid_items(raw_users, UserConfig),
        slugs={p.get("slug") for p in raw_partners if isinstance(p, dict)},
        handles={u.get("id") for u in raw_users if isinstance(u, dict)})


def cross_check(config: LiaisonConfig) -> list[ConfigIssue]:
    """Check what one section says about another: unique keys, scopes and references."""
    return _cross_check(list(enumerate(config.partners)), list(enumerate(config.users)),
                        slugs={p.slug for p in config.partners}, handles={u.id for u in config.users})


def _cross_check(partners: list[tuple[int, PartnerConfig]], user_items: list[tuple[int, UserConfig]], *,
                 slugs: set[Any], handles: set[Any]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    dup_slugs = _duplicates([p.slug for _, p in partners])
    users = {u.id: u for _, u in user_items}
    for i, partner in partners:
        at = f"partners[{i}]"
        if partner.slug in dup_slugs:
            issues.append(ConfigIssue(f"{at}.slug", f"duplicate partner slug {partner.slug!r}"))
        site_keys = [s.key for s in partner.sites]
        for j, site in enumerate(partner.sites):
            if site.key in _duplicates(site_keys):
                issues.append(ConfigIssue(f"{at}.sites[{j}].key", f"duplicate site key {site.key!r}"))
        if _duplicates([c.value for c in partner.channels]):
            issues.append(ConfigIssue(f"{at}.channels", "a channel is listed twice"))
        dup_targets = _duplicates([t.key for t in partner.targets])
        for j, target in enumerate(partner.targets):
            t_at = f"{at}.targets[{j}]"
            if target.key in dup_targets:
                issues.append(ConfigIssue(f"{t_at}.key", f"duplicate target key {target.key!r}"))
            if target.site is not None and target.site not in site_keys:
                known = ", ".join(site_keys) or "none"
                issues.append(ConfigIssue(f"{t_at}.site", f"partner {partner.slug!r} has no site {target.site!r} (sites: {known})"))
            if target.channel is not None and target.channel not in partner.channels:
                known = ", ".join(c.value for c in partner.channels)
                issues.append(ConfigIssue(f"{t_at}.channel", f"partner {partner.slug!r} does not handle {target.channel.value} (channels: {known})"))
        if partner.escalation is not None:
            for j, level in enumerate(partner.escalation.levels):
                for k, handle in enumerate(level.users):
                    u_at = f"{at}.escalation.levels[{j}].users[{k}]"
                    user = users.get(handle)
                    if handle not in handles:
                        issues.append(ConfigIssue(u_at, f"no user with id {handle!r} in users"))
                    elif user is not None and user.role is Role.PARTNER and user.partner != partner.slug:
                        issues.append(ConfigIssue(u_at, f"user {handle!r} belongs to partner {user.partner!r}, not {partner.slug!r}"))
    dup_ids = _duplicates([u.id for _, u in user_items])
    identities = _duplicates([f"{p}:{v}" for _, u in user_items for p, v in u.identities.pairs()])
    for i, user in user_items:
        at = f"users[{i}]"
        if user.id in dup_ids:
            issues.append(ConfigIssue(f"{at}.id", f"duplicate user id {user.id!r}"))
        if user.partner is not None and user.partner not in slugs:
            issues.append(ConfigIssue(f"{at}.partner", f"no partner with slug {user.partner!r}"))
        sites_of = {p.slug: [s.key for s in p.sites] for _, p in partners}
        for k, capability in enumerate(user.capabilities):
            if not capability.startswith("site:"):
                continue
            key = capability.removeprefix("site:")
            if user.role is not Role.PARTNER:
                issues.append(ConfigIssue(f"{at}.capabilities[{k}]", "only partner users are tied to a site"))
            elif user.partner in sites_of and key not in sites_of[user.partner]:
                known = ", ".join(sites_of[user.partner]) or "none"
                issues.append(ConfigIssue(f"{at}.capabilities[{k}]",
                                          f"partner {user.partner!r} has no site {key!r} (sites: {known})"))
        for platform, value in user.identities.pairs():
            if f"{platform}:{value}" in identities:
                issues.append(ConfigIssue(f"{at}.identities.{platform}", f"{platform} id {value!r} is given to more than one user"))
    return issues


def advisories(config: LiaisonConfig, *, now: datetime | None = None) -> list[ConfigIssue]:
    """List valid-but-probably-unintended gaps (nothing fails on them): unrouted alerts, no admin, weekend QBRs.

    A quarterly plan names a day of the month, which lands on a weekend in some quarters; with
    ``now`` (aware) the next four after it, in the partner's timezone, are checked.
    """
    notes: list[ConfigIssue] = []
    for i, partner in enumerate(config.partners):
        if not partner.active:
            continue
        for j, moment in enumerate(partner.qbr.dates):
            if moment.weekday() >= 5:  # dates are partner-local, so this is the partner's own weekend
                notes.append(ConfigIssue(f"partners[{i}].qbr.dates[{j}]",
                                         f"{partner.slug}'s QBR on {moment:%a %Y-%m-%d %H:%M} falls on a weekend "
                                         f"({partner.timezone}); pick a weekday"))
        if now is not None and partner.qbr.cadence == "quarterly":
            weekend = _weekend_quarterlies(partner, now)
            if weekend:
                days = ", ".join(f"{moment:%a %Y-%m-%d}" for moment in weekend)
                notes.append(ConfigIssue(f"partners[{i}].qbr",
                                         f"{partner.slug}'s quarterly QBR (day {partner.qbr.day}) falls on a weekend "
                                         f"on {days} ({partner.timezone}); use cadence 'dates' with weekdays"))
        for purpose in ("alerts", "escalations"):
            if not getattr(partner.routes, purpose).pairs():
                notes.append(ConfigIssue(f"partners[{i}].routes.{purpose}",
                                         f"no Slack or Teams destination: {partner.slug}'s {purpose} reach no channel"))
        if partner.escalation is None:
            notes.append(ConfigIssue(f"partners[{i}].escalation",
                                     f"no escalation policy: {partner.slug}'s escalations will not climb levels"))
        if not partner.targets:
            notes.append(ConfigIssue(f"partners[{i}].targets", f"no targets: no SLA alerts for {partner.slug}"))
    if not any(u.role is Role.ADMIN for u in config.users):
        notes.append(ConfigIssue("users", "no admin user: nobody can change settings from chat"))
    return notes


def _weekend_quarterlies(partner: PartnerConfig, now: datetime) -> list[datetime]:
    """The weekend ones among the partner's next four quarterly QBRs after ``now`` (partner-local, naive)."""
    local = now.astimezone(ZoneInfo(partner.timezone)).replace(tzinfo=None)
    upcoming = [m for year in (local.year, local.year + 1)
                for m in partner.qbr.occurrences(year) if m > local][:4]
    return [m for m in upcoming if m.weekday() >= 5]


def slack_addresses(config: LiaisonConfig) -> list[tuple[str, str]]:
    """List (path, value) of every Slack route, escalation channel and identity in the file."""
    found: list[tuple[str, str]] = []
    scopes = [("client.routes", config.client.routes)]
    scopes += [(f"partners[{i}].routes", p.routes) for i, p in enumerate(config.partners)]
    for at, routes in scopes:
        for purpose in type(routes).model_fields:
            found += [(f"{at}.{purpose}.slack[{k}]", v) for k, v in enumerate(getattr(routes, purpose).slack)]
    for i, partner in enumerate(config.partners):
        for j, level in enumerate(partner.escalation.levels if partner.escalation else ()):
            if level.channel is not None:
                found += [(f"partners[{i}].escalation.levels[{j}].channel.slack[{k}]", v)
                          for k, v in enumerate(level.channel.slack)]
    found += [(f"users[{i}].identities.slack", u.identities.slack) for i, u in enumerate(config.users)
              if u.identities.slack]
    return found


def workspace_advisories(config: LiaisonConfig, *, installed: set[str], multi_workspace: bool) -> list[ConfigIssue]:
    """Warn about Slack addresses whose workspace is not installed, or (with OAuth) name none."""
    notes: list[ConfigIssue] = []
    for at, value in slack_addresses(config):
        workspace, sep, _ = value.partition("/")
        if sep and workspace not in installed:
            notes.append(ConfigIssue(at, f"workspace {workspace} is not installed: open /slack/install in it, "
                                         "or messages to it become undelivered"))
        elif not sep and multi_workspace:
            notes.append(ConfigIssue(at, f"{value!r} names no workspace; with OAuth write it as T0123ABCD/{value} "
                                         "(the team id of the workspace it is in)"))
    return notes
