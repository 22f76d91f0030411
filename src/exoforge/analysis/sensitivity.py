"""Global sensitivity: Sobol indices, Morris screening and a one-at-a-time tornado, on the whole process.

SALib provides the samplers and the estimators; a sampler and an analyser are
only valid as a pair (a Saltelli/Sobol design analysed by ``analyze.sobol``, a
Morris design by ``analyze.morris``, with the same problem, sample size and
seed). exoforge owns that pairing: a method object (:class:`SobolMethod`,
:class:`MorrisMethod`) generates its design and analyses outputs computed on
exactly that design, and refuses anything else.

Designs live in the unit hypercube of *quantiles*: each parameter's column is
mapped through its own inverse CDF (:meth:`ParameterSet.from_uniform`), so the
indices are for the parameters' evidence-derived distributions, not for
arbitrary bounds. Morris moves each parameter over its 2.5th-97.5th
percentiles (grid levels on quantiles); the tornado moves one parameter at a
time to its 5th and 95th percentile with all others at their central values.

Validated against SALib's Ishigami test function (analytical indices) in the
test suite.
"""

# Longer than 500 lines: Sobol and Morris analyses share sampling, the KPI evaluation and the index containers.

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exoforge.analysis.backends import Design, ProgressCallback, RowOutcomes, probe, run_design
from exoforge.engine.backends import Backend
from exoforge.parameters import ParameterBatch, ParameterSet
from exoforge.scenario import Scenario

METHODS = ("sobol", "morris", "tornado")
#: Absolute accuracy of a Sobol index that a suggested sample size aims at.
ACCURACY = 0.05
DEFAULT_KPIS = ("cost.per_dose", "ev.final_particles", "ev.particles_per_ug_protein", "batch_days")


def _problem(names: Sequence[str], low: float = 0.0, high: float = 1.0) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[low, high]] * len(names)}


# --------------------------------------------------------------------------- indices


@dataclass
class SobolIndices:
    """First-order and total Sobol indices with 95 % bootstrap confidence half-widths."""

    names: list[str]
    S1: np.ndarray
    S1_conf: np.ndarray
    ST: np.ndarray
    ST_conf: np.ndarray
    S2: np.ndarray | None = None

    def by_name(self) -> dict[str, dict[str, float]]:
        return {
            n: {"S1": float(a), "S1_conf": float(b), "ST": float(c), "ST_conf": float(d)}
            for n, a, b, c, d in zip(self.names, self.S1, self.S1_conf, self.ST, self.ST_conf, strict=True)
        }

    def order(self) -> list[int]:
        """Parameter indices, largest total index first."""
        return sorted(range(len(self.names)), key=lambda i: -np.nan_to_num(self.ST[i], nan=-1.0))

    def out_of_range(self, n: int, accuracy: float = ACCURACY) -> list[dict[str, Any]]:
        """Indices outside [0, 1] by more than their 95 % interval, with the base sample size that would fix them.

        A Sobol index is a share of variance, so an estimate whose interval lies
        wholly outside [0, 1] has an error of at least its distance from the
        range, larger than the bootstrap interval says (too few samples, or a
        heavy-tailed output). Estimation errors shrink as 1/sqrt(n): the
        suggested n is the power of two at which an error of that size would
        fall to ``accuracy``.
        """
        out = []
        for i, name in enumerate(self.names):
            for kind, est, conf in (("S1", self.S1[i], self.S1_conf[i]), ("ST", self.ST[i], self.ST_conf[i])):
                if not (np.isfinite(est) and np.isfinite(conf)):
                    continue
                excess = max(-float(est), float(est) - 1.0)
                if excess > float(conf):
                    need = n * (max(excess, float(conf)) / accuracy) ** 2
                    out.append(
                        {
                            "parameter": name,
                            "index": kind,
                            "estimate": float(est),
                            "conf": float(conf),
                            "outside_by": excess,
                            "n": n,
                            "suggested_n": int(2 ** math.ceil(math.log2(max(need, 2 * n)))),
                        }
                    )
        return out

    def top(self, k: int) -> list[tuple[str, float, float, float, float]]:
        return [
            (self.names[i], float(self.S1[i]), float(self.S1_conf[i]), float(self.ST[i]), float(self.ST_conf[i]))
            for i in self.order()[:k]
        ]


