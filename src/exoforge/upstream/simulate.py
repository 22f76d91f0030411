"""Upstream simulation: expansion, conditioning and collections for a batch of N parameter sets.

The schedule (seeding, medium exchanges or fed-batch top-ups, microcarrier
additions, the switch to conditioning medium, collections with medium renewal)
is the same for every member of the batch; parameters differ. Between events
the kinetics of :mod:`exoforge.upstream.kinetics` are integrated with the batch
RK4 of :mod:`exoforge.engine.integrate`, all N members at once, at
:data:`DT_MAX_DAYS`. Members whose glucose or glutamine runs out at a rate that
makes that step unstable are integrated again over the segment at an eighth of
it (:func:`integrate_segment`); the choice rests on each member's own
trajectory, so results do not depend on how a batch is chunked. KPIs stay
within 2e-4 of scipy's LSODA on every platform example (sampled parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import cast

import numpy as np

from exoforge.engine.integrate import rk4_segment
from exoforge.evidence.oxygen_response import AIR_O2_PERCENT
from exoforge.parameters import UsageLog
from exoforge.resources import Resource
from exoforge.scenario import Scenario
from exoforge.upstream import kinetics as kin
from exoforge.upstream.checks import (
    Check,
    culture_checks,
    dissolved_oxygen_at,
    oxygen_checks,
    oxygen_uptake_capacity,
    stirred_checks,
)
from exoforge.upstream.platform_models import platform_model, vessel_geometry
from exoforge.upstream.platforms import VesselGeometry

#: Largest RK4 step [day]; checked against LSODA in the tests.
DT_MAX_DAYS = 0.05
#: Largest h x lambda of a substrate that may run out within a segment (RK4 is stable below 2.78).
STIFFNESS_LIMIT = 2.5
#: Step class of members that need a finer step: DT_MAX_DAYS / 2**FINE_STEP_CLASS.
FINE_STEP_CLASS = 3
#: A substrate that ends a segment below this many Monod constants counts as run down: it may
#: have passed through the stiff region within the segment (a glutamine balance oscillating
#: between 0.06 and 0.17 mM at K = 0.055 mM ended segments above 3 K and cost 0.3 % on cells,
#: measured against LSODA).
RUN_DOWN = 10.0

#: Columns (members) per block of the coarse pass: a block's (states x columns) work arrays stay
#: in a core's cache, while the fine-step pass takes the members flagged in every block at once,
#: so its fixed cost (numpy call overhead on a few hundred columns) is paid once per segment.
#: Monte Carlo at N = 1e5, one process, same run: 2,048 columns 9,400 evaluations/s (call
#: overhead), 4,096-8,192 columns 11,500-13,300/s, 16,384 11,500/s, 32,768 12,000/s.
COARSE_BLOCK_COLUMNS = 8192

#: Order of simultaneous events: additions first, collections last.
EVENT_ORDER = {"add_microcarriers": 0, "exchange": 1, "feed": 1, "start_conditioning": 2, "collect": 3}


@dataclass(frozen=True)
class Event:
    """A discrete schedule action at time ``t`` [day]."""

    t: float
    kind: str  # 'exchange' | 'feed' | 'add_microcarriers' | 'start_conditioning' | 'collect'
    fraction: float = 1.0  # exchanged fraction ('exchange'), glucose set-point in mM ('feed')


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

    def count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.events)


def _every(start: float, step: float, stop: float) -> list[float]:
    out, t = [], start
    while t < stop - 1e-9:
        out.append(t)
        t += step
    return out


def build_schedule(scn: Scenario) -> Schedule:
    """Discrete events of the culture, from the scenario."""
    exp = scn.expansion
    cond = scn.conditioning
    events: list[Event] = []
    perf = 0.0
    feeding = exp.feeding
    if feeding is not None and feeding.perfusion_vvd is not None:
        perf = feeding.perfusion_vvd
    elif feeding is not None and feeding.exchange_fraction is not None:
        assert feeding.every_days is not None
        for t in _every(feeding.every_days, feeding.every_days, exp.days):
            events.append(Event(t, "exchange", feeding.exchange_fraction))
    elif feeding is not None and feeding.glucose_setpoint_mM is not None:
        assert feeding.every_days is not None
        for t in _every(feeding.every_days, feeding.every_days, exp.days):
            events.append(Event(t, "feed", feeding.glucose_setpoint_mM))
    mc = exp.microcarrier
    if mc is not None and mc.add_on_day is not None and mc.add_on_day < exp.days:
        events.append(Event(mc.add_on_day, "add_microcarriers"))
    events.append(Event(exp.days, "start_conditioning"))
    for j in range(1, cond.collections + 1):
        events.append(Event(exp.days + j * cond.days, "collect"))
    events.sort(key=lambda e: (e.t, EVENT_ORDER[e.kind]))
    return Schedule(exp.days, cond.days, cond.collections, tuple(events), perf, perf)


@dataclass
class UpstreamResult:
    """Per-vessel and total outcomes of the culture, arrays of shape (N,).

    Totals are over all vessels. Units: cells, particles, L, µg, mM, day.
    """

    vessels: int
    geometry: VesselGeometry
    seeded_cells: np.ndarray
    cells_end_expansion: np.ndarray
    cells_recovered: np.ndarray  # cells a harvest at the end of expansion would recover
    cells_end: np.ndarray
    dead_cells_end: np.ndarray  # dead cells in the vessels at the end of the run
    peak_cells: np.ndarray
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
    max_ammonia_mM: np.ndarray
    exchanges: int
    collections: int
    schedule: Schedule
    series: dict[str, np.ndarray] = field(default_factory=dict)  # time series (N small only)
    resources: list[Resource] = field(default_factory=list)  # what the culture consumes
    checks: list[Check] = field(default_factory=list)  # engineering checks of the platform

    @property
    def particles_per_cell_per_day(self) -> np.ndarray:
        return cast("np.ndarray", self.secreted_particles / np.maximum(self.conditioning_cell_days, 1e-300))


@lru_cache(maxsize=1)
def strategy_effects() -> dict[str, str]:
    """Simulator effect of every strategy of the packaged catalogue (read once: evaluations are many)."""
    from exoforge.evidence.store import load_strategies

    return {s.id: s.effect for s in load_strategies()}


def phase_multipliers(scn: Scenario, p: UsageLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(EV factor during expansion, EV factor during conditioning, growth factor during conditioning).

    A user's ``ev_secretion_rate`` with ``measured_on: this_process`` takes no platform or strategy
    factor on secretion (it was measured with them); growth factors still apply.
    """
    from exoforge.evidence.effects import combine_log_multipliers

    n = p.n
    # a secretion rate measured on this very process already holds every effect on secretion
    secretion_effects = scn.measured_on("ev_secretion_rate") != "this_process"
    platform_name = f"platform.{scn.expansion.platform}.ev_secretion"
    platform = p.get(platform_name, "") if secretion_effects and p.has(platform_name) else np.ones(n)
    effects = strategy_effects()
    ev_logs: list[np.ndarray] = []
    growth_logs: list[np.ndarray] = []
    for sid in scn.conditioning.strategies:
        effect = effects[sid]
        name = f"strategy.{sid}.{effect}"
        if not p.has(name):
            continue  # no numeric evidence: the simulation warns and applies no effect
        if effect == "ev_secretion" and not secretion_effects:
            continue
        log_effect = np.log(p.get(name, ""))
        if sid == "hypoxia":
            # the pooled effect is the one measured at 5 % O2: scale it to the scenario's O2 level
            from exoforge.evidence.oxygen_response import hypoxia_response

            log_effect = log_effect * hypoxia_response(scn.conditioning.gas_oxygen_percent)
        (ev_logs if effect == "ev_secretion" else growth_logs).append(log_effect)
    shrink = p.get("strategy_interaction_shrinkage", "") if len(ev_logs) > 1 else np.ones(n)
    ev_strat = np.exp(combine_log_multipliers(np.array(ev_logs).reshape(len(ev_logs), n), shrink))
    growth = np.exp(np.sum(np.array(growth_logs).reshape(len(growth_logs), n), axis=0))
    medium = scn.conditioning.medium
    if medium == "same":
        cond_growth = np.ones(n)
    else:
        cond_growth = p.get(f"conditioning_growth_factor.{medium}", "")
    return platform, platform * ev_strat, cond_growth * growth


