"""Can a reader see an invoice half-built (issue 15, section 5)? On SQLite and PostgreSQL: while a
billing run has stored its lines and its transaction but not committed, a reader on another
connection sees none of them; after the commit it sees every line and the postings that match.

This is what ``test_market_cli`` relied on; its flake was the test's wait instead: a tenant's
invoice for a period is returned even when nothing is billed yet (an empty invoice, no lines), so
waiting for "an invoice" returned before the market step had billed the job."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from suanli.services.billing import bill_ended
from suanli.store.ledger import LedgerRepo
from tests.api.helpers import World
from tests.market_platform.helpers import Clock, run_job


def _seen(w: World) -> tuple[int, Decimal]:
    """Lines and the tenant's balance as another connection sees them now."""
    with w.p.read() as r:
        return len(r.ledger.invoice_lines("demo")), r.ledger.balances().get("tenant:demo", Decimal(0))


def test_a_reader_never_sees_invoice_lines_before_the_billing_commits(mw: tuple[World, Clock],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    w, clock = mw
    for _ in range(3):
        assert run_job(w, clock, hours=0.5) is not None
    assert w.client.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]["lines"] == []  # empty, not half
    inside: list[tuple[int, Decimal]] = []
    original = LedgerRepo.record_billing

    def record_then_look(self: LedgerRepo, billing: Any) -> None:
        original(self, billing)
        inside.append(_seen(w))             # stored in the billing transaction, not committed yet

    monkeypatch.setattr(LedgerRepo, "record_billing", record_then_look)
    monkeypatch.setattr(LedgerRepo, "try_record_billing",
                        lambda self, billing: (record_then_look(self, billing), True)[1])
    assert bill_ended(w.p)["lines"] == 3
    assert inside == [(0, Decimal(0))]
    lines, balance = _seen(w)
    inv = w.client.get("/v1/invoices", headers=w.h("tenant")).json()["items"][0]
    assert lines == len(inv["lines"]) == 3 and balance == -Decimal(inv["total"]) != 0
