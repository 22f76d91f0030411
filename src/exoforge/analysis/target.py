"""The inverse question: what value of a parameter reaches a target KPI, and how sure is that?

``target(scenario, kpi="cost.per_dose_supplied", below=500, parameter="ev_secretion_rate")`` scans
the parameter over a grid (log-spaced for a positive parameter) around its documented range, for
the central parameter set and for ``n`` Monte Carlo draws of every other uncertain parameter, and
finds, in each, the value nearest the current one at which the KPI crosses the target (linear
interpolation between grid points, on the log scale for a log grid). It reports the central
answer, the median and 90 % interval of the answer over the draws, the probability that the
target can be reached within the parameter's documented 95 % range at all, and the probability
that the current value already meets it.

When the varied parameter is not read by the culture (a price, an isolation step, a facility
setting), the culture is simulated once per draw and only isolation and economics are re-evaluated
along the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from exoforge.parameters import ParameterBatch, ParameterSet, UsageLog
from exoforge.scenario import Scenario
from exoforge.simulation import evaluate, evaluate_after_upstream, parameters_for
from exoforge.upstream.simulate import simulate_upstream

Bound = Literal["below", "above"]
#: Grid points along the varied parameter.
GRID_POINTS = 64
#: How far the search reaches beyond the documented 95 % range, as a factor either side.
SEARCH_WIDENING = 10.0


def finite_percentiles(values: np.ndarray) -> tuple[float, float, float] | None:
    """(5th, 50th, 95th) percentile of the finite ``values``; None when there are none."""
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return None
    q = np.percentile(ok, [5, 50, 95])
    return float(q[0]), float(q[1]), float(q[2])


@dataclass(frozen=True)
class TargetResult:
    """The answer to "what value of ``parameter`` makes ``kpi`` ``bound`` ``target``"."""

    kpi: str
    bound: Bound
    target: float
    parameter: str
    unit: str
    current: float
    documented_range: tuple[float, float]  # the parameter's 95 % interval (its documented uncertainty)
    grid: np.ndarray  # (G,) values searched
    central_kpi: np.ndarray  # (G,) the KPI along the grid, other parameters central
    required_central: float | None  # crossing nearest the current value, central parameters
    required_draws: np.ndarray  # (M,) crossing per draw, NaN where the target is not reached on the grid
    meets_draws: np.ndarray  # (M, G) bool: the target is met at each grid value in each draw
    current_meets_central: bool
    culture_reused: bool

    @property
    def p_reachable_in_range(self) -> float:
        """Share of draws in which some value inside the documented range meets the target."""
        lo, hi = self.documented_range
        inside = (self.grid >= lo) & (self.grid <= hi)
        return float(np.mean(np.any(self.meets_draws[:, inside], axis=1))) if inside.any() else 0.0

    @property
    def p_current_meets(self) -> float:
        """Share of draws in which the current value already meets the target."""
        j = int(np.argmin(np.abs(np.log(self.grid / self.current)))) if self.current > 0 else 0
        return float(np.mean(self.meets_draws[:, j]))

    def quantiles(self) -> tuple[float, float, float] | None:
        """(5th, 50th, 95th) percentile of the required value over the draws that reach the target."""
        return finite_percentiles(self.required_draws)

    def to_json(self) -> dict[str, Any]:
        q = self.quantiles()
        return {
            "kpi": self.kpi,
            "bound": self.bound,
            "target": self.target,
            "parameter": self.parameter,
            "unit": self.unit,
            "current": self.current,
            "documented_range_95": list(self.documented_range),
            "required_central": self.required_central,
            "current_meets_central": self.current_meets_central,
            "required_over_draws": (
                {"p5": q[0], "median": q[1], "p95": q[2], "draws_reaching": int(np.isfinite(self.required_draws).sum())}
                if q
                else None
            ),
            "draws": int(self.required_draws.size),
            "p_reachable_in_documented_range": self.p_reachable_in_range,
            "p_current_meets": self.p_current_meets,
            "culture_reused": self.culture_reused,
            "grid": self.grid.tolist(),
            "central_kpi": [None if not math.isfinite(v) else float(v) for v in self.central_kpi],
        }


def _search_grid(ps: ParameterSet, name: str, points: int) -> tuple[np.ndarray, tuple[float, float], bool]:
    """(grid, documented 95 % range, log grid?) for parameter ``name``."""
    p = ps[name]
    if p.distribution.is_uncertain:
        lo, hi = (float(v) for v in p.distribution.interval(p.value, 0.95))
    else:
        lo, hi = p.value, p.value
    allowed_lo, allowed_hi, _ = p.override_range()
    if p.is_fraction:
        grid = np.linspace(max(allowed_lo, 1e-6), allowed_hi, points)
        return grid, (lo, hi), False
    base_lo = lo if lo > 0 else p.value
    base_hi = hi if hi > 0 else p.value
    if base_lo <= 0:
        grid = np.linspace(allowed_lo, max(base_hi * SEARCH_WIDENING, 1.0), points)
        return grid, (lo, hi), False
    g_lo = max(base_lo / SEARCH_WIDENING, allowed_lo if allowed_lo > 0 else base_lo / SEARCH_WIDENING)
    g_hi = min(base_hi * SEARCH_WIDENING, allowed_hi)
    return np.geomspace(g_lo, g_hi, points), (lo, hi), True


def _crossing(
    grid: np.ndarray, values: np.ndarray, target: float, meets: np.ndarray, current: float, log: bool
) -> float:
    """The grid crossing of ``target`` nearest ``current``; NaN when no grid value meets it."""
    if not meets.any():
        return math.nan
    x = np.log(grid) if log else grid
    xc = math.log(current) if log and current > 0 else current
    best, best_dist = math.nan, math.inf
    for j in range(len(grid) - 1):
        if meets[j] == meets[j + 1]:
            continue
        a, b = values[j], values[j + 1]
        if not (math.isfinite(a) and math.isfinite(b)) or a == b:
            xi = x[j] if meets[j] else x[j + 1]
        else:
            xi = x[j] + (target - a) * (x[j + 1] - x[j]) / (b - a)
        if abs(xi - xc) < best_dist:
            best, best_dist = xi, abs(xi - xc)
    if math.isnan(best):  # met everywhere on the grid: no crossing inside it
        return math.nan
    return float(math.exp(best)) if log else float(best)


def target(
    scn: Scenario,
    kpi: str,
    parameter: str,
    *,
    below: float | None = None,
    above: float | None = None,
    n: int = 200,
    seed: int = 1,
    grid_points: int = GRID_POINTS,
    params: ParameterSet | None = None,
) -> TargetResult:
    """What value of ``parameter`` brings ``kpi`` below (or above) a target, with its uncertainty."""
    # Longer than 80 lines: one pass over the draws: the central answer, the answer per draw and the
    # probabilities, sharing the culture when the parameter does not touch it.
    if (below is None) == (above is None):
        raise ValueError("give exactly one of below or above")
    bound: Bound = "below" if below is not None else "above"
    goal = float(below if below is not None else above)  # type: ignore[arg-type]
    ps = params if params is not None else parameters_for(scn).params
    if parameter not in ps:
        import difflib

        close = difflib.get_close_matches(parameter, list(ps), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise KeyError(f"--vary: '{parameter}' is not a parameter of this scenario{hint}")
    grid, documented, log = _search_grid(ps, parameter, grid_points)
    current = ps[parameter].value
    others = [p.name for p in ps.uncertain() if p.name != parameter]
    draws = ps.sample(n, np.random.default_rng(seed), others)
    central = ps.nominal(1)
    base = ParameterBatch(
        n + 1,
        {k: np.concatenate([central.values[k], draws.values[k]]) for k in draws.values},
        draws.units,
    )
    # does the culture read the varied parameter?
    log_use = UsageLog(ps.nominal(1))
    simulate_upstream(scn, log_use)
    reuse = parameter not in log_use.used
    rows, g = base.n, len(grid)
    unit = ps[parameter].unit
    if reuse:
        up = simulate_upstream(scn, UsageLog(base))
        kpis = np.empty((rows, g))
        for j, value in enumerate(grid):
            values = dict(base.values)
            values[parameter] = np.full(rows, value)
            ev = evaluate_after_upstream(scn, UsageLog(ParameterBatch(rows, values, base.units)), up)
            if kpi not in ev.kpis:
                raise KeyError(f"--kpi: '{kpi}' is not a KPI; known: {', '.join(sorted(ev.kpis))}")
            kpis[:, j] = ev.kpis[kpi]
    else:
        values = {k: np.repeat(v, g) for k, v in base.values.items()}
        values[parameter] = np.tile(grid, rows)
        ev = evaluate(scn, ParameterBatch(rows * g, values, base.units))
        if kpi not in ev.kpis:
            raise KeyError(f"--kpi: '{kpi}' is not a KPI; known: {', '.join(sorted(ev.kpis))}")
        kpis = np.asarray(ev.kpis[kpi], dtype=float).reshape(rows, g)
    finite = np.isfinite(kpis)
    meets = finite & ((kpis < goal) if bound == "below" else (kpis > goal))
    crossings = np.array([_crossing(grid, kpis[i], goal, meets[i], current, log) for i in range(rows)])
    j_now = (
        int(np.argmin(np.abs(np.log(grid / current))))
        if log and current > 0
        else int(np.argmin(np.abs(grid - current)))
    )
    req_central = crossings[0]
    return TargetResult(
        kpi=kpi,
        bound=bound,
        target=goal,
        parameter=parameter,
        unit=unit,
        current=current,
        documented_range=documented,
        grid=grid,
        central_kpi=kpis[0],
        required_central=None if math.isnan(req_central) else float(req_central),
        required_draws=crossings[1:],
        meets_draws=meets[1:],
        current_meets_central=bool(meets[0, j_now]),
        culture_reused=reuse,
    )
