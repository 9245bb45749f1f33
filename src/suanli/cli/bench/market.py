"""``suanli bench market``: time one spot clearing and a billing run.

Prints one JSON object (``--json``):

- ``clear_ms``: median over ``--repeat`` clearings of ``--orders`` random orders (half bids, half
  asks, seeded, overlapping prices) by the auction's integer fast path (``clear_units``: sort once,
  vectorised sweep) - the clearing itself;
- ``clear_orders_ms``: the same book through ``clear`` - from ``Bid``/``Ask`` objects (units
  computed when the orders were made) to ``Trade`` objects with ``Decimal`` price and quantities;
- ``billing_s``: pricing ``--records`` meter records (on-demand, reserved and spot, a few SLA
  failures) and posting them, in atomic batches of ``--batch-size``, to a SQLite ledger file
  (``cli.bench.sqlite_ledger``); records are generated per batch (as if read from the meter
  table) and generation is not timed (``generate_s``); ``billing_cpu_s`` is the process CPU time of
  the same work (wall time minus waiting for a shared machine's cores and the disk);
- ``orders``, ``records``, ``trades``, ``lines``, ``sum_cents`` (the ledger's total: always 0).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from suanli.cli.bench import print_result
from suanli.domain.errors import InvalidInput
from suanli.market.auction import Ask, Bid, Trade, clear, clear_units
from suanli.market.billing import TermsBook
from suanli.market.catalog import ProductClass, Term
from suanli.market.invoice import MeterRecord
from suanli.market.reserved import ReservedContract


def register(sub: Any) -> None:
    p = sub.add_parser("market", help="time a spot clearing and billing to a SQLite ledger")
    p.add_argument("--orders", type=int, default=100_000, help="orders in one clearing (default 100000)")
    p.add_argument("--records", type=int, default=1_000_000, help="meter records to bill (default 1000000)")
    p.add_argument("--repeat", type=int, default=5, help="clearings to time; the median is reported")
    p.add_argument("--batch-size", type=int, default=10_000, help="meter records per atomic batch")
    p.add_argument("--db", default=None, help="SQLite ledger file (default: a temporary file, removed)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def random_book(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``n`` orders as integer arrays: bids around 20.00, asks around 18.00 per PF16-h (units of
    0.0001), quantities 0.1-100 PF16-h (units of 0.000001), times in an hour."""
    nb, na = n // 2, n - n // 2
    bq = rng.integers(100_000, 100_000_000, nb)
    bp = np.clip(rng.normal(200_000, 40_000, nb), 1, None).astype(np.int64)
    aq = rng.integers(100_000, 100_000_000, na)
    ap = np.clip(rng.normal(180_000, 40_000, na), 1, None).astype(np.int64)
    return bq, bp, rng.uniform(0, 3600, nb), aq, ap, rng.uniform(0, 3600, na)


def _orders(book: tuple[np.ndarray, ...]) -> tuple[list[Bid], list[Ask]]:
    bq, bp, bt, aq, ap, at = (a.tolist() for a in book)
    bids = [Bid(f"b{i}", f"t{i % 50}", Decimal(q).scaleb(-6), Decimal(p).scaleb(-4), t)
            for i, (q, p, t) in enumerate(zip(bq, bp, bt, strict=True))]
    asks = [Ask(f"a{i}", f"provider:p{i % 20}", Decimal(q).scaleb(-6), Decimal(p).scaleb(-4), t)
            for i, (q, p, t) in enumerate(zip(aq, ap, at, strict=True))]
    return bids, asks


def measure_clearing(n: int, repeat: int, seed: int) -> dict[str, Any]:
    book = random_book(n, np.random.default_rng(seed))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fills = clear_units(*book)
        times.append(time.perf_counter() - t0)
    bids, asks = _orders(book)
    order_times = []
    for _ in range(max(1, min(repeat, 3))):
        t0 = time.perf_counter()
        clearing = clear(bids, asks)
        order_times.append(time.perf_counter() - t0)
    return {"clear_ms": round(statistics.median(times) * 1000, 2),
            "clear_orders_ms": round(statistics.median(order_times) * 1000, 2),
            "trades": len(fills.qty), "clearing_price": str(clearing.price)}


