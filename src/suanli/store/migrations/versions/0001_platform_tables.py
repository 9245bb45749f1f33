"""Platform tables: federation, tenancy, tokens, jobs, placements, logs, audit (append-only)

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:07:56.984674
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=True),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('hash', name=op.f('uq_api_tokens_hash'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_subject'), ['subject'], unique=False)

    op.create_table('federation_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_version'))
    )
    op.create_table('job_logs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('placement_id', sa.String(length=32), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_logs')),
    sa.UniqueConstraint('placement_id', 'offset', name='uq_job_logs_placement_offset')
    )
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_logs_job_id'), ['job_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_class', sa.String(length=16), nullable=False),
    sa.Column('gpus', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('submit_time', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('placement_id', sa.String(length=32), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('tenant', 'idempotency_key', name='uq_jobs_tenant_idempotency_key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_state_submit', ['state', 'submit_time'], unique=False)
        batch_op.create_index('ix_jobs_tenant_submit', ['tenant', 'submit_time'], unique=False)

    op.create_table('providers',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_providers'))
    )
    op.create_table('regions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('grid_zone', sa.String(length=64), nullable=False),
    sa.Column('carbon_g_per_kwh', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_regions'))
    )
    op.create_table('tenants',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('home_region', sa.String(length=64), nullable=True),
    sa.Column('quota_pf16', sa.Float(), nullable=True),
    sa.Column('budget', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_tenants'))
    )
    op.create_table('links',
    sa.Column('src', sa.String(length=64), nullable=False),
    sa.Column('dst', sa.String(length=64), nullable=False),
    sa.Column('rtt_ms', sa.Float(), nullable=False),
    sa.Column('bandwidth_gbps', sa.Float(), nullable=False),
    sa.Column('egress_per_gb', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['dst'], ['regions.name'], name=op.f('fk_links_dst_regions')),
    sa.ForeignKeyConstraint(['src'], ['regions.name'], name=op.f('fk_links_src_regions')),
    sa.PrimaryKeyConstraint('src', 'dst', name=op.f('pk_links'))
    )
    op.create_table('placements',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('pool_name', sa.String(length=64), nullable=False),
    sa.Column('accelerator', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('lease_id', sa.String(length=32), nullable=True),
    sa.Column('leased_at', sa.Float(), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('slots', sa.String(length=200), nullable=False),
    sa.Column('kill_requested', sa.Boolean(), nullable=False),
    sa.Column('kill_reason', sa.String(length=32), nullable=False),
    sa.Column('predicted_start', sa.Float(), nullable=True),
    sa.Column('predicted_end', sa.Float(), nullable=True),
    sa.Column('predicted_cost', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('breakdown', sa.Text(), nullable=False),
    sa.Column('pf16h', sa.Float(), nullable=False),
    sa.Column('energy_kwh', sa.Float(), nullable=False),
    sa.Column('carbon_kg', sa.Float(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_placements_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placements'))
    )
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placements_job_id'), ['job_id'], unique=False)
        batch_op.create_index('ix_placements_site_state', ['site', 'state'], unique=False)

    op.create_table('queues',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('quota_pf16', sa.Float(), nullable=True),
    sa.Column('priority_class', sa.Integer(), nullable=False),
    sa.Column('budget', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.name'], name=op.f('fk_queues_tenant_tenants')),
    sa.PrimaryKeyConstraint('tenant', 'name', name=op.f('pk_queues'))
    )
    op.create_table('sites',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('engine', sa.String(length=16), nullable=False),
    sa.Column('pue', sa.Float(), nullable=False),
    sa.Column('green_share', sa.Float(), nullable=False),
    sa.Column('carbon_g_per_kwh', sa.Float(), nullable=True),
    sa.Column('price_per_pf16h', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('last_heartbeat', sa.Float(), nullable=True),
    sa.Column('lease_s', sa.Float(), nullable=False),
    sa.Column('live', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['provider'], ['providers.name'], name=op.f('fk_sites_provider_providers')),
    sa.ForeignKeyConstraint(['region'], ['regions.name'], name=op.f('fk_sites_region_regions')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sites'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_provider'), ['provider'], unique=False)

    op.create_table('pools',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('accelerator', sa.String(length=64), nullable=False),
    sa.Column('per_node', sa.Integer(), nullable=False),
    sa.Column('nodes', sa.Integer(), nullable=False),
    sa.Column('cpus_per_node', sa.Integer(), nullable=False),
    sa.Column('memory_gb_per_node', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['site'], ['sites.name'], name=op.f('fk_pools_site_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pools')),
    sa.UniqueConstraint('site', 'name', name=op.f('uq_pools_site'))
    )
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pools_site'), ['site'], unique=False)
    _append_only_audit()


def _append_only_audit() -> None:
    """The audit log refuses UPDATE and DELETE, in both dialects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE FUNCTION suanli_audit_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION suanli_audit_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS suanli_audit_append_only()")
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pools_site'))

    op.drop_table('pools')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_provider'))

    op.drop_table('sites')
    op.drop_table('queues')
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.drop_index('ix_placements_site_state')
        batch_op.drop_index(batch_op.f('ix_placements_job_id'))

    op.drop_table('placements')
    op.drop_table('links')
    op.drop_table('tenants')
    op.drop_table('regions')
    op.drop_table('providers')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_tenant_submit')
        batch_op.drop_index('ix_jobs_state_submit')

    op.drop_table('jobs')
    with op.batch_alter_table('job_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_logs_job_id'))

    op.drop_table('job_logs')
    op.drop_table('federation_version')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('api_tokens')
