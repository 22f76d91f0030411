"""Cost of goods: price the resources of a batch and express the cost per batch, dose and 1e9 particles.

Every price is a parameter ``price.<item>`` (USD, price year 2024) with its
source or assumption, so a run reports which prices were assumptions and a
Monte Carlo run carries their uncertainty. The cost of a *good* batch is the
sum of the ledger divided by (1 - failed-batch fraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.resources import CATEGORIES, Resource

CURRENCY = "USD"
PRICE_YEAR = 2024


@dataclass(frozen=True)
class LedgerLine:
    """One priced resource line; arrays of shape (N,)."""

    category: str
    item: str
    step: str
    quantity: np.ndarray
    unit: str
    unit_price: np.ndarray
    cost: np.ndarray
    price_parameter: str


@dataclass(frozen=True)
class CostOfGoods:
    """Ledger and totals of one batch; arrays of shape (N,), in :data:`CURRENCY`."""

    lines: tuple[LedgerLine, ...]
    failed_batch_fraction: np.ndarray

    @property
    def direct(self) -> np.ndarray:
        return np.sum([ln.cost for ln in self.lines], axis=0)

    @property
    def per_batch(self) -> np.ndarray:
        """Cost per good batch, failed batches included."""
        return self.direct / (1.0 - self.failed_batch_fraction)

    def by_category(self) -> dict[str, np.ndarray]:
        """Cost per good batch by category; sums to :attr:`per_batch`."""
        scale = 1.0 / (1.0 - self.failed_batch_fraction)
        out = {c: np.zeros_like(self.failed_batch_fraction) for c in CATEGORIES}
        for ln in self.lines:
            out[ln.category] = out[ln.category] + ln.cost * scale
        return out

    def by_step(self) -> dict[str, np.ndarray]:
        """Cost per good batch by process step; sums to :attr:`per_batch`."""
        scale = 1.0 / (1.0 - self.failed_batch_fraction)
        out: dict[str, np.ndarray] = {}
        for ln in self.lines:
            out[ln.step] = out.get(ln.step, 0.0) + ln.cost * scale
        return out


def price_resources(resources: list[Resource], p: UsageLog) -> CostOfGoods:
    """Price every resource with its ``price.<item>`` parameter."""
    lines = []
    for r in resources:
        name = f"price.{r.item}"
        unit = f"{CURRENCY}/({r.unit})" if r.unit else CURRENCY
        unit_price = p.get(name, unit)
        lines.append(
            LedgerLine(r.category, r.item, r.step, r.quantity, r.unit, unit_price, r.quantity * unit_price, name)
        )
    return CostOfGoods(tuple(lines), p.get("failed_batch_fraction", ""))


@dataclass(frozen=True)
class Throughput:
    """Doses per batch and the batches and lines a demand needs; arrays (N,)."""

    doses_exact: np.ndarray
    doses_per_batch: np.ndarray  # whole doses
    batch_days: np.ndarray
    batches_per_year: np.ndarray  # NaN without demand, inf with no whole dose
    lines_needed: np.ndarray


def throughput(
    final_amount: np.ndarray, dose_amount: float, batch_days: np.ndarray, doses_per_year: float | None
) -> Throughput:
    """Whole doses per batch, and batches per year and parallel lines for a yearly demand."""
    exact = final_amount / dose_amount
    whole = np.floor(exact + 1e-9)
    if doses_per_year is None:
        bpy = np.full_like(exact, np.nan)
        lines = np.full_like(exact, np.nan)
    else:
        with np.errstate(divide="ignore"):
            bpy = np.where(whole >= 1, np.ceil(doses_per_year / np.maximum(whole, 1) - 1e-9), np.inf)
        lines = np.where(np.isfinite(bpy), np.ceil(bpy * batch_days / 365.0 - 1e-9), np.inf)
    return Throughput(exact, whole, batch_days, bpy, lines)


def cost_per_dose(per_batch: np.ndarray, tp: Throughput) -> np.ndarray:
    """Cost per dose: per whole dose when a batch gives at least one, else per dose-equivalent."""
    denom = np.where(tp.doses_per_batch >= 1, tp.doses_per_batch, tp.doses_exact)
    with np.errstate(divide="ignore"):
        return per_batch / denom
