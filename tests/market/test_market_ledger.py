"""The ledger: balanced transactions only; balances derived from postings; total always zero."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.errors import InvalidInput
from suanli.market.ledger import Ledger, Posting, Transaction, transaction, transfer


def test_balanced_transaction_and_balances():
    ledger = Ledger().post(
        transfer("t1", 0.0, "deposit", "external:bank", "tenant:lab", D("100.00")),
        transaction("t2", 1.0, "usage", {"tenant:lab": D("-25.00"), "provider:acme": D("22.50"),
                                         "platform:fees": D("2.50")}),
    )
    assert ledger.balances() == {"external:bank": D("-100.00"), "tenant:lab": D("75.00"),
                                 "provider:acme": D("22.50"), "platform:fees": D("2.50")}
    assert ledger.balance("tenant:lab") == D("75.00") and ledger.total() == 0


@pytest.mark.parametrize("postings, problem", [
    ((Posting("tenant:a", D("-1.00")), Posting("provider:b", D("0.99"))), "sum to zero"),
    ((Posting("tenant:a", D("0.00")),), "two postings"),
    ((Posting("tenant:a", D("-0.005")), Posting("provider:b", D("0.005"))), "rounded to the cent"),
    ((Posting("tenant:a", -1.0), Posting("provider:b", 1.0)), "Decimal"),
    ((Posting("bank", D("-1")), Posting("provider:b", D("1"))), "not a ledger account"),
])
def test_unbalanced_or_malformed_transactions_are_refused(postings, problem):
    with pytest.raises(InvalidInput, match=problem):
        Transaction("t", 0.0, "", postings)


def test_ids_are_unique_and_transfers_positive():
    ledger = Ledger().post(transfer("t1", 0.0, "", "tenant:a", "tenant:b", D("1")))
    with pytest.raises(InvalidInput, match="already posted"):
        ledger.post(transfer("t1", 0.0, "", "tenant:a", "tenant:b", D("1")))
    with pytest.raises(InvalidInput, match="positive"):
        transfer("t2", 0.0, "", "tenant:a", "tenant:b", D("0"))


ACCOUNTS = ["tenant:a", "tenant:b", "provider:p", "provider:q", "platform:fees", "platform:clearing",
            "external:bank"]
cents = st.integers(-10**9, 10**9).map(lambda c: D(c).scaleb(-2))


@st.composite
def op(draw):
    """A random balanced transaction: n-1 random amounts and the balancing last one."""
    accounts = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=2, max_size=5))
    amounts = [draw(cents) for _ in accounts[:-1]]
    return list(zip(accounts, [*amounts, -sum(amounts, D(0))], strict=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(op(), max_size=30))
def test_ledger_sums_to_zero_after_any_sequence(ops):
    ledger = Ledger()
    for i, postings in enumerate(ops):
        ledger = ledger.post(Transaction(f"t{i}", float(i), "", tuple(Posting(a, v) for a, v in postings)))
        assert ledger.total() == 0
    expected: dict[str, D] = {}
    for postings in ops:
        for a, v in postings:
            expected[a] = expected.get(a, D(0)) + v
    assert ledger.balances() == expected
