"""From evidence records to strategy-effect parameters the simulator draws from.

Rules (stated here because users must be able to check them):

1. **One effect per study.** Records of the same reference, strategy and basis
   are first averaged on the log scale (mean of ln fold-change, mean of their
   variances), so a paper with five conditions counts once.
2. **Within-study variance.** From ``spread.log_se`` when given; else from a
   95 % CI of the fold-change ((ln hi − ln lo) / 3.92); else from SD or SE of
   the fold-change by the delta method (SE / fold, with SE = SD / sqrt(n));
   else from a reported range ((ln hi − ln lo) / 4). When none is reported the
   SE of ln(fold) is *imputed* as the 75th percentile of the SEs that are
   reported across all fold-change records (at least 0.2), and the study is
   flagged ``imputed``.
3. **Pooling.** REML random effects (see :mod:`exoforge.evidence.pooling`).
4. **What the simulator draws.** A lognormal multiplier with median exp(mu)
   and the predictive SD sqrt(tau² + se²), i.e. the 95 % *prediction*
   interval, not the confidence interval. With k < 3 the between-study
   variance cannot be estimated and tau² is taken as the median tau² of the
   strategies that have k >= 3 (0.25 if there are none).
5. **MSC first.** Only MSC records are pooled when any exist; otherwise
   non-MSC records are used and the predictive SD is multiplied by 1.5.
6. **Per-culture figures for treatments of the same cells.** A culture-condition
   or biogenesis-engineering strategy is applied to the same cells in the same
   vessel as its control, so a fold-change of EV yield per culture (basis
   ``per_volume``, ``per_run`` or unstated ``other``) approximates the per-cell
   effect when no per-cell figure exists. Such figures are pooled together in
   that case, flagged, and the predictive SD is multiplied by 1.5. Platform
   comparisons (3D vs 2D) never take this route: their cell numbers differ.
7. **Combinations.** Strategies combine additively on the log scale: the
   largest effect counts fully and each further one is multiplied by the
   interaction shrinkage ``strategy_interaction_shrinkage`` (1 = independent,
   multiplicative effects; 0 = no gain beyond the strongest). A warning is
   raised when no record tested that combination together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from exoforge.distributions import Z95
from exoforge.evidence.pooling import PooledEffect, pool
from exoforge.evidence.store import EvidenceRecord, Strategy, load_records, load_strategies

MIN_IMPUTED_SE = 0.2
DEFAULT_TAU2 = 0.25
NON_MSC_WIDENING = 1.5
PER_CULTURE_WIDENING = 1.5
#: Families whose per-culture fold-changes stand in for per-cell ones (rule 6).
SAME_CELLS_CATEGORIES = ("culture_condition", "biogenesis_engineering")
PER_CULTURE_BASES = ("per_volume", "per_run", "other")


@dataclass(frozen=True)
class StudyEffect:
    """One study's log fold-change for a strategy on a basis."""

    ref: str
    y: float
    v: float
    imputed: bool
    record_ids: tuple[str, ...]
    cell_sources: tuple[str, ...]
    label: str


def _log_se(rec: EvidenceRecord) -> float | None:
    r = rec.record
    s = r.spread
    fc = r.fold_change
    if s is None or fc is None:
        return None
    if s.log_se is not None and s.log_se > 0:
        return s.log_se
    if s.ci95_low and s.ci95_high and s.ci95_low > 0 and s.ci95_high > s.ci95_low:
        return (math.log(s.ci95_high) - math.log(s.ci95_low)) / (2 * Z95)
    se = s.se
    if se is None and s.sd is not None and r.n:
        se = s.sd / math.sqrt(r.n)
    if se is not None and se > 0:
        return se / fc
    if s.range_low and s.range_high and s.range_low > 0 and s.range_high > s.range_low:
        return (math.log(s.range_high) - math.log(s.range_low)) / 4
    return None


def fold_change_records(
    records: Iterable[EvidenceRecord], strategy: str, basis: str, exclude_refs: Iterable[str] = ()
) -> list[EvidenceRecord]:
    """Numeric fold-change records of ``strategy`` alone on ``basis``, minus excluded references.

    Records whose treated arm combined the strategy with others (``combined_with``)
    are left out: they measure the combination, not the strategy.
    """
    from exoforge.parameters import normalise_ref

    drop = {normalise_ref(r) for r in exclude_refs}
    return [
        r
        for r in records
        if r.record.strategy == strategy
        and r.record.basis == basis
        and r.record.fold_change is not None
        and not r.record.direction_only
        and not r.record.combined_with
        and normalise_ref(r.ref_key) not in drop
    ]


def imputed_se(records: Iterable[EvidenceRecord]) -> float:
    """The SE of ln(fold) used when a study reports no spread (rule 2)."""
    ses = [s for r in records if r.record.fold_change is not None and (s := _log_se(r)) is not None]
    if len(ses) < 3:
        return max(MIN_IMPUTED_SE, 0.35)
    return max(MIN_IMPUTED_SE, float(np.percentile(ses, 75)))


