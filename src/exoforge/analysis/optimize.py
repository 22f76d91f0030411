"""Optimisation over a design space: single-objective GA or NSGA-II (pymoo), resumable, with ranked recommendations.

Each encoded design is decoded into a scenario (:mod:`exoforge.analysis.space`).
Designs that decode to the same scenario are one design: a population is
grouped by scenario, each distinct scenario is simulated once (and never
again: results are kept for the run), as one batch of 1 + m parameter sets —
row 0 at the central values (the KPIs the objectives and most constraints
use), rows 1..m drawn from the parameter uncertainty with common random
numbers (the probabilities ``p_meets_demand``, ``p_meets_dose_target``,
``p_all_checks_pass``). Distinct scenarios are spread over the backend in
tasks; a scenario the contract rejects, or that fails to evaluate, is an
infeasible design with its reason, never an error.

The pymoo problem is vectorised (one call per population). The state is a
JSON file (it cannot run code when read) saved after each generation: the
optimiser's settings and seed, the generations done, and every design
evaluated so far with its metrics. A resumed run rebuilds the algorithm from
its seed and replays the generations done against that archive (nothing is
simulated again, and the optimiser's random draws repeat exactly), then
continues: it ends exactly where an uninterrupted run would.

With one objective the best design found is then polished: every design one
variable away from it (the adjacent level of an ordered variable, every other
option of a categorical one) is evaluated, and if one is better it becomes the
best and its neighbours are tried in turn. The neighbours of the final best
design are kept with the result, so the recommendation can say why it beats
them (the objective each one gives, or the constraint it breaks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import (
    DesignEvaluator,
    DesignMetrics,
    design_batch,
    metrics_from_evaluation,
    parameters_key,
)
from exoforge.analysis.optimize_problem import (
    DesignProblem,
    SnapToLevels,
    _algorithm,
    constraint_names,
    constraint_values,
    pareto_mask,
    to_minimised,
)
from exoforge.analysis.optimize_result import Neighbour, OptimizationResult, Recommendation, _short
from exoforge.analysis.optimize_state import (
    STATE_FORMAT,
    STATE_VERSION,
    OptimizerState,
    load_state,
    save_state,
    state_digest,
)
from exoforge.analysis.space import (
    DesignSpace,
    get_key,
)
from exoforge.engine.backends import Backend
from exoforge.parameters import normalise_ref

#: Re-exported: the optimiser's pieces live in design_evaluation (simulating designs), optimize_problem
#: (what pymoo sees), optimize_result and optimize_state; this module runs the search.
__all__ = [
    "STATE_FORMAT",
    "STATE_VERSION",
    "DesignEvaluator",
    "DesignMetrics",
    "DesignProblem",
    "Neighbour",
    "OptimizationResult",
    "OptimizerState",
    "Recommendation",
    "SnapToLevels",
    "constraint_names",
    "constraint_values",
    "design_batch",
    "load_state",
    "metrics_from_evaluation",
    "optimize",
    "parameters_key",
    "pareto_mask",
    "polish",
    "save_state",
    "to_minimised",
]


#: Rounds of the final neighbourhood polish (each moves to a better neighbour, if any).
POLISH_ROUNDS = 3

GenerationCallback = Callable[[int, int, int], None]  # (generation, generations, designs evaluated)


def _best(space: DesignSpace, evaluator: DesignEvaluator) -> float:
    """Best feasible value of the first objective so far (user's sense), NaN if none."""
    o = space.objectives[0]
    vals = [m.value(o.key) for m in evaluator.archive.values() if m.ok and np.all(constraint_values(space, m) <= 0)]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        return float("nan")
    return min(vals) if o.sense == "min" else max(vals)


# --------------------------------------------------------------------------- neighbours


def _feasible(space: DesignSpace, m: DesignMetrics) -> bool:
    return m.ok and bool(np.all(constraint_values(space, m) <= 0))


def neighbour_vectors(space: DesignSpace, x: Sequence[float]) -> list[tuple[str, str, np.ndarray]]:
    """Designs one variable away from ``x``: ``(variable, its new value, encoded vector)``.

    Ordered variables (values, integers, stepped ranges) move one level either
    way, categorical ones (options) take every other option, continuous ranges
    move a tenth of their span either way. Variables left out of ``x`` by their
    ``when`` are not moved.
    """
    base = space.decode(x)
    out: list[tuple[str, str, np.ndarray]] = []
    for j, var in enumerate(space.variables):
        if var.when and not all(_when_matches(get_key(base, k), want) for k, want in var.when.items()):
            continue
        levels = var.levels
        if levels is None:
            moves = [min(max(x[j] + d, 0.0), 0.999999) for d in (-0.1, 0.1)]
            moves = [m for m in moves if abs(m - x[j]) > 1e-9]
        else:
            i = min(int(x[j] * levels), levels - 1)
            others = range(levels) if var.options is not None else (i - 1, i + 1)
            moves = [(k + 0.5) / levels for k in others if 0 <= k < levels and k != i]
        for m in moves:
            vec = np.array(x, dtype=float)
            vec[j] = m
            out.append((var.name, _short(var.decode(m)), vec))
    return out


def _when_matches(value: Any, want: Any) -> bool:
    return value in want if isinstance(want, list) else bool(value == want)


def _primary(space: DesignSpace, m: DesignMetrics) -> float:
    """The single objective as minimised (undefined: the worst)."""
    o = space.objectives[0]
    return float(to_minimised([o], np.array([m.value(o.key)]))[0])


def evaluate_neighbours(space: DesignSpace, evaluator: DesignEvaluator, m: DesignMetrics) -> list[Neighbour]:
    """Every design one variable away from ``m``, evaluated, with the constraints each breaks."""
    moves = neighbour_vectors(space, m.x)
    if not moves:
        return []
    names = constraint_names(space)
    out = []
    for (var, value, _), nm in zip(moves, evaluator.evaluate(np.array([v for _, _, v in moves])), strict=True):
        broken = [name for name, gi in zip(names, constraint_values(space, nm), strict=True) if gi > 0]
        out.append(Neighbour(var, value, nm, not broken, broken))
    return out


def polish(space: DesignSpace, evaluator: DesignEvaluator) -> DesignMetrics | None:
    """Move the best feasible design to a strictly better neighbour while there is one; return the last best."""
    feasible = [m for m in evaluator.archive.values() if _feasible(space, m) and m.x]
    if not feasible:
        return None
    best = min(feasible, key=lambda m: _primary(space, m))
    for _ in range(POLISH_ROUNDS):
        better = [
            n.metrics
            for n in evaluate_neighbours(space, evaluator, best)
            if n.feasible and _primary(space, n.metrics) < _primary(space, best)
        ]
        if not better:
            break
        best = min(better, key=lambda m: _primary(space, m))
    return best


def optimize(
    space: DesignSpace,
    *,
    backend: Backend | None = None,
    generations: int | None = None,
    population: int | None = None,
    seed: int | None = None,
    state_path: str | Path | None = None,
    resume: bool = False,
    on_generation: GenerationCallback | None = None,
    top: int = 5,
    parameter_file: Any = None,
    exclude_refs: Sequence[str] = (),
    check_robustness: bool = True,
    odds_samples: int = 64,
) -> OptimizationResult:
    """Search ``space`` for the designs that best meet its objectives under its constraints.

    Parameters
    ----------
    generations, population, seed : override the space file's optimizer settings
    state_path : where the state is saved (JSON) after every generation
    resume : continue from ``state_path`` (same space), up to ``generations`` in total
    on_generation : ``on_generation(generation, generations, designs evaluated)``
    parameter_file : fitted parameters (:class:`exoforge.analysis.parameter_file.ParameterFile`) for every design
    exclude_refs : evidence references (DOI or PMID) left out of every design's parameters, as
        ``exoforge run --exclude-ref`` does: does the recommendation survive without that study?
    check_robustness : evaluate the recommendations again without each study the first one leans on
        most (:mod:`exoforge.analysis.optimize_robustness`)
    odds_samples : draws of the uncertain parameters on which every recommendation is run again, to say
        how sure their order is (:mod:`exoforge.analysis.optimize_odds`; 0 skips it)
    """
    # Longer than 80 lines: the search in its order (settings, resume and replay, generations with the state
    # saved after each, polish, result, neighbours); each step is a few lines that share the run's state.
    from pymoo.termination.max_gen import MaximumGenerationTermination

    cfg = space.optimizer
    gens = generations or cfg.generations
    pop = population or cfg.population
    rng_seed = cfg.seed if seed is None else seed
    path = Path(state_path) if state_path is not None else None
    start = time.perf_counter()
    drop = tuple(sorted({normalise_ref(r) for r in exclude_refs}))
    evaluator = DesignEvaluator(space, backend, parameter_file=parameter_file, exclude_refs=drop)
    replay, spent = 0, 0.0
    saved_history: list[tuple[int, float]] = []
    if resume:
        if path is None or not path.exists():
            raise ValueError(f"nothing to resume: no state file at {path}")
        state = load_state(path, space, drop)
        pop, rng_seed, replay, spent = state.population, state.seed, state.generations_done, state.seconds
        evaluator.archive = {m.key: m for m in state.archive}
        saved_history = state.history
    algorithm = _algorithm(space, pop, rng_seed)
    algorithm.setup(DesignProblem(evaluator), termination=("n_gen", gens), seed=rng_seed, verbose=False)
    algorithm.termination = MaximumGenerationTermination(max(gens, replay))
    kind = "ga" if type(algorithm).__name__ == "GA" else "nsga2"
    history: list[tuple[int, float]] = []
    done = 0
    while algorithm.has_next():
        algorithm.next()
        done += 1
        if done <= replay:  # replayed against the saved archive: its history as it was recorded
            history.append(saved_history[done - 1])
            continue
        history.append((evaluator.evaluated, _best(space, evaluator)))
        if path is not None:
            save_state(
                OptimizerState(
                    STATE_VERSION,
                    state_digest(space, drop),
                    kind,
                    pop,
                    rng_seed,
                    done,
                    history,
                    spent + time.perf_counter() - start,
                    list(evaluator.archive.values()),
                ),
                path,
            )
        if on_generation is not None:
            on_generation(algorithm.n_iter - 1, gens, evaluator.evaluated)
    searched = evaluator.evaluated
    if len(space.objectives) == 1:
        polish(space, evaluator)
    designs = list(evaluator.archive.values())
    violations = (
        np.array([constraint_values(space, m) for m in designs])
        if designs
        else np.zeros((0, len(constraint_names(space))))
    )
    result = OptimizationResult(
        space_name=space.name,
        objectives=space.objectives,
        constraints=constraint_names(space),
        algorithm="GA" if kind == "ga" else "NSGA-II",
        seed=rng_seed,
        generations=max(gens, replay),
        population=algorithm.pop_size,
        evaluated=searched,
        polish_evaluated=evaluator.evaluated - searched,
        designs=designs,
        violations=violations,
        invalid=dict(evaluator.invalid),
        seconds=spent + time.perf_counter() - start,
        state_path=str(path) if path is not None else None,
        history=history,
        top=top,
        variable_keys=tuple(v.key for v in space.variables),
        space=space,
        exclude_refs=drop,
    )
    if len(space.objectives) == 1:
        recs = result.recommendations()
        if recs and recs[0].metrics.x:
            result.neighbours = evaluate_neighbours(space, evaluator, recs[0].metrics)
            result.neighbours_of = recs[0].metrics.key
            result.polish_evaluated = evaluator.evaluated - searched
    if check_robustness:
        from exoforge.analysis.optimize_robustness import recommendation_robustness

        result.robustness = recommendation_robustness(result, backend, parameter_file)
    if odds_samples:
        from exoforge.analysis.optimize_odds import recommendation_odds

        result.odds = recommendation_odds(result, odds_samples, parameter_file=parameter_file)
    return result
