"""One run's records for its :class:`~exoforge.result.Result`: checks, isolation steps, ledger, warnings, citations.

Each function reads member 0 of an evaluated batch (the central run) and returns the typed
records of the JSON contract (:class:`~exoforge.result.CheckRecord`, :class:`~exoforge.result.StepRecord`,
:class:`~exoforge.result.LedgerLine`), so :func:`exoforge.simulation.simulate` only assembles them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from exoforge.downstream.purity import GRADES
from exoforge.downstream.train import TrainResult
from exoforge.economics.cogs import CostOfGoods
from exoforge.economics.labour import role_of
from exoforge.economics.prices import price_years
from exoforge.evidence.effects import combination_tested
from exoforge.parameters import ParameterSet, assumption_dois, load_default_entries, normalise_ref, resolve_variants
from exoforge.result import CheckRecord, LedgerLine, StepRecord, check_line
from exoforge.scenario import Scenario
from exoforge.upstream.checks import Check


def secretion_ceiling() -> float:
    """Highest per-cell MSC secretion the evidence supports, particles/cell/day.

    No record in the evidence gives MSC particle counts together with cell numbers, so the ceiling is
    the top of the 95 % range of the default ``ev_secretion_rate`` (its stated assumption), not a
    published maximum; no saturation is applied because no record measures one.
    """
    entry = ParameterSet(resolve_variants(load_default_entries(), {}))["ev_secretion_rate"]
    return float(entry.distribution.ppf(np.array([0.975]), entry.value)[0])


def secretion_ceiling_warnings(per_cell_per_day: float) -> list[str]:
    """Flag a per-cell secretion above :func:`secretion_ceiling` as an extrapolation."""
    ceiling = secretion_ceiling()
    if not per_cell_per_day > ceiling:
        return []
    return [
        f"per-cell EV secretion is {per_cell_per_day:.3g} particles/cell/day, above {ceiling:.3g}, the top of the MSC "
        "range the evidence supports (the 95 % range of ev_secretion_rate; no record gives a higher MSC figure): an "
        "extrapolation of stacked platform and strategy effects, which no study has measured together"
    ]


def purity_warnings(k: Mapping[str, float]) -> list[str]:
    """The purity flag: the particle-to-protein ratio an NTA count and a protein assay would give."""
    grade = GRADES[int(k["ev.purity_grade"])]
    out = []
    if grade in ("low", "impure"):
        out.append(
            f"purity flag: {k['ev.counted_particles_per_ug_protein']:.3g} counted particles per ug protein is "
            f"'{grade}' against the particle-to-protein purity criteria (Webber & Clayton 2013, "
            "doi:10.3402/jev.v2i0.19861; cut-offs as assumptions)"
        )
    if k["ev.lipoprotein_fraction_of_counted"] > 0.1:
        out.append(
            f"lipoprotein particles are {k['ev.lipoprotein_fraction_of_counted']:.0%} of the counted particles: "
            "the particle-to-protein ratio overstates vesicle purity (serum or lysate in the medium)"
        )
    return out


def reference_labels() -> dict[str, str]:
    """'First author year, journal' of every reference with metadata (evidence records and the
    references the parameter files cite), by normalised key; parts not known are left out."""
    from exoforge.evidence.citations import reference_registry

    labels: dict[str, str] = {}
    for key, e in reference_registry().items():
        who = " ".join(str(part) for part in (e.first_author, e.year) if part)
        labels[key] = ", ".join(part for part in (who, e.journal) if part)
    return labels


def citations(ps: ParameterSet, used: Iterable[str]) -> list[dict[str, Any]]:
    """The references behind the parameters a run read: cited estimates, and DOIs an assumption names."""
    labels = reference_labels()
    by_ref: dict[str, dict[str, Any]] = {}

    def add(ref: str, name: str, location: str) -> None:
        key = normalise_ref(ref)
        entry = by_ref.setdefault(key, {"ref": ref, "label": labels.get(key, ""), "used_for": [], "locations": []})
        if name not in entry["used_for"]:
            entry["used_for"].append(name)
        loc = f"{name}: {location}"
        if loc not in entry["locations"]:
            entry["locations"].append(loc)

    for name in sorted(used):
        p = ps[name]
        for e in p.estimates:
            add(e.ref, name, e.location)
        for doi in assumption_dois(p.assumption):
            add(doi, name, "named in its assumption (a judgement, not a cited estimate)")
    out = []
    for key, entry in sorted(by_ref.items()):
        if key.startswith("10."):
            entry["doi"] = key
        elif key.startswith("pmid:"):
            entry["pmid"] = key[5:]
        out.append(entry)
    return out


def evidence_effects(ps: ParameterSet, used: Iterable[str]) -> list[dict[str, Any]]:
    """The pooled multipliers a run used: strategy, basis, k (studies), median and predictive sigma; for effects
    on secretion also the family, the studies' own median, the family's and how far it was shrunk."""
    out = []
    for name in sorted(used):
        p = ps[name]
        if not p.group.startswith("evidence:"):
            continue
        _, sid, basis = p.group.split(":")
        entry: dict[str, Any] = {
            "parameter": name,
            "strategy": sid,
            "basis": basis,
            "k": len(set(p.refs)),
            "median": p.value,
            "sigma_log": p.distribution.spec.get("sigma"),
            "refs": list(p.refs),
        }
        if basis == "emulated":
            from exoforge.evidence.hierarchy import pooled_posterior

            post = pooled_posterior(sid, tuple(sorted(normalise_ref(r) for r in ps.excluded_refs)))
            entry.update({"records": [r for e in p.estimates for r in e.records], **post.pooling()})
        out.append(entry)
    return out


def check_records(checks: Sequence[Check]) -> list[CheckRecord]:
    """The run's engineering checks (member 0 of the batch), as the JSON contract lists them."""
    return [
        CheckRecord(
            name=c.name,
            value=float(c.value[0]),
            limit=float(c.limit[0]),
            ok=bool(c.ok[0]),
            description=c.description,
        )
        for c in checks
    ]


