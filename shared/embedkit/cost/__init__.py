"""Money: prices and estimates (`pricing`), spend limits (`budget`), the spend ledger (`ledger`).

Everything public is importable from ``embedkit.cost`` as before the split.
"""

from ..errors import BudgetExceeded
from .budget import Budget, Reservation
from .ledger import CostTracker
from .pricing import (
    GUIDE_SCENARIOS, CallEstimate, CostEstimate, CostRow, cost_table, dollars_for, estimate_cost,
)

__all__ = [
    "GUIDE_SCENARIOS",
    "Budget",
    "BudgetExceeded",
    "CallEstimate",
    "CostEstimate",
    "CostRow",
    "CostTracker",
    "Reservation",
    "cost_table",
    "dollars_for",
    "estimate_cost",
]