@dataclass
class MorrisIndices:
    """Morris elementary-effect statistics (in KPI units per unit change of quantile)."""

    names: list[str]
    mu: np.ndarray
    mu_star: np.ndarray
    mu_star_conf: np.ndarray
    sigma: np.ndarray

    def by_name(self) -> dict[str, dict[str, float]]:
        return {
            n: {"mu": float(a), "mu_star": float(b), "mu_star_conf": float(c), "sigma": float(d)}
            for n, a, b, c, d in zip(self.names, self.mu, self.mu_star, self.mu_star_conf, self.sigma, strict=True)
        }

    def order(self) -> list[int]:
        return sorted(range(len(self.names)), key=lambda i: -np.nan_to_num(self.mu_star[i], nan=-1.0))

    def rows(self) -> list[tuple[str, float, float]]:
        return [(self.names[i], float(self.mu_star[i]), float(self.sigma[i])) for i in self.order()]


# --------------------------------------------------------------------------- sampler/analyser pairs


@dataclass(frozen=True, eq=False)
class MethodDesign:
    """A design in the unit hypercube, (rows, d), and the method and parameter names that generated it."""

    method: SobolMethod | MorrisMethod
    names: tuple[str, ...]
    u: np.ndarray


@dataclass(frozen=True)
class SobolMethod:
    """Saltelli/Sobol design (``SALib.sample.sobol``) paired with ``SALib.analyze.sobol``.

    Parameters
    ----------
    n : base sample size (a power of two); the design has n (d + 2) rows, or
        n (2d + 2) with second-order indices
    second_order : also estimate second-order indices
    seed : seed of the design's scrambling and of the bootstrap
    """

    n: int = 1024
    second_order: bool = False
    seed: int = 1
    resamples: int = 100

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError(f"Sobol base sample size must be a power of two (got {self.n})")

    def rows(self, d: int) -> int:
        return self.n * (2 * d + 2 if self.second_order else d + 2)

    def design(self, names: Sequence[str]) -> MethodDesign:
        """The Saltelli/Sobol design in the unit hypercube."""
        from SALib.sample import sobol as sobol_sample

        u = sobol_sample.sample(_problem(names), self.n, calc_second_order=self.second_order, seed=self.seed)
        return MethodDesign(self, tuple(names), np.asarray(u))

    def analyse(self, design: MethodDesign, y: np.ndarray) -> SobolIndices:
        """Indices from outputs ``y`` computed on ``design``, which this method must have generated."""
        from SALib.analyze import sobol as sobol_analyze

        names = _check_pairing(self, design, y)
        res = sobol_analyze.analyze(
            _problem(names),
            np.asarray(y, dtype=float),
            calc_second_order=self.second_order,
            num_resamples=self.resamples,
            seed=self.seed,
        )
        return SobolIndices(
            list(names),
            np.asarray(res["S1"]),
            np.asarray(res["S1_conf"]),
            np.asarray(res["ST"]),
            np.asarray(res["ST_conf"]),
            np.asarray(res["S2"]) if self.second_order else None,
        )


