"""Monte Carlo uncertainty analysis: every uncertain parameter sampled, the whole process run for each draw.

:func:`monte_carlo` draws N parameter sets from the distributions of the
scenario's :class:`~exoforge.parameters.ParameterSet` (literature defaults and
evidence-pooled strategy effects, with the user's overrides fixed), evaluates
them on a backend in chunks and summarises every numeric KPI by its median and
5th-95th percentiles, with

* ``p_meets_dose_target``: the probability that a batch yields at least one
  whole dose of the scenario's dose (``doses_per_batch >= 1``);
* ``p_meets_demand``: the probability that one production line, running the
  scenario's batches back to back, meets ``demand.doses_per_year``
  (``lines_needed <= 1``); ``None`` without a demand;
* ``p_all_checks_pass``: the probability that every engineering check passes.

Samplers: ``random`` (independent draws, blocks seeded by
``SeedSequence.spawn``), ``lhs`` (scipy Latin hypercube) and ``sobol``
(scrambled Sobol sequence), all mapped through each parameter's inverse CDF.
Results are identical for a seed whatever the backend and chunk size.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from exoforge.analysis.backends import (
    DEFAULT_CHUNK_ROWS,
    Design,
    ProgressCallback,
    RowOutcomes,
    probe,
    run_design,
)
from exoforge.engine.backends import Backend
from exoforge.parameters import ParameterSet
from exoforge.scenario import Scenario

SAMPLERS = ("random", "lhs", "sobol")
#: KPIs shown first in tables, histograms and the correlation table.
HEADLINE_KPIS = (
    "cost.per_dose",
    "cost.per_batch",
    "ev.final_particles",
    "ev.particles_per_ug_protein",
    "ev.recovery_fraction",
    "cells.harvested",
    "doses_per_batch_exact",
    "batch_days",
)


def quantiles(x: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Linear-interpolation quantiles of the non-NaN values of ``x``; equal infinite neighbours stay infinite."""
    v = np.sort(x[~np.isnan(x)])
    if v.size == 0:
        return [float("nan")] * len(qs)
    out = []
    for q in qs:
        pos = q * (v.size - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        a, b = v[lo], v[hi]
        out.append(float(a) if a == b else float(a + (b - a) * (pos - lo)))
    return out


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the rows where both are finite (average ranks not needed: ties are rare)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra = np.argsort(np.argsort(a[ok])).astype(float)
    rb = np.argsort(np.argsort(b[ok])).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _qmc(kind: str, d: int, seed: int) -> Any:
    from scipy.stats import qmc

    engine = qmc.LatinHypercube if kind == "lhs" else qmc.Sobol
    key = "rng" if "rng" in inspect.signature(engine.__init__).parameters else "seed"
    return engine(d, scramble=True, **{key: np.random.default_rng(seed)})


def make_design(names: Sequence[str], n: int, seed: int, sampler: str = "random") -> Design:
    """The uniform design of ``n`` rows for ``names`` (generated once; chunked later)."""
    if sampler == "random":
        return Design.random(names, n, seed)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler '{sampler}' is not one of {', '.join(SAMPLERS)}")
    if not names:
        return Design.from_matrix(names, np.empty((n, 0)))
    engine = _qmc(sampler, len(names), seed)
    with warnings.catch_warnings():
        # Sobol points balance best at powers of two; any n is still a valid design
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return Design.from_matrix(names, engine.random(n))


@dataclass
class MonteCarloResult:
    """Outcomes of a Monte Carlo run and their summaries."""

    scenario_name: str
    n: int
    seed: int
    sampler: str
    design: Design
    outcomes: RowOutcomes
    has_demand: bool
    backend: str = "local"
    workers: int = 1
    seconds: float = 0.0
    units: dict[str, str] = field(default_factory=dict)
    central: dict[str, float] = field(default_factory=dict)  # KPIs at the central parameter values

    def central_vs_median(self, kpi: str = "cost.per_dose") -> Any:
        """Why the central run and the median differ for ``kpi``
        (:class:`exoforge.analysis.central_median.CentralVsMedian`, None without central values)."""
        from exoforge.analysis.central_median import central_vs_median

        return central_vs_median(self, kpi)

    @property
    def kpis(self) -> dict[str, np.ndarray]:
        return self.outcomes.kpis

    @property
    def valid(self) -> np.ndarray:
        return ~self.outcomes.failed

    def probability(self, hit: np.ndarray) -> float | None:
        ok = self.valid
        return float(np.mean(hit[ok])) if ok.any() else None

    @property
    def p_meets_dose_target(self) -> float | None:
        return self.probability(self.kpis["doses_per_batch"] >= 1)

    @property
    def p_meets_demand(self) -> float | None:
        if not self.has_demand:
            return None
        return self.probability(self.kpis["lines_needed"] <= 1)

    @property
    def p_all_checks_pass(self) -> float | None:
        return self.probability(self.outcomes.all_checks_pass)

    def check_pass_rates(self) -> dict[str, float]:
        ok = self.valid
        return {
            name: float(np.mean(arr[ok])) if ok.any() else float("nan") for name, arr in self.outcomes.checks.items()
        }

    def summary(self) -> dict[str, dict[str, float]]:
        """Median, 5th and 95th percentiles and mean of every KPI over the valid rows."""
        out = {}
        for key, arr in self.kpis.items():
            x = arr[self.valid]
            med, p5, p95 = quantiles(x, (0.5, 0.05, 0.95))
            finite = x[np.isfinite(x)]
            out[key] = {
                "median": med,
                "p5": p5,
                "p95": p95,
                "mean": float(finite.mean()) if finite.size else float("nan"),
            }
        return out

    def headline_keys(self) -> list[str]:
        return [k for k in HEADLINE_KPIS if k in self.kpis and np.isfinite(self.kpis[k][self.valid]).any()]

    def correlation_table(self, keys: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Spearman rank correlations between KPIs (rows and columns in ``keys`` order)."""
        keys = list(keys or self.headline_keys())
        m = np.full((len(keys), len(keys)), np.nan)
        ok = self.valid
        for i, a in enumerate(keys):
            for j in range(i, len(keys)):
                r = 1.0 if i == j else rank_correlation(self.kpis[a][ok], self.kpis[keys[j]][ok])
                m[i, j] = m[j, i] = r
        return keys, m

    def drivers(self, kpi: str, top: int = 10) -> list[tuple[str, float]]:
        """Parameters whose draws are most rank-correlated with ``kpi`` (largest magnitude first)."""
        if not self.design.names:
            return []
        u = self.design.rows()
        y = self.kpis[kpi]
        ok = self.valid
        scored = [(name, rank_correlation(u[ok, j], y[ok])) for j, name in enumerate(self.design.names)]
        scored = [(k, r) for k, r in scored if np.isfinite(r)]
        scored.sort(key=lambda kr: -abs(kr[1]))
        return scored[:top]

    def to_json(self) -> dict[str, Any]:
        """The ``mc --json`` object of DESIGN.md (plus the run's settings and failure counts)."""
        from exoforge.result import _clean

        body: dict[str, Any] = {
            "n": self.n,
            "seed": self.seed,
            "kpis": self.summary(),
            "p_meets_dose_target": self.p_meets_dose_target,
            "p_meets_demand": self.p_meets_demand,
            "p_all_checks_pass": self.p_all_checks_pass,
            "scenario": self.scenario_name,
            "sampler": self.sampler,
            "sampled_parameters": list(self.design.names),
            "valid": int(self.valid.sum()),
            "failed": {"count": int(self.outcomes.failed.sum()), "reasons": self.outcomes.failure_counts()},
            "check_pass_rates": self.check_pass_rates(),
            "backend": self.backend,
            "workers": self.workers,
            "seconds": self.seconds,
            "central": dict(self.central),
        }
        explained = {k: self.central_vs_median(k) for k in ("cost.per_dose", "cost.per_dose_supplied")}
        body["central_vs_median"] = {k: v.to_json() for k, v in explained.items() if v is not None}
        return cast("dict[str, Any]", _clean(body))


def sampled_names(params: ParameterSet) -> list[str]:
    """Every uncertain parameter of the set, in name order."""
    return [p.name for p in params.uncertain()]


def monte_carlo(
    scenario: Scenario,
    n: int = 10_000,
    seed: int = 1,
    *,
    sampler: str = "random",
    params: ParameterSet | None = None,
    exclude_refs: Sequence[str] = (),
    backend: Backend | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> MonteCarloResult:
    """Sample every uncertain parameter ``n`` times and run the whole process for each draw.

    Parameters
    ----------
    scenario : the process to analyse
    n : number of parameter sets
    seed : seed of the design; the same seed gives the same numbers on every backend and chunking
    sampler : ``random``, ``lhs`` or ``sobol``
    params : parameter set to sample (default: :func:`exoforge.simulation.parameters_for`)
    exclude_refs : references to leave out of the defaults (leave-one-study-out)
    backend : where chunks run (default: this process)
    chunk_rows : rows per task
    progress : ``progress(done_rows, total_rows)``
    """
    from exoforge.simulation import parameters_for

    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    ps = params if params is not None else parameters_for(scenario, exclude_refs).params
    names = sampled_names(ps)
    design = make_design(names, n, seed, sampler)
    start = time.perf_counter()
    expected = probe(scenario, ps)
    outcomes = run_design(scenario, ps, design, backend, chunk_rows=chunk_rows, progress=progress, expected=expected)
    return MonteCarloResult(
        scenario_name=scenario.name,
        n=n,
        seed=seed,
        sampler=sampler,
        design=design,
        outcomes=outcomes,
        has_demand=scenario.demand is not None,
        backend=getattr(backend, "name", "local"),
        workers=getattr(backend, "workers", 1) if backend is not None else 1,
        seconds=time.perf_counter() - start,
        central=dict(expected.central),
    )
