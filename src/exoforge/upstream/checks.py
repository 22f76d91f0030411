"""Engineering checks of the expansion platform: hydrodynamics, shear and oxygen supply.

Each check is ``{name, value, limit, ok}`` with units in the name, evaluated
for the batch as arrays. Correlations:

* power draw P = Po rho N^3 D^5 (turbulent); mean energy dissipation eps = P / (rho V);
* Kolmogorov length eta = (nu^3 / eps)^(1/4); cells on microcarriers are damaged
  by eddies small compared with the bead (Croughan et al. 1987);
* tip speed = pi N D;
* shear stress of Kolmogorov-scale eddies tau = rho (nu eps)^(1/2) (Cherry & Papoutsakis
  1986, Bioprocess Eng 1:29, doi:10.1007/BF00369462), at the mean dissipation;
* oxygen: surface aeration kLa = kL a with a = free surface / volume = 1/H,
  OTR_max = kLa C*, OUR = q_O2 X / V at the peak viable-cell density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import MICROCARRIER_PLATFORMS, Scenario


@dataclass(frozen=True)
class Check:
    """One engineering check over the batch; ``ok`` when value respects the limit."""

    name: str
    value: np.ndarray
    limit: np.ndarray
    ok: np.ndarray
    description: str


def _vessel_dimensions(volume_l: np.ndarray, p: UsageLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tank diameter T, liquid height H and impeller diameter D [m] from the working volume."""
    v = volume_l / 1000.0
    h_over_t = p.get("liquid_height_to_tank_diameter", "")
    t = (4.0 * v / (math.pi * h_over_t)) ** (1.0 / 3.0)
    return t, h_over_t * t, p.get("impeller_to_tank_diameter", "") * t


def stirred_checks(
    scn: Scenario, volume_l: np.ndarray, diameter_m: np.ndarray, peak_cells: np.ndarray, p: UsageLog
) -> list[Check]:
    """Checks for microcarrier platforms at the scenario's agitation (per vessel)."""
    exp = scn.expansion
    if exp.platform not in MICROCARRIER_PLATFORMS or exp.agitation_rpm is None:
        return []
    n_rps = exp.agitation_rpm / 60.0
    rho = p.get("medium_density", "kg/m**3")
    nu = p.get("medium_kinematic_viscosity", "m**2/s")
    _, height, d = _vessel_dimensions(volume_l, p)
    v_m3 = volume_l / 1000.0
    power = p.get("impeller_power_number", "") * rho * n_rps**3 * d**5
    eps = power / (rho * v_m3)
    eta = (nu**3 / eps) ** 0.25
    ratio_limit = p.get("kolmogorov_to_microcarrier_limit", "")
    tip = math.pi * n_rps * d
    shear = rho * np.sqrt(nu * eps)
    shear_limit = p.get("msc_shear_stress_limit", "Pa")
    tip_limit = p.get("tip_speed_limit", "m/s")
    checks = [
        Check(
            "kolmogorov_length_um",
            eta * 1e6,
            ratio_limit * diameter_m * 1e6,
            eta >= ratio_limit * diameter_m,
            "Kolmogorov eddy length against the smallest safe fraction of the microcarrier diameter",
        ),
        Check("tip_speed_m_per_s", tip, tip_limit, tip <= tip_limit, "impeller tip speed"),
        Check(
            "shear_stress_pa",
            shear,
            shear_limit,
            shear <= shear_limit,
            "shear stress of Kolmogorov-scale eddies, rho (nu eps)^0.5 at the mean dissipation, "
            "against the MSC tolerance",
        ),
        Check(
            "power_per_volume_w_per_m3",
            power / v_m3,
            np.full_like(tip, np.inf),
            np.ones_like(tip, dtype=bool),
            "mean power input per volume (reported, no limit)",
        ),
    ]
    checks.append(oxygen_check(volume_l, 1.0 / height, peak_cells, p))
    return checks


def oxygen_check(volume_l: np.ndarray, area_per_volume: np.ndarray, peak_cells: np.ndarray, p: UsageLog) -> Check:
    """Surface-aeration oxygen transfer capacity against the peak oxygen demand (per vessel)."""
    kla_per_h = p.get("surface_aeration_kl", "m/h") * area_per_volume
    c_star = p.get("oxygen_saturation_medium", "mM")
    c_min = c_star * p.get("oxygen_minimum_fraction", "")
    otr = kla_per_h * (c_star - c_min)  # mmol/L/h
    our = p.get("oxygen_uptake_rate", "mmol/cell/h") * peak_cells / volume_l
    return Check(
        "oxygen_demand_to_supply",
        our / otr,
        np.ones_like(otr),
        our <= otr,
        "peak oxygen uptake over surface-aeration transfer capacity (must be <= 1)",
    )


def culture_checks(min_glucose: np.ndarray, max_lactate: np.ndarray, p: UsageLog) -> list[Check]:
    """Medium checks valid for every platform."""
    k_l = p.get("lactate_inhibition_constant", "mM")
    k_g = p.get("glucose_monod_constant", "mM")
    return [
        Check(
            "min_glucose_mM",
            min_glucose,
            k_g,
            min_glucose >= k_g,
            "lowest glucose reached, against the Monod constant (growth slowed below it)",
        ),
        Check(
            "max_lactate_mM",
            max_lactate,
            k_l,
            max_lactate <= k_l,
            "highest lactate reached, against the lactate half-inhibition constant",
        ),
    ]
