"""Cost per dose supplied against yearly demand: the selection repeated at each demand level.

For each technology pair (platform, isolation train) its cheapest feasible scale at the space's
facility use, and for each facility use the cheapest feasible design of the whole space; the
culture simulations are shared between demand levels (the demand does not change them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exoforge.analysis.selection import RANK_KPI, CultureCache, SelectionSpace, select
from exoforge.economics.demand import FACILITY_USES


@dataclass(frozen=True)
class DemandCurve:
    """Cheapest feasible cost per dose supplied at each demand (NaN: none feasible).

    Either of one platform + train pair at the space's facility use
    (``facility_use`` empty), or of the cheapest design of the whole space under
    one facility use (``platform`` is then ``"any design"``).
    """

    platform: str
    train: str
    demands: tuple[float, ...]
    cost_per_dose: tuple[float, ...]
    best_scale: tuple[str | None, ...]
    facility_use: str = ""

    @property
    def label(self) -> str:
        if self.facility_use:
            return f"{self.facility_use} line, cheapest design"
        return f"{self.platform} + {self.train}"

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "train": self.train,
            "facility_use": self.facility_use or None,
            "points": [
                {"doses_per_year": d, "cost_per_dose": c if math.isfinite(c) else None, "scale": s}
                for d, c, s in zip(self.demands, self.cost_per_dose, self.best_scale, strict=True)
            ],
        }


def demand_curves(
    space: SelectionSpace,
    demands: Sequence[float] | None = None,
    parameter_file: Any = None,
    exclude_refs: Sequence[str] = (),
) -> list[DemandCurve]:
    """Cost per dose supplied against demand: for each technology pair (platform, train), its cheapest
    feasible scale at the space's facility use; and for each facility use, the cheapest feasible design."""
    levels = tuple(float(d) for d in (demands or space.demands))
    if not levels:
        raise ValueError("no demands given: list them under `demands:` in the space or pass them")
    table: dict[tuple[str, str], list[tuple[float, str | None]]] = {}
    by_use: dict[str, list[tuple[float, str | None]]] = {u: [] for u in FACILITY_USES}
    cache: CultureCache = {}
    for level in levels:
        sel = select(
            space,
            space.demand.model_copy(update={"doses_per_year": level}),
            cache,
            parameter_file=parameter_file,
            exclude_refs=exclude_refs,
        )
        best: dict[tuple[str, str], tuple[float, str | None]] = {}
        for o in sel.outcomes:
            key = (o.design.platform, o.design.train)
            cost = o.kpis.get(RANK_KPI, math.inf) if o.feasible else math.inf
            if key not in best or cost < best[key][0]:
                best[key] = (cost, o.design.scale_label if o.feasible else None)
        for key, value in best.items():
            table.setdefault(key, []).append(value)
        for use, found in sel.best_by_facility_use().items():
            by_use[use].append((found[1], found[0].design.label) if found else (math.inf, None))
    curves = [
        DemandCurve(
            plat,
            train,
            levels,
            tuple(c if math.isfinite(c) else math.nan for c, _ in pts),
            tuple(s for _, s in pts),
        )
        for (plat, train), pts in table.items()
    ]
    curves += [
        DemandCurve(
            "any design",
            "",
            levels,
            tuple(c if math.isfinite(c) else math.nan for c, _ in pts),
            tuple(s for _, s in pts),
            use,
        )
        for use, pts in by_use.items()
    ]
    return curves
