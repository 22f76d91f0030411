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

The pymoo problem is vectorised (one call per population). The state (the
pymoo algorithm with its random generator, and every design evaluated so far)
is saved after each generation; a run resumed from it continues exactly where
it stopped.
"""

from __future__ import annotations

import math
import pickle
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair

from exoforge.analysis.backends import batch_from_design
from exoforge.analysis.space import (
    PROBABILITY_METRICS,
    DesignSpace,
    Objective,
    common_uniforms,
    design_summary,
    get_key,
    scenario_key,
)
from exoforge.engine.backends import Backend, LocalBackend
from exoforge.parameters import ParameterBatch, ParameterSet
from exoforge.scenario import Scenario, ScenarioError, parse_scenario

STATE_VERSION = 1
#: KPIs listed with each recommendation.
REPORTED_KPIS = (
    "cost.per_dose",
    "cost.per_batch",
    "ev.final_particles",
    "ev.particles_per_ug_protein",
    "batch_days",
    "doses_per_batch",
    "lines_needed",
)
#: Objective value and constraint violation of a design that could not be evaluated.
INFEASIBLE = 1e30

GenerationCallback = Callable[[int, int, int], None]  # (generation, generations, designs evaluated)


# --------------------------------------------------------------------------- one design


@dataclass
class DesignMetrics:
    """What one distinct scenario gave: KPIs at central values, probabilities over the uncertainty."""

    key: str
    summary: str
    scenario: dict[str, Any]
    error: str = ""
    kpis: dict[str, float] = field(default_factory=dict)
    probabilities: dict[str, float | None] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error

    def value(self, key: str) -> float:
        """A KPI at central values, or one of the probabilities (NaN when undefined)."""
        if key in PROBABILITY_METRICS:
            p = self.probabilities.get(key)
            return float("nan") if p is None else float(p)
        return float(self.kpis.get(key, float("nan")))


def _stack(a: ParameterBatch, b: ParameterBatch) -> ParameterBatch:
    return ParameterBatch(a.n + b.n, {k: np.concatenate([a.values[k], b.values[k]]) for k in a.values}, a.units)


def design_batch(params: ParameterSet, samples: int, seed: int) -> ParameterBatch:
    """Row 0: central values; rows 1..samples: common-random-number draws of every uncertain parameter."""
    batch = params.nominal(1)
    if not samples:
        return batch
    names = [p.name for p in params.uncertain()]
    return _stack(batch, batch_from_design(params, common_uniforms(names, samples, seed), names))


def metrics_from_evaluation(key: str, scn: Scenario, ev: Any, samples: int) -> DesignMetrics:
    """Central-value KPIs (row 0) and probabilities over the uncertainty rows of one evaluation."""
    out = DesignMetrics(key, design_summary(scn), scn.to_dict())
    k = ev.kpis
    out.kpis = {name: float(v[0]) for name, v in k.items()}
    out.failed_checks = [c.name for c in ev.checks if not bool(c.ok[0])]
    if not math.isfinite(out.kpis.get("cost.per_dose", float("nan"))):
        out.error = "cost per dose is not finite at central values"
    if samples:
        rows = slice(1, None)
        valid = np.ones(samples, dtype=bool)
        for name, v in k.items():
            if not math.isnan(out.kpis[name]):
                valid &= ~np.isnan(v[rows])
        all_ok = np.ones(samples, dtype=bool)
        for c in ev.checks:
            all_ok &= np.asarray(c.ok[rows], dtype=bool)

        def share(hit: np.ndarray) -> float | None:
            return float(np.mean(hit[valid])) if valid.any() else None

        out.probabilities = {
            "p_meets_dose_target": share(k["doses_per_batch"][rows] >= 1),
            "p_meets_demand": share(k["lines_needed"][rows] <= 1) if scn.demand is not None else None,
            "p_all_checks_pass": share(all_ok),
        }
    return out


def _failed(key: str, scn: Scenario, reason: str) -> DesignMetrics:
    return DesignMetrics(key, design_summary(scn), scn.to_dict(), error=reason)


def evaluate_culture(
    designs: Sequence[tuple[str, Scenario]], batch: ParameterBatch, samples: int
) -> list[DesignMetrics]:
    """Designs that share a culture (everything but the isolation train): one upstream run for all.

    The culture is integrated once for the batch; each design's isolation train
    and economics then run on that harvest
    (:func:`exoforge.simulation.evaluate_after_upstream`), which is what
    :func:`exoforge.simulation.evaluate` does for a single design.
    """
    from exoforge.parameters import UsageLog
    from exoforge.simulation import evaluate_after_upstream
    from exoforge.upstream.simulate import simulate_upstream

    first = designs[0][1]
    try:
        with np.errstate(all="ignore"):
            up = simulate_upstream(first, UsageLog(batch))
    except Exception as exc:  # a culture the model cannot simulate makes its designs infeasible, never fatal
        return [_failed(k, scn, f"culture cannot be simulated: {type(exc).__name__}: {exc}") for k, scn in designs]
    out = []
    for key, scn in designs:
        try:
            with np.errstate(all="ignore"):
                ev = evaluate_after_upstream(scn, UsageLog(batch), up)
        except Exception as exc:
            out.append(_failed(key, scn, f"{type(exc).__name__}: {exc}"))
            continue
        out.append(metrics_from_evaluation(key, scn, ev, samples))
    return out


def culture_key(scn: Scenario) -> str:
    """Everything of a scenario but its isolation train (and name): designs equal on it share a culture."""
    import json

    data = scn.to_dict()
    data.pop("isolation", None)
    data.pop("name", None)
    return json.dumps(data, sort_keys=True)


@dataclass(frozen=True)
class DesignTask:
    """Groups of designs sharing a culture, with the batch of parameter sets each group runs on."""

    groups: tuple[tuple[tuple[tuple[str, Scenario], ...], str], ...]  # (((key, scenario), ...), batch key)
    batches: dict[str, ParameterBatch]
    samples: int


def run_design_task(task: DesignTask) -> list[DesignMetrics]:
    """Evaluate every design of a task (a top-level function for process and Dask workers)."""
    out: list[DesignMetrics] = []
    for designs, bk in task.groups:
        out.extend(evaluate_culture(designs, task.batches[bk], task.samples))
    return out


def parameters_key(scn: Scenario) -> str:
    """What :func:`exoforge.simulation.parameters_for` reads from a scenario.

    Designs with the same key share a parameter set (its variant selection,
    evidence-pooled strategy and platform multipliers, overrides and prices);
    the test suite checks that scenarios differing elsewhere get equal sets.
    """
    import json

    from exoforge.simulation import scenario_context

    d = scn.to_dict()
    return json.dumps(
        [
            scenario_context(scn),
            scn.expansion.platform,
            sorted(scn.conditioning.strategies),
            d.get("parameters", {}),
            d.get("economics", {}),
        ],
        sort_keys=True,
    )


# --------------------------------------------------------------------------- many designs


class DesignEvaluator:
    """Decodes, groups and evaluates designs of a space; remembers every distinct scenario it evaluated.

    Repeated designs are looked up, not simulated again; new designs are
    grouped by culture (one upstream run per culture) and the groups spread
    over the backend in tasks.
    """

    def __init__(self, space: DesignSpace, backend: Backend | None = None, cultures_per_task: int | None = None):
        self.space = space
        self.backend: Backend | None = backend
        self.cultures_per_task = cultures_per_task
        self.archive: dict[str, DesignMetrics] = {}
        self.evaluated = 0
        self.simulated_cultures = 0
        self.invalid: Counter[str] = Counter()
        self._parsed: dict[str, Scenario | str] = {}
        self._batches: dict[str, ParameterBatch] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["backend"] = None  # a backend (processes, a cluster) is attached anew on resume
        state["_batches"] = {}  # rebuilt from the data files on resume
        state["_parsed"] = {}
        return state

    def _scenario(self, data: dict[str, Any]) -> Scenario | str:
        """The validated scenario of a decoded design, or why it is not one (parsed once per design)."""
        import json

        raw = json.dumps(data, sort_keys=True, default=str)
        if raw not in self._parsed:
            try:
                self._parsed[raw] = parse_scenario(data)
            except ScenarioError as exc:
                self._parsed[raw] = f"not a valid scenario: {exc.problems[0]}"
        return self._parsed[raw]

    def _batch(self, scn: Scenario) -> str:
        """Key of the parameter batch of ``scn`` (built once per parameter set)."""
        from exoforge.simulation import parameters_for

        pk = parameters_key(scn)
        if pk not in self._batches:
            u = self.space.uncertainty
            self._batches[pk] = design_batch(parameters_for(scn).params, u.samples, u.seed)
        return pk

    def evaluate(self, x: np.ndarray) -> list[DesignMetrics]:
        """Metrics of every row of the encoded population ``x`` (repeated scenarios evaluated once)."""
        rows: list[DesignMetrics] = []
        todo: dict[str, tuple[Scenario, str]] = {}
        for vec in np.atleast_2d(x):
            data = self.space.decode(vec)
            scn = self._scenario(data)
            if isinstance(scn, str):
                self.invalid[scn] += 1
                rows.append(DesignMetrics("", "(invalid)", data, error=scn))
                continue
            key = scenario_key(scn)
            if key not in self.archive and key not in todo:
                try:
                    todo[key] = (scn, self._batch(scn))
                except (KeyError, ValueError) as exc:
                    self.archive[key] = _failed(key, scn, str(exc))
            rows.append(DesignMetrics(key, "", {}))
        self._run(todo)
        self.evaluated += len(rows)
        return [self.archive[r.key] if r.key else r for r in rows]

    def _run(self, todo: dict[str, tuple[Scenario, str]]) -> None:
        if not todo:
            return
        cultures: dict[tuple[str, str], list[tuple[str, Scenario]]] = {}
        for key, (scn, bk) in todo.items():
            cultures.setdefault((culture_key(scn), bk), []).append((key, scn))
        groups = sorted(cultures.items(), key=lambda kv: kv[0][1])  # cultures sharing parameters travel together
        backend = self.backend or LocalBackend(1)
        per = self.cultures_per_task or max(1, math.ceil(len(groups) / (4 * max(1, backend.workers))))
        tasks = []
        for i in range(0, len(groups), per):
            chunk = groups[i : i + per]
            bks = {bk for (_, bk), _ in chunk}
            tasks.append(
                DesignTask(
                    tuple((tuple(designs), bk) for (_, bk), designs in chunk),
                    {bk: self._batches[bk] for bk in bks},
                    self.space.uncertainty.samples,
                )
            )
        self.simulated_cultures += len(groups)
        for result in backend.map(run_design_task, tasks):
            for m in result:
                self.archive[m.key] = m


# --------------------------------------------------------------------------- objectives and constraints


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
        names.append("engineering checks pass")
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


def _gap(value: float, ref: float) -> str:
    if ref == 0 or not math.isfinite(value) or not math.isfinite(ref):
        return "different"
    change = value / ref - 1
    return f"{abs(change):.1%} {'higher' if change > 0 else 'lower'}"


def _short(value: Any) -> str:
    """A design value in a few words: platform blocks by platform, trains by their operations, lists joined."""
    if isinstance(value, dict):
        return str(value.get("platform") or value.get("op") or "a block")
    if isinstance(value, list):
        if not value:
            return "none"
        sep = " > " if all(isinstance(v, dict) and "op" in v for v in value) else "+"
        return sep.join(_short(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Recommendation:
    rank: int
    metrics: DesignMetrics
    reason: str


@dataclass
class OptimizationResult:
    """Every design the optimiser evaluated, the Pareto front among the feasible ones, and recommendations."""

    space_name: str
    objectives: tuple[Objective, ...]
    constraints: list[str]
    algorithm: str
    seed: int
    generations: int
    population: int
    evaluated: int
    designs: list[DesignMetrics]
    violations: np.ndarray  # (designs, constraints)
    invalid: dict[str, int]
    seconds: float = 0.0
    state_path: str | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    top: int = 5
    variable_keys: tuple[str, ...] = ()

    @property
    def feasible(self) -> np.ndarray:
        if not len(self.designs):
            return np.zeros(0, dtype=bool)
        return np.all(self.violations <= 0, axis=1)

    def objective_table(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Objectives of the feasible designs (user's sense), their Pareto mask, and labels."""
        feas = [m for m, ok in zip(self.designs, self.feasible, strict=True) if ok]
        labels = [o.label for o in self.objectives]
        if not feas:
            return np.empty((0, len(self.objectives))), np.zeros(0, dtype=bool), labels
        points = np.array([objective_values(self.objectives, m) for m in feas])
        return points, pareto_mask(to_minimised(self.objectives, points)), labels

    def _feasible_designs(self) -> list[DesignMetrics]:
        return [m for m, ok in zip(self.designs, self.feasible, strict=True) if ok]

    def recommendations(self) -> list[Recommendation]:
        """Best designs first, each with the reason it wins."""
        feas = self._feasible_designs()
        if not feas:
            return []
        points, front, _ = self.objective_table()
        f = to_minimised(self.objectives, points)
        if len(self.objectives) == 1:
            return self._single(feas, f[:, 0])
        return self._multi(feas, points, f, front)

    def _single(self, feas: list[DesignMetrics], f: np.ndarray) -> list[Recommendation]:
        o = self.objectives[0]
        order = np.argsort(f, kind="stable")
        first = feas[order[0]]
        best = first.value(o.key)
        word = "lowest" if o.sense == "min" else "highest"
        out = []
        for rank, i in enumerate(order[: self.top], start=1):
            m = feas[i]
            v = m.value(o.key)
            if rank == 1:
                reason = f"{word} {o.key} of {len(feas)} feasible designs: {v:.4g}{self._context(m)}"
                if len(order) > 1:
                    runner = feas[order[1]]
                    rv = runner.value(o.key)
                    reason += f"; the runner-up ({self.difference(runner, m)}) gives {rv:.4g}, {_gap(rv, v)}"
            else:
                reason = f"{o.key} {v:.4g}, {_gap(v, best)} than #1{self._context(m)}; {self.difference(m, first)}"
            out.append(Recommendation(rank, m, reason))
        return out

    def _context(self, m: DesignMetrics) -> str:
        """What a cost per dose is made of: cost per batch over doses per batch."""
        if self.objectives[0].key != "cost.per_dose":
            return ""
        return f" ({m.value('cost.per_batch'):,.0f} per batch over {m.value('doses_per_batch'):,.0f} doses)"

    def difference(self, m: DesignMetrics, ref: DesignMetrics) -> str:
        """The design variables in which ``m`` differs from ``ref``, as 'key value (vs value)'."""
        parts = []
        for key in dict.fromkeys(self.variable_keys):
            a, b = _short(get_key(m.scenario, key)), _short(get_key(ref.scenario, key))
            if a != b:
                parts.append(f"{key} {a} (vs {b})")
        return "differs in " + "; ".join(parts) if parts else "same design variables"

    def _multi(
        self, feas: list[DesignMetrics], points: np.ndarray, f: np.ndarray, front: np.ndarray
    ) -> list[Recommendation]:
        idx = np.flatnonzero(front)
        ff = f[idx]
        lo, hi = ff.min(axis=0), ff.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        norm = (ff - lo) / span
        picks: list[tuple[int, str]] = []
        knee = int(idx[np.argmin(np.linalg.norm(norm, axis=1))])
        best_each = [points[int(idx[np.argmin(ff[:, j])]), j] for j in range(len(self.objectives))]
        detail = ", ".join(
            f"{o.key} {points[knee, j]:.3g} (best {best_each[j]:.3g})" for j, o in enumerate(self.objectives)
        )
        picks.append(
            (
                knee,
                f"best balance of the {len(idx)}-design Pareto front (closest to the ideal point with every "
                f"objective scaled to the front's range): {detail}",
            )
        )
        for j, o in enumerate(self.objectives):
            i = int(idx[np.argmin(ff[:, j])])
            word = "lowest" if o.sense == "min" else "highest"
            others = ", ".join(f"{p.key} {points[i, k]:.3g}" for k, p in enumerate(self.objectives) if k != j)
            picks.append((i, f"{word} {o.key} on the Pareto front ({points[i, j]:.4g}), at {others}"))
        knee_design = feas[knee]
        out: list[Recommendation] = []
        seen: set[int] = set()
        for i, reason in picks:
            if i in seen:
                for r in out:
                    if r.metrics is feas[i]:
                        r.reason += f"; it also has the {reason.split(' on the Pareto front')[0]}"
                continue
            seen.add(i)
            if i != knee:
                reason += f"; vs the balanced design: {self.difference(feas[i], knee_design)}"
            out.append(Recommendation(len(out) + 1, feas[i], reason))
        return out[: max(self.top, len(self.objectives) + 1)]

    def recommended_indices(self) -> list[int]:
        """Rows of :meth:`objective_table` that are recommended."""
        feas = self._feasible_designs()
        ids = {id(m): i for i, m in enumerate(feas)}
        return [ids[id(r.metrics)] for r in self.recommendations()]

    def to_json(self) -> dict[str, Any]:
        from exoforge.result import _clean

        _, front, _ = self.objective_table()
        feas = self._feasible_designs()
        reasons: Counter[str] = Counter()
        names = self.constraints
        for m, g, ok in zip(self.designs, self.violations, self.feasible, strict=True):
            if ok:
                continue
            if not m.ok:
                reasons[m.error] += 1
            else:
                for name, v in zip(names, g, strict=True):
                    if v > 0:
                        reasons[f"breaks: {name}"] += 1
        for r, c in self.invalid.items():
            reasons[r] += c
        recs = [
            {
                "rank": r.rank,
                "summary": r.metrics.summary,
                "reason": r.reason,
                "objectives": {o.key: r.metrics.value(o.key) for o in self.objectives},
                "kpis": {k: r.metrics.kpis.get(k) for k in REPORTED_KPIS},
                "probabilities": r.metrics.probabilities,
                "scenario": r.metrics.scenario,
            }
            for r in self.recommendations()
        ]
        return _clean(
            {
                "space": self.space_name,
                "algorithm": self.algorithm,
                "seed": self.seed,
                "objectives": [{"key": o.key, "sense": o.sense} for o in self.objectives],
                "constraints": self.constraints,
                "generations": self.generations,
                "population": self.population,
                "designs_evaluated": self.evaluated,
                "distinct_designs": len(self.designs),
                "feasible": int(self.feasible.sum()),
                "infeasible_reasons": dict(reasons.most_common()),
                "recommendations": recs,
                "pareto_front": [
                    {"summary": m.summary, "objectives": {o.key: m.value(o.key) for o in self.objectives}}
                    for m, on in zip(feas, front, strict=True)
                    if on
                ]
                if len(self.objectives) > 1
                else [],
                "history": [{"designs": n, "best": b} for n, b in self.history],
                "seconds": self.seconds,
                "state": self.state_path,
            }
        )


