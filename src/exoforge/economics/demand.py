"""Throughput for a demand: doses per batch, lots, batches per year, parallel lines and facility days.

A batch's product is filled into lots of ``lot_size`` doses (when given); each
whole lot is released with its own release tests, and doses that do not fill a
lot are not released. Without a lot size the whole batch is one lot. Batches
per year = ceil(demand / doses released per batch); a line runs
``operating_days`` a year, so the lines needed are
ceil(batches per year × batch days / operating days).

How a line is used decides the calendar days of facility (and of equipment
depreciation) each batch carries (:data:`FACILITY_USES`):

* ``dedicated``: the lines the demand needs are paid for every calendar day,
  busy or not: each batch carries ``lines × 365 / batches per year`` days;
* ``shared``: the suite is shared with other products batch by batch; each
  batch carries its own days plus one product changeover (cleaning, line
  clearance, environmental release), as a share of a fully used line:
  ``(batch days + changeover) × 365 / operating days``;
* ``campaign``: batches of this product run back to back in
  ``campaigns_per_year`` campaigns; each campaign carries one changeover, so a
  batch carries ``(batch days + changeover × campaigns / batches) × 365 /
  operating days``;
* ``cdmo``: a contract manufacturer's suite, booked (and billed at its day
  rate) for the batch days plus the campaign's changeover share; the CDMO's
  own idle days are in its rate.

Without a demand a batch is a campaign of one. ``line_utilisation`` is the
share of the lines' operating days that the demand's batches occupy. A batch
that releases no lot cannot meet a demand: its batches per year and lines are
infinite, it releases 0 doses a year (overproduction -1, all of the demand
short) and its line utilisation is undefined (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.0
#: How a production line is used (``economics.facility_use``).
FACILITY_USES = ("dedicated", "shared", "campaign", "cdmo")


@dataclass(frozen=True)
class Throughput:
    """Doses, lots, batches, lines and facility days; arrays (N,)."""

    doses_exact: np.ndarray
    doses_per_batch: np.ndarray  # whole doses
    lots_per_batch: np.ndarray  # whole lots (1 when no lot size is given and a dose is made)
    doses_released: np.ndarray  # doses in whole lots
    batch_days: np.ndarray
    batches_per_year: np.ndarray  # NaN without demand, inf when no lot is filled
    lines_needed: np.ndarray
    allocated_days: np.ndarray  # facility days each batch carries (calendar days, or CDMO days booked)
    doses_per_year: float = float("nan")  # the demand (NaN without one)
    facility_use: str = "dedicated"

    @property
    def doses_released_per_year(self) -> np.ndarray:
        """Doses the demand's batches release in a year (NaN without a demand; 0 when no batch releases a lot)."""
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(self.batches_per_year), 0.0, self.batches_per_year * self.doses_released)

    @property
    def overproduction_fraction(self) -> np.ndarray:
        """Doses released a year beyond the demand, as a fraction of the demand (0: none over)."""
        if not np.isfinite(self.doses_per_year):
            return np.full_like(self.doses_exact, np.nan)
        return self.doses_released_per_year / self.doses_per_year - 1.0

    def line_utilisation(self, operating_days: np.ndarray) -> np.ndarray:
        """Share of the needed lines' operating days that the demand's batches occupy.

        NaN without a demand, and where no batch releases a lot: no number of batches meets the demand,
        so the share is undefined (an outcome of the sample, not a failure of the model).
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            busy = self.batches_per_year * self.batch_days / (self.lines_needed * operating_days)
        return np.where(np.isfinite(self.batches_per_year), busy, np.nan)


def throughput(
    final_amount: np.ndarray,
    dose_amount: float,
    batch_days: np.ndarray,
    doses_per_year: float | None,
    operating_days: np.ndarray,
    lot_size: float | None = None,
    facility_use: str = "dedicated",
    changeover_days: np.ndarray | float = 0.0,
    campaigns_per_year: int = 1,
) -> Throughput:
    """Whole doses and lots per batch, batches per year, parallel lines and facility days per batch.

    Parameters
    ----------
    final_amount, dose_amount : product per batch and per dose (particles or µg)
    batch_days : days a batch occupies a line [day]
    doses_per_year : the demand (None: no demand)
    operating_days : days a year a line can run batches [day]
    lot_size : doses per released lot (None: the batch is one lot)
    facility_use : one of :data:`FACILITY_USES`
    changeover_days : product changeover of a shared suite, per batch (``shared``) or per
        campaign (``campaign``, ``cdmo``) [day]
    campaigns_per_year : campaigns the yearly batches run in (``campaign``, ``cdmo``)
    """
    if facility_use not in FACILITY_USES:
        raise ValueError(f"facility use '{facility_use}' is not one of {', '.join(FACILITY_USES)}")
    exact = final_amount / dose_amount
    whole = np.floor(exact + 1e-9)
    if lot_size is None:
        lots = np.where(whole >= 1, 1.0, 0.0)
        released = whole
    else:
        lots = np.floor(whole / lot_size + 1e-9)
        released = lots * lot_size
    full_use = batch_days * DAYS_PER_YEAR / operating_days
    bpy = np.full_like(exact, np.nan)
    lines = np.full_like(exact, np.nan)
    if doses_per_year is not None:
        with np.errstate(divide="ignore"):
            bpy = np.where(released >= 1, np.ceil(doses_per_year / np.maximum(released, 1) - 1e-9), np.inf)
        lines = np.where(np.isfinite(bpy), np.ceil(bpy * batch_days / operating_days - 1e-9), np.inf)
    finite = np.isfinite(bpy)
    if facility_use == "dedicated":
        with np.errstate(invalid="ignore", divide="ignore"):
            allocated = np.maximum(np.where(finite, lines * DAYS_PER_YEAR / bpy, full_use), full_use)
    elif facility_use == "shared":
        allocated = (batch_days + changeover_days) * DAYS_PER_YEAR / operating_days
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            campaigns = np.where(finite, np.minimum(float(campaigns_per_year), bpy), 1.0)
            per_batch = np.where(finite, campaigns / bpy, 1.0)
        booked = batch_days + changeover_days * per_batch
        allocated = booked if facility_use == "cdmo" else booked * DAYS_PER_YEAR / operating_days
    demand = float("nan") if doses_per_year is None else float(doses_per_year)
    return Throughput(exact, whole, lots, released, batch_days, bpy, lines, allocated, demand, facility_use)


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
