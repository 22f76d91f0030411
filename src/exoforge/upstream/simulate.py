"""Upstream simulation: expansion, conditioning and collections for a batch of N parameter sets.

The schedule (seeding, medium exchanges, the switch to conditioning medium,
collections with medium renewal) is the same for every member of the batch;
parameters differ. Between events the kinetics of
:mod:`exoforge.upstream.kinetics` are integrated with the batch RK4 of
:mod:`exoforge.engine.integrate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exoforge.engine.integrate import rk4_segment
from exoforge.parameters import UsageLog
from exoforge.resources import Resource
from exoforge.scenario import MICROCARRIER_PLATFORMS, Scenario
from exoforge.upstream import kinetics as kin
from exoforge.upstream.checks import Check, culture_checks, stirred_checks
from exoforge.upstream.platforms import VesselGeometry, vessel_geometry

DT_MAX_DAYS = 0.05


@dataclass(frozen=True)
class Event:
    """A discrete schedule action at time ``t`` [day]."""

    t: float
    kind: str  # 'exchange' | 'start_conditioning' | 'collect'
    fraction: float = 1.0


@dataclass(frozen=True)
class Schedule:
    """Times [day] of the run and its events."""

    expansion_days: float
    conditioning_days: float
    collections: int
    events: tuple[Event, ...]
    perfusion_expansion: float  # 1/day
    perfusion_conditioning: float  # 1/day

    @property
    def end(self) -> float:
        return self.expansion_days + self.conditioning_days * self.collections


def build_schedule(scn: Scenario) -> Schedule:
    """Discrete events of the culture, from the scenario."""
    exp = scn.expansion
    cond = scn.conditioning
    events: list[Event] = []
    perf = 0.0
    if exp.feeding is not None and exp.feeding.perfusion_vvd is not None:
        perf = exp.feeding.perfusion_vvd
    elif exp.feeding is not None:
        assert exp.feeding.every_days is not None and exp.feeding.exchange_fraction is not None
        t = exp.feeding.every_days
        while t < exp.days - 1e-9:
            events.append(Event(t, "exchange", exp.feeding.exchange_fraction))
            t += exp.feeding.every_days
    events.append(Event(exp.days, "start_conditioning"))
    for j in range(1, cond.collections + 1):
        events.append(Event(exp.days + j * cond.days, "collect"))
    return Schedule(exp.days, cond.days, cond.collections, tuple(events), perf, perf)


@dataclass
class UpstreamResult:
    """Per-vessel and total outcomes of the culture, arrays of shape (N,).

    Totals are over all vessels. Units: cells, particles, L, µg, day.
    """

    vessels: int
    geometry: VesselGeometry
    seeded_cells: np.ndarray
    cells_end_expansion: np.ndarray
    cells_end: np.ndarray
    secreted_particles: np.ndarray  # during conditioning, all collections
    harvested_particles: np.ndarray  # in the collected medium
    harvest_volume_l: np.ndarray
    harvest_protein_ug: np.ndarray
    harvest_background_particles: np.ndarray
    conditioning_cell_days: np.ndarray
    expansion_medium_l: np.ndarray
    conditioning_medium_l: np.ndarray
    min_glucose_mM: np.ndarray
    max_lactate_mM: np.ndarray
    exchanges: int
    collections: int
    schedule: Schedule
    series: dict[str, np.ndarray] = field(default_factory=dict)  # time series (N small only)
    resources: list[Resource] = field(default_factory=list)  # what the culture consumes
    checks: list[Check] = field(default_factory=list)  # engineering checks of the platform

    @property
    def particles_per_cell_per_day(self) -> np.ndarray:
        return self.secreted_particles / np.maximum(self.conditioning_cell_days, 1e-300)


def phase_multipliers(scn: Scenario, p: UsageLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(EV factor during expansion, EV factor during conditioning, growth factor during conditioning)."""
    from exoforge.evidence.effects import combine_log_multipliers
    from exoforge.evidence.store import load_strategies

    n = p.n
    platform_name = f"platform.{scn.expansion.platform}.ev_secretion"
    platform = p.get(platform_name, "") if p.has(platform_name) else np.ones(n)
    catalogue = {s.id: s for s in load_strategies()}
    ev_logs: list[np.ndarray] = []
    growth_logs: list[np.ndarray] = []
    for sid in scn.conditioning.strategies:
        effect = catalogue[sid].effect
        name = f"strategy.{sid}.{effect}"
        if not p.has(name):
            continue  # no numeric evidence: the simulation warns and applies no effect
        (ev_logs if effect == "ev_secretion" else growth_logs).append(np.log(p.get(name, "")))
    shrink = p.get("strategy_interaction_shrinkage", "") if len(ev_logs) > 1 else np.ones(n)
    ev_strat = np.exp(combine_log_multipliers(np.array(ev_logs).reshape(len(ev_logs), n), shrink))
    growth = np.exp(np.sum(np.array(growth_logs).reshape(len(growth_logs), n), axis=0))
    medium = scn.conditioning.medium
    if medium == "same":
        cond_growth = np.ones(n)
    else:
        cond_growth = p.get(f"conditioning_growth_factor.{medium}", "")
    return platform, platform * ev_strat, cond_growth * growth


