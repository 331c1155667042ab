"""replicas: claim tokens, in-flight marks, shared pace, one open episode per target

Revision ID: 11a0c7e4d2b1
Revises: 5e134a7c4dac
Create Date: 2026-12-05 17:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision: str = '11a0c7e4d2b1'
down_revision: str | None = '5e134a7c4dac'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_item') as batch:
        batch.add_column(sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch.add_column(sa.Column('sending_since', bot.store.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('destination_hold') as batch:
        batch.add_column(sa.Column('next_send_at', bot.store.types.UTCDateTime(), nullable=True))
    # Episodes opened twice for one target by racing replicas before this revision: keep the oldest open.
    op.execute("UPDATE breach_episode SET status = 'recovered', recovered_at = last_violating_end "
               "WHERE status = 'open' AND id NOT IN (SELECT MIN(id) FROM breach_episode WHERE status = 'open' "
               "GROUP BY target_id)")
    op.create_index('uq_breach_open_target', 'breach_episode', ['target_id'], unique=True,
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('uq_breach_open_target', table_name='breach_episode')
    with op.batch_alter_table('destination_hold') as batch:
        batch.drop_column('next_send_at')
    with op.batch_alter_table('outbox_item') as batch:
        batch.drop_column('sending_since')
        batch.drop_column('claim_token')
