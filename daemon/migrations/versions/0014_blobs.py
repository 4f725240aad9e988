"""blobs: raw letters and attachments kept in the database

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

`[storage] blobs = "database"` (issue 14) keeps each raw letter and attachment in
this table, named by its SHA-256 (`db:SHA256` in `inbound.raw_path`,
`messages.raw_path` and `attachments.stored_path`), written in the transaction
that commits the letter's rows, so every host of several daemons sees them. A new,
empty table: nothing existing is rewritten (`supportd storage migrate` moves the
spool's files in).
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'blobs',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs')),
    )


def downgrade() -> None:
    op.drop_table('blobs')
