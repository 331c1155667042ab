"""``liaison manifest``: the Slack app manifest for your host, and the Teams app package."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlparse

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"
PLACEHOLDER = "https://YOUR-HOST"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("manifest", help="print the Slack app manifest for your host",
                            description="Print app manifests with your public URL filled in.")
    msub = parser.add_subparsers(dest="manifest_platform", metavar="PLATFORM", required=True)
    slack = msub.add_parser("slack", help="print manifest.yaml with the request URLs on your host")
    slack.add_argument("--url", required=True, help="public base URL, e.g. https://liaison.example.org")
    slack.add_argument("--socket-mode", action="store_true", help="enable Socket Mode instead of request URLs")
    slack.set_defaults(func=_slack)
    teams = msub.add_parser("teams", help="build the Teams app package (manifest.json and icons) as a zip")
    teams.add_argument("--out", default="liaison-teams.zip", help="zip to write (default liaison-teams.zip)")
    teams.add_argument("--app-id", default=None, help="Azure bot app id (default: MICROSOFT_APP_ID)")
    teams.add_argument("--host", required=True, help="public host of `liaison serve`, e.g. liaison.example.org")
    teams.set_defaults(func=_teams)


def slack_manifest(url: str, *, socket_mode: bool = False) -> str:
    """Return manifest.yaml with every request URL on ``url``."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ValueError(f"'{url}' is not an https URL; Slack only calls https request URLs")
    text = MANIFEST.read_text(encoding="utf-8").replace(PLACEHOLDER, f"https://{parsed.netloc}{parsed.path.rstrip('/')}")
    if socket_mode:
        text = text.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
    return text


def _slack(args: argparse.Namespace) -> int:
    try:
        print(slack_manifest(args.url, socket_mode=args.socket_mode), end="")
    except ValueError as exc:
        print(exc)
        return 1
    return 0


def _teams(args: argparse.Namespace) -> int:
    """Same as `liaison teams package` (both names are documented)."""
    from adapters.cli.teams import package_command

    return package_command(args)
