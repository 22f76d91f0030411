"""Technology selection: every expansion platform × scale × isolation train, for a demand and a lot size.

The exhaustive form of the search in Ng et al. 2019 (Biotechnol Bioeng,
doi:10.1002/bit.26809, Fig. 7: the cheapest combination of cell expansion and
EV harvest technologies for a demand and lot size). A selection-space file::

    selection_version: 1
    name: 2,000 doses a year in lots of 200
    base: stirred_tank_tff_sec.yaml        # scenario file relative to this file (or `scenario:` inline)
    demand: {doses_per_year: 2000, lot_size_doses: 200}
    platforms:                             # each with the scales to try
      - label: 10-layer stacks
        expansion: {platform: multilayer, layers: 10, ...}     # a whole `expansion` block
        scales: [{vessels: 1}, {vessels: 4}]                   # keys that change with scale
    trains:
      - label: TFF + SEC
        isolation: [{op: centrifugation}, {op: tff}, {op: sec}]
    constraints:
      max_lines: 1                         # parallel lines the demand may take
      max_batch_days: 30
      checks_pass: true                    # every engineering check and scale limit passes
      min_purity_grade: low                # impure | low | intermediate | high
    demands: [100, 1000, 10000]            # for cost per dose against demand (optional)

Every design is evaluated at the central parameter values; a design is
rejected with every reason that applies (the scenario is invalid, the platform
or an operation cannot be simulated, a check or scale limit fails, a batch does
not fill a lot, the demand needs more lines than allowed, the batch is too long,
the product is not pure enough); the others are ranked by cost per dose supplied
(the yearly cost of the batches the demand needs over the doses demanded), with
designs within ``tie_tolerance`` of each other ranked by the doses they release
beyond the demand, then by cost per released dose
(:func:`exoforge.analysis.ranking.tie_band_order`). Designs with the same
platform and scale share one culture simulation; each train is then run on its
harvest (one scenario per design, vectorised inside).

Every feasible design is also costed under each way of using a line
(:data:`exoforge.economics.demand.FACILITY_USES`: a dedicated line, a suite
shared batch by batch, campaigns, a CDMO's day rate): the selection names the
cheapest use for the demand and the best design under each.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exoforge.analysis.design_evaluation import design_parameters
from exoforge.analysis.ranking import DEFAULT_TOLERANCE, TIE_BREAKS, tie_band_order
from exoforge.downstream.purity import GRADES
from exoforge.economics.demand import FACILITY_USES
from exoforge.parameters import ParameterBatch, normalise_ref
from exoforge.scenario import Demand, Scenario, ScenarioError, parse_scenario, read_mapping
from exoforge.simulation import Culture, Evaluation, culture_key, simulate_culture

SELECTION_VERSION = 1
#: KPIs reported for every design.
REPORTED_KPIS = (
    "cost.per_dose_supplied",
    "cost.per_dose",
    "cost.per_batch",
    "cost.per_1e9_particles",
    "doses_per_batch",
    "doses_released_per_batch",
    "lots_per_batch",
    "batches_per_year",
    "lines_needed",
    "line_utilisation",
    "doses_released_per_year",
    "overproduction_fraction",
    "facility_days_per_batch",
    "batch_days",
    "ev.final_particles",
    "ev.recovery_fraction",
    "ev.particles_per_ug_protein",
    "ev.counted_particles_per_ug_protein",
    "ev.purity_grade",
)


#: Ranking metric: the yearly cost of meeting the demand per dose demanded (a design whose batch far
#: exceeds the demand pays for doses nobody takes).
RANK_KPI = "cost.per_dose_supplied"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformOption(_Model):
    label: str | None = None
    expansion: dict[str, Any]
    scales: list[dict[str, Any]] = Field(min_length=1)


class TrainOption(_Model):
    label: str = Field(min_length=1)
    isolation: list[dict[str, Any]] = Field(min_length=1)


class Constraints(_Model):
    max_lines: Annotated[int, Field(ge=1)] | None = 1
    max_batch_days: float | None = None
    checks_pass: bool = True
    min_purity_grade: Literal["impure", "low", "intermediate", "high"] = "impure"


class SelectionSpace(_Model):
    selection_version: Literal[1] = 1
    name: str = Field(min_length=1)
    base: str | None = None
    scenario: dict[str, Any] | None = None
    demand: Demand
    platforms: list[PlatformOption] = Field(min_length=1)
    trains: list[TrainOption] = Field(min_length=1)
    constraints: Constraints = Field(default_factory=Constraints)
    demands: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    tie_tolerance: Annotated[float, Field(ge=0, le=0.5)] = DEFAULT_TOLERANCE
    base_mapping: dict[str, Any] = Field(default_factory=dict, exclude=True)


def load_space(path: str | Path) -> SelectionSpace:
    """Read and validate a selection-space file; :class:`ScenarioError` lists every problem."""
    p = Path(path)
    raw = read_mapping(p)
    try:
        space = SelectionSpace.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ScenarioError(problems, str(p)) from None
    if (space.base is None) == (space.scenario is None):
        raise ScenarioError(["give exactly one of base (a scenario file) or scenario (a mapping)"], str(p))
    base = space.scenario if space.scenario is not None else read_mapping(p.parent / str(space.base))
    parse_scenario(base, f"{p}: base")  # the base must be a valid scenario itself
    return space.model_copy(update={"base_mapping": base})


@dataclass(frozen=True)
class Design:
    """One platform × scale × train combination (its scenario, or why it cannot be one)."""

    platform: str
    scale: dict[str, Any]
    train: str
    scenario: Scenario | None
    error: str | None = None

    @property
    def scale_label(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.scale.items())

    @property
    def label(self) -> str:
        return f"{self.platform} ({self.scale_label}) + {self.train}"


@dataclass(frozen=True)
class DesignOutcome:
    """A design's KPIs (central values) and, if rejected, every reason."""

    design: Design
    feasible: bool
    reasons: tuple[str, ...]
    kpis: dict[str, float] = field(default_factory=dict)
    rank: int | None = None
    by_facility_use: dict[str, float] = field(default_factory=dict)  # cost per dose supplied under each use

    @property
    def cheapest_use(self) -> str | None:
        finite = {u: c for u, c in self.by_facility_use.items() if math.isfinite(c)}
        return min(finite, key=lambda u: finite[u]) if finite else None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.design.label,
            "platform": self.design.platform,
            "scale": self.design.scale,
            "train": self.design.train,
            "feasible": self.feasible,
            "rank": self.rank,
            "reasons": list(self.reasons),
            "kpis": {k: (v if math.isfinite(v) else None) for k, v in self.kpis.items()},
            "cost_per_dose_supplied_by_facility_use": {
                u: (c if math.isfinite(c) else None) for u, c in self.by_facility_use.items()
            },
            "cheapest_facility_use": self.cheapest_use,
        }


