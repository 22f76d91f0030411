"""What the optimiser returns: the best design or the Pareto set, ranked, with why each wins.

:class:`OptimizationResult` holds every design evaluated, the recommendations and the neighbours
of the best design (one variable away), each with the reason it loses (:func:`why_different`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from exoforge.analysis.design_evaluation import REPORTED_KPIS, DesignMetrics
from exoforge.analysis.optimize_problem import objective_values, pareto_mask, to_minimised
from exoforge.analysis.ranking import DEFAULT_TOLERANCE, TIE_BREAKS, tie_band_order
from exoforge.analysis.space import (
    DesignSpace,
    Objective,
    get_key,
)

if TYPE_CHECKING:
    from exoforge.analysis.optimize_odds import OptimizeOdds


def _gap(value: float, ref: float) -> str:
    if ref == 0 or not math.isfinite(value) or not math.isfinite(ref):
        return "different"
    change = value / ref - 1
    return f"{abs(change):.1%} {'higher' if change > 0 else 'lower'}"


def _short(value: Any) -> str:
    """A design value in a few words: platform blocks by platform, trains by their operations, lists joined."""
    if isinstance(value, dict):
        return str(value.get("platform") or value.get("op") or "a block")
    if isinstance(value, list):
        if not value:
            return "none"
        sep = " > " if all(isinstance(v, dict) and "op" in v for v in value) else "+"
        return sep.join(_short(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Recommendation:
    rank: int
    metrics: DesignMetrics
    reason: str


def _sort_key_value(n: Neighbour, o: Objective) -> float:
    """A neighbour's objective (user's sense), for comparison with the best design's."""
    v = n.metrics.value(o.key)
    return v if o.sense == "min" else -v


