"""Validation of the culture model against published MSC expansions and EV productions.

A *case* is a YAML file: a complete scenario reproducing a published run, the
observable the paper reports, the reported value (and its range or spread),
where it stands in the paper (DOI or PMID plus location), which scenario inputs
come from the source and which had to be assumed, and the tolerance the case is
held to, with its reason::

    id: colter2000_planar_bm
    title: ...
    source: {ref: 10.1073/pnas.070034097, location: Table 2, records: [p-colter2000-...]}
    metric: cells.harvested
    observed: {value: 2.35e5, low: 8.0e4, high: 1.1e6}
    tolerance_fold: 5
    tolerance_reason: ...
    inputs_from_source: [...]
    assumed_inputs: [...]
    variants:                       # optional: assumed inputs spanned in the prediction interval
      - {key: expansion.microcarrier.g_per_l, values: [1, 2, 5]}
    scenario: {...}

:func:`run_case` simulates the case at the central parameter values (the
prediction) and over a sample of the parameters' stated uncertainty and of the
listed input variants (the 95 % prediction interval). The fold error is
``max(pred / obs, obs / pred)``. A case *holds* when its fold error is within
the tolerance the case file states and justifies; whether the reported value
lies inside the prediction interval is reported beside it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.parameters import ParameterSet, UsageLog
from exoforge.scenario import Scenario, parse_scenario
from exoforge.upstream.simulate import UpstreamResult, simulate_upstream
from exoforge.yamlio import load_yaml

#: Observables a case may report, from the upstream result of the scenario.
OBSERVABLES: dict[str, tuple[str, Callable[[UpstreamResult], np.ndarray]]] = {
    "cells.harvested": ("viable cells at the end of expansion (all vessels)", lambda u: u.cells_end_expansion),
    "cells.fold_expansion": (
        "viable cells at the end of expansion over cells seeded",
        lambda u: u.cells_end_expansion / u.seeded_cells,
    ),
    "cells.per_ml": (
        "viable cells at the end of expansion per mL of medium",
        lambda u: u.cells_end_expansion / (u.geometry.volume_l * u.vessels * 1000.0),
    ),
    "ev.harvest_particles_per_ml": (
        "NTA-equivalent particles per mL of collected medium (cell EVs plus medium background)",
        lambda u: (u.harvested_particles + u.harvest_background_particles) / (u.harvest_volume_l * 1000.0),
    ),
    "ev.particles_per_collection": (
        "NTA-equivalent particles collected per collection (all vessels)",
        lambda u: (u.harvested_particles + u.harvest_background_particles) / u.collections,
    ),
}

#: Parameter sets drawn for the prediction interval of each case.
INTERVAL_SAMPLES = 256
INTERVAL = (2.5, 97.5)


@dataclass(frozen=True)
class Case:
    """One published run, as a scenario plus what the paper reported."""

    id: str
    title: str
    platform: str
    cell_source: str
    ref: str
    location: str
    records: tuple[str, ...]
    metric: str
    observed: float
    observed_low: float
    observed_high: float
    tolerance_fold: float
    tolerance_reason: str
    inputs_from_source: tuple[str, ...]
    assumed_inputs: tuple[str, ...]
    variants: tuple[tuple[str, tuple[Any, ...]], ...]
    scenario: dict[str, Any]

    def scenarios(self) -> list[Scenario]:
        """The central scenario followed by one scenario per listed input variant."""
        out = [parse_scenario(self.scenario, self.id)]
        for key, values in self.variants:
            for value in values:
                data = copy.deepcopy(self.scenario)
                node = data
                parts = key.split(".")
                for part in parts[:-1]:
                    node = node[part]
                node[parts[-1]] = value
                out.append(parse_scenario(data, f"{self.id} ({key} = {value})"))
        return out


def case_from_dict(raw: dict[str, Any], source: str = "") -> Case:
    """Build and check a :class:`Case` from a case file's mapping."""
    try:
        metric = str(raw["metric"])
        if metric not in OBSERVABLES:
            raise ValueError(f"metric '{metric}' is not one of {', '.join(OBSERVABLES)}")
        obs = raw["observed"]
        src = raw["source"]
        ref = str(src["ref"])
        if not ref.startswith(("10.", "pmid:")):
            raise ValueError(f"source.ref '{ref}' must be a DOI or pmid:N")
        scenario = raw["scenario"]
        parse_scenario(scenario, source)
        case = Case(
            id=str(raw["id"]),
            title=str(raw["title"]),
            platform=str(scenario["expansion"]["platform"]),
            cell_source=str(scenario["cell_source"]),
            ref=ref,
            location=str(src["location"]),
            records=tuple(src.get("records", ())),
            metric=metric,
            observed=float(obs["value"]),
            observed_low=float(obs.get("low", obs["value"])),
            observed_high=float(obs.get("high", obs["value"])),
            tolerance_fold=float(raw["tolerance_fold"]),
            tolerance_reason=str(raw["tolerance_reason"]),
            inputs_from_source=tuple(raw.get("inputs_from_source", ())),
            assumed_inputs=tuple(raw.get("assumed_inputs", ())),
            variants=tuple((str(v["key"]), tuple(v["values"])) for v in raw.get("variants", ())),
            scenario=scenario,
        )
    except KeyError as exc:
        raise ValueError(f"{source}: missing key {exc}") from None
    if not case.observed_low <= case.observed <= case.observed_high:
        raise ValueError(f"{source}: observed value outside its own low-high range")
    if case.tolerance_fold < 1:
        raise ValueError(f"{source}: tolerance_fold must be at least 1")
    return case


