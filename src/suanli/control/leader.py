"""Exactly one scheduler at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection; if the leader dies
its connection closes and the lock is free at once, so another replica takes over on its next
try (within one cycle period). ``acquire`` also checks the connection is alive, so a leader
that lost its database connection steps down.
SQLite: an exclusive ``flock`` on ``<db>.leader`` next to the database file (one machine).
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from suanli.store.db import Database

LOCK_KEY = 0x5A4E4C49  # "ZNLI"


class PostgresLeader:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Any = None

    def acquire(self) -> bool:
        try:
            if self.conn is None:
                import psycopg

                url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
                cur = self.conn.cursor()
                cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                got = bool(cur.fetchone()[0])
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

    def release(self) -> None:
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