def study_effects(recs: Sequence[EvidenceRecord], se_impute: float) -> list[StudyEffect]:
    """Collapse records to one effect per reference (rule 1)."""
    by_ref: dict[str, list[EvidenceRecord]] = defaultdict(list)
    for r in recs:
        by_ref[r.ref_key].append(r)
    out = []
    for ref, group in sorted(by_ref.items()):
        ys, vs, imputed = [], [], False
        for r in group:
            fc = r.record.fold_change
            assert fc is not None
            ys.append(math.log(fc))
            se = _log_se(r)
            if se is None:
                se, imputed = se_impute, True
            vs.append(se**2)
        first = group[0].reference
        out.append(
            StudyEffect(
                ref=ref,
                y=float(np.mean(ys)),
                v=float(np.mean(vs)),
                imputed=imputed,
                record_ids=tuple(r.record.id for r in group),
                cell_sources=tuple(sorted({r.record.cell_source for r in group})),
                label=f"{first.first_author} {first.year}",
            )
        )
    return out


@dataclass(frozen=True)
class StrategyEvidence:
    """The pooled evidence behind one strategy's multiplier."""

    strategy: Strategy
    basis: str
    studies: tuple[StudyEffect, ...]
    pooled: PooledEffect | None
    msc_only: bool
    sigma: float
    median: float
    per_culture: bool = False  # rule 6: per-culture figures stood in for per-cell ones

    @property
    def k(self) -> int:
        return len(self.studies)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(s.ref for s in self.studies)


def strategy_evidence(
    strategy_id: str,
    exclude_refs: Iterable[str] = (),
    basis: str | None = None,
    records: Sequence[EvidenceRecord] | None = None,
    cell_source: str | None = None,
) -> StrategyEvidence | None:
    """Pool the evidence for one strategy (rules 1-5); None when no numeric record exists."""
    records = list(records) if records is not None else list(load_records())
    catalogue = {s.id: s for s in load_strategies()}
    strat = catalogue[strategy_id]
    explicit_basis = basis is not None
    basis = basis or strat.pool_basis
    exclude_refs = tuple(exclude_refs)
    recs = fold_change_records(records, strategy_id, basis, exclude_refs)
    per_culture = False
    if not recs and not explicit_basis and basis == "per_cell" and strat.category in SAME_CELLS_CATEGORIES:
        recs = [r for b in PER_CULTURE_BASES for r in fold_change_records(records, strategy_id, b, exclude_refs)]
        per_culture = bool(recs)
        if per_culture:
            basis = "per_culture"
    if cell_source is not None:
        recs = [r for r in recs if r.record.cell_source == cell_source]
    msc = [r for r in recs if r.record.cell_source != "non_msc"]
    use, msc_only = (msc, True) if msc else (recs, False)
    if not use:
        return None
    studies = study_effects(use, imputed_se(records))
    pooled = pool([s.y for s in studies], [s.v for s in studies], "reml")
    if pooled.k >= 3:
        sigma = pooled.predictive_sigma
    else:
        sigma = math.sqrt(default_tau2(records) + pooled.se**2)
    if not msc_only:
        sigma *= NON_MSC_WIDENING
    if per_culture:
        sigma *= PER_CULTURE_WIDENING
    return StrategyEvidence(strat, basis, tuple(studies), pooled, msc_only, sigma, pooled.fold, per_culture)


def default_tau2(records: Sequence[EvidenceRecord]) -> float:
    """Median tau² over strategies with k >= 3 on their pool basis (rule 4)."""
    tau2s = []
    se_imp = imputed_se(records)
    for strat in load_strategies():
        recs = [
            r for r in fold_change_records(records, strat.id, strat.pool_basis) if r.record.cell_source != "non_msc"
        ]
        studies = study_effects(recs, se_imp)
        if len(studies) >= 3:
            tau2s.append(pool([s.y for s in studies], [s.v for s in studies], "reml").tau2)
    return float(np.median(tau2s)) if tau2s else DEFAULT_TAU2


def combination_tested(strategies: Sequence[str], records: Iterable[EvidenceRecord] | None = None) -> bool:
    """True when some record tested all of ``strategies`` together."""
    if len(strategies) < 2:
        return True
    want = set(strategies)
    for r in records if records is not None else load_records():
        together = {r.record.strategy, *r.record.combined_with}
        if want <= together:
            return True
    return False


def combine_log_multipliers(log_m: np.ndarray, shrinkage: np.ndarray) -> np.ndarray:
    """Rule 6: combine per-strategy ln multipliers, shape (k, N), into one ln multiplier (N,).

    Effects are ranked by magnitude in each column; the largest counts fully,
    the j-th further one is weighted by ``shrinkage`` (constant for j >= 1).
    """
    if log_m.shape[0] == 0:
        return np.zeros(log_m.shape[1] if log_m.ndim == 2 else 0)
    order = np.argsort(-np.abs(log_m), axis=0)
    ranked = np.take_along_axis(log_m, order, axis=0)
    weights = np.ones_like(ranked)
    weights[1:] = shrinkage
    return cast("np.ndarray", np.sum(ranked * weights, axis=0))
