"""What to measure first: the assumptions that move results most, across many scenarios.

Every run names the parameters its numbers rest on that are stated assumptions rather than cited
figures, and how far each moves the key outputs (EVs in the product, cost per dose, cost per batch)
when it alone goes to either end of its 90 % range (:attr:`exoforge.result.Result.assumptions`; a
change of more than :data:`exoforge.simulation.DRIVER_THRESHOLD` "drives the result"). One run says
what matters for one process. :func:`rank_assumptions` collects these over many scenarios and ranks
the assumptions by how many of them each drives, then by its largest swing: the measurements (or the
papers) that would make the most predictions trustworthy at once.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exoforge.scenario import Scenario
from exoforge.simulation import DRIVER_THRESHOLD, simulate


@dataclass(frozen=True)
class AssumptionRank:
    """One assumption over the scenarios that read it."""

    name: str
    #: its central values in the scenarios that read it (a variant may differ by cell source or platform)
    values: tuple[float, ...]
    unit: str
    #: why the value is assumed (the data file's text)
    reason: str
    #: scenarios that read it
    read_by: int
    #: scenarios in which it moves a key output by more than DRIVER_THRESHOLD over its 90 % range
    drives: int
    #: largest relative change of a key output over its range, and the scenario it happens in
    largest: float
    largest_in: str
    #: median of that change over the scenarios that read it
    median: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": list(self.values),
            "unit": self.unit,
            "reason": self.reason,
            "read_by": self.read_by,
            "drives": self.drives,
            "largest_relative_effect": self.largest,
            "largest_in": self.largest_in,
            "median_relative_effect": self.median,
        }


def rank_assumptions(
    scenarios: Sequence[tuple[str, Scenario]], on_scenario: Callable[[int, int], None] | None = None
) -> list[AssumptionRank]:
    """The assumptions of the runs of ``scenarios`` (label, scenario), those driving most results first.

    ``on_scenario(done, total)`` is called after each run (a progress bar).
    """
    seen: dict[str, list[tuple[float, str]]] = {}
    first: dict[str, dict[str, Any]] = {}
    values: dict[str, set[float]] = {}
    for i, (label, scn) in enumerate(scenarios, start=1):
        for a in simulate(scn).assumptions:
            seen.setdefault(a["name"], []).append((float(a["max_relative_effect"]), label))
            first.setdefault(a["name"], a)
            values.setdefault(a["name"], set()).add(float(a["value"]))
        if on_scenario is not None:
            on_scenario(i, len(scenarios))
    out = []
    for name, effects in seen.items():
        largest, where = max(effects)
        a = first[name]
        out.append(
            AssumptionRank(
                name=name,
                values=tuple(sorted(values[name])),
                unit=str(a["unit"]),
                reason=str(a["reason"] or ""),
                read_by=len(effects),
                drives=sum(e > DRIVER_THRESHOLD for e, _ in effects),
                largest=largest,
                largest_in=where,
                median=statistics.median(e for e, _ in effects),
            )
        )
    out.sort(key=lambda r: (-r.drives, -r.largest, r.name))
    return out