@dataclass(frozen=True)
class MorrisMethod:
    """Morris trajectories (``SALib.sample.morris``) paired with ``SALib.analyze.morris``.

    Parameters
    ----------
    trajectories : number of trajectories r; the design has r (d + 1) rows
    levels : grid levels p of each parameter (even)
    low, high : quantiles the grid spans (unbounded distributions have no 0th
        or 100th percentile)
    seed : seed of the trajectories and of the bootstrap
    """

    trajectories: int = 32
    levels: int = 4
    seed: int = 1
    low: float = 0.025
    high: float = 0.975
    resamples: int = 100

    def rows(self, d: int) -> int:
        return self.trajectories * (d + 1)

    def design(self, names: Sequence[str]) -> MethodDesign:
        """Morris trajectories on the grid of quantiles between ``low`` and ``high``."""
        from SALib.sample import morris as morris_sample

        problem = _problem(names, self.low, self.high)
        u = morris_sample.sample(problem, self.trajectories, num_levels=self.levels, seed=self.seed)
        return MethodDesign(self, tuple(names), np.asarray(u))

    def analyse(self, design: MethodDesign, y: np.ndarray) -> MorrisIndices:
        """Elementary-effect statistics from outputs ``y`` computed on ``design``, which this method generated."""
        from SALib.analyze import morris as morris_analyze

        names = _check_pairing(self, design, y)
        res = morris_analyze.analyze(
            _problem(names, self.low, self.high),
            design.u,
            np.asarray(y, dtype=float),
            num_resamples=self.resamples,
            num_levels=self.levels,
            seed=self.seed,
        )
        return MorrisIndices(
            list(names),
            np.asarray(res["mu"]),
            np.asarray(res["mu_star"]),
            np.asarray(res["mu_star_conf"]),
            np.asarray(res["sigma"]),
        )


def _check_pairing(method: SobolMethod | MorrisMethod, design: MethodDesign, y: np.ndarray) -> list[str]:
    """Refuse a design another method (or the same method with other settings) generated."""
    if type(design.method) is not type(method) or design.method != method:
        raise ValueError(f"{method} analyses only its own design; this design was generated by {design.method}")
    expected = method.rows(len(design.names))
    if design.u.shape != (expected, len(design.names)):
        raise ValueError(f"{type(method).__name__}: design of shape {design.u.shape}, expected {expected} rows")
    if len(y) != expected:
        raise ValueError(f"{type(method).__name__}: {len(y)} outputs for a design of {expected} rows")
    return list(design.names)


def analyse_function(
    method: SobolMethod | MorrisMethod,
    names: Sequence[str],
    model: Callable[[np.ndarray], np.ndarray],
) -> SobolIndices | MorrisIndices:
    """Indices of any vectorised ``model(u)`` of unit-hypercube rows (used for test functions)."""
    design = method.design(names)
    return method.analyse(design, model(design.u))


# --------------------------------------------------------------------------- tornado


@dataclass
class Tornado:
    """KPI at the central values (``base``) and with each parameter alone at its 5th / 95th percentile."""

    kpi: str
    base: float
    rows: list[tuple[str, float, float]]  # (parameter, KPI at low, KPI at high), widest swing first
    values: dict[str, tuple[float, float]] = field(default_factory=dict)  # parameter values at low, high

    def by_name(self) -> dict[str, tuple[float, float]]:
        return {name: (lo, hi) for name, lo, hi in self.rows}


def tornado_batch(params: ParameterSet, names: Sequence[str], level: float = 0.90) -> ParameterBatch:
    """Row 0 central; rows 2j+1 and 2j+2 move parameter j alone to the ends of its central ``level`` interval."""
    batch = params.nominal(1 + 2 * len(names))
    values = {k: v.copy() for k, v in batch.values.items()}
    for j, name in enumerate(names):
        p = params[name]
        lo, hi = p.distribution.interval(p.value, level)
        values[name][1 + 2 * j] = lo
        values[name][2 + 2 * j] = hi
    return ParameterBatch(batch.n, values, batch.units)


def tornado(scn: Scenario, params: ParameterSet, names: Sequence[str], kpis: Sequence[str]) -> dict[str, Tornado]:
    """One-at-a-time swings of every KPI of ``kpis`` (one batch of 2d + 1 rows, in this process)."""
    from exoforge.simulation import evaluate

    batch = tornado_batch(params, names)
    with np.errstate(all="ignore"):
        ev = evaluate(scn, batch)
    out = {}
    for kpi in kpis:
        y = ev.kpis[kpi]
        rows = [(n, float(y[1 + 2 * j]), float(y[2 + 2 * j])) for j, n in enumerate(names)]
        rows.sort(key=lambda r: -abs(np.nan_to_num(r[2] - r[1])))
        values = {
            n: (float(batch.values[n][1 + 2 * j]), float(batch.values[n][2 + 2 * j])) for j, n in enumerate(names)
        }
        out[kpi] = Tornado(kpi, float(y[0]), rows, values)
    return out


