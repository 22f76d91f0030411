"""Fit growth, death, metabolism and EV-secretion parameters to a team's own batch data.

Weighted least squares (lmfit, ``least_squares``/TRF) on the transformed
parameters (log for positive quantities, logit for fractions, as their
distributions in the data files are defined), with

* **data residuals** ``(ln(y + c) - ln(f e^b + c)) / s_r`` for every measured
  value ``y`` against the model ``f`` at its sampling time, where the random SD
  ``s_r``, the floor ``c`` and the systematic SD of the bias ``b`` come from the
  assay-noise layer (:mod:`exoforge.measurements.noise`);
* **prior residuals** ``(theta - theta_0) / s_0`` from each parameter's
  distribution in the data files (its median and spread on the transformed
  scale: the literature or assumption behind the default), so a parameter the
  data do not inform stays at its prior with the prior's uncertainty;
* **bias residuals** ``b / s_s``, one bias per assay and variable shared by
  all batches (an instrument's calibration), so a systematic assay error
  widens the intervals of the parameters it is confounded with instead of
  hiding in them.

Parameters are shared by all batches or fitted per batch. Confidence intervals
are Wald intervals on the transformed scale from ``(J^T J)^-1`` at the optimum
(J of all residuals, so priors count), mapped back to natural units; the
correlation matrix flags parameters the design cannot separate.

The simulation runs a batch of parameter sets as arrays: the Jacobian is
forward differences of all perturbed parameter sets in **one** call of the
upstream simulation (``record_series=True`` gives the time courses).

A fitted EV secretion rate was measured on this very process: during the fit
the platform and strategy multipliers of secretion are set to 1
(``measured_on: this_process``), so the fitted value is the rate of this process.
"""

# Longer than 500 lines: the fit problem (observations matched to simulated series, weights, bounds and priors,
# residuals, covariance and identifiability) shares its state through one class.

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from exoforge.analysis.observables import interpolation, observable
from exoforge.distributions import Distribution, expit, logit
from exoforge.measurements.noise import AssayNoise, default_assays
from exoforge.measurements.table import BatchData
from exoforge.measurements.variables import VARIABLES
from exoforge.parameters import Parameter, ParameterBatch, ParameterSet, UsageLog
from exoforge.scenario import Scenario

#: Bounds of a parameter with an unbounded prior: this many prior SDs either side of its centre.
PRIOR_SPAN_SD = 6.0
#: Forward-difference step on the transformed scale.
FD_STEP = 1e-4
#: Correlation above which two fitted parameters are reported as not separable.
CORRELATION_WARNING = 0.95
#: Posterior SD / prior SD above which the data are reported as saying little about a parameter.
PRIOR_DOMINATED = 0.8

#: Parameters fitted by default when their variable is measured.
DEFAULT_FITS: dict[str, tuple[str, ...]] = {
    "viable_cells": ("growth_rate_max",),
    "viable_cell_density": ("growth_rate_max",),
    "viable_cells_per_cm2": ("growth_rate_max",),
    "viability": ("death_rate",),
    "glucose": ("glucose_uptake_rate",),
    "lactate": ("lactate_yield_on_glucose",),
    "glutamine": ("glutamine_uptake_rate",),
    "ammonia": ("ammonia_yield_on_glutamine",),
    "ev_concentration": ("ev_secretion_rate", "ev_loss_rate"),
}
EV_SECRETION = "ev_secretion_rate"


