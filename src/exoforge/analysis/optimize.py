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

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair

from exoforge.analysis.backends import batch_from_design
from exoforge.analysis.ranking import DEFAULT_TOLERANCE, TIE_BREAKS, tie_band_order
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

#: Version of the JSON state file (1 was a Python pickle, no longer read).
STATE_VERSION = 2
STATE_FORMAT = "exoforge optimiser state"
#: KPIs listed with each recommendation.
REPORTED_KPIS = (
    "cost.per_dose_supplied",
    "cost.per_dose",
    "cost.per_batch",
    "ev.final_particles",
    "ev.particles_per_ug_protein",
    "batch_days",
    "doses_per_batch",
    "doses_released_per_batch",
    "lots_per_batch",
    "batches_per_year",
    "doses_released_per_year",
    "overproduction_fraction",
    "lines_needed",
    "line_utilisation",
)

#: Rounds of the final neighbourhood polish (each moves to a better neighbour, if any).
POLISH_ROUNDS = 3
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
    x: list[float] = field(default_factory=list)  # an encoded vector that decodes to this design

    @property
    def ok(self) -> bool:
        return not self.error

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (non-finite numbers as the strings 'nan', 'inf', '-inf')."""
        return {
            "key": self.key,
            "summary": self.summary,
            "scenario": self.scenario,
            "error": self.error,
            "kpis": {k: _jnum(v) for k, v in self.kpis.items()},
            "probabilities": {k: None if v is None else _jnum(v) for k, v in self.probabilities.items()},
            "failed_checks": list(self.failed_checks),
            "x": [float(v) for v in self.x],
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> DesignMetrics:
        return DesignMetrics(
            key=str(d["key"]),
            summary=str(d["summary"]),
            scenario=dict(d["scenario"]),
            error=str(d.get("error", "")),
            kpis={str(k): _fnum(v) for k, v in d.get("kpis", {}).items()},
            probabilities={str(k): None if v is None else _fnum(v) for k, v in d.get("probabilities", {}).items()},
            failed_checks=[str(c) for c in d.get("failed_checks", [])],
            x=[float(v) for v in d.get("x", [])],
        )

    def value(self, key: str) -> float:
        """A KPI at central values, or one of the probabilities (NaN when undefined)."""
        if key in PROBABILITY_METRICS:
            p = self.probabilities.get(key)
            return float("nan") if p is None else float(p)
        return float(self.kpis.get(key, float("nan")))


def _jnum(v: float) -> float | str:
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _fnum(v: float | str) -> float:
    return float(v)


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

    def __init__(
        self,
        space: DesignSpace,
        backend: Backend | None = None,
        cultures_per_task: int | None = None,
        parameter_file: Any = None,
    ):
        self.space = space
        self.parameter_file = parameter_file  # fitted parameters (analysis.parameter_file.ParameterFile)
        self.backend: Backend | None = backend
        self.cultures_per_task = cultures_per_task
        self.archive: dict[str, DesignMetrics] = {}
        self.evaluated = 0
        self.simulated_cultures = 0
        self.invalid: Counter[str] = Counter()
        self._parsed: dict[str, Scenario | str] = {}
        self._batches: dict[str, ParameterBatch] = {}

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
            ps = parameters_for(scn).params
            if getattr(self, "parameter_file", None) is not None:
                from exoforge.analysis.parameter_file import apply_parameter_file

                ps = apply_parameter_file(ps, self.parameter_file, scn)[0]
            self._batches[pk] = design_batch(ps, u.samples, u.seed)
        return pk

    def evaluate(self, x: np.ndarray) -> list[DesignMetrics]:
        """Metrics of every row of the encoded population ``x`` (repeated scenarios evaluated once)."""
        rows: list[DesignMetrics] = []
        todo: dict[str, tuple[Scenario, str]] = {}
        first_x: dict[str, list[float]] = {}
        for vec in np.atleast_2d(x):
            data = self.space.decode(vec)
            scn = self._scenario(data)
            if isinstance(scn, str):
                self.invalid[scn] += 1
                rows.append(DesignMetrics("", "(invalid)", data, error=scn))
                continue
            key = scenario_key(scn)
            if key not in self.archive and key not in todo:
                first_x[key] = [float(v) for v in vec]
                try:
                    todo[key] = (scn, self._batch(scn))
                except (KeyError, ValueError) as exc:
                    self.archive[key] = _failed(key, scn, str(exc))
            rows.append(DesignMetrics(key, "", {}))
        self._run(todo)
        for key, vec in first_x.items():
            if not self.archive[key].x:
                self.archive[key].x = vec
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


def _sort_key_value(n: Neighbour, o: Objective) -> float:
    """A neighbour's objective (user's sense), for comparison with the best design's."""
    v = n.metrics.value(o.key)
    return v if o.sense == "min" else -v


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
    neighbours: list[Neighbour] = field(default_factory=list)  # of the best design (single objective)
    polish_evaluated: int = 0  # designs evaluated by the neighbourhood polish after the search
    neighbours_of: str | None = None  # key of the design whose neighbours these are (recommendation #1)
    space: DesignSpace | None = None

    @property
    def feasible(self) -> np.ndarray:
        if not len(self.designs):
            return np.zeros(0, dtype=bool)
        return cast("np.ndarray", np.all(self.violations <= 0, axis=1))

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

    def ranked_single(self, feas: list[DesignMetrics], f: np.ndarray, count: int) -> list[int]:
        """The first ``count`` feasible designs in recommendation order (one objective, minimised as ``f``).

        Designs within the space's tie tolerance of the best remaining one are
        tied; of them the one lowest on the objective's tie-break KPIs
        (:data:`exoforge.analysis.ranking.TIE_BREAKS`) comes next.
        """
        prefs = TIE_BREAKS.get(self.objectives[0].key, ())
        criteria = [[m.value(k) for m in feas] for k in prefs]
        return tie_band_order(list(f), criteria, self.tolerance, count)

    @property
    def tolerance(self) -> float:
        return self.space.optimizer.tie_tolerance if self.space is not None else DEFAULT_TOLERANCE

    def _single(self, feas: list[DesignMetrics], f: np.ndarray) -> list[Recommendation]:
        o = self.objectives[0]
        order = self.ranked_single(feas, f, max(self.top, 2))
        first = feas[order[0]]
        best = first.value(o.key)
        lowest = float(np.min(f))
        word = "lowest" if o.sense == "min" else "highest"
        tol = self.tolerance
        prefs = TIE_BREAKS.get(o.key, ())
        out = []
        for rank, i in enumerate(order[: self.top], start=1):
            m = feas[i]
            v = m.value(o.key)
            if rank == 1:
                tied = [j for j in range(len(feas)) if f[j] <= lowest + tol * abs(lowest)]
                if len(tied) > 1 and prefs:
                    low_value = lowest if o.sense == "min" else -lowest
                    reason = (
                        f"{o.key} {v:.4g}{self._context(m)}: one of {len(tied)} feasible designs within "
                        f"{tol:.0%} of the {word} ({low_value:.4g}), and of those the lowest on "
                        f"{', then '.join(prefs)}"
                    )
                else:
                    reason = f"{word} {o.key} of {len(feas)} feasible designs: {v:.4g}{self._context(m)}"
                if len(order) > 1:
                    runner = feas[order[1]]
                    rv = runner.value(o.key)
                    reason += f"; the runner-up ({self.difference(runner, m)}) gives {rv:.4g}, {_gap(rv, v)}"
                    extra = [
                        f"{k} {runner.value(k):.3g} vs {m.value(k):.3g}"
                        for k in prefs
                        if math.isfinite(runner.value(k)) and runner.value(k) != m.value(k)
                    ]
                    if prefs and extra:
                        reason += f" ({'; '.join(extra[:1])})"
                if self.neighbours and self.neighbours_of == m.key:
                    own = v if o.sense == "min" else -v
                    worse = sum(1 for n in self.neighbours if not n.feasible or _sort_key_value(n, o) > own)
                    reason += f"; of its {len(self.neighbours)} one-variable neighbours {worse} are worse or infeasible"
            else:
                reason = f"{o.key} {v:.4g}, {_gap(v, best)} than #1{self._context(m)}; {self.difference(m, first)}"
            out.append(Recommendation(rank, m, reason))
        return out

    def _context(self, m: DesignMetrics) -> str:
        """What the objective is made of: cost per batch over doses, or the batches the demand takes."""
        key = self.objectives[0].key
        if key == "cost.per_dose":
            return f" ({m.value('cost.per_batch'):,.0f} per batch over {m.value('doses_per_batch'):,.0f} doses)"
        if key != "cost.per_dose_supplied":
            return ""
        bpy, lines = m.value("batches_per_year"), m.value("lines_needed")
        demand = m.value("demand.doses_per_year")
        made, over = m.value("doses_released_per_year"), m.value("overproduction_fraction")
        util = m.value("line_utilisation")
        if not all(math.isfinite(v) for v in (bpy, lines, demand, made, over)):
            return ""
        return (
            f" ({bpy:.0f} batch{'es' if bpy != 1 else ''} a year of {m.value('cost.per_batch'):,.0f} for "
            f"{demand:,.0f} doses demanded; releases {made:,.0f} doses a year, {over:.0%} beyond the demand; "
            f"{lines:.0f} line{'s' if lines != 1 else ''}, {util:.0%} utilised)"
        )

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

    def neighbours_json(self) -> list[dict[str, Any]]:
        """The best design's one-variable neighbours (single objective), best first."""
        best = next((m for m in self.designs if m.key == self.neighbours_of), None)
        if best is None:
            return []
        o = self.objectives[0]
        rows = [n.to_json(o, best) for n in self.neighbours]
        return sorted(rows, key=lambda r: (not r["feasible"], r["relative_to_best"] or 0.0))

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
                "neighbourhood_designs_evaluated": self.polish_evaluated,
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
                "neighbours": self.neighbours_json(),
                "seconds": self.seconds,
                "state": self.state_path,
            }
        )


