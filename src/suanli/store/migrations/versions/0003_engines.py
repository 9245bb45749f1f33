"""Engines: a site's engine options; per pool, the capacity its engine last reported

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_options', sa.Text(), nullable=False, server_default='{}'))
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('observed_total', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('observed_free', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('observed_at', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('observed', sa.Text(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.drop_column('observed')
        batch_op.drop_column('observed_at')
        batch_op.drop_column('observed_free')
        batch_op.drop_column('observed_total')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('engine_options')
