"""What the culture integrator needs from a scenario: kinetic constants, media, phase multipliers, feed control.

All arrays over the batch of parameter sets, in the internal units of :mod:`exoforge.upstream.kinetics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.scenario import Scenario
from exoforge.upstream import kinetics as kin
from exoforge.upstream.checks import (
    oxygen_uptake_capacity,
)
from exoforge.upstream.platforms import VesselGeometry
from exoforge.upstream.schedule import Schedule


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
        # the conditioning factor acts on the rate in the conditioning medium (its supplement's increment
        # over FBS, not the expansion medium's): serum-free conditioning after platelet lysate drops both
        # (a serum-free conditioning medium is a basal medium: the expansion medium's factor stays behind)
        in_conditioning = p.get("growth_rate_max", "1/day") + growth_increment(medium, p)
        in_expansion = expansion_growth_rate(scn.expansion.medium, p)
        cond_growth = p.get(f"conditioning_growth_factor.{medium}", "") * in_conditioning / in_expansion
    return platform, platform * ev_strat, cond_growth * growth


def conditioning_death_factor(scn: Scenario, p: UsageLog) -> np.ndarray:
    """Multiplier on the death rate during conditioning (1 when the expansion medium is kept)."""
    medium = scn.conditioning.medium
    if medium == "same":
        return np.ones(p.n)
    return p.get(f"conditioning_death_factor.{medium}", "")


def growth_increment(medium: str, p: UsageLog) -> np.ndarray:
    """Rise of the specific growth rate in ``medium`` over FBS medium, 1/day.

    The growth rates in the data are read as rates in FBS medium (most of the compiled studies used
    it); a medium whose paired comparisons with FBS give a figure (``growth_increment.<id>``,
    platelet lysate) adds it, and an EV-depleted medium (``ev_depleted_<id>``) adds its supplement's,
    the same draw; other media (FBS, the reference; serum-free and xeno-free, with no paired figure:
    their uncertainty is a factor, see :func:`expansion_growth_rate`) add nothing.
    """
    name = f"growth_increment.{medium.removeprefix('ev_depleted_')}"
    return p.get(name, "1/day") if p.has(name) else np.zeros(p.n)


def expansion_growth_rate(medium: str, p: UsageLog) -> np.ndarray:
    """Maximum specific growth rate in expansion ``medium``, 1/day.

    The FBS-medium rate plus the medium's increment (:func:`growth_increment`), times the medium's
    ``expansion_growth_factor.<id>`` where it has one (serum-free and xeno-free MSC media: no paired
    figure, so a factor centred on 1 whose range carries that the products differ in both directions).
    """
    rate: np.ndarray = p.get("growth_rate_max", "1/day") + growth_increment(medium, p)
    name = f"expansion_growth_factor.{medium}"
    return rate * p.get(name, "") if p.has(name) else rate


def kinetic_parameters(scn: Scenario, geo: VesselGeometry, p: UsageLog) -> kin.KineticParameters:
    """The kinetic constants of one vessel of ``scn`` for every member of the batch."""
    aggregates = geo.surface == "aggregate"
    k_glucose = p.get("glucose_monod_constant", "mM")
    reference_glucose = p.get(f"medium_glucose.{scn.expansion.medium}", "mM")
    # the growth rates in the data were measured in standard medium: scale the Monod term so that
    # fresh expansion medium gives the reported rate instead of counting its glucose term twice
    growth = expansion_growth_rate(scn.expansion.medium, p)
    growth = growth * (k_glucose + reference_glucose) / reference_glucose
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
