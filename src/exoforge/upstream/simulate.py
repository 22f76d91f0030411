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
    stirred_checks,
)
from exoforge.upstream.culture_inputs import (
    Media,
    _replace_fraction,
    conditioning_death_factor,
    culture_media,
    feed_control,
    kinetic_parameters,
    phase_multipliers,
)
from exoforge.upstream.platform_models import platform_model, vessel_geometry
from exoforge.upstream.platforms import VesselGeometry
from exoforge.upstream.schedule import Event, Schedule, build_schedule

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


def simulate_upstream(scn: Scenario, p: UsageLog, record_series: bool = False) -> UpstreamResult:
    """Integrate the culture of ``scn`` for every parameter set in ``p``."""
    from exoforge.upstream.budget import check as check_budget

    check_budget(scn, p.n, "this run", chunk_members=COARSE_BLOCK_COLUMNS)
    culture = _Culture(scn, p, record_series)
    for event in culture.sched.events:
        culture.advance_to(event.t)
        culture.apply(event)
    return culture.result()


class _Culture:
    """One culture of every member of the batch, run from event to event of its schedule.

    Holds the state (S, N) per vessel, the phase inputs in force, and what the result needs:
    dead cells and secretion booked segment by segment (integrals of ``CELL_DAYS``), what the
    collections harvested, extremes of glucose, lactate, ammonia and cells, and the time series.
    """

    def __init__(self, scn: Scenario, p: UsageLog, record_series: bool) -> None:
        n = p.n
        self.scn, self.p, self.record_series = scn, p, record_series
        self.geo = geo = vessel_geometry(scn.expansion, p)
        self.kp = kinetic_parameters(scn, geo, p)
        self.m_exp, self.m_cond = culture_media(scn, p)
        self.carryover = p.get("medium_carryover_fraction", "")
        ev_exp, self.ev_cond, self.growth_cond = phase_multipliers(scn, p)
        self.death_cond = conditioning_death_factor(scn, p)
        self.sched = sched = build_schedule(scn)
        ones = np.ones(n)
        self.product_factor = 0.0 if geo.retains_product else 1.0
        self.control = feed_control(scn, geo, sched, n)
        if self.control is None:
            self.dilution_exp = sched.perfusion_expansion * ones + geo.feed_dilution_per_day
            self.dilution_cond = sched.perfusion_conditioning * ones + geo.feed_dilution_per_day
            setpoint, dilution_max = None, None
        else:
            setpoint, self.dilution_exp, dilution_max = self.control
            self.dilution_cond = self.dilution_exp
        self.inputs = kin.PhaseInputs(
            growth_factor=ones,
            death_factor=ones,
            ev_factor=ev_exp,
            dilution=self.dilution_exp,
            product_dilution=self.dilution_exp * self.product_factor,
            glucose_in=self.m_exp.glucose,
            glutamine_in=self.m_exp.glutamine,
            protein_in=self.m_exp.protein,
            capacity_total=geo.capacity_cells,
            t_seed=0.0,
            lactate_setpoint=setpoint,
            dilution_max=dilution_max,
            product_share=self.product_factor,
        )
        y = np.zeros((kin.N_STATES, n))
        y[kin.VIABLE] = geo.seeded_cells * geo.attached_fraction
        y[kin.GLUCOSE] = self.m_exp.glucose
        y[kin.GLUTAMINE] = self.m_exp.glutamine
        y[kin.PROTEIN] = self.m_exp.protein * geo.product_volume_l
        self.y = y
        self.t = 0.0
        self.dead = np.zeros(n)  # dead cells and secreted particles: integrals of CELL_DAYS, phase by phase
        self.secreted = np.zeros(n)
        self.segment_start = np.zeros(n)
        self.series_t: list[float] = []
        self.series_y: list[np.ndarray] = []
        self.series_extra: list[np.ndarray] = []
        self.collected = {"ev": np.zeros(n), "protein": np.zeros(n), "volume": np.zeros(n), "bg": np.zeros(n)}
        self.min_glc = np.full(n, np.inf)
        self.max_lac = np.zeros(n)
        self.max_amm = np.zeros(n)
        self.peak = y[kin.VIABLE].copy()
        self.conditioning = False
        self.cells_end_expansion = y[kin.VIABLE].copy()
        self.fed_expansion = np.zeros(n)
        self.cond_start = {k: np.zeros(n) for k in ("secreted", "cell_days", "outflow", "protein_outflow")}
        self.exchanged_volume = np.zeros(n)  # per vessel, expansion
        self.added_grams = np.zeros(n)
        if record_series:
            self.record(0.0, y)

    # -- integration --------------------------------------------------------------------------------

    def record(self, t: float, state: np.ndarray) -> None:
        """Keep the state at ``t`` and the dead cells and secretion accrued up to it (time series)."""
        since = state[kin.CELL_DAYS] - self.segment_start
        self.series_t.append(t)
        self.series_y.append(state.copy())
        k_death, inputs = self.kp.k_death, self.inputs
        self.series_extra.append(
            np.array(
                [
                    self.dead + k_death * inputs.death_factor * since,
                    self.secreted + self.kp.q_ev * inputs.ev_factor * since,
                ]
            )
        )

    def advance_to(self, t_next: float) -> None:
        """Integrate to ``t_next``, then book the segment's dead cells and secretion and track extremes."""
        record = self.record if self.record_series else None
        y = self.y = integrate_segment(self.y, self.t, t_next, self.kp, self.inputs, record)
        self.t = t_next
        since = y[kin.CELL_DAYS] - self.segment_start
        self.dead[:] += self.kp.k_death * self.inputs.death_factor * since
        self.secreted[:] += self.kp.q_ev * self.inputs.ev_factor * since
        self.segment_start = y[kin.CELL_DAYS].copy()
        np.minimum(self.min_glc, y[kin.GLUCOSE], out=self.min_glc)
        np.maximum(self.max_lac, y[kin.LACTATE], out=self.max_lac)
        np.maximum(self.max_amm, y[kin.AMMONIA], out=self.max_amm)
        np.maximum(self.peak, y[kin.VIABLE], out=self.peak)

    # -- events -------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply a scheduled event to the state at its time."""
        y, geo = self.y, self.geo
        if event.kind == "exchange":
            _replace_fraction(y, event.fraction, self.m_exp, not geo.retains_product, geo.product_volume_l)
            self.exchanged_volume += event.fraction * geo.volume_l
        elif event.kind == "feed":
            y[kin.GLUCOSE] = np.maximum(y[kin.GLUCOSE], event.fraction)
        elif event.kind == "add_microcarriers":
            self._add_microcarriers(event.t)
        elif event.kind == "start_conditioning":
            self._start_conditioning()
        elif event.kind == "collect":
            self._collect()
        if self.record_series:
            self.record(self.t, y)

    def _add_microcarriers(self, t: float) -> None:
        addition = self.geo.addition
        assert addition is not None
        added = self.p.get("max_areal_density_microcarrier", "cell/cm**2") * addition.area_cm2
        self.added_grams = self.added_grams + addition.grams
        inputs = self.inputs
        self.inputs = replace(inputs, capacity_total=inputs.capacity_total + added, capacity_added=added, t_added=t)

    def _start_conditioning(self) -> None:
        """Rinse and switch to conditioning medium: the secretion phase's inputs from now on."""
        y, m_cond, vp = self.y, self.m_cond, self.geo.product_volume_l
        self.cells_end_expansion = y[kin.VIABLE].copy()
        self.fed_expansion = y[kin.FED].copy()
        y[kin.GLUCOSE] = m_cond.glucose
        y[kin.GLUTAMINE] = m_cond.glutamine
        y[kin.LACTATE] = 0.0
        y[kin.AMMONIA] = 0.0
        y[kin.EV] = 0.0
        # a rinse leaves a residual film of expansion medium (protein and particles)
        y[kin.PROTEIN] = m_cond.protein * vp + self.carryover * y[kin.PROTEIN]
        self.collected["bg"] += self.carryover * self.m_exp.background * vp
        self.cond_start = {
            "secreted": self.secreted.copy(),
            "cell_days": y[kin.CELL_DAYS].copy(),
            "outflow": y[kin.EV_OUTFLOW].copy(),
            "protein_outflow": y[kin.PROTEIN_OUTFLOW].copy(),
        }
        self.conditioning = True
        gas_o2 = self.scn.conditioning.gas_oxygen_percent
        if gas_o2 < AIR_O2_PERCENT:
            # hypoxic conditioning: the medium saturates against the lower O2 of the gas phase (Henry's law)
            self.kp = replace(self.kp, oxygen_saturation=self.kp.oxygen_saturation * (gas_o2 / AIR_O2_PERCENT))
        self.inputs = replace(
            self.inputs,
            growth_factor=self.growth_cond,
            death_factor=self.death_cond,
            ev_factor=self.ev_cond,
            dilution=self.dilution_cond,
            product_dilution=self.dilution_cond * self.product_factor,
            glucose_in=m_cond.glucose,
            glutamine_in=m_cond.glutamine,
            protein_in=m_cond.protein,
        )

    def _collect(self) -> None:
        """Drain the product compartment and renew it with conditioning medium."""
        y, m_cond, geo = self.y, self.m_cond, self.geo
        vp = geo.product_volume_l
        self.collected["ev"] += y[kin.EV]
        self.collected["protein"] += y[kin.PROTEIN]
        self.collected["volume"] += vp
        self.collected["bg"] += m_cond.background * vp
        y[kin.EV] = 0.0
        y[kin.PROTEIN] = m_cond.protein * vp
        _replace_fraction(y, vp / geo.volume_l, m_cond, False, vp)

    # -- the result ---------------------------------------------------------------------------------

    def _series(self, m: float) -> dict[str, np.ndarray]:
        series: dict[str, np.ndarray] = {}
        if not self.record_series:
            return series
        arr = np.array(self.series_y)  # (T, S, N)
        extra = np.array(self.series_extra)  # (T, 2, N)
        series["time_day"] = np.array(self.series_t)
        for i, name in enumerate(kin.STATE_NAMES):
            series[name] = arr[:, i, :] * (m if name == "viable_cells" else 1.0)
        series["dead_cells"] = extra[:, 0, :] * m
        series["ev_secreted"] = extra[:, 1, :]
        c_star = self.p.get("oxygen_saturation_medium", "mM")
        series["dissolved_oxygen_fraction"] = dissolved_oxygen_at(self.geo, arr[:, kin.VIABLE, :], self.p) / c_star
        return series

    def result(self) -> UpstreamResult:
        """Totals over the vessels, the media used, the harvest, the resources and the checks."""
        assert self.conditioning
        y, geo, sched, cond_start = self.y, self.geo, self.sched, self.cond_start
        vol, vp = geo.volume_l, geo.product_volume_l
        perfused_out = y[kin.EV_OUTFLOW] - cond_start["outflow"]
        # medium fed continuously (perfusion or a hollow fibre's feed): rate x time at a fixed rate, else the
        # integral of the dilution rate that followed lactate
        if self.control is None:
            feed_exp_l = self.dilution_exp * vol * sched.expansion_days
            feed_cond_l = self.dilution_cond * vol * sched.conditioning_days * sched.collections
        else:
            feed_exp_l = self.fed_expansion * vol
            feed_cond_l = (y[kin.FED] - self.fed_expansion) * vol
        perfusate_cond_l = feed_cond_l * self.product_factor
        # perfusion outflow during conditioning is collected with the medium
        collected = self.collected
        harvested = collected["ev"] + perfused_out
        harvest_volume = collected["volume"] + perfusate_cond_l
        exp = self.scn.expansion
        m = float(exp.vessels)
        result = UpstreamResult(
            vessels=exp.vessels,
            geometry=geo,
            seeded_cells=geo.seeded_cells * m,
            cells_end_expansion=self.cells_end_expansion * m,
            cells_recovered=self.cells_end_expansion * geo.harvest_efficiency * m,
            cells_end=y[kin.VIABLE] * m,
            dead_cells_end=self.dead * m,
            peak_cells=self.peak * m,
            secreted_particles=(self.secreted - cond_start["secreted"]) * m,
            harvested_particles=harvested * m,
            harvest_volume_l=harvest_volume * m,
            harvest_protein_ug=(collected["protein"] + y[kin.PROTEIN_OUTFLOW] - cond_start["protein_outflow"]) * m,
            harvest_background_particles=(collected["bg"] + self.m_cond.background * perfusate_cond_l) * m,
            conditioning_cell_days=(y[kin.CELL_DAYS] - cond_start["cell_days"]) * m,
            expansion_medium_l=(vol + self.exchanged_volume + feed_exp_l) * m,
            conditioning_medium_l=(vol + vp * (sched.collections - 1) + feed_cond_l) * m,
            min_glucose_mM=self.min_glc,
            max_lactate_mM=self.max_lac,
            max_ammonia_mM=self.max_amm,
            exchanges=sched.count("exchange") + sched.count("feed"),
            collections=sched.collections,
            schedule=sched,
            series=self._series(m),
        )
        result.resources = upstream_resources(self.scn, result, self.added_grams * m, self.p)
        result.checks = upstream_checks(self.scn, result, self.m_exp, self.p)
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
