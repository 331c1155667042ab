"""Per-partner (or client-level) policy documents from config: escalation, QBR, digest, pulse, staffing.

Each row holds one validated pydantic model from ``bot.config.schema`` dumped as JSON;
read it back typed with ``load_policy(session, partner_id, "escalation", EscalationPolicy)``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import User

POLICY_KINDS = ("escalation", "qbr", "digest", "pulse", "staffing", "client", "channels")

M = TypeVar("M", bound=BaseModel)


class PartnerPolicy(SQLModel, table=True):
    """One policy document; ``scope_partner`` is partner_id or 0 (client) so uniqueness holds."""

    __table_args__ = (UniqueConstraint("scope_partner", "kind", name="uq_partner_policy"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    scope_partner: int = Field(default=0)
    kind: str = Field(max_length=16)  # escalation | qbr | digest | pulse | client
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


async def load_policy(session: AsyncSession, partner_id: int | None, kind: str, model: type[M]) -> M | None:
    """Return the ``kind`` policy of a partner (None: client-level) parsed as ``model``, or None."""
    row = (await session.exec(
        select(PartnerPolicy).where(PartnerPolicy.scope_partner == (partner_id or 0),
                                    PartnerPolicy.kind == kind))).first()
    return model.model_validate(row.document) if row is not None else None


async def users_by_handle(session: AsyncSession, handles: list[str]) -> dict[str, list[User]]:
    """Return the active User rows (one per platform identity) for config user handles."""
    if not handles:
        return {}
    rows = (await session.exec(
        select(User).where(User.handle.in_(handles), User.active == True))).all()  # noqa: E712
    out: dict[str, list[User]] = {h: [] for h in handles}
    for row in rows:
        out[row.handle].append(row)
    return out
