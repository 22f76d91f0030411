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

The published cases ship with the package (``exoforge.data.validation``), so ``exoforge validate``
runs from any folder; this module returns data only, and the comparison figure is drawn by
:mod:`exoforge.report.validation_plots`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.parameters import ParameterSet, UsageLog
from exoforge.scenario import Scenario, parse_scenario
from exoforge.upstream.simulate import UpstreamResult, simulate_upstream
from exoforge.upstream.validation_bias import BIAS_FOLD, FoldBias, bias_row, fold_biases, recalibrated_fold_errors
from exoforge.yamlio import load_yaml

#: Observables a case may report: (description, unit, value from the upstream result of the scenario).
OBSERVABLES: dict[str, tuple[str, str, Callable[[UpstreamResult], np.ndarray]]] = {
    "cells.harvested": (
        "viable cells at the end of expansion (all vessels)",
        "cells",
        lambda u: u.cells_end_expansion,
    ),
    "cells.fold_expansion": (
        "viable cells at the end of expansion over cells seeded",
        "fold",
        lambda u: u.cells_end_expansion / u.seeded_cells,
    ),
    "cells.per_ml": (
        "viable cells at the end of expansion per mL of medium",
        "cells/mL",
        lambda u: u.cells_end_expansion / (u.geometry.volume_l * u.vessels * 1000.0),
    ),
    "ev.harvest_particles_per_ml": (
        "NTA-equivalent particles per mL of collected medium (cell EVs plus medium background)",
        "particles/mL",
        lambda u: (u.harvested_particles + u.harvest_background_particles) / (u.harvest_volume_l * 1000.0),
    ),
    "ev.particles_per_collection": (
        "NTA-equivalent particles collected per collection (all vessels)",
        "particles",
        lambda u: (u.harvested_particles + u.harvest_background_particles) / u.collections,
    ),
}
#: Observables that count cells (the suite's cell targets are taken over these).
CELL_METRICS = ("cells.harvested", "cells.fold_expansion", "cells.per_ml")
#: Package holding the published cases.
CASES_PACKAGE = "exoforge.data.validation"

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
    known_miss: str | None = None  # why the reported value may fall outside the 95 % interval
    source: str = ""  # the file it was read from

    @property
    def unit(self) -> str:
        return OBSERVABLES[self.metric][1]

    @property
    def counts_cells(self) -> bool:
        return self.metric in CELL_METRICS

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
            known_miss=str(raw["known_miss"]) if raw.get("known_miss") else None,
            source=source,
        )
    except KeyError as exc:
        raise ValueError(f"{source}: missing key {exc}") from None
    if not case.observed_low <= case.observed <= case.observed_high:
        raise ValueError(f"{source}: observed value outside its own low-high range")
    if case.tolerance_fold < 1:
        raise ValueError(f"{source}: tolerance_fold must be at least 1")
    if case.known_miss is not None and len(case.known_miss) < 40:
        raise ValueError(f"{source}: known_miss must give the reason (at least a sentence)")
    return case


def packaged_cases_dir() -> Path:
    """Folder of the published cases installed with the package."""
    return Path(str(resources.files(CASES_PACKAGE)))


def load_cases(directory: str | Path | None = None) -> list[Case]:
    """Every ``*.yaml`` case of a directory (default: the packaged cases), in file-name order."""
    directory = packaged_cases_dir() if directory is None else directory
    paths = sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise FileNotFoundError(f"no validation cases (*.yaml) in {directory}")
    return [case_from_dict(load_yaml(p.read_text(encoding="utf-8")) or {}, str(p)) for p in paths]


def plugin_cases() -> list[Case]:
    """The published cases of the plug-ins' evidence sets (``validation/*.yaml`` in an evidence folder)."""
    from exoforge.evidence.store import plugin_evidence_folders

    out = []
    for name, folder in plugin_evidence_folders():
        for path in sorted((folder / "validation").glob("*.yaml")):
            out.append(case_from_dict(load_yaml(path.read_text(encoding="utf-8")) or {}, f"plug-in {name}: {path}"))
    return out


def all_cases() -> list[Case]:
    """The packaged cases and the plug-ins' (a case id used twice is refused, both files named)."""
    cases = [*load_cases(), *plugin_cases()]
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            raise ValueError(f"validation case '{case.id}' is defined twice: {seen[case.id]} and {case.source}")
        seen[case.id] = case.source
    return cases