# --------------------------------------------------------------------------- the run


@dataclass
class OptimizerState:
    """What a resumed run needs: the algorithm (with its random generator and population) and the archive."""

    version: int
    digest: str
    algorithm: Any
    history: list[tuple[int, float]]
    seconds: float


def resolve_global(module: str, name: str) -> Any:
    """The module-level object ``module.name`` (what a pickled decorated function refers to)."""
    import importlib

    return getattr(importlib.import_module(module), name)


class _StatePickler(pickle.Pickler):
    """Pickles module-level functions that a decorator replaced by a closure (pymoo's operators) by name."""

    def reducer_override(self, obj: Any) -> Any:
        import importlib
        import types

        if isinstance(obj, types.FunctionType) and "<locals>" in obj.__qualname__ and obj.__closure__:
            for cell in obj.__closure__:
                inner = cell.cell_contents
                if isinstance(inner, types.FunctionType):
                    module = importlib.import_module(inner.__module__)
                    if getattr(module, inner.__name__, None) is obj:
                        return resolve_global, (inner.__module__, inner.__name__)
        return NotImplemented


def save_state(state: OptimizerState, path: Path) -> None:
    """Write the state atomically (a pickle: load only state files you wrote)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as fh:
        _StatePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    tmp.replace(path)


def load_state(path: Path, space: DesignSpace) -> OptimizerState:
    with path.open("rb") as fh:
        state = pickle.load(fh)
    if not isinstance(state, OptimizerState) or state.version != STATE_VERSION:
        raise ValueError(f"{path}: not an optimiser state of this exoforge version")
    if state.digest != space.digest:
        raise ValueError(f"{path}: saved for a different design space (or a changed base scenario); start afresh")
    return state


def _best(space: DesignSpace, evaluator: DesignEvaluator) -> float:
    """Best feasible value of the first objective so far (user's sense), NaN if none."""
    o = space.objectives[0]
    vals = [m.value(o.key) for m in evaluator.archive.values() if m.ok and np.all(constraint_values(space, m) <= 0)]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        return float("nan")
    return min(vals) if o.sense == "min" else max(vals)


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
) -> OptimizationResult:
    """Search ``space`` for the designs that best meet its objectives under its constraints.

    Parameters
    ----------
    generations, population, seed : override the space file's optimizer settings
    state_path : where the state is saved after every generation
    resume : continue from ``state_path`` (same space), up to ``generations`` in total
    on_generation : ``on_generation(generation, generations, designs evaluated)``
    """
    from pymoo.termination.max_gen import MaximumGenerationTermination

    cfg = space.optimizer
    gens = generations or cfg.generations
    pop = population or cfg.population
    rng_seed = cfg.seed if seed is None else seed
    path = Path(state_path) if state_path is not None else None
    start = time.perf_counter()
    if resume:
        if path is None or not path.exists():
            raise ValueError(f"nothing to resume: no state file at {path}")
        state = load_state(path, space)
        algorithm = state.algorithm
        algorithm.termination = MaximumGenerationTermination(gens)
        evaluator: DesignEvaluator = algorithm.problem.evaluator
        evaluator.backend = backend
        history, spent = state.history, state.seconds
    else:
        evaluator = DesignEvaluator(space, backend)
        algorithm = _algorithm(space, pop, rng_seed)
        algorithm.setup(DesignProblem(evaluator), termination=("n_gen", gens), seed=rng_seed, verbose=False)
        history, spent = [], 0.0
    while algorithm.has_next():
        algorithm.next()
        history.append((evaluator.evaluated, _best(space, evaluator)))
        if path is not None:
            save_state(
                OptimizerState(STATE_VERSION, space.digest, algorithm, history, spent + time.perf_counter() - start),
                path,
            )
        if on_generation is not None:
            on_generation(algorithm.n_iter - 1, gens, evaluator.evaluated)
    designs = list(evaluator.archive.values())
    violations = (
        np.array([constraint_values(space, m) for m in designs])
        if designs
        else np.zeros((0, len(constraint_names(space))))
    )
    algo_name = "GA" if type(algorithm).__name__ == "GA" else "NSGA-II"
    return OptimizationResult(
        space_name=space.name,
        objectives=space.objectives,
        constraints=constraint_names(space),
        algorithm=algo_name,
        seed=rng_seed,
        generations=gens,
        population=algorithm.pop_size,
        evaluated=evaluator.evaluated,
        designs=designs,
        violations=violations,
        invalid=dict(evaluator.invalid),
        seconds=spent + time.perf_counter() - start,
        state_path=str(path) if path is not None else None,
        history=history,
        top=top,
        variable_keys=tuple(v.key for v in space.variables),
    )
