"""Throughput for a demand: doses per batch, lots, batches per year and parallel lines.

A batch's product is filled into lots of ``lot_size`` doses (when given); each
whole lot is released with its own release tests, and doses that do not fill a
lot are not released. Without a lot size the whole batch is one lot. Batches
per year = ceil(demand / doses released per batch); a line runs
``operating_days`` a year, so the lines needed are
ceil(batches per year × batch days / operating days).

Facility and equipment of dedicated lines are paid for every calendar day
whether a line is busy or not, so each batch carries ``lines × 365 / batches
per year`` calendar days of them; in a shared facility, or with no demand, a
batch carries the share of a fully used line, ``batch days × 365 / operating
days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Throughput:
    """Doses, lots, batches and lines; arrays (N,)."""

    doses_exact: np.ndarray
    doses_per_batch: np.ndarray  # whole doses
    lots_per_batch: np.ndarray  # whole lots (1 when no lot size is given and a dose is made)
    doses_released: np.ndarray  # doses in whole lots
    batch_days: np.ndarray
    batches_per_year: np.ndarray  # NaN without demand, inf when no lot is filled
    lines_needed: np.ndarray
    allocated_days: np.ndarray  # calendar days of facility and equipment each batch carries
    doses_per_year: float = float("nan")  # the demand (NaN without one)


def throughput(
    final_amount: np.ndarray,
    dose_amount: float,
    batch_days: np.ndarray,
    doses_per_year: float | None,
    operating_days: np.ndarray,
    lot_size: float | None = None,
    dedicated: bool = True,
) -> Throughput:
    """Whole doses and lots per batch, batches per year and parallel lines for a yearly demand.

    With ``dedicated`` lines (the default) a batch carries the calendar days of
    the lines the demand needs; otherwise (a shared facility) only its share of
    a fully used line.
    """
    exact = final_amount / dose_amount
    whole = np.floor(exact + 1e-9)
    if lot_size is None:
        lots = np.where(whole >= 1, 1.0, 0.0)
        released = whole
    else:
        lots = np.floor(whole / lot_size + 1e-9)
        released = lots * lot_size
    full_use = batch_days * DAYS_PER_YEAR / operating_days
    if doses_per_year is None or not dedicated:
        bpy = np.full_like(exact, np.nan)
        lines = np.full_like(exact, np.nan)
        allocated = full_use
        if doses_per_year is not None:
            with np.errstate(divide="ignore"):
                bpy = np.where(released >= 1, np.ceil(doses_per_year / np.maximum(released, 1) - 1e-9), np.inf)
            lines = np.where(np.isfinite(bpy), np.ceil(bpy * batch_days / operating_days - 1e-9), np.inf)
    else:
        with np.errstate(divide="ignore"):
            bpy = np.where(released >= 1, np.ceil(doses_per_year / np.maximum(released, 1) - 1e-9), np.inf)
        lines = np.where(np.isfinite(bpy), np.ceil(bpy * batch_days / operating_days - 1e-9), np.inf)
        with np.errstate(invalid="ignore"):
            allocated = np.where(np.isfinite(bpy), lines * DAYS_PER_YEAR / bpy, full_use)
    demand = float("nan") if doses_per_year is None else float(doses_per_year)
    return Throughput(exact, whole, lots, released, batch_days, bpy, lines, np.maximum(allocated, full_use), demand)


def cost_per_dose(per_batch: np.ndarray, tp: Throughput) -> np.ndarray:
    """Cost per released dose; per dose-equivalent when a batch releases no whole lot."""
    denom = np.where(tp.doses_released >= 1, tp.doses_released, tp.doses_exact)
    with np.errstate(divide="ignore"):
        return per_batch / denom


def cost_per_dose_supplied(per_batch: np.ndarray, tp: Throughput) -> np.ndarray:
    """Yearly cost of the batches a demand needs over the doses demanded (NaN without a demand).

    Doses of the last batch beyond the demand are not counted as supplied, so a
    scale far above the demand costs more per dose supplied than per dose made;
    a batch that releases no lot cannot supply the demand (infinite cost).
    """
    if not np.isfinite(tp.doses_per_year):
        return np.full_like(per_batch, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = per_batch * tp.batches_per_year / tp.doses_per_year
    return np.where(np.isfinite(tp.batches_per_year), out, np.inf)
