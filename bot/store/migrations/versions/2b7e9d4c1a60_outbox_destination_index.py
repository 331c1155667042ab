"""outbox index per destination

A claim looks, for every due row, at its destination's other pending rows (one sender per
destination, enqueue order); without this index each look scanned every pending row of the
platform, and a batch of a few hundred rows took seconds to claim.

Revision ID: 2b7e9d4c1a60
Revises: 16a0c3e5b7d9
Create Date: 2026-12-06 04:10:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '2b7e9d4c1a60'
down_revision: str | None = '16a0c3e5b7d9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_destination', ['platform', 'destination', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_destination')
