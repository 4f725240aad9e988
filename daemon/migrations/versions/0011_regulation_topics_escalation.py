"""the rest of the regulation: topics, postponement reasons, escalation, documentation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Issue 13. tickets.topic is the ticket's topic of §4 or an out-of-scope kind
(§1.3, §1.4), as staff last set it (`#topic CODE`); topic_auto and topic_score are
what the classifier said, kept for the report beside staff's correction
(topic_set_by, topic_set_at). pending_reason is the §5.10 reason of `#pending`.
escalated_at / escalated_to: a letter to the head of support (§6). kb_offered
holds the knowledge-base entries the acknowledgement listed or `#faq` sent;
kb_solved the ones a client's «помогло» closed the ticket with. Nullable columns
and empty-string defaults: nothing is rewritten on PostgreSQL.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=32), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('topic_auto', sa.String(length=32), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('topic_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('topic_set_by', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('topic_set_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('pending_reason', sa.String(length=32),
                                      server_default='', nullable=False))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('escalated_to', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('kb_offered', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('kb_solved', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for name in ('kb_solved', 'kb_offered', 'escalated_to', 'escalated_at',
                     'pending_reason', 'topic_set_at', 'topic_set_by', 'topic_score',
                     'topic_auto', 'topic'):
            batch_op.drop_column(name)
