"""spam verdicts: on each letter, and on each arrival (held ones too)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

messages.spam keeps the spam verdict a letter had before any answer (backend,
score, action, the main symbols; issue 18, regulation §5.11) for staff and
`tickets show --json`. inbound.spam keeps it for every arrival, the letters held
in the quarantine included, which have no message row. NULL: nothing judged
(the check is off, or the letter came before it). Nullable columns: nothing to
rewrite on PostgreSQL; SQLite's batch mode copies each table once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spam', sa.JSON(), nullable=True))
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spam', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.drop_column('spam')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('spam')