def conditioning_death_factor(scn: Scenario, p: UsageLog) -> np.ndarray:
    """Multiplier on the death rate during conditioning (1 when the expansion medium is kept)."""
    medium = scn.conditioning.medium
    if medium == "same":
        return np.ones(p.n)
    return p.get(f"conditioning_death_factor.{medium}", "")


def kinetic_parameters(scn: Scenario, geo: VesselGeometry, p: UsageLog) -> kin.KineticParameters:
    """The kinetic constants of one vessel of ``scn`` for every member of the batch."""
    aggregates = geo.surface == "aggregate"
    k_glucose = p.get("glucose_monod_constant", "mM")
    reference_glucose = p.get(f"medium_glucose.{scn.expansion.medium}", "mM")
    # the growth rates in the data were measured in standard medium: scale the Monod term so that
    # fresh expansion medium gives the reported rate instead of counting its glucose term twice
    growth = p.get("growth_rate_max", "1/day") * (k_glucose + reference_glucose) / reference_glucose
    if aggregates:
        growth = growth * p.get("aggregate_growth_factor", "")
    c_star = p.get("oxygen_saturation_medium", "mM")
    k_oxygen = p.get("oxygen_monod_constant", "mM")
    # growth rates and oxygen uptake were measured in air-saturated medium: the same reference scaling
    growth = growth * (k_oxygen + c_star) / c_star
    return kin.KineticParameters(
        mu_max=growth,
        t_lag=p.get("lag_time", "day"),
        theta=p.get("contact_inhibition_exponent", ""),
        k_death=p.get("death_rate", "1/day"),
        k_glucose=k_glucose,
        k_lactate=p.get("lactate_inhibition_constant", "mM"),
        k_ammonia=p.get("ammonia_inhibition_constant", "mM"),
        q_glucose=p.get("glucose_uptake_rate", "mmol/cell/day"),
        y_lactate=p.get("lactate_yield_on_glucose", ""),
        q_glutamine=p.get("glutamine_uptake_rate", "mmol/cell/day"),
        k_glutamine=p.get("glutamine_monod_constant", "mM"),
        y_ammonia=p.get("ammonia_yield_on_glutamine", ""),
        k_glutamine_decay=p.get("glutamine_decomposition_rate", "1/day"),
        q_oxygen=oxygen_uptake_capacity(p, aggregates),
        k_oxygen=k_oxygen,
        oxygen_saturation=c_star,
        kla=geo.oxygen_transfer_per_day,
        oxygen_minimum=c_star * p.get("oxygen_minimum_fraction", "") if aggregates else np.zeros(p.n),
        aggregate_capacity=geo.aggregate_capacity,
        q_ev=p.get("ev_secretion_rate", "particle/cell/day"),
        k_ev_loss=p.get("ev_loss_rate", "1/day"),
        q_protein=p.get("protein_secretion_rate", "ug/cell/day"),
        k_transfer=p.get("bead_to_bead_transfer_rate", "1/day") if geo.addition is not None else np.zeros(p.n),
        volume=geo.volume_l,
        product_volume=geo.product_volume_l,
        aggregates=aggregates,
    )


