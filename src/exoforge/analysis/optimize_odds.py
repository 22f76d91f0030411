"""How sure is the order of an optimiser's recommendations? Each run again on common draws of its parameters.

The optimiser ranks designs by their objectives at the central parameter values (with the chance of
meeting the demand over its samples as a constraint where asked). Its first recommendations are often
within a per cent of each other. :func:`recommendation_odds` runs every recommendation on ``samples``
draws of its uncertain parameters, common random numbers as in the search
(:func:`exoforge.analysis.design_evaluation.design_batch`), and says for each: in what share of the
draws it meets every constraint of the space, with one objective in what share it is the best of the
recommendations (by the space's own tie rule), each objective over the draws (5, 50 and 95 %), and
which constraints it breaks most often. Only the recommendations are compared: a design outside them
that would be best in some draws is not looked for.

A probability objective or constraint (``p_meets_demand``) is a property of a design over all its
draws, so each draw keeps the design's own value.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import DesignMetrics, design_batch, design_parameters
from exoforge.analysis.optimize_problem import CHECKS_PASS, constraint_names, constraint_values
from exoforge.analysis.optimize_result import OptimizationResult
from exoforge.analysis.ranking import TIE_BREAKS, DrawsRanked, firsts_per_draw
from exoforge.scenario import parse_scenario
from exoforge.simulation import simulate_culture

#: Draws each recommendation is run on when none are asked for.
DEFAULT_SAMPLES = 64
#: Constraints listed per recommendation, most often broken first.
MAX_FAILINGS = 3


@dataclass(frozen=True)
class RecommendationOdds:
    """One recommendation over the draws of its uncertain parameters."""

    rank: int
    #: share of draws in which it meets every constraint of the space
    p_feasible: float
    #: one objective: share of draws in which it is feasible and the best of the recommendations
    p_first: float | None
    #: per objective key: (5 %, 50 %, 95 %) over the draws in which it is defined
    objectives: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: (constraint, share of draws it is broken in), most often first
    failing: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "rank": self.rank,
            "p_feasible": self.p_feasible,
            "p_first": self.p_first,
            "objectives": {
                k: {"p5": num(a), "median": num(b), "p95": num(c)} for k, (a, b, c) in self.objectives.items()
            },
            "failing": [{"constraint": k, "share": s} for k, s in self.failing],
        }


@dataclass(frozen=True)
class OptimizeOdds(DrawsRanked):
    """The recommendations over the same draws, in recommendation order."""

    rows: tuple[RecommendationOdds, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.head_json(), "recommendations": [r.to_json() for r in self.rows]}


def _draw_metrics(central: DesignMetrics, ev: Any, r: int) -> DesignMetrics:
    """Draw ``r`` of an evaluation as the metrics the constraints are read from (probabilities: the design's)."""
    kpis = {k: float(v[r]) for k, v in ev.kpis.items()}
    error = "" if math.isfinite(kpis.get("cost.per_dose", math.nan)) else "cost per dose is not finite"
    failed = [c.name for c in ev.checks if not bool(np.asarray(c.ok)[r])]
    return DesignMetrics(central.key, central.summary, {}, error, kpis, dict(central.probabilities), failed)


def recommendation_odds(
    result: OptimizationResult, samples: int = DEFAULT_SAMPLES, seed: int | None = None, parameter_file: Any = None
) -> OptimizeOdds | None:
    """Every recommendation of ``result`` on ``samples`` common draws (None without recommendations)."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    space = result.space
    recs = result.recommendations()
    if space is None or not recs:
        return None
    seed = space.uncertainty.seed if seed is None else seed
    names = constraint_names(space)
    objectives = space.objectives
    feasible = np.zeros((len(recs), samples), dtype=bool)
    values = np.full((len(objectives), len(recs), samples), math.nan)
    prefs = TIE_BREAKS.get(objectives[0].key, ()) if len(objectives) == 1 else ()
    criteria = np.full((len(prefs), len(recs), samples), math.nan)
    failings: list[Counter[str]] = []
    for i, rec in enumerate(recs):
        scn = parse_scenario(rec.metrics.scenario)
        batch = design_batch(design_parameters(scn, result.exclude_refs, parameter_file), samples, seed)
        ev, _ = simulate_culture(scn, batch).evaluate(scn)
        if ev is None:  # the model cannot run it on these draws: no valid design in any of them
            failings.append(Counter({names[0]: samples}))
            continue
        broken: Counter[str] = Counter()
        for r in range(samples):
            m = _draw_metrics(rec.metrics, ev, r + 1)
            g = constraint_values(space, m)
            feasible[i, r] = bool(np.all(g <= 0))
            for n, v in zip(names, g, strict=True):
                if v > 0:  # the engineering checks by name
                    broken.update([f"check: {c}" for c in m.failed_checks] if n == CHECKS_PASS else [n])
            for j, o in enumerate(objectives):
                values[j, i, r] = m.value(o.key)
            for j, k in enumerate(prefs):
                criteria[j, i, r] = m.value(k)
        failings.append(broken)
    firsts = None
    if len(objectives) == 1:
        sign = 1.0 if objectives[0].sense == "min" else -1.0
        firsts = firsts_per_draw(feasible, sign * values[0], list(criteria), result.tolerance)
    rows = []
    for i, rec in enumerate(recs):
        bands: dict[str, tuple[float, float, float]] = {}
        for j, o in enumerate(objectives):
            v = values[j, i][np.isfinite(values[j, i])]
            q = np.percentile(v, [5, 50, 95]) if v.size else np.full(3, math.nan)
            bands[o.key] = (float(q[0]), float(q[1]), float(q[2]))
        rows.append(
            RecommendationOdds(
                rank=rec.rank,
                p_feasible=float(feasible[i].mean()),
                p_first=None if firsts is None else float(firsts[i]) / samples,
                objectives=bands,
                failing=tuple((k, n / samples) for k, n in failings[i].most_common(MAX_FAILINGS)),
            )
        )
    return OptimizeOdds(samples, seed, float(1.0 - feasible.any(axis=0).mean()), tuple(rows))
