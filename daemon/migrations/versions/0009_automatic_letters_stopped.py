"""automatic letters stopped on a ticket (a reply loop)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A sender that answers each of our letters on a ticket within a minute, five
times running, is a robot in a loop with us (issue 21, item 7): the screen's
`reply_loop` step then stops every automatic letter to the ticket and flags it.
`automatic_stopped_at` says since when; NULL (every existing ticket) means
letters go as usual. Adding a nullable column rewrites nothing on PostgreSQL;
SQLite's batch mode copies the table once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('automatic_stopped_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('automatic_stopped_at')
