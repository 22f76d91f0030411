"""Equipment depreciation and facility cost carried by one batch.

Each capital item is priced as ``price.equipment_<item>`` (purchase, USD) and
depreciated straight-line over ``equipment.lifetime_years``; a production line
holds the equipment of its expansion platform (``price.expansion_equipment_per_vessel``
per vessel and ``price.expansion_equipment_per_line``) and of every isolation
step. A batch carries the depreciation and the facility cost
(``price.facility_per_day``, clean room and utilities of one line per calendar
day) of the calendar days allocated to it (see :mod:`.demand`).

A line at a contract manufacturer (``facility_use: cdmo``) owns no equipment
and pays no facility of its own: the suite's day rate
(``price.cdmo_suite_per_day``, clean room, utilities and the CDMO's standard
equipment) is charged for the days booked instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.resources import Resource


def capital_charges(
    equipment: Mapping[str, tuple[str, np.ndarray]],
    vessels: int,
    allocated_days: np.ndarray,
    p: UsageLog,
    facility_use: str = "dedicated",
) -> list[Resource]:
    """Depreciation of the line's equipment and its facility cost for ``allocated_days`` calendar days.

    ``equipment`` maps each isolation item to the step that uses it first and
    the units the line needs. Quantities are unit-fractions of an item's life
    (priced at its purchase price). At a CDMO, the suite's day rate for the
    days booked replaces both.
    """
    if facility_use == "cdmo":
        return [Resource("cdmo_suite_per_day", allocated_days, "day", "facility", "facility")]
    life_fraction = allocated_days / (p.get("equipment.lifetime_years", "day"))
    out = [
        Resource("expansion_equipment_per_vessel", life_fraction * vessels, "", "expansion", "equipment"),
        Resource("expansion_equipment_per_line", life_fraction, "", "expansion", "equipment"),
    ]
    out += [
        Resource(f"equipment_{item}", life_fraction * units, "", step, "equipment")
        for item, (step, units) in equipment.items()
    ]
    out.append(Resource("facility_per_day", allocated_days, "day", "facility", "facility"))
    return out
