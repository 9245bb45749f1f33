"""Reserved compute: a tenant buys a quantity of PF16-hours of a grade in a region over a time
window, at a price, held at a provider.

- Usage is **drawn** against the contract while the window is open; what exceeds the remaining
  quantity (or falls outside the window) is overflow, billed on-demand.
- Quantity the tenant will not use can be **offered on spot** (``resale_ask``): an ask sold by
  the tenant's account; a spot buyer's usage on a resulting trade is billed at the clearing price
  and paid to the reselling tenant (the credit). Offered quantity cannot be drawn; what does not
  sell can be taken back (``return_unsold``).
- The commitment is ``qty x price`` in full: drawn usage is billed per meter record at the
  contract price, and at window end one record charges everything not drawn (unused or offered
  for resale, ``unused_record_fields``). Resold compute comes back to the tenant as spot income.

Invariants: ``0 <= used + offered <= qty``; states are values (every operation returns a new one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from suanli.domain.errors import InvalidInput
from suanli.market.auction import Ask
from suanli.market.catalog import ProductClass, Term
from suanli.market.ledger import tenant_account
from suanli.market.money import ZERO, parse_price, parse_quantity


@dataclass(frozen=True, slots=True)
class ReservedContract:
    id: str
    tenant: str
    provider: str
    grade: str
    region: str
    qty: Decimal
    start: float
    end: float
    price: Decimal
    pool: str = ""
    product_class: ProductClass = ProductClass.GENERAL

    def __post_init__(self) -> None:
        parse_quantity(self.qty, "reservation.qty")
        parse_price(self.price, "reservation.price")
        if not self.end > self.start:
            raise InvalidInput("the window must end after it starts", field="reservation.end", value=self.end,
                               fix="give end > start (seconds UTC)")

    def open_at(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class ReservationState:
    contract: ReservedContract
    used: Decimal = ZERO
    offered: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.contract.qty - self.used - self.offered

    @property
    def unused(self) -> Decimal:
        """Quantity neither drawn nor offered for resale."""
        return self.available


@dataclass(frozen=True, slots=True)
class Draw:
    covered: Decimal          # billed under the reservation
    overflow: Decimal         # billed on-demand
    state: ReservationState


def draw(state: ReservationState, qty: Decimal, at: float) -> Draw:
    """Draw ``qty`` PF16-hours of usage at time ``at`` against the reservation."""
    parse_quantity(qty, "qty", positive=False)
    if not state.contract.open_at(at):
        return Draw(ZERO, qty, state)
    covered = min(qty, state.available)
    return Draw(covered, qty - covered, replace(state, used=state.used + covered))


def resale_ask(state: ReservationState, qty: Decimal, min_price: Decimal, at: float,
               ask_id: str) -> tuple[Ask, ReservationState]:
    """Offer ``qty`` of the unused reserved compute on spot, sold by the tenant."""
    parse_quantity(qty, "qty")
    c = state.contract
    if not c.open_at(at):
        raise InvalidInput("the reservation window is not open", field="at", value=at,
                           fix=f"resell between {c.start} and {c.end}")
    if qty > state.available:
        raise InvalidInput("more than the unused reserved quantity", field="qty", value=str(qty),
                           fix=f"offer at most {state.available}")
    ask = Ask(ask_id, tenant_account(c.tenant), qty, min_price, at, c.grade, c.region, c.pool, c.id)
    return ask, replace(state, offered=state.offered + qty)


def return_unsold(state: ReservationState, unsold: Decimal) -> ReservationState:
    """Take back quantity offered for resale that did not sell."""
    if not ZERO <= unsold <= state.offered:
        raise InvalidInput("cannot return more than was offered", field="unsold", value=str(unsold),
                           fix=f"give at most {state.offered}")
    return replace(state, offered=state.offered - unsold)


def unused_record_fields(state: ReservationState) -> dict[str, object]:
    """The fields of the meter-like record that charges the unused commitment at window end
    (see ``billing.unused_reservation_record``)."""
    c = state.contract
    return {"id": f"reservation:{c.id}:unused", "job": "", "tenant": c.tenant, "provider": c.provider,
            "site": "", "grade": c.grade, "region": c.region, "start": c.end, "seconds": 0.0,
            "pf16h": state.unused + state.offered, "product_class": c.product_class, "term": Term.RESERVED,
            "contract": c.id}


@dataclass(frozen=True, slots=True)
class PoolUse:
    """Accelerators a tenant's running work holds in a pool (by the scheduler's pool index)."""

    pool: int
    tenant: str
    count: int


def reserved_holds(states: Iterable[ReservationState], pool_index: Mapping[str, int], capacity: list[int],
                   pf16_per_slot_hour: list[float], running: Iterable[PoolUse], pending_tenants: set[str],
                   free: dict[int, int], now: float) -> dict[int, int]:
    """Hold capacity for open reservations: for each reservation whose window is open, the slots it
    needs to deliver its remaining PF16-hours by its end (``ceil(remaining / (hours left x PF16 per
    accelerator))``, at most the pool) are taken out of the pool's free slots, less what its tenant
    already runs there. A tenant with pending jobs of its own gets no hold this cycle: its jobs
    compete for the pool as usual. ``pool_index`` maps a contract's ``site/pool`` to the pool index.
    Returns the slots held per pool index (and lowers ``free``)."""
    uses = list(running)
    held: dict[int, int] = {}
    for st in states:
        c = st.contract
        i = pool_index.get(c.pool)
        if i is None or not c.start <= now < c.end or c.tenant in pending_tenants:
            continue
        remaining = float(c.qty - st.used - st.offered)
        per_slot = pf16_per_slot_hour[i] * (c.end - now) / 3600.0
        if remaining <= 0 or per_slot <= 0:
            continue
        slots = min(capacity[i], math.ceil(remaining / per_slot - 1e-9))
        own = sum(u.count for u in uses if u.pool == i and u.tenant == c.tenant)
        if slots - own > 0:
            held[i] = held.get(i, 0) + slots - own
    for i, n in held.items():
        in_use = sum(u.count for u in uses if u.pool == i)
        free[i] = max(0, min(free.get(i, capacity[i]), capacity[i] - in_use - n))
    return held
