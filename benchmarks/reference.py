"""The per-scenario scipy reference of the whole process, and how far the batch engine is from it.

:func:`reference_kpis` evaluates every parameter set of a batch on its own
(N = 1), with the culture ODEs integrated by scipy ``solve_ivp`` (LSODA,
rtol 1e-8) over the same right-hand side, schedule and events, followed by the
same isolation train and economics. It swaps the segment integrator of the
upstream stage for :func:`exoforge.engine.reference.solve_ivp_segment` for the
duration of the call (single-threaded harness code, never library code), and
checks that the swap took effect.

:func:`kpi_deviation` compares two KPI dictionaries: the largest relative
deviation over every KPI, taken on the rows where the integer-valued KPIs
(whole doses, batches, lines) agree, the number of rows where rounding to a
whole number flipped between the two, and the largest such flip (1 when the
value before rounding sat on a whole number, where any difference flips it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import numpy as np

from exoforge.engine.reference import REFERENCE_METHODS, ReferenceSettings, ReferenceStats, solve_ivp_segment
from exoforge.parameters import ParameterBatch
from exoforge.scenario import Scenario
from exoforge.simulation import evaluate

#: Where the upstream stage looks up its segment integrator.
UPSTREAM_INTEGRATOR = "exoforge.upstream.simulate.rk4_segment"


@contextlib.contextmanager
def reference_integration(settings: ReferenceSettings, stats: ReferenceStats) -> Iterator[None]:
    """Within the block, the upstream stage integrates with scipy ``solve_ivp`` system by system."""

    def segment(*args: Any, **kwargs: Any) -> np.ndarray:
        return solve_ivp_segment(*args, **kwargs, settings=settings, stats=stats)

    with mock.patch(UPSTREAM_INTEGRATOR, segment):
        yield


def reference_kpis(
    scn: Scenario, batch: ParameterBatch, settings: ReferenceSettings | None = None, *, as_reference: bool = True
) -> tuple[dict[str, np.ndarray], ReferenceStats]:
    """KPIs of every row of ``batch``, one scenario at a time, with scipy ``solve_ivp``.

    ``as_reference=False`` lets an explicit method run (to count its work), not to validate against.
    """
    cfg = settings or ReferenceSettings()
    if as_reference and not cfg.is_reference:
        raise ValueError(f"'{cfg.method}' is not a reference method; use one of {', '.join(REFERENCE_METHODS)}")
    stats = ReferenceStats()
    rows: list[dict[str, np.ndarray]] = []
    with reference_integration(cfg, stats):
        for j in range(batch.n):
            rows.append(evaluate(scn, batch.subset(slice(j, j + 1))).kpis)
    if stats.systems == 0:
        raise RuntimeError(f"the reference integrator was never called: is {UPSTREAM_INTEGRATOR} still the integrator?")
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}, stats


@dataclass
class Deviation:
    """How far the batch engine's KPIs are from the reference's."""

    max_relative: float
    worst_kpi: str
    per_kpi: dict[str, float] = field(default_factory=dict)
    rounding_flips: int = 0
    rows: int = 0
    largest_whole_number_step: float = 0.0
    row_max: np.ndarray = field(default_factory=lambda: np.zeros(0))  # worst relative deviation of each compared row

    def rows_above(self, limit: float) -> int:
        return int(np.sum(self.row_max > limit))

    def to_json(self) -> dict[str, Any]:
        return {
            "max_relative": self.max_relative,
            "worst_kpi": self.worst_kpi,
            "rows_compared": self.rows,
            "rows_with_whole_number_flip": self.rounding_flips,
            "largest_whole_number_step": self.largest_whole_number_step,
            "rows_above_0.1_percent": self.rows_above(1e-3),
            "per_kpi": self.per_kpi,
        }


#: Whole-number KPIs (doses, batches, lines) are integral and below this; larger floats
#: (particle counts of 1e15) are integral only because doubles have no fraction bits there.
_WHOLE_NUMBER_LIMIT = 2.0**31


def _integer_valued(a: np.ndarray, b: np.ndarray) -> bool:
    both = np.isfinite(a) & np.isfinite(b)
    x = np.concatenate([a[both], b[both]])
    return bool(np.all(x == np.round(x)) and np.all(np.abs(x) < _WHOLE_NUMBER_LIMIT))


def kpi_deviation(engine: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> Deviation:
    """Largest relative deviation of ``engine`` from ``reference`` over every shared KPI."""
    keys = sorted(set(engine) & set(reference))
    n = len(reference[keys[0]])
    flips = np.zeros(n, dtype=bool)
    step = 0.0
    for k in keys:
        a, r = np.asarray(engine[k], float), np.asarray(reference[k], float)
        if _integer_valued(a, r):
            differ = ~((a == r) | (np.isnan(a) & np.isnan(r)))
            flips |= differ
            if differ.any():
                gap = np.abs(a[differ] - r[differ])
                step = max(step, float(np.max(np.where(np.isfinite(gap), gap, np.inf))))
    keep = ~flips
    per: dict[str, float] = {}
    row_max = np.zeros(int(keep.sum()))
    for k in keys:
        a, r = np.asarray(engine[k], float)[keep], np.asarray(reference[k], float)[keep]
        ok = np.isfinite(r) & (r != 0)
        if not ok.any():
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            dev = np.where(ok, np.abs(a / np.where(ok, r, 1.0) - 1.0), 0.0)
        dev = np.where(np.isfinite(dev), dev, np.inf)
        per[k] = float(np.max(dev[ok]))
        row_max = np.maximum(row_max, dev)
    worst = max(per, key=lambda k: per[k])
    return Deviation(per[worst], worst, per, int(flips.sum()), int(keep.sum()), step, row_max)
