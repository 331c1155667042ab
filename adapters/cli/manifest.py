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
    slack.add_argument("--oauth", action="store_true",
                       help="a distributed app: add the OAuth redirect URL and the uninstall events")
    slack.add_argument("--token-rotation", action="store_true",
                       help="turn on token rotation (with --oauth; tokens expire and Liaison refreshes them)")
    slack.set_defaults(func=_slack)
    teams = msub.add_parser("teams", help="build the Teams app package (manifest.json and icons) as a zip")
    teams.add_argument("--out", default="liaison-teams.zip", help="zip to write (default liaison-teams.zip)")
    teams.add_argument("--app-id", default=None, help="Azure bot app id (default: MICROSOFT_APP_ID)")
    teams.add_argument("--host", required=True, help="public host of `liaison serve`, e.g. liaison.example.org")
    teams.add_argument("--version", help="package version, e.g. 1.2.0 (default: 1.YYYYMMDD.MINUTE, newer each build)")
    teams.set_defaults(func=_teams)


def slack_manifest(url: str, *, socket_mode: bool = False, oauth: bool = False, token_rotation: bool = False) -> str:
    """Return manifest.yaml with every request URL on ``url`` (and the OAuth parts with ``oauth``)."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ValueError(f"'{url}' is not an https URL; Slack only calls https request URLs")
    if token_rotation and not oauth:
        raise ValueError("--token-rotation needs --oauth: only OAuth installs get refresh tokens")
    base = f"https://{parsed.netloc}{parsed.path.rstrip('/')}"
    text = MANIFEST.read_text(encoding="utf-8").replace(PLACEHOLDER, base)
    if socket_mode:
        text = text.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
    if oauth:
        text = text.replace("oauth_config:\n", f"oauth_config:\n  redirect_urls:\n    - {base}/slack/oauth_redirect\n", 1)
        # Slack sends these to the workspace's installation; Liaison forgets it and buries its queue.
        text = text.replace("      - app_home_opened\n", "      - app_home_opened\n      - app_uninstalled\n"
                                                          "      - tokens_revoked\n", 1)
    if token_rotation:
        text = text.replace("token_rotation_enabled: false", "token_rotation_enabled: true")
    return text


def _slack(args: argparse.Namespace) -> int:
    try:
        print(slack_manifest(args.url, socket_mode=args.socket_mode, oauth=args.oauth,
                             token_rotation=args.token_rotation), end="")
    except ValueError as exc:
        print(exc)
        return 1
    return 0


def _teams(args: argparse.Namespace) -> int:
    """Same as `liaison teams package` (both names are documented)."""
    from adapters.cli.teams import package_command

    return package_command(args)