# --------------------------------------------------------------------------- the run


@dataclass
class OptimizerState:
    """What a resumed run needs (all plain JSON): settings, generations done and every design evaluated."""

    version: int
    digest: str
    algorithm: str  # 'ga' | 'nsga2'
    population: int
    seed: int
    generations_done: int
    history: list[tuple[int, float]]
    seconds: float
    archive: list[DesignMetrics]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": self.version,
            "digest": self.digest,
            "algorithm": self.algorithm,
            "population": self.population,
            "seed": self.seed,
            "generations_done": self.generations_done,
            "history": [[n, _jnum(b)] for n, b in self.history],
            "seconds": self.seconds,
            "archive": [m.to_json() for m in self.archive],
        }


def save_state(state: OptimizerState, path: Path) -> None:
    """Write the state as JSON, atomically (a temporary file renamed over the old one)."""
    from exoforge.fileio import write_atomic

    write_atomic(path, json.dumps(state.to_json(), separators=(",", ":")))


def load_state(path: Path, space: DesignSpace) -> OptimizerState:
    """Read a JSON state file saved for ``space``; refuse pickles and anything else with a clear reason."""
    raw = path.read_bytes()
    if raw[:1] == b"\x80":
        raise ValueError(
            f"{path}: an optimiser state saved as a Python pickle by an earlier exoforge version; pickles can run "
            "code when loaded, so they are no longer read. Start afresh without --resume (the state is now JSON)"
        )
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path}: not an exoforge optimiser state (expected a JSON file)") from None
    if not isinstance(d, dict) or d.get("format") != STATE_FORMAT:
        raise ValueError(f"{path}: not an exoforge optimiser state (no '{STATE_FORMAT}' format key)")
    if d.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: optimiser state version {d.get('version')}; this exoforge reads {STATE_VERSION}")
    if d.get("digest") != space.digest:
        raise ValueError(f"{path}: saved for a different design space (or a changed base scenario); start afresh")
    try:
        return OptimizerState(
            version=int(d["version"]),
            digest=str(d["digest"]),
            algorithm=str(d["algorithm"]),
            population=int(d["population"]),
            seed=int(d["seed"]),
            generations_done=int(d["generations_done"]),
            history=[(int(n), _fnum(b)) for n, b in d["history"]],
            seconds=float(d["seconds"]),
            archive=[DesignMetrics.from_json(m) for m in d["archive"]],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged optimiser state ({type(exc).__name__}: {exc})") from None


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


@dataclass
class Neighbour:
    """A design one variable away from the recommended one, and how it compares."""

    variable: str
    value: str
    metrics: DesignMetrics
    feasible: bool
    broken: list[str]

    def to_json(self, objective: Objective, best: DesignMetrics) -> dict[str, Any]:
        v, b = self.metrics.value(objective.key), best.value(objective.key)
        return {
            "variable": self.variable,
            "value": self.value,
            "summary": self.metrics.summary,
            "feasible": self.feasible,
            "objective": v if self.feasible else None,
            "relative_to_best": (v / b - 1) if self.feasible and b and math.isfinite(v) else None,
            "breaks": self.broken,
            "why": why_different(self, best, objective),
        }


def why_different(n: Neighbour, best: DesignMetrics, objective: Objective) -> str:
    """In a few words, what makes a neighbour worse (or better) than the best design."""
    if not n.metrics.ok:
        return n.metrics.error
    if not n.feasible:
        return "breaks " + "; ".join(n.broken)
    m, parts = n.metrics, []
    for key, label in (("batches_per_year", "batches a year"), ("lines_needed", "lines")):
        a, b = m.value(key), best.value(key)
        if math.isfinite(a) and math.isfinite(b) and a != b:
            parts.append(f"{a:.0f} {label} (vs {b:.0f})")
    for key, label in (("cost.per_batch", "cost per batch"), ("doses_released_per_batch", "doses per batch")):
        a, b = m.value(key), best.value(key)
        if math.isfinite(a) and math.isfinite(b) and b and abs(a / b - 1) > 0.005:
            parts.append(f"{label} {_gap(a, b)}")
    over_a, over_b = m.value("overproduction_fraction"), best.value("overproduction_fraction")
    if math.isfinite(over_a) and math.isfinite(over_b) and abs(over_a - over_b) > 0.05:
        parts.append(f"releases {over_a:.0%} beyond the demand (vs {over_b:.0%})")
    return "; ".join(parts) or f"{objective.key} {_gap(m.value(objective.key), best.value(objective.key))}"


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
) -> OptimizationResult:
    """Search ``space`` for the designs that best meet its objectives under its constraints.

    Parameters
    ----------
    generations, population, seed : override the space file's optimizer settings
    state_path : where the state is saved (JSON) after every generation
    resume : continue from ``state_path`` (same space), up to ``generations`` in total
    on_generation : ``on_generation(generation, generations, designs evaluated)``
    parameter_file : fitted parameters (:class:`exoforge.analysis.parameter_file.ParameterFile`) for every design
    """
    from pymoo.termination.max_gen import MaximumGenerationTermination

    cfg = space.optimizer
    gens = generations or cfg.generations
    pop = population or cfg.population
    rng_seed = cfg.seed if seed is None else seed
    path = Path(state_path) if state_path is not None else None
    start = time.perf_counter()
    evaluator = DesignEvaluator(space, backend, parameter_file=parameter_file)
    replay, spent = 0, 0.0
    saved_history: list[tuple[int, float]] = []
    if resume:
        if path is None or not path.exists():
            raise ValueError(f"nothing to resume: no state file at {path}")
        state = load_state(path, space)
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
                    space.digest,
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
    )
    if len(space.objectives) == 1:
        recs = result.recommendations()
        if recs and recs[0].metrics.x:
            result.neighbours = evaluate_neighbours(space, evaluator, recs[0].metrics)
            result.neighbours_of = recs[0].metrics.key
            result.polish_evaluated = evaluator.evaluated - searched
    return result
