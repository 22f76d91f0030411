"""The registry of expansion platforms: one :class:`PlatformModel` per platform name.

A platform model says everything that differs between platforms:

* ``layout``: the growth surface, medium volumes, oxygen supply and capacity of one vessel
  (:mod:`exoforge.upstream.platforms`);
* ``vessel``: the consumables the culture vessel is priced as (flask area, bioreactor bag and
  microcarriers, hollow-fibre cartridge, fixed-bed vessel, spheroid vessel);
* ``checks``: the engineering checks that apply to it besides the common ones (culture, oxygen);
* ``impeller``: whether it is stirred by an impeller (hydrodynamic checks; a spheroid vessel is,
  when it has an agitation rate).

Nothing else branches on platform names: the simulation, the costing and the checks ask the
registry, and a name that is not registered is refused with the registered names, never priced
or simulated as another platform. A new platform is one module that builds its model and calls
:func:`register_platform`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.resources import Resource
from exoforge.scenario import Expansion, Scenario
from exoforge.upstream import platforms as geometry
from exoforge.upstream.checks import Check, fixed_bed_checks, hollow_fiber_checks, spheroid_checks

LayoutBuilder = Callable[[Expansion, UsageLog, np.ndarray], geometry.Layout]
#: (expansion, geometry, vessels, microcarriers added per batch [g]) -> priced consumables
VesselPricing = Callable[[Expansion, geometry.VesselGeometry, float, np.ndarray], list[Resource]]
#: (scenario, geometry, peak cells per vessel, feed glucose [mM], parameters) -> checks
PlatformChecks = Callable[[Scenario, geometry.VesselGeometry, np.ndarray, np.ndarray, UsageLog], list[Check]]


def no_checks(
    scn: Scenario, geo: geometry.VesselGeometry, peak: np.ndarray, glucose_in: np.ndarray, p: UsageLog
) -> list[Check]:
    """A platform with only the common culture and oxygen checks."""
    return []


@dataclass(frozen=True)
class PlatformModel:
    """What one expansion platform is: its geometry, what its vessel costs, and its checks."""

    name: str
    layout: LayoutBuilder
    vessel: VesselPricing
    checks: PlatformChecks = no_checks
    impeller: bool = False  # agitated by an impeller (hydrodynamic checks always apply)


_REGISTRY: dict[str, PlatformModel] = {}
#: Every registered platform model, by the scenario's ``expansion.platform`` name (read-only).
PLATFORM_MODELS = MappingProxyType(_REGISTRY)


def register_platform(model: PlatformModel, *, replace: bool = False) -> PlatformModel:
    """Add ``model`` to the registry; a second model of the same name needs ``replace=True``."""
    if model.name in _REGISTRY and not replace:
        raise ValueError(f"platform '{model.name}' is already registered")
    _REGISTRY[model.name] = model
    return model


def platform_model(name: str) -> PlatformModel:
    """The registered model of platform ``name``; :class:`PlatformNotModelled` for any other name.

    A name not yet registered loads the installed plug-ins first: a worker process (local pool or
    Dask) receives a scenario already read, so it has not loaded them when it reaches its platform.
    """
    if name not in _REGISTRY:
        from exoforge.plugins import load_plugins

        load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise geometry.PlatformNotModelled(
            f"expansion.platform: '{name}' is not modelled by this version; modelled platforms: {', '.join(_REGISTRY)}"
        ) from None


def vessel_geometry(exp: Expansion, p: UsageLog) -> geometry.VesselGeometry:
    """Geometry of one vessel of the scenario's platform, from its registered layout."""
    layout = platform_model(exp.platform).layout(exp, p, np.ones(p.n))
    return geometry.complete_geometry(exp, p, layout)


# -- the built-in platforms ------------------------------------------------------------------------


def _flask(exp: Expansion, geo: geometry.VesselGeometry, m: float, added_grams: np.ndarray) -> list[Resource]:
    return [Resource("planar_vessel_per_cm2", geo.area_cm2 * m, "cm**2", "expansion")]


def _bioreactor(exp: Expansion, geo: geometry.VesselGeometry, m: float, added_grams: np.ndarray) -> list[Resource]:
    assert exp.microcarrier is not None  # the scenario requires one on these platforms
    grams = exp.microcarrier.g_per_l * geo.volume_l * m + added_grams
    return [
        Resource("microcarrier_per_g", grams, "g", "expansion"),
        Resource("bioreactor_vessel_per_l", geo.volume_l * m, "L", "expansion"),
    ]


def _cartridge(exp: Expansion, geo: geometry.VesselGeometry, m: float, added_grams: np.ndarray) -> list[Resource]:
    return [Resource("hollow_fiber_cartridge_per_m2", geo.area_cm2 * 1e-4 * m, "m**2", "expansion")]


def _bed(exp: Expansion, geo: geometry.VesselGeometry, m: float, added_grams: np.ndarray) -> list[Resource]:
    return [Resource("fixed_bed_vessel_per_m2", geo.area_cm2 * 1e-4 * m, "m**2", "expansion")]


def _spheroid_vessel(exp: Expansion, geo: geometry.VesselGeometry, m: float, added_grams: np.ndarray) -> list[Resource]:
    return [Resource("spheroid_vessel_per_l", geo.volume_l * m, "L", "expansion")]


def _hollow_fiber_checks(
    scn: Scenario, geo: geometry.VesselGeometry, peak: np.ndarray, glucose_in: np.ndarray, p: UsageLog
) -> list[Check]:
    if not np.any(geo.feed_dilution_per_day > 0):
        return []  # no continuous feed: nothing for the feed checks to judge
    return hollow_fiber_checks(geo, peak, glucose_in, p)


def _fixed_bed_checks(
    scn: Scenario, geo: geometry.VesselGeometry, peak: np.ndarray, glucose_in: np.ndarray, p: UsageLog
) -> list[Check]:
    return fixed_bed_checks(scn, geo, peak, p)


def _spheroid_checks(
    scn: Scenario, geo: geometry.VesselGeometry, peak: np.ndarray, glucose_in: np.ndarray, p: UsageLog
) -> list[Check]:
    return spheroid_checks(geo, peak, p)


for _model in (
    PlatformModel("planar", geometry.planar_layout, _flask),
    PlatformModel("multilayer", geometry.multilayer_layout, _flask),
    PlatformModel("spinner", geometry.microcarrier_layout, _bioreactor, impeller=True),
    PlatformModel("stirred_tank", geometry.microcarrier_layout, _bioreactor, impeller=True),
    PlatformModel("vertical_wheel", geometry.microcarrier_layout, _bioreactor, impeller=True),
    PlatformModel("hollow_fiber", geometry.hollow_fiber_layout, _cartridge, _hollow_fiber_checks),
    PlatformModel("fixed_bed", geometry.fixed_bed_layout, _bed, _fixed_bed_checks),
    PlatformModel("spheroid", geometry.spheroid_layout, _spheroid_vessel, _spheroid_checks),
):
    register_platform(_model)