@dataclass(frozen=True)
class CaseResult:
    """Prediction of one case against its reported value."""

    case: Case
    predicted: float
    interval: tuple[float, float]
    checks_failed: tuple[str, ...] = field(default=())
    surface: str = ""  # what the cells grow on in the central run: microcarrier, plastic, hollow_fiber, ...

    @property
    def fold_error(self) -> float:
        r = self.ratio
        return float(max(r, 1.0 / r)) if r > 0 else float("inf")

    @property
    def within_tolerance(self) -> bool:
        return self.fold_error <= self.case.tolerance_fold

    @property
    def ratio(self) -> float:
        """Central prediction over the reported value."""
        return self.predicted / self.case.observed

    @property
    def observes(self) -> str:
        """What the case's observable counts: "cells" or "EVs"."""
        return "cells" if self.case.counts_cells else "EVs"

    @property
    def within_interval(self) -> bool:
        lo, hi = self.interval
        return lo <= self.case.observed <= hi

    @property
    def holds(self) -> bool:
        """The case's test: the central prediction is within the case's stated fold tolerance."""
        return self.within_tolerance

    @property
    def accounted(self) -> bool:
        """The reported value lies inside the 95 % interval, or the case lists it as a known miss."""
        return self.within_interval or self.case.known_miss is not None

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "title": c.title,
            "platform": c.platform,
            "cell_source": c.cell_source,
            "metric": c.metric,
            "unit": c.unit,
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
            "known_miss": c.known_miss,
            "checks_failed": list(self.checks_failed),
        }


def _observe(
    case: Case, scn: Scenario, params: ParameterSet, batch_n: int, seed: int
) -> tuple[float, np.ndarray, list[str], str]:
    log = UsageLog(params.nominal(1))
    central = simulate_upstream(scn, log)
    value = _observed(case, central)
    failed = [c.name for c in central.checks if not bool(np.all(c.ok))]
    # only the parameters the culture reads are drawn, so that a parameter added elsewhere (a price, an
    # isolation step) leaves these draws, and the interval, as they are
    names = [p.name for p in params.uncertain() if p.name in log.used]
    if case.counts_cells:
        # secretion parameters move no cell: a cell observation does not draw them (nor shift its draws when
        # the evidence behind a secretion effect changes)
        names = [n for n in names if not _moves_only_secretion(n)]
    sample = simulate_upstream(scn, UsageLog(params.sample(batch_n, np.random.default_rng(seed), names)))
    return value, np.asarray(OBSERVABLES[case.metric][2](sample), dtype=float), failed, central.geometry.surface


def _observed(case: Case, culture: UpstreamResult) -> float:
    return float(OBSERVABLES[case.metric][2](culture)[0])


def central_observation(case: Case, scn: Scenario, params: ParameterSet) -> tuple[float, str]:
    """The case's observable at the central parameter values of ``params``, and what its cells grow on."""
    culture = simulate_upstream(scn, UsageLog(params.nominal(1)))
    return _observed(case, culture), culture.geometry.surface


def _moves_only_secretion(name: str) -> bool:
    """Platform and strategy effects on EV secretion (they multiply secretion alone)."""
    return name.endswith(".ev_secretion")


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
    surface = ""
    for i, scn in enumerate(scenarios):
        params = parameters_for(scn)
        value, draws, fails, kind = _observe(case, scn, params, per_variant, seed + i)
        if i == 0:
            predicted, failed, surface = value, fails, kind
        pooled.append(draws[np.isfinite(draws)])
    allv = np.concatenate(pooled)
    lo, hi = np.percentile(allv, INTERVAL)
    return CaseResult(case, predicted, (float(lo), float(hi)), tuple(failed), surface)


def run_cases(
    cases: Iterable[Case], parameters_for: ParametersFor, samples: int = INTERVAL_SAMPLES
) -> list[CaseResult]:
    return [run_case(c, parameters_for, samples) for c in cases]


@dataclass(frozen=True)
class Summary:
    """Fold errors and interval coverage of a validation run."""

    n: int
    median_fold_error: float
    worst_case: str
    worst_fold_error: float
    holding: int
    cell_cases: int
    median_fold_error_cells: float
    inside_interval: int
    known_misses: tuple[str, ...]
    by_platform: tuple[FoldBias, ...] = ()
    by_surface: tuple[FoldBias, ...] = ()
    #: median fold error on cells once each case's surface bias, learnt from the other studies, is divided out
    median_fold_error_cells_recalibrated: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.n,
            "median_fold_error": self.median_fold_error,
            "worst_case": self.worst_case,
            "worst_fold_error": self.worst_fold_error,
            "cases_holding": self.holding,
            "cell_cases": self.cell_cases,
            "median_fold_error_cells": self.median_fold_error_cells,
            "median_fold_error_cells_surface_recalibrated": self.median_fold_error_cells_recalibrated,
            "observed_inside_interval_95": self.inside_interval,
            "known_misses": list(self.known_misses),
            "by_platform": [b.to_dict("platform") for b in self.by_platform],
            "by_surface": [b.to_dict("surface") for b in self.by_surface],
        }


