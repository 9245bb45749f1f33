"""Running billing against a ledger store, one atomic batch at a time.

``bill_batch`` is the use case, in numbered steps, all inside one ``store.writing()`` unit (an
exclusive write transaction):

1. price the batch (pure: ``suanli.market.billing.bill``), optimistically assuming none of its
   records is billed yet - the common case, which saves a look-up per record;
2. call ``after_pricing`` if given - a **test-only hook**: the crash test passes a callback that
   SIGKILLs the process here, between pricing and posting;
3. store the lines and the batch's transaction; if the store's unique meter-id guard finds a
   record already billed, nothing of the batch is stored and instead:
4. ask the store which records are billed, price the others, store them;
5. commit.

A crash before step 5 leaves nothing; a re-run bills those records then. Records already billed
are skipped, so offering a record twice (or from two processes at once) bills it once.
``batch_id`` names the batch's ledger transaction and must not have been used by an earlier batch
that stored lines (``bill_all`` derives ids from a ``run_id``: give each run its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from suanli.market.billing import Billing, MeterRecord, TermsBook, bill
from suanli.settlement.ports import LedgerStore


def bill_batch(store: LedgerStore, records: Sequence[MeterRecord], book: TermsBook, *, batch_id: str, at: float,
               after_pricing: Callable[[Billing], None] | None = None) -> Billing:
    with store.writing():
        result = bill(records, book, batch_id=batch_id, at=at)                            # 1
        if after_pricing is not None:                                                     # 2
            after_pricing(result)
        if len(result.columns) and not store.try_record_billing(result):                         # 3
            already = store.billed([r.id for r in records])                               # 4
            result = bill(records, book, already_billed=already, batch_id=batch_id, at=at)
            if len(result.columns):
                store.record_billing(result)
    return result                                                                         # 5


def batches(records: Iterable[MeterRecord], size: int) -> Iterator[list[MeterRecord]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def bill_all(store: LedgerStore, records: Iterable[MeterRecord], book: TermsBook, *, run_id: str, at: float,
             batch_size: int = 10_000) -> int:
    """Bill a stream of records in batches ``<run_id>-<n>``; returns how many lines were new."""
    new = 0
    for n, chunk in enumerate(batches(records, batch_size)):
        new += len(bill_batch(store, chunk, book, batch_id=f"{run_id}-{n}", at=at).columns)
    return new
