"""Compose the stages: scenario + parameters -> upstream -> isolation -> cost -> Result.

:func:`evaluate` runs the whole process for a batch of N parameter sets and
returns arrays; :func:`simulate` runs one scenario at its central values and
builds the :class:`~exoforge.result.Result` with checks, warnings and the
citations of exactly the parameters the run read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exoforge._version import __version__
from exoforge.downstream.purity import purity_grade, purity_score
from exoforge.downstream.size_profile import size_profile
from exoforge.downstream.train import (
    TrainResult,
    containers,
    harvest_stream,
    simulate_downstream,
    size_distributions,
)
from exoforge.economics.batch import BatchEconomics, batch_economics
from exoforge.economics.cogs import CURRENCY, CostOfGoods
from exoforge.economics.demand import Throughput
from exoforge.parameters import (
    ParameterBatch,
    ParameterSet,
    UsageLog,
)
from exoforge.resources import Resource
from exoforge.result import Result
from exoforge.run_records import (
    check_records,
    citations,
    evidence_effects,
    ledger_lines,
    run_warnings,
    step_records,
)
from exoforge.scenario import Scenario
from exoforge.scenario_parameters import PreparedParameters, parameters_for, scenario_context
from exoforge.upstream.checks import Check
from exoforge.upstream.simulate import UpstreamResult, simulate_upstream

#: KPIs whose movement marks an assumption as driving the result.
DRIVER_KPIS = ("ev.final_particles", "cost.per_dose", "cost.per_batch")
DRIVER_THRESHOLD = 0.10

#: The run API; the parameter set a run starts from is built in :mod:`exoforge.scenario_parameters`.
__all__ = [
    "Culture",
    "Evaluation",
    "PreparedParameters",
    "culture_key",
    "evaluate",
    "evaluate_after_upstream",
    "parameters_for",
    "scenario_context",
    "simulate",
    "simulate_culture",
]


# --------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    """Arrays (N,) of every KPI, plus the stage results they came from."""

    kpis: dict[str, np.ndarray]
    upstream: UpstreamResult
    train: TrainResult
    cogs: CostOfGoods
    checks: list[Check]
    used: set[str] = field(default_factory=set)
    throughput: Throughput | None = None


def evaluate(scn: Scenario, batch: ParameterBatch, record_series: bool = False) -> Evaluation:
    """Run the whole process for every parameter set of ``batch``; all outputs are (N,) arrays."""
    p = UsageLog(batch)
    up = simulate_upstream(scn, p, record_series=record_series)
    return evaluate_after_upstream(scn, p, up)


def culture_key(scn: Scenario) -> str:
    """The parts of a scenario its culture depends on: all but the isolation train, demand, economics and name.

    Scenarios with the same key (and the same parameter batch) have the same culture, so it is
    simulated once for all of them (:func:`simulate_culture`).
    """
    data = scn.to_dict()
    for key in ("isolation", "demand", "economics", "name"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, default=str)


@dataclass(frozen=True)
class Culture:
    """One culture simulated for a batch of parameter sets, on which many isolation and economic variants run.

    ``error`` says why the culture could not be simulated (``upstream`` is then None).
    """

    batch: ParameterBatch
    upstream: UpstreamResult | None
    error: str | None = None
    #: parameter names the culture's simulation read (an evaluation's ``used`` adds them to its own)
    upstream_used: frozenset[str] = frozenset()

    def evaluate(self, scn: Scenario) -> tuple[Evaluation | None, str | None]:
        """``scn``'s isolation train and economics on this culture's harvest, or None and why not.

        ``scn`` must have this culture (:func:`culture_key`); what :func:`evaluate` gives for it alone.
        """
        if self.upstream is None:
            return None, self.error
        log = UsageLog(self.batch)
        log.used |= self.upstream_used
        try:
            with np.errstate(all="ignore"):
                return evaluate_after_upstream(scn, log, self.upstream), None
        except Exception as exc:  # a design the model cannot evaluate is infeasible, never fatal
            return None, f"isolation cannot be simulated: {type(exc).__name__}: {exc}"


def simulate_culture(scn: Scenario, batch: ParameterBatch) -> Culture:
    """Simulate ``scn``'s culture once for ``batch``; a culture the model cannot simulate keeps its reason."""
    log = UsageLog(batch)
    try:
        with np.errstate(all="ignore"):
            upstream = simulate_upstream(scn, log)
        return Culture(batch, upstream, upstream_used=frozenset(log.used))
    except Exception as exc:  # a culture the model cannot simulate makes its designs infeasible, never fatal
        return Culture(batch, None, f"culture cannot be simulated: {type(exc).__name__}: {exc}")


def user_price_names(scn: Scenario) -> set[str]:
    """Price parameters the scenario sets itself (in its own currency year: not escalated)."""
    names = {f"price.{k}" for k in scn.economics.prices} | {k for k in scn.parameters if k.startswith("price.")}
    if scn.economics.labour_rate_per_h is not None:
        names.add("price.labour_rate_per_h")
    return names


