"""Fitted parameter files: what ``exoforge fit`` writes and ``run``, ``mc``, ``optimize`` and ``select`` read.

A parameter file (YAML) holds the fitted parameters with their units,
central values, uncertainty on the scale they were fitted on, and their joint
covariance; its ``source`` names the data (SHA-256 of the data files) and the
scenarios and method of the fit::

    parameter_file: 1
    source: {kind: fit, data_sha256: 3f5c..., data_files: [{path: batches.csv, sha256: 3f5c...}],
             scenarios: {B1: pilot_3l.yaml, ...}, method: ..., created: 2026-12-03T09:00:00Z}
    parameters:
      - {name: growth_rate_max, unit: 1/day, value: 0.71, scale: log, sd: 0.021, interval_95: [0.68, 0.74]}
      - {name: ev_secretion_rate, unit: particle/cell/day, value: 1.1e4, scale: log, sd: 0.27,
         measured_on: this_process}
    covariance: {names: [growth_rate_max, ev_secretion_rate], matrix: [[...], [...]]}

Applied to a scenario's parameter set (:func:`apply_parameter_file`), each
parameter takes the fitted value and a distribution with the fitted spread
(lognormal for ``scale: log``, logit-normal for ``logit``, normal otherwise),
cites ``sha256:<data hash>`` as its source, and the group is sampled jointly
from the multivariate normal of the covariance, so a Monte Carlo of a larger
scale carries the fit's uncertainty and its correlations. A secretion rate
``measured_on: this_process`` is not multiplied by platform or strategy
effects (they are set to 1, and a warning names them).

Parameters fitted per batch enter as a new batch's prediction: the mean of the
batches on the fitted scale with the batch-to-batch spread plus the mean
estimation variance (``per_batch`` lists each batch's value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from exoforge._version import __version__
from exoforge.distributions import Z95, Distribution
from exoforge.parameters import Estimate, JointNormal, ParameterSet
from exoforge.units import conversion_factor, parse_unit, same_dimension

PARAMETER_FILE_VERSION = 1
METHOD = (
    "weighted least squares (lmfit least_squares, trust-region reflective) on log/logit-transformed parameters; "
    "assay noise per variable (random and systematic); priors from the parameter data files as penalty residuals; "
    "Wald intervals from (J^T J)^-1"
)


class ParameterFileError(ValueError):
    """A parameter file cannot be used; ``problems`` holds one line each (file and key)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class FittedEntry:
    name: str
    unit: str
    value: float
    scale: str  # log | logit | identity
    sd: float  # on the scale
    measured_on: str | None = None
    bounds: tuple[float, float] | None = None  # identity scale: the prior's range


@dataclass(frozen=True)
class ParameterFile:
    path: str
    source: dict[str, Any]
    entries: tuple[FittedEntry, ...]
    covariance: np.ndarray  # on the entries' scales, in entries order

    @property
    def data_sha256(self) -> str:
        return str(self.source.get("data_sha256", ""))

    @property
    def ref(self) -> str:
        return f"sha256:{self.data_sha256}"

    def names(self) -> list[str]:
        return [e.name for e in self.entries]


# --------------------------------------------------------------------------- writing