@dataclass
class OptimizationResult:
    """Every design the optimiser evaluated, the Pareto front among the feasible ones, and recommendations."""

    space_name: str
    objectives: tuple[Objective, ...]
    constraints: list[str]
    algorithm: str
    seed: int
    generations: int
    population: int
    evaluated: int
    designs: list[DesignMetrics]
    violations: np.ndarray  # (designs, constraints)
    invalid: dict[str, int]
    seconds: float = 0.0
    state_path: str | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    top: int = 5
    variable_keys: tuple[str, ...] = ()
    neighbours: list[Neighbour] = field(default_factory=list)  # of the best design (single objective)
    polish_evaluated: int = 0  # designs evaluated by the neighbourhood polish after the search
    neighbours_of: str | None = None  # key of the design whose neighbours these are (recommendation #1)
    space: DesignSpace | None = None
    exclude_refs: tuple[str, ...] = ()  # evidence references left out of every design's parameters
    #: the recommendations evaluated again without each study the first leans on most
    #: (analysis.optimize_robustness.RecommendationsWithout)
    robustness: list[Any] = field(default_factory=list)
    #: the recommendations run again on draws of their uncertain parameters
    #: (None when not asked for)
    odds: OptimizeOdds | None = None

    @property
    def feasible(self) -> np.ndarray:
        if not len(self.designs):
            return np.zeros(0, dtype=bool)
        return cast("np.ndarray", np.all(self.violations <= 0, axis=1))

    def objective_table(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Objectives of the feasible designs (user's sense), their Pareto mask, and labels."""
        feas = [m for m, ok in zip(self.designs, self.feasible, strict=True) if ok]
        labels = [o.label for o in self.objectives]
        if not feas:
            return np.empty((0, len(self.objectives))), np.zeros(0, dtype=bool), labels
        points = np.array([objective_values(self.objectives, m) for m in feas])
        return points, pareto_mask(to_minimised(self.objectives, points)), labels

    def _feasible_designs(self) -> list[DesignMetrics]:
        return [m for m, ok in zip(self.designs, self.feasible, strict=True) if ok]

    def recommendations(self) -> list[Recommendation]:
        """Best designs first, each with the reason it wins."""
        feas = self._feasible_designs()
        if not feas:
            return []
        points, front, _ = self.objective_table()
        f = to_minimised(self.objectives, points)
        if len(self.objectives) == 1:
            return self._single(feas, f[:, 0])
        return self._multi(feas, points, f, front)

    def ranked_single(self, feas: list[DesignMetrics], f: np.ndarray, count: int) -> list[int]:
        """The first ``count`` feasible designs in recommendation order (one objective, minimised as ``f``).

        Designs within the space's tie tolerance of the best remaining one are
        tied; of them the one lowest on the objective's tie-break KPIs
        (:data:`exoforge.analysis.ranking.TIE_BREAKS`) comes next.
        """
        prefs = TIE_BREAKS.get(self.objectives[0].key, ())
        criteria = [[m.value(k) for m in feas] for k in prefs]
        return tie_band_order(list(f), criteria, self.tolerance, count)

    @property
    def tolerance(self) -> float:
        return self.space.optimizer.tie_tolerance if self.space is not None else DEFAULT_TOLERANCE

    def _single(self, feas: list[DesignMetrics], f: np.ndarray) -> list[Recommendation]:
        o = self.objectives[0]
        order = self.ranked_single(feas, f, max(self.top, 2))
        first = feas[order[0]]
        best = first.value(o.key)
        lowest = float(np.min(f))
        word = "lowest" if o.sense == "min" else "highest"
        tol = self.tolerance
        prefs = TIE_BREAKS.get(o.key, ())
        out = []
        for rank, i in enumerate(order[: self.top], start=1):
            m = feas[i]
            v = m.value(o.key)
            if rank == 1:
                tied = [j for j in range(len(feas)) if f[j] <= lowest + tol * abs(lowest)]
                if len(tied) > 1 and prefs:
                    low_value = lowest if o.sense == "min" else -lowest
                    reason = (
                        f"{o.key} {v:.4g}{self._context(m)}: one of {len(tied)} feasible designs within "
                        f"{tol:.0%} of the {word} ({low_value:.4g}), and of those the lowest on "
                        f"{', then '.join(prefs)}"
                    )
                else:
                    reason = f"{word} {o.key} of {len(feas)} feasible designs: {v:.4g}{self._context(m)}"
                if len(order) > 1:
                    runner = feas[order[1]]
                    rv = runner.value(o.key)
                    reason += f"; the runner-up ({self.difference(runner, m)}) gives {rv:.4g}, {_gap(rv, v)}"
                    extra = [
                        f"{k} {runner.value(k):.3g} vs {m.value(k):.3g}"
                        for k in prefs
                        if math.isfinite(runner.value(k)) and runner.value(k) != m.value(k)
                    ]
                    if prefs and extra:
                        reason += f" ({'; '.join(extra[:1])})"
                if self.neighbours and self.neighbours_of == m.key:
                    own = v if o.sense == "min" else -v
                    worse = sum(1 for n in self.neighbours if not n.feasible or _sort_key_value(n, o) > own)
                    reason += f"; of its {len(self.neighbours)} one-variable neighbours {worse} are worse or infeasible"
            else:
                reason = f"{o.key} {v:.4g}, {_gap(v, best)} than #1{self._context(m)}; {self.difference(m, first)}"
            out.append(Recommendation(rank, m, reason))
        return out

    def _context(self, m: DesignMetrics) -> str:
        """What the objective is made of: cost per batch over doses, or the batches the demand takes."""
        key = self.objectives[0].key
        if key == "cost.per_dose":
            return f" ({m.value('cost.per_batch'):,.0f} per batch over {m.value('doses_per_batch'):,.0f} doses)"
        if key != "cost.per_dose_supplied":
            return ""
        bpy, lines = m.value("batches_per_year"), m.value("lines_needed")
        demand = m.value("demand.doses_per_year")
        made, over = m.value("doses_released_per_year"), m.value("overproduction_fraction")
        util = m.value("line_utilisation")
        if not all(math.isfinite(v) for v in (bpy, lines, demand, made, over)):
            return ""
        return (
            f" ({bpy:.0f} batch{'es' if bpy != 1 else ''} a year of {m.value('cost.per_batch'):,.0f} for "
            f"{demand:,.0f} doses demanded; releases {made:,.0f} doses a year, {over:.0%} beyond the demand; "
            f"{lines:.0f} line{'s' if lines != 1 else ''}, {util:.0%} utilised)"
        )

    def difference(self, m: DesignMetrics, ref: DesignMetrics) -> str:
        """The design variables in which ``m`` differs from ``ref``, as 'key value (vs value)'."""
        parts = []
        for key in dict.fromkeys(self.variable_keys):
            a, b = _short(get_key(m.scenario, key)), _short(get_key(ref.scenario, key))
            if a != b:
                parts.append(f"{key} {a} (vs {b})")
        return "differs in " + "; ".join(parts) if parts else "same design variables"

    def _multi(
        self, feas: list[DesignMetrics], points: np.ndarray, f: np.ndarray, front: np.ndarray
    ) -> list[Recommendation]:
        idx = np.flatnonzero(front)
        ff = f[idx]
        lo, hi = ff.min(axis=0), ff.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        norm = (ff - lo) / span
        picks: list[tuple[int, str]] = []
        knee = int(idx[np.argmin(np.linalg.norm(norm, axis=1))])
        best_each = [points[int(idx[np.argmin(ff[:, j])]), j] for j in range(len(self.objectives))]
        detail = ", ".join(
            f"{o.key} {points[knee, j]:.3g} (best {best_each[j]:.3g})" for j, o in enumerate(self.objectives)
        )
        picks.append(
            (
                knee,
                f"best balance of the {len(idx)}-design Pareto front (closest to the ideal point with every "
                f"objective scaled to the front's range): {detail}",
            )
        )
        for j, o in enumerate(self.objectives):
            i = int(idx[np.argmin(ff[:, j])])
            word = "lowest" if o.sense == "min" else "highest"
            others = ", ".join(f"{p.key} {points[i, k]:.3g}" for k, p in enumerate(self.objectives) if k != j)
            picks.append((i, f"{word} {o.key} on the Pareto front ({points[i, j]:.4g}), at {others}"))
        knee_design = feas[knee]
        out: list[Recommendation] = []
        seen: set[int] = set()
        for i, reason in picks:
            if i in seen:
                for r in out:
                    if r.metrics is feas[i]:
                        r.reason += f"; it also has the {reason.split(' on the Pareto front')[0]}"
                continue
            seen.add(i)
            if i != knee:
                reason += f"; vs the balanced design: {self.difference(feas[i], knee_design)}"
            out.append(Recommendation(len(out) + 1, feas[i], reason))
        return out[: max(self.top, len(self.objectives) + 1)]

    def neighbours_json(self) -> list[dict[str, Any]]:
        """The best design's one-variable neighbours (single objective), best first."""
        best = next((m for m in self.designs if m.key == self.neighbours_of), None)
        if best is None:
            return []
        o = self.objectives[0]
        rows = [n.to_json(o, best) for n in self.neighbours]
        return sorted(rows, key=lambda r: (not r["feasible"], r["relative_to_best"] or 0.0))

    def recommended_indices(self) -> list[int]:
        """Rows of :meth:`objective_table` that are recommended."""
        feas = self._feasible_designs()
        ids = {id(m): i for i, m in enumerate(feas)}
        return [ids[id(r.metrics)] for r in self.recommendations()]

    def to_json(self) -> dict[str, Any]:
        from exoforge.result import _clean

        _, front, _ = self.objective_table()
        feas = self._feasible_designs()
        reasons: Counter[str] = Counter()
        names = self.constraints
        for m, g, ok in zip(self.designs, self.violations, self.feasible, strict=True):
            if ok:
                continue
            if not m.ok:
                reasons[m.error] += 1
            else:
                for name, v in zip(names, g, strict=True):
                    if v > 0:
                        reasons[f"breaks: {name}"] += 1
        for r, c in self.invalid.items():
            reasons[r] += c
        recs = [
            {
                "rank": r.rank,
                "summary": r.metrics.summary,
                "reason": r.reason,
                "objectives": {o.key: r.metrics.value(o.key) for o in self.objectives},
                "kpis": {k: r.metrics.kpis.get(k) for k in REPORTED_KPIS},
                "probabilities": r.metrics.probabilities,
                "scenario": r.metrics.scenario,
            }
            for r in self.recommendations()
        ]
        return _clean(
            {
                "space": self.space_name,
                "algorithm": self.algorithm,
                "seed": self.seed,
                "objectives": [{"key": o.key, "sense": o.sense} for o in self.objectives],
                "constraints": self.constraints,
                "generations": self.generations,
                "population": self.population,
                "designs_evaluated": self.evaluated,
                "neighbourhood_designs_evaluated": self.polish_evaluated,
                "distinct_designs": len(self.designs),
                "feasible": int(self.feasible.sum()),
                "infeasible_reasons": dict(reasons.most_common()),
                "recommendations": recs,
                "pareto_front": [
                    {"summary": m.summary, "objectives": {o.key: m.value(o.key) for o in self.objectives}}
                    for m, on in zip(feas, front, strict=True)
                    if on
                ]
                if len(self.objectives) > 1
                else [],
                "history": [{"designs": n, "best": b} for n, b in self.history],
                "neighbours": self.neighbours_json(),
                "seconds": self.seconds,
                "state": self.state_path,
                "left_out": list(self.exclude_refs),
                "robustness": [r.to_json() for r in self.robustness],
                "odds": self.odds.to_json() if self.odds is not None else None,
            }
        )


@dataclass
class Neighbour:
    """A design one variable away from the recommended one, and how it compares."""

    variable: str
    value: str
    metrics: DesignMetrics
    feasible: bool
    broken: list[str]

    def to_json(self, objective: Objective, best: DesignMetrics) -> dict[str, Any]:
        v, b = self.metrics.value(objective.key), best.value(objective.key)
        return {
            "variable": self.variable,
            "value": self.value,
            "summary": self.metrics.summary,
            "feasible": self.feasible,
            "objective": v if self.feasible else None,
            "relative_to_best": (v / b - 1) if self.feasible and b and math.isfinite(v) else None,
            "breaks": self.broken,
            "why": why_different(self, best, objective),
        }


def why_different(n: Neighbour, best: DesignMetrics, objective: Objective) -> str:
    """In a few words, what makes a neighbour worse (or better) than the best design."""
    if not n.metrics.ok:
        return n.metrics.error
    if not n.feasible:
        return "breaks " + "; ".join(n.broken)
    m, parts = n.metrics, []
    for key, label in (("batches_per_year", "batches a year"), ("lines_needed", "lines")):
        a, b = m.value(key), best.value(key)
        if math.isfinite(a) and math.isfinite(b) and a != b:
            parts.append(f"{a:.0f} {label} (vs {b:.0f})")
    for key, label in (("cost.per_batch", "cost per batch"), ("doses_released_per_batch", "doses per batch")):
        a, b = m.value(key), best.value(key)
        if math.isfinite(a) and math.isfinite(b) and b and abs(a / b - 1) > 0.005:
            parts.append(f"{label} {_gap(a, b)}")
    over_a, over_b = m.value("overproduction_fraction"), best.value("overproduction_fraction")
    if math.isfinite(over_a) and math.isfinite(over_b) and abs(over_a - over_b) > 0.05:
        parts.append(f"releases {over_a:.0%} beyond the demand (vs {over_b:.0%})")
    return "; ".join(parts) or f"{objective.key} {_gap(m.value(objective.key), best.value(objective.key))}"
