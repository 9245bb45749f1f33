"""A ledger store on SQLite (stdlib ``sqlite3``), implementing ``settlement.ports.LedgerStore``.

Schema (created if missing)::

    ledger_transactions(id TEXT PRIMARY KEY, at REAL, memo TEXT)
    ledger_postings(tx_id TEXT, account TEXT, amount_cents INTEGER)
    invoice_lines(meter_id TEXT UNIQUE, tenant, provider, payee, job, site, grade, region, start REAL,
                  term, contract, pf16h_units, price_units, amount_cents, fee_cents, credit_cents)
    billing_batches(tx_id TEXT, first_line INTEGER, last_line INTEGER, lines INTEGER)

Money is stored as integer cents and quantities as integer units (10**-6 PF16-h, 10**-4 money per
PF16-h), so sums in SQL are exact. ``invoice_lines`` has the columns of ``InvoiceLine`` in order,
so a batch's lines are written as they are. The UNIQUE ``meter_id`` is the idempotency guard: a
meter record can be billed once only. A batch's lines are the rowids ``first_line..last_line``
of ``billing_batches`` (one writer at a time, so they are contiguous); ``tx_id`` is empty when the
batch moved no money.

``writing()`` is ``BEGIN IMMEDIATE ... COMMIT`` (rollback on any error): one batch is one SQLite
transaction, so a crash at any point leaves either the whole batch or nothing. WAL journal;
``synchronous=NORMAL`` (a committed batch survives a process crash; an OS crash may lose the last
batches, never half of one).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from suanli.market.billing import Billing, InvoiceLine
from suanli.market.catalog import Term
from suanli.market.ledger import Posting, Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_transactions (id TEXT PRIMARY KEY, at REAL NOT NULL, memo TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_postings (
    tx_id TEXT NOT NULL REFERENCES ledger_transactions(id), account TEXT NOT NULL,
    amount_cents INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_postings_account ON ledger_postings(account);
CREATE TABLE IF NOT EXISTS invoice_lines (
    meter_id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, provider TEXT NOT NULL, payee TEXT NOT NULL,
    job TEXT NOT NULL, site TEXT NOT NULL, grade TEXT NOT NULL, region TEXT NOT NULL, start REAL NOT NULL,
    term TEXT NOT NULL, contract TEXT NOT NULL, pf16h_units INTEGER NOT NULL, price_units INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL, fee_cents INTEGER NOT NULL, credit_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS billing_batches (
    tx_id TEXT NOT NULL, first_line INTEGER NOT NULL, last_line INTEGER NOT NULL, lines INTEGER NOT NULL);
"""
LINE_COLUMNS = ", ".join(InvoiceLine._fields)
assert LINE_COLUMNS.startswith("meter_id, tenant") and len(InvoiceLine._fields) == 16


def _row_line(row: Sequence[Any]) -> InvoiceLine:
    return InvoiceLine(*row[:9], Term(row[9]), *row[10:])  # type: ignore[call-arg]


class SqliteLedger:
    """``LedgerStore`` on one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path, *, timeout_s: float = 60.0) -> None:
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-262144")       # 256 MiB of page cache
        self.conn.execute("PRAGMA wal_autocheckpoint=16384")  # checkpoint every ~64 MiB of WAL
        self.conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        self.conn.executescript(SCHEMA)
        self._in_unit = False

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        self._in_unit = True
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._in_unit = False

    def _require_unit(self) -> None:
        if not self._in_unit:
            raise RuntimeError("write outside SqliteLedger.writing()")

    def billed(self, meter_ids: Sequence[str]) -> set[str]:
        if not meter_ids:
            return set()
        rows = self.conn.execute(
            "SELECT meter_id FROM invoice_lines WHERE meter_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(meter_ids)),))
        return {r[0] for r in rows}

    def post(self, tx: Transaction) -> None:
        self._require_unit()
        self.conn.execute("INSERT INTO ledger_transactions (id, at, memo) VALUES (?, ?, ?)", (tx.id, tx.at, tx.memo))
        self.conn.executemany("INSERT INTO ledger_postings (tx_id, account, amount_cents) VALUES (?, ?, ?)",
                              [(tx.id, p.account, int(p.amount.scaleb(2))) for p in tx.postings])

    def try_record_billing(self, billing: Billing) -> bool:
        """Store the billing unless one of its meter records is already billed (the UNIQUE guard
        fires): then store nothing of it and return False. Inside ``writing()``."""
        self._require_unit()
        self.conn.execute("SAVEPOINT batch")
        try:
            self.record_billing(billing)
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK TO batch")
            self.conn.execute("RELEASE batch")
            return False
        self.conn.execute("RELEASE batch")
        return True

    def record_billing(self, billing: Billing) -> None:
        self._require_unit()
        tx_id = ""
        if billing.transaction is not None:
            self.post(billing.transaction)
            tx_id = billing.transaction.id
        if not billing.lines:
            return
        # InvoiceLine is a tuple in column order; Term is a str enum, stored as its value
        self.conn.executemany(f"INSERT INTO invoice_lines ({LINE_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                              billing.lines)
        last = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        n = len(billing.lines)
        self.conn.execute("INSERT INTO billing_batches (tx_id, first_line, last_line, lines) VALUES (?, ?, ?, ?)",
                          (tx_id, last - n + 1, last, n))

    def balances(self) -> dict[str, Decimal]:
        rows = self.conn.execute("SELECT account, SUM(amount_cents) FROM ledger_postings GROUP BY account")
        return {a: Decimal(c).scaleb(-2) for a, c in rows}

    def invoice_lines(self, tenant: str | None = None, start: float = float("-inf"),
                      end: float = float("inf")) -> list[InvoiceLine]:
        sql = f"SELECT {LINE_COLUMNS} FROM invoice_lines WHERE start >= ? AND start < ?"
        args: list[object] = [start, end]
        if tenant is not None:
            sql += " AND tenant = ?"
            args.append(tenant)
        return [_row_line(r) for r in self.conn.execute(sql + " ORDER BY start, meter_id", args)]

    def transactions(self) -> list[Transaction]:
        postings: dict[str, list[Posting]] = {}
        for tx_id, account, cents in self.conn.execute(
                "SELECT tx_id, account, amount_cents FROM ledger_postings ORDER BY rowid"):
            postings.setdefault(tx_id, []).append(Posting(account, Decimal(cents).scaleb(-2)))
        return [Transaction(i, at, memo, tuple(postings.get(i, ())))
                for i, at, memo in self.conn.execute("SELECT id, at, memo FROM ledger_transactions ORDER BY rowid")]

    def counts(self) -> dict[str, int]:
        """Rows per table, and the sum of all postings in cents (always 0)."""
        one = self.conn.execute
        return {"transactions": one("SELECT COUNT(*) FROM ledger_transactions").fetchone()[0],
                "postings": one("SELECT COUNT(*) FROM ledger_postings").fetchone()[0],
                "lines": one("SELECT COUNT(*) FROM invoice_lines").fetchone()[0],
                "sum_cents": one("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_postings").fetchone()[0]}
