"""Does an optimiser's recommendation rest on one study? Its recommendations evaluated without it.

The first recommendation draws its EV secretion from pooled effects (its platform's, its
conditioning strategies'). For each study whose removal moves one of those effects most
(:func:`exoforge.evidence.influence.studies_leant_on`: at least 5 %, at most three), every
recommended design is evaluated again with that study left out of the evidence (the same samples,
as ``exoforge optimize --exclude-ref`` would), and the result says whether the first recommendation
stays feasible and, with one objective, stays the best of them. The search itself is not repeated:
a design outside the recommendations that would win without the study is not looked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import DesignEvaluator
from exoforge.analysis.optimize_problem import constraint_values
from exoforge.analysis.optimize_result import OptimizationResult
from exoforge.engine.backends import Backend
from exoforge.evidence.influence import StudyTested, studies_leant_on
from exoforge.scenario import parse_scenario


@dataclass(frozen=True)
class RecommendationsWithout(StudyTested):
    """The recommended designs evaluated with one study left out of the evidence."""

    #: the first recommendation's objectives without the study (central values)
    first_objectives: dict[str, float] = field(default_factory=dict)
    #: whether the first recommendation still meets every constraint
    first_feasible: bool = True
    #: one objective: the rank (as recommended) of the best recommendation without the study
    #: (1: the first stays best; None: none of them is feasible, or several objectives)
    best_rank_without: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.tested_json(),
            "first_objectives": {k: (v if math.isfinite(v) else None) for k, v in self.first_objectives.items()},
            "first_feasible": self.first_feasible,
            "best_rank_without": self.best_rank_without,
        }


def recommendation_robustness(
    result: OptimizationResult, backend: Backend | None = None, parameter_file: Any = None
) -> list[RecommendationsWithout]:
    """Every recommendation evaluated again without each study the first one leans on most."""
    space = result.space
    recs = result.recommendations()
    if space is None or not recs or not all(r.metrics.x for r in recs):
        return []
    first = parse_scenario(recs[0].metrics.scenario)
    x = np.array([r.metrics.x for r in recs])
    out = []
    for sid, row in studies_leant_on(first, result.exclude_refs):
        evaluator = DesignEvaluator(
            space, backend, parameter_file=parameter_file, exclude_refs=(*result.exclude_refs, row.ref)
        )
        again = evaluator.evaluate(x)
        feasible = [bool(np.all(constraint_values(space, m) <= 0)) for m in again]
        best_rank = None
        if len(space.objectives) == 1 and any(feasible):
            o = space.objectives[0]
            sign = 1.0 if o.sense == "min" else -1.0
            scores = [sign * m.value(o.key) if ok else math.inf for m, ok in zip(again, feasible, strict=True)]
            best_rank = recs[int(np.argmin(scores))].rank
        out.append(
            RecommendationsWithout(
                **StudyTested.fields_of(sid, row),
                first_objectives={o.key: again[0].value(o.key) for o in space.objectives},
                first_feasible=feasible[0],
                best_rank_without=best_rank,
            )
        )
    return out
