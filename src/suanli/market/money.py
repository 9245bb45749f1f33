"""Money and market quantities as ``Decimal``: parsing, and the one place money is rounded.

Invariants:
- Money is ``Decimal``; it is rounded only here, by one rule: half-even to the cent. ``round_money``
  applies it to a ``Decimal``; ``round_units`` to exact integer fixed-point values and
  ``round_units_array`` to int64 arrays of them (billing's hot path: a million lines a run).
  Property tests prove the three agree.
- Unit prices (money per PF16-hour) carry at most 4 decimals (``PRICE_QUANTUM``); quantities of
  compute carry at most 6 decimals of a PF16-hour (``QTY_QUANTUM``). These quanta are the integer
  units the auction's fast path works in (``to_units`` / ``from_units``), so conversion is exact.
- Floats are refused as money or prices (``InvalidInput``): a float such as 0.1 is not 0.1.
  Metered quantities arrive as floats from ``metering``; ``quantity_from_float`` is the one,
  explicit, rounding conversion for them.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import numpy as np

from suanli.domain.errors import InvalidInput

Money = Decimal
CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.0001")
QTY_QUANTUM = Decimal("0.000001")
PRICE_SCALE = 10_000          # integer price units per money unit
PRICE_EXP = 4                 # PRICE_SCALE == 10 ** PRICE_EXP
QTY_SCALE = 1_000_000         # integer quantity units per PF16-hour
QTY_EXP = 6                   # QTY_SCALE == 10 ** QTY_EXP
RATE_SCALE = 1_000_000        # integer units per 1 of a rate (fee rates carry at most 6 decimals)
AMOUNT_DIVISOR = 10 ** (QTY_EXP + PRICE_EXP - 2)   # quantity units x price units -> cents
ZERO = Decimal(0)
ROUND_DOWN_QTY = ROUND_DOWN   # capacity offered is truncated to the quantity quantum, never rounded up


def round_money(amount: Decimal) -> Decimal:
    """The only rounding of money in suanli: half-even to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def round_units(value: int, divisor: int) -> int:
    """``value / divisor`` rounded half-even to an integer: ``round_money`` on fixed-point integers
    (e.g. PF16-h units x price units, divisor 10**8, gives cents)."""
    q, r = divmod(value, divisor)
    r += r
    return q + 1 if r > divisor or (r == divisor and q & 1) else q


def round_units_array(values: np.ndarray, divisor: int) -> np.ndarray:
    """``round_units`` over an int64 array (the caller keeps values inside int64)."""
    q, r = np.divmod(values, divisor)
    r = r + r
    up: np.ndarray = (r > divisor) | ((r == divisor) & (q % 2 == 1))
    return np.asarray(q + up, dtype=np.int64)


def cents_to_money(cents: int) -> Decimal:
    """Integer cents as money (exact)."""
    return Decimal(cents).scaleb(-2)


def _decimal(value: Any, field: str, what: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidInput(f"{what} must be a decimal string or an integer, not a {type(value).__name__}",
                           field=field, value=value, fix=f"write it as a string, e.g. '{value}'")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(f"{what} is not a number", field=field, value=value,
                               fix="write a decimal number such as '12.50'") from None
    else:
        raise InvalidInput(f"{what} must be a decimal string or an integer", field=field, value=value,
                           fix="write a decimal number such as '12.50'")
    if not d.is_finite():
        raise InvalidInput(f"{what} must be finite", field=field, value=value, fix="give a finite number")
    return d


def _checked(d: Decimal, field: str, value: Any, what: str, quantum: Decimal, *, positive: bool) -> Decimal:
    if d < 0 or (positive and d == 0):
        raise InvalidInput(f"{what} must be {'positive' if positive else 'zero or more'}", field=field,
                           value=value, fix="give a value above 0" if positive else "give a value >= 0")
    try:
        exact = d == d.quantize(quantum)
    except InvalidOperation:
        raise InvalidInput(f"{what} is too large", field=field, value=value, fix="give a smaller number") from None
    if not exact:
        places = len(str(quantum).partition(".")[2])
        raise InvalidInput(f"{what} has more than {places} decimals", field=field, value=value,
                           fix=f"round it to {quantum}")
    return d


def parse_money(value: Any, field: str = "amount", *, signed: bool = False) -> Decimal:
    """An amount of money from a Decimal, int or string, with at most 2 decimals."""
    d = _decimal(value, field, "money")
    if signed:
        return _checked(abs(d), field, value, "money", CENT, positive=False).copy_sign(d)
    return _checked(d, field, value, "money", CENT, positive=False)


def parse_price(value: Any, field: str = "price") -> Decimal:
    """A unit price (money per PF16-hour), zero or more, at most 4 decimals."""
    return _checked(_decimal(value, field, "price"), field, value, "price", PRICE_QUANTUM, positive=False)


def parse_quantity(value: Any, field: str = "qty", *, positive: bool = True) -> Decimal:
    """A quantity of PF16-hours, positive (or zero if allowed), at most 6 decimals."""
    return _checked(_decimal(value, field, "quantity"), field, value, "quantity", QTY_QUANTUM,
                    positive=positive)


def parse_rate(value: Any, field: str = "rate") -> Decimal:
    """A fraction in [0, 1] with at most 6 decimals, e.g. a platform fee rate."""
    d = _decimal(value, field, "rate")
    if not Decimal(0) <= d <= Decimal(1):
        raise InvalidInput("rate must be between 0 and 1", field=field, value=value, fix="write e.g. '0.1'")
    return _checked(d, field, value, "rate", Decimal(1).scaleb(-6), positive=False)


def quantity_from_float(value: float, field: str = "pf16h") -> Decimal:
    """A metered float quantity as a Decimal rounded half-even to ``QTY_QUANTUM``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0 \
            or value in (float("inf"),):
        raise InvalidInput("metered quantity must be a finite number >= 0", field=field, value=value,
                           fix="check the meter record")
    return Decimal(repr(float(value))).quantize(QTY_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_units(d: Decimal, scale: int) -> int:
    """Exact integer units of an already-validated Decimal (``scale`` units per 1)."""
    return int(d * scale)


def from_units(units: int, scale: int) -> Decimal:
    """The Decimal for ``units`` integer units."""
    return Decimal(int(units)) / scale
