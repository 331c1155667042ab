"""Golden-file tests for the sla status and help composers."""

import json
import os
from pathlib import Path

import pytest

from bot.commands import CommandSpec
from bot.compose.help import help_message
from bot.compose.kpi import TargetStatus, sla_status
from bot.domain.metrics import lookup
from bot.messages import Message, Section, Status
from bot.messages_codec import message_to_dict

GOLDEN = Path(__file__).parent / "golden"


async def _noop(ctx, args):  # noqa: ANN001, ANN202 - handler shape only; never called
    return None


SL = lookup("sl")
AHT = lookup("aht")
STATUSES = (
    TargetStatus(partner_name="Acme Contact Solutions", scope="all sites · voice", metric=SL, comparator=">=",
                 target=80.0, window_label="Mon 2026-11-16", value=68.7, status=Status.BREACH,
                 running_label="Tue 2026-11-17", running_value=82.0, running_status=Status.OK, volume=600),
    TargetStatus(partner_name="Northwind BPO", scope="all sites · chat", metric=AHT, comparator="<=",
                 target=360.0, window_label="Mon 2026-11-16", value=301.0, status=Status.OK,
                 running_label="Tue 2026-11-17", running_value=None, running_status=Status.NO_DATA, volume=1200),
)
SPECS = (
    CommandSpec(verb="kpi", handler=_noop, summary="Show KPIs.", usage="kpi [partner|all] [metric ...] [window]",
                examples=("kpi acme sl last-week", "kpi all 28d")),
    CommandSpec(verb="sla", handler=_noop, summary="Show SLA compliance.", usage="sla [partner]",
                examples=("sla acme",)),
)


def _check(name: str, message: Message) -> None:
    path = GOLDEN / f"{name}.json"
    got = json.dumps(message_to_dict(message), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize(("name", "message"), [
    ("sla_status_portfolio", sla_status(STATUSES, open_breaches=Section(heading="Open breaches", text="None."),
                                        title_scope="portfolio")),
    ("sla_status_empty", sla_status((), open_breaches=None, title_scope="Acme Contact Solutions")),
    ("help_registered", help_message(SPECS, registered=True)),
    ("help_unregistered", help_message(SPECS, registered=False)),
])
def test_kpi_composer_matches_golden(name, message):
    _check(name, message)


def test_sla_status_breach_counts_as_unmet_in_summary():
    message = sla_status(STATUSES, open_breaches=None, title_scope="portfolio")
    assert message.summary.startswith("1 of 2 targets met")
