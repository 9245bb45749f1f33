"""Bill ``n`` records into a SQLite ledger in batches; SIGKILL itself between pricing and posting
of batch number ``crash_at`` (-1: never). Run by test_bill_batch_crash.py and test_bill_batch_sqlite.py as a
subprocess.

usage: python tests/market_platform/bill_batch_crash_worker.py DB N BATCH_SIZE CRASH_AT
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))      # the repository root, for ``tests``

from suanli.cli.bench.sqlite_ledger import SqliteLedger  # noqa: E402
from suanli.services.billing import batches, bill_batch  # noqa: E402
from tests.market_platform.ledger_fixtures import BOOK, records  # noqa: E402


def main() -> None:
    db, n, size, crash_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = SqliteLedger(db)

    def die(_billing: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    for k, chunk in enumerate(batches(records(n), size)):
        bill_batch(store, chunk, BOOK, batch_id=f"run-{os.getpid()}-{k}", at=0.0,
                   after_pricing=die if k == crash_at else None)
    print("done", flush=True)


if __name__ == "__main__":
    main()