def summarise(results: list[CaseResult]) -> Summary:
    errors = np.array([r.fold_error for r in results])
    cells = np.array([r.fold_error for r in results if r.case.counts_cells])
    worst = int(np.argmax(errors))
    recalibrated = recalibrated_fold_errors(
        (r.case.id, r.case.ref, r.surface or "?", r.ratio) for r in results if r.case.counts_cells and r.ratio > 0
    )
    return Summary(
        n=len(results),
        median_fold_error=float(np.median(errors)),
        worst_case=results[worst].case.id,
        worst_fold_error=float(errors[worst]),
        holding=sum(r.holds for r in results),
        cell_cases=int(cells.size),
        median_fold_error_cells=float(np.median(cells)) if cells.size else float("nan"),
        inside_interval=sum(r.within_interval for r in results),
        known_misses=tuple(r.case.id for r in results if not r.within_interval and r.case.known_miss),
        by_platform=tuple(
            fold_biases((r.case.id, r.case.platform, r.observes, r.ratio) for r in results if r.ratio > 0)
        ),
        by_surface=tuple(
            fold_biases((r.case.id, r.surface or "?", r.observes, r.ratio) for r in results if r.ratio > 0)
        ),
        median_fold_error_cells_recalibrated=float(np.median(list(recalibrated.values())))
        if recalibrated
        else float("nan"),
    )


def recalibration_sentence(median_cells: float, recalibrated: float) -> str:
    """Bias or scatter: what a per-surface recalibration, learnt from the other studies, would leave on cells."""
    return (
        "Bias or scatter: were each cell case's surface bias learnt from the other studies' cases on the same "
        "surface (leave one study out) and divided out, the median fold error on cells would be "
        f"{recalibrated:.2f} (it is {median_cells:.2f}); the "
        "difference is what a shared recalibration of the surfaces could remove, the rest is scatter between "
        "cases."
    )


def results_markdown(results: list[CaseResult], summary: Summary) -> str:
    """The results as a Markdown table with the summary line (for the validation directory)."""
    lines = [
        "| case | platform | cells | source | observable | unit | reported | predicted | 95 % interval | fold error |"
        " inside | tolerance |",
        "| --- | --- | --- | --- | --- | --- | ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for r in results:
        c = r.case
        lo, hi = r.interval
        inside = "yes" if r.within_interval else ("known miss" if c.known_miss else "**no**")
        lines.append(
            f"| {c.id} | {c.platform} | {c.cell_source} | {c.ref}, {c.location} | {c.metric} | {c.unit} | "
            f"{c.observed:.3g} | {r.predicted:.3g} | {lo:.2g}-{hi:.2g} | {r.fold_error:.2f} | {inside} | "
            f"{c.tolerance_fold:g} |"
        )
    lines += [
        "",
        f"{summary.n} cases; median fold error {summary.median_fold_error:.2f} over all, "
        f"{summary.median_fold_error_cells:.2f} over the {summary.cell_cases} cell cases; worst case "
        f"{summary.worst_case} ({summary.worst_fold_error:.2f}-fold); {summary.holding} of {summary.n} within their "
        f"tolerance; {summary.inside_interval} of {summary.n} reported values inside the 95 % prediction interval.",
        "",
    ]
    if summary.by_platform:
        lines += [
            "Central prediction over reported value by platform (geometric mean over its cases; a run on a platform "
            f"warns where it is above {BIAS_FOLD:g} or below 1/{BIAS_FOLD:g}; the sign test p is how often a model "
            "that each case is as likely to over- as to under-predict would put at least as many cases on one side):",
            "",
            "| platform | observes | cases (over / under) | sign test p | predicted / reported | per case |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        lines += [bias_row(b) for b in summary.by_platform]
        lines.append("")
    if summary.by_surface:
        lines += [
            "The same by what the cells grow on (platforms that share a surface share its attachment and capacity "
            "assumptions; a run whose platform's own cases do not warn warns from its surface):",
            "",
            "| surface | observes | cases (over / under) | sign test p | predicted / reported | per case |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        lines += [bias_row(b) for b in summary.by_surface]
        lines.append("")
    if math.isfinite(summary.median_fold_error_cells_recalibrated):
        lines += [
            recalibration_sentence(summary.median_fold_error_cells, summary.median_fold_error_cells_recalibrated),
            "",
        ]
    misses = [r for r in results if not r.within_interval and r.case.known_miss]
    if misses:
        lines += ["Known misses (reported value outside the 95 % interval, with the reason):", ""]
        lines += [f"* **{r.case.id}**: {r.case.known_miss}" for r in misses]
        lines.append("")
    return "\n".join(lines)
