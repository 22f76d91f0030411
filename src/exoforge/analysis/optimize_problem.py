"""The optimiser's problem as pymoo sees it: objectives, constraints, repair to the space's levels.

One vectorised call per population (:class:`DesignProblem`); constraints are ratios of excess over
their limits (<= 0 when met); :func:`pareto_mask` marks the non-dominated designs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair

from exoforge.analysis.design_evaluation import INFEASIBLE, DesignEvaluator, DesignMetrics
from exoforge.analysis.space import (
    DesignSpace,
    Objective,
)

# --------------------------------------------------------------------------- objectives and constraints


#: Name of the constraint that every engineering check passes.
CHECKS_PASS = "engineering checks pass"


def constraint_names(space: DesignSpace) -> list[str]:
    c = space.constraints
    names = ["valid design"]
    if c.demand_met:
        names.append("demand met")
    if c.min_p_meets_demand is not None:
        names.append(f"P(demand met) >= {c.min_p_meets_demand:g}")
    if c.min_purity is not None:
        names.append(f"purity >= {c.min_purity:g}")
    if c.max_batch_days is not None:
        names.append(f"batch days <= {c.max_batch_days:g}")
    if c.checks_pass:
        names.append(CHECKS_PASS)
    names += [f"{k} <= {v:g}" for k, v in c.max.items()]
    names += [f"{k} >= {v:g}" for k, v in c.min.items()]
    return names


def _ratio_excess(value: float, limit: float, upper: bool) -> float:
    """Relative violation of ``value <= limit`` (upper) or ``value >= limit``; NaN counts as violated."""
    if not math.isfinite(value):
        return 1.0 if math.isnan(value) or (upper and value > 0) or (not upper and value < 0) else -1.0
    scale = abs(limit) if limit != 0 else 1.0
    return (value - limit) / scale if upper else (limit - value) / scale


def constraint_values(space: DesignSpace, m: DesignMetrics) -> np.ndarray:
    """Violations (<= 0 satisfied), in the order of :func:`constraint_names`."""
    n = len(constraint_names(space))
    if not m.ok:
        return np.full(n, 1.0)
    c = space.constraints
    g = [0.0]
    if c.demand_met:
        g.append(_ratio_excess(m.value("lines_needed"), 1.0, upper=True))
    if c.min_p_meets_demand is not None:
        g.append(_ratio_excess(m.value("p_meets_demand"), c.min_p_meets_demand, upper=False))
    if c.min_purity is not None:
        g.append(_ratio_excess(m.value("ev.particles_per_ug_protein"), c.min_purity, upper=False))
    if c.max_batch_days is not None:
        g.append(_ratio_excess(m.value("batch_days"), c.max_batch_days, upper=True))
    if c.checks_pass:
        g.append(float(len(m.failed_checks)))
    g += [_ratio_excess(m.value(k), v, upper=True) for k, v in c.max.items()]
    g += [_ratio_excess(m.value(k), v, upper=False) for k, v in c.min.items()]
    return np.array(g)


def objective_values(objectives: Sequence[Objective], m: DesignMetrics) -> np.ndarray:
    """Objectives in the user's sense (maximised ones as they are)."""
    return np.array([m.value(o.key) if m.ok else float("nan") for o in objectives])


def to_minimised(objectives: Sequence[Objective], values: np.ndarray) -> np.ndarray:
    """Objectives as pymoo minimises them: maximised ones negated, undefined ones the worst."""
    sign = np.array([-1.0 if o.sense == "max" else 1.0 for o in objectives])
    f = values * sign
    return np.where(np.isfinite(f), f, INFEASIBLE)


class DesignProblem(Problem):
    """The design space as a vectorised pymoo problem on [0, 1)^d: one call per population."""

    def __init__(self, evaluator: DesignEvaluator):
        space = evaluator.space
        self.evaluator = evaluator
        super().__init__(
            n_var=space.dimension,
            n_obj=len(space.objectives),
            n_ieq_constr=len(constraint_names(space)),
            xl=0.0,
            xu=1.0,
        )

    def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        space = self.evaluator.space
        metrics = self.evaluator.evaluate(x)
        out["F"] = np.array([to_minimised(space.objectives, objective_values(space.objectives, m)) for m in metrics])
        out["G"] = np.array([constraint_values(space, m) for m in metrics])


class SnapToLevels(Repair):
    """Moves each discrete variable to the centre of its level, so that encodings of the same
    design are equal and pymoo's duplicate elimination sees repeated designs as repeats."""

    def __init__(self, levels: Sequence[int | None]):
        super().__init__()
        self.levels = np.array([lv if lv is not None else 0 for lv in levels], dtype=float)

    def _do(self, problem: Any, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        discrete = self.levels > 0
        if discrete.any():
            lv = self.levels[discrete]
            x = np.array(x, dtype=float)
            x[:, discrete] = (np.minimum(np.floor(x[:, discrete] * lv), lv - 1) + 0.5) / lv
        return x


def _algorithm(space: DesignSpace, population: int, seed: int) -> Any:
    repair = SnapToLevels([v.levels for v in space.variables])
    kind = space.optimizer.algorithm
    if kind == "auto":
        kind = "ga" if len(space.objectives) == 1 else "nsga2"
    if kind == "ga":
        if len(space.objectives) != 1:
            raise ValueError("the ga algorithm optimises one objective; use nsga2 for several")
        from pymoo.algorithms.soo.nonconvex.ga import GA

        return GA(pop_size=population, eliminate_duplicates=True, repair=repair, seed=seed)
    from pymoo.algorithms.moo.nsga2 import NSGA2

    return NSGA2(pop_size=population, eliminate_duplicates=True, repair=repair, seed=seed)


# --------------------------------------------------------------------------- results


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``points`` (all objectives minimised)."""
    n = len(points)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated = np.all(points <= points[i], axis=1) & np.any(points < points[i], axis=1)
        if dominated.any():
            mask[i] = False
    return mask
