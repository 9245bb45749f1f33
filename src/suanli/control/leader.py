"""Exactly one scheduler at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection; if the leader dies
its connection closes and the lock is free at once, so another replica takes over on its next
try (within one cycle period). ``acquire`` also checks the connection is alive, so a leader
that lost its database connection steps down.

Fencing: a leader can lose its lock in the middle of a cycle (its lock connection is cut while
its other connections still work). So every transaction of a cycle calls ``fence`` first: it
takes a shared transaction lock on ``FENCE_KEY`` and checks in ``pg_locks`` that this leader's
lock connection still holds the leadership lock, else it raises ``LostLeadership`` and the
transaction writes nothing. A new leader, once it has the lock, takes ``FENCE_KEY`` exclusively
(and lets go): that waits for every transaction of the old leader that passed its check, so
the new leader's first snapshot sees all of them. No write of an old leader lands after that.
SQLite: an exclusive ``flock`` on ``<db>.leader`` next to the database file (one machine).
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from suanli.store.db import Database

LOCK_KEY = 0x5A4E4C49  # "ZNLI"
FENCE_KEY = LOCK_KEY + 1

_HOLDS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid "
              "AND classid = 0 AND objid = CAST(:key AS oid) AND objsubid = 1")


class LostLeadership(RuntimeError):
    """This process no longer holds the scheduler leadership: the cycle must not write."""


class PostgresLeader:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Any = None
        self.pid: int | None = None   # the backend of the lock connection

    def acquire(self) -> bool:
        try:
            if self.conn is None:
                import psycopg

                url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
                cur = self.conn.cursor()
                cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                got = bool(cur.fetchone()[0])
                if got:
                    # wait for the writes of a previous leader that passed their fence (bounded:
                    # a stuck one makes us let go and try again)
                    cur.execute("SET lock_timeout = '10s'")
                    cur.execute("SELECT pg_advisory_lock(%s)", (FENCE_KEY,))
                    cur.execute("SELECT pg_advisory_unlock(%s)", (FENCE_KEY,))
                    self.pid = self.conn.info.backend_pid
                cur.close()
                if not got:
                    self.release()
                return got
            cur = self.conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            return True
        except Exception:
            self.release()
            return False

    def fence(self, conn: Connection) -> None:
        """First statement of each transaction of a cycle: raise ``LostLeadership`` unless this
        leader's lock connection still holds the lock (see the module doc)."""
        if self.pid is None:
            raise LostLeadership("not the scheduler leader")
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(CAST(:key AS bigint))"), {"key": FENCE_KEY})
        if not conn.execute(_HOLDS, {"pid": self.pid, "key": LOCK_KEY}).scalar():
            raise LostLeadership("the scheduler leadership lock was lost (its database connection ended)")

    def release(self) -> None:
        self.pid = None
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


class FileLeader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def leader_for(db: Database) -> PostgresLeader | FileLeader:
    if db.dialect == "postgresql":
        return PostgresLeader(db)
    path = db.engine.url.database or "suanli.db"
    return FileLeader(path + ".leader")