@dataclass(frozen=True)
class Selection:
    """Every design of a space, ranked (feasible, by cost per dose) and rejected (with reasons)."""

    name: str
    demand: Demand
    outcomes: tuple[DesignOutcome, ...]
    facility_use: str = "dedicated"  # the base scenario's, which the ranking uses
    exclude_refs: tuple[str, ...] = ()  # evidence references left out of every design's parameters

    @property
    def ranked(self) -> list[DesignOutcome]:
        return sorted((o for o in self.outcomes if o.feasible), key=lambda o: o.rank or 0)

    @property
    def rejected(self) -> list[DesignOutcome]:
        return [o for o in self.outcomes if not o.feasible]

    @property
    def best(self) -> DesignOutcome | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    def best_by_facility_use(self) -> dict[str, tuple[DesignOutcome, float] | None]:
        """For each way of using a line, the feasible design with the lowest cost per dose supplied."""
        out: dict[str, tuple[DesignOutcome, float] | None] = {}
        for use in FACILITY_USES:
            costs = [(o, o.by_facility_use.get(use, math.inf)) for o in self.ranked]
            costs = [(o, c) for o, c in costs if math.isfinite(c)]
            out[use] = min(costs, key=lambda oc: oc[1]) if costs else None
        return out

    @property
    def cheapest_use(self) -> str | None:
        """The facility use under which the demand is met most cheaply (by its best design)."""
        best = {u: v[1] for u, v in self.best_by_facility_use().items() if v is not None}
        return min(best, key=lambda u: best[u]) if best else None

    def to_json(self) -> dict[str, Any]:
        return {
            "selection_version": SELECTION_VERSION,
            "name": self.name,
            "demand": self.demand.model_dump(exclude_none=True),
            "facility_use": self.facility_use,
            "left_out": list(self.exclude_refs),
            "cheapest_facility_use": self.cheapest_use,
            "best_by_facility_use": {
                u: None if v is None else {"label": v[0].design.label, "cost_per_dose_supplied": v[1]}
                for u, v in self.best_by_facility_use().items()
            },
            "designs": len(self.outcomes),
            "feasible": len(self.ranked),
            "ranked": [o.to_json() for o in self.ranked],
            "rejected": [o.to_json() for o in self.rejected],
        }