def load_cases(directory: str | Path) -> list[Case]:
    """Every ``*.yaml`` case of a directory, in file-name order."""
    paths = sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise FileNotFoundError(f"no validation cases (*.yaml) in {directory}")
    return [case_from_dict(load_yaml(p.read_text(encoding="utf-8")) or {}, str(p)) for p in paths]


@dataclass(frozen=True)
class CaseResult:
    """Prediction of one case against its reported value."""

    case: Case
    predicted: float
    interval: tuple[float, float]
    checks_failed: tuple[str, ...] = field(default=())

    @property
    def fold_error(self) -> float:
        r = self.predicted / self.case.observed
        return float(max(r, 1.0 / r)) if r > 0 else float("inf")

    @property
    def signed_log10_error(self) -> float:
        """log10(predicted / observed): negative when the model under-predicts."""
        return float(np.log10(self.predicted / self.case.observed))

    @property
    def within_tolerance(self) -> bool:
        return self.fold_error <= self.case.tolerance_fold

    @property
    def within_interval(self) -> bool:
        lo, hi = self.interval
        return lo <= self.case.observed <= hi

    @property
    def holds(self) -> bool:
        """The case's test: the central prediction is within the case's stated fold tolerance."""
        return self.within_tolerance

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "title": c.title,
            "platform": c.platform,
            "cell_source": c.cell_source,
            "metric": c.metric,
            "ref": c.ref,
            "location": c.location,
            "observed": c.observed,
            "observed_range": [c.observed_low, c.observed_high],
            "predicted": self.predicted,
            "prediction_interval_95": list(self.interval),
            "fold_error": self.fold_error,
            "tolerance_fold": c.tolerance_fold,
            "within_tolerance": self.within_tolerance,
            "observed_in_interval": self.within_interval,
            "holds": self.holds,
            "checks_failed": list(self.checks_failed),
        }


def _observe(
    case: Case, scn: Scenario, params: ParameterSet, batch_n: int, seed: int
) -> tuple[float, np.ndarray, list[str]]:
    central = simulate_upstream(scn, UsageLog(params.nominal(1)))
    value = float(OBSERVABLES[case.metric][1](central)[0])
    failed = [c.name for c in central.checks if not bool(np.all(c.ok))]
    sample = simulate_upstream(scn, UsageLog(params.sample(batch_n, np.random.default_rng(seed))))
    return value, np.asarray(OBSERVABLES[case.metric][1](sample), dtype=float), failed


ParametersFor = Callable[[Scenario], ParameterSet]


