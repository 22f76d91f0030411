"""How far the model's central predictions fell from published cultures on each platform and surface.

``exoforge validate --write-record`` runs every packaged validation case at the central
parameter values and commits predicted against reported values, with the platform and the surface
the cells grew on, to ``exoforge/data/validation_record.yaml`` (a test holds the file in step with
the model, as the emulations are). A run reads that file, without simulating, and warns when the
cases say the model runs high or low where the run grows its cells: the geometric mean of
predicted / reported over the cell cases (and, separately, the EV cases) is above
:data:`exoforge.upstream.validation.BIAS_FOLD` or below its inverse,

* over the cases on the run's platform, or else
* over the cases on every platform that shares the run's culture surface (microcarriers in a spinner,
  a stirred tank or a Vertical-Wheel share attachment, areal capacity and lag), where the platform's own
  cases do not already warn for that observation.

The warning names the cases and counts those over and under, so a reader can look at them with
``exoforge validate --case``. Cases a plug-in brings (``validation/`` in its evidence folder) are not
committed: their central predictions are run in the process when a run first needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from exoforge.parameters import ParameterSet
from exoforge.scenario import Scenario
from exoforge.upstream.validation import Case, central_observation, load_cases, plugin_cases
from exoforge.upstream.validation_bias import FoldBias, fold_biases
from exoforge.yamlio import load_yaml

RECORD_FILE = "validation_record.yaml"

#: How a warning names a culture surface (:attr:`exoforge.upstream.platforms.VesselGeometry.surface`).
SURFACE_NAMES = {
    "microcarrier": "microcarriers",
    "plastic": "tissue-culture plastic",
    "hollow_fiber": "hollow fibres",
    "fixed_bed": "fixed-bed carriers",
    "aggregate": "aggregates",
}


@dataclass(frozen=True)
class CaseOutcome:
    """One case's central prediction against its reported value."""

    case: str
    platform: str
    observes: str  # "cells" or "EVs"
    reported: float
    predicted: float
    surface: str = ""  # what the cells grew on in the central run: microcarrier, plastic, hollow_fiber, ...

    @property
    def ratio(self) -> float:
        return self.predicted / self.reported


def central_outcomes(
    parameters_for: Callable[[Scenario], ParameterSet], cases: Iterable[Case] | None = None
) -> list[CaseOutcome]:
    """Central prediction of every case (default: the packaged ones); the caller passes ``parameters_for``."""
    out = []
    for case in cases if cases is not None else load_cases():
        scn = case.scenarios()[0]
        predicted, surface = central_observation(case, scn, parameters_for(scn))
        out.append(
            CaseOutcome(
                case=case.id,
                platform=case.platform,
                observes="cells" if case.counts_cells else "EVs",
                reported=case.observed,
                predicted=predicted,
                surface=surface,
            )
        )
    return out


def record_path() -> Path:
    return Path(str(resources.files("exoforge.data"))) / RECORD_FILE


def record_document(outcomes: list[CaseOutcome]) -> dict[str, Any]:
    """The committed form of ``outcomes``."""
    return {
        "cases": [
            {
                "case": o.case,
                "platform": o.platform,
                "observes": o.observes,
                "reported": o.reported,
                "predicted": float(f"{o.predicted:.9g}"),
                "surface": o.surface,
            }
            for o in outcomes
        ]
    }


@lru_cache(maxsize=1)
def committed_outcomes() -> tuple[CaseOutcome, ...]:
    """The committed central predictions (read once)."""
    doc = load_yaml(record_path().read_text(encoding="utf-8"))
    return tuple(CaseOutcome(**c) for c in doc["cases"])


@lru_cache(maxsize=1)
def plugin_outcomes() -> tuple[CaseOutcome, ...]:
    """Central predictions of the plug-ins' cases, run when first needed (they are not committed)."""
    from exoforge.simulation import parameters_for

    cases = plugin_cases()
    return tuple(central_outcomes(lambda s: parameters_for(s).params, cases)) if cases else ()


def bias_warnings(platform: str, surface: str = "", outcomes: Iterable[CaseOutcome] | None = None) -> list[str]:
    """A warning for each kind of observation (cells, EVs) that the cases say the model runs high or low on
    for a run on ``platform`` growing its cells on ``surface`` (geometric-mean fold beyond
    :data:`exoforge.upstream.validation.BIAS_FOLD`): the platform's own cases, or else the cases on every
    platform that shares the surface."""
    if outcomes is None:
        outcomes = (*committed_outcomes(), *plugin_outcomes())
    outcomes = tuple(outcomes)
    by_platform = fold_biases((o.case, o.platform, o.observes, o.ratio) for o in outcomes if o.platform == platform)
    warnings = [_warning(b, f"on {platform}") for b in by_platform if b.beyond_threshold]
    warned = {b.observes for b in by_platform if b.beyond_threshold}
    if surface:
        on_surface = [o for o in outcomes if o.surface == surface]
        platforms = {o.case: o.platform for o in on_surface}
        for b in fold_biases((o.case, o.surface, o.observes, o.ratio) for o in on_surface):
            if b.beyond_threshold and b.observes not in warned:
                names = ", ".join(sorted({platforms[c] for c, _ in b.ratios}))
                on = SURFACE_NAMES.get(surface, surface)
                warnings.append(_warning(b, f"grown on {on} ({names})", f"this run grows its cells on {on}, so its"))
    return warnings


def _warning(bias: FoldBias, where: str, subject: str = "this run's") -> str:
    fold, observes, group = bias.fold, bias.observes, bias.ratios
    listed = ", ".join(f"{case} x{ratio:.2g}" for case, ratio in group)
    direction = "high" if fold > 1 else "low"
    cases = f"{len(group)} case{'s' if len(group) > 1 else ''}, {bias.over} over and {bias.under} under"
    return (
        f"validation: the model predicted published {observes} {where} at x{fold:.3g} the reported values "
        f"(geometric mean of predicted/reported over {cases}: {listed}); {subject} {observes} may be "
        f"{direction} by a similar factor (`exoforge validate --case {group[0][0]}` shows a case)"
    )
