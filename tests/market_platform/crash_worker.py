"""Run the platform's billing step against a store URL and SIGKILL this process between pricing and
posting (``after_pricing``): ``python -m tests.market_platform.crash_worker URL``."""

from __future__ import annotations

import os
import signal
import sys

from suanli.services.billing import bill_ended
from suanli.services.platform import bootstrap


def main(url: str) -> None:
    p = bootstrap(url, migrate=False)

    def die(billing: object) -> None:
        print("priced", len(billing.columns), flush=True)  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGKILL)

    bill_ended(p, after_pricing=die, now=float(sys.argv[2]))


if __name__ == "__main__":
    main(sys.argv[1])
