"""What decides between the two cheapest designs? The parameters whose uncertainty moves their cost ratio.

When the first two designs of a selection are close, which one is the better option depends on
parameters nobody has measured for this process. :func:`what_decides` runs both on the same
``samples`` draws of their uncertain parameters (common random numbers: a parameter both use takes
the same value in a draw, so its effect on both largely cancels) and ranks the parameters by the
Spearman correlation of each with the log ratio of the two costs per dose supplied. The parameters at
the top are what a measurement should pin down to make the choice: for two platforms, often their
own secretion effects, which the evidence gives independently.

A design that breaks a constraint of the selection in a draw (a batch that fills no lot, a failed
check, too low a purity) is no option there and counts as infinitely dear, so the other wins; draws
in which both break one are left out. Spearman's rho sees a parameter that moves the ratio one way;
one that helps a design at first and hurts it later (more secretion: fewer batches, but more lots to
fill and test) may be missed.

Each listed parameter says whether its value is a stated assumption rather than a cited figure: a
choice that turns on one rests on a judgement nobody has measured.

Only the uncertain parameters either design reads are tried. A correlation counts only above the
level chance reaches among that many parameters: the two-sided 5 % Bonferroni bound,
z(1 - 0.05 / 2m) / sqrt(n - 1) for m parameters and n draws (the large-sample null distribution of
Spearman's rho). Below it a parameter is not listed, however high it ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoforge.analysis.design_evaluation import design_batch, design_parameters
from exoforge.analysis.selection import RANK_KPI, DesignOutcome, Selection, SelectionSpace
from exoforge.analysis.selection_uncertainty import draws_of
from exoforge.parameters import ParameterBatch, ParameterSet
from exoforge.simulation import evaluate
from exoforge.special import ndtri

#: Draws both designs are run on (a correlation of about 0.17 is then told from chance among 300 parameters).
DEFAULT_SAMPLES = 512
#: Parameters listed, largest correlation first.
MAX_PARAMETERS = 5
#: Family-wise error rate of the listed correlations (two-sided, Bonferroni over the parameters).
ALPHA = 0.05


@dataclass(frozen=True)
class Decider:
    """A parameter whose uncertainty moves which of two designs is cheaper."""

    name: str
    description: str
    #: Spearman correlation with log(cost of the first / cost of the second); > 0: a higher value favours the second
    rho: float
    #: the parameter's value is a stated assumption, not a cited figure
    assumption: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "parameter": self.name,
            "description": self.description,
            "spearman_rho": self.rho,
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class Contest:
    """The two cheapest designs over common draws, and the parameters that decide between them."""

    first: str
    second: str
    samples: int
    seed: int
    #: draws in which at least one meets every constraint (one that does not is the dearer there)
    compared: int
    #: share of those draws in which the first is the better option
    p_first_cheaper: float
    #: median of cost of the first / cost of the second over those draws
    median_ratio: float
    #: |rho| above which a correlation is told from chance
    threshold: float
    deciders: tuple[Decider, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "samples": self.samples,
            "seed": self.seed,
            "compared": self.compared,
            "p_first_cheaper": self.p_first_cheaper,
            "median_cost_ratio": self.median_ratio if math.isfinite(self.median_ratio) else None,
            "threshold": self.threshold,
            "deciders": [d.to_json() for d in self.deciders],
        }


def _run(
    o: DesignOutcome, space: SelectionSpace, sel: Selection, samples: int, seed: int, parameter_file: Any
) -> tuple[ParameterSet, ParameterBatch, np.ndarray, set[str]]:
    """A design on the draws: its parameters, their batch, its cost per dose supplied where it meets every
    constraint (+inf where it does not) and the parameter names it read."""
    scn = o.design.scenario
    assert scn is not None
    ps = design_parameters(scn, sel.exclude_refs, parameter_file)
    batch = design_batch(ps, samples, seed)
    try:  # evaluate, not a shared culture: its record of the names read covers the upstream run too
        with np.errstate(all="ignore"):
            ev = evaluate(scn, batch)
    except Exception:  # the model cannot run it on these draws: no option in any of them, never fatal
        return ps, batch, np.full(samples, np.inf), set()
    d = draws_of(ev, space, sel, samples)
    return ps, batch, np.where(d.feasible, d.kpis[RANK_KPI], np.inf), ev.used


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks along axis 0 (ties averaged), as scipy.stats.rankdata."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(x, axis=0), dtype=float)


def bonferroni_threshold(parameters: int, draws: int, alpha: float = ALPHA) -> float:
    """|rho| that one of ``parameters`` null Spearman correlations over ``draws`` exceeds with probability ``alpha``."""
    z = float(ndtri(np.array([1.0 - alpha / (2 * max(parameters, 1))]))[0])
    return z / math.sqrt(max(draws - 1, 1))


def what_decides(
    space: SelectionSpace, sel: Selection, samples: int = DEFAULT_SAMPLES, seed: int = 1, parameter_file: Any = None
) -> Contest | None:
    """The first two designs of ``sel`` (a selection of ``space``) over ``samples`` common draws (None with
    fewer than two ranked)."""
    ranked = sel.ranked
    if len(ranked) < 2 or ranked[0].design.scenario is None or ranked[1].design.scenario is None:
        return None
    ps_a, batch_a, cost_a, used_a = _run(ranked[0], space, sel, samples, seed, parameter_file)
    ps_b, batch_b, cost_b, used_b = _run(ranked[1], space, sel, samples, seed, parameter_file)
    # a design that breaks a constraint in a draw is no option there (+inf): the other wins; both: no contest
    with np.errstate(divide="ignore", invalid="ignore"):
        y_all = np.log(cost_a) - np.log(cost_b)
    ok = ~np.isnan(y_all)
    y = y_all[ok]
    # the uncertain parameters either design reads (the others cannot decide anything)
    params = {p.name: p for p in (*ps_a.uncertain(), *ps_b.uncertain()) if p.name in used_a | used_b}
    names, columns = [], []
    for name in sorted(params):
        batch = batch_a if name in used_a else batch_b
        col = np.asarray(batch.values[name], dtype=float)[1:][ok]
        if col.size > 2 and np.ptp(col) > 0:
            names.append(name)
            columns.append(col)
    threshold = bonferroni_threshold(len(names), int(ok.sum()))
    deciders: list[Decider] = []
    if len(names) and y.size > 2 and len(np.unique(y)) > 1:
        rx = _ranks(np.column_stack(columns))
        ry = _ranks(y)
        rx -= rx.mean(axis=0)
        ry -= ry.mean()
        rho = (rx * ry[:, None]).sum(axis=0) / np.sqrt((rx**2).sum(axis=0) * (ry**2).sum())
        order = np.argsort(-np.abs(rho))
        deciders = [
            Decider(names[i], params[names[i]].description, float(rho[i]), params[names[i]].is_assumption)
            for i in order[:MAX_PARAMETERS]
            if abs(rho[i]) > threshold
        ]
    return Contest(
        first=ranked[0].design.label,
        second=ranked[1].design.label,
        samples=samples,
        seed=seed,
        compared=int(ok.sum()),
        p_first_cheaper=float(np.mean(y < 0)) if y.size else math.nan,
        median_ratio=float(np.exp(np.median(y))) if y.size else math.nan,
        threshold=threshold,
        deciders=tuple(deciders),
    )
