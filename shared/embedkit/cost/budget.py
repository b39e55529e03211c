"""`Budget`: a spending cap on API embedding calls that can never be crossed.

Before each API call the `Embedder` reserves the call's estimated cost (tokens counted with the
model's tokenizer, times the catalog price). A reservation that would take spent + reserved past
the cap is refused with `BudgetExceeded` and the call is not made; a call that fails releases
its reservation; a call that returns commits what it billed. Amounts are kept as exact decimals,
so float rounding can never let a call slip past the cap.

The guarantee is as good as the estimate: exact for OpenAI (tiktoken counts what the service
bills); for other providers the count is the embedkit estimate, and a call billed above it is
recorded at what it billed (and logged).
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

from ..errors import BudgetExceeded

logger = logging.getLogger("embedkit.cost.budget")

Amount = float | int | Decimal


def as_decimal(value: Amount) -> Decimal:
    """Dollars as an exact decimal (floats through their shortest repr: 0.1 -> 0.1)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number of dollars, got {type(value).__name__}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class Reservation:
    """Money held for one API call until it is committed (billed) or released (not billed)."""

    def __init__(self, budget: Budget | None, amount: Decimal) -> None:
        self._budget = budget
        self.amount = amount
        self._open = budget is not None

    def commit(self, actual: Amount | None = None) -> None:
        """The call was made: count ``actual`` dollars (default: the reserved estimate)."""
        if self._open and self._budget is not None:
            self._open = False
            self._budget._settle(self.amount, self.amount if actual is None
                                 else as_decimal(actual))

    def release(self) -> None:
        """The call was not made or not billed: give the money back."""
        if self._open and self._budget is not None:
            self._open = False
            self._budget._settle(self.amount, Decimal(0))


NO_RESERVATION = Reservation(None, Decimal(0))
"""What an embedder without a budget "reserves": nothing, and committing it does nothing."""


class Budget:
    """A cap in US dollars on API embedding spend, shared by everything that uses it.

    Pass it to an embedder (``Embedder(..., budget=Budget(max_usd=5))``); every retriever,
    adapter and thread using that embedder then draws from the same budget. One budget may
    also be shared by several embedders. Thread-safe.

    Example:
        >>> budget = Budget(max_usd=0.50)
        >>> hold = budget.reserve(0.20)
        >>> hold.commit(0.20)
        >>> budget.remaining
        0.3
    """

    def __init__(self, max_usd: Amount) -> None:
        cap = as_decimal(max_usd)
        if not cap.is_finite() or cap < 0:
            raise ValueError(f"max_usd must be a finite amount >= 0, got {max_usd!r}")
        self._max = cap
        self._spent = Decimal(0)
        self._reserved = Decimal(0)
        self._calls = 0
        self._refused = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    @property
    def max_usd(self) -> float:
        return float(self._max)

    @property
    def spent(self) -> float:
        """Dollars billed by committed calls."""
        with self._lock:
            return float(self._spent)

    @property
    def reserved(self) -> float:
        """Dollars held by calls in flight."""
        with self._lock:
            return float(self._reserved)

    @property
    def remaining(self) -> float:
        """What a new call may still cost."""
        with self._lock:
            return float(self._max - self._spent - self._reserved)

    @property
    def refused(self) -> int:
        """Calls refused because they would have crossed the cap."""
        with self._lock:
            return self._refused

    def can_afford(self, usd: Amount) -> bool:
        """Whether a call estimated at ``usd`` would be allowed right now (reserves nothing)."""
        amount = as_decimal(usd)
        with self._lock:
            return self._spent + self._reserved + amount <= self._max

    def snapshot(self) -> dict[str, float | int]:
        with self._lock:
            return {"max_usd": float(self._max), "spent": float(self._spent),
                    "reserved": float(self._reserved),
                    "remaining": float(self._max - self._spent - self._reserved),
                    "calls": self._calls, "refused": self._refused}

    # ------------------------------------------------------------------ spending
    def reserve(self, usd: Amount, *, what: str = "an API call") -> Reservation:
        """Hold ``usd`` for one call, or raise `BudgetExceeded` (and hold nothing).

        Args:
            usd: the call's estimated cost.
            what: names the call in the error message (never include secrets).
        """
        amount = as_decimal(usd)
        if amount < 0:
            raise ValueError(f"a reservation must be >= 0 dollars, got {usd!r}")
        with self._lock:
            left = self._max - self._spent - self._reserved
            if amount > left:
                self._refused += 1
                raise BudgetExceeded(
                    f"{what} would cost about ${amount:.6f} but the budget has ${left:.6f} left "
                    f"(max ${self._max}, spent ${self._spent:.6f}, in flight "
                    f"${self._reserved:.6f}); the call was not made",
                    needed=float(amount), remaining=float(left), max_usd=float(self._max))
            self._reserved += amount
        return Reservation(self, amount)

    def _settle(self, reserved: Decimal, actual: Decimal) -> None:
        with self._lock:
            self._reserved -= reserved
            if actual > 0:
                self._calls += 1
            self._spent += actual
            over = self._spent > self._max
        if actual > reserved:
            logger.warning("an API call billed $%.6f, above its estimate of $%.6f%s", actual,
                           reserved, "; the budget is now exceeded" if over else "")

    def __repr__(self) -> str:
        snap = self.snapshot()
        return (f"Budget(max_usd={snap['max_usd']}, spent={snap['spent']:.6f}, "
                f"reserved={snap['reserved']:.6f})")