class CalibrationError(ValueError):
    """The data, scenarios or options cannot be fitted; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class FitParameter:
    """A fitted model parameter on its transformed scale (``log``, ``logit`` or ``identity``)."""

    name: str
    batch: str | None  # None: shared by every batch
    unit: str
    transform: str
    center: float  # prior centre, transformed
    prior_sd: float | None  # prior SD, transformed (None: bounds only)
    lower: float
    upper: float

    @property
    def key(self) -> str:
        return self.name if self.batch is None else f"{self.name}[{self.batch}]"

    def natural(self, y: np.ndarray | float) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if self.transform == "log":
            return cast("np.ndarray", np.exp(y))
        if self.transform == "logit":
            return expit(y)
        return y

    def transformed(self, x: float) -> float:
        if self.transform == "log":
            return math.log(x)
        if self.transform == "logit":
            return logit(x)
        return x


def prior_of(name: str, p: Parameter) -> tuple[str, float, float | None, float, float]:
    """(transform, centre, prior SD, lower, upper) on the transformed scale, from the parameter's distribution."""
    d: Distribution = p.distribution
    v = p.value
    s = d.spec
    if d.kind == "lognormal":
        sd = d._log_sigma(v)
        return "log", math.log(v), sd, math.log(v) - PRIOR_SPAN_SD * sd, math.log(v) + PRIOR_SPAN_SD * sd
    if d.kind == "logitnormal":
        sd = d._logit_sigma(v)
        return "logit", logit(v), sd, logit(v) - PRIOR_SPAN_SD * sd, logit(v) + PRIOR_SPAN_SD * sd
    if d.kind == "normal":
        sd = s["sd"]
        return "identity", v, sd, s.get("lower", v - PRIOR_SPAN_SD * sd), s.get("upper", v + PRIOR_SPAN_SD * sd)
    if d.kind == "loguniform":
        return "log", math.log(v), None, math.log(s["low"]), math.log(s["high"])
    if d.kind in ("uniform", "triangular"):
        return "identity", v, None, s["low"], s["high"]
    if v > 0:  # fixed: no prior; a wide window on the log scale
        return "log", math.log(v), None, math.log(v) - math.log(100.0), math.log(v) + math.log(100.0)
    raise CalibrationError([f"parameter '{name}' is fixed at {v:g} with no distribution: it cannot be fitted"])


@dataclass(frozen=True)
class BiasParameter:
    """The systematic error (natural log) of one assay on one variable, shared by all batches."""

    assay: str
    variable: str
    prior_sd: float

    @property
    def key(self) -> str:
        return f"bias.{self.assay}.{self.variable}"


# --------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class _Group:
    """Batches that share a scenario, simulated in one call."""

    scenario: Scenario
    params: ParameterSet
    batches: tuple[str, ...]
    obs: np.ndarray  # indices of this group's observations


def neutral_secretion_multipliers(ps: ParameterSet, reason: str) -> ParameterSet:
    """``ps`` with every platform and strategy multiplier of EV secretion fixed at 1 (``measured_on: this_process``)."""
    params = dict(ps.params)
    for name, p in ps.params.items():
        if name.endswith(".ev_secretion") and name.split(".")[0] in ("platform", "strategy"):
            params[name] = replace(
                p, value=1.0, distribution=Distribution(), estimates=(), assumption=reason, group="fit:this_process"
            )
    return replace(ps, params=params)


