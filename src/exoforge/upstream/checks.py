"""Engineering checks of the expansion platform: hydrodynamics, suspension, shear, mixing and supply.

Each check is ``{name, value, limit, ok}`` with units in the name, evaluated
for the batch as arrays; a failing check becomes a warning of the run.
Correlations (SI units, per vessel):

* power draw P = Po rho N³ D⁵ (turbulent, impeller Reynolds number N D² / nu > 1e4);
  mean energy dissipation eps = P / (rho V);
* Kolmogorov length eta = (nu³ / eps)^(1/4); cells on microcarriers are damaged by
  eddies small against the bead (Croughan et al. 1987, Biotechnol Bioeng), here
  eta must exceed a fraction of the bead diameter;
* tip speed = pi N D;
* shear stress of Kolmogorov-scale eddies tau = rho (nu eps)^(1/2) (Cherry & Papoutsakis
  1986, Bioprocess Eng 1:29, doi:10.1007/BF00369462), at the mean dissipation and at the
  maximum local dissipation near the impeller (a stated multiple of the mean);
* just-suspended speed (Zwietering 1958, Chem Eng Sci 8:244):
  N_js = S nu^0.1 d_p^0.2 (g drho / rho)^0.45 X^0.13 D^-0.85 with X the solids mass
  per 100 mass of liquid. Zwietering measured particles of 0.15-5 mm and
  X = 0.5-20 %; microcarriers (0.1-0.3 mm, drho 20-100 kg/m³) lie below that range,
  so N_js is an extrapolation (measured N_s1u values are preferred when known). With a
  solids-suspension S of about 6 it predicts some 270 rpm where hMSCs on Cytodex 3 were
  suspended at 30 rpm in a spinner flask (Hewitt et al. 2011, doi:10.1007/s10529-011-0695-4),
  so S is set between the two (parameter ``zwietering_constant``);
* mixing time t_mix = K V / (N_Q N D³) (circulation estimate, 95 % homogeneity),
  compared with the time the cells need to consume the dissolved oxygen, C* / OUR;
* oxygen: supply kLa (C* - C_min) against the peak uptake q_O2 X / V (surface
  aeration kL / H, sparging, medium-layer diffusion D / h², membrane or bed flow:
  see :mod:`exoforge.upstream.platforms`); dissolved oxygen at the peak from the
  quasi-steady balance of :func:`exoforge.upstream.kinetics.dissolved_oxygen`;
* aggregates: diameter against the oxygen penetration diameter
  2 sqrt(6 D (C - C_min) / Q) of zero-order uptake in a sphere;
* hollow fibre: glucose demand against the glucose the feed brings;
  fixed bed: oxygen demand of the bed against the oxygen the recirculated medium carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import Scenario
from exoforge.upstream.platforms import (
    VesselGeometry,
    aggregate_radius_m,
    fixed_bed_flow,
    vessel_dimensions,
)

GRAVITY = 9.81  # m/s²
TURBULENT_REYNOLDS = 1.0e4


@dataclass(frozen=True)
class Check:
    """One engineering check over the batch; ``ok`` when value respects the limit."""

    name: str
    value: np.ndarray
    limit: np.ndarray
    ok: np.ndarray
    description: str


def _info(name: str, value: np.ndarray, description: str) -> Check:
    """A reported quantity with no limit (always ok)."""
    return Check(name, value, np.full_like(value, np.inf), np.ones_like(value, dtype=bool), description)


@dataclass(frozen=True)
class Hydrodynamics:
    """Hydrodynamic state of a stirred vessel at one speed, arrays (N,), SI units."""

    volume_l: np.ndarray
    rpm: np.ndarray
    impeller_m: np.ndarray
    power_per_volume: np.ndarray  # W/m³
    dissipation: np.ndarray  # W/kg
    kolmogorov_m: np.ndarray
    tip_speed: np.ndarray  # m/s
    shear_pa: np.ndarray  # at the mean dissipation
    max_shear_pa: np.ndarray  # at the maximum local dissipation
    reynolds: np.ndarray
    mixing_time_s: np.ndarray
    njs_rpm: np.ndarray


def just_suspended_rpm(volume_l: np.ndarray, microcarrier: str, g_per_l: float, p: UsageLog) -> np.ndarray:
    """Zwietering's just-suspended speed [rpm] of microcarriers (an extrapolation: see module docstring)."""
    _, _, d = vessel_dimensions(volume_l, p)
    rho_l = p.get("medium_density", "kg/m**3")
    nu = p.get("medium_kinematic_viscosity", "m**2/s")
    rho_p = p.get(f"microcarrier_density.{microcarrier}", "kg/m**3")
    d_p = p.get(f"microcarrier_diameter.{microcarrier}", "m")
    swollen = p.get(f"microcarrier_swollen_volume.{microcarrier}", "m**3/kg")  # per dry kg
    solids_kg_per_m3 = g_per_l * swollen * rho_p  # g/L = kg/m³ dry -> hydrated mass per m³ liquid
    x_percent = 100.0 * solids_kg_per_m3 / rho_l
    drho = np.maximum(rho_p - rho_l, 0.0)
    n_rps = (
        p.get("zwietering_constant", "")
        * nu**0.1
        * d_p**0.2
        * (GRAVITY * drho / rho_l) ** 0.45
        * x_percent**0.13
        * d ** (-0.85)
    )
    return cast("np.ndarray", n_rps * 60.0)


