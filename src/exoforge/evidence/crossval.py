"""Leave-one-study-out accuracy of the pooled effects: how well exoforge predicts what it was not fitted to.

For every emulated comparison (:mod:`exoforge.evidence.emulated`) the whole study (every record
of its reference) is excluded, the hierarchy is refitted on the rest, and the published ratio is
predicted as::

    ln predicted = ln(model ratio of the two arms) + combined per-cell effect of the treated arm
                   - combined per-cell effect of the control arm

with the per-cell effects from the refitted hierarchy (a strategy whose only study is out takes its
family's predictive distribution) and combined by the simulator's rule (the largest effect fully,
each further one times ``strategy_interaction_shrinkage`` at its central value). The 95 %
prediction interval adds the new-study predictive variance of each effect, the record's own
within-study variance and the emulation variance.

The no-effect baseline predicts the model ratio alone (every per-cell effect 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoforge.distributions import Z95
from exoforge.evidence.emulated import EmulatedRecord, family_map, load_emulated
from exoforge.evidence.hierarchy import fitted
from exoforge.evidence.influence import preprint_refs


@dataclass(frozen=True)
class CrossvalRow:
    """One comparison re-predicted without its study."""

    record_id: str
    label: str
    strategy: str
    combined_with: tuple[str, ...]
    published: float
    predicted: float
    low: float
    high: float
    baseline: float  # model ratio alone (no per-cell effect)
    preprint: bool = False  # its study is a preprint, not peer reviewed

    @property
    def log10_error(self) -> float:
        return abs(math.log10(self.predicted / self.published))

    @property
    def baseline_log10_error(self) -> float:
        return abs(math.log10(self.baseline / self.published))

    @property
    def inside(self) -> bool:
        return self.low <= self.published <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record_id,
            "study": self.label,
            "strategy": self.strategy,
            "combined_with": list(self.combined_with),
            "published": self.published,
            "predicted": self.predicted,
            "interval_95": [self.low, self.high],
            "abs_log10_error": self.log10_error,
            "inside_95": self.inside,
            "no_effect_prediction": self.baseline,
            "no_effect_abs_log10_error": self.baseline_log10_error,
            "preprint": self.preprint,
        }


@dataclass(frozen=True)
class CrossvalSummary:
    rows: tuple[CrossvalRow, ...]

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def median_log10_error(self) -> float:
        return float(np.median([r.log10_error for r in self.rows]))

    @property
    def coverage(self) -> float:
        return float(np.mean([r.inside for r in self.rows]))

    @property
    def baseline_median_log10_error(self) -> float:
        return float(np.median([r.baseline_log10_error for r in self.rows]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparisons": self.n,
            "median_abs_log10_error": self.median_log10_error,
            "coverage_95": self.coverage,
            "no_effect_median_abs_log10_error": self.baseline_median_log10_error,
            "targets": {"median_abs_log10_error_at_most": 0.30, "coverage_95_between": [0.80, 0.99]},
            "rows": [r.to_dict() for r in self.rows],
        }


def combination_shrinkage() -> float:
    """Central ``strategy_interaction_shrinkage`` of the parameter files."""
    from exoforge.parameters import ParameterSet, load_default_entries, resolve_variants

    return float(ParameterSet(resolve_variants(load_default_entries(), {}))["strategy_interaction_shrinkage"].value)


def _arm_effect(strategies: tuple[str, ...], exclude: tuple[str, ...], shrink: float) -> tuple[float, float]:
    """(mean, variance) of the combined ln per-cell effect of an arm's strategies."""
    known = family_map()
    hier = fitted(exclude)
    posts = [hier.predict(s) for s in strategies if s in known]
    if not posts:
        return 0.0, 0.0
    posts.sort(key=lambda p: -abs(p.mean))
    weights = [1.0] + [shrink] * (len(posts) - 1)
    mean = sum(w * p.mean for w, p in zip(weights, posts, strict=True))
    var = sum(w * w * p.var_new for w, p in zip(weights, posts, strict=True))
    return mean, var


def predict_comparison(e: EmulatedRecord, exclude: tuple[str, ...], shrink: float) -> CrossvalRow:
    """Predict one published ratio from the hierarchy fitted without ``exclude``."""
    t_mean, t_var = _arm_effect(e.treated_strategies, exclude, shrink)
    c_mean, c_var = _arm_effect(e.control_strategies, exclude, shrink)
    from exoforge.evidence.emulated import NON_MSC_SD

    own = e.record_var + e.emulation_sd**2 + (NON_MSC_SD**2 if e.cell_source == "non_msc" else 0.0)
    mean = e.log_model_ratio + t_mean - c_mean
    sd = math.sqrt(t_var + c_var + own)
    return CrossvalRow(
        record_id=e.record_id,
        label=e.label,
        strategy=e.strategy,
        combined_with=e.combined_with,
        published=e.published,
        predicted=math.exp(mean),
        low=math.exp(mean - Z95 * sd),
        high=math.exp(mean + Z95 * sd),
        baseline=math.exp(e.log_model_ratio),
        preprint=e.ref in preprint_refs(),
    )


def crossval(exclude_refs: tuple[str, ...] = ()) -> CrossvalSummary:
    """Every emulated comparison predicted with its whole study excluded.

    ``exclude_refs`` (normalised references) are left out of the evidence altogether: their
    comparisons are neither predicted nor used to predict the others (a sensitivity analysis, e.g.
    without preprints).
    """
    shrink = combination_shrinkage()
    drop = set(exclude_refs)
    rows = [predict_comparison(e, tuple(sorted({e.ref, *drop})), shrink) for e in load_emulated() if e.ref not in drop]
    return CrossvalSummary(tuple(rows))
