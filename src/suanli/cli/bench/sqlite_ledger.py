"""The ``suanli bench market`` ledger: a ledger store on one SQLite file (stdlib ``sqlite3``),
implementing ``services.billing.LedgerStore`` with a schema made for billing a million lines fast.
(Not a subcommand: it has no ``register``. The platform's ledger is ``suanli.store.ledger``.)

Schema (created if missing)::

    ledger_transactions(id TEXT PRIMARY KEY, at REAL, memo TEXT)
    ledger_postings(tx_id TEXT, account TEXT, amount_cents INTEGER)
    ledger_names(id INTEGER PRIMARY KEY, name TEXT UNIQUE)
    billing_batches(id INTEGER PRIMARY KEY, tx_id TEXT, lines INTEGER)
    invoice_lines(meter_id TEXT PRIMARY KEY, tenant_id, provider_id, payee_id, job TEXT, site_id,
                  grade_id, region_id, start REAL, term_id, contract_id, pf16h_units, price_units,
                  amount_cents, fee_cents, credit_cents, batch) WITHOUT ROWID

- Money is integer cents and quantities integer units (10**-6 PF16-h, 10**-4 money per PF16-h):
  sums in SQL are exact.
- ``invoice_lines`` has the columns of ``InvoiceLine`` in order; the few distinct names a run
  repeats a million times (tenant, provider, payee, site, grade, region, term, contract) are
  stored as ids into ``ledger_names`` - as a platform schema would keep foreign keys - which makes
  a line about a third cheaper to write. ``job`` stays text (it is nearly unique per record).
- The primary key ``meter_id`` is the idempotency guard: a meter record can be billed once only.
  The table is clustered on it (WITHOUT ROWID: one B-tree to write per line, not a table and an
  index; meter ids that grow monotonically append at its end).
- Each line names its ``billing_batches`` row, which names the batch's ledger transaction
  (``tx_id`` is empty when the batch moved no money).
- ``writing()`` is ``BEGIN IMMEDIATE ... COMMIT`` (rollback on any error): one batch is one SQLite
  transaction, so a crash at any point leaves either the whole batch or nothing. WAL journal;
  ``synchronous=NORMAL`` (a committed batch survives a process crash; an OS crash may lose the
  last batches, never half of one).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import Any

from suanli.market.billing import Billing
from suanli.market.catalog import Term
from suanli.market.invoice import InvoiceLine
from suanli.market.ledger import Posting, Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_transactions (id TEXT PRIMARY KEY, at REAL NOT NULL, memo TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_postings (
    tx_id TEXT NOT NULL REFERENCES ledger_transactions(id), account TEXT NOT NULL,
    amount_cents INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_postings_account ON ledger_postings(account);
CREATE TABLE IF NOT EXISTS ledger_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS billing_batches (id INTEGER PRIMARY KEY, tx_id TEXT NOT NULL, lines INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS invoice_lines (
    meter_id TEXT NOT NULL PRIMARY KEY, tenant_id INTEGER NOT NULL, provider_id INTEGER NOT NULL,
    payee_id INTEGER NOT NULL, job TEXT NOT NULL, site_id INTEGER NOT NULL, grade_id INTEGER NOT NULL,
    region_id INTEGER NOT NULL, start REAL NOT NULL, term_id INTEGER NOT NULL, contract_id INTEGER NOT NULL,
    pf16h_units INTEGER NOT NULL, price_units INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL, fee_cents INTEGER NOT NULL, credit_cents INTEGER NOT NULL,
    batch INTEGER NOT NULL REFERENCES billing_batches(id)) WITHOUT ROWID;
"""
NAMED = (1, 2, 3, 5, 6, 7, 9, 10)      # InvoiceLine fields stored as ledger_names ids
LINE_COLUMNS = ", ".join(f"{f}_id" if i in NAMED else f for i, f in enumerate(InvoiceLine._fields))
INSERT_LINE = (f"INSERT INTO invoice_lines ({LINE_COLUMNS}, batch) "
               f"VALUES ({', '.join('?' * (len(InvoiceLine._fields) + 1))})")


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
        self._ids: dict[Any, int] = {}     # ledger_names cache; cleared whenever a write rolls back

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
            self._ids.clear()
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._in_unit = False

    def _require_unit(self) -> None:
        if not self._in_unit:
            raise RuntimeError("write outside SqliteLedger.writing()")

    def _name_id(self, name: Any) -> int:
        """The id of ``name`` in ``ledger_names``, adding it if new (inside ``writing()``)."""
        found = self.conn.execute("SELECT id FROM ledger_names WHERE name = ?", (name,)).fetchone()
        if found is None:
            found = (self.conn.execute("INSERT INTO ledger_names (name) VALUES (?)", (name,)).lastrowid,)
        self._ids[name] = found[0]
        return int(found[0])

    def _ids_of(self, names: list[Any]) -> list[int]:
        """``ledger_names`` ids of a column of names (adding the new ones). ``Term`` members hash
        and compare as their value, and sqlite3 stores them as it."""
        for name in set(names).difference(self._ids):
            self._name_id(name)
        return list(map(self._ids.__getitem__, names))

    def _names(self) -> dict[int, str]:
        return dict(self.conn.execute("SELECT id, name FROM ledger_names"))

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
            self._ids.clear()
            return False
        self.conn.execute("RELEASE batch")
        return True

    def record_billing(self, billing: Billing) -> None:
        self._require_unit()
        tx_id = ""
        if billing.transaction is not None:
            self.post(billing.transaction)
            tx_id = billing.transaction.id
        if not len(billing.columns):
            return
        c = billing.columns
        batch = self.conn.execute("INSERT INTO billing_batches (tx_id, lines) VALUES (?, ?)",
                                  (tx_id, len(c))).lastrowid
        ids = self._ids_of
        rows = zip(c.meter_id, ids(c.tenant), ids(c.provider), ids(c.payee), c.job, ids(c.site), ids(c.grade),
                   ids(c.region), c.start, ids(c.term), ids(c.contract), c.pf16h_units,
                   c.price_units, c.amount_cents, c.fee_cents, c.credit_cents, repeat(batch, len(c)), strict=True)
        self.conn.executemany(INSERT_LINE, rows)

    def balances(self) -> dict[str, Decimal]:
        rows = self.conn.execute("SELECT account, SUM(amount_cents) FROM ledger_postings GROUP BY account")
        return {a: Decimal(c).scaleb(-2) for a, c in rows}

    def invoice_lines(self, tenant: str | None = None, start: float = float("-inf"),
                      end: float = float("inf")) -> list[InvoiceLine]:
        sql = f"SELECT {LINE_COLUMNS} FROM invoice_lines WHERE start >= ? AND start < ?"
        args: list[object] = [start, end]
        if tenant is not None:
            sql += " AND tenant_id = (SELECT id FROM ledger_names WHERE name = ?)"
            args.append(tenant)
        names = self._names()
        return [_row_line(r, names) for r in self.conn.execute(sql + " ORDER BY start, meter_id", args)]

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


def _row_line(row: Sequence[Any], names: dict[int, str]) -> InvoiceLine:
    values: list[Any] = [names[v] if i in NAMED else v for i, v in enumerate(row)]
    values[9] = Term(values[9])
    return InvoiceLine(*values)
