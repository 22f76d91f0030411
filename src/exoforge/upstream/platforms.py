"""Expansion platforms: growth surface, medium volumes, seeding, capacity and oxygen supply per vessel.

Each platform maps the scenario's ``expansion`` block and the parameters to a
:class:`VesselGeometry` of arrays over the batch (internal units: cm², L,
cells, 1/day). Every vessel of a scenario is identical; totals are per vessel
times ``expansion.vessels``.

Platforms and what describes them:

================  ===========================================  ========================================
platform          geometry from the scenario                   oxygen supply (kLa-equivalent on V)
================  ===========================================  ========================================
planar            ``area_cm2`` (T-flask; default a T-175)      diffusion through the medium layer, D / h²
multilayer        ``layers`` x area per layer (1-40)           as planar, per layer
spinner,          ``working_volume_l`` + ``microcarrier``      surface aeration kL / H, or sparged kLa
stirred_tank,     (surface = g/L x V x cm²/g)
vertical_wheel
hollow_fiber      ``surface_area_m2``, ``ic_volume_ml``,        membrane gas exchanger of the loop
                  ``ec_volume_ml``, ``feed_ml_per_min`` (the feed
                  follows lactate unless a fixed rate is given)
fixed_bed         ``surface_area_m2``, ``bed_volume_l``,       aerated reservoir in series with the
                  ``working_volume_l``, linear velocity        medium carried through the bed, 2 Q / V
spheroid          ``working_volume_l``, ``cells_per_aggregate``  as stirred vessels with agitation,
                                                               else as a static layer
================  ===========================================  ========================================

In a hollow fibre the cells and their EVs sit in one compartment (intra- or
extra-capillary, ``cell_compartment``) while small molecules exchange with the
whole circulating volume: nutrients are balanced over IC + EC volume, EVs and
protein over the cell compartment, which is what a collection drains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import Expansion

PER_DAY = 24.0  # h/day


class PlatformNotModelled(ValueError):
    """The scenario asks for a platform this version cannot simulate."""


@dataclass(frozen=True)
class MicrocarrierAddition:
    """Fresh microcarriers added during expansion (bead-to-bead transfer)."""

    day: float
    area_cm2: np.ndarray  # added surface per vessel
    grams: np.ndarray  # added dry mass per vessel


@dataclass(frozen=True)
class VesselGeometry:
    """Per-vessel geometry, arrays of shape (N,).

    Attributes
    ----------
    area_cm2 : growth surface available to cells at seeding [cm²] (0 for aggregates)
    volume_l : medium volume exchanging small molecules (nutrients, O2) [L]
    product_volume_l : volume holding EVs and secreted protein, drained by a collection [L]
    seeded_cells : cells put into the vessel [cells]
    attached_fraction : fraction of seeded cells that attach (or aggregate) and grow [-]
    capacity_cells : cells the initial surface holds at its maximum density [cells]
    surface : 'plastic', 'microcarrier', 'hollow_fiber', 'fixed_bed' or 'aggregate'
    microcarrier_diameter_m : bead diameter (microcarrier platforms) [m], else NaN
    oxygen_transfer_per_day : oxygen supply coefficient kLa on ``volume_l`` [1/day]
    oxygen_supply : how oxygen reaches the cells (for messages)
    aggregates : number of aggregates (spheroid culture), else 0
    aggregate_capacity : coefficient of the oxygen-limited capacity [cell mM^-1.5], else 0
    harvest_efficiency : fraction of cells recovered when the cells are harvested [-]
    feed_dilution_per_day : continuous feed of ``volume_l`` set by the platform [1/day] (hollow fibre); the
        starting (lowest) rate when the feed follows lactate
    feed_max_per_day : largest feed rate when the feed follows lactate [1/day], else None
    feed_lactate_setpoint_mM : lactate the feed holds the culture at [mM], else None (constant feed)
    retains_product : EVs and protein stay in the cell compartment under feeding or perfusion
    addition : microcarrier addition, if any
    """

    area_cm2: np.ndarray
    volume_l: np.ndarray
    product_volume_l: np.ndarray
    seeded_cells: np.ndarray
    attached_fraction: np.ndarray
    capacity_cells: np.ndarray
    surface: str
    microcarrier_diameter_m: np.ndarray
    oxygen_transfer_per_day: np.ndarray
    oxygen_supply: str
    aggregates: np.ndarray
    aggregate_capacity: np.ndarray
    harvest_efficiency: np.ndarray
    feed_dilution_per_day: np.ndarray
    retains_product: bool = False
    addition: MicrocarrierAddition | None = field(default=None)
    feed_max_per_day: np.ndarray | None = None
    feed_lactate_setpoint_mM: np.ndarray | None = None


@dataclass(frozen=True)
class Layout:
    """What a platform builder returns (arrays (N,)); the common steps complete it into a geometry."""

    area: np.ndarray
    volume: np.ndarray
    attach: np.ndarray
    surface: str
    kla: np.ndarray
    supply: str
    capacity: np.ndarray | None = None
    product_volume: np.ndarray | None = None
    diameter: np.ndarray | None = None
    feed: np.ndarray | None = None
    feed_max: np.ndarray | None = None
    feed_setpoint: np.ndarray | None = None
    retains: bool = False
    addition: MicrocarrierAddition | None = None


def vessel_dimensions(volume_l: np.ndarray, p: UsageLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tank diameter T, liquid height H and impeller diameter D [m] of a stirred vessel.

    Geometric similarity at the parameters' H/T and D/T: V = pi T² H / 4.
    """
    v = volume_l / 1000.0
    h_over_t = p.get("liquid_height_to_tank_diameter", "")
    t = (4.0 * v / (math.pi * h_over_t)) ** (1.0 / 3.0)
    return t, h_over_t * t, p.get("impeller_to_tank_diameter", "") * t