def step_records(train: TrainResult) -> list[StepRecord]:
    """Each isolation step of member 0: what went in and out, hours, purity and equipment."""
    return [
        StepRecord(
            name=s.name,
            op=s.op,
            particles_in=float(s.inlet.particles[0]),
            particles_out=float(s.outlet.particles[0]),
            recovery=float(s.recovery[0]),
            protein_in_ug=float(s.inlet.protein_ug[0]),
            protein_out_ug=float(s.outlet.protein_ug[0]),
            volume_in_ml=float(s.inlet.volume_l[0] * 1000),
            volume_out_ml=float(s.outlet.volume_l[0] * 1000),
            hours=float(s.process_hours[0]),
            labour_hours=float(s.labour_hours[0]),
            medium_vesicles_in=float(s.inlet.background_particles[0]),
            lipoprotein_particles_in=float(s.inlet.lipoprotein_particles[0]),
            particles_per_ug_protein_in=float(s.inlet.purity[0]),
            medium_vesicles_out=float(s.outlet.background_particles[0]),
            lipoprotein_particles_out=float(s.outlet.lipoprotein_particles[0]),
            particles_per_ug_protein_out=float(s.outlet.purity[0]),
            counted_particles_per_ug_protein_out=float(s.outlet.counted_purity[0]),
            equipment=list(s.equipment),
        )
        for s in train.steps
    ]


def ledger_lines(scn: Scenario, ps: ParameterSet, cogs: CostOfGoods, user_prices: set[str]) -> list[LedgerLine]:
    """Every priced line of member 0, costs scaled up for the batches that fail (per released batch)."""
    scale = 1.0 / (1.0 - float(cogs.failed_batch_fraction[0]))
    years = price_years()

    def quote_year(name: str) -> int:
        return scn.economics.price_year if name in user_prices else years.get(name, scn.economics.price_year)

    return [
        LedgerLine(
            category=ln.category,
            item=ln.item,
            step=ln.step,
            quantity=float(ln.quantity[0]),
            unit=ln.unit or "each",
            unit_price=float(ln.unit_price[0]),
            cost=float(ln.cost[0]) * scale,
            price_is_assumption=ps[ln.price_parameter].is_assumption,
            price_year=quote_year(ln.price_parameter),
            escalation=ln.escalation,
            role=role_of(ln.item),
        )
        for ln in cogs.lines
    ]


def run_warnings(
    scn: Scenario, k: Mapping[str, float], checks: Sequence[CheckRecord], train: TrainResult, surface: str
) -> list[str]:
    """What a reader of the run must know: stacked strategies, failed checks, less than a dose, purity, ...

    ``surface`` is what the run's cells grow on (the validation cases on it may say the model runs high or low).
    """
    warnings = []
    strategies = list(scn.conditioning.strategies)
    if "hypoxia" in strategies:
        from exoforge.evidence.oxygen_response import response_warning

        warnings.append(response_warning(scn.conditioning.gas_oxygen_percent))
    if len(strategies) > 1 and not combination_tested(strategies):
        warnings.append(
            f"no study in the evidence base tested {' + '.join(strategies)} together; "
            "effects combined by the stated rule (additive on the log scale)"
        )
    warnings += [check_line(c) for c in checks if not c["ok"]]
    from exoforge.upstream.validation_record import bias_warnings

    warnings += bias_warnings(scn.expansion.platform, surface)
    for step in train.steps:
        warnings.extend(step.warnings)
    if k["doses_per_batch"] < 1:
        no_supply = (
            "; no number of batches meets the demand (batches per year and lines needed are null)"
            if scn.demand is not None
            else ""
        )
        warnings.append(
            f"a batch gives {k['doses_per_batch_exact']:.2g} doses (less than one); "
            f"cost per dose is per dose-equivalent{no_supply}"
        )
    if k["ev.final_particles"] > 0 and k["ev.background_particles"] > 0.1 * k["ev.final_particles"]:
        warnings.append(
            f"medium-derived particles are {k['ev.background_particles'] / k['ev.final_particles']:.0%} of the "
            "product particle count: NTA counts would overstate the product"
        )
    warnings.extend(purity_warnings(k))
    warnings.extend(secretion_ceiling_warnings(k.get("ev.particles_per_cell_per_day", 0.0)))
    if scn.demand and scn.demand.lot_size_doses and k["lots_per_batch"] < 1:
        warnings.append(
            f"a batch gives {k['doses_per_batch']:.0f} whole doses, fewer than one lot of "
            f"{scn.demand.lot_size_doses:g}: nothing is released"
        )
    return warnings
