"""Ranking designs on one objective with near-ties broken by further criteria.

Two designs whose cost per dose supplied differs by a fraction of a percent
are, for a decision, equally cheap (the cost model's own uncertainty is far
larger); what should then decide is what else differs, above all the doses a
design makes that nobody takes. :func:`tie_band_order` ranks by the objective,
treating values within ``tolerance`` (relative) of the best remaining value as
tied and picking among them by the tie-break criteria in turn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The default relative tolerance within which objective values count as tied.
DEFAULT_TOLERANCE = 0.01
#: Tie-breaks of an objective: KPIs minimised in turn among near-tied designs. Of designs that cost
#: about the same per dose supplied, the one that releases fewest doses beyond the demand, then the
#: one with the lowest cost per released dose.
TIE_BREAKS: dict[str, tuple[str, ...]] = {"cost.per_dose_supplied": ("overproduction_fraction", "cost.per_dose")}


def _finite(v: float) -> float:
    return v if math.isfinite(v) else math.inf


def tie_band_order(
    objective: Sequence[float],
    tie_breaks: Sequence[Sequence[float]] = (),
    tolerance: float = DEFAULT_TOLERANCE,
    count: int | None = None,
) -> list[int]:
    """Indices in rank order (the objective is minimised).

    Repeatedly, the items whose objective lies within ``tolerance`` × |lowest|
    of the lowest remaining one are tied; the next in rank is the tied item
    lowest on ``tie_breaks[0]``, then ``tie_breaks[1]``, ..., then on the
    objective itself. Non-finite values rank last.

    Parameters
    ----------
    objective : one value per item (minimised)
    tie_breaks : criteria, each one value per item (minimised)
    tolerance : relative width of a tie (0: exact order with ties broken by the criteria)
    count : rank only the first ``count`` items (default: all)
    """
    values = [_finite(v) for v in objective]
    remaining = sorted(range(len(values)), key=lambda i: (values[i], i))
    order: list[int] = []
    limit = len(values) if count is None else min(count, len(values))
    while remaining and len(order) < limit:
        low = values[remaining[0]]
        band = [i for i in remaining if values[i] <= low + tolerance * abs(low)] if math.isfinite(low) else remaining
        pick = min(band, key=lambda i: (*(_finite(c[i]) for c in tie_breaks), values[i], i))
        order.append(pick)
        remaining.remove(pick)
    return order


def firsts_per_draw(
    feasible: np.ndarray,
    objective: np.ndarray,
    tie_breaks: Sequence[np.ndarray] = (),
    tolerance: float = DEFAULT_TOLERANCE,
) -> np.ndarray:
    """How many draws each item ranks first in (:func:`tie_band_order` among the items feasible in a draw).

    Parameters
    ----------
    feasible : (items, draws) bool, whether an item meets every constraint in a draw
    objective : (items, draws), minimised
    tie_breaks : criteria, each (items, draws), minimised
    tolerance : relative width of a tie
    """
    counts = np.zeros(feasible.shape[0], dtype=int)
    for r in range(feasible.shape[1]):
        idx = np.flatnonzero(feasible[:, r])
        if not idx.size:
            continue
        values = [float(objective[i, r]) for i in idx]
        criteria = [[float(c[i, r]) for i in idx] for c in tie_breaks]
        counts[idx[tie_band_order(values, criteria, tolerance, count=1)[0]]] += 1
    return counts


@dataclass(frozen=True)
class DrawsRanked:
    """Designs ranked again in each of ``samples`` common draws of their uncertain parameters."""

    samples: int
    seed: int
    #: share of draws in which none of the designs meets every constraint
    p_none_feasible: float

    def head_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "seed": self.seed, "p_none_feasible": self.p_none_feasible}