@dataclass(frozen=True)
class Media:
    """Composition of the expansion and conditioning media, arrays (N,)."""

    glucose: np.ndarray  # mM
    glutamine: np.ndarray  # mM
    protein: np.ndarray  # ug/L
    background: np.ndarray  # particle/L

    @classmethod
    def of(cls, medium: str, p: UsageLog, basal: str | None = None) -> Media:
        """The medium of supplement ``medium`` on basal formulation ``basal``.

        Glucose and glutamine come from the basal medium of the catalogue (``basal_glucose.*``,
        ``basal_glutamine.*``) when one is named, else from the supplement's usual medium
        (``medium_glucose.*``, ``medium_glutamine.*``); protein and particles from the supplement.
        """
        glucose = f"basal_glucose.{basal}" if basal else f"medium_glucose.{medium}"
        glutamine = f"basal_glutamine.{basal}" if basal else f"medium_glutamine.{medium}"
        return cls(
            p.get(glucose, "mM"),
            p.get(glutamine, "mM"),
            p.get(f"medium_protein.{medium}", "ug/L"),
            p.get(f"medium_background_particles.{medium}", "particle/L"),
        )


def culture_media(scn: Scenario, p: UsageLog) -> tuple[Media, Media]:
    """(expansion medium, conditioning medium) of the scenario, basal formulation included."""
    exp, cond = scn.expansion, scn.conditioning
    cond_medium: str
    if cond.medium == "same":
        cond_medium, cond_basal = exp.medium, exp.basal_medium
    else:
        cond_medium, cond_basal = cond.medium, cond.basal_medium or exp.basal_medium
    return Media.of(exp.medium, p, exp.basal_medium), Media.of(cond_medium, p, cond_basal)


