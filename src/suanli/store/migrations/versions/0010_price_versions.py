"""List-price versions (the operator's changes to list prices and grade rules, each in force from its time);
an index of invoice lines by job (a billed placement's cost is the sum of its lines)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
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
    with op.batch_alter_table('market_invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_market_invoice_lines_job'), ['job'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('market_invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_market_invoice_lines_job'))
    op.drop_table('market_price_versions')