def hydrodynamics(
    volume_l: np.ndarray, rpm: np.ndarray, microcarrier: str | None, g_per_l: float, p: UsageLog
) -> Hydrodynamics:
    """Power, dissipation, Kolmogorov length, tip speed, shear, Reynolds number and mixing time."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a vessel at rest or neutrally buoyant beads
        return _hydrodynamics(volume_l, rpm, microcarrier, g_per_l, p)


def _hydrodynamics(
    volume_l: np.ndarray, rpm: np.ndarray, microcarrier: str | None, g_per_l: float, p: UsageLog
) -> Hydrodynamics:
    n_rps = rpm / 60.0
    rho = p.get("medium_density", "kg/m**3")
    nu = p.get("medium_kinematic_viscosity", "m**2/s")
    _, _, d = vessel_dimensions(volume_l, p)
    v_m3 = volume_l / 1000.0
    power = p.get("impeller_power_number", "") * rho * n_rps**3 * d**5
    eps = power / (rho * v_m3)
    pumping = p.get("impeller_flow_number", "") * n_rps * d**3
    njs = just_suspended_rpm(volume_l, microcarrier, g_per_l, p) if microcarrier else np.full_like(rpm, np.nan)
    return Hydrodynamics(
        volume_l=volume_l,
        rpm=rpm,
        impeller_m=d,
        power_per_volume=power / v_m3,
        dissipation=eps,
        kolmogorov_m=(nu**3 / eps) ** 0.25,
        tip_speed=math.pi * n_rps * d,
        shear_pa=rho * np.sqrt(nu * eps),
        max_shear_pa=rho * np.sqrt(nu * eps * p.get("max_to_mean_dissipation", "")),
        reynolds=n_rps * d**2 / nu,
        mixing_time_s=p.get("mixing_time_constant", "") * v_m3 / pumping,
        njs_rpm=njs,
    )


def hydrodynamic_checks(
    h: Hydrodynamics, bead_diameter_m: np.ndarray | None, peak_our_mM_per_s: np.ndarray, p: UsageLog
) -> list[Check]:
    """Checks of one stirred operating point (per vessel)."""
    checks: list[Check] = []
    if bead_diameter_m is not None:
        ratio_limit = p.get("kolmogorov_to_microcarrier_limit", "")
        checks.append(
            Check(
                "kolmogorov_length_um",
                h.kolmogorov_m * 1e6,
                ratio_limit * bead_diameter_m * 1e6,
                h.kolmogorov_m >= ratio_limit * bead_diameter_m,
                "Kolmogorov eddy length at the mean dissipation against the smallest safe fraction of the "
                "microcarrier diameter (eddies smaller than the bead damage the cells on it); hMSCs on Cytodex "
                "held at N_JS in spinner flasks showed no observable damage (doi:10.1007/s10529-011-0695-4, "
                "Abstract), so a failure close to N_js is a caution",
            )
        )
        checks.append(
            Check(
                "agitation_to_just_suspended_speed",
                np.divide(h.rpm, h.njs_rpm, out=np.full_like(h.rpm, np.inf), where=h.njs_rpm > 0),
                np.ones_like(h.rpm),
                h.rpm >= h.njs_rpm,
                "agitation over Zwietering's just-suspended speed N_js (microcarriers settle below 1); "
                "Zwietering's correlation was measured for 0.15-5 mm particles at 0.5-20 % solids, so for "
                "microcarriers N_js is an extrapolation (S between solids values and a measured hMSC spinner "
                "N_JS, doi:10.1007/s10529-011-0695-4): prefer a measured N_s1u",
            )
        )
    tip_limit = p.get("tip_speed_limit", "m/s")
    shear_limit = p.get("msc_shear_stress_limit", "Pa")
    pv_limit = p.get("power_per_volume_limit", "W/m**3")
    oxygen_time = p.get("oxygen_saturation_medium", "mM") / np.maximum(peak_our_mM_per_s, 1e-300)
    mix_limit = p.get("mixing_to_oxygen_time_limit", "") * oxygen_time
    checks += [
        Check("tip_speed_m_per_s", h.tip_speed, tip_limit, h.tip_speed <= tip_limit, "impeller tip speed"),
        Check(
            "shear_stress_pa",
            h.shear_pa,
            shear_limit,
            h.shear_pa <= shear_limit,
            "shear stress of Kolmogorov-scale eddies, rho (nu eps)^0.5 at the mean dissipation, "
            "against the MSC tolerance",
        ),
        Check(
            "max_shear_stress_pa",
            h.max_shear_pa,
            shear_limit,
            h.max_shear_pa <= shear_limit,
            "shear stress of Kolmogorov-scale eddies at the maximum local dissipation (impeller region, "
            "max-to-mean dissipation ratio times the mean), against the MSC tolerance",
        ),
        Check(
            "power_per_volume_w_per_m3",
            h.power_per_volume,
            pv_limit,
            h.power_per_volume <= pv_limit,
            "mean power input per volume against the upper limit described for shear-sensitive animal cells",
        ),
        Check(
            "mixing_time_s",
            h.mixing_time_s,
            mix_limit,
            h.mixing_time_s <= mix_limit,
            "95 % mixing time (circulation estimate) against a tenth of the time the cells take to "
            "consume the dissolved oxygen",
        ),
        _info(
            "impeller_reynolds_number",
            h.reynolds,
            "N D^2 / nu; the power, Kolmogorov and mixing correlations assume turbulent flow (above 1e4) "
            "and are indicative below it",
        ),
    ]
    return checks


def oxygen_checks(geo: VesselGeometry, peak_cells: np.ndarray, p: UsageLog) -> list[Check]:
    """Oxygen transfer capacity against the peak demand, and dissolved oxygen at the peak (per vessel)."""
    c_star = p.get("oxygen_saturation_medium", "mM")
    min_fraction = p.get("oxygen_minimum_fraction", "")
    c_min = c_star * min_fraction
    otr = geo.oxygen_transfer_per_day * (c_star - c_min)  # mM/day
    our = oxygen_uptake_rate(p, geo.surface == "aggregate") * peak_cells / geo.volume_l
    do_fraction = dissolved_oxygen_at(geo, peak_cells, p) / c_star
    return [
        Check(
            "oxygen_demand_to_supply",
            our / otr,
            np.ones_like(otr),
            our <= otr,
            f"peak oxygen uptake over the transfer capacity of the {geo.oxygen_supply} (must be <= 1)",
        ),
        Check(
            "min_dissolved_oxygen_fraction",
            do_fraction,
            min_fraction,
            do_fraction >= min_fraction,
            "dissolved oxygen at the peak cell number, as a fraction of air saturation, against the "
            "level below which growth is oxygen-limited",
        ),
    ]


def oxygen_uptake_rate(p: UsageLog, aggregates: bool = False) -> np.ndarray:
    """Measured specific oxygen uptake [mmol/cell/day]: of cells on a surface, or inside aggregates."""
    name = "oxygen_uptake_rate_aggregate" if aggregates else "oxygen_uptake_rate"
    return p.get(name, "mmol/cell/day")


def oxygen_uptake_capacity(p: UsageLog, aggregates: bool = False) -> np.ndarray:
    """Saturating specific oxygen uptake [mmol/cell/day] of the Michaelis-Menten term.

    The measured uptake is the rate in air-saturated medium, so the capacity is scaled by
    (K + C*) / C* and the model returns the measured rate at saturation.
    """
    c_star = p.get("oxygen_saturation_medium", "mM")
    k = p.get("oxygen_monod_constant", "mM")
    return cast("np.ndarray", oxygen_uptake_rate(p, aggregates) * (k + c_star) / c_star)


def dissolved_oxygen_at(geo: VesselGeometry, cells: np.ndarray, p: UsageLog) -> np.ndarray:
    """Quasi-steady dissolved oxygen [mM] in a vessel of ``geo`` holding ``cells`` viable cells."""
    from exoforge.upstream.kinetics import dissolved_oxygen

    return dissolved_oxygen(
        cells,
        geo.oxygen_transfer_per_day,
        oxygen_uptake_capacity(p, geo.surface == "aggregate"),
        geo.volume_l,
        p.get("oxygen_monod_constant", "mM"),
        p.get("oxygen_saturation_medium", "mM"),
    )


def culture_checks(
    min_glucose: np.ndarray, max_lactate: np.ndarray, max_ammonia: np.ndarray, p: UsageLog
) -> list[Check]:
    """Medium checks valid for every platform."""
    k_l = p.get("lactate_inhibition_constant", "mM")
    k_g = p.get("glucose_monod_constant", "mM")
    k_a = p.get("ammonia_inhibition_constant", "mM")
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
        Check(
            "max_ammonia_mM",
            max_ammonia,
            k_a,
            max_ammonia <= k_a,
            "highest ammonia reached, against the ammonia half-inhibition constant",
        ),
    ]


def stirred_checks(
    scn: Scenario, geo: VesselGeometry, peak_cells: np.ndarray, p: UsageLog, impeller: bool
) -> list[Check]:
    """Hydrodynamic checks of agitated platforms (microcarriers, agitated aggregates), per vessel.

    ``impeller``: the platform is stirred by an impeller; any other vessel is agitated only when the
    scenario gives it an ``agitation_rpm``. Without ``agitation_rpm`` a microcarrier vessel is taken to
    run at its just-suspended speed.
    """
    exp = scn.expansion
    if not (impeller or exp.agitation_rpm):
        return []
    mc = exp.microcarrier
    mc_type = mc.type if mc is not None else None
    g_per_l = mc.g_per_l if mc is not None else 0.0
    if exp.agitation_rpm is not None:
        rpm = np.full_like(geo.volume_l, exp.agitation_rpm)
    else:
        rpm = just_suspended_rpm(geo.volume_l, mc_type or "cytodex3", g_per_l, p)
    h = hydrodynamics(geo.volume_l, rpm, mc_type, g_per_l, p)
    our_per_s = oxygen_uptake_rate(p, geo.surface == "aggregate") / 86400.0 * peak_cells / geo.volume_l
    return hydrodynamic_checks(h, geo.microcarrier_diameter_m if mc is not None else None, our_per_s, p)


def hollow_fiber_checks(
    geo: VesselGeometry, peak_cells: np.ndarray, glucose_in: np.ndarray, p: UsageLog
) -> list[Check]:
    """Medium supply of a hollow fibre: peak glucose demand against the glucose the feed brings (at its
    largest rate when the feed follows lactate)."""
    feed = geo.feed_max_per_day if geo.feed_max_per_day is not None else geo.feed_dilution_per_day
    feed_l_per_day = feed * geo.volume_l
    demand = p.get("glucose_uptake_rate", "mmol/cell/day") * peak_cells  # mmol/day
    supply = feed_l_per_day * glucose_in
    with np.errstate(divide="ignore"):
        ratio = demand / supply
    return [
        Check(
            "feed_glucose_demand_to_supply",
            ratio,
            np.ones_like(ratio),
            ratio <= 1.0,
            "peak glucose uptake of the cartridge over the glucose delivered by the medium feed (must be <= 1; "
            "raise the feed rate above it)",
        )
    ]


def fixed_bed_checks(scn: Scenario, geo: VesselGeometry, peak_cells: np.ndarray, p: UsageLog) -> list[Check]:
    """Oxygen carried through the bed by the recirculated medium against the bed's demand."""
    _, flow = fixed_bed_flow(scn.expansion, geo.area_cm2, p)
    c_star = p.get("oxygen_saturation_medium", "mM")
    c_min = c_star * p.get("oxygen_minimum_fraction", "")
    demand = p.get("oxygen_uptake_rate", "mmol/cell/day") * peak_cells  # mmol/day
    delivery = flow * (c_star - c_min)
    return [
        Check(
            "bed_oxygen_demand_to_delivery",
            demand / delivery,
            np.ones_like(delivery),
            demand <= delivery,
            "peak oxygen uptake of the bed over the oxygen the recirculated medium carries through it "
            "between saturation and the minimum level (must be <= 1; raise the linear velocity)",
        )
    ]


def spheroid_checks(geo: VesselGeometry, peak_cells: np.ndarray, p: UsageLog) -> list[Check]:
    """Aggregate diameter at the peak against the diameter oxygen penetrates at the bulk level."""
    per_agg = peak_cells / np.maximum(geo.aggregates, 1e-300)
    diameter_um = 2e6 * aggregate_radius_m(per_agg, p)
    c = dissolved_oxygen_at(geo, peak_cells, p)
    c_min = p.get("oxygen_saturation_medium", "mM") * p.get("oxygen_minimum_fraction", "")
    q_vol = (
        p.get("oxygen_uptake_rate_aggregate", "mmol/cell/s") * 1e-3 / p.get("aggregate_volume_per_cell", "m**3/cell")
    )
    excess = np.maximum(c - c_min, 0.0)
    penetration_um = 2e6 * np.sqrt(6.0 * p.get("oxygen_diffusivity", "m**2/s") * excess / q_vol)
    return [
        Check(
            "aggregate_diameter_um",
            diameter_um,
            penetration_um,
            diameter_um <= penetration_um,
            "aggregate diameter at the peak against the diameter whose centre stays above the minimum "
            "oxygen level (zero-order uptake in a sphere at the bulk dissolved oxygen)",
        )
    ]
