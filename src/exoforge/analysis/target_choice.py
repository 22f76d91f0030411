"""The inverse question for a discrete choice: which option of a scenario key reaches a target KPI?

``target_choice(scenario, kpi="cost.per_dose_supplied", below=500, key="expansion.platform",
options=["stirred_tank", "vertical_wheel"])`` runs the scenario with each option in turn, at the
central parameters and over ``n`` draws of every uncertain parameter (common random numbers: each
draw is the same across options for the parameters they share), and reports for each option the
central KPI, its median and 90 % interval over the draws, and the probability that it meets the
target. Options are ranked by that probability, then by the central KPI.

An option that changes only what happens after the culture (an isolation step, a price, the
facility use) reuses one culture simulation for all of them (:func:`exoforge.simulation.simulate_culture`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import design_batch
from exoforge.analysis.space import get_key, set_key
from exoforge.analysis.target import Bound, finite_percentiles
from exoforge.parameters import ParameterBatch
from exoforge.scenario import Scenario, ScenarioError, parse_scenario
from exoforge.simulation import Culture, culture_key, evaluate, parameters_for, simulate_culture


@dataclass(frozen=True)
class OptionOutcome:
    """One option of the choice: its KPI centrally and over the draws, and P(it meets the target)."""

    value: Any
    central: float
    draws: np.ndarray  # (M,) the KPI in each draw (NaN where it could not be evaluated)
    p_meets: float
    culture_shared: bool  # evaluated on a culture simulated once for several options
    error: str | None = None  # why the option could not be evaluated at all

    def interval(self) -> tuple[float, float, float] | None:
        """(5th, 50th, 95th) percentile of the KPI over the draws, or None."""
        return finite_percentiles(self.draws)

    def to_json(self) -> dict[str, Any]:
        q = self.interval()
        return {
            "value": self.value,
            "central": self.central if math.isfinite(self.central) else None,
            "over_draws": {"p5": q[0], "median": q[1], "p95": q[2]} if q else None,
            "p_meets": self.p_meets,
            "culture_shared": self.culture_shared,
            "error": self.error,
        }


@dataclass(frozen=True)
class ChoiceResult:
    """Which option of ``key`` makes ``kpi`` ``bound`` ``target``: every option, best first."""

    kpi: str
    bound: Bound
    target: float
    key: str
    current: Any
    draws: int
    options: tuple[OptionOutcome, ...]  # ranked: P(meets) first, then the central KPI

    def to_json(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "bound": self.bound,
            "target": self.target,
            "choice": self.key,
            "current": self.current,
            "draws": self.draws,
            "options": [o.to_json() for o in self.options],
        }


def _same(a: ParameterBatch, b: ParameterBatch) -> bool:
    """Two batches of parameter sets are the same numbers."""
    return a.values.keys() == b.values.keys() and all(np.array_equal(a.values[k], b.values[k]) for k in a.values)


def _variant(scn: Scenario, key: str, value: Any) -> Scenario:
    data = scn.to_dict()
    set_key(data, key, value)
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ValueError(f"--choose {key}={value}: " + "; ".join(exc.problems)) from None


def target_choice(
    scn: Scenario,
    kpi: str,
    key: str,
    options: list[Any],
    *,
    below: float | None = None,
    above: float | None = None,
    n: int = 200,
    seed: int = 1,
) -> ChoiceResult:
    """Which of ``options`` for scenario key ``key`` brings ``kpi`` below (or above) a target, and how surely."""
    if (below is None) == (above is None):
        raise ValueError("give exactly one of below or above")
    if len(options) < 2:
        raise ValueError(f"--choose {key}: give at least two options, separated by commas")
    bound: Bound = "below" if below is not None else "above"
    goal = float(below if below is not None else above)  # type: ignore[arg-type]
    variants = [_variant(scn, key, value) for value in options]
    batches = [design_batch(parameters_for(v).params, n, seed) for v in variants]
    # options with the same culture and the same parameter draws share one culture simulation
    groups = [
        next(j for j in range(i + 1) if culture_key(variants[j]) == culture_key(v) and _same(batches[j], batches[i]))
        for i, v in enumerate(variants)
    ]
    cultures: dict[int, Culture] = {}
    outcomes = []
    for i, (value, variant) in enumerate(zip(options, variants, strict=True)):
        shared = groups.count(groups[i]) > 1
        if shared:
            if groups[i] not in cultures:
                cultures[groups[i]] = simulate_culture(variant, batches[i])
            ev, error = cultures[groups[i]].evaluate(variant)
        else:
            try:
                with np.errstate(all="ignore"):
                    ev, error = evaluate(variant, batches[i]), None
            except (KeyError, ValueError, ArithmeticError) as exc:
                ev, error = None, f"{type(exc).__name__}: {exc}"
        if ev is None:
            outcomes.append(OptionOutcome(value, math.nan, np.full(n, np.nan), 0.0, shared, error))
            continue
        if kpi not in ev.kpis:
            raise KeyError(f"--kpi: '{kpi}' is not a KPI; known: {', '.join(sorted(ev.kpis))}")
        values = np.asarray(ev.kpis[kpi], dtype=float)
        rows = values[1:]
        meets = np.isfinite(rows) & ((rows < goal) if bound == "below" else (rows > goal))
        outcomes.append(
            OptionOutcome(value, float(values[0]), rows, float(np.mean(meets)) if rows.size else 0.0, shared)
        )
    sign = 1.0 if bound == "below" else -1.0
    ranked = sorted(
        outcomes,
        key=lambda o: (-o.p_meets, sign * o.central if math.isfinite(o.central) else math.inf),
    )
    return ChoiceResult(kpi, bound, goal, key, get_key(scn.to_dict(), key), n, tuple(ranked))