def run_case(
    case: Case, parameters_for: ParametersFor, samples: int = INTERVAL_SAMPLES, seed: int = 20240
) -> CaseResult:
    """Predict one case: central value and 95 % interval over parameters and input variants.

    ``parameters_for`` resolves a scenario's parameter set (defaults, evidence, overrides);
    the caller passes :func:`exoforge.simulation.parameters_for`, which this wing does not import.
    """
    scenarios = case.scenarios()
    per_variant = max(16, samples // len(scenarios))
    pooled: list[np.ndarray] = []
    predicted = float("nan")
    failed: list[str] = []
    for i, scn in enumerate(scenarios):
        params = parameters_for(scn)
        value, draws, fails = _observe(case, scn, params, per_variant, seed + i)
        if i == 0:
            predicted, failed = value, fails
        pooled.append(draws[np.isfinite(draws)])
    allv = np.concatenate(pooled)
    lo, hi = np.percentile(allv, INTERVAL)
    return CaseResult(case, predicted, (float(lo), float(hi)), tuple(failed))


def run_cases(
    cases: Iterable[Case], parameters_for: ParametersFor, samples: int = INTERVAL_SAMPLES
) -> list[CaseResult]:
    return [run_case(c, parameters_for, samples) for c in cases]


@dataclass(frozen=True)
class Summary:
    """Median and worst fold error of a validation run."""

    n: int
    median_fold_error: float
    worst_case: str
    worst_fold_error: float
    holding: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.n,
            "median_fold_error": self.median_fold_error,
            "worst_case": self.worst_case,
            "worst_fold_error": self.worst_fold_error,
            "cases_holding": self.holding,
        }


def summarise(results: list[CaseResult]) -> Summary:
    errors = np.array([r.fold_error for r in results])
    worst = int(np.argmax(errors))
    return Summary(
        n=len(results),
        median_fold_error=float(np.median(errors)),
        worst_case=results[worst].case.id,
        worst_fold_error=float(errors[worst]),
        holding=sum(r.holds for r in results),
    )


def comparison_figure(results: list[CaseResult], path: str | Path) -> Path:
    """Predicted against reported values (log-log) with intervals, ranges and fold bands; SVG or PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({r.case.metric for r in results})
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 4.6), squeeze=False)
    colours = plt.get_cmap("tab10")
    platforms = sorted({r.case.platform for r in results})
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = [r for r in results if r.case.metric == metric]
        obs = np.array([r.case.observed for r in rows])
        pred = np.array([r.predicted for r in rows])
        lo = np.array([r.interval[0] for r in rows])
        hi = np.array([r.interval[1] for r in rows])
        span = np.concatenate([obs, pred, lo, hi, [r.case.observed_low for r in rows]])
        span = span[np.isfinite(span) & (span > 0)]
        a, b = span.min() / 3, span.max() * 3
        line = np.array([a, b])
        ax.plot(line, line, color="black", lw=1)
        for k, style in ((2, ":"), (10, "--")):
            ax.plot(line, line * k, color="grey", lw=0.8, ls=style)
            ax.plot(line, line / k, color="grey", lw=0.8, ls=style, label=f"{k}-fold" if ax is axes[0][0] else None)
        for r, o, p_, l_, h_ in zip(rows, obs, pred, lo, hi, strict=True):
            c = colours(platforms.index(r.case.platform) % 10)
            ax.errorbar(
                o,
                p_,
                yerr=[[max(p_ - l_, 0)], [max(h_ - p_, 0)]],
                xerr=[[o - r.case.observed_low], [r.case.observed_high - o]],
                fmt="o",
                color=c,
                ms=5,
                capsize=2,
                lw=0.8,
            )
            ax.annotate(r.case.id, (o, p_), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(a, b)
        ax.set_ylim(a, b)
        ax.set_xlabel(f"reported {metric}")
        ax.set_ylabel(f"predicted {metric}")
        ax.set_title(OBSERVABLES[metric][0], fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours(i % 10), label=pl) for i, pl in enumerate(platforms)]
    fig.legend(handles=handles, loc="lower center", ncol=len(platforms), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def results_markdown(results: list[CaseResult], summary: Summary) -> str:
    """The results as a Markdown table with the summary line (for the validation directory)."""
    lines = [
        "| case | platform | cells | source | metric | reported | predicted | 95 % interval | fold error | tolerance |"
        " holds |",
        "| --- | --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in results:
        c = r.case
        lo, hi = r.interval
        lines.append(
            f"| {c.id} | {c.platform} | {c.cell_source} | {c.ref}, {c.location} | {c.metric} | {c.observed:.3g} | "
            f"{r.predicted:.3g} | {lo:.2g}-{hi:.2g} | {r.fold_error:.2f} | {c.tolerance_fold:g} | "
            f"{'yes' if r.holds else 'no'} |"
        )
    lines += [
        "",
        f"{summary.n} cases; median fold error {summary.median_fold_error:.2f}; worst case {summary.worst_case} "
        f"({summary.worst_fold_error:.2f}-fold); {summary.holding} of {summary.n} within their tolerance; "
        f"{sum(r.within_interval for r in results)} of {summary.n} reported values inside the 95 % prediction "
        "interval.",
        "",
    ]
    return "\n".join(lines)