def _replace_fraction(y: np.ndarray, f: np.ndarray | float, fresh: Media, product_too: bool, vp: np.ndarray) -> None:
    """Replace a fraction ``f`` of the medium by fresh medium, in place."""
    y[kin.GLUCOSE] = (1 - f) * y[kin.GLUCOSE] + f * fresh.glucose
    y[kin.GLUTAMINE] = (1 - f) * y[kin.GLUTAMINE] + f * fresh.glutamine
    y[kin.LACTATE] *= 1 - f
    y[kin.AMMONIA] *= 1 - f
    if product_too:
        y[kin.EV] *= 1 - f
        y[kin.PROTEIN] = (1 - f) * y[kin.PROTEIN] + f * fresh.protein * vp


def feed_control(
    scn: Scenario, geo: VesselGeometry, sched: Schedule, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(lactate set-point [mM], lowest and highest dilution [1/day]) of a feed that follows lactate, or None.

    A hollow fibre's own feed follows lactate unless the scenario fixes its rate; perfusion follows it
    when ``feeding.lactate_setpoint_mM`` is given with ``perfusion_vvd`` (the highest rate).
    """
    ones = np.ones(n)
    fd = scn.expansion.feeding
    if fd is not None and fd.lactate_setpoint_mM is not None and fd.perfusion_vvd is not None:
        low = (fd.perfusion_min_vvd or 0.0) * ones + geo.feed_dilution_per_day
        high = sched.perfusion_expansion * ones + geo.feed_dilution_per_day
        return fd.lactate_setpoint_mM * ones, low, high
    if geo.feed_lactate_setpoint_mM is not None and geo.feed_max_per_day is not None:
        return geo.feed_lactate_setpoint_mM, geo.feed_dilution_per_day, geo.feed_max_per_day
    return None


def simulate_upstream(scn: Scenario, p: UsageLog, record_series: bool = False) -> UpstreamResult:
    """Integrate the culture of ``scn`` for every parameter set in ``p``."""
    n = p.n
    from exoforge.upstream.budget import check as check_budget

    check_budget(scn, n, "this run", chunk_members=COARSE_BLOCK_COLUMNS)
    exp = scn.expansion
    geo = vessel_geometry(exp, p)
    vol, vp = geo.volume_l, geo.product_volume_l
    kp = kinetic_parameters(scn, geo, p)
    m_exp, m_cond = culture_media(scn, p)
    carryover = p.get("medium_carryover_fraction", "")
    ev_exp, ev_cond, growth_cond = phase_multipliers(scn, p)
    death_cond = conditioning_death_factor(scn, p)
    sched = build_schedule(scn)
    ones = np.ones(n)
    product_factor = 0.0 if geo.retains_product else 1.0
    control = feed_control(scn, geo, sched, n)
    if control is None:
        dilution_exp = sched.perfusion_expansion * ones + geo.feed_dilution_per_day
        dilution_cond = sched.perfusion_conditioning * ones + geo.feed_dilution_per_day
        setpoint, dilution_max = None, None
    else:
        setpoint, dilution_exp, dilution_max = control
        dilution_cond = dilution_exp
    expansion = kin.PhaseInputs(
        growth_factor=ones,
        death_factor=ones,
        ev_factor=ev_exp,
        dilution=dilution_exp,
        product_dilution=dilution_exp * product_factor,
        glucose_in=m_exp.glucose,
        glutamine_in=m_exp.glutamine,
        protein_in=m_exp.protein,
        capacity_total=geo.capacity_cells,
        t_seed=0.0,
        lactate_setpoint=setpoint,
        dilution_max=dilution_max,
        product_share=product_factor,
    )
    inputs = expansion

    y = np.zeros((kin.N_STATES, n))
    y[kin.VIABLE] = geo.seeded_cells * geo.attached_fraction
    y[kin.GLUCOSE] = m_exp.glucose
    y[kin.GLUTAMINE] = m_exp.glutamine
    y[kin.PROTEIN] = m_exp.protein * vp

    k_death = kp.k_death
    dead = np.zeros(n)  # dead cells and secreted particles: integrals of CELL_DAYS, phase by phase
    secreted = np.zeros(n)
    segment_start = np.zeros(n)
    series_t: list[float] = []
    series_y: list[np.ndarray] = []
    series_extra: list[np.ndarray] = []
    collected = {"ev": np.zeros(n), "protein": np.zeros(n), "volume": np.zeros(n), "bg": np.zeros(n)}
    min_glc = np.full(n, np.inf)
    max_lac = np.zeros(n)
    max_amm = np.zeros(n)
    peak = y[kin.VIABLE].copy()

    def record(t: float, state: np.ndarray) -> None:
        since = state[kin.CELL_DAYS] - segment_start
        series_t.append(t)
        series_y.append(state.copy())
        series_extra.append(
            np.array([dead + k_death * inputs.death_factor * since, secreted + kp.q_ev * inputs.ev_factor * since])
        )

    def close_segment(state: np.ndarray) -> None:
        """Book the segment's dead cells and secretion, and track extremes."""
        nonlocal segment_start
        since = state[kin.CELL_DAYS] - segment_start
        dead[:] += k_death * inputs.death_factor * since
        secreted[:] += kp.q_ev * inputs.ev_factor * since
        segment_start = state[kin.CELL_DAYS].copy()
        np.minimum(min_glc, state[kin.GLUCOSE], out=min_glc)
        np.maximum(max_lac, state[kin.LACTATE], out=max_lac)
        np.maximum(max_amm, state[kin.AMMONIA], out=max_amm)
        np.maximum(peak, state[kin.VIABLE], out=peak)

    if record_series:
        record(0.0, y)
    t = 0.0
    conditioning = False
    cells_end_expansion = y[kin.VIABLE].copy()
    fed_expansion = np.zeros(n)
    cond_start = {k: np.zeros(n) for k in ("secreted", "cell_days", "outflow", "protein_outflow")}
    exchanged_volume = np.zeros(n)  # per vessel, expansion
    added_grams = np.zeros(n)
    for ev in sched.events:
        y = integrate_segment(y, t, ev.t, kp, inputs, record if record_series else None)
        close_segment(y)
        t = ev.t
        if ev.kind == "exchange":
            _replace_fraction(y, ev.fraction, m_exp, not geo.retains_product, vp)
            exchanged_volume += ev.fraction * vol
        elif ev.kind == "feed":
            y[kin.GLUCOSE] = np.maximum(y[kin.GLUCOSE], ev.fraction)
        elif ev.kind == "add_microcarriers":
            assert geo.addition is not None
            added = p.get("max_areal_density_microcarrier", "cell/cm**2") * geo.addition.area_cm2
            added_grams = added_grams + geo.addition.grams
            inputs = replace(inputs, capacity_total=inputs.capacity_total + added, capacity_added=added, t_added=ev.t)
        elif ev.kind == "start_conditioning":
            cells_end_expansion = y[kin.VIABLE].copy()
            fed_expansion = y[kin.FED].copy()
            y[kin.GLUCOSE] = m_cond.glucose
            y[kin.GLUTAMINE] = m_cond.glutamine
            y[kin.LACTATE] = 0.0
            y[kin.AMMONIA] = 0.0
            y[kin.EV] = 0.0
            # a rinse leaves a residual film of expansion medium (protein and particles)
            y[kin.PROTEIN] = m_cond.protein * vp + carryover * y[kin.PROTEIN]
            collected["bg"] += carryover * m_exp.background * vp
            cond_start = {
                "secreted": secreted.copy(),
                "cell_days": y[kin.CELL_DAYS].copy(),
                "outflow": y[kin.EV_OUTFLOW].copy(),
                "protein_outflow": y[kin.PROTEIN_OUTFLOW].copy(),
            }
            conditioning = True
            gas_o2 = scn.conditioning.gas_oxygen_percent
            if gas_o2 < AIR_O2_PERCENT:
                # hypoxic conditioning: the medium saturates against the lower O2 of the gas phase (Henry's law)
                kp = replace(kp, oxygen_saturation=kp.oxygen_saturation * (gas_o2 / AIR_O2_PERCENT))
            inputs = replace(
                inputs,
                growth_factor=growth_cond,
                death_factor=death_cond,
                ev_factor=ev_cond,
                dilution=dilution_cond,
                product_dilution=dilution_cond * product_factor,
                glucose_in=m_cond.glucose,
                glutamine_in=m_cond.glutamine,
                protein_in=m_cond.protein,
            )
        elif ev.kind == "collect":
            collected["ev"] += y[kin.EV]
            collected["protein"] += y[kin.PROTEIN]
            collected["volume"] += vp
            collected["bg"] += m_cond.background * vp
            y[kin.EV] = 0.0
            y[kin.PROTEIN] = m_cond.protein * vp
            _replace_fraction(y, vp / vol, m_cond, False, vp)
        if record_series:
            record(t, y)
    assert conditioning

    perfused_out = y[kin.EV_OUTFLOW] - cond_start["outflow"]
    # medium fed continuously (perfusion or a hollow fibre's feed): rate x time at a fixed rate, else the
    # integral of the dilution rate that followed lactate
    if control is None:
        feed_exp_l = dilution_exp * vol * sched.expansion_days
        feed_cond_l = dilution_cond * vol * sched.conditioning_days * sched.collections
    else:
        feed_exp_l = fed_expansion * vol
        feed_cond_l = (y[kin.FED] - fed_expansion) * vol
    perfusate_cond_l = feed_cond_l * product_factor
    # perfusion outflow during conditioning is collected with the medium
    harvested = collected["ev"] + perfused_out
    harvest_volume = collected["volume"] + perfusate_cond_l
    m = float(exp.vessels)
    series: dict[str, np.ndarray] = {}
    if record_series:
        arr = np.array(series_y)  # (T, S, N)
        extra = np.array(series_extra)  # (T, 2, N)
        series["time_day"] = np.array(series_t)
        for i, name in enumerate(kin.STATE_NAMES):
            series[name] = arr[:, i, :] * (m if name == "viable_cells" else 1.0)
        series["dead_cells"] = extra[:, 0, :] * m
        series["ev_secreted"] = extra[:, 1, :]
        c_star = p.get("oxygen_saturation_medium", "mM")
        series["dissolved_oxygen_fraction"] = dissolved_oxygen_at(geo, arr[:, kin.VIABLE, :], p) / c_star
    result = UpstreamResult(
        vessels=exp.vessels,
        geometry=geo,
        seeded_cells=geo.seeded_cells * m,
        cells_end_expansion=cells_end_expansion * m,
        cells_recovered=cells_end_expansion * geo.harvest_efficiency * m,
        cells_end=y[kin.VIABLE] * m,
        dead_cells_end=dead * m,
        peak_cells=peak * m,
        secreted_particles=(secreted - cond_start["secreted"]) * m,
        harvested_particles=harvested * m,
        harvest_volume_l=harvest_volume * m,
        harvest_protein_ug=(collected["protein"] + y[kin.PROTEIN_OUTFLOW] - cond_start["protein_outflow"]) * m,
        harvest_background_particles=(collected["bg"] + m_cond.background * perfusate_cond_l) * m,
        conditioning_cell_days=(y[kin.CELL_DAYS] - cond_start["cell_days"]) * m,
        expansion_medium_l=(vol + exchanged_volume + feed_exp_l) * m,
        conditioning_medium_l=(vol + vp * (sched.collections - 1) + feed_cond_l) * m,
        min_glucose_mM=min_glc,
        max_lactate_mM=max_lac,
        max_ammonia_mM=max_amm,
        exchanges=sched.count("exchange") + sched.count("feed"),
        collections=sched.collections,
        schedule=sched,
        series=series,
    )
    result.resources = upstream_resources(scn, result, added_grams * m, p)
    result.checks = upstream_checks(scn, result, m_exp, p)
    return result


def needs_fine_step(y: np.ndarray, k: kin.KineticParameters) -> np.ndarray:
    """Members whose glucose or glutamine ended a segment run down and stiff.

    A substrate taken up fast at a low Monod constant makes its balance stiff once it runs
    out (rate constant q X / (V K)); RK4 is stable only for h q X / (V K) < 2.78. A member
    whose substrate ended the segment below :data:`RUN_DOWN` Monod constants with h q X / (V K) above
    :data:`STIFFNESS_LIMIT` is integrated again with the fine step. The test uses the member's
    own trajectory only, so a member's result does not depend on the batch it is in.
    """
    x = np.maximum(y[kin.VIABLE], 0.0)
    glucose = (y[kin.GLUCOSE] < RUN_DOWN * k.k_glucose) & (
        k.glucose_per_volume * x * DT_MAX_DAYS > STIFFNESS_LIMIT * k.k_glucose
    )
    glutamine = (y[kin.GLUTAMINE] < RUN_DOWN * k.k_glutamine) & (
        k.glutamine_per_volume * x * DT_MAX_DAYS > STIFFNESS_LIMIT * k.k_glutamine
    )
    return cast("np.ndarray", glucose | glutamine)


def _members(obj: object, index: np.ndarray | slice, n: int) -> object:
    """The members ``index`` of a dataclass of (N,) arrays (other fields shared); a slice gives views."""
    changes = {
        f.name: value[index]
        for f in fields(obj)  # type: ignore[arg-type]
        if f.init and isinstance(value := getattr(obj, f.name), np.ndarray) and value.shape == (n,)
    }
    return replace(obj, **changes)  # type: ignore[type-var]


def integrate_segment(
    y: np.ndarray,
    t0: float,
    t1: float,
    k: kin.KineticParameters,
    ph: kin.PhaseInputs,
    record: Callable[[float, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Advance every member from ``t0`` to ``t1`` with RK4 at :data:`DT_MAX_DAYS`.

    Members that end the segment with a stiff, run-down substrate (:func:`needs_fine_step`)
    are integrated again from ``t0`` at ``DT_MAX_DAYS / 2**FINE_STEP_CLASS``. With
    ``record`` (time series, small N) the whole batch is recorded at the step it needs.
    """
    fine_dt = DT_MAX_DAYS / 2**FINE_STEP_CLASS
    n = y.shape[1]
    if record is not None or n <= COARSE_BLOCK_COLUMNS:
        out = rk4_segment(kin.rhs, y, t0, t1, DT_MAX_DAYS, (k, ph))
    else:
        out = np.empty_like(y)
        for start in range(0, n, COARSE_BLOCK_COLUMNS):
            block = slice(start, start + COARSE_BLOCK_COLUMNS)
            args = (_members(k, block, n), _members(ph, block, n))
            out[:, block] = rk4_segment(kin.rhs, y[:, block], t0, t1, DT_MAX_DAYS, args)
    redo = needs_fine_step(out, k)
    if record is not None:
        dt = fine_dt if redo.any() else DT_MAX_DAYS
        return rk4_segment(kin.rhs, y, t0, t1, dt, (k, ph), record, record_every=round(3 * DT_MAX_DAYS / dt))
    if redo.any():
        index = np.flatnonzero(redo)
        args = (_members(k, index, n), _members(ph, index, n))
        out[:, index] = rk4_segment(kin.rhs, y[:, index], t0, t1, fine_dt, args)
    return out


def upstream_checks(scn: Scenario, up: UpstreamResult, m_exp: Media, p: UsageLog) -> list[Check]:
    """Every engineering check that applies to the scenario's platform."""
    geo = up.geometry
    peak = up.peak_cells / up.vessels
    checks = culture_checks(up.min_glucose_mM, up.max_lactate_mM, up.max_ammonia_mM, p)
    checks += oxygen_checks(geo, peak, p)
    model = platform_model(scn.expansion.platform)
    checks += stirred_checks(scn, geo, peak, p, model.impeller)
    checks += model.checks(scn, geo, peak, m_exp.glucose, p)
    return checks


def upstream_resources(scn: Scenario, up: UpstreamResult, added_grams: np.ndarray, p: UsageLog) -> list[Resource]:
    """Media, vessels, carriers and operator hours of the culture, for costing."""
    exp = scn.expansion
    m = float(exp.vessels)
    cond_medium = exp.medium if scn.conditioning.medium == "same" else scn.conditioning.medium
    res = [
        Resource(f"{exp.medium}_medium_per_l", up.expansion_medium_l, "L", "expansion", "media"),
        Resource(f"{cond_medium}_medium_per_l", up.conditioning_medium_l, "L", "conditioning", "media"),
    ]
    res += platform_model(exp.platform).vessel(exp, up.geometry, m, added_grams)
    seed_h = p.get("labour.seeding_hours_per_vessel", "h") * m
    handle_h = p.get("labour.exchange_hours_per_vessel", "h") * m
    handling = up.exchanges + up.schedule.count("add_microcarriers")
    res += [
        Resource("labour_rate_per_h", seed_h + handle_h * handling, "h", "expansion", "labour"),
        Resource("labour_rate_per_h", handle_h * (1 + up.collections), "h", "conditioning", "labour"),
    ]
    return res
