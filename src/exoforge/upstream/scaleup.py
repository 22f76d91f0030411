"""Scale-up of a stirred microcarrier vessel: the operating point at a target volume, and its checks.

From the scenario's vessel (the lab scale: working volume and agitation, or the
just-suspended speed when no agitation is given) to a geometrically similar
vessel of the target volume (same H/T and D/T), three classical rules give the
agitation speed:

==========================  =====================================  ==============================
basis                       rule                                   keeps
==========================  =====================================  ==============================
``constant_power_per_volume``  N2 = N1 (D1 / D2)^(2/3)              P/V, hence eps, Kolmogorov
                                                                   length and eddy shear
``constant_tip_speed``      N2 = N1 D1 / D2                        the impeller's peak shear
``just_suspended``          N2 = N_js(V2) (Zwietering)             beads just suspended, the least
                                                                   energy that keeps them off the
                                                                   bottom (an extrapolation for
                                                                   microcarriers, see checks)
==========================  =====================================  ==============================

At each operating point every hydrodynamic check of :mod:`exoforge.upstream.checks`
is evaluated, with the oxygen supply of the target vessel (surface aeration
falls as 1/H with scale; a sparged kLa is held constant) against the demand of
the peak cell density the scenario reaches at the lab scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import MICROCARRIER_PLATFORMS, VOLUME_RANGE_L, Scenario, behaves_like
from exoforge.upstream.checks import (
    Check,
    Hydrodynamics,
    dissolved_oxygen_at,
    hydrodynamic_checks,
    hydrodynamics,
    just_suspended_rpm,
    oxygen_checks,
)
from exoforge.upstream.platform_models import vessel_geometry
from exoforge.upstream.platforms import stirred_oxygen, vessel_dimensions
from exoforge.upstream.simulate import simulate_upstream

BASES = ("constant_power_per_volume", "constant_tip_speed", "just_suspended")


class NotScalable(ValueError):
    """The scenario's platform is not a stirred microcarrier vessel."""


@dataclass(frozen=True)
class OperatingPoint:
    """One vessel size and agitation speed with its hydrodynamics and checks, arrays (N,)."""

    basis: str  # 'lab' for the scenario's own vessel, else one of BASES
    volume_l: float
    rpm: np.ndarray
    hydrodynamics: Hydrodynamics
    checks: list[Check]
    dissolved_oxygen_fraction: np.ndarray

    @property
    def failed(self) -> list[str]:
        """Names of the checks that fail for any member of the batch."""
        return [c.name for c in self.checks if not bool(np.all(c.ok))]


def _point(
    scn: Scenario, basis: str, volume_l: float, rpm: np.ndarray, cells_per_l: np.ndarray, p: UsageLog
) -> OperatingPoint:
    exp = scn.expansion
    assert exp.microcarrier is not None
    volume = np.full(p.n, float(volume_l))
    h = hydrodynamics(volume, rpm, exp.microcarrier.type, exp.microcarrier.g_per_l, p)
    geo = vessel_geometry(exp.model_copy(update={"working_volume_l": volume_l}), p)
    kla, supply = stirred_oxygen(exp, volume, p)
    geo = replace(geo, oxygen_transfer_per_day=kla, oxygen_supply=supply)
    cells = cells_per_l * volume
    our_per_s = p.get("oxygen_uptake_rate", "mmol/cell/s") * cells_per_l
    checks = hydrodynamic_checks(h, geo.microcarrier_diameter_m, our_per_s, p) + oxygen_checks(geo, cells, p)
    c_star = p.get("oxygen_saturation_medium", "mM")
    return OperatingPoint(basis, float(volume_l), rpm, h, checks, dissolved_oxygen_at(geo, cells, p) / c_star)


def scale_up(scn: Scenario, target_volume_l: float, p: UsageLog) -> list[OperatingPoint]:
    """The lab vessel of ``scn`` and its operating point at ``target_volume_l`` under each basis.

    Parameters
    ----------
    scn : a scenario on a stirred microcarrier platform (spinner, stirred_tank, vertical_wheel)
    target_volume_l : working volume of the production vessel [L]
    p : parameters (any batch size N)

    Returns
    -------
    The lab point first, then one point per basis of :data:`BASES`.
    """
    exp = scn.expansion
    stirred = behaves_like(exp.platform) in MICROCARRIER_PLATFORMS
    if not stirred or exp.microcarrier is None or exp.working_volume_l is None:
        raise NotScalable(
            f"expansion.platform: scale-up applies to {', '.join(MICROCARRIER_PLATFORMS)} vessels, not '{exp.platform}'"
        )
    lo, hi = VOLUME_RANGE_L.get(exp.platform, (0.0, np.inf))
    if not lo <= target_volume_l <= hi:
        raise ValueError(f"target volume {target_volume_l:g} L is outside {lo:g}-{hi:g} L for '{exp.platform}'")
    mc = exp.microcarrier
    lab_v = float(exp.working_volume_l)
    lab_volume = np.full(p.n, lab_v)
    target = np.full(p.n, float(target_volume_l))
    if exp.agitation_rpm is not None:
        lab_rpm = np.full(p.n, float(exp.agitation_rpm))
    else:
        lab_rpm = just_suspended_rpm(lab_volume, mc.type, mc.g_per_l, p)
    up = simulate_upstream(scn, p)
    cells_per_l = up.peak_cells / (up.geometry.volume_l * up.vessels)
    _, _, d_lab = vessel_dimensions(lab_volume, p)
    _, _, d_target = vessel_dimensions(target, p)
    speeds = {
        "constant_power_per_volume": lab_rpm * (d_lab / d_target) ** (2.0 / 3.0),
        "constant_tip_speed": lab_rpm * d_lab / d_target,
        "just_suspended": just_suspended_rpm(target, mc.type, mc.g_per_l, p),
    }
    points = [_point(scn, "lab", lab_v, lab_rpm, cells_per_l, p)]
    points += [_point(scn, basis, float(target_volume_l), speeds[basis], cells_per_l, p) for basis in BASES]
    return points