def evaluate_after_upstream(scn: Scenario, p: UsageLog, up: UpstreamResult) -> Evaluation:
    """Isolation and economics of ``scn`` on an upstream result (shared by designs with the same culture)."""
    feed = harvest_stream(
        scn, up.harvest_volume_l, up.harvested_particles, up.harvest_background_particles, up.harvest_protein_ug, p
    )
    train = simulate_downstream(scn, feed, p)
    product = train.product

    culture_days = up.schedule.end
    isolation_days = train.hours / 24.0
    batch_days = culture_days + isolation_days + p.get("turnaround_days", "day")

    resources = list(up.resources)
    resources.extend(containers(train, p))
    for step in train.steps:
        resources.extend(step.resources)
        resources.append(Resource("labour_rate_per_h", step.labour_hours, "h", step.name, "labour"))

    if scn.dose.particles is not None:
        final_amount, dose_amount = product.particles, scn.dose.particles
    else:
        assert scn.dose.protein_ug is not None
        final_amount, dose_amount = product.protein_ug, scn.dose.protein_ug
    econ: BatchEconomics = batch_economics(
        resources,
        train.equipment(),
        scn.expansion.vessels,
        batch_days,
        product.particles,
        final_amount,
        dose_amount,
        p,
        doses_per_year=scn.demand.doses_per_year if scn.demand else None,
        lot_size=scn.demand.lot_size_doses if scn.demand else None,
        price_year=scn.economics.price_year,
        user_prices=user_price_names(scn),
        facility_use=scn.economics.facility_use,
        campaigns_per_year=scn.economics.campaigns_per_year,
    )

    checks = list(up.checks)
    checks += [Check(lim.name, lim.value, lim.limit, lim.ok, lim.description) for lim in train.limits]
    kpis = _kpi_arrays(up, train, econ, batch_days, culture_days, p)
    return Evaluation(kpis, up, train, econ.cogs, checks, set(p.used), econ.throughput)


def _kpi_arrays(
    up: UpstreamResult,
    train: TrainResult,
    econ: BatchEconomics,
    batch_days: np.ndarray,
    culture_days: float,
    p: UsageLog,
) -> dict[str, np.ndarray]:
    """Every KPI of the contract, arrays (N,): cells, EVs and purity, doses and throughput, time, cost."""
    n = p.n
    product, tp = train.product, econ.throughput
    counted = product.counted_particles
    score = purity_score(product.counted_purity, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "cells.seeded": up.seeded_cells,
            "cells.harvested": up.cells_end_expansion,
            "cells.fold_expansion": up.cells_end_expansion / up.seeded_cells,
            "cells.at_end_of_conditioning": up.cells_end,
            "cells.recovered_if_harvested": up.cells_recovered,
            "ev.particles_per_cell_per_day": up.particles_per_cell_per_day,
            "ev.secreted_particles": up.secreted_particles,
            "ev.harvested_particles": up.harvested_particles,
            "ev.harvest_volume_l": up.harvest_volume_l,
            "ev.final_particles": product.particles,
            "ev.recovery_fraction": train.recovery,
            "ev.particles_per_ug_protein": product.purity,
            "ev.final_protein_ug": product.protein_ug,
            "ev.final_volume_ml": product.volume_l * 1000.0,
            "ev.background_particles": product.background_particles + product.lipoprotein_particles,
            "ev.medium_vesicle_particles": product.background_particles,
            "ev.lipoprotein_particles": product.lipoprotein_particles,
            "ev.counted_particles": counted,
            "ev.counted_particles_per_ug_protein": product.counted_purity,
            "ev.lipoprotein_fraction_of_counted": product.lipoprotein_particles / counted,
            "ev.purity_score": score,
            "ev.purity_grade": purity_grade(score),
            "doses_per_batch": tp.doses_per_batch,
            "doses_per_batch_exact": tp.doses_exact,
            "lots_per_batch": tp.lots_per_batch,
            "doses_released_per_batch": tp.doses_released,
            "demand.doses_per_year": np.full(n, tp.doses_per_year),
            "batches_per_year": tp.batches_per_year,
            "lines_needed": tp.lines_needed,
            "doses_released_per_year": tp.doses_released_per_year,
            "overproduction_fraction": tp.overproduction_fraction,
            "line_utilisation": tp.line_utilisation(p.get("line_operating_days_per_year", "day")),
            "facility_days_per_batch": tp.allocated_days,
            "batch_days": batch_days,
            "culture_days": np.full(n, culture_days),
            "isolation_hours": train.hours,
            "isolation_labour_hours": train.labour_hours,
            "cost.per_batch": econ.per_batch,
            "cost.per_dose": econ.per_dose,
            "cost.per_1e9_particles": econ.per_1e9_particles,
            "cost.per_dose_supplied": econ.per_dose_supplied,
        }


