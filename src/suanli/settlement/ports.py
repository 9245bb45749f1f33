"""The small interface billing needs from a ledger store (SQLite now; the platform store later).

A store keeps transactions with their postings, invoice lines, and - through the lines' unique
meter ids - which meter records are billed. Writes happen inside ``writing()``, one atomic unit:
either every row of a batch is stored or none is. ``writing()`` also serialises writers, so the
"already billed?" check and the insert of a batch cannot interleave with another writer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol

from suanli.market.billing import Billing, InvoiceLine
from suanli.market.ledger import Transaction


class LedgerStore(Protocol):
    def writing(self) -> AbstractContextManager[None]:
        """One atomic, exclusive write unit."""

    def billed(self, meter_ids: Sequence[str]) -> set[str]:
        """Which of these meter records are already billed."""

    def record_billing(self, billing: Billing) -> None:
        """Store a billing result's lines and transaction (inside ``writing()``)."""

    def try_record_billing(self, billing: Billing) -> bool:
        """Like ``record_billing``, but if a meter record of it is already billed store nothing
        and return False (inside ``writing()``)."""

    def post(self, tx: Transaction) -> None:
        """Store a transaction (inside ``writing()``)."""

    def balances(self) -> dict[str, Decimal]:
        """Balance per account, summed from the postings."""

    def invoice_lines(self, tenant: str | None = None, start: float = float("-inf"),
                      end: float = float("inf")) -> list[InvoiceLine]:
        """Stored lines of a tenant (or all) whose usage started in ``[start, end)``."""

    def transactions(self) -> Iterable[Transaction]:
        """Every stored transaction with its postings."""