def surface_aeration_kla(volume_l: np.ndarray, p: UsageLog) -> np.ndarray:
    """kLa [1/day] of head-space (surface) aeration: kL x free surface / volume = kL / H."""
    _, height, _ = vessel_dimensions(volume_l, p)
    return cast("np.ndarray", p.get("surface_aeration_kl", "m/day") / height)


def layer_diffusion_kla(depth_m: np.ndarray, p: UsageLog) -> np.ndarray:
    """kLa-equivalent [1/day] of oxygen diffusing through a static medium layer to cells at its bottom.

    Flux per area D (C* - C) / h over volume per area h gives D / h².
    """
    return cast("np.ndarray", p.get("oxygen_diffusivity", "m**2/day") / depth_m**2)


def stirred_oxygen(exp: Expansion, volume_l: np.ndarray, p: UsageLog) -> tuple[np.ndarray, str]:
    """Oxygen supply of an agitated vessel: sparged kLa if asked for, else surface aeration."""
    if exp.aeration == "sparged":
        return p.get("sparged_kla", "1/day") * np.ones_like(volume_l), "sparged aeration"
    return surface_aeration_kla(volume_l, p), "surface aeration"


def planar_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    """A flask: ``area_cm2`` (default a T-175) under a static medium layer."""
    area = ones * (exp.area_cm2 if exp.area_cm2 is not None else p.get("planar_flask_area", "cm**2"))
    return _static_layer(exp, p, area)


def multilayer_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    """A multilayer vessel: ``layers`` flasks' worth of surface, each under its medium layer."""
    per_layer = ones * exp.area_cm2 if exp.area_cm2 is not None else p.get("multilayer_area_per_layer", "cm**2")
    return _static_layer(exp, p, per_layer * float(exp.layers or 1))


def _static_layer(exp: Expansion, p: UsageLog, area: np.ndarray) -> Layout:
    if exp.working_volume_l is not None:
        volume = np.ones_like(area) * exp.working_volume_l
    else:
        volume = area * p.get("planar_medium_volume_per_area", "L/cm**2")
    depth_m = volume / area * 10.0  # L/cm² -> m (1 L/cm² = 1000 cm³/cm² = 10 m)
    return Layout(
        area=area,
        volume=volume,
        attach=p.get("attachment_efficiency_planar", ""),
        capacity=p.get("max_areal_density_planar", "cell/cm**2") * area,
        surface="plastic",
        kla=layer_diffusion_kla(depth_m, p),
        supply="diffusion through the medium layer",
    )


def microcarrier_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    assert exp.microcarrier is not None and exp.working_volume_l is not None
    volume = ones * exp.working_volume_l
    mc = exp.microcarrier
    per_gram = p.get(f"microcarrier_area_per_mass.{mc.type}", "cm**2/g")
    area = mc.g_per_l * volume * per_gram
    density = p.get("max_areal_density_microcarrier", "cell/cm**2")
    kla, supply = stirred_oxygen(exp, volume, p)
    addition = None
    if mc.add_g_per_l is not None and mc.add_on_day is not None:
        grams = mc.add_g_per_l * volume
        addition = MicrocarrierAddition(float(mc.add_on_day), grams * per_gram, grams)
    return Layout(
        area=area,
        volume=volume,
        attach=p.get("attachment_efficiency_microcarrier", ""),
        capacity=density * area,
        surface="microcarrier",
        diameter=p.get(f"microcarrier_diameter.{mc.type}", "m"),
        kla=kla,
        supply=supply,
        addition=addition,
    )


