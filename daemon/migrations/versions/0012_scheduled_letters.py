"""scheduled letters sent: the reports and digests of issue 12

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

One row per scheduled letter run (the weekly report of a week, the monthly of a
month, the morning digest of a day), written in the transaction that queues its
letters: the unique (job, run_key) makes it go out once, whichever daemon or
sweep gets there first, and a run whose rendering failed has no row and is tried
again on the next sweep.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheduled_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job', sa.String(length=32), nullable=False),
        sa.Column('run_key', sa.String(length=64), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('letters', sa.Integer(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_runs')),
        sa.UniqueConstraint('job', 'run_key', name=op.f('uq_scheduled_runs_job')),
    )


def downgrade() -> None:
    op.drop_table('scheduled_runs')