def parameter_file_data(result: Any, scenario_files: dict[str, str] | None = None) -> dict[str, Any]:
    """The parameter file of a :class:`~exoforge.analysis.calibration.FitResult` as plain data."""
    prob = result.problem
    p = prob.n_theta
    x, cov = result.x[:p], result.covariance[:p, :p]
    names = list(dict.fromkeys(fp.name for fp in prob.parameters))
    centers, scales, units = [], [], []
    block = np.zeros((len(names), len(names)))
    entries: list[dict[str, Any]] = []
    index = {n: [j for j, fp in enumerate(prob.parameters) if fp.name == n] for n in names}
    shared = [n for n in names if len(index[n]) == 1 and prob.parameters[index[n][0]].batch is None]
    for a, n in enumerate(names):
        js = index[n]
        fp = prob.parameters[js[0]]
        if len(js) == 1 and fp.batch is None:
            center, var = float(x[js[0]]), float(cov[js[0], js[0]])
        else:  # per batch: a new batch's prediction
            vals = x[js]
            between = float(np.var(vals, ddof=1)) if len(js) > 1 else 0.0
            center = float(np.mean(vals))
            var = between * (1 + 1 / len(js)) + float(np.mean(np.diag(cov)[js]))
        centers.append(center)
        scales.append(fp.transform)
        units.append(fp.unit)
        block[a, a] = var
        sd = math.sqrt(max(var, 0.0))
        value = float(fp.natural(center))
        lo, hi = float(fp.natural(center - Z95 * sd)), float(fp.natural(center + Z95 * sd))
        entry: dict[str, Any] = {
            "name": n,
            "unit": fp.unit,
            "value": value,
            "scale": fp.transform,
            "sd": sd,
            "interval_95": [lo, hi],
            "prior_median": float(fp.natural(fp.center)),
        }
        if fp.transform == "identity":
            entry["bounds"] = [float(fp.lower), float(fp.upper)]
            entry["interval_95"] = [max(lo, fp.lower), min(hi, fp.upper)]
        if n == "ev_secretion_rate":
            entry["measured_on"] = "this_process"
        if len(js) > 1 or fp.batch is not None:
            entry["per_batch"] = {prob.parameters[j].batch: float(fp.natural(x[j])) for j in js}
        entries.append(entry)
    for a, n in enumerate(shared):
        for b, m in enumerate(shared):
            if a != b:
                block[names.index(n), names.index(m)] = float(cov[index[n][0], index[m][0]])
    return {
        "parameter_file": PARAMETER_FILE_VERSION,
        "source": {
            "kind": "fit",
            "data_sha256": prob.data_sha256,
            "data_files": [{"path": s.path, "sha256": s.sha256} for s in prob.data.sources],
            "batches": prob.data.batches,
            "platforms": sorted({s.expansion.platform for s in prob.scenarios.values()}),
            "scenarios": scenario_files or {b: s.name for b, s in prob.scenarios.items()},
            "observations": prob.n_obs,
            "method": METHOD,
            "reduced_chi2": result.redchi,
            "warnings": list(result.warnings),
            "exoforge_version": __version__,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "parameters": entries,
        "covariance": {"names": names, "scales": scales, "matrix": block.tolist()},
    }


def write_parameter_file(result: Any, path: str | Path, scenario_files: dict[str, str] | None = None) -> Path:
    """Write the parameter file of a fit (atomically) and return its path."""
    p = Path(path)
    data = parameter_file_data(result, scenario_files)
    text = "# exoforge fitted parameters: use with `exoforge run|mc|optimize|select ... --params FILE`\n"
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    from exoforge.fileio import write_atomic

    return write_atomic(p, text)


# --------------------------------------------------------------------------- reading


def load_parameter_file(path: str | Path) -> ParameterFile:
    """Read and check a parameter file (``ParameterFileError`` names the file and key of every problem)."""
    p = Path(path)
    where = str(p)
    if not p.exists():
        raise ParameterFileError([f"{where}: file not found"])
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterFileError([f"{where}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    if not isinstance(raw, dict) or raw.get("parameter_file") != PARAMETER_FILE_VERSION:
        raise ParameterFileError([f"{where}: parameter_file: expected 1 (a file written by `exoforge fit`)"])
    problems: list[str] = []
    source: dict[str, Any] = raw["source"] if isinstance(raw.get("source"), dict) else {}
    if not source.get("data_sha256"):
        problems.append(f"{where}: source.data_sha256: missing (the data the parameters were fitted to)")
    entries: list[FittedEntry] = []
    for i, e in enumerate(raw.get("parameters") or []):
        at = f"{where}: parameters[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{at}: expected a mapping")
            continue
        try:
            value, sd = float(e["value"]), float(e.get("sd", 0.0))
            unit = str(e["unit"])
            parse_unit(unit)
        except KeyError as exc:
            problems.append(f"{at}.{exc.args[0]}: required key is missing")
            continue
        except (TypeError, ValueError) as exc:
            problems.append(f"{at}: {exc}")
            continue
        scale = str(e.get("scale", "log"))
        if scale not in ("log", "logit", "identity"):
            problems.append(f"{at}.scale: '{scale}' is not log, logit or identity")
        elif (scale == "log" and value <= 0) or (scale == "logit" and not 0 < value < 1):
            problems.append(f"{at}.value: {value:g} is outside the {scale} scale")
        if not math.isfinite(sd) or sd < 0:
            problems.append(f"{at}.sd: {sd!r} is not a non-negative number")
        measured = e.get("measured_on")
        if measured not in (None, "planar", "this_process"):
            problems.append(f"{at}.measured_on: '{measured}' is not planar or this_process")
        bounds = e.get("bounds")
        pair = (float(bounds[0]), float(bounds[1])) if isinstance(bounds, list) and len(bounds) == 2 else None
        entries.append(FittedEntry(str(e.get("name")), unit, value, scale, sd, measured, pair))
    names = [e.name for e in entries]
    cov_raw = raw.get("covariance") or {}
    cov = np.diag([e.sd**2 for e in entries])
    if cov_raw:
        listed = list(cov_raw.get("names") or [])
        absent = [n for n in names if n not in listed]
        try:
            if absent:
                raise ValueError
            m = np.array(cov_raw["matrix"], dtype=float)
            order = [listed.index(n) for n in names]
            cov = m[np.ix_(order, order)]
        except (KeyError, ValueError, TypeError, IndexError):
            missing = f" (not in covariance.names: {', '.join(absent)})" if absent else ""
            problems.append(f"{where}: covariance: expected names and a square matrix over every parameter{missing}")
        else:
            if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh((cov + cov.T) / 2) < -1e-12):
                problems.append(f"{where}: covariance: not a symmetric positive semi-definite matrix")
    if problems:
        raise ParameterFileError(problems)
    return ParameterFile(where, dict(source), tuple(entries), cov)


def _distribution(e: FittedEntry, sd: float, factor: float) -> Distribution:
    if sd <= 0:
        return Distribution()
    if e.scale == "log":
        return Distribution("lognormal", {"sigma": sd})
    if e.scale == "logit":
        return Distribution("logitnormal", {"sigma": sd})
    spec = {"sd": sd}
    if e.bounds is not None:  # truncated to the prior's range
        spec.update({"lower": e.bounds[0] * factor, "upper": e.bounds[1] * factor})
    return Distribution("normal", spec)


def apply_parameter_file(ps: ParameterSet, pf: ParameterFile, scenario: Any = None) -> tuple[ParameterSet, list[str]]:
    """``ps`` with the fitted parameters of ``pf`` (values, spreads, joint covariance, source); and warnings."""
    # Longer than 80 lines: each kind of entry of a fitted parameter file (a value, a joint covariance, a
    # secretion rate measured on this process) is applied with the warning it owes the user.
    problems: list[str] = []
    warnings: list[str] = []
    params = dict(ps.params)
    created = pf.source.get("created", "")
    files = ", ".join(str(f.get("path")) for f in pf.source.get("data_files") or []) or "data"
    factors: list[float] = []
    for e in pf.entries:
        if e.name not in params:
            problems.append(f"{pf.path}: parameter '{e.name}' is not a parameter of this scenario")
            factors.append(1.0)
            continue
        old = params[e.name]
        if not same_dimension(e.unit, old.unit):
            problems.append(f"{pf.path}: {e.name}: unit '{e.unit}' does not measure the same quantity as '{old.unit}'")
            factors.append(1.0)
            continue
        f = conversion_factor(e.unit, old.unit)
        factors.append(f)
        sd = e.sd * (f if e.scale == "identity" else 1.0)
        params[e.name] = replace(
            old,
            value=e.value * f,
            distribution=_distribution(e, sd, f),
            estimates=(
                Estimate(
                    value=e.value * f,
                    ref=pf.ref,
                    location=f"fit of {files} ({created}), parameter file {Path(pf.path).name}",
                    derivation=str(pf.source.get("method", METHOD)),
                ),
            ),
            assumption=None,
            group="fit",
        )
    if problems:
        raise ParameterFileError(problems)
    out = replace(ps, params=params)
    if any(e.name == "ev_secretion_rate" and e.measured_on == "this_process" for e in pf.entries):
        multipliers = sorted(
            n for n in params if n.endswith(".ev_secretion") and n.split(".")[0] in ("platform", "strategy")
        )
        if multipliers:
            from exoforge.analysis.calibration import neutral_secretion_multipliers

            out = neutral_secretion_multipliers(out, f"ev_secretion_rate measured on this process ({pf.ref})")
            warnings.append(
                f"ev_secretion_rate was fitted on this process ({pf.path}): not multiplied by {', '.join(multipliers)}"
            )
        if scenario is not None:
            fitted = pf.source.get("platforms") or []
            if fitted and scenario.expansion.platform not in fitted:
                warnings.append(
                    f"ev_secretion_rate was fitted on {', '.join(fitted)}; this scenario runs on "
                    f"{scenario.expansion.platform}: 'measured_on: this_process' assumes the same process"
                )
    # joint sampling on the fitted scales
    scales = [e.scale for e in pf.entries]
    center = []
    for e in pf.entries:
        v = e.value * factors[pf.entries.index(e)]
        center.append(math.log(v) if e.scale == "log" else math.log(v / (1 - v)) if e.scale == "logit" else v)
    scale_f = np.array([f if s == "identity" else 1.0 for f, s in zip(factors, scales, strict=True)])
    cov = pf.covariance * np.outer(scale_f, scale_f)
    uncertain = [i for i, e in enumerate(pf.entries) if cov[i, i] > 0]
    if len(uncertain) > 1:
        sub = cov[np.ix_(uncertain, uncertain)]
        try:
            chol: np.ndarray = np.linalg.cholesky(sub + 1e-15 * np.eye(len(uncertain)))
        except np.linalg.LinAlgError:
            eigval, eigvec = np.linalg.eigh(sub)
            chol = eigvec @ np.diag(np.sqrt(np.maximum(eigval, 0.0)))
        bounds = [pf.entries[i].bounds for i in uncertain]
        joint = JointNormal(
            tuple(pf.entries[i].name for i in uncertain),
            tuple(scales[i] for i in uncertain),
            np.array([center[i] for i in uncertain]),
            chol,
            np.array([b[0] * factors[i] if b else -np.inf for b, i in zip(bounds, uncertain, strict=True)]),
            np.array([b[1] * factors[i] if b else np.inf for b, i in zip(bounds, uncertain, strict=True)]),
        )
        out = replace(out, joint=(*out.joint, joint))
    return out, warnings


def fitted_parameters(scenario: Any, parameter_file: ParameterFile | str | Path, exclude_refs: Any = ()) -> Any:
    """The scenario's parameters (:func:`exoforge.simulation.parameters_for`) with a parameter file applied,
    as :class:`~exoforge.simulation.PreparedParameters` carrying the warnings of both."""
    from exoforge.simulation import PreparedParameters, parameters_for

    pf = parameter_file if isinstance(parameter_file, ParameterFile) else load_parameter_file(parameter_file)
    prepared = parameters_for(scenario, exclude_refs)
    ps, warnings = apply_parameter_file(prepared.params, pf, scenario)
    return PreparedParameters(ps, (*prepared.warnings, *warnings))