# --------------------------------------------------------------------------- on a scenario


@dataclass
class SensitivityResult:
    """Indices of every requested KPI by every method that ran."""

    scenario_name: str
    names: list[str]
    kpis: list[str]
    methods: list[str]
    n: int
    seed: int
    sobol: dict[str, SobolIndices] = field(default_factory=dict)
    morris: dict[str, MorrisIndices] = field(default_factory=dict)
    tornado: dict[str, Tornado] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0
    failed: dict[str, int] = field(default_factory=dict)
    imputed: dict[str, int] = field(default_factory=dict)
    log_outputs: bool = False

    def ranking(self, kpi: str) -> list[str]:
        """Parameters, most influential first (total Sobol index, else Morris mu*, else tornado swing)."""
        if kpi in self.sobol:
            s = self.sobol[kpi]
            return [s.names[i] for i in s.order()]
        if kpi in self.morris:
            m = self.morris[kpi]
            return [m.names[i] for i in m.order()]
        return [r[0] for r in self.tornado[kpi].rows]

    def index_warnings(self) -> list[dict[str, Any]]:
        """Sobol indices outside [0, 1] by more than their interval, for every KPI (see ``out_of_range``)."""
        return [{"kpi": kpi, **w} for kpi, s in self.sobol.items() for w in s.out_of_range(self.n)]

    def warnings(self) -> list[str]:
        """One sentence per index that leaves [0, 1] by more than its 95 % interval."""
        out = []
        for w in self.index_warnings():
            out.append(
                f"{w['kpi']}: {w['index']} of {w['parameter']} = {w['estimate']:.3f} ± {w['conf']:.3f} lies outside "
                f"[0, 1] by more than its 95 % interval: not converged at n = {w['n']} (errors shrink as 1/sqrt(n); "
                f"about -n {w['suggested_n']} would bring an error of this size below {ACCURACY:g})"
                + ("" if self.log_outputs else ", or the output is heavy-tailed: try --log")
            )
        return out

    def to_json(self) -> dict[str, Any]:
        from exoforge.result import _clean

        out: dict[str, Any] = {}
        for kpi in self.kpis:
            entry: dict[str, Any] = {"ranking": self.ranking(kpi)}
            if kpi in self.sobol:
                entry["sobol"] = self.sobol[kpi].by_name()
            if kpi in self.morris:
                entry["morris"] = self.morris[kpi].by_name()
            if kpi in self.tornado:
                t = self.tornado[kpi]
                entry["tornado"] = {
                    "base": t.base,
                    "rows": [
                        {
                            "parameter": name,
                            "kpi_at_p5": lo,
                            "kpi_at_p95": hi,
                            "parameter_p5": t.values[name][0],
                            "parameter_p95": t.values[name][1],
                        }
                        for name, lo, hi in t.rows
                    ],
                }
            if self.imputed.get(kpi):
                entry["imputed_non_finite"] = self.imputed[kpi]
            out[kpi] = entry
        return _clean(
            {
                "scenario": self.scenario_name,
                "methods": self.methods,
                "n": self.n,
                "seed": self.seed,
                "log_outputs": self.log_outputs,
                "parameters": self.names,
                "kpis": out,
                "evaluations": self.evaluations,
                "failed": self.failed,
                "index_warnings": self.index_warnings(),
                "seconds": self.seconds,
            }
        )


