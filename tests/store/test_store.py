"""The store suite, run against a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from suanli.services import federation, jobs, tokens
from suanli.services.errors import Unauthorized
from suanli.services.platform import SYSTEM, Caller, Platform, bootstrap
from suanli.store.db import Database

TENANT = Caller("tok_t", "tenant", tenant="demo")


@pytest.fixture
def platform(store_url: str) -> Platform:
    p = bootstrap(store_url)
    federation.seed_from_file(p, "demo-local")
    yield p
    p.db.dispose()


def test_migrations_run_twice_and_seed_is_idempotent(platform: Platform) -> None:
    platform.db.migrate()
    federation.seed_from_file(platform, "demo-local")
    with platform.uow() as uow:
        assert [s["name"] for s in uow.federation.sites()] == ["nx-hub", "sh-city", "sz-edge"]
        assert len(uow.federation.pools()) == 3
        assert uow.tenancy.queue("demo", "urgent")["priority_class"] == 10


def test_money_is_decimal_round_trip(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.federation.update_site("nx-hub", price_per_pf16h=Decimal("8.123456"))
    with platform.uow() as uow:
        price = uow.federation.site("nx-hub")["price_per_pf16h"]
    assert isinstance(price, Decimal) and price == Decimal("8.123456")


def test_job_and_audit_commit_together_or_not_at_all(platform: Platform) -> None:
    job, created = jobs.submit(platform, TENANT, {"command": ["true"], "gpus": 1})
    assert created
    with platform.uow() as uow:
        assert uow.jobs.get(job["id"])["state"] == "pending"
        assert [a["action"] for a in uow.audit.find(subject=job["id"])] == ["job.submit"]
    with pytest.raises(RuntimeError), platform.uow() as uow:
        uow.jobs.transition(job["id"], "pending", "cancelled", updated_at=1.0)
        uow.audit.record(1.0, "x", "operator", "job.cancel", job["id"])
        raise RuntimeError("crash before commit")
    with platform.uow() as uow:
        assert uow.jobs.get(job["id"])["state"] == "pending"
        assert len(uow.audit.find(subject=job["id"])) == 1


def test_transition_is_conditional(platform: Platform) -> None:
    job, _ = jobs.submit(platform, TENANT, {"command": ["true"]})
    with platform.uow() as uow:
        assert uow.jobs.transition(job["id"], "pending", "placed", updated_at=1.0)
        assert not uow.jobs.transition(job["id"], "pending", "placed", updated_at=1.0)


def test_idempotency_key_gives_one_job(platform: Platform) -> None:
    a, created_a = jobs.submit(platform, TENANT, {"command": ["true"]}, idempotency_key="k-1")
    b, created_b = jobs.submit(platform, TENANT, {"command": ["true"]}, idempotency_key="k-1")
    assert a["id"] == b["id"] and created_a and not created_b
    subs = [jobs.prepare(platform, TENANT, {"command": ["true"]}, idempotency_key=k) for k in ("k-2", "k-2", "k-1")]
    results = jobs.store(platform, subs)
    assert results[0][0]["id"] == results[1][0]["id"] and results[0][1] and not results[1][1]
    assert results[2][0]["id"] == a["id"] and not results[2][1]
    with platform.uow() as uow:
        assert len(uow.jobs.find(tenant="demo", limit=100)) == 2
        with pytest.raises(IntegrityError):
            uow.jobs.add(**{**uow.jobs.get(a["id"]), "id": "j-dup"})


def test_audit_log_is_append_only(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.audit.record(1.0, "a", "operator", "x", "y")
    for sql in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), platform.uow() as uow:
            uow.conn.exec_driver_sql(sql)
    with platform.uow() as uow:
        assert uow.audit.find(action="x")[0]["actor"] == "a"


def test_tokens_are_stored_hashed_and_revocable(platform: Platform) -> None:
    row, secret = tokens.create_token(platform, SYSTEM, role="tenant", tenant="demo")
    with platform.uow() as uow:
        stored = uow.tokens.get(row["id"])
    assert secret not in str(stored) and stored["hash"] == tokens.digest(secret)
    assert tokens.authenticate(platform, secret).tenant == "demo"
    tokens.revoke_token(platform, SYSTEM, row["id"])
    with pytest.raises(Unauthorized):
        tokens.authenticate(platform, secret)


def test_paging_returns_every_job_once(platform: Platform) -> None:
    ids = {jobs.submit(platform, TENANT, {"command": ["true"]})[0]["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = jobs.list_jobs(platform, TENANT, limit=3, cursor=cursor)
        seen += [j["id"] for j in page]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)


def test_database_dialects(store_url: str) -> None:
    db = Database(store_url)
    assert db.dialect in ("sqlite", "postgresql")
    db.dispose()


def test_migrations_match_the_tables(store_url: str) -> None:
    """The Alembic head creates exactly the tables the code declares (no drift)."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import suanli.store
    from suanli.store.db import metadata

    for info in pkgutil.iter_modules(suanli.store.__path__):
        if info.name != "migrations":
            importlib.import_module(f"suanli.store.{info.name}")
    db = Database(store_url)
    db.migrate()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    db.dispose()


def test_new_aggregates_register_a_repository(platform: Platform) -> None:
    from suanli.store.uow import REPOSITORIES, register_repository

    class Probe:
        def __init__(self, conn: object) -> None:
            self.conn = conn

    register_repository("probe", Probe)
    try:
        with platform.uow() as uow:
            assert uow.probe.conn is uow.conn
        with pytest.raises(ValueError):
            register_repository("probe", type("Other", (), {}))
    finally:
        REPOSITORIES.remove("probe")


def test_a_reader_does_not_wait_for_the_writer(platform: Platform) -> None:
    """``Platform.read()`` sees the last committed state while a write transaction is open (on
    SQLite it takes no writer lock, so it neither waits nor fails)."""
    import time

    with platform.uow() as writer:
        writer.federation.update_site("nx-hub", price_per_pf16h=Decimal("9"))
        t0 = time.monotonic()
        with platform.read() as reader:
            assert reader.federation.site("nx-hub")["price_per_pf16h"] == Decimal("8")
        assert time.monotonic() - t0 < 1.0
    with platform.read() as reader:
        assert reader.federation.site("nx-hub")["price_per_pf16h"] == Decimal("9")


def test_a_log_chunk_past_2_gib_is_stored_at_its_offset(platform: Platform) -> None:
    """A job that prints more than 2 GiB keeps its tail at the real byte offset (64-bit offsets)."""
    with platform.uow() as uow:
        assert uow.jobs.append_log("j-big", "p-big", 0, "head\n")
        assert uow.jobs.append_log("j-big", "p-big", 3_000_000_000, "tail\n")      # past 2**31
        assert not uow.jobs.append_log("j-big", "p-big", 3_000_000_000, "tail\n")  # a retry: stored once
        chunks = uow.jobs.logs("j-big")
    assert [(c["offset"], c["data"]) for c in chunks] == [(0, "head\n"), (3_000_000_000, "tail\n")]
