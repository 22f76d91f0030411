"""Design spaces: which parts of a scenario may change, under which constraints, towards which objectives.

A design-space file (YAML or TOML) starts from a base scenario and lists the
variables an optimiser may set, each a key of the scenario contract::

    space_version: 1
    name: Clinical supply, 1,000 doses a year
    base: clinical_1000_doses.yaml        # scenario file, relative to this file (or `scenario:` inline)
    variables:
      - key: expansion                    # whole blocks: each platform has its own keys
        label: platform
        options:
          - {platform: stirred_tank, working_volume_l: 50, ...}
          - {platform: multilayer, layers: 40, ...}
      - key: expansion.vessels
        integer: [1, 8]
      - key: expansion.working_volume_l
        values: [3, 15, 50, 200]
        when: {expansion.platform: [stirred_tank, vertical_wheel]}
      - key: expansion.days
        range: [5, 10]
        step: 0.5                         # without step: continuous
      - key: conditioning.strategies
        options: [[], [hypoxia]]
      - key: isolation
        options: [[...train A...], [...train B...]]
    constraints:
      demand_met: true                    # one line, batches back to back, meets demand.doses_per_year
      min_p_meets_demand: 0.8             # ... with this probability over the parameter uncertainty
      min_purity: 1.0e10                  # ev.particles_per_ug_protein at central values
      max_batch_days: 21
      checks_pass: true                   # every engineering check passes at central values
      max: {cost.per_batch: 5.0e5}        # any KPI bound
      min: {}
    objectives:                           # one: single-objective GA; several: NSGA-II
      - cost.per_dose_supplied            # minimised (the default with a demand; cost.per_dose without)
      - {maximize: ev.particles_per_ug_protein}
    uncertainty: {samples: 32, seed: 1}   # parameter sets behind the probabilities
    optimizer: {population: 64, generations: 40, seed: 1, tie_tolerance: 0.01}

Variables are applied in file order (so a whole ``expansion`` block comes
before the keys that refine it); a variable whose ``when`` does not match the
design is left out, so designs differing only there are the same scenario.
Every variable is encoded for the optimiser as one number in [0, 1): options,
values and integers by index, ranges linearly (snapped to ``step``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exoforge.fileio import write_atomic
from exoforge.scenario import Scenario, ScenarioError, parse_scenario, read_mapping

SPACE_VERSION = 1
#: Metrics that are not KPIs of a run: probabilities over the parameter uncertainty.
PROBABILITY_METRICS = ("p_meets_demand", "p_meets_dose_target", "p_all_checks_pass")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Model):
    """One scenario key an optimiser may set."""

    key: str = Field(min_length=1)
    label: str | None = None
    options: list[Any] | None = None
    values: list[float] | None = None
    integer: tuple[int, int] | None = None
    range: tuple[float, float] | None = None
    step: Annotated[float, Field(gt=0)] | None = None
    log: bool = False
    when: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Variable:
        kinds = [k for k in ("options", "values", "integer", "range") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"give exactly one of options, values, integer or range (got {', '.join(kinds) or 'none'})"
            )
        if self.options is not None and len(self.options) < 1:
            raise ValueError("options needs at least one entry")
        if self.values is not None and len(self.values) < 1:
            raise ValueError("values needs at least one entry")
        if self.integer is not None and self.integer[0] > self.integer[1]:
            raise ValueError(f"integer: {self.integer[0]} is above {self.integer[1]}")
        if self.range is not None:
            lo, hi = self.range
            if not lo < hi:
                raise ValueError(f"range: {lo} is not below {hi}")
            if self.log and lo <= 0:
                raise ValueError("a log range needs a positive lower end")
        if self.step is not None and self.range is None:
            raise ValueError("step applies to range only")
        return self

    @property
    def name(self) -> str:
        return self.label or self.key

    @property
    def levels(self) -> int | None:
        """Number of distinct values (None: continuous)."""
        if self.options is not None:
            return len(self.options)
        if self.values is not None:
            return len(self.values)
        if self.integer is not None:
            return self.integer[1] - self.integer[0] + 1
        if self.step is not None:
            assert self.range is not None
            return math.floor((self.range[1] - self.range[0]) / self.step + 1e-9) + 1
        return None

    def decode(self, x: float) -> Any:
        """The value of this variable for the encoded number ``x`` in [0, 1)."""
        x = min(max(float(x), 0.0), 1.0)
        levels = self.levels
        if levels is not None:
            i = min(int(x * levels), levels - 1)
            if self.options is not None:
                return copy.deepcopy(self.options[i])
            if self.values is not None:
                return self.values[i]
            if self.integer is not None:
                return self.integer[0] + i
            assert self.range is not None and self.step is not None
            return round(self.range[0] + i * self.step, 10)
        assert self.range is not None
        lo, hi = self.range
        if self.log:
            return float(math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))))
        return lo + x * (hi - lo)


class Constraints(_Model):
    demand_met: bool = False
    min_p_meets_demand: Annotated[float, Field(ge=0, le=1)] | None = None
    min_purity: Annotated[float, Field(gt=0)] | None = None
    max_batch_days: Annotated[float, Field(gt=0)] | None = None
    checks_pass: bool = False
    max: dict[str, float] = Field(default_factory=dict)
    min: dict[str, float] = Field(default_factory=dict)


class ObjectiveSpec(_Model):
    minimize: str | None = None
    maximize: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ObjectiveSpec:
        if (self.minimize is None) == (self.maximize is None):
            raise ValueError("give exactly one of minimize or maximize")
        return self


class Uncertainty(_Model):
    samples: Annotated[int, Field(ge=0, le=4096)] = 32
    seed: int = 1


class OptimizerSettings(_Model):
    algorithm: Literal["auto", "ga", "nsga2"] = "auto"
    population: Annotated[int, Field(ge=4)] = 64
    generations: Annotated[int, Field(ge=1)] = 40
    seed: int = 1
    tie_tolerance: Annotated[float, Field(ge=0, le=0.5)] = Field(
        default=0.01,
        description=(
            "designs within this relative distance of the best single objective count as tied; ties go to the "
            "design that over-produces least, then to the lowest cost per released dose (cost.per_dose_supplied)"
        ),
    )


class SpaceFile(_Model):
    space_version: Literal[1]
    name: str = Field(min_length=1)
    base: str | None = None
    scenario: dict[str, Any] | None = None
    variables: list[Variable] = Field(min_length=1)
    constraints: Constraints = Field(default_factory=Constraints)
    objectives: list[str | ObjectiveSpec] | None = Field(default=None, min_length=1)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)

    @model_validator(mode="after")
    def _one_base(self) -> SpaceFile:
        if (self.base is None) == (self.scenario is None):
            raise ValueError("give exactly one of base (a scenario file) or scenario (an inline scenario)")
        return self


@dataclass(frozen=True)
class Objective:
    """What to optimise: a KPI at central values or a probability, and in which direction."""

    key: str
    sense: str  # 'min' | 'max'

    @property
    def label(self) -> str:
        return f"{self.key} ({'max' if self.sense == 'max' else 'min'})"


@dataclass(frozen=True)
class DesignSpace:
    """A validated design space, ready to decode encoded vectors into scenarios."""

    name: str
    base: dict[str, Any]
    variables: tuple[Variable, ...]
    constraints: Constraints
    objectives: tuple[Objective, ...]
    uncertainty: Uncertainty
    optimizer: OptimizerSettings
    digest: str

    @property
    def dimension(self) -> int:
        return len(self.variables)

    def size(self) -> float:
        """Number of distinct encoded designs (inf with a continuous variable)."""
        out = 1.0
        for v in self.variables:
            levels = v.levels
            if levels is None:
                return math.inf
            out *= levels
        return out

    def decode(self, x: Sequence[float]) -> dict[str, Any]:
        """The scenario mapping of the encoded design ``x`` (not yet validated)."""
        data = copy.deepcopy(self.base)
        for var, xi in zip(self.variables, x, strict=True):
            if var.when and not all(_matches(get_key(data, k), want) for k, want in var.when.items()):
                continue
            set_key(data, var.key, var.decode(xi))
        return data

    def choices(self, x: Sequence[float]) -> dict[str, Any]:
        """The value each active variable takes in design ``x`` (by variable name)."""
        data = copy.deepcopy(self.base)
        out: dict[str, Any] = {}
        for var, xi in zip(self.variables, x, strict=True):
            if var.when and not all(_matches(get_key(data, k), want) for k, want in var.when.items()):
                continue
            value = var.decode(xi)
            set_key(data, var.key, value)
            out[var.name] = value
        return out


def _matches(value: Any, want: Any) -> bool:
    if isinstance(want, list):
        return value in want
    return bool(value == want)


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for name, index in _PART.findall(key):
        parts.append(int(index) if index else name)
    if not parts:
        raise ValueError(f"'{key}' is not a scenario key")
    return parts


def get_key(data: Any, key: str) -> Any:
    """The value at a dotted key (``expansion.platform``, ``isolation[1].mwco_kda``), or None."""
    node = data
    for part in _parts(key):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
    return node


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key, creating mappings on the way."""
    parts = _parts(key)
    node: Any = data
    for part, nxt in itertools.pairwise(parts):
        if isinstance(part, int):
            node = node[part]
            continue
        if not isinstance(node.get(part), dict | list):
            node[part] = [] if isinstance(nxt, int) else {}
        node = node[part]
    last = parts[-1]
    node[last] = value