def simulate_upstream(scn: Scenario, p: UsageLog, record_series: bool = False) -> UpstreamResult:
    """Integrate the culture of ``scn`` for every parameter set in ``p``."""
    n = p.n
    exp = scn.expansion
    geo = vessel_geometry(exp, p)
    vol = geo.volume_l
    density_name = "max_areal_density_microcarrier" if geo.surface == "microcarrier" else "max_areal_density_planar"
    kp = kin.KineticParameters(
        mu_max=p.get("growth_rate_max", "1/day"),
        t_lag=p.get("lag_time", "day"),
        x_max=p.get(density_name, "cell/cm**2") * geo.area_cm2,
        k_death=p.get("death_rate", "1/day"),
        k_glucose=p.get("glucose_monod_constant", "mM"),
        k_lactate=p.get("lactate_inhibition_constant", "mM"),
        q_glucose=p.get("glucose_uptake_rate", "mmol/cell/day"),
        y_lactate=p.get("lactate_yield_on_glucose", ""),
        q_ev=p.get("ev_secretion_rate", "particle/cell/day"),
        k_ev_loss=p.get("ev_loss_rate", "1/day"),
        q_protein=p.get("protein_secretion_rate", "ug/cell/day"),
        volume=vol,
    )
    exp_medium = exp.medium
    cond_medium = exp.medium if scn.conditioning.medium == "same" else scn.conditioning.medium
    g_exp = p.get(f"medium_glucose.{exp_medium}", "mM")
    g_cond = p.get(f"medium_glucose.{cond_medium}", "mM")
    prot_exp = p.get(f"medium_protein.{exp_medium}", "ug/L")
    prot_cond = p.get(f"medium_protein.{cond_medium}", "ug/L")
    bg_cond = p.get(f"medium_background_particles.{cond_medium}", "particle/L")
    bg_exp = p.get(f"medium_background_particles.{exp_medium}", "particle/L")
    carryover = p.get("medium_carryover_fraction", "")
    ev_exp, ev_cond, growth_cond = phase_multipliers(scn, p)
    sched = build_schedule(scn)

    y = np.zeros((kin.N_STATES, n))
    y[kin.VIABLE] = geo.seeded_cells * geo.attached_fraction
    y[kin.GLUCOSE] = g_exp
    y[kin.PROTEIN] = prot_exp * vol
    ones = np.ones(n)
    expansion = kin.PhaseInputs(ones, ev_exp, sched.perfusion_expansion * ones, g_exp, prot_exp, 0.0)
    conditioning = kin.PhaseInputs(growth_cond, ev_cond, sched.perfusion_conditioning * ones, g_cond, prot_cond, 0.0)

    series_t: list[float] = []
    series_y: list[np.ndarray] = []
    collected = {"ev": np.zeros(n), "protein": np.zeros(n), "volume": np.zeros(n), "bg": np.zeros(n)}
    min_glc = np.full(n, np.inf)
    max_lac = np.zeros(n)

    def record(t: float, state: np.ndarray) -> None:
        series_t.append(t)
        series_y.append(state.copy())

    def track(state: np.ndarray) -> None:
        np.minimum(min_glc, state[kin.GLUCOSE], out=min_glc)
        np.maximum(max_lac, state[kin.LACTATE], out=max_lac)

    if record_series:
        record(0.0, y)
    t = 0.0
    phase = expansion
    cells_end_expansion = y[kin.VIABLE].copy()
    cond_start = {
        "secreted": np.zeros(n),
        "cell_days": np.zeros(n),
        "outflow": np.zeros(n),
        "protein_outflow": np.zeros(n),
    }
    exchanges = 0
    for ev in sched.events:
        y = rk4_segment(
            kin.rhs, y, t, ev.t, DT_MAX_DAYS, (kp, phase), record if record_series else None, record_every=3
        )
        track(y)
        t = ev.t
        if ev.kind == "exchange":
            f = ev.fraction
            y[kin.GLUCOSE] = (1 - f) * y[kin.GLUCOSE] + f * g_exp
            y[kin.LACTATE] *= 1 - f
            y[kin.EV] *= 1 - f
            y[kin.PROTEIN] = (1 - f) * y[kin.PROTEIN] + f * prot_exp * vol
            exchanges += 1
        elif ev.kind == "start_conditioning":
            cells_end_expansion = y[kin.VIABLE].copy()
            y[kin.GLUCOSE] = g_cond
            y[kin.LACTATE] = 0.0
            y[kin.EV] = 0.0
            # a rinse leaves a residual film of expansion medium (protein and particles)
            y[kin.PROTEIN] = prot_cond * vol + carryover * y[kin.PROTEIN]
            collected["bg"] += carryover * bg_exp * vol
            cond_start = {
                "secreted": y[kin.EV_SECRETED].copy(),
                "cell_days": y[kin.CELL_DAYS].copy(),
                "outflow": y[kin.EV_OUTFLOW].copy(),
                "protein_outflow": y[kin.PROTEIN_OUTFLOW].copy(),
            }
            phase = kin.PhaseInputs(growth_cond, ev_cond, conditioning.dilution, g_cond, prot_cond, 0.0)
        elif ev.kind == "collect":
            collected["ev"] += y[kin.EV]
            collected["protein"] += y[kin.PROTEIN]
            collected["volume"] += vol
            collected["bg"] += bg_cond * vol
            y[kin.EV] = 0.0
            y[kin.GLUCOSE] = g_cond
            y[kin.LACTATE] = 0.0
            y[kin.PROTEIN] = prot_cond * vol
        if record_series:
            record(t, y)

    cond_days = sched.conditioning_days * sched.collections
    perfused_out = y[kin.EV_OUTFLOW] - cond_start["outflow"]
    perf_vol_cond = sched.perfusion_conditioning * vol * cond_days
    perf_vol_exp = sched.perfusion_expansion * vol * sched.expansion_days
    # perfusion outflow during conditioning is collected with the medium
    harvested = collected["ev"] + perfused_out
    harvest_volume = collected["volume"] + perf_vol_cond
    m = float(exp.vessels)
    series: dict[str, np.ndarray] = {}
    if record_series:
        arr = np.array(series_y)  # (T, S, N)
        series["time_day"] = np.array(series_t)
        for i, name in enumerate(kin.STATE_NAMES):
            series[name] = arr[:, i, :] * (m if name in ("viable_cells", "dead_cells") else 1.0)
    n_exchange_volume = exchanges * (
        exp.feeding.exchange_fraction if exp.feeding and exp.feeding.exchange_fraction else 0
    )
    result = UpstreamResult(
        vessels=exp.vessels,
        geometry=geo,
        seeded_cells=geo.seeded_cells * m,
        cells_end_expansion=cells_end_expansion * m,
        cells_end=y[kin.VIABLE] * m,
        secreted_particles=(y[kin.EV_SECRETED] - cond_start["secreted"]) * m,
        harvested_particles=harvested * m,
        harvest_volume_l=harvest_volume * m,
        harvest_protein_ug=(collected["protein"] + y[kin.PROTEIN_OUTFLOW] - cond_start["protein_outflow"]) * m,
        harvest_background_particles=(collected["bg"] + bg_cond * perf_vol_cond) * m,
        conditioning_cell_days=(y[kin.CELL_DAYS] - cond_start["cell_days"]) * m,
        expansion_medium_l=(vol * (1 + n_exchange_volume) + perf_vol_exp) * m,
        conditioning_medium_l=harvest_volume * m,
        min_glucose_mM=min_glc,
        max_lactate_mM=max_lac,
        exchanges=exchanges,
        collections=sched.collections,
        schedule=sched,
        series=series,
    )
    result.resources = upstream_resources(scn, result, p)
    peak_cells_vessel = np.maximum(result.cells_end_expansion, result.cells_end) / result.vessels
    result.checks = culture_checks(min_glc, max_lac, p) + stirred_checks(
        scn, geo.volume_l, geo.microcarrier_diameter_m, peak_cells_vessel, p
    )
    return result


