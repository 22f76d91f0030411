"""How sure is a selection's ranking? Every design run on the same draws of the uncertain parameters.

:func:`exoforge.analysis.selection.select` ranks designs at the central parameter values. Designs a
few per cent apart there may swap places once the parameters vary within their uncertainty, and a
design that passes every constraint at the central values may fail them in many plausible worlds.
:func:`selection_odds` runs every design on ``samples`` draws of its uncertain parameters and says,
for each: in what share of the draws it meets every constraint, in what share it ranks first (by the
selection's own rule, :func:`exoforge.analysis.ranking.tie_band_order`, among the designs feasible in
that draw), its cost per dose supplied over the draws (5, 50 and 95 %), and which constraints it
breaks most often.

The draws are common random numbers (:func:`exoforge.analysis.space.common_uniforms`): a parameter
two designs share (the baseline secretion rate, a price, the recovery of an operation) takes the same
value for both in each draw, so designs are compared on the same uncertainty and not on sampling
noise. Parameters with different names are drawn independently; that includes the secretion effects
of different platforms, whose pooled posteriors are correlated only through their family's mean
(:func:`exoforge.evidence.hierarchy.Hierarchy.predictive_correlation`; below 0.2 for the platforms of
the 3D family on the shipped evidence, which the test suite checks).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import design_batch, design_parameters
from exoforge.analysis.ranking import TIE_BREAKS, DrawsRanked, firsts_per_draw
from exoforge.analysis.selection import (
    RANK_KPI,
    CultureCache,
    DesignOutcome,
    Selection,
    SelectionSpace,
    culture_cache_key,
    rejections,
)
from exoforge.simulation import Evaluation, simulate_culture

#: Draws of the uncertain parameters when none are asked for (enough to tell a design first in about
#: half the draws from one first in a tenth: the standard error of a share is at most 0.06 at 64).
DEFAULT_SAMPLES = 64
#: The kinds of constraint a design breaks that are listed per design, most frequent first.
MAX_FAILINGS = 3
#: Why a draw of a design that breaks no constraint counts as infeasible when the model gives no cost for it.
NOT_EVALUATED = "cannot be evaluated"


@dataclass(frozen=True)
class DesignOdds:
    """One design over the draws of the uncertain parameters."""

    label: str
    #: rank at the central parameter values (None: rejected there)
    rank: int | None
    #: share of draws in which the design meets every constraint
    p_feasible: float
    #: share of draws in which it is feasible and ranks first
    p_first: float
    #: cost per dose supplied over the draws in which it could be evaluated: 5 %, 50 %, 95 % [USD/dose]
    cost_low: float
    cost_median: float
    cost_high: float
    #: (kind of constraint broken, share of draws), most frequent first, at most MAX_FAILINGS
    failing: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "label": self.label,
            "rank": self.rank,
            "p_feasible": self.p_feasible,
            "p_first": self.p_first,
            "cost_per_dose_supplied": {
                "p5": num(self.cost_low),
                "median": num(self.cost_median),
                "p95": num(self.cost_high),
            },
            "failing": [{"constraint": k, "share": s} for k, s in self.failing],
        }


@dataclass(frozen=True)
class SelectionOdds(DrawsRanked):
    """Every design of a selection over the same draws (designs first in most draws first)."""

    designs: tuple[DesignOdds, ...] = ()

    @property
    def central_first(self) -> DesignOdds | None:
        """The design ranked first at the central values."""
        return next((d for d in self.designs if d.rank == 1), None)

    def to_json(self) -> dict[str, Any]:
        return {**self.head_json(), "designs": [d.to_json() for d in self.designs]}


@dataclass
class DesignDraws:
    """One design's KPIs in every draw, whether it is feasible there, and why not."""

    feasible: np.ndarray  # (samples,) bool
    kpis: dict[str, np.ndarray]
    failings: Counter[str]


