"""The economics of one batch: the full ledger, throughput for a demand, and the unit costs.

Composes :mod:`.labour`, :mod:`.release`, :mod:`.capital`, :mod:`.demand` and
:mod:`.cogs` from what the process wings report (resources with operator
hours, the equipment of the isolation steps, the number of expansion vessels,
the batch duration and the product).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from exoforge.economics.capital import capital_charges
from exoforge.economics.cogs import CostOfGoods, price_resources
from exoforge.economics.demand import Throughput, cost_per_dose, cost_per_dose_supplied, throughput
from exoforge.economics.labour import supporting_roles
from exoforge.economics.prices import escalation_factors
from exoforge.economics.release import release_testing
from exoforge.parameters import UsageLog
from exoforge.resources import Resource


@dataclass(frozen=True)
class BatchEconomics:
    """Ledger and unit costs of one batch; arrays (N,)."""

    cogs: CostOfGoods
    throughput: Throughput
    per_batch: np.ndarray
    per_dose: np.ndarray
    per_1e9_particles: np.ndarray
    per_dose_supplied: np.ndarray  # yearly cost over the yearly demand (NaN without one)


def batch_economics(
    resources: Iterable[Resource],
    equipment: Mapping[str, tuple[str, np.ndarray]],
    vessels: int,
    batch_days: np.ndarray,
    final_particles: np.ndarray,
    final_amount: np.ndarray,
    dose_amount: float,
    p: UsageLog,
    *,
    doses_per_year: float | None = None,
    lot_size: float | None = None,
    price_year: int = 2024,
    user_prices: Iterable[str] = (),
    facility_use: str = "dedicated",
    campaigns_per_year: int = 1,
) -> BatchEconomics:
    """Price a batch: process resources, supporting labour, release testing, capital and facility.

    ``facility_use`` and ``campaigns_per_year`` say how the line is used (see :mod:`.demand`).
    """
    changeover = 0.0 if facility_use == "dedicated" else p.get("facility.product_changeover_days", "day")
    tp = throughput(
        final_amount,
        dose_amount,
        batch_days,
        doses_per_year,
        p.get("line_operating_days_per_year", "day"),
        lot_size,
        facility_use,
        changeover,
        campaigns_per_year,
    )
    res = list(resources)
    res += supporting_roles(res, tp.lots_per_batch, p)
    res += release_testing(tp.lots_per_batch, p)
    res += capital_charges(equipment, vessels, tp.allocated_days, p, facility_use)
    esc = escalation_factors((f"price.{r.item}" for r in res), price_year, user_prices)
    cogs = price_resources(res, p, esc)
    per_batch = cogs.per_batch
    with np.errstate(divide="ignore"):
        per_1e9 = per_batch / (final_particles / 1e9)
    return BatchEconomics(
        cogs, tp, per_batch, cost_per_dose(per_batch, tp), per_1e9, cost_per_dose_supplied(per_batch, tp)
    )
