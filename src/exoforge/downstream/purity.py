"""Purity grading against published particle-to-protein criteria.

Webber & Clayton (2013, doi:10.3402/jev.v2i0.19861) proposed judging vesicle
purity by NTA particle counts per µg of protein (BCA). The grades here use
three cut-offs from the data files (``purity.high_threshold``,
``purity.low_range_upper``, ``purity.low_threshold``; their numeric values
could not be verified in the full text and are flagged as assumptions):

* 3 ``high``: at or above the high-purity cut-off;
* 2 ``intermediate``: between the top of the low-purity range and the high cut-off;
* 1 ``low``: in the low-purity range;
* 0 ``impure``: below it.

A continuous score places the ratio between the cut-offs (linear in its
logarithm): 0 at a tenth of the low cut-off, 1, 2 and 3 at the three cut-offs;
the grade is its whole part.

The ratio graded is the one a laboratory would measure: every counted
particle (product, medium vesicles, lipoproteins) per µg of total protein.
"""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np

from exoforge.parameters import UsageLog

GRADES: tuple[str, ...] = ("impure", "low", "intermediate", "high")


def purity_score(counted_per_ug: np.ndarray, p: UsageLog) -> np.ndarray:
    """Score 0-3 of each particle-to-protein ratio [particles/µg] (see the module docstring)."""
    low = p.get("purity.low_threshold", "particle/ug")
    mid = p.get("purity.low_range_upper", "particle/ug")
    high = p.get("purity.high_threshold", "particle/ug")
    x = np.log10(np.maximum(counted_per_ug, 1e-300))
    knots = [np.log10(low) - 1.0, np.log10(low), np.log10(mid), np.log10(high)]
    # piecewise linear through (knot_k, k): a sum of clipped segment fractions, row by row as arrays
    return cast(
        "np.ndarray", np.sum([np.clip((x - a) / (b - a), 0.0, 1.0) for a, b in itertools.pairwise(knots)], axis=0)
    )


def purity_grade(score: np.ndarray) -> np.ndarray:
    """Grade 0-3 (see :data:`GRADES`) from :func:`purity_score`."""
    return np.floor(score + 1e-12)