def draws_of(ev: Evaluation | None, space: SelectionSpace, sel: Selection, samples: int) -> DesignDraws:
    """Feasibility of every draw (rows 1..samples of ``ev``; row 0 is the central set)."""
    if ev is None:
        return DesignDraws(np.zeros(samples, dtype=bool), {}, Counter({NOT_EVALUATED: samples}))
    rows = slice(1, None)
    kpis = {k: np.asarray(v[rows], dtype=float) for k, v in ev.kpis.items()}
    checks = [(c.name, np.asarray(c.value[rows]), np.asarray(c.limit[rows]), np.asarray(c.ok[rows])) for c in ev.checks]
    feasible = np.zeros(samples, dtype=bool)
    failings: Counter[str] = Counter()
    for r in range(samples):
        row = {k: float(v[r]) for k, v in kpis.items()}
        failed = [(name, float(value[r]), float(limit[r])) for name, value, limit, ok in checks if not bool(ok[r])]
        kinds = {x.kind for x in rejections(row, failed, space.constraints, sel.demand)}
        if not kinds and not math.isfinite(row[RANK_KPI]):
            kinds = {NOT_EVALUATED}
        failings.update(kinds)
        feasible[r] = not kinds
    return DesignDraws(feasible, kpis, failings)


def _evaluations(
    outcomes: Sequence[DesignOutcome], samples: int, seed: int, parameter_file: Any, exclude_refs: tuple[str, ...]
) -> list[Evaluation | None]:
    """Every design on the central set and ``samples`` common draws, one culture per group of designs."""
    cache: CultureCache = {}
    out: list[Evaluation | None] = []
    for o in outcomes:
        scn = o.design.scenario
        if scn is None:
            out.append(None)
            continue
        key = culture_cache_key(scn, exclude_refs)
        if key not in cache:
            try:
                ps = design_parameters(scn, exclude_refs, parameter_file)
            except (KeyError, ValueError, ArithmeticError):
                out.append(None)
                continue
            cache[key] = simulate_culture(scn, design_batch(ps, samples, seed))
        out.append(cache[key].evaluate(scn)[0])
    return out


def _firsts(draws: Sequence[DesignDraws], samples: int, tolerance: float) -> np.ndarray:
    """How many draws each design ranks first in (the selection's tie-band rule per draw)."""
    nan = np.full(samples, math.nan)
    feasible = np.array([d.feasible for d in draws]).reshape(len(draws), samples)
    cost = np.array([d.kpis.get(RANK_KPI, nan) for d in draws]).reshape(len(draws), samples)
    criteria = [
        np.array([d.kpis.get(k, nan) for d in draws]).reshape(len(draws), samples) for k in TIE_BREAKS[RANK_KPI]
    ]
    return firsts_per_draw(feasible, cost, criteria, tolerance)


def selection_odds(
    space: SelectionSpace,
    sel: Selection,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 1,
    parameter_file: Any = None,
) -> SelectionOdds:
    """Every design of ``sel`` over ``samples`` common draws of its uncertain parameters.

    ``parameter_file`` (fitted parameters, :mod:`exoforge.analysis.parameter_file`) and the references
    the selection left out are applied as :func:`~exoforge.analysis.selection.select` applied them.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    outcomes = sel.outcomes
    evaluations = _evaluations(outcomes, samples, seed, parameter_file, sel.exclude_refs)
    draws = [draws_of(ev, space, sel, samples) for ev in evaluations]
    firsts = _firsts(draws, samples, space.tie_tolerance)
    any_feasible = np.zeros(samples, dtype=bool)
    rows = []
    for o, d, n_first in zip(outcomes, draws, firsts, strict=True):
        any_feasible |= d.feasible
        cost = d.kpis.get(RANK_KPI, np.full(samples, math.nan))
        finite = cost[np.isfinite(cost)]
        low, median, high = np.percentile(finite, [5, 50, 95]) if finite.size else (math.nan,) * 3
        rows.append(
            DesignOdds(
                label=o.design.label,
                rank=o.rank if o.feasible else None,
                p_feasible=float(d.feasible.mean()),
                p_first=float(n_first) / samples,
                cost_low=float(low),
                cost_median=float(median),
                cost_high=float(high),
                failing=tuple((k, n / samples) for k, n in d.failings.most_common(MAX_FAILINGS)),
            )
        )
    rows.sort(key=lambda d: (-d.p_first, d.rank if d.rank is not None else math.inf, -d.p_feasible))
    return SelectionOdds(samples, seed, float(1.0 - any_feasible.mean()), tuple(rows))