class CalibrationProblem:
    """Batch data, the scenarios of their batches and the parameters to fit: residuals for any parameter rows.

    Parameters
    ----------
    data : the measurements
    scenarios : the scenario of every batch (the batch's own process)
    fit : names of the parameters to fit (default: from the variables measured, :data:`DEFAULT_FITS`)
    per_batch : names (among ``fit``) fitted separately for each batch; the others are shared
    assays : noise of every assay in the data (default: the packaged ``assays.yaml``)
    params : the parameter set of each scenario (default: :func:`exoforge.simulation.parameters_for`)
    """

    def __init__(
        self,
        data: BatchData,
        scenarios: Mapping[str, Scenario],
        fit: Sequence[str] | None = None,
        per_batch: Sequence[str] = (),
        assays: Mapping[str, AssayNoise] | None = None,
        params: Mapping[str, ParameterSet] | None = None,
    ):
        # Longer than 80 lines: each kind of observation is checked against the scenario it names, with its own
        # message; the checks read as one list in the order a user meets them.
        from exoforge.simulation import parameters_for

        self.data = data
        problems: list[str] = []
        missing = [b for b in data.batches if b not in scenarios]
        if missing:
            raise CalibrationError([f"batch {b}: no scenario describes it (give --scenario {b}=FILE)" for b in missing])
        names = list(dict.fromkeys(fit or [n for v in data.variables for n in DEFAULT_FITS.get(v, ())]))
        for n in per_batch:
            if n not in names:
                problems.append(f"--per-batch {n}: not among the fitted parameters ({', '.join(names)})")
        self.assays = dict(assays or default_assays())
        # scenario groups, in data order
        keys: dict[str, list[str]] = {}
        scn_of: dict[str, Scenario] = {}
        for b in data.batches:
            k = json.dumps(scenarios[b].to_dict(), sort_keys=True)
            keys.setdefault(k, []).append(b)
            scn_of[k] = scenarios[b]
        fit_secretion = EV_SECRETION in names
        base: dict[str, ParameterSet] = {}
        for k, batches in keys.items():
            ps = params[batches[0]] if params is not None and batches[0] in params else parameters_for(scn_of[k]).params
            if fit_secretion:
                ps = neutral_secretion_multipliers(ps, "EV secretion fitted on this process (measured_on this_process)")
            base[k] = ps
        first = next(iter(base.values()))
        for n in names:
            if n not in first:
                import difflib

                close = difflib.get_close_matches(n, list(first), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"--parameter {n}: no parameter of that name{hint}")
        if problems:
            raise CalibrationError(problems)
        # what each scenario's simulation reads (a parameter no batch uses cannot be fitted)
        used: set[str] = set()
        for k, ps in base.items():
            log = UsageLog(ps.nominal(1))
            from exoforge.upstream.simulate import simulate_upstream

            simulate_upstream(scn_of[k], log, record_series=False)
            used |= log.used
        for n in names:
            if n not in used:
                problems.append(f"parameter '{n}' is not used by the scenarios' cultures, so the data cannot inform it")
        # fitted parameters
        self.parameters: list[FitParameter] = []
        for n in names:
            p = first[n]
            transform, center, sd, lo, hi = prior_of(n, p)
            owners: list[str | None] = list(data.batches) if n in per_batch else [None]
            for owner in owners:
                self.parameters.append(FitParameter(n, owner, p.unit, transform, center, sd, lo, hi))
        # observations
        ms = data.measurements
        self.n_obs = len(ms)
        self.y = np.array([m.value for m in ms])
        self.time = np.array([m.time_day for m in ms])
        self.variable = [m.variable for m in ms]
        self.batch = [m.batch for m in ms]
        self.where = [m.where for m in ms]
        self.sigma = np.empty(self.n_obs)
        self.floor = np.empty(self.n_obs)
        bias_keys: dict[tuple[str, str], int] = {}
        self.biases: list[BiasParameter] = []
        self.bias_of = np.full(self.n_obs, -1)
        for i, m in enumerate(ms):
            noise = self.assays.get(m.assay)
            if noise is None:
                problems.append(
                    f"{m.where}: assay '{m.assay}' has no noise model; known: {', '.join(sorted(self.assays))} "
                    "(add yours with --noise FILE)"
                )
                continue
            self.sigma[i] = noise.random_sd_log
            self.floor[i] = noise.floor_of(m.variable)
            if m.value <= 0 and self.floor[i] <= 0:
                problems.append(
                    f"{m.where}: {m.variable} = {m.value:g} needs a floor in the noise model of assay '{m.assay}' "
                    "(a zero cannot be compared on the log scale)"
                )
            if noise.systematic_sd_log > 0:
                key = (m.assay, m.variable)
                if key not in bias_keys:
                    bias_keys[key] = len(self.biases)
                    self.biases.append(BiasParameter(m.assay, m.variable, noise.systematic_sd_log))
                self.bias_of[i] = bias_keys[key]
        # groups and time checks
        self.groups: list[_Group] = []
        for k, batches in keys.items():
            scn = scn_of[k]
            from exoforge.upstream.schedule import build_schedule

            end = build_schedule(scn).end
            idx = np.array([i for i, b in enumerate(self.batch) if b in batches], dtype=int)
            for i in idx:
                if self.time[i] > end + 1e-9:
                    problems.append(
                        f"{self.where[i]}: day {self.time[i]:g} is after the end of batch {self.batch[i]}'s process "
                        f"({end:g} days in its scenario '{scn.name}')"
                    )
            self.groups.append(_Group(scn, base[k], tuple(batches), idx))
        if problems:
            raise CalibrationError(problems)
        self.scenarios = dict(scenarios)
        self._obs_log_y = np.log(self.y + self.floor)

    # -- sizes and layout ---------------------------------------------------------------
    @property
    def n_theta(self) -> int:
        return len(self.parameters)

    @property
    def n_bias(self) -> int:
        return len(self.biases)

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parameters] + [b.key for b in self.biases]

    @property
    def start(self) -> np.ndarray:
        return np.array([p.center for p in self.parameters] + [0.0] * self.n_bias)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = [p.lower for p in self.parameters] + [-PRIOR_SPAN_SD * b.prior_sd for b in self.biases]
        hi = [p.upper for p in self.parameters] + [PRIOR_SPAN_SD * b.prior_sd for b in self.biases]
        return np.array(lo), np.array(hi)

    # -- model ---------------------------------------------------------------------------
    def parameter_batch(self, group: _Group, theta: np.ndarray) -> ParameterBatch:
        """Parameter sets for rows ``theta`` (M, n_theta) x the group's batches: row ``m * B + b``."""
        m_rows = theta.shape[0]
        nb = len(group.batches)
        batch = group.params.nominal(m_rows * nb)
        values = dict(batch.values)
        for j, p in enumerate(self.parameters):
            x = p.natural(theta[:, j])
            col = values[p.name].copy() if p.name in values else None
            if col is None:
                continue
            for ib, b in enumerate(group.batches):
                if p.batch is None or p.batch == b:
                    col[ib::nb] = x
            values[p.name] = col
        return ParameterBatch(m_rows * nb, values, batch.units)

    def simulate(self, group: _Group, theta: np.ndarray) -> Any:
        from exoforge.upstream.simulate import simulate_upstream

        with np.errstate(all="ignore"):
            return simulate_upstream(group.scenario, UsageLog(self.parameter_batch(group, theta)), record_series=True)

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Model values (M, n_obs) at every observation for parameter rows ``theta`` (M, n_theta), transformed."""
        theta = np.atleast_2d(theta)
        m_rows = theta.shape[0]
        out = np.full((m_rows, self.n_obs), np.nan)
        for g in self.groups:
            up = self.simulate(g, theta)
            nb = len(g.batches)
            lo, hi, w = interpolation(up.series["time_day"], self.time[g.obs])
            for v in {self.variable[i] for i in g.obs}:
                sel = np.array([k for k, i in enumerate(g.obs) if self.variable[i] == v], dtype=int)
                series = observable(v, up)  # (T, M * nb)
                ib = np.array([g.batches.index(self.batch[g.obs[k]]) for k in sel])
                cols = np.arange(m_rows)[:, None] * nb + ib[None, :]
                vals = (1 - w[sel]) * series[lo[sel][None, :], cols] + w[sel] * series[hi[sel][None, :], cols]
                out[:, g.obs[sel]] = vals
        return out

    # -- residuals -----------------------------------------------------------------------
    def data_residuals(self, f: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """(M, n_obs) data residuals for model values ``f`` and biases ``bias`` (M, n_bias)."""
        factor = np.ones_like(f)
        has = self.bias_of >= 0
        if self.n_bias:
            factor[:, has] = np.exp(bias[:, self.bias_of[has]])
        model = np.maximum(np.nan_to_num(f, nan=0.0), 0.0) * factor + self.floor
        with np.errstate(divide="ignore"):
            return cast("np.ndarray", (self._obs_log_y - np.log(np.maximum(model, 1e-300))) / self.sigma)

    def prior_residuals(self, x: np.ndarray) -> np.ndarray:
        """(M, n_prior) prior residuals of the parameters (those with a prior) and of the biases."""
        cols = []
        for j, p in enumerate(self.parameters):
            if p.prior_sd:
                cols.append((x[:, j] - p.center) / p.prior_sd)
        for k, b in enumerate(self.biases):
            cols.append(x[:, self.n_theta + k] / b.prior_sd)
        return np.stack(cols, axis=1) if cols else np.zeros((x.shape[0], 0))

    def residuals(self, x: np.ndarray, f: np.ndarray | None = None) -> np.ndarray:
        """All residuals (M, n_res) for rows ``x`` (M, n_theta + n_bias)."""
        x = np.atleast_2d(x)
        if f is None:
            f = self.predict(x[:, : self.n_theta])
        return np.concatenate([self.data_residuals(f, x[:, self.n_theta :]), self.prior_residuals(x)], axis=1)

    def jacobian(self, x: np.ndarray, predict: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """d residuals / d x at ``x`` (n_res, n_theta + n_bias): forward differences of the model parameters,
        all perturbed sets simulated in one batch; the biases and priors analytically."""
        predict = predict or self.predict
        p, nb = self.n_theta, self.n_bias
        rows = np.repeat(x[None, :p], p + 1, axis=0)
        steps = np.full(p, FD_STEP)
        upper = self.bounds[1]
        for j in range(p):  # step inwards at an upper bound
            if rows[0, j] + steps[j] > upper[j]:
                steps[j] = -steps[j]
            rows[1 + j, j] += steps[j]
        f = predict(rows)
        base = self.data_residuals(f[:1], np.repeat(x[None, p:], 1, axis=0))[0]
        jac_data = np.empty((self.n_obs, p + nb))
        for j in range(p):
            pert = self.data_residuals(f[1 + j : 2 + j], x[None, p:])[0]
            jac_data[:, j] = (pert - base) / steps[j]
        if nb:
            f0 = np.maximum(np.nan_to_num(f[0], nan=0.0), 0.0)
            factor = np.ones(self.n_obs)
            has = self.bias_of >= 0
            factor[has] = np.exp(x[p + self.bias_of[has]])
            dlog = f0 * factor / np.maximum(f0 * factor + self.floor, 1e-300)  # d ln(f e^b + c) / d b
            for k in range(nb):
                jac_data[:, p + k] = np.where(self.bias_of == k, -dlog / self.sigma, 0.0)
        prior_rows = []
        for j, fp in enumerate(self.parameters):
            if fp.prior_sd:
                row = np.zeros(p + nb)
                row[j] = 1.0 / fp.prior_sd
                prior_rows.append(row)
        for k, b in enumerate(self.biases):
            row = np.zeros(p + nb)
            row[p + k] = 1.0 / b.prior_sd
            prior_rows.append(row)
        jac = np.vstack([jac_data, *prior_rows]) if prior_rows else jac_data
        return np.nan_to_num(jac)

    # -- identity of the data ------------------------------------------------------------
    @property
    def data_sha256(self) -> str:
        return self.data.sha256

    def design_warnings(self) -> list[str]:
        """Warnings that follow from the design alone (what was measured when), before any fit."""
        out = []
        names = {p.name for p in self.parameters}
        if {"ev_secretion_rate", "ev_loss_rate"} <= names:
            for b in self.data.batches:
                times = sorted(
                    {
                        self.time[i]
                        for i in range(self.n_obs)
                        if self.batch[i] == b and self.variable[i] == "ev_concentration"
                    }
                )
                if len(times) < 3:
                    out.append(
                        f"batch {b}: EV concentration at {len(times)} time(s) only: secretion and loss rate are not "
                        "separable without a time course (measure it at 3 or more times during conditioning)"
                    )
        return out


# --------------------------------------------------------------------------- the result


@dataclass
class FitResult:
    """Estimates, their covariance on the transformed scale, residuals and warnings of one fit."""

    problem: CalibrationProblem
    x: np.ndarray  # transformed estimates (n_theta + n_bias)
    covariance: np.ndarray
    predictions: np.ndarray  # model at the estimates, at every observation (no bias)
    data_residuals: np.ndarray
    chi2: float
    dof: int
    nfev: int
    success: bool
    message: str
    warnings: list[str] = field(default_factory=list)
    jacobian: np.ndarray | None = None  # d residuals / d x at the estimates (data rows first, then priors)

    def data_only_correlation(self) -> np.ndarray | None:
        """Correlation of the model parameters from the data alone (parameter priors left out, assay-bias
        priors kept); None when the data alone cannot determine every parameter (singular)."""
        if self.jacobian is None:
            return None
        prob = self.problem
        p = prob.n_theta
        n_prior_theta = sum(1 for fp in prob.parameters if fp.prior_sd)
        rows = np.vstack([self.jacobian[: prob.n_obs], self.jacobian[prob.n_obs + n_prior_theta :]])
        h = rows.T @ rows
        if np.linalg.matrix_rank(h, tol=1e-10 * np.max(np.abs(h))) < h.shape[0]:
            return None
        cov = np.linalg.inv(h)[:p, :p]
        se = np.sqrt(np.maximum(np.diag(cov), 1e-300))
        return np.clip(cov / np.outer(se, se), -1.0, 1.0)

    @property
    def parameters(self) -> list[FitParameter]:
        return self.problem.parameters

    @property
    def keys(self) -> list[str]:
        return self.problem.keys

    @property
    def redchi(self) -> float:
        return self.chi2 / self.dof if self.dof > 0 else float("nan")

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diag(self.covariance), 0.0))

    def correlation(self) -> np.ndarray:
        se = self.stderr
        with np.errstate(divide="ignore", invalid="ignore"):
            c = self.covariance / np.outer(se, se)
        return np.clip(np.nan_to_num(c), -1.0, 1.0)

    def estimate(self, key: str) -> float:
        j = self.keys.index(key)
        if j < self.problem.n_theta:
            return float(self.parameters[j].natural(self.x[j]))
        return float(self.x[j])

    def interval(self, key: str, level: float = 0.95) -> tuple[float, float]:
        """Wald interval on the transformed scale, in natural units."""
        from exoforge.special import ndtri

        z = float(ndtri(np.array([0.5 + level / 2]))[0])
        j = self.keys.index(key)
        lo, hi = self.x[j] - z * self.stderr[j], self.x[j] + z * self.stderr[j]
        if j < self.problem.n_theta:
            p = self.parameters[j]
            if p.transform == "identity":  # a bounded prior (uniform, triangular): the interval stays inside
                lo, hi = max(lo, p.lower), min(hi, p.upper)
            return float(p.natural(lo)), float(p.natural(hi))
        return float(lo), float(hi)

    def table(self) -> list[dict[str, Any]]:
        """One row per fitted parameter and bias: estimate, 95 % interval, prior and how much the data said."""
        rows = []
        se = self.stderr
        for j, key in enumerate(self.keys):
            lo, hi = self.interval(key)
            row: dict[str, Any] = {"key": key, "estimate": self.estimate(key), "low_95": lo, "high_95": hi}
            if j < self.problem.n_theta:
                p = self.parameters[j]
                row.update(
                    {
                        "name": p.name,
                        "batch": p.batch,
                        "unit": p.unit,
                        "scale": p.transform,
                        "sd_transformed": float(se[j]),
                        "prior_median": float(p.natural(p.center)),
                        "prior_sd_transformed": p.prior_sd,
                        "posterior_to_prior_sd": float(se[j] / p.prior_sd) if p.prior_sd else None,
                    }
                )
            else:
                b = self.problem.biases[j - self.problem.n_theta]
                row.update(
                    {
                        "name": b.key,
                        "unit": "ln",
                        "scale": "identity",
                        "sd_transformed": float(se[j]),
                        "prior_sd_transformed": b.prior_sd,
                        "posterior_to_prior_sd": float(se[j] / b.prior_sd),
                    }
                )
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        from exoforge.result import _clean

        return _clean(
            {
                "data_sha256": self.problem.data_sha256,
                "data_files": [{"path": s.path, "sha256": s.sha256} for s in self.problem.data.sources],
                "batches": self.problem.data.batches,
                "observations": self.problem.n_obs,
                "parameters": self.table(),
                "correlation": {"keys": self.keys, "matrix": self.correlation().tolist()},
                "chi2": self.chi2,
                "dof": self.dof,
                "reduced_chi2": self.redchi,
                "function_evaluations": self.nfev,
                "converged": self.success,
                "message": self.message,
                "warnings": self.warnings,
            }
        )


def fit_warnings(result: FitResult) -> list[str]:
    """Identifiability and goodness-of-fit warnings of a fit."""
    out = list(result.problem.design_warnings())
    p = result.problem.n_theta
    corr = result.correlation()
    keys = result.keys
    params = result.parameters
    data_corr = result.data_only_correlation()
    if result.jacobian is not None and data_corr is None:
        out.append(
            "the data alone cannot determine every fitted parameter (their information matrix is singular): "
            "the priors (literature defaults) decide the confounded ones"
        )
    for i in range(p):
        for j in range(i + 1, p):
            if params[i].name == params[j].name:
                continue  # one parameter per batch: correlated through shared assay biases, not confounded
            if abs(corr[i, j]) > CORRELATION_WARNING:
                out.append(
                    f"{keys[i]} and {keys[j]} are not separable with these data (correlation {corr[i, j]:+.3f}): "
                    "their product or ratio is determined, not each"
                )
            elif data_corr is not None and abs(data_corr[i, j]) > CORRELATION_WARNING:
                out.append(
                    f"{keys[i]} and {keys[j]} are not separable by the data alone (correlation {data_corr[i, j]:+.3f} "
                    "without the priors): their intervals rest on the literature priors"
                )
    for row in result.table()[:p]:
        ratio = row["posterior_to_prior_sd"]
        if ratio is not None and ratio > PRIOR_DOMINATED:
            out.append(
                f"{row['key']}: the data say little about it (its uncertainty is {ratio:.0%} of the prior's): "
                "the estimate is mostly the literature default"
            )
    if result.dof >= 5 and result.redchi > 2.0:
        out.append(
            f"reduced chi-square {result.redchi:.2g}: the residuals are larger than the assay noise explains "
            f"(model misfit, batch-to-batch variation or noise underestimated); intervals may be too narrow by "
            f"about {math.sqrt(result.redchi):.2g}-fold (fit per batch, or give measured noise with --noise)"
        )
    if not result.success:
        out.append(f"the optimiser did not converge: {result.message}")
    return out


def _covariance(jac: np.ndarray) -> tuple[np.ndarray, bool]:
    """(J^T J)^-1, and False when J^T J is singular (a pseudo-inverse is returned then)."""
    h = jac.T @ jac
    try:
        cov = np.linalg.inv(h)
        ok = bool(np.all(np.isfinite(cov))) and np.linalg.cond(h) < 1e14
        return (cov if ok else np.linalg.pinv(h)), ok
    except np.linalg.LinAlgError:
        return np.linalg.pinv(h), False


def fit(
    problem: CalibrationProblem,
    *,
    predict: Callable[[np.ndarray], np.ndarray] | None = None,
    max_nfev: int = 200,
) -> FitResult:
    """Fit ``problem`` by weighted least squares (lmfit, trust-region reflective with bounds).

    ``predict`` replaces :meth:`CalibrationProblem.predict` (to evaluate several fits' parameter sets
    together, see :func:`fit_many`).
    """
    import lmfit

    predict = predict or problem.predict
    p = problem.n_theta
    lower, upper = problem.bounds
    params = lmfit.Parameters()
    for k, x0 in enumerate(problem.start):
        params.add(f"x{k}", value=float(x0), min=float(lower[k]), max=float(upper[k]))
    cache: dict[bytes, np.ndarray] = {}

    def vector(pars: lmfit.Parameters) -> np.ndarray:
        return np.array([pars[f"x{k}"].value for k in range(len(problem.start))])

    def model_at(x: np.ndarray) -> np.ndarray:
        key = x[:p].tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = predict(x[None, :p])[0]
        return cache[key]

    def residual(pars: lmfit.Parameters) -> np.ndarray:
        x = vector(pars)
        return cast("np.ndarray", problem.residuals(x[None, :], model_at(x)[None, :])[0])

    def jacobian(pars: lmfit.Parameters) -> np.ndarray:
        return problem.jacobian(vector(pars), predict)

    mini = lmfit.Minimizer(residual, params, scale_covar=False, nan_policy="propagate")
    out = mini.minimize(method="least_squares", jac=jacobian, max_nfev=max_nfev)
    x = vector(out.params)
    jac = problem.jacobian(x, predict)
    cov, ok = _covariance(jac)
    f = model_at(x)
    r_data = problem.data_residuals(f[None, :], x[None, p:])[0]
    chi2 = float(np.sum(r_data**2))
    dof = max(problem.n_obs - p, 0)
    result = FitResult(
        problem, x, cov, f, r_data, chi2, dof, int(out.nfev), bool(out.success), str(out.message), jacobian=jac
    )
    result.warnings = fit_warnings(result)
    if not ok:
        result.warnings.insert(
            0,
            "the fitted parameters are not identifiable from these data together "
            "(singular information matrix): intervals of the confounded ones are unreliable",
        )
    return result


class _Lockstep:
    """Evaluate the model for several fits running in threads as one batch (they wait for each other)."""

    def __init__(self, problem: CalibrationProblem, fits: int):
        self.problem = problem
        self.active = fits
        self.pending: dict[int, np.ndarray] = {}
        self.results: dict[int, np.ndarray] = {}
        self.cond = threading.Condition()
        self.round = 0

    def _run(self) -> None:
        ids = list(self.pending)
        rows = np.vstack([self.pending[i] for i in ids])
        f = self.problem.predict(rows)
        start = 0
        for i in ids:
            n = self.pending[i].shape[0]
            self.results[i] = f[start : start + n]
            start += n
        self.pending.clear()
        self.round += 1
        self.cond.notify_all()

    def predict(self, ident: int, theta: np.ndarray) -> np.ndarray:
        with self.cond:
            self.pending[ident] = np.atleast_2d(theta)
            my_round = self.round
            if len(self.pending) >= self.active:
                self._run()
            while self.round == my_round:
                self.cond.wait()
            return self.results.pop(ident)

    def leave(self) -> None:
        with self.cond:
            self.active -= 1
            if self.pending and len(self.pending) >= self.active:
                self._run()


def fit_many(problems: Sequence[CalibrationProblem], max_nfev: int = 200) -> list[FitResult]:
    """Fit several problems of the same design (same scenarios, batches, times and variables; different
    values) in lockstep: each model evaluation of all fits runs as one batch of the simulation.

    Used for the synthetic-truth coverage checks, where many noisy data sets are fitted back.
    """
    if not problems:
        return []
    first = problems[0]
    for q in problems[1:]:
        if (
            q.keys != first.keys
            or q.variable != first.variable
            or q.batch != first.batch
            or not np.array_equal(q.time, first.time)
        ):
            raise ValueError("fit_many needs problems of one design (same parameters, batches, times, variables)")
    lock = _Lockstep(first, len(problems))
    results: list[FitResult | None] = [None] * len(problems)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = fit(problems[i], predict=lambda th: lock.predict(i, th), max_nfev=max_nfev)
        except BaseException as exc:  # reported after every thread ends
            errors.append(exc)
        finally:
            lock.leave()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def with_values(problem: CalibrationProblem, values: np.ndarray) -> CalibrationProblem:
    """A copy of ``problem`` whose measured values are ``values`` (model units), for synthetic data."""
    other = object.__new__(CalibrationProblem)
    other.__dict__.update(problem.__dict__)
    other.y = np.asarray(values, dtype=float)
    other._obs_log_y = np.log(other.y + other.floor)
    digest = hashlib.sha256(other.y.tobytes()).hexdigest()
    other.data = replace(problem.data, sources=(replace(problem.data.sources[0], sha256=digest),))
    return other


def check_variables(data: BatchData) -> None:
    """Every variable of the data has a model output (guards the observables table)."""
    unknown = [v for v in data.variables if v not in VARIABLES]
    if unknown:
        raise CalibrationError([f"variable '{v}' has no model output" for v in unknown])
