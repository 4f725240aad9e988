"""sender authentication: a letter's verdict, a ticket's answer address source

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

messages.auth holds the verdict on who a letter is from (SPF, DKIM, DMARC, the
verdict; issue 11), for staff and for the decisions taken on it. tickets.
requester_source says where the address the desk answers came from: the From
header, the Reply-To, the Sender header or the envelope.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth', sa.JSON(), nullable=True))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_source', sa.String(length=16),
                                      server_default='from', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('requester_source')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('auth')