def scenario_key(scn: Scenario) -> str:
    """Canonical text of a scenario: equal for designs that are the same scenario."""
    return json.dumps(scn.to_dict(), sort_keys=True, separators=(",", ":"))


def parse_objective(raw: str | ObjectiveSpec) -> Objective:
    if isinstance(raw, str):
        return Objective(raw, "min")
    if raw.maximize is not None:
        return Objective(raw.maximize, "max")
    assert raw.minimize is not None
    return Objective(raw.minimize, "min")


def _space_problems(exc: ValidationError) -> list[str]:
    """One line per problem; for a field that may take several forms, the message of the richer form."""
    by_path: dict[str, str] = {}
    for e in exc.errors():
        parts = [str(p) for p in e["loc"] if not (str(p) in ("str", "int", "float") or "[" in str(p))]
        path = ".".join(parts) or "(top level)"
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if path in by_path and e["type"] in ("string_type", "int_type", "float_type"):
            continue
        if e["type"] in ("string_type", "int_type", "float_type") and any(
            str(p).startswith("function-") or "[" in str(p) for p in e["loc"]
        ):
            continue
        by_path[path] = msg
    return [f"{path}: {msg}" for path, msg in by_path.items()]


def build_space(raw: dict[str, Any], root: Path | None = None, source: str | None = None) -> DesignSpace:
    """Validate a design-space mapping; raise :class:`ScenarioError` with one line per problem."""
    try:
        spec = SpaceFile.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_space_problems(exc), source) from None
    if spec.base is not None:
        base_path = (root or Path.cwd()) / spec.base
        base = read_mapping(base_path)
    else:
        assert spec.scenario is not None
        base = copy.deepcopy(spec.scenario)
    try:
        base_scn = parse_scenario(base, f"{source}: base scenario" if source else "base scenario")
    except ScenarioError as exc:
        raise ScenarioError([f"base: {p}" for p in exc.problems], source) from None
    problems = []
    # default: the cost of meeting the stated demand (a design that over-produces pays for it), else per dose
    default = "cost.per_dose_supplied" if base_scn.demand is not None else "cost.per_dose"
    objectives = tuple(parse_objective(o) for o in (spec.objectives or [default]))
    c = spec.constraints
    needs_demand = (
        c.demand_met or c.min_p_meets_demand is not None or any(o.key == "p_meets_demand" for o in objectives)
    )
    if needs_demand and base_scn.demand is None:
        problems.append("constraints/objectives use the demand, but the base scenario has no demand.doses_per_year")
    space = DesignSpace(
        spec.name,
        base_scn.to_dict(),
        tuple(spec.variables),
        spec.constraints,
        objectives,
        spec.uncertainty,
        spec.optimizer,
        hashlib.sha256(json.dumps([spec.model_dump(mode="json"), base], sort_keys=True).encode()).hexdigest(),
    )
    # every variable must produce a valid scenario on its own, at each end of its range
    for j, var in enumerate(space.variables):
        for x in (0.0, 0.999999):
            vec = [0.5] * space.dimension
            vec[j] = x
            data = space.decode(vec)
            try:
                parse_scenario(data)
            except ScenarioError:
                continue  # combinations may be invalid; designs that are become infeasible, not errors
            break
        else:
            problems.append(f"variables[{j}] ({var.name}): no value gives a valid scenario")
    if problems:
        raise ScenarioError(problems, source)
    return space