def upstream_resources(scn: Scenario, up: UpstreamResult, p: UsageLog) -> list[Resource]:
    """Media, vessels, microcarriers and operator hours of the culture, for costing."""
    exp = scn.expansion
    m = float(exp.vessels)
    cond_medium = exp.medium if scn.conditioning.medium == "same" else scn.conditioning.medium
    res = [
        Resource(f"{exp.medium}_medium_per_l", up.expansion_medium_l, "L", "expansion", "media"),
        Resource(f"{cond_medium}_medium_per_l", up.conditioning_medium_l, "L", "conditioning", "media"),
    ]
    geo = up.geometry
    if exp.platform in MICROCARRIER_PLATFORMS:
        assert exp.microcarrier is not None
        grams = exp.microcarrier.g_per_l * geo.volume_l * m
        res.append(Resource("microcarrier_per_g", grams, "g", "expansion"))
        res.append(Resource("bioreactor_vessel_per_l", geo.volume_l * m, "L", "expansion"))
    else:
        res.append(Resource("planar_vessel_per_cm2", geo.area_cm2 * m, "cm**2", "expansion"))
    seed_h = p.get("labour.seeding_hours_per_vessel", "h") * m
    handle_h = p.get("labour.exchange_hours_per_vessel", "h") * m
    res += [
        Resource("labour_rate_per_h", seed_h + handle_h * up.exchanges, "h", "expansion", "labour"),
        Resource("labour_rate_per_h", handle_h * (1 + up.collections), "h", "conditioning", "labour"),
    ]
    return res
