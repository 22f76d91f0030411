"""The one pint unit registry of exoforge and the conversions used at the boundaries.

Quantities enter and leave exoforge with units (scenario files, the API,
reports). Inside the numerical core every array is a plain float in the
*internal unit* of its kind, listed in :data:`INTERNAL_UNITS`. Counts of cells,
particles and doses are their own dimensions, so that a per-cell rate can
never be added to a per-volume one by mistake.
"""

from __future__ import annotations

import math
import re
import sys
from functools import lru_cache
from typing import Any, SupportsFloat, cast

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

ureg: pint.UnitRegistry[Any] = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=":auto:")
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


#: Longest unit string parsed (scenario files allow shorter ones; see scenario.ParameterOverride).
MAX_UNIT_LENGTH = 160
#: Largest power of a base unit in a unit string (volumes are cubed lengths; nothing needs more).
MAX_UNIT_POWER = 6
_UNIT_TEXT = re.compile(r"^[A-Za-z0-9_ .*/()^%µμ°+-]*$")


class NotAUnit(ValueError):
    """A unit string that pint cannot read (or that no physical quantity could have)."""


def parse_unit(unit: str) -> pint.Unit:
    """Parse a unit string through a guard: any failure of pint's parser becomes :class:`NotAUnit`.

    pint evaluates unit strings with Python's tokenizer and its own expression parser; odd
    strings raise whatever those raise (``AssertionError``, ``TokenError``, ``ZeroDivisionError``,
    ``RecursionError``, ...). Strings are bounded in length and characters before parsing, and
    the result must have finite, moderate powers (``m**1e308`` is not a unit).
    """
    if not isinstance(unit, str):
        raise NotAUnit(f"{unit!r} is not a unit (a unit is text such as 'particle/cell/day')")
    shown = unit if len(unit) <= 40 else unit[:37] + "..."
    if len(unit) > MAX_UNIT_LENGTH:
        raise NotAUnit(f"'{shown}' is not a unit (longer than {MAX_UNIT_LENGTH} characters)")
    bad = next((c for c in unit if not _UNIT_TEXT.match(c)), None)
    if bad is not None:
        raise NotAUnit(f"'{shown}' is not a unit (character {bad!r} has no place in a unit)")
    try:
        parsed = ureg.Unit(unit)
        powers = [float(cast(SupportsFloat, p)) for p in parsed.dimensionality.values()]
        powers += [float(cast(SupportsFloat, p)) for p in parsed._units.values()]
    except pint.UndefinedUnitError as exc:
        raise NotAUnit(f"'{shown}' is not a unit exoforge understands ({exc})") from None
    except Exception:  # pint's parser fails in many ways on odd strings: all of them mean "not a unit"
        raise NotAUnit(f"'{shown}' is not a unit") from None
    if any(not math.isfinite(p) or abs(p) > MAX_UNIT_POWER for p in powers):
        raise NotAUnit(f"'{shown}' is not a unit (a power beyond {MAX_UNIT_POWER})")
    return parsed


@lru_cache(maxsize=4096)
def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Multiplier taking a magnitude in ``from_unit`` to ``to_unit``.

    Raises :class:`pint.DimensionalityError` when the two are not commensurable and
    :class:`NotAUnit` when either is not a unit or the factor is not a finite positive number.
    Cached: the function is pure.
    """
    parse_unit(from_unit)
    parse_unit(to_unit)
    try:
        factor = float(Q_(1.0, from_unit).to(to_unit).magnitude)
    except pint.DimensionalityError:
        raise
    except (ArithmeticError, ValueError) as exc:
        raise NotAUnit(f"'{from_unit}' cannot be converted to '{to_unit}' ({exc})") from None
    if not (math.isfinite(factor) and factor > 0):
        raise NotAUnit(f"'{from_unit}' cannot be converted to '{to_unit}' (factor {factor})")
    return factor


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
