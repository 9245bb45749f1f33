"""List-price versions: the operator's changes to list prices and grade rules, each in force from its time

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
    op.create_table('market_price_versions',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_market_price_versions'))
    )


def downgrade() -> None:
    op.drop_table('market_price_versions')
