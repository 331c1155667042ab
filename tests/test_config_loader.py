"""liaison.yaml validation: every problem reported at once, each with its path and reason."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, EscalationPolicy, load_config, parse_config
from bot.config.schema import DigestSchedule, QbrPlan, format_duration, parse_duration

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"


@pytest.fixture
def make_yaml():
    """Return a function: mutate(dict) applied to the example -> YAML text."""

    def make(mutate=None) -> str:
        data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
        if mutate is not None:
            mutate(data)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    return make


def _issues(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="bad.yaml")
    return {i.path: i.message for i in info.value.issues}


def test_load_config_example_matches_the_brief_setup():
    config = load_config(EXAMPLE)
    partners = {p.slug: p for p in config.partners}
    assert list(partners) == ["acme", "northwind", "globex"]
    assert [s.key for p in config.partners for s in p.sites] == ["krakow", "lisbon", "manila", "saopaulo"]
    assert partners["acme"].timezone == "Europe/Warsaw"
    assert partners["northwind"].timezone == "Asia/Manila"
    assert partners["globex"].timezone == "America/Sao_Paulo"
    assert [c.value for c in partners["globex"].channels] == ["voice", "email", "social"]
    users = {u.id: u for u in config.users}
    assert users["admin"].identities.console == "admin" and users["admin"].role.value == "admin"
    assert users["lead"].role.value == "client"
    assert users["acme-tl"].partner == "acme" and users["acme-tl"].identities.slack == "U0ACME1"
    assert {u.partner for u in config.users if u.partner} == {"acme", "northwind", "globex"}
    assert len(partners["acme"].escalation.levels) == 4


def test_target_comparator_missing_defaults_from_metric_direction():
    targets = {t.key: t for t in load_config(EXAMPLE).partners[0].targets}
    assert targets["sl-voice-day"].comparator == ">="
    assert targets["abandon-voice-day"].comparator == "<="
    assert targets["aht-voice-week"].comparator == "<="
    assert targets["ces-week"].comparator == "<="


def test_target_metric_alias_resolves_to_catalogue_key():
    northwind = load_config(EXAMPLE).partners[1]
    assert {t.key: t.metric for t in northwind.targets}["qa-week"] == "qa_score"
    assert {t.key: t.metric for t in northwind.targets}["sl-voice-day"] == "service_level"


def test_parse_config_many_problems_reports_each_with_its_path(make_yaml):
    def mutate(d):
        d["partners"][2]["targets"][0]["window"] = "fortnight"
        d["partners"][0]["targets"][1]["metric"] = "servce_level"
        d["partners"][1]["timezone"] = "Asia/Atlantis"
        d["partners"][0]["targets"][2]["comparator"] = ">"
        d["partners"][0]["escalation"]["levels"][0]["wait"]["P2"] = "soon"
        d["partners"][0]["targets"][3]["warning"] = 70  # target 85, >=: warning must be >= 85

    issues = _issues(make_yaml(mutate))
    assert "Input should be 'hour', 'day', 'week' or 'month'" in issues["partners[2].targets[0].window"]
    assert "did you mean service_level" in issues["partners[0].targets[1].metric"]
    assert "unknown timezone 'Asia/Atlantis'" in issues["partners[1].timezone"]
    assert "'>=' or '<='" in issues["partners[0].targets[2].comparator"]
    assert "'soon' is not a duration" in issues["partners[0].escalation.levels[0].wait.P2"]
    assert "warning 70 must be at or above the target 85" in issues["partners[0].targets[3]"]
    assert len(issues) == 6


def test_parse_config_cross_references_reports_scope_duplicates_and_users(make_yaml):
    def mutate(d):
        d["partners"][1]["targets"][0]["site"] = "cebu"
        d["partners"][1]["targets"][1]["channel"] = "email"
        d["partners"][2]["slug"] = "acme"
        d["partners"][0]["targets"][1]["key"] = "sl-voice-day"
        d["partners"][0]["escalation"]["levels"][2]["users"] = ["nobody"]
        d["users"][5]["partner"] = "initech"

    issues = _issues(make_yaml(mutate))
    assert issues["partners[1].targets[0].site"] == "partner 'northwind' has no site 'cebu' (sites: manila)"
    assert "does not handle email" in issues["partners[1].targets[1].channel"]
    assert issues["partners[2].slug"] == "duplicate partner slug 'acme'"
    assert issues["partners[0].slug"] == "duplicate partner slug 'acme'"
    assert issues["partners[0].targets[1].key"] == "duplicate target key 'sl-voice-day'"
    assert issues["partners[0].escalation.levels[2].users[0]"] == "no user with id 'nobody' in users"
    assert issues["users[5].partner"] == "no partner with slug 'initech'"


def test_user_partner_role_without_partner_is_rejected(make_yaml):
    def mutate(d):
        del d["users"][3]["partner"]
        d["users"][1]["partner"] = "acme"

    issues = _issues(make_yaml(mutate))
    assert issues["users[3]"] == "a partner user needs `partner: <slug>`"
    assert "a client user has none" in issues["users[1]"]


def test_parse_config_unknown_key_names_the_key(make_yaml):
    issues = _issues(make_yaml(lambda d: d["partners"][0]["targets"][0].update(treshold=3)))
    assert "unknown key" in issues["partners[0].targets[0].treshold"]


def test_parse_config_yaml_syntax_error_gives_line_number():
    with pytest.raises(ConfigError) as info:
        parse_config("client:\n  name: X\npartners:\n  - slug: [acme\n", source="broken.yaml")
    issue = info.value.issues[0]
    assert issue.line == 5 and "YAML syntax error" in issue.message
    assert "broken.yaml:5:" in info.value.render()


def test_parse_config_duplicate_yaml_key_is_an_error_not_an_overwrite():
    with pytest.raises(ConfigError) as info:
        parse_config("client:\n  name: X\n  name: Y\n")
    assert "duplicate key 'name'" in info.value.issues[0].message
    assert info.value.issues[0].line == 3


def test_load_config_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in info.value.render() and "cannot read" in info.value.render()


def test_parse_config_yaml11_traps_keep_strings_and_times():
    config = parse_config(
        "client: {name: X, timezone: UTC, digest: {day: Monday, time: 9:30}}\n"
        "partners:\n"
        "  - {slug: nor, name: Nor, timezone: Europe/Oslo, channels: [voice],\n"
        "     sites: [{key: oslo, name: Oslo, country: NO, languages: [no]}]}\n")
    site = config.partners[0].sites[0]
    assert site.country == "NO" and site.languages == ["no"]
    assert config.client.digest.time == time(9, 30) and config.client.digest.day == "mon"


def test_duration_parse_and_format_round_trip():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    with pytest.raises(ValueError):
        parse_duration("0m")


def test_escalation_policy_json_round_trip_keeps_waits():
    policy = load_config(EXAMPLE).partners[0].escalation
    doc = policy.model_dump(mode="json")
    assert doc["levels"][0]["wait"]["P1"] == "15m"
    assert doc["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    again = EscalationPolicy.model_validate(doc)
    assert again == policy
    assert again.wait(3, "P4") == timedelta(days=5)


def test_qbr_plan_occurrences_quarterly_and_dates():
    config = load_config(EXAMPLE)
    acme, northwind = config.partners[0].qbr, config.partners[1].qbr
    assert [d.isoformat() for d in acme.occurrences(2027)] == [
        "2027-02-15T14:00:00", "2027-05-15T14:00:00", "2027-08-15T14:00:00", "2027-11-15T14:00:00"]
    assert northwind.occurrences(2027)[0].isoformat() == "2027-01-20T16:00:00"
    with pytest.raises(ValueError):
        QbrPlan(cadence="dates")


def test_digest_schedule_weights_not_100_rejected():
    assert DigestSchedule().day == "mon" and DigestSchedule().time == time(9, 0)
    with pytest.raises(ValueError, match="add up to 100"):
        DigestSchedule(scorecard={"csat": 50, "aht": 20})


def test_parse_config_pattern_mismatch_explains_the_expected_form(make_yaml):
    def mutate(d):
        d["partners"][0]["routes"]["alerts"]["slack"] = ["#acme-alerts"]
        d["partners"][0]["sites"][0]["country"] = "Poland"
        d["users"][0]["identities"]["slack"] = "ada"

    issues = _issues(make_yaml(mutate))
    assert "'#acme-alerts': a Slack channel id looks like C0123ABCD" in issues["partners[0].routes.alerts.slack[0]"]
    assert "two-letter ISO 3166 country code" in issues["partners[0].sites[0].country"]
    assert "a Slack user id looks like U0123ABCD" in issues["users[0].identities.slack"]


def test_target_time_metric_accepts_durations_as_seconds():
    targets = {t.key: t for t in load_config(EXAMPLE).partners[0].targets}
    assert (targets["frt-email-day"].target, targets["frt-email-day"].warning) == (14400.0, 12600.0)
    assert (targets["aht-voice-week"].target, targets["aht-voice-week"].warning) == (360.0, 340.0)


def test_target_duration_on_percent_metric_is_rejected(make_yaml):
    issues = _issues(make_yaml(lambda d: d["partners"][0]["targets"][0].update(target="4h")))
    assert "valid number" in issues["partners[0].targets[0].target"]


def test_parse_config_structure_and_reference_errors_reported_together(make_yaml):
    def mutate(d):
        d["partners"][0]["targets"][0]["window"] = "fortnight"  # structural, in acme
        d["partners"][1]["targets"][0]["site"] = "cebu"  # reference, in a valid northwind
        d["partners"][2]["escalation"]["levels"][0]["users"] = ["ghost"]  # reference, globex
        d["users"][5]["role"] = "boss"  # structural: northwind-tl is invalid ...

    issues = _issues(make_yaml(mutate))
    assert set(issues) == {"partners[0].targets[0].window", "partners[1].targets[0].site",
                           "partners[2].escalation.levels[0].users[0]", "users[5].role"}
    # ... yet northwind's level naming northwind-tl is not reported as an unknown user


def test_quiet_and_business_hours_contains_wraps_midnight():
    policy = load_config(EXAMPLE).partners[0].escalation  # quiet 22:00-07:00, business mon-fri 08-18
    assert policy.quiet_hours.contains(time(23, 30)) and policy.quiet_hours.contains(time(6, 59))
    assert not policy.quiet_hours.contains(time(7, 0)) and policy.quiet_hours.contains(time(22, 0))
    assert policy.business_hours.contains(datetime(2026, 11, 20, 8, 0))  # Friday
    assert not policy.business_hours.contains(datetime(2026, 11, 20, 18, 0))
    assert not policy.business_hours.contains(datetime(2026, 11, 21, 12, 0))  # Saturday


def test_parse_config_slack_addresses_may_name_their_workspace(make_yaml):
    def mutate(d):
        d["partners"][0]["routes"]["alerts"]["slack"] = ["T0ACME/C0ACMEALERT"]
        d["users"][0]["identities"]["slack"] = "T0ACME/U0ADMIN"

    config = parse_config(make_yaml(mutate))
    assert config.partners[0].routes.alerts.slack == ["T0ACME/C0ACMEALERT"]
    assert config.users[0].identities.slack == "T0ACME/U0ADMIN"

    def bad(d):
        d["partners"][0]["routes"]["alerts"]["slack"] = ["acme/C0ACMEALERT"]
        d["users"][0]["identities"]["slack"] = "T0ACME/#admin"

    issues = _issues(make_yaml(bad))
    assert "or T0123ABCD/C0123ABCD with its workspace" in issues["partners[0].routes.alerts.slack[0]"]
    assert "or T0123ABCD/U0123ABCD with its workspace" in issues["users[0].identities.slack"]


def test_workspace_advisories_name_each_address_of_a_workspace_not_installed():
    from bot.config.loader import workspace_advisories

    def cfg(alerts: list[str], ident: str):  # noqa: ANN202
        return parse_config(yaml.safe_dump({
            "client": {"name": "C", "routes": {"alerts": {"slack": alerts}}},
            "users": [{"id": "a", "name": "A", "role": "admin", "identities": {"slack": ident}}]}))

    config = cfg(["T0A/C0X", "T0B/C0Y", "C0BARE"], "T0B/U0A")
    single = workspace_advisories(config, installed={"T0A"}, multi_workspace=False)
    assert [n.path for n in single] == ["client.routes.alerts.slack[1]", "users[0].identities.slack"]
    multi = workspace_advisories(config, installed={"T0A", "T0B"}, multi_workspace=True)
    assert [n.path for n in multi] == ["client.routes.alerts.slack[2]"]
    assert workspace_advisories(cfg(["T0A/C0X"], "T0A/U0A"), installed={"T0A"}, multi_workspace=True) == []


def test_config_check_warns_about_a_qbr_on_a_weekend(make_yaml):
    from bot.config.loader import advisories

    def saturday(d):  # noqa: ANN001, ANN202
        d["partners"][0]["qbr"] = {"cadence": "dates", "dates": ["2027-01-16T10:00", "2027-01-20T10:00"]}

    config = parse_config(make_yaml(saturday))
    notes = [n for n in advisories(config) if n.path.startswith("partners[0].qbr")]
    assert [(n.path, n.message) for n in notes] == [(
        "partners[0].qbr.dates[0]",
        f"{config.partners[0].slug}'s QBR on Sat 2027-01-16 10:00 falls on a weekend "
        f"({config.partners[0].timezone}); pick a weekday")]
    assert not [n for n in advisories(parse_config(make_yaml())) if ".qbr" in n.path]


def test_config_check_warns_when_a_quarterly_qbr_day_lands_on_a_weekend(make_yaml):
    """A quarterly plan names a day of the month: the next four are checked in the partner's zone."""
    from datetime import UTC, datetime

    from bot.config.loader import advisories

    def quarterly(day: int):  # noqa: ANN202
        def edit(d):  # noqa: ANN001, ANN202
            d["partners"][0]["timezone"] = "Europe/Warsaw"
            d["partners"][0]["qbr"] = {"cadence": "quarterly", "month_offset": 1, "day": day, "time": "14:00"}
        return edit

    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    config = parse_config(make_yaml(quarterly(15)))
    notes = [(n.path, n.message) for n in advisories(config, now=now) if ".qbr" in n.path]
    # next four: Mon 2027-02-15, Sat 2027-05-15, Sun 2027-08-15, Mon 2027-11-15
    assert notes == [("partners[0].qbr",
                      f"{config.partners[0].slug}'s quarterly QBR (day 15) falls on a weekend on Sat 2027-05-15, "
                      "Sun 2027-08-15 (Europe/Warsaw); use cadence 'dates' with weekdays")]
    # day 17 of Feb/May/Aug/Nov 2027 is Wed, Mon, Tue, Wed: nothing to say
    assert not [n for n in advisories(parse_config(make_yaml(quarterly(17))), now=now) if ".qbr" in n.path]
    # a moment that has passed is not counted: the day after Sat 2027-05-15 only Sun 2027-08-15 is left
    later = datetime(2027, 5, 16, 0, 0, tzinfo=UTC)
    assert [n.message for n in advisories(config, now=later) if ".qbr" in n.path] == [
        f"{config.partners[0].slug}'s quarterly QBR (day 15) falls on a weekend on Sun 2027-08-15 "
        "(Europe/Warsaw); use cadence 'dates' with weekdays"]


BROKEN = """client:
  name: X
partners:
  - slug: acme
    name: Acme
    timezone: Europe/Warsaw
    targets:
      - {metric: aht, window: fortnight, target: 300, comparator: "<="}
      - {metric: nosuch, window: day, target: 1, comparator: "<="}
users: []
"""


def test_schema_errors_carry_their_line_and_every_error_is_listed_in_one_run():
    from bot.config.loader import ConfigError, parse_config

    with pytest.raises(ConfigError) as raised:
        parse_config(BROKEN, source="x.yaml")
    rendered = raised.value.render()
    assert "x.yaml:8: partners[0].targets[0].window:" in rendered  # the bad window ...
    assert "x.yaml:9: partners[0].targets[1].metric: unknown metric 'nosuch'" in rendered  # ... and the bad target
    assert all(line.startswith("  x.yaml:") and line.split(":")[1].isdigit()
               for line in rendered.splitlines()[1:])
