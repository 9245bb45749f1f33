"""The platform's history: a sample a minute for the compliance report and the dashboard's plots

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'history',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('sample', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_history_at', 'history', ['at'])


def downgrade() -> None:
    op.drop_index('ix_history_at', table_name='history')
    op.drop_table('history')
