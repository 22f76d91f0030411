"""How far the validation suite's central predictions fall from the reported values, by group of cases.

A group is a platform (the table of ``exoforge validate`` and the warnings of runs on that platform,
:func:`exoforge.upstream.validation_record.bias_warnings`) or a culture surface (microcarrier, plastic,
hollow fibre, fixed bed, aggregate). The figure is the geometric mean of central prediction over
reported value, with the cases on each side counted, which the mean alone hides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scipy.stats import binomtest

#: Geometric-mean fold of predicted / reported over a platform's cases beyond which a run on it warns
#: (:func:`exoforge.upstream.validation_record.bias_warnings`).
BIAS_FOLD = 2.0


@dataclass(frozen=True)
class FoldBias:
    """How far the central predictions fell from the reported values over a group of cases of one kind.

    The group is a platform (``exoforge validate``'s table, the warnings of runs) or a culture surface
    (microcarrier, plastic, hollow fibre, fixed bed, aggregate). ``fold`` is the geometric mean of
    predicted / reported: above 1 the model runs high there, below 1 low; ``over`` and ``under`` count
    the cases on each side, which the mean alone hides.
    """

    group: str
    observes: str  # "cells" or "EVs"
    ratios: tuple[tuple[str, float], ...]  # (case id, predicted / reported)

    @property
    def fold(self) -> float:
        return math.exp(sum(math.log(r) for _, r in self.ratios) / len(self.ratios))

    @property
    def over(self) -> int:
        return sum(r > 1.0 for _, r in self.ratios)

    @property
    def under(self) -> int:
        return sum(r < 1.0 for _, r in self.ratios)

    @property
    def sign_test_p(self) -> float:
        """Two-sided sign-test p-value of the cases over against those under: how often an unbiased model (each
        case equally likely over or under) would put at least this many on one side. 1.0 without cases."""
        n = self.over + self.under
        if n == 0:
            return 1.0
        return float(binomtest(min(self.over, self.under), n, 0.5).pvalue)

    @property
    def beyond_threshold(self) -> bool:
        """Beyond :data:`BIAS_FOLD` either way: runs on this platform warn."""
        return not 1.0 / BIAS_FOLD <= self.fold <= BIAS_FOLD

    def to_dict(self, label: str = "platform") -> dict[str, Any]:
        return {
            label: self.group,
            "observes": self.observes,
            "geometric_mean_predicted_over_reported": self.fold,
            "cases_over": self.over,
            "cases_under": self.under,
            "sign_test_p": self.sign_test_p,
            "runs_warn": self.beyond_threshold,
            "cases": {case: ratio for case, ratio in self.ratios},
        }


def fold_biases(rows: Iterable[tuple[str, str, str, float]]) -> list[FoldBias]:
    """Group ``(case id, group, "cells" | "EVs", predicted / reported)`` by group and kind, in that order."""
    groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for case, group, observes, ratio in rows:
        groups.setdefault((group, observes), []).append((case, ratio))
    order = {"cells": 0, "EVs": 1}
    return [
        FoldBias(group, observes, tuple(groups[(group, observes)]))
        for group, observes in sorted(groups, key=lambda k: (k[0], order.get(k[1], 2)))
    ]


RUNS_WARN = " (runs warn)"


def bias_row(b: FoldBias) -> str:
    """One group as a row of the Markdown results table, marked where runs warn from it."""
    per_case = ", ".join(f"{case} {ratio:.2f}" for case, ratio in b.ratios)
    return (
        f"| {b.group} | {b.observes} | {len(b.ratios)} ({b.over} / {b.under}) | {b.sign_test_p:.2g} | {b.fold:#.3g}"
        f"{RUNS_WARN if b.beyond_threshold else ''} | {per_case} |"
    )


def recalibrated_fold_errors(rows: Iterable[tuple[str, str, str, float]]) -> dict[str, float]:
    """Fold error of each case once its group's bias, learnt from the other studies, is divided out.

    ``rows`` are ``(case id, study, group, predicted / reported)``. A case's correction is the geometric
    mean of predicted / reported over the cases of its group (a surface, say) from other studies (leave
    one study out, so a study never corrects itself); a case with no such case keeps its error. Set
    beside the plain fold errors, this tells a bias a recalibration of the group could remove from
    scatter between cases that it could not.
    """
    items = list(rows)
    out: dict[str, float] = {}
    for case, study, group, ratio in items:
        others = [math.log(r) for _, s, g, r in items if g == group and s != study]
        corrected = ratio / math.exp(sum(others) / len(others)) if others else ratio
        out[case] = max(corrected, 1.0 / corrected)
    return out
