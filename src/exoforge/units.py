"""The one pint unit registry of exoforge and the conversions used at the boundaries.

Quantities enter and leave exoforge with units (scenario files, the API,
reports). Inside the numerical core every array is a plain float in the
*internal unit* of its kind, listed in :data:`INTERNAL_UNITS`. Counts of cells,
particles and doses are their own dimensions, so that a per-cell rate can
never be added to a per-volume one by mistake.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import SupportsFloat, cast

# At import, pint probes its optional integrations and imports SciPy and Dask
# when they are installed (~0.4 s together), although exoforge hands pint neither
# SciPy functions nor Dask arrays. Hiding the ones not yet loaded for the duration
# of pint's import keeps `exoforge run` fast; they import normally afterwards.
_HIDDEN = [name for name in ("dask", "scipy") if name not in sys.modules]
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]
try:
    import pint
finally:
    for _name in _HIDDEN:
        del sys.modules[_name]

ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=":auto:")
ureg.define("cell = [cell] = cells")
ureg.define("particle = [particle] = particles = p")
ureg.define("USD = [currency]")
# Vessel volumes per day, the usual unit of perfusion rates.
ureg.define("vvd = 1 / day")
Q_ = ureg.Quantity

#: Internal units of the numerical core, by kind of quantity.
INTERNAL_UNITS: dict[str, str] = {
    "time": "day",
    "volume": "L",
    "area": "cm**2",
    "concentration": "mM",
    "cells": "cell",
    "particles": "particle",
    "protein": "ug",
    "money": "USD",
    "length": "m",
    "speed": "1/s",
}


@lru_cache(maxsize=4096)
def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Multiplier taking a magnitude in ``from_unit`` to ``to_unit``.

    Raises :class:`pint.DimensionalityError` when the two are not commensurable.
    Cached: the function is pure.
    """
    return float(Q_(1.0, from_unit).to(to_unit).magnitude)


def parse_unit(unit: str) -> pint.Unit:
    """Parse a unit string, raising ``ValueError`` with a readable message."""
    try:
        return ureg.Unit(unit)
    except (pint.UndefinedUnitError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"'{unit}' is not a unit exoforge understands ({exc})") from exc


#: Dimensions that count things. A user may leave them out of a unit at the boundary
#: ("1/day" for a secretion rate in particle/cell/day, as the scenario contract's example
#: does); :func:`implied_counts` puts them back.
COUNT_UNITS: dict[str, str] = {"[cell]": "cell", "[particle]": "particle"}


def implied_counts(unit: str, target: str) -> str:
    """``unit`` with the counted entities of ``target`` that it leaves out put back.

    ``implied_counts("1/day", "particle/cell/day")`` is ``"(1/day) * particle ** 1 * cell ** -1"``,
    which measures the same quantity as the target. A unit that already names every count of
    the target, or that differs from it in anything but counts, is returned unchanged (the
    caller's dimension check then decides).
    """
    given = parse_unit(unit).dimensionality
    wanted = parse_unit(target).dimensionality
    missing = []
    for dim, name in COUNT_UNITS.items():
        have, need = (float(cast(SupportsFloat, d.get(dim, 0))) for d in (given, wanted))
        if have == 0 and need != 0:
            missing.append(f"{name} ** {need:g}")
    if not missing:
        return unit
    return f"({unit}) * " + " * ".join(missing)


def same_dimension(unit_a: str, unit_b: str) -> bool:
    """True when the two unit strings measure the same kind of quantity."""
    return bool(parse_unit(unit_a).dimensionality == parse_unit(unit_b).dimensionality)