# --------------------------------------------------------------------------- one run -> Result


def _perturbed_batch(ps: ParameterSet, names: list[str]) -> ParameterBatch:
    """Row 0 central; then for each name a low and a high row (5th/95th percentile or -/+20 %)."""
    n = 1 + 2 * len(names)
    batch = ps.nominal(n)
    values = {k: v.copy() for k, v in batch.values.items()}
    for j, name in enumerate(names):
        par = ps[name]
        if par.distribution.is_uncertain:
            lo, hi = par.distribution.interval(par.value, 0.90)
        else:
            lo, hi = par.value * 0.8, par.value * 1.2
            if 0 < par.value < 1:
                hi = min(hi, 0.999)
        values[name][1 + 2 * j] = lo
        values[name][2 + 2 * j] = hi
    return ParameterBatch(n, values, batch.units)


def _driving_assumptions(scn: Scenario, ps: ParameterSet, used: set[str]) -> list[dict[str, Any]]:
    """Assumption parameters whose 90 % range moves a key KPI by more than 10 %."""
    names = sorted(n for n in used if ps[n].is_assumption and ps[n].value != 0)
    if not names:
        return []
    ev = evaluate(scn, _perturbed_batch(ps, names))
    out: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        effects = {}
        for kpi in DRIVER_KPIS:
            arr = ev.kpis[kpi]
            base = arr[0]
            if not np.isfinite(base) or base == 0:
                continue
            change = max(abs(arr[1 + 2 * j] / base - 1), abs(arr[2 + 2 * j] / base - 1))
            if np.isfinite(change):
                effects[kpi] = float(change)
        worst = max(effects.values(), default=0.0)
        out.append(
            {
                "name": name,
                "value": ps[name].value,
                "unit": ps[name].unit,
                "reason": ps[name].assumption,
                "max_relative_effect": worst,
                "drives_result": worst > DRIVER_THRESHOLD,
                "effects": effects,
            }
        )
    out.sort(key=lambda a: -a["max_relative_effect"])
    return out


def simulate(
    scn: Scenario,
    params: ParameterSet | PreparedParameters | None = None,
    *,
    exclude_refs: Sequence[str] = (),
    seed: int | None = None,
    strict: bool = False,
) -> Result:
    """Simulate one scenario at the central parameter values and build its :class:`Result`.

    With ``strict`` a failed engineering check raises
    :class:`~exoforge.result.ChecksFailed` (which carries the full result).
    """
    if params is None:
        prepared = parameters_for(scn, exclude_refs)
    else:  # a ParameterSet, or one with its warnings (e.g. fitted parameters applied)
        prepared = params if isinstance(params, PreparedParameters) else PreparedParameters(params)
    ps = prepared.params
    ev = evaluate(scn, ps.nominal(1), record_series=True)
    k = {key: float(v[0]) for key, v in ev.kpis.items()}
    checks = check_records(ev.checks)
    warnings = [*prepared.warnings, *run_warnings(scn, k, checks, ev.train, ev.upstream.geometry.surface)]
    assumptions = _driving_assumptions(scn, ps, ev.used)
    for a in assumptions:
        if a["drives_result"]:
            warnings.append(
                f"assumption drives the result: {a['name']} = {a['value']:g} {a['unit']} "
                f"(moves key outputs by up to {a['max_relative_effect']:.0%} over its range): {a['reason']}"
            )
    if ps.excluded_refs:
        warnings.append(f"left out by request: {', '.join(ps.excluded_refs)}")
    steps = step_records(ev.train)
    ledger = ledger_lines(scn, ps, ev.cogs, user_price_names(scn))
    up = ev.upstream
    sizes = size_profile(scn, ps, ev.train.feed, k["ev.final_particles"]).to_json() if ev.train.steps else {}
    series = {name: np.asarray(arr)[:, 0].tolist() for name, arr in up.series.items() if name != "time_day"}
    series["time_day"] = up.series["time_day"].tolist()
    result = Result(
        scenario_name=scn.name,
        kpis=k,
        currency=CURRENCY,
        price_year=scn.economics.price_year,
        facility_use=scn.economics.facility_use,
        cost_breakdown={c: float(v[0]) for c, v in ev.cogs.by_category().items()},
        cost_by_step={s: float(v[0]) for s, v in ev.cogs.by_step().items()},
        ledger=ledger,
        checks=checks,
        warnings=warnings,
        citations=citations(ps, ev.used),
        steps=steps,
        series=series,
        assumptions=[a for a in assumptions if a["drives_result"]],
        evidence_effects=evidence_effects(ps, ev.used),
        excluded_refs=list(ps.excluded_refs),
        removed=list(ps.removed),
        size_distributions=size_distributions(scn, ev.train),
        seed=seed,
        version=__version__,
        size_profile=sizes,
    )
    return result.raise_for_checks() if strict else result
