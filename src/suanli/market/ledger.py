"""A double-entry ledger as pure values.

Accounts are names with a kind prefix:

==================  ==========================================================
``tenant:<name>``    a tenant; charges debit it (negative), credits and deposits raise it
``provider:<name>``  a provider; earnings (net of the platform fee) raise it
``platform:fees``    the platform's fee income
``platform:clearing`` the platform's cash in transit: deposits in, payouts out
``external:<name>``  money outside the platform (a bank), the other side of deposits/payouts
==================  ==========================================================

Sign convention: a posting's amount is added to its account's balance; a positive amount is
money the account receives, a negative one money it gives.

Invariants: every transaction has at least two postings, each amount is already rounded to the
cent (``round_money`` is applied by whoever priced it, never here), and the postings sum to exactly
zero, so the sum of all balances is always zero. Balances are derived from postings only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from suanli.domain.errors import InvalidInput
from suanli.market.money import ZERO, round_money

ACCOUNT_KINDS = ("tenant", "provider", "platform", "external")
PLATFORM_FEES = "platform:fees"
PLATFORM_CLEARING = "platform:clearing"


def tenant_account(name: str) -> str:
    return f"tenant:{name}"


def provider_account(name: str) -> str:
    return f"provider:{name}"


def check_account(account: str) -> str:
    kind, sep, name = account.partition(":")
    if not sep or kind not in ACCOUNT_KINDS or not name:
        raise InvalidInput("not a ledger account", field="account", value=account,
                           fix="write <kind>:<name> with kind one of " + ", ".join(ACCOUNT_KINDS))
    return account


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Transaction:
    """Postings that move money between accounts; they sum to zero."""

    id: str
    at: float
    memo: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise InvalidInput("a transaction needs at least two postings", field="postings",
                               value=len(self.postings), fix="post both sides of the movement")
        total = ZERO
        for p in self.postings:
            check_account(p.account)
            if not isinstance(p.amount, Decimal) or p.amount != round_money(p.amount):
                raise InvalidInput("a posting amount must be a Decimal rounded to the cent", field="amount",
                                   value=p.amount, fix="round it with round_money before posting")
            total += p.amount
        if total != 0:
            raise InvalidInput("postings do not sum to zero", field="postings", value=str(total),
                               fix="balance the transaction: debits must equal credits")


def transaction(id: str, at: float, memo: str, amounts: Mapping[str, Decimal]) -> Transaction:
    """A transaction from per-account amounts; zero amounts are dropped."""
    return Transaction(id, at, memo, tuple(Posting(a, v) for a, v in amounts.items() if v != 0))


def transfer(id: str, at: float, memo: str, source: str, target: str, amount: Decimal) -> Transaction:
    """Move ``amount`` (> 0, rounded to the cent) from ``source`` to ``target``."""
    if amount <= 0:
        raise InvalidInput("a transfer amount must be positive", field="amount", value=amount, fix="give an amount > 0")
    return Transaction(id, at, memo, (Posting(source, -amount), Posting(target, amount)))


def balances(transactions: Iterable[Transaction]) -> dict[str, Decimal]:
    """Balance per account, derived from the postings."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for tx in transactions:
        for p in tx.postings:
            out[p.account] += p.amount
    return dict(out)


@dataclass(frozen=True)
class Ledger:
    """An append-only ledger value: ``post`` returns a new ledger; ids are unique."""

    transactions: tuple[Transaction, ...] = ()

    def post(self, *txs: Transaction) -> Ledger:
        seen = {t.id for t in self.transactions}
        for tx in txs:
            if tx.id in seen:
                raise InvalidInput("transaction already posted", field="transaction.id", value=tx.id,
                                   fix="give each transaction its own id")
            seen.add(tx.id)
        return Ledger(self.transactions + tuple(txs))

    def balances(self) -> dict[str, Decimal]:
        return balances(self.transactions)

    def balance(self, account: str) -> Decimal:
        return sum((p.amount for t in self.transactions for p in t.postings if p.account == account), ZERO)

    def total(self) -> Decimal:
        """The sum of all balances: zero, always."""
        return sum(self.balances().values(), ZERO)
