"""Log chunk offsets are 64-bit: a job that prints more than 2 GiB keeps its tail at its real offset

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.alter_column('offset', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.alter_column('offset', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
