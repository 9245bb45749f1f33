"""Hourly metering and budgets in PF16-hours: how many metering periods of each placement are
billed; tenants' and queues' PF16-hour budgets and the period a budget counts over

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('market_meter_marks',
                    sa.Column('placement_id', sa.String(length=32), nullable=False),
                    sa.Column('periods', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('placement_id'))
    for table in ('tenants', 'queues'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('budget_pf16h', sa.Float(), nullable=True))
            batch_op.add_column(sa.Column('budget_per', sa.String(length=8), nullable=True))


def downgrade() -> None:
    for table in ('queues', 'tenants'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('budget_per')
            batch_op.drop_column('budget_pf16h')
    op.drop_table('market_meter_marks')
