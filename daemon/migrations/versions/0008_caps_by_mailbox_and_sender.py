"""the caps count by mailbox and by the sender who caused them; folded notifications

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

outgoing.recipient_key is the recipient's mailbox (lower case, +tag dropped) and
outgoing.cause_key the mailbox of the sender whose letter made us write (issue 21:
a cap that rotating +tags or Reply-To addresses cannot dodge). Rows written before
this revision have neither and are not counted: the cap's window is an hour.
notification_folds records the staff notifications folded into the next one.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_key', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('cause_key', sa.String(length=320), nullable=True))
        batch_op.create_index('ix_outgoing_recipient_key_created',
                              ['recipient_key', 'created_at'], unique=False)
        batch_op.create_index('ix_outgoing_cause_key_created', ['cause_key', 'created_at'],
                              unique=False)
    op.create_table(
        'notification_folds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('recipient_key', sa.String(length=320), nullable=False),
        sa.Column('cause_key', sa.String(length=320), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'],
                                name=op.f('fk_notification_folds_ticket_id_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_folds')))
    op.create_index('ix_notification_folds_key', 'notification_folds',
                    ['recipient_key', 'cause_key', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notification_folds_key', table_name='notification_folds')
    op.drop_table('notification_folds')
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_cause_key_created')
        batch_op.drop_index('ix_outgoing_recipient_key_created')
        batch_op.drop_column('cause_key')
        batch_op.drop_column('recipient_key')