def hollow_fiber_volumes(exp: Expansion, p: UsageLog, ones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(IC volume, EC volume) [L] of a hollow-fibre cartridge, from the scenario or per m² defaults."""
    assert exp.surface_area_m2 is not None
    m2 = exp.surface_area_m2
    ic = ones * exp.ic_volume_ml / 1000 if exp.ic_volume_ml else m2 * p.get("hollow_fiber_ic_volume_per_area", "L/m**2")
    ec = ones * exp.ec_volume_ml / 1000 if exp.ec_volume_ml else m2 * p.get("hollow_fiber_ec_volume_per_area", "L/m**2")
    return ic, ec


def hollow_fiber_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    assert exp.surface_area_m2 is not None
    area = ones * exp.surface_area_m2 * 1e4
    ic, ec = hollow_fiber_volumes(exp, p, ones)
    system = ic + ec
    cells_in = ec if exp.cell_compartment == "ec" else ic
    fd = exp.feeding
    # the feed follows lactate by default, as hollow-fibre runs are operated, or when the scenario asks
    follows = fd is None and exp.feed_ml_per_min is None
    follows |= fd is not None and fd.lactate_setpoint_mM is not None and fd.perfusion_vvd is None
    feed_max = setpoint = None
    if follows:
        feed_l_per_day = exp.surface_area_m2 * p.get("hollow_fiber_feed_start_per_area", "L/day/m**2")
        if exp.feed_ml_per_min is not None:
            top = ones * exp.feed_ml_per_min * 1e-3 * 60 * PER_DAY
        else:
            top = exp.surface_area_m2 * p.get("hollow_fiber_feed_max_per_area", "L/day/m**2")
        feed_max = np.maximum(top, feed_l_per_day) / system
        if fd is not None and fd.lactate_setpoint_mM is not None:
            setpoint = ones * fd.lactate_setpoint_mM
        else:
            setpoint = p.get("hollow_fiber_lactate_setpoint", "mM")
    elif exp.feed_ml_per_min is not None:
        feed_l_per_day = ones * exp.feed_ml_per_min * 1e-3 * 60 * PER_DAY
    else:
        feed_l_per_day = ones * 0.0  # the scenario's feeding block sets exchange or perfusion instead
    return Layout(
        area=area,
        volume=system,
        product_volume=cells_in,
        attach=p.get("attachment_efficiency_hollow_fiber", ""),
        capacity=p.get("max_areal_density_hollow_fiber", "cell/cm**2") * area,
        surface="hollow_fiber",
        kla=p.get("hollow_fiber_oxygen_transfer", "1/day") * ones,
        supply="membrane gas exchanger of the circulation loop",
        feed=feed_l_per_day / system,
        feed_max=feed_max,
        feed_setpoint=setpoint,
        retains=True,
    )


def fixed_bed_flow(exp: Expansion, area_cm2: np.ndarray, p: UsageLog) -> tuple[np.ndarray, np.ndarray]:
    """(bed volume [L], medium flow through the bed [L/day]) of a fixed-bed bioreactor."""
    if exp.bed_volume_l is not None:
        bed = np.ones_like(area_cm2) * exp.bed_volume_l
    else:
        bed = area_cm2 / p.get("fixed_bed_area_per_bed_volume", "cm**2/L")
    height_cm = p.get("fixed_bed_height", "cm")
    cross_cm2 = bed * 1000.0 / height_cm
    velocity = (
        exp.linear_velocity_cm_per_s
        if exp.linear_velocity_cm_per_s is not None
        else p.get("fixed_bed_linear_velocity", "cm/s")
    )
    flow_l_per_day = velocity * cross_cm2 * 86400.0 / 1000.0
    return bed, flow_l_per_day


def fixed_bed_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    assert exp.surface_area_m2 is not None
    area = ones * exp.surface_area_m2 * 1e4
    if exp.working_volume_l is not None:
        volume = ones * exp.working_volume_l
    else:
        volume = area * p.get("fixed_bed_medium_volume_per_area", "L/cm**2")
    _, flow = fixed_bed_flow(exp, area, p)
    reservoir = p.get("fixed_bed_reservoir_oxygen_transfer", "1/day")
    # two resistances in series: re-oxygenation in the reservoir, and the oxygen the flow carries
    # through the bed (mean bed concentration halfway down a linear drop: conductance 2 Q / V)
    kla = 1.0 / (1.0 / reservoir + volume / (2.0 * flow))
    return Layout(
        area=area,
        volume=volume,
        attach=p.get("attachment_efficiency_fixed_bed", ""),
        capacity=p.get("max_areal_density_fixed_bed", "cell/cm**2") * area,
        surface="fixed_bed",
        kla=kla,
        supply="aerated reservoir and medium recirculated through the bed",
    )


def aggregate_capacity_coefficient(p: UsageLog) -> np.ndarray:
    """Coefficient a [cell mM^-1.5] of the oxygen-limited cells per aggregate, n = a (C - C_min)^1.5.

    Zero-order uptake Q = q / v_cell in a sphere keeps its centre above C_min up to
    R_c = sqrt(6 D (C - C_min) / Q); an aggregate then holds 4/3 pi R_c³ / v_cell cells.
    """
    d = p.get("oxygen_diffusivity", "m**2/day")
    v_cell = p.get("aggregate_volume_per_cell", "m**3/cell")
    q_cell = p.get("oxygen_uptake_rate_aggregate", "mmol/cell/day") * 1e-3  # mol/cell/day
    q_vol = q_cell / v_cell  # mol/m³/day
    # C in mM = mol/m³, so R_c = sqrt(6 D (C - C_min) / q_vol) [m]
    r_coeff = np.sqrt(6.0 * d / q_vol)  # m per (mol/m³)^0.5
    return cast("np.ndarray", 4.0 / 3.0 * math.pi * r_coeff**3 / v_cell)


def aggregate_radius_m(cells_per_aggregate: np.ndarray, p: UsageLog) -> np.ndarray:
    """Radius [m] of an aggregate of ``cells_per_aggregate`` cells at the measured packing."""
    v_cell = p.get("aggregate_volume_per_cell", "m**3/cell")
    return cast("np.ndarray", (3.0 * cells_per_aggregate * v_cell / (4.0 * math.pi)) ** (1.0 / 3.0))


def spheroid_layout(exp: Expansion, p: UsageLog, ones: np.ndarray) -> Layout:
    assert exp.working_volume_l is not None
    volume = ones * exp.working_volume_l
    if exp.agitation_rpm is not None:
        kla, supply = stirred_oxygen(exp, volume, p)
    else:
        kla = layer_diffusion_kla(p.get("static_medium_depth", "m"), p) * ones
        supply = "diffusion through the static medium layer"
    return Layout(
        area=np.zeros_like(volume),
        volume=volume,
        attach=p.get("aggregation_efficiency", ""),
        surface="aggregate",
        kla=kla,
        supply=supply,
    )


def complete_geometry(exp: Expansion, p: UsageLog, g: Layout) -> VesselGeometry:
    """One vessel's geometry from its platform's layout: seeding, capacity (aggregates: oxygen-limited)."""
    n = p.n
    ones = np.ones(n)
    nan = np.full(n, np.nan)
    s = exp.seeding
    if s.cells_per_cm2 is not None:
        seeded = s.cells_per_cm2 * g.area
    elif s.cells_per_ml is not None:
        seeded = s.cells_per_ml * 1000.0 * g.volume
    else:
        assert s.cells is not None
        seeded = ones * s.cells
    aggregates = np.zeros(n)
    agg_coeff = np.zeros(n)
    if g.surface == "aggregate":
        per_agg = (
            ones * exp.cells_per_aggregate
            if exp.cells_per_aggregate is not None
            else p.get("cells_per_aggregate", "cell")
        )
        aggregates = seeded * g.attach / per_agg
        agg_coeff = aggregates * aggregate_capacity_coefficient(p)
        c_star = p.get("oxygen_saturation_medium", "mM")
        c_min = c_star * p.get("oxygen_minimum_fraction", "")
        capacity = agg_coeff * (c_star - c_min) ** 1.5
    else:
        assert g.capacity is not None
        capacity = g.capacity
    return VesselGeometry(
        area_cm2=g.area,
        volume_l=g.volume,
        product_volume_l=g.product_volume if g.product_volume is not None else g.volume,
        seeded_cells=seeded,
        attached_fraction=g.attach,
        capacity_cells=capacity,
        surface=g.surface,
        microcarrier_diameter_m=g.diameter if g.diameter is not None else nan,
        oxygen_transfer_per_day=g.kla,
        oxygen_supply=g.supply,
        aggregates=aggregates,
        aggregate_capacity=agg_coeff,
        harvest_efficiency=p.get("harvest_efficiency", ""),
        feed_dilution_per_day=g.feed if g.feed is not None else np.zeros(n),
        retains_product=g.retains,
        addition=g.addition,
        feed_max_per_day=g.feed_max,
        feed_lactate_setpoint_mM=g.feed_setpoint,
    )
