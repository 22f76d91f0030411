"""Evaluating optimiser designs: one culture simulated once per distinct scenario, its metrics kept.

A design decodes to a scenario; designs with the same scenario are one design. Each distinct
scenario is simulated as a batch of 1 + m parameter sets (row 0 central, rows 1..m drawn with
common random numbers) and summarised as :class:`DesignMetrics`; the evaluator keeps every result
for the run. See :mod:`exoforge.analysis.optimize` for the search around it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exoforge.analysis.backends import batch_from_design
from exoforge.analysis.space import (
    PROBABILITY_METRICS,
    DesignSpace,
    common_uniforms,
    design_summary,
    scenario_key,
)
from exoforge.engine.backends import Backend, LocalBackend
from exoforge.parameters import ParameterBatch, ParameterSet
from exoforge.scenario import Scenario, ScenarioError, parse_scenario
from exoforge.simulation import culture_key

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
#: Objective value and constraint violation of a design that could not be evaluated.
INFEASIBLE = 1e30


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


def design_parameters(scn: Scenario, exclude_refs: Sequence[str] = (), parameter_file: Any = None) -> ParameterSet:
    """A design's parameter set: the scenario's (:func:`exoforge.simulation.parameters_for`) without the
    references left out, with a fitted parameter file (:mod:`exoforge.analysis.parameter_file`) applied."""
    from exoforge.simulation import parameters_for

    if parameter_file is None:
        return parameters_for(scn, exclude_refs).params
    from exoforge.analysis.parameter_file import fitted_parameters

    params: ParameterSet = fitted_parameters(scn, parameter_file, exclude_refs).params
    return params


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
    """Designs that share a culture: one upstream run for all (:func:`exoforge.simulation.simulate_culture`)."""
    from exoforge.simulation import simulate_culture

    culture = simulate_culture(designs[0][1], batch)
    out = []
    for key, scn in designs:
        ev, error = culture.evaluate(scn)
        out.append(metrics_from_evaluation(key, scn, ev, samples) if ev is not None else _failed(key, scn, str(error)))
    return out


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
        exclude_refs: Sequence[str] = (),
    ):
        self.space = space
        self.parameter_file = parameter_file  # fitted parameters (analysis.parameter_file.ParameterFile)
        self.exclude_refs = tuple(exclude_refs)  # evidence references left out of every design's parameters
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

        raw = json.dumps(data, sort_keys=True, default=str)
        if raw not in self._parsed:
            try:
                self._parsed[raw] = parse_scenario(data)
            except ScenarioError as exc:
                self._parsed[raw] = f"not a valid scenario: {exc.problems[0]}"
        return self._parsed[raw]

    def _batch(self, scn: Scenario) -> str:
        """Key of the parameter batch of ``scn`` (built once per parameter set)."""
        pk = parameters_key(scn)
        if pk not in self._batches:
            u = self.space.uncertainty
            ps = design_parameters(scn, self.exclude_refs, getattr(self, "parameter_file", None))
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
