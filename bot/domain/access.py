"""Who may see and do what. Every command and every button goes through these checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # configures partners, targets, channels; sees everything
    CLIENT = "client"  # the outsourcing company's managers; see every partner
    PARTNER = "partner"  # a BPO partner's staff; see their own partner only


class AccessDenied(Exception):
    """Raised when an actor may not do something; the message is safe to show them."""


NOT_REGISTERED = (
    "You are not set up in Liaison yet. Ask a Liaison admin to add you "
    "(they add your user id to liaison.yaml and run `liaison config apply`)."
)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a command or button press, as the core sees them."""

    platform: str
    platform_user_id: str
    role: Role | None = None  # None: unknown user
    user_id: int | None = None
    name: str = ""
    partner_id: int | None = None
    partner_slug: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def registered(self) -> bool:
        return self.role is not None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_client_side(self) -> bool:
        """Admins and client managers: they see every partner."""
        return self.role in (Role.ADMIN, Role.CLIENT)

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def display(self) -> str:
        return self.name or self.platform_user_id

    def can_see_partner(self, partner_id: int) -> bool:
        if self.is_client_side:
            return True
        return self.is_partner and self.partner_id == partner_id

    def has(self, capability: str) -> bool:
        return self.is_admin or capability in self.capabilities


def require_registered(actor: Actor) -> None:
    if not actor.registered:
        raise AccessDenied(NOT_REGISTERED)


def require_partner(actor: Actor, partner_id: int, partner_name: str = "that partner") -> None:
    """Allow client-side users any partner, partner users only their own."""
    require_registered(actor)
    if not actor.can_see_partner(partner_id):
        # never the other partner's name: a partner user learns nothing about who else exists
        raise AccessDenied("You can only see your own partner's data.")


def require_admin(actor: Actor, doing: str = "do that") -> None:
    require_registered(actor)
    if not actor.is_admin:
        raise AccessDenied(f"Only Liaison admins can {doing}.")


def require_client_side(actor: Actor, doing: str = "do that") -> None:
    require_registered(actor)
    if not actor.is_client_side:
        raise AccessDenied(f"Only client managers can {doing}.")