def load_space(path: str | Path) -> DesignSpace:
    """Read and validate a design-space file."""
    p = Path(path)
    return build_space(read_mapping(p), p.parent, str(p))


def design_summary(scn: Scenario) -> str:
    """One line naming what a design is: platform and scale, schedule, strategies, isolation train."""
    e = scn.expansion
    if e.working_volume_l is not None:
        scale = f"{e.working_volume_l:g} L"
    elif e.surface_area_m2 is not None:
        scale = f"{e.surface_area_m2:g} m2"
    elif e.layers is not None:
        scale = f"{e.layers} layers"
    elif e.area_cm2 is not None:
        scale = f"{e.area_cm2:g} cm2"
    else:
        scale = ""
    c = scn.conditioning
    parts = [
        f"{e.vessels} x {e.platform} {scale}".strip(),
        f"{e.days:g} d expansion",
        f"{c.collections} x {c.days:g} d {c.medium}",
    ]
    if c.strategies:
        parts.append("+".join(c.strategies))
    parts.append(" > ".join(op.op for op in scn.isolation))
    return ", ".join(parts)


def common_uniforms(names: Sequence[str], samples: int, seed: int) -> np.ndarray:
    """Uniform numbers (samples, len(names)), one column per parameter *name*.

    Column ``name`` depends only on (seed, name), so every design sees the same
    draw of a parameter it shares with another design (common random numbers):
    designs are compared on the same uncertainty, not on sampling noise.
    """
    cols = []
    for name in names:
        digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
        cols.append(np.random.default_rng(np.random.SeedSequence([seed, digest])).random(samples))
    return np.column_stack(cols) if cols else np.empty((samples, 0))


def write_scenario(data: dict[str, Any], path: str | Path, comment: str = "") -> Path:
    """Write a design's scenario as a YAML scenario file (with a comment line on top)."""
    import yaml

    p = Path(path)
    head = "".join(f"# {line}\n" for line in comment.splitlines()) if comment else ""
    write_atomic(p, head + yaml.safe_dump(data, sort_keys=False))
    parse_scenario(read_mapping(p), str(p))  # what was written is a valid scenario
    return p
