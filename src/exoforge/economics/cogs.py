"""Cost of goods: price the resources of a batch and express the cost per batch, dose and 1e9 particles.

Every price is a parameter ``price.<item>`` (its currency in the unit, its
quote year in the data file, its source or assumption in the entry), so a run
reports which prices were assumptions and a Monte Carlo run carries their
uncertainty. Prices are escalated to the run's currency year (see
:mod:`.prices`). The cost of a *good* batch is the sum of the ledger divided by
(1 - failed-batch fraction); the ledger splits by category and by process
step, and both splits sum to the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from exoforge.economics.prices import BASE_PRICE_YEAR, CURRENCY
from exoforge.parameters import UsageLog
from exoforge.resources import CATEGORIES, Resource

__all__ = ["CATEGORIES", "CURRENCY", "PRICE_YEAR", "CostOfGoods", "LedgerLine", "price_resources"]

#: Default currency year of a run (the scenario's ``economics.price_year`` overrides it).
PRICE_YEAR = BASE_PRICE_YEAR
#: Ledger categories: those of the process wings plus capital (equipment depreciation).
LEDGER_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys((*CATEGORIES, "equipment")))


@dataclass(frozen=True)
class LedgerLine:
    """One priced resource line; arrays of shape (N,)."""

    category: str
    item: str
    step: str
    quantity: np.ndarray
    unit: str
    unit_price: np.ndarray  # escalated to the run's currency year
    cost: np.ndarray
    price_parameter: str
    escalation: float = 1.0


@dataclass(frozen=True)
class CostOfGoods:
    """Ledger and totals of one batch; arrays of shape (N,), in :data:`CURRENCY`."""

    lines: tuple[LedgerLine, ...]
    failed_batch_fraction: np.ndarray

    @property
    def direct(self) -> np.ndarray:
        return cast("np.ndarray", np.sum([ln.cost for ln in self.lines], axis=0))

    @property
    def per_batch(self) -> np.ndarray:
        """Cost per good batch, failed batches included."""
        return self.direct / (1.0 - self.failed_batch_fraction)

    def _split(self, key: str, start: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        scale = 1.0 / (1.0 - self.failed_batch_fraction)
        out: dict[str, np.ndarray] = {k: np.zeros_like(self.failed_batch_fraction) for k in start}
        for ln in self.lines:
            k = getattr(ln, key)
            out[k] = out.get(k, np.zeros_like(scale)) + ln.cost * scale
        return out

    def by_category(self) -> dict[str, np.ndarray]:
        """Cost per good batch by category; sums to :attr:`per_batch`."""
        return self._split("category", LEDGER_CATEGORIES)

    def by_step(self) -> dict[str, np.ndarray]:
        """Cost per good batch by process step; sums to :attr:`per_batch`."""
        return self._split("step")

    def by_item(self) -> dict[str, np.ndarray]:
        """Cost per good batch by priced item; sums to :attr:`per_batch`."""
        return self._split("item")


def price_resources(
    resources: list[Resource], p: UsageLog, escalation: Mapping[str, float] | None = None
) -> CostOfGoods:
    """Price every resource with its ``price.<item>`` parameter, escalated by ``escalation[name]``."""
    lines = []
    for r in resources:
        name = f"price.{r.item}"
        unit = f"{CURRENCY}/({r.unit})" if r.unit else CURRENCY
        factor = 1.0 if escalation is None else escalation.get(name, 1.0)
        unit_price = p.get(name, unit) * factor
        lines.append(
            LedgerLine(
                r.category, r.item, r.step, r.quantity, r.unit, unit_price, r.quantity * unit_price, name, factor
            )
        )
    return CostOfGoods(tuple(lines), p.get("failed_batch_fraction", ""))
