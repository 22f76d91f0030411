"""A scenario's parameter set: packaged parameters, the variants its context selects, pooled effects, overrides.

:func:`parameters_for` is what every run, analysis and fit starts from; its warnings say what the
set rests on (a secretion rate set by the user and multiplied by effects, an effect pooled from few
studies). Re-exported by :mod:`exoforge.simulation`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exoforge.distributions import Distribution
from exoforge.evidence.effects import strategy_evidence
from exoforge.evidence.store import load_strategies
from exoforge.parameters import (
    Estimate,
    Parameter,
    ParameterSet,
    load_default_entries,
    normalise_ref,
    resolve_variants,
)
from exoforge.scenario import Scenario

# --------------------------------------------------------------------------- parameters


def scenario_context(scn: Scenario) -> dict[str, str]:
    """Keys that select parameter variants (``when:`` in the data files)."""
    ctx: dict[str, str] = {
        "cell_source": scn.cell_source,
        "platform": scn.expansion.platform,
        "medium": scn.expansion.medium,
        "conditioning_medium": scn.conditioning.medium,
    }
    if scn.expansion.microcarrier is not None:
        ctx["microcarrier"] = scn.expansion.microcarrier.type
    return ctx


def applied_strategies(scn: Scenario) -> list[tuple[str, str]]:
    """(strategy id, parameter name) of every strategy a run of ``scn`` applies: its conditioning
    strategies, then the platform's own effect (``platform.<platform>.ev_secretion``) where the
    evidence catalogue has one."""
    catalogue = {s.id: s for s in load_strategies()}
    wanted = [(sid, f"strategy.{sid}.{catalogue[sid].effect}") for sid in scn.conditioning.strategies]
    for s in catalogue.values():
        if s.effect == "platform" and scn.expansion.platform in s.platforms:
            wanted.append((s.id, f"platform.{scn.expansion.platform}.ev_secretion"))
    return wanted


def evidence_parameters(scn: Scenario, exclude_refs: Iterable[str] = ()) -> tuple[list[Parameter], list[str]]:
    """Strategy and platform multipliers from the evidence records.

    Effects on EV secretion (strategies with effect ``ev_secretion`` and the platform's own effect)
    come from the emulated comparisons, partially pooled within their family
    (:mod:`exoforge.evidence.hierarchy`); the reference platforms (planar, multilayer) are 1 by
    definition. Effects on growth are pooled per strategy (:func:`strategy_evidence`).
    Returns the parameters and warnings.
    """
    catalogue = {s.id: s for s in load_strategies()}
    out: list[Parameter] = []
    warnings: list[str] = []
    for sid, name in applied_strategies(scn):
        if catalogue[sid].effect in ("ev_secretion", "platform"):
            param, more = _pooled_secretion_parameter(sid, name, tuple(exclude_refs))
            out.append(param)
            warnings.extend(more)
            continue
        ev = strategy_evidence(sid, exclude_refs=exclude_refs)
        if ev is None:
            warnings.append(
                f"strategy '{sid}': no numeric fold-change in the evidence base, so no effect is applied "
                f"(`exoforge evidence list --strategy {sid}` shows what is known; give your own multiplier "
                f"under parameters as {name})"
            )
            continue
        estimates = tuple(
            Estimate(
                value=math.exp(st.y),
                ref=st.ref,
                location=f"records {', '.join(st.record_ids)}",
                records=st.record_ids,
                note=st.label,
            )
            for st in ev.studies
        )
        kind = "MSC" if ev.msc_only else "non-MSC (no MSC figure; uncertainty widened)"
        out.append(
            Parameter(
                name=name,
                value=ev.median,
                unit="",
                description=(
                    f"multiplier on specific growth from '{catalogue[sid].label}', pooled by REML "
                    f"from k={ev.k} {kind} studies ({ev.basis} basis); drawn from the 95 % prediction interval"
                ),
                distribution=Distribution("lognormal", {"sigma": ev.sigma}),
                estimates=estimates,
                combine="pooled",
                group=f"evidence:{sid}:{ev.basis}",
            )
        )
        if ev.k < 3:
            warnings.append(
                f"strategy '{sid}': only k={ev.k} stud{'y' if ev.k == 1 else 'ies'} with a numeric "
                f"fold-change; between-study spread assumed"
            )
    return out, warnings


def _pooled_secretion_parameter(sid: str, name: str, exclude_refs: tuple[str, ...]) -> tuple[Parameter, list[str]]:
    """The partially pooled per-cell secretion multiplier of a strategy or platform, and its warnings."""
    from exoforge.evidence.emulated import load_emulated
    from exoforge.evidence.hierarchy import pooled_posterior

    catalogue = {s.id: s for s in load_strategies()}
    drop = tuple(sorted({normalise_ref(r) for r in exclude_refs}))
    post = pooled_posterior(sid, drop)
    mine = [e for e in load_emulated() if e.strategy == sid and not e.combined_with and e.ref not in drop]
    estimates = tuple(
        Estimate(
            value=math.exp(e.log_effect),
            ref=e.ref,
            location=f"record {e.record_id}",
            records=(e.record_id,),
            note=f"{e.label}: published {e.published:.3g}x ({e.normalisation}), model explains "
            f"{math.exp(e.log_model_ratio):.3g}x",
        )
        for e in mine
    )
    label = catalogue[sid].label
    if post.k:
        how = (
            f"emulated from k={post.k} stud{'y' if post.k == 1 else 'ies'} and partially pooled with the "
            f"{post.family} family ({post.k_family} studies)"
        )
    else:
        how = f"no study of its own: the predictive distribution of the {post.family} family ({post.k_family} studies)"
    param = Parameter(
        name=name,
        value=post.median,
        unit="",
        description=f"per-cell multiplier on EV secretion from '{label}', {how}; drawn from the new-study "
        "predictive distribution",
        distribution=Distribution("lognormal", {"sigma": post.sigma}),
        estimates=estimates,
        combine="pooled",
        group=f"evidence:{sid}:emulated",
    )
    warnings: list[str] = []
    if not post.k:
        warnings.append(
            f"strategy '{sid}': no comparison in the evidence measures it, so the {post.family} family's predictive "
            f"effect applies (x{post.median:.3g}, 95 % {post.range_95[0]:.2g}-"
            f"{post.range_95[1]:.2g}); give your own multiplier under parameters as {name}"
        )
    elif all(e.cell_source == "non_msc" for e in mine):
        warnings.append(
            f"strategy '{sid}': measured only on non-MSC cells; the effect is pooled with its family and its "
            "uncertainty widened, so it may not transfer to MSCs"
        )
    warnings.extend(_discordant_warnings(sid, drop))
    return param, warnings


def _discordant_warnings(sid: str, drop: tuple[str, ...]) -> list[str]:
    """Say which studies of ``sid`` have records that imply different per-cell effects (emulation rule 5)."""
    from exoforge.evidence.emulated import discordant_studies

    out = []
    for unit, group in discordant_studies(exclude_refs=drop):
        if unit.strategy != sid:
            continue
        implied = ", ".join(f"x{math.exp(e.log_effect):.2g} ({e.normalisation})" for e in group)
        out.append(
            f"strategy '{sid}': the records of {unit.label} ({unit.ref}) imply different per-cell effects, "
            f"{implied}; the model cannot describe both arms well enough to tell which holds, so their spread "
            "is that study's uncertainty and the effect leans on its family"
        )
    return out


@dataclass(frozen=True)
class PreparedParameters:
    params: ParameterSet
    warnings: tuple[str, ...] = ()


def parameters_for(scn: Scenario, exclude_refs: Sequence[str] = ()) -> PreparedParameters:
    """The resolved :class:`ParameterSet` of a scenario: defaults, evidence, exclusions, overrides."""
    base = ParameterSet(resolve_variants(load_default_entries(), scenario_context(scn)))
    if exclude_refs:
        base = base.without_refs(exclude_refs)
    ev_params, warnings = evidence_parameters(scn, exclude_refs)
    params = dict(base.params)
    params.update({p.name: p for p in ev_params})
    removed = list(base.removed)
    matched = set(base.excluded_refs)
    if exclude_refs:
        drop = {normalise_ref(r) for r in exclude_refs}
        for name, p in {p.name: p for p in evidence_parameters(scn)[0]}.items():
            gone = sorted({normalise_ref(e.ref) for e in p.estimates} & drop)
            if gone:
                matched.update(gone)
                removed.append(f"{name}: re-pooled without {', '.join(gone)}")
    ps = ParameterSet(params, tuple(sorted(matched)), tuple(dict.fromkeys(removed)))
    changes: dict[str, tuple[float, str]] = {k: (v.value, v.unit) for k, v in scn.parameters.items()}
    catalogue = {s.id: s for s in load_strategies()}
    for name in changes:
        # a user may give the multiplier of a listed strategy that the evidence cannot quantify
        parts = name.split(".")
        if name not in ps and len(parts) == 3 and parts[0] == "strategy" and parts[1] in catalogue:
            if parts[1] not in scn.conditioning.strategies or parts[2] != catalogue[parts[1]].effect:
                continue  # reported as an unknown parameter by with_values
            ps = ParameterSet(
                {
                    **ps.params,
                    name: Parameter(
                        name=name,
                        value=1.0,
                        unit="",
                        description=f"multiplier of '{catalogue[parts[1]].label}'",
                        assumption="no numeric evidence; user value",
                        group=f"evidence:{parts[1]}:user",
                    ),
                },
                ps.excluded_refs,
                ps.removed,
            )
            warnings = [w for w in warnings if not w.startswith(f"strategy '{parts[1]}': no numeric")]
    paths: dict[str, str] = {}
    for key, value in scn.economics.prices.items():
        name = f"price.{key}"
        paths[name] = f"economics.prices.{key}"
        if name not in ps:
            allowed = sorted(k[len("price.") :] for k in ps if k.startswith("price."))
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KeyError(f"economics.prices.{key}: no such price{hint}; known prices: {', '.join(allowed)}")
        changes[name] = (value, ps[name].unit)
    if scn.economics.labour_rate_per_h is not None:
        changes["price.labour_rate_per_h"] = (scn.economics.labour_rate_per_h, "USD/h")
        paths["price.labour_rate_per_h"] = "economics.labour_rate_per_h"
    if changes:
        ps = ps.with_values(changes, paths=paths)
    for name in scn.parameters:
        parts = name.split(".")
        if len(parts) == 3 and parts[0] in ("strategy", "platform"):
            # the user's own multiplier replaces the family prediction or the other-cells evidence
            warnings = [w for w in warnings if not w.startswith(f"strategy '{parts[1]}': ")]
    warnings.extend(secretion_override_warnings(scn, ps))
    return PreparedParameters(ps, tuple(warnings))


def secretion_multipliers(scn: Scenario, ps: ParameterSet) -> list[tuple[str, float]]:
    """(parameter name, central value) of every platform and strategy factor on EV secretion of ``scn``."""
    catalogue = {s.id: s for s in load_strategies()}
    names = [f"platform.{scn.expansion.platform}.ev_secretion"]
    names += [
        f"strategy.{sid}.ev_secretion" for sid in scn.conditioning.strategies if catalogue[sid].effect == "ev_secretion"
    ]
    return [(name, ps[name].value) for name in names if name in ps]


def secretion_override_warnings(scn: Scenario, ps: ParameterSet) -> list[str]:
    """Say which factors multiply a user's own secretion rate (``measured_on: planar``, the default)."""
    if "ev_secretion_rate" not in scn.parameters or scn.measured_on("ev_secretion_rate") != "planar":
        return []
    applied = [(n, v) for n, v in secretion_multipliers(scn, ps) if abs(v - 1.0) > 1e-9]
    if not applied:
        return []
    listed = ", ".join(f"{n} (x{v:.3g})" for n, v in applied)
    return [
        "parameters.ev_secretion_rate is read as measured on a planar culture (measured_on: planar, the default), "
        f"so these factors multiply it: {listed}; if you measured it on this process, set measured_on: this_process"
    ]