def _design_mapping(base: dict[str, Any], platform: PlatformOption, scale: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["expansion"] = {**copy.deepcopy(platform.expansion), **copy.deepcopy(scale)}
    return data


def enumerate_designs(space: SelectionSpace, demand: Demand | None = None) -> list[Design]:
    """Every platform × scale × train of the space, with the space's (or the given) demand."""
    demand = demand or space.demand
    out = []
    for plat in space.platforms:
        label = plat.label or str(plat.expansion.get("platform", "?"))
        for scale in plat.scales:
            for tr in space.trains:
                data = _design_mapping(space.base_mapping, plat, scale)
                data["isolation"] = copy.deepcopy(tr.isolation)
                data["demand"] = demand.model_dump(exclude_none=True)
                data["name"] = f"{label} ({', '.join(f'{k} {v}' for k, v in scale.items())}) + {tr.label}"
                try:
                    scn = parse_scenario(data)
                    out.append(Design(label, dict(scale), tr.label, scn))
                except ScenarioError as exc:
                    out.append(
                        Design(label, dict(scale), tr.label, None, "invalid scenario: " + "; ".join(exc.problems))
                    )
    return out


class Rejection(NamedTuple):
    """One constraint a design breaks: what kind of constraint, and the message with its numbers."""

    kind: str
    text: str


def rejections(
    kpis: dict[str, float], failed_checks: Sequence[tuple[str, float, float]], constraints: Constraints, demand: Demand
) -> list[Rejection]:
    """Every constraint a design breaks, from its KPIs and its failed checks ``(name, value, limit)``."""
    out = []
    if constraints.checks_pass:
        out += [
            Rejection(f"check: {n}", f"check failed: {n} = {v:.3g} (limit {lim:.3g})") for n, v, lim in failed_checks
        ]
    released = kpis["doses_released_per_batch"]
    if released < 1:
        if demand.lot_size_doses:
            text = f"a batch gives {kpis['doses_per_batch']:.0f} doses, less than one lot of {demand.lot_size_doses:g}"
        else:
            text = f"a batch gives {kpis['doses_per_batch_exact']:.2g} doses, less than one"
        out.append(Rejection("less than one lot a batch", text))
    elif constraints.max_lines is not None and kpis["lines_needed"] > constraints.max_lines:
        text = (
            f"the demand needs {kpis['lines_needed']:.0f} parallel lines ({kpis['batches_per_year']:.0f} batches "
            f"a year of {kpis['batch_days']:.1f} days), more than {constraints.max_lines}"
        )
        out.append(Rejection("more lines than allowed", text))
    if constraints.max_batch_days is not None and kpis["batch_days"] > constraints.max_batch_days:
        text = f"a batch takes {kpis['batch_days']:.1f} days, more than {constraints.max_batch_days:g}"
        out.append(Rejection("batch too long", text))
    need = GRADES.index(constraints.min_purity_grade)
    if kpis["ev.purity_grade"] < need:
        text = (
            f"purity '{GRADES[int(kpis['ev.purity_grade'])]}' ({kpis['ev.counted_particles_per_ug_protein']:.2g} "
            f"particles/ug) is below the required '{constraints.min_purity_grade}'"
        )
        out.append(Rejection("below the required purity", text))
    return out


def rejection_reasons(
    kpis: dict[str, float], failed_checks: Sequence[tuple[str, float, float]], constraints: Constraints, demand: Demand
) -> list[str]:
    """The messages of :func:`rejections`."""
    return [r.text for r in rejections(kpis, failed_checks, constraints, demand)]


def _kpis(ev: Evaluation) -> dict[str, float]:
    return {k: float(v[0]) for k, v in ev.kpis.items()}


def _failed(ev: Evaluation) -> list[tuple[str, float, float]]:
    return [(c.name, float(c.value[0]), float(c.limit[0])) for c in ev.checks if not bool(np.asarray(c.ok)[0])]


def _rank(outcomes: list[DesignOutcome], tolerance: float = DEFAULT_TOLERANCE) -> tuple[DesignOutcome, ...]:
    """Rank the feasible designs by cost per dose supplied; near-ties by over-production, then cost per dose."""
    feasible = [i for i, o in enumerate(outcomes) if o.feasible]
    values = [outcomes[i].kpis[RANK_KPI] for i in feasible]
    criteria = [[outcomes[i].kpis.get(k, math.nan) for i in feasible] for k in TIE_BREAKS[RANK_KPI]]
    ranked = list(outcomes)
    for r, j in enumerate(tie_band_order(values, criteria, tolerance), start=1):
        o = outcomes[feasible[j]]
        ranked[feasible[j]] = DesignOutcome(o.design, True, (), o.kpis, r, o.by_facility_use)
    return tuple(ranked)


#: Cultures shared by designs (and by demands), by culture key (:func:`exoforge.simulation.culture_key`).
CultureCache = dict[str, Culture]


def culture_cache_key(scn: Scenario, exclude_refs: tuple[str, ...]) -> str:
    """Key of a design's culture in the cache: the culture and the references left out of its parameters."""
    key = culture_key(scn)
    return f"{key}|without:{','.join(exclude_refs)}" if exclude_refs else key


def _culture(
    first: Scenario, key: str, cache: CultureCache, parameter_file: Any = None, exclude_refs: tuple[str, ...] = ()
) -> Culture:
    if key not in cache:
        try:
            ps = design_parameters(first, exclude_refs, parameter_file)  # parameter_file: fitted (exoforge fit)
        except (KeyError, ValueError, ArithmeticError) as exc:
            cache[key] = Culture(ParameterBatch(0, {}, {}), None, f"culture cannot be simulated: {exc}")
            return cache[key]
        cache[key] = simulate_culture(first, ps.nominal(1))
    return cache[key]


def _evaluate_group(
    key: str,
    designs: list[Design],
    cache: CultureCache,
    parameter_file: Any = None,
    exclude_refs: tuple[str, ...] = (),
) -> dict[int, tuple[Evaluation | None, str | None]]:
    """Evaluate designs that share a culture: one upstream run, then each train on its harvest."""
    first = designs[0].scenario
    assert first is not None
    culture = _culture(first, key, cache, parameter_file, exclude_refs)
    out: dict[int, tuple[Evaluation | None, str | None]] = {}
    for d in designs:
        assert d.scenario is not None
        out[id(d)] = culture.evaluate(d.scenario)
    return out


def costs_by_facility_use(scn: Scenario, culture: Culture) -> dict[str, float]:
    """Cost per dose supplied of one design under every facility use (the culture is not simulated again)."""
    out = {}
    for use in FACILITY_USES:
        variant = scn.model_copy(update={"economics": scn.economics.model_copy(update={"facility_use": use})})
        ev, _ = culture.evaluate(variant)
        out[use] = float(ev.kpis[RANK_KPI][0]) if ev is not None else float("nan")
    return out


def select(
    space: SelectionSpace,
    demand: Demand | None = None,
    cache: CultureCache | None = None,
    with_facility_uses: bool = True,
    parameter_file: Any = None,
    exclude_refs: Sequence[str] = (),
) -> Selection:
    """Evaluate every design of ``space`` and rank the feasible ones by cost per dose supplied.

    ``cache`` keeps the culture simulations between calls (the demand does not change them);
    ``with_facility_uses`` also costs every feasible design under each facility use;
    ``parameter_file`` (:class:`exoforge.analysis.parameter_file.ParameterFile`) applies fitted parameters;
    ``exclude_refs`` (DOIs or PMIDs) are left out of every design's parameters.
    """
    drop = tuple(sorted({normalise_ref(r) for r in exclude_refs}))
    cache = {} if cache is None else cache
    demand = demand or space.demand
    designs = enumerate_designs(space, demand)
    groups: dict[str, list[Design]] = {}
    for d in designs:
        if d.scenario is not None:
            groups.setdefault(culture_cache_key(d.scenario, drop), []).append(d)
    results: dict[int, tuple[Evaluation | None, str | None]] = {}
    for key, group in groups.items():
        results.update(_evaluate_group(key, group, cache, parameter_file, drop))
    outcomes = []
    for d in designs:
        if d.scenario is None:
            outcomes.append(DesignOutcome(d, False, (d.error or "invalid",)))
            continue
        ev, error = results[id(d)]
        if ev is None:
            outcomes.append(DesignOutcome(d, False, (error or "failed",)))
            continue
        k = _kpis(ev)
        reasons = rejection_reasons(k, _failed(ev), space.constraints, demand)
        kept = {key: k[key] for key in REPORTED_KPIS if key in k}
        uses: dict[str, float] = {}
        if not reasons and with_facility_uses:
            uses = costs_by_facility_use(d.scenario, cache[culture_cache_key(d.scenario, drop)])
        outcomes.append(DesignOutcome(d, not reasons, tuple(reasons), kept, None, uses))
    facility_use = str(space.base_mapping.get("economics", {}).get("facility_use", "dedicated"))
    return Selection(space.name, demand, _rank(outcomes, space.tie_tolerance), facility_use, drop)
