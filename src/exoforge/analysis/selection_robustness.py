"""Does a selection's choice rest on one study? The ranking redone without the study each effect leans on most.

The best design of a selection draws its EV secretion from pooled effects (its platform's, its
conditioning strategies'). The studies whose removal moves one of those effects most
(:func:`exoforge.evidence.influence.study_influence`; at least 5 %, at most three) are each left out
of the evidence altogether and the whole space is ranked again, as ``exoforge select --exclude-ref``
would. A choice that stays first without any of them does not hang on one paper; one that changes
says which study it needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from exoforge.analysis.selection import RANK_KPI, Selection, SelectionSpace, select
from exoforge.evidence.influence import MAX_STUDIES_TESTED, StudyTested, studies_leant_on


@dataclass(frozen=True)
class StudyLeftOut(StudyTested):
    """The ranking with one study left out of the evidence."""

    #: the best design without the study (None: no design is feasible)
    best_without: str | None
    #: cost per dose supplied of that design without the study [USD/dose]
    best_cost_without: float
    #: rank of the original best without the study (None: it is no longer feasible)
    original_rank_without: int | None
    #: cost per dose supplied of the original best without the study [USD/dose]
    original_cost_without: float
    #: why the original best is rejected without the study (empty while it stays feasible)
    original_reasons_without: tuple[str, ...] = ()

    @property
    def same_best(self) -> bool:
        return self.original_rank_without == 1

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            **self.tested_json(),
            "best_without": self.best_without,
            "best_cost_per_dose_supplied_without": num(self.best_cost_without),
            "original_rank_without": self.original_rank_without,
            "original_cost_per_dose_supplied_without": num(self.original_cost_without),
            "original_rejected_without": list(self.original_reasons_without),
            "same_best": self.same_best,
        }


def robustness(
    space: SelectionSpace, sel: Selection, parameter_file: Any = None, limit: int = MAX_STUDIES_TESTED
) -> list[StudyLeftOut]:
    """The selection ranked again without each study its best design's effects lean on most."""
    best = sel.best
    if best is None or best.design.scenario is None:
        return []
    out = []
    for sid, row in studies_leant_on(best.design.scenario, sel.exclude_refs, limit):
        again = select(
            space,
            sel.demand,
            with_facility_uses=False,
            parameter_file=parameter_file,
            exclude_refs=(*sel.exclude_refs, row.ref),
        )
        new_best = again.best
        same = next((o for o in again.outcomes if o.design.label == best.design.label), None)
        out.append(
            StudyLeftOut(
                **StudyTested.fields_of(sid, row),
                best_without=new_best.design.label if new_best is not None else None,
                best_cost_without=new_best.kpis.get(RANK_KPI, math.nan) if new_best is not None else math.nan,
                original_rank_without=same.rank if same is not None and same.feasible else None,
                original_cost_without=same.kpis.get(RANK_KPI, math.nan) if same is not None else math.nan,
                original_reasons_without=() if same is None or same.feasible else same.reasons,
            )
        )
    return out
