"""Build the Teams app package: manifest.json, a colour icon (192x192) and an outline icon (32x32)."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image, ImageDraw

from bot.commands import commands

SCHEMA_VERSION = "1.17"
SCHEMA_URL = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
BRAND = (29, 53, 87, 255)


def _icon(size: int, *, outline: bool) -> bytes:
    """Draw the Liaison mark: two linked rings (colour on brand blue, or white on transparent)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if outline else BRAND)
    draw = ImageDraw.Draw(image)
    ink = (255, 255, 255, 255)
    width = max(2, size // 16)
    r = size * 0.22
    for cx in (size * 0.38, size * 0.62):
        draw.ellipse((cx - r, size / 2 - r, cx + r, size / 2 + r), outline=ink, width=width)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def teams_manifest(*, app_id: str, host: str, version: str = "1.0.0") -> dict:
    """Return manifest.json for the bot and its Dashboard tab; commandLists come from the command registry."""
    domain = urlparse(host if "://" in host else f"https://{host}").netloc
    command_list = [{"title": spec.verb, "description": spec.summary[:128]} for spec in commands()][:10]
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": SCHEMA_VERSION,
        "version": version,
        "id": app_id,
        "developer": {"name": "Liaison", "websiteUrl": f"https://{domain}", "privacyUrl": f"https://{domain}/privacy",
                      "termsOfUseUrl": f"https://{domain}/terms"},
        "name": {"short": "Liaison", "full": "Liaison for BPO partnerships"},
        "description": {"short": "SLA alerts, KPI digests, escalations and QBRs",
                        "full": "Liaison posts SLA breach alerts, weekly KPI digests with a balanced scorecard, "
                                "runs escalations partners can start themselves, collects feedback and reverse "
                                "reports, and schedules QBRs. Partner users see only their own partner's data."},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#1D3557",
        "bots": [{"botId": app_id, "scopes": ["personal", "team", "groupChat"], "supportsFiles": False,
                  "isNotificationOnly": False,
                  "commandLists": [{"scopes": ["personal", "team", "groupChat"], "commands": command_list}]}],
        # the personal tab opens the dashboard; without a session it says how to get a sign-in link
        "staticTabs": [{"entityId": "dashboard", "name": "Dashboard", "contentUrl": f"https://{domain}/dashboard/",
                        "websiteUrl": f"https://{domain}/dashboard/", "scopes": ["personal"]}],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain],
    }


_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")


def check_app_id(app_id: str) -> str:
    """Return the app id if it is a GUID, as Microsoft's manifest schema requires; else raise ValueError."""
    try:
        parsed = uuid.UUID(app_id)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != app_id.lower() or len(app_id) != 36:
        raise ValueError(f"--app-id {app_id!r} is not a GUID like 00000000-0000-0000-0000-000000000000; "
                         "copy the Microsoft App ID from the Azure Bot resource's Configuration page")
    return app_id


def check_version(version: str) -> str:
    """Return a MAJOR.MINOR.PATCH version Teams accepts; else raise ValueError."""
    if not _VERSION.fullmatch(version):
        raise ValueError(f"--version {version!r} is not MAJOR.MINOR.PATCH (e.g. 1.2.0)")
    return version


def automatic_version(now: datetime | None = None) -> str:
    """Return a version newer than any built before: 1.YYYYMMDD.MINUTE-OF-DAY (UTC)."""
    now = now or datetime.now(UTC)
    return f"1.{now:%Y%m%d}.{now.hour * 60 + now.minute}"


def build_package(out: Path, *, app_id: str, host: str, version: str = "1.0.0") -> Path:
    """Write the zip Teams admins upload (Apps > Manage your apps > Upload an app)."""
    manifest = teams_manifest(app_id=check_app_id(app_id), host=host, version=check_version(version))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        zf.writestr("color.png", _icon(192, outline=False))
        zf.writestr("outline.png", _icon(32, outline=True))
    return out
