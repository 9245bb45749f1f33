"""Running billing against a ledger store, one atomic batch at a time.

``bill_batch`` is the use case, in numbered steps, all inside one ``store.writing()`` unit:

1. ask the store which of the batch's meter records are already billed;
2. price the rest (pure: ``suanli.market.billing.bill``);
3. call ``after_pricing`` if given - a **test-only hook**: the crash test passes a callback that
   SIGKILLs the process here, between pricing and posting;
4. store the lines and the batch's transaction; commit.

A crash before step 4 commits leaves nothing; a re-run bills those records then. Records already
billed are skipped, so offering a record twice (or from two processes at once) bills it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from suanli.market.billing import Billing, MeterRecord, TermsBook, bill
from suanli.settlement.ports import LedgerStore


def bill_batch(store: LedgerStore, records: Sequence[MeterRecord], book: TermsBook, *, batch_id: str, at: float,
               after_pricing: Callable[[Billing], None] | None = None) -> Billing:
    with store.writing():
        already = store.billed([r.id for r in records])                                   # 1
        result = bill(records, book, already_billed=already, batch_id=batch_id, at=at)   # 2
        if after_pricing is not None:                                                     # 3
            after_pricing(result)
        if result.lines:
            store.record_billing(result)                                                  # 4
    return result


def batches(records: Iterable[MeterRecord], size: int) -> Iterator[list[MeterRecord]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def bill_all(store: LedgerStore, records: Iterable[MeterRecord], book: TermsBook, *, run_id: str, at: float,
             batch_size: int = 10_000) -> int:
    """Bill a stream of records in batches ``<run_id>-<n>``; returns how many lines were new."""
    new = 0
    for n, chunk in enumerate(batches(records, batch_size)):
        new += len(bill_batch(store, chunk, book, batch_id=f"{run_id}-{n}", at=at).lines)
    return new