def influential_names(scn: Scenario, params: ParameterSet) -> list[str]:
    """Uncertain parameters the scenario actually reads (the others cannot move an output)."""
    from exoforge.simulation import evaluate

    used = evaluate(scn, params.nominal(1)).used
    return [p.name for p in params.uncertain() if p.name in used]


def _outputs(out: RowOutcomes, kpi: str, log: bool) -> tuple[np.ndarray, int]:
    """The KPI column ready for an estimator: non-finite values replaced by the median (counted)."""
    y = np.array(out.kpis[kpi], dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, np.log10(y), np.nan)
    bad = ~np.isfinite(y)
    if bad.all():
        raise ValueError(f"{kpi}: no finite value in the design; choose another KPI")
    if bad.any():
        y[bad] = np.median(y[~bad])
    return y, int(bad.sum())


def sensitivity(
    scenario: Scenario,
    *,
    methods: Sequence[str] = ("sobol", "morris", "tornado"),
    n: int = 1024,
    trajectories: int = 32,
    seed: int = 1,
    kpis: Sequence[str] = DEFAULT_KPIS,
    names: Sequence[str] | None = None,
    params: ParameterSet | None = None,
    second_order: bool = False,
    log_outputs: bool = False,
    backend: Backend | None = None,
    progress: ProgressCallback | None = None,
) -> SensitivityResult:
    """Sobol indices, Morris screening and a tornado of ``kpis`` over the scenario's uncertain parameters.

    Parameters
    ----------
    methods : any of ``sobol``, ``morris``, ``tornado``
    n : Sobol base sample size (power of two)
    trajectories : Morris trajectories
    names : parameters to vary (default: every uncertain parameter the scenario reads)
    second_order : Sobol second-order indices too (n (2d + 2) evaluations)
    log_outputs : analyse log10 of the KPIs (multiplicative models; positive KPIs only)
    """
    from exoforge.simulation import parameters_for

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"method '{unknown[0]}' is not one of {', '.join(METHODS)}")
    ps = params if params is not None else parameters_for(scenario).params
    expected = probe(scenario, ps)
    missing = [k for k in kpis if k not in expected.kpis]
    if missing:
        raise ValueError(f"KPI '{missing[0]}' is not an output; outputs: {', '.join(expected.kpis)}")
    names = list(names) if names is not None else influential_names(scenario, ps)
    for name in names:
        if name not in ps:
            raise KeyError(f"no parameter named '{name}'")
        if not ps[name].distribution.is_uncertain:
            raise ValueError(f"parameter '{name}' has no uncertainty distribution to vary it over")
    result = SensitivityResult(scenario.name, names, list(kpis), list(methods), n, seed, log_outputs=log_outputs)
    start = time.perf_counter()
    if "tornado" in methods:
        result.tornado = tornado(scenario, ps, names, kpis)
        result.evaluations += 1 + 2 * len(names)
    plan: list[MethodDesign] = []
    if "morris" in methods:
        plan.append(MorrisMethod(trajectories=trajectories, seed=seed).design(names))
    if "sobol" in methods:
        plan.append(SobolMethod(n=n, second_order=second_order, seed=seed).design(names))
    total = sum(len(p.u) for p in plan)
    done = [0]

    def step(rows: int, _total: int) -> None:
        if progress is not None:
            progress(done[0] + rows, total)

    for design in plan:
        out = run_design(scenario, ps, Design.from_matrix(names, design.u), backend, progress=step, expected=expected)
        done[0] += len(design.u)
        result.evaluations += len(design.u)
        kind = "morris" if isinstance(design.method, MorrisMethod) else "sobol"
        if out.failed.any():
            result.failed[kind] = int(out.failed.sum())
        for kpi in kpis:
            y, imputed = _outputs(out, kpi, log_outputs)
            result.imputed[kpi] = result.imputed.get(kpi, 0) + imputed
            if isinstance(design.method, MorrisMethod):
                result.morris[kpi] = design.method.analyse(design, y)
            else:
                result.sobol[kpi] = design.method.analyse(design, y)
    result.seconds = time.perf_counter() - start
    return result
