"""How far the model's central predictions fell from published cultures on each platform.

``exoforge validate --write-record`` runs every packaged validation case at the central
parameter values and commits predicted against reported values to
``exoforge/data/validation_record.yaml`` (a test holds the file in step with the model, as the
emulations are). A run reads that file, without simulating, and warns when the cases on its
platform say the model runs high or low there: the geometric mean of predicted / reported over the
platform's cell cases (and, separately, its EV cases) is above
:data:`exoforge.upstream.validation.BIAS_FOLD` or below its inverse. The warning names the cases,
so a reader can look at them with ``exoforge validate --case``.
Cases a plug-in brings (``validation/`` in its evidence folder) are not committed: their central
predictions are run in the process when a run first needs them.
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
from exoforge.upstream.validation import Case, central_value, load_cases, plugin_cases
from exoforge.upstream.validation_bias import fold_biases
from exoforge.yamlio import load_yaml

RECORD_FILE = "validation_record.yaml"


@dataclass(frozen=True)
class CaseOutcome:
    """One case's central prediction against its reported value."""

    case: str
    platform: str
    observes: str  # "cells" or "EVs"
    reported: float
    predicted: float

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
        out.append(
            CaseOutcome(
                case=case.id,
                platform=case.platform,
                observes="cells" if case.counts_cells else "EVs",
                reported=case.observed,
                predicted=central_value(case, scn, parameters_for(scn)),
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
            }
            for o in outcomes
        ]
    }


@lru_cache(maxsize=1)
def committed_outcomes() -> tuple[CaseOutcome, ...]:
    """The committed central predictions (read once)."""
    doc = load_yaml(record_path().read_text(encoding="utf-8"))
    return tuple(CaseOutcome(**c) for c in doc["cases"])


@lru_cache(maxsize=16)
def plugin_outcomes(platform: str) -> tuple[CaseOutcome, ...]:
    """Central predictions of the plug-ins' cases on ``platform``, run when first needed (they are not committed)."""
    from exoforge.simulation import parameters_for

    cases = [c for c in plugin_cases() if c.platform == platform]
    return tuple(central_outcomes(lambda s: parameters_for(s).params, cases)) if cases else ()


def bias_warnings(platform: str, outcomes: Iterable[CaseOutcome] | None = None) -> list[str]:
    """A warning for each kind of observation (cells, EVs) that ``platform``'s cases say the model runs high or
    low on (geometric-mean fold beyond :data:`exoforge.upstream.validation.BIAS_FOLD`)."""
    if outcomes is None:
        outcomes = (*committed_outcomes(), *plugin_outcomes(platform))
    biases = fold_biases((o.case, o.platform, o.observes, o.ratio) for o in outcomes if o.platform == platform)
    warnings = []
    for bias in biases:
        if not bias.beyond_threshold:
            continue
        fold = bias.fold
        observes, group = bias.observes, bias.ratios
        listed = ", ".join(f"{case} x{ratio:.2g}" for case, ratio in group)
        direction = "high" if fold > 1 else "low"
        cases = f"{len(group)} case{'s' if len(group) > 1 else ''}"
        warnings.append(
            f"validation: the model predicted published {observes} on {platform} at x{fold:.3g} the reported values "
            f"(geometric mean of predicted/reported over {cases}: {listed}); this run's {observes} may be {direction} "
            f"by a similar factor (`exoforge validate --case {group[0][0]}` shows a case)"
        )
    return warnings
