"""A ledger store on SQLite (stdlib ``sqlite3``), implementing ``settlement.ports.LedgerStore``.

Schema (created if missing)::

    ledger_transactions(id TEXT PRIMARY KEY, at REAL, memo TEXT)
    ledger_postings(tx_id TEXT, account TEXT, amount_cents INTEGER)
    invoice_lines(meter_id TEXT PRIMARY KEY, tx_id TEXT, tenant, provider, payee, job, site, grade,
                  region, start REAL, term, contract, pf16h, unit_price, amount, fee, credit)
                  WITHOUT ROWID   -- Decimals as exact decimal strings

Postings are stored as integer cents, so balances summed in SQL are exact. Invoice lines keep
their Decimals as exact decimal strings (``str(Decimal)`` is several times cheaper than scaling
to integers, which matters at a million lines per run); sum them in Python as ``Decimal``, not in
SQL (SQLite would sum them as floats). The primary key on
``invoice_lines.meter_id`` is the idempotency guard: a meter record can be billed once only.

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
    meter_id TEXT PRIMARY KEY, tx_id TEXT, tenant TEXT NOT NULL, provider TEXT NOT NULL, payee TEXT NOT NULL,
    job TEXT NOT NULL, site TEXT NOT NULL, grade TEXT NOT NULL, region TEXT NOT NULL, start REAL NOT NULL,
    term TEXT NOT NULL, contract TEXT NOT NULL, pf16h TEXT NOT NULL, unit_price TEXT NOT NULL,
    amount TEXT NOT NULL, fee TEXT NOT NULL, credit TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS invoice_lines_tenant_start ON invoice_lines(tenant, start);
"""
LINE_COLUMNS = ("meter_id, tx_id, tenant, provider, payee, job, site, grade, region, start, term, contract, "
                "pf16h, unit_price, amount, fee, credit")


def _cents(d: Decimal) -> int:
    return int(d * 100)


def _line_row(x: InvoiceLine, tx_id: str | None) -> tuple[object, ...]:
    # Term is a str enum: sqlite3 stores its value. Decimals go in as exact strings.
    return (x.meter_id, tx_id, x.tenant, x.provider, x.payee, x.job, x.site, x.grade, x.region, x.start,
            x.term, x.contract, str(x.pf16h), str(x.unit_price), str(x.amount), str(x.fee), str(x.credit))


def _row_line(row: Sequence[object]) -> InvoiceLine:
    (meter_id, _tx, tenant, provider, payee, job, site, grade, region, start, term, contract,
     pf16h, price, amount, fee, credit) = row
    return InvoiceLine(str(meter_id), str(tenant), str(provider), str(payee), str(job), str(site), str(grade),
                       str(region), float(start), Term(term), str(contract),  # type: ignore[arg-type]
                       Decimal(str(pf16h)), Decimal(str(price)), Decimal(str(amount)), Decimal(str(fee)),
                       Decimal(str(credit)))


class SqliteLedger:
    """``LedgerStore`` on one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path, *, timeout_s: float = 60.0) -> None:
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-262144")       # 256 MiB of page cache
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
                              [(tx.id, p.account, _cents(p.amount)) for p in tx.postings])

    def record_billing(self, billing: Billing) -> None:
        self._require_unit()
        tx_id = billing.transaction.id if billing.transaction is not None else None
        if billing.transaction is not None:
            self.post(billing.transaction)
        self.conn.executemany(f"INSERT INTO invoice_lines ({LINE_COLUMNS}) VALUES ({', '.join('?' * 17)})",
                              [_line_row(x, tx_id) for x in billing.lines])

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
