"""Expansion platforms: growth surface, medium volume and seeding per vessel.

Each platform maps the scenario's ``expansion`` block and the parameters to a
:class:`VesselGeometry` of arrays over the batch (internal units: cm², L,
cells). Every vessel of a scenario is identical; totals are per vessel times
``expansion.vessels``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import MICROCARRIER_PLATFORMS, Expansion

PLANAR_PLATFORMS = ("planar", "multilayer")
MODELLED_PLATFORMS = (*PLANAR_PLATFORMS, *MICROCARRIER_PLATFORMS)


class PlatformNotModelled(ValueError):
    """The scenario asks for a platform this version cannot simulate."""


@dataclass(frozen=True)
class VesselGeometry:
    """Per-vessel geometry, arrays of shape (N,).

    Attributes
    ----------
    area_cm2 : growth surface available to cells [cm²]
    volume_l : medium working volume [L]
    seeded_cells : cells put into the vessel [cells]
    attached_fraction : fraction of seeded cells that attach and grow [-]
    surface : 'plastic' or 'microcarrier'
    microcarrier_diameter_m : bead diameter (microcarrier platforms) [m], else NaN
    """

    area_cm2: np.ndarray
    volume_l: np.ndarray
    seeded_cells: np.ndarray
    attached_fraction: np.ndarray
    surface: str
    microcarrier_diameter_m: np.ndarray


def vessel_geometry(exp: Expansion, p: UsageLog) -> VesselGeometry:
    """Geometry of one vessel of the expansion platform, from scenario and parameters."""
    n = p.n
    ones = np.ones(n)
    nan = np.full(n, np.nan)
    if exp.platform in PLANAR_PLATFORMS:
        if exp.platform == "planar":
            area = ones * (exp.area_cm2 if exp.area_cm2 is not None else p.get("planar_flask_area", "cm**2"))
        else:
            per_layer = ones * exp.area_cm2 if exp.area_cm2 is not None else p.get("multilayer_area_per_layer", "cm**2")
            area = per_layer * float(exp.layers or 1)
        if exp.working_volume_l is not None:
            volume = ones * exp.working_volume_l
        else:
            volume = area * p.get("planar_medium_volume_per_area", "L/cm**2")
        attach = p.get("attachment_efficiency_planar", "")
        surface = "plastic"
        diameter = nan
    elif exp.platform in MICROCARRIER_PLATFORMS:
        assert exp.microcarrier is not None and exp.working_volume_l is not None
        volume = ones * exp.working_volume_l
        mc = exp.microcarrier.type
        area = exp.microcarrier.g_per_l * volume * p.get(f"microcarrier_area_per_mass.{mc}", "cm**2/g")
        attach = p.get("attachment_efficiency_microcarrier", "")
        surface = "microcarrier"
        diameter = p.get(f"microcarrier_diameter.{mc}", "m")
    else:
        raise PlatformNotModelled(
            f"expansion.platform: '{exp.platform}' is not modelled by this version; "
            f"modelled platforms: {', '.join(MODELLED_PLATFORMS)}"
        )
    s = exp.seeding
    if s.cells_per_cm2 is not None:
        seeded = s.cells_per_cm2 * area
    elif s.cells_per_ml is not None:
        seeded = s.cells_per_ml * 1000.0 * volume
    else:
        assert s.cells is not None
        seeded = ones * s.cells
    return VesselGeometry(area, volume, seeded, attach, surface, diameter)
