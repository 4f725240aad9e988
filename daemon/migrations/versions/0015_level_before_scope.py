"""tickets.level_before_scope: the level the scope rule moved to consultation

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

When the scope step (or staff's `#topic` with a code out of scope) moves a ticket to
the consultation level (§3.8), the level it had is kept here, so that staff's
`#topic` with a code in scope gives it back, its deadlines recomputed. Empty for
every existing ticket: their earlier level was not recorded.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level_before_scope', sa.String(length=32),
                                      server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('level_before_scope')
