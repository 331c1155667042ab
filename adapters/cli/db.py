"""``liaison db``: schema migrations."""

from __future__ import annotations

import argparse

from bot.settings import Settings
from bot.store import migrate


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="manage the database schema (Alembic migrations)",
                            description="Manage the database schema through Alembic migrations.")
    dbsub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply every pending migration")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=_upgrade)
    cur = dbsub.add_parser("current", help="print the database's schema revision")
    cur.set_defaults(func=_current)
    rev = dbsub.add_parser("revision", help="(developers) autogenerate a migration from the models")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=_revision)


def _url() -> str:
    return Settings().database_url


def _upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(_url(), args.revision)
    print(f"database at revision {migrate.current(_url())}")
    return 0


def _current(args: argparse.Namespace) -> int:
    print(migrate.current(_url()) or "empty (run `liaison db upgrade`)")
    return 0


def _revision(args: argparse.Namespace) -> int:
    migrate.revision(_url(), args.message)
    return 0
