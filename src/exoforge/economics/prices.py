"""Price years and escalation: every price carries the year it was quoted in.

Prices are parameters ``price.<item>`` in the packaged ``prices_*.yaml`` files
(currency in the unit, source or assumption in the entry). A file gives its
price year as a top-level ``price_year`` key and an entry may override it with
its own ``price_year``; files without one are in :data:`BASE_PRICE_YEAR`.
A run states its currency year (``economics.price_year``); each default price
is escalated to it by the ratio of the price index of the two years
(:file:`escalation.yaml`, US CPI-U annual averages). Prices a user gives in the
scenario are taken as already in the run's year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from exoforge.parameters import PARAMETER_PACKAGE
from exoforge.yamlio import load_yaml

#: Year of the default prices unless a file or an entry says otherwise.
BASE_PRICE_YEAR = 2024
CURRENCY = "USD"


@lru_cache(maxsize=1)
def price_years() -> Mapping[str, int]:
    """Quote year of every packaged ``price.*`` parameter."""
    base = Path(str(resources.files(PARAMETER_PACKAGE)))
    out: dict[str, int] = {}
    for path in sorted(base.glob("prices_*.yaml")):
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
        file_year = int(raw.get("price_year", BASE_PRICE_YEAR))
        for entry in raw.get("parameters", []):
            name = str(entry.get("name", ""))
            if name.startswith("price."):
                out[name] = int(entry.get("price_year", file_year))
    return MappingProxyType(out)


@lru_cache(maxsize=1)
def escalation_index() -> tuple[str, str, Mapping[int, float]]:
    """(index name, source, {year: value}) of the price index."""
    text = resources.files("exoforge.economics").joinpath("escalation.yaml").read_text(encoding="utf-8")
    raw = load_yaml(text)
    values = {int(k): float(v) for k, v in raw["values"].items()}
    return str(raw["index"]), str(raw["source"]), MappingProxyType(values)


def escalation_factor(from_year: int, to_year: int) -> float:
    """Multiplier taking a price quoted in ``from_year`` to ``to_year`` money."""
    _, _, idx = escalation_index()
    for y in (from_year, to_year):
        if y not in idx:
            raise ValueError(f"no price index for {y}; the index covers {min(idx)}-{max(idx)}")
    return idx[to_year] / idx[from_year]


def escalation_factors(names: Iterable[str], to_year: int, user_given: Iterable[str] = ()) -> dict[str, float]:
    """Escalation multiplier of each price parameter (1 for prices the user gave)."""
    years = price_years()
    given = set(user_given)
    return {n: 1.0 if n in given else escalation_factor(years.get(n, BASE_PRICE_YEAR), to_year) for n in set(names)}
