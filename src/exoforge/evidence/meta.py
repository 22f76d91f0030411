"""Meta-analysis of one strategy: pooled effect, subgroups by cell source, leave-one-study-out.

This is what ``exoforge evidence pool`` prints and what the forest plot draws.
The study effects and their variances follow the rules of
:mod:`exoforge.evidence.effects`; the pooling is :func:`exoforge.evidence.pooling.pool`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from exoforge.evidence.effects import (
    PER_CULTURE_BASES,
    StudyEffect,
    fold_change_records,
    imputed_se,
    study_effects,
)
from exoforge.evidence.pooling import Method, PooledEffect, leave_one_out, pool
from exoforge.evidence.store import load_records, load_strategies

#: Smallest number of studies for which a subgroup is pooled.
MIN_SUBGROUP_K = 2


@dataclass(frozen=True)
class LeaveOneOut:
    """The pooled effect without one study."""

    left_out: str
    label: str
    pooled: PooledEffect


@dataclass(frozen=True)
class MetaAnalysis:
    """Everything known about one strategy on one basis."""

    strategy: str
    label: str
    basis: str
    method: str
    population: str  # 'MSC' or 'non-MSC'
    studies: tuple[StudyEffect, ...]
    pooled: PooledEffect | None
    subgroups: dict[str, PooledEffect] = field(default_factory=dict)
    leave_one_out: tuple[LeaveOneOut, ...] = ()
    excluded_refs: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return len(self.studies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "label": self.label,
            "basis": self.basis,
            "method": self.method,
            "population": self.population,
            "k": self.k,
            "studies": [
                {
                    "ref": s.ref,
                    "label": s.label,
                    "fold": math.exp(s.y),
                    "log_fold": s.y,
                    "se": math.sqrt(s.v),
                    "se_imputed": s.imputed,
                    "records": list(s.record_ids),
                    "cell_sources": list(s.cell_sources),
                }
                for s in self.studies
            ],
            "pooled": self.pooled.to_dict() if self.pooled else None,
            "subgroups": {k: v.to_dict() for k, v in self.subgroups.items()},
            "leave_one_out": [
                {"left_out": lo.left_out, "label": lo.label, "fold": lo.pooled.fold, "tau2": lo.pooled.tau2}
                for lo in self.leave_one_out
            ],
            "excluded_refs": list(self.excluded_refs),
            # every basis with numbers, so a reader of an empty pool knows where to look
            "numeric_bases": numeric_bases(self.strategy, self.excluded_refs),
        }


def numeric_bases(strategy: str, exclude_refs: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """References with a numeric fold-change of ``strategy`` alone, by basis: ``{"msc": k, "non_msc": k}``.

    What ``evidence pool`` suggests when the requested basis has nothing to pool.
    """
    records = list(load_records())
    bases = sorted({r.record.basis for r in records if r.record.strategy == strategy})
    out: dict[str, dict[str, int]] = {}
    for basis in bases:
        recs = fold_change_records(records, strategy, basis, exclude_refs)
        if recs:
            out[basis] = {
                "msc": len({r.ref_key for r in recs if r.record.cell_source != "non_msc"}),
                "non_msc": len({r.ref_key for r in recs if r.record.cell_source == "non_msc"}),
            }
    return out


def meta_analysis(
    strategy: str,
    basis: str | None = None,
    method: Method = "reml",
    exclude_refs: Iterable[str] = (),
    include_non_msc: bool = False,
) -> MetaAnalysis:
    """Pool the numeric fold-changes of ``strategy`` on ``basis`` (default: its pool basis, or the basis
    with the most studies when the pool basis has none).

    MSC records only, unless there are none or ``include_non_msc`` is set.
    Raises ``KeyError`` for an unknown strategy.
    """
    catalogue = {s.id: s for s in load_strategies()}
    if strategy not in catalogue:
        import difflib

        close = difflib.get_close_matches(strategy, list(catalogue), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise KeyError(f"'{strategy}' is not a strategy in the evidence base{hint}")
    strat = catalogue[strategy]
    exclude_refs = tuple(exclude_refs)
    if basis is None:
        # the strategy's pool basis, or, when that has no number, the basis with the most studies (MSC first)
        basis = strat.pool_basis
        have = numeric_bases(strategy, exclude_refs)
        if basis not in have and have:
            basis = max(sorted(have), key=lambda b: (have[b]["msc"], have[b]["msc"] + have[b]["non_msc"]))
    records = list(load_records())
    if basis == "per_culture":  # rule 6 of exoforge.evidence.effects: per-culture figures pooled together
        recs = [r for b in PER_CULTURE_BASES for r in fold_change_records(records, strategy, b, exclude_refs)]
    else:
        recs = fold_change_records(records, strategy, basis, exclude_refs)
    msc = [r for r in recs if r.record.cell_source != "non_msc"]
    use, population = (recs, "MSC and non-MSC") if include_non_msc else ((msc, "MSC") if msc else (recs, "non-MSC"))
    studies = tuple(study_effects(use, imputed_se(records)))
    if not studies:
        return MetaAnalysis(strategy, strat.label, basis, method, population, (), None, excluded_refs=exclude_refs)
    y = [s.y for s in studies]
    v = [s.v for s in studies]
    pooled = pool(y, v, method)
    by_source: dict[str, list[StudyEffect]] = defaultdict(list)
    for s in studies:
        for src in s.cell_sources:
            by_source[src].append(s)
    subgroups = {
        src: pool([s.y for s in group], [s.v for s in group], method)
        for src, group in sorted(by_source.items())
        if len(group) >= MIN_SUBGROUP_K and len(group) < len(studies)
    }
    loo: tuple[LeaveOneOut, ...] = ()
    if len(studies) >= 2:
        loo = tuple(LeaveOneOut(s.ref, s.label, p) for s, p in zip(studies, leave_one_out(y, v, method), strict=True))
    return MetaAnalysis(strategy, strat.label, basis, method, population, studies, pooled, subgroups, loo, exclude_refs)