def terms_book(tenants: int, providers: int) -> TermsBook:
    from suanli.config.market_file import load_price_book

    reservations = {f"r{t}": ReservedContract(f"r{t}", f"t{t}", f"p{t % providers}", "mid", "r",
                                              Decimal(10**9), 0.0, 1e12, Decimal("18.00"))
                    for t in range(tenants)}
    trades = {f"s{t}": Trade(f"s{t}", f"b{t}", f"a{t}", f"t{t}", f"provider:p{(t + 1) % providers}",
                             Decimal(10**9), Decimal("15.4321"), "top", "r") for t in range(tenants)}
    return TermsBook(load_price_book(), reservations, trades)


def meter_records(n: int, batch: int, rng: np.random.Generator, tenants: int,
                  providers: int) -> Iterator[list[MeterRecord]]:
    """Seeded records in batches: 70% on-demand, 20% reserved, 10% spot; 0.5% SLA failures."""
    grades = ("top", "mid", "entry")
    classes = tuple(ProductClass)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        tenant = rng.integers(0, tenants, m).tolist()
        provider = rng.integers(0, providers, m).tolist()
        kind = rng.random(m).tolist()
        pf16h = rng.integers(1, 50_000_000, m).tolist()
        grade = rng.integers(0, 3, m).tolist()
        cls = rng.integers(0, 3, m).tolist()
        sla = (rng.random(m) < 0.005).tolist()
        out = []
        for i in range(m):
            t = tenant[i]
            term, contract = ((Term.ON_DEMAND, "") if kind[i] < 0.7 else
                              (Term.RESERVED, f"r{t}") if kind[i] < 0.9 else (Term.SPOT, f"s{t}"))
            out.append(MeterRecord(f"m{start + i:012d}", f"j{(start + i) // 8}", f"t{t}", f"p{provider[i]}",
                                   f"site{provider[i]}", grades[grade[i]], "r", float(start + i), 60.0,
                                   Decimal(pf16h[i]).scaleb(-6), 0.0, 0.0, classes[cls[i]], term, contract,
                                   sla[i]))
        yield out


def measure_billing(n: int, batch: int, seed: int, db: str | None) -> dict[str, Any]:
    from suanli.cli.bench.sqlite_ledger import SqliteLedger
    from suanli.services.billing import bill_batch

    tenants, providers = 50, 20
    book = terms_book(tenants, providers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(db) if db else Path(tmp) / "ledger.db"
        store = SqliteLedger(path)
        billing = generate = cpu = 0.0
        lines = 0
        t0 = time.perf_counter()
        for k, records in enumerate(meter_records(n, batch, np.random.default_rng(seed), tenants, providers)):
            t1, c1 = time.perf_counter(), time.process_time()
            generate += t1 - t0
            lines += len(bill_batch(store, records, book, batch_id=f"bench-{seed}-{k}", at=0.0).columns)
            cpu += time.process_time() - c1
            t0 = time.perf_counter()
            billing += t0 - t1
        counts = store.counts()
        store.close()
    return {"billing_s": round(billing, 3), "billing_cpu_s": round(cpu, 3),
            "records_per_s": round(n / billing) if billing else None,
            "generate_s": round(generate, 3), "lines": lines, "sum_cents": counts["sum_cents"],
            "batch_size": batch}


def run(args: Any) -> int:
    if args.orders < 2 or args.records < 0 or args.repeat < 1 or args.batch_size < 1:
        raise InvalidInput("must be positive", field="--orders/--records/--repeat/--batch-size",
                           value=(args.orders, args.records, args.repeat, args.batch_size),
                           fix="give --orders >= 2 and positive counts")
    out: dict[str, Any] = {}
    clearing = measure_clearing(args.orders, args.repeat, args.seed)
    billing = measure_billing(args.records, args.batch_size, args.seed, args.db)
    out = {"clear_ms": clearing["clear_ms"], "billing_s": billing["billing_s"], "orders": args.orders,
           "records": args.records, **clearing, **billing}
    return print_result(out, args.json)
