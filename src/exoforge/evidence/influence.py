"""What a pooled per-cell effect rests on: the effect with each study that informs it left out.

A strategy's partially pooled effect (:mod:`exoforge.evidence.hierarchy`) draws on its own studies
and, through its family, on every other study of the family. Refitting the hierarchy without one
study at a time (its reference removed everywhere, as ``--exclude-ref`` does) shows how much the
effect a run draws leans on each: a sceptical reader sees at once whether one study, or one preprint,
carries it. Studies outside the family move it only through the overall mean and are not listed,
unless the family has no study, when the effect rests on them all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from exoforge.evidence.emulated import family_map
from exoforge.evidence.hierarchy import fitted
from exoforge.evidence.store import load_records
from exoforge.parameters import normalise_ref

if TYPE_CHECKING:
    from exoforge.scenario import Scenario


@dataclass(frozen=True)
class StudyInfluence:
    """The pooled effect of one strategy with one study left out."""

    #: first author and year
    study: str
    #: DOI or ``pmid:<n>``
    ref: str
    #: the strategies its comparisons are filed under (within the family)
    strategies: tuple[str, ...]
    #: a preprint, not peer reviewed (its journal is a preprint server)
    preprint: bool
    #: median per-cell multiplier of the strategy without this study
    median_without: float
    #: that median over the median with every study (1 = no influence)
    ratio: float

    @property
    def log_change(self) -> float:
        """|ln(ratio)|: how far leaving the study out moves the multiplier, either way."""
        return abs(math.log(self.ratio))

    @property
    def moves_effect(self) -> bool:
        """Whether leaving the study out moves the multiplier by ``MIN_EFFECT_CHANGE`` or more."""
        return self.log_change >= math.log1p(MIN_EFFECT_CHANGE)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["strategies"] = list(self.strategies)
        return out


@lru_cache(maxsize=1)
def preprint_refs() -> frozenset[str]:
    """Normalised references of every preprint in the evidence base."""
    return frozenset(normalise_ref(r.reference.key) for r in load_records() if r.reference.preprint)


def study_influence(strategy: str, exclude_refs: tuple[str, ...] = ()) -> list[StudyInfluence]:
    """The pooled effect of ``strategy`` with each study of its family left out in turn, largest change first.

    ``exclude_refs`` are left out throughout (the baseline is the effect without them). Raises
    ``KeyError`` for a strategy the hierarchy does not pool.
    """
    drop = tuple(sorted(exclude_refs))
    families = family_map()
    if strategy not in families:
        raise KeyError(f"'{strategy}' is not a pooled strategy")
    base = fitted(drop)
    family = families[strategy]
    units = [u for u in base.units if u.family == family] or list(base.units)
    with_all = base.predict(strategy).median
    by_ref: dict[str, tuple[str, set[str]]] = {}
    for u in units:
        label, strategies = by_ref.setdefault(u.ref, (u.label, set()))
        strategies.add(u.strategy)
    preprints = preprint_refs()
    out = []
    for ref, (label, strategies) in by_ref.items():
        without = fitted(tuple(sorted({*drop, ref}))).predict(strategy).median
        out.append(
            StudyInfluence(
                study=label,
                ref=ref,
                strategies=tuple(sorted(strategies)),
                preprint=normalise_ref(ref) in preprints,
                median_without=without,
                ratio=without / with_all,
            )
        )
    return sorted(out, key=lambda s: (-s.log_change, s.study))


@dataclass(frozen=True)
class StudyTested:
    """A study a robustness check leaves out: who, whether a preprint, and the effect it moves most."""

    #: first author and year, its reference and whether it is a preprint
    study: str
    ref: str
    preprint: bool
    #: the strategy whose pooled effect it moves most, and by how much (without / with)
    strategy: str
    effect_ratio: float

    @staticmethod
    def fields_of(strategy: str, row: StudyInfluence) -> dict[str, Any]:
        """The fields of a tested study from its influence row on ``strategy``."""
        return {
            "study": row.study,
            "ref": row.ref,
            "preprint": row.preprint,
            "strategy": strategy,
            "effect_ratio": row.ratio,
        }

    def tested_json(self) -> dict[str, Any]:
        """The tested study's own fields (a subclass adds its results to them)."""
        return {f.name: getattr(self, f.name) for f in fields(StudyTested)}


#: studies a robustness check tests at most (the most influential first)
MAX_STUDIES_TESTED = 3
#: a study whose removal moves no effect of the design by this fraction or more is not tested
MIN_EFFECT_CHANGE = 0.05


def studies_leant_on(
    scn: Scenario, exclude_refs: tuple[str, ...] = (), limit: int = MAX_STUDIES_TESTED
) -> list[tuple[str, StudyInfluence]]:
    """(strategy, influence row) of the studies the pooled secretion effects of a run of ``scn`` (its
    platform's, its conditioning strategies') lean on most: every study whose removal moves one of
    them by ``MIN_EFFECT_CHANGE`` or more, largest change first, each study once (with the effect it
    moves most), at most ``limit``."""
    from exoforge.evidence.emulated import acting_strategies
    from exoforge.scenario_parameters import applied_strategies

    acting = acting_strategies()
    candidates = [
        (sid, row)
        for sid, _ in applied_strategies(scn)
        if sid in acting
        for row in study_influence(sid, exclude_refs)
        if row.moves_effect
    ]
    candidates.sort(key=lambda c: -c[1].log_change)
    seen: set[str] = set()
    out = []
    for sid, row in candidates:
        if row.ref not in seen:
            seen.add(row.ref)
            out.append((sid, row))
    return out[:limit]
