"""Parameters with provenance: value, unit, uncertainty and sources, kept together.

Defaults live in the package's data files (``exoforge/data/parameters/*.yaml``);
strategy effects are pooled from the evidence records at load time (see
:mod:`exoforge.evidence.effects`). A :class:`ParameterSet` is an immutable map
of :class:`Parameter` resolved for one scenario context (cell source, platform,
media); a :class:`ParameterBatch` holds N values of every parameter as arrays,
which is what the numerical core reads, through :meth:`ParameterBatch.get`,
in the unit the caller asks for.

Data-file entry::

    - name: lactate_inhibition_constant
      unit: mM
      description: lactate concentration that halves the specific growth rate
      when: {cell_source: bm_msc}          # optional: context this entry applies to
      estimates:                          # cited values; several are combined
        - {value: 35.4, ref: 10.1089/ten.tea.2008.0345, location: Abstract}
      combine: first                      # first | geometric_mean | mean
      distribution: {kind: lognormal, gsd: 1.3}
      # or, with no source:  value: ..., assumption: "why this value"
      # optional: fallback: {value: ..., reason: ...} when every estimate is excluded
      # optional: inert: "why changing it moves no output"
"""

# Longer than 500 lines: the parameter model in one place: entries and their estimates, context variants, sets,
# batches and the usage log that records which parameters a run read.

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np

from exoforge.datafiles import validate_parameter_file
from exoforge.distributions import Distribution
from exoforge.units import conversion_factor, implied_counts, parse_unit, same_dimension
from exoforge.yamlio import load_yaml

PARAMETER_PACKAGE = "exoforge.data.parameters"
SCENARIO_OVERRIDE = "scenario override"
#: Factor either side of a positive default that a user's override may take: a judgement (four orders
#: of magnitude hold every measured value of a parameter; beyond them a value is a typing error or
#: a unit mistake, and the model's equations were never meant for it).
OVERRIDE_SPAN = 1e4


@dataclass(frozen=True)
class Estimate:
    """One cited value of a parameter."""

    value: float
    ref: str
    location: str
    derivation: str | None = None
    records: tuple[str, ...] = ()
    note: str | None = None


#: Stages of the process and the parameter files (groups) that belong to each; ``evidence`` holds the
#: strategy and platform effects pooled from the evidence records.
STAGES: dict[str, tuple[str, ...]] = {
    "upstream": ("growth", "metabolism", "platforms", "engineering", "ev"),
    "downstream": ("downstream", "operations"),
    "economics": ("prices_upstream", "prices_downstream", "prices_operations", "labour_upstream"),
}


@dataclass(frozen=True)
class Parameter:
    """A named model input with its unit, uncertainty and provenance."""

    name: str
    value: float
    unit: str
    description: str
    distribution: Distribution = field(default_factory=Distribution)
    estimates: tuple[Estimate, ...] = ()
    combine: str = "first"
    assumption: str | None = None
    fallback: tuple[float, str] | None = None
    inert: str | None = None
    when: tuple[tuple[str, str], ...] = ()
    group: str = ""

    @property
    def refs(self) -> tuple[str, ...]:
        """Reference keys (DOI or ``pmid:N``) behind the current value."""
        return tuple(dict.fromkeys(e.ref for e in self.estimates))

    @property
    def stage(self) -> str:
        """Which part of the process the parameter belongs to (see :data:`STAGES`)."""
        if self.group.startswith("evidence:"):
            return "evidence"
        for stage, groups in STAGES.items():
            if self.group in groups:
                return stage
        return self.group or "other"

    def searchable_text(self) -> str:
        """Name, description, assumption and every source, for :meth:`ParameterSet.grep`."""
        parts = [self.name, self.description, self.assumption or ""]
        for e in self.estimates:
            parts.extend([e.ref, e.location, e.note or ""])
        return "\n".join(parts)

    @property
    def is_assumption(self) -> bool:
        return self.assumption is not None

    @property
    def is_fraction(self) -> bool:
        """A share of something (logit-normal uncertainty, or 'fraction' in its dimensionless name)."""
        dimensionless = self.unit.strip() in ("", "1", "dimensionless")
        return self.distribution.kind == "logitnormal" or (dimensionless and "fraction" in self.name)

    def override_range(self, scale: float | None = None) -> tuple[float, float, str]:
        """(lowest, highest, why) value a user override may take, in this parameter's unit.

        A fraction stays in [0, 1]; a price may be 0 (an item already paid for); any other
        positive parameter stays positive and within :data:`OVERRIDE_SPAN` of its default either
        side. A parameter whose default is 0 takes ``scale`` (the largest value of its siblings,
        e.g. the protein of other media) as its default for the span.
        """
        if self.is_fraction:
            return 0.0, 1.0, "a fraction"
        reference = self.value if self.value > 0 else (scale or 1.0)
        span = f"within {OVERRIDE_SPAN:,.0f} times the default either side, a judgement"
        if self.name.startswith("price."):
            return 0.0, reference * OVERRIDE_SPAN, f"a price: from 0 and {span}"
        if self.value == 0:
            return 0.0, reference * OVERRIDE_SPAN, f"non-negative and {span}"
        return reference / OVERRIDE_SPAN, reference * OVERRIDE_SPAN, f"positive and {span}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "description": self.description,
            "distribution": self.distribution.to_dict(),
            "sources": [
                {
                    k: v
                    for k, v in (
                        ("ref", e.ref),
                        ("location", e.location),
                        ("value", e.value),
                        ("derivation", e.derivation),
                        ("note", e.note),
                    )
                    if v is not None
                }
                for e in self.estimates
            ],
        }
        if self.assumption:
            out["assumption"] = self.assumption
        lo, hi, why = self.override_range()
        out["override_range"] = {"low": lo, "high": hi, "basis": why}
        if self.when:
            out["when"] = dict(self.when)
        return out


def _combine(values: list[float], how: str) -> float:
    if how == "first":
        return values[0]
    if how == "mean":
        return float(np.mean(values))
    if how == "geometric_mean":
        return float(np.exp(np.mean(np.log(values))))
    raise ValueError(f"combine '{how}' is not one of first, mean, geometric_mean")


def parameter_from_dict(raw: dict[str, Any], group: str = "") -> Parameter:
    """Build and check a :class:`Parameter` from one data-file entry."""
    name = raw["name"]
    unit = str(raw["unit"])
    parse_unit(unit)
    estimates = tuple(
        Estimate(
            value=float(e["value"]),
            ref=str(e["ref"]).lower() if str(e["ref"]).startswith("10.") else str(e["ref"]),
            location=str(e["location"]),
            derivation=e.get("derivation"),
            records=tuple(e.get("records", ())),
            note=e.get("note"),
        )
        for e in raw.get("estimates", ())
    )
    assumption = raw.get("assumption")
    if estimates:
        value = _combine([e.value for e in estimates], raw.get("combine", "first"))
    elif assumption and "value" in raw:
        value = float(raw["value"])
    else:
        raise ValueError(f"parameter '{name}': give cited estimates, or a value with an assumption reason")
    dist = Distribution.from_dict(raw.get("distribution"))
    dist.validate(value)
    fb = raw.get("fallback")
    return Parameter(
        name=name,
        value=value,
        unit=unit,
        description=str(raw.get("description", "")),
        distribution=dist,
        estimates=estimates,
        combine=raw.get("combine", "first"),
        assumption=assumption,
        fallback=(float(fb["value"]), str(fb["reason"])) if fb else None,
        inert=raw.get("inert"),
        when=tuple(sorted((str(k), str(v)) for k, v in (raw.get("when") or {}).items())),
        group=group,
    )


def packaged_data_paths() -> tuple[Path, Path]:
    """(folder of the packaged parameter files, the packaged catalogue of media and microcarriers)."""
    return Path(str(resources.files(PARAMETER_PACKAGE))), Path(str(resources.files("exoforge.data"))) / "catalogue.yaml"


_PLUGIN_FOLDERS: list[Path] = []


def register_parameter_folder(folder: Path) -> None:
    """Read the parameter files of ``folder`` (a plug-in's) with the packaged ones, checked now."""
    if not folder.is_dir():
        raise ValueError(f"parameter folder {folder} does not exist")
    for path in sorted(folder.glob("*.yaml")):  # a mistake is the plug-in's, named with its file and line
        text = path.read_text(encoding="utf-8")
        validate_parameter_file(path, text, load_yaml(text) or {})
    load_default_entries.cache_clear()
    _PLUGIN_FOLDERS.append(folder)


@lru_cache(maxsize=4)
def load_default_entries(root: str | None = None) -> tuple[Parameter, ...]:
    """Every entry of the packaged parameter files (all ``when`` variants), and of installed plug-ins'."""
    if root is None:
        from exoforge.plugins import load_plugins

        load_plugins()
    base = Path(root) if root else Path(str(resources.files(PARAMETER_PACKAGE)))
    files = sorted(base.glob("*.yaml"))
    if root is None:
        files += [path for folder in _PLUGIN_FOLDERS for path in sorted(folder.glob("*.yaml"))]
    entries: list[Parameter] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        raw = load_yaml(text) or {}
        validate_parameter_file(path, text, raw)  # unknown keys, kinds and types, by file and line
        for item in raw.get("parameters", []):
            try:
                entries.append(parameter_from_dict(item, group=path.stem))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path.name}: {item.get('name', '?')}: {exc}") from exc
    return tuple(entries)


def resolve_variants(entries: Iterable[Parameter], context: Mapping[str, str]) -> dict[str, Parameter]:
    """Pick, for each name, the most specific entry whose ``when`` matches ``context``."""
    best: dict[str, tuple[int, Parameter]] = {}
    for p in entries:
        if any(context.get(k) != v for k, v in p.when):
            continue
        score = len(p.when)
        current = best.get(p.name)
        if current is None or score > current[0]:
            best[p.name] = (score, p)
        elif score == current[0] and current[1].when != p.when:
            raise ValueError(f"parameter '{p.name}' has two equally specific entries for {dict(context)}")
    return {name: p for name, (_, p) in best.items()}


@dataclass(frozen=True)
class JointNormal:
    """Parameters drawn together from a multivariate normal on their transformed scales (a fit's covariance).

    ``transforms[i]`` is ``log``, ``logit`` or ``identity``; ``center`` and ``chol`` (the lower Cholesky
    factor of the covariance) are on those scales. Each parameter's own distribution is the matching
    marginal, so a sampler that takes one of them alone still draws it correctly.
    """

    names: tuple[str, ...]
    transforms: tuple[str, ...]
    center: np.ndarray
    chol: np.ndarray
    lower: np.ndarray | None = None  # natural bounds of each parameter (-inf/inf where none)
    upper: np.ndarray | None = None

    def values(self, z: np.ndarray) -> np.ndarray:
        """Natural values (n, k) for standard-normal draws ``z`` (n, k)."""
        y = self.center[None, :] + z @ self.chol.T
        out = np.empty_like(y)
        for i, t in enumerate(self.transforms):
            out[:, i] = np.exp(y[:, i]) if t == "log" else 1 / (1 + np.exp(-y[:, i])) if t == "logit" else y[:, i]
        if self.lower is not None and self.upper is not None:
            out = np.clip(out, self.lower[None, :], self.upper[None, :])
        return cast("np.ndarray", out)


@dataclass(frozen=True)
class ParameterSet(Mapping[str, Parameter]):
    """An immutable set of parameters resolved for one scenario context.

    ``joint`` holds groups of parameters sampled together (:class:`JointNormal`, from a fitted
    parameter file); every other parameter is sampled independently.
    """

    params: Mapping[str, Parameter]
    excluded_refs: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    joint: tuple[JointNormal, ...] = ()

    # Mapping protocol
    def __getitem__(self, name: str) -> Parameter:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"no parameter named '{name}'") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def value(self, name: str, unit: str) -> float:
        """Central value of ``name`` expressed in ``unit``."""
        p = self[name]
        return p.value * conversion_factor(p.unit, unit)

    def grep(self, pattern: str) -> list[Parameter]:
        """Parameters whose name, description, assumption or sources match the regular expression
        ``pattern`` (case-insensitive). Raises ``re.error`` for a pattern that does not compile."""
        rx = re.compile(pattern, re.IGNORECASE)
        return [p for p in self.params.values() if rx.search(p.searchable_text())]

    def search(self, text: str) -> list[Parameter]:
        """Parameters whose name or description contains ``text`` (case-insensitive)."""
        t = text.lower()
        return [p for p in self.params.values() if t in p.name.lower() or t in p.description.lower()]

    def with_values(
        self,
        changes: Mapping[str, tuple[float, str]],
        source: str = SCENARIO_OVERRIDE,
        paths: Mapping[str, str] | None = None,
    ) -> ParameterSet:
        """A copy where each named parameter takes a user value ``(value, unit)``.

        The unit must measure the same kind of quantity as the default's, and the value must lie
        in the parameter's :meth:`Parameter.override_range`; the overridden parameter carries no
        uncertainty and cites ``source``. ``paths`` names the scenario key of a change in messages
        (default ``parameters.<name>.value``).
        """
        paths = paths or {}
        params = dict(self.params)
        for name, (value, unit) in changes.items():
            if name not in params:
                import difflib

                close = difflib.get_close_matches(name, list(params), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise KeyError(f"parameters.{name}: no parameter of that name{hint}")
            old = params[name]
            try:
                parse_unit(unit)
            except ValueError as exc:
                raise ValueError(f"parameters.{name}.unit: {exc}") from None
            # counted entities left out of the unit are implied ("1/day" for particle/cell/day)
            effective = implied_counts(unit, old.unit)
            if not same_dimension(effective, old.unit):
                raise ValueError(f"parameters.{name}.unit: '{unit}' does not measure the same quantity as '{old.unit}'")
            converted = float(value) * conversion_factor(effective, old.unit)
            siblings = [p.value for k, p in params.items() if k.rpartition(".")[0] == name.rpartition(".")[0]]
            lo, hi, why = old.override_range(max(siblings, default=0.0) or None)
            if not (math.isfinite(converted) and lo <= converted <= hi):
                shown = f"{value:g} {unit}".strip() if isinstance(value, float | int) else repr(value)
                in_default = f" ({converted:.4g} {old.unit})" if unit != old.unit else ""
                key = paths.get(name, f"parameters.{name}.value")
                raise ValueError(
                    f"{key}: {shown}{in_default} is outside the range of {name}: "
                    f"from {lo:.4g} to {hi:.4g} {old.unit} ({why}; default {old.value:.4g})"
                )
            params[name] = replace(
                old,
                value=converted,
                distribution=Distribution(),
                estimates=(),
                assumption=source,
            )
        return replace(self, params=params)

    def without_refs(self, refs: Iterable[str]) -> ParameterSet:
        """Leave every estimate of the given references out (leave-one-study-out).

        A parameter that keeps other estimates is recombined from them; one
        that loses all its estimates takes its declared fallback, or keeps its
        value as an assumption with its uncertainty doubled. A judgement whose
        assumption names an excluded paper (``doi:...``) keeps its value with its
        uncertainty doubled and no longer names it.
        """
        drop = {normalise_ref(r) for r in refs}
        params = dict(self.params)
        removed: list[str] = list(self.removed)
        matched: set[str] = set()
        for name, p in self.params.items():
            named = [d for d in assumption_dois(p.assumption) if normalise_ref(d) in drop]
            if named:  # a judgement that leans on an excluded paper: it stands, less sure
                matched.update(normalise_ref(d) for d in named)
                removed.append(f"{name}: its assumption's source(s) {', '.join(named)}")
                params[name] = replace(
                    p,
                    distribution=p.distribution.widened(2.0, p.value),
                    assumption=f"a judgement whose named source ({', '.join(named)}) was excluded; value kept, "
                    "uncertainty doubled",
                )
                continue
            keep = tuple(e for e in p.estimates if normalise_ref(e.ref) not in drop)
            if len(keep) == len(p.estimates):
                continue
            gone = sorted({e.ref for e in p.estimates} - {e.ref for e in keep})
            matched.update(normalise_ref(g) for g in gone)
            removed.append(f"{name}: estimate(s) from {', '.join(gone)}")
            if keep:
                value = _combine([e.value for e in keep], p.combine)
                params[name] = replace(p, value=value, estimates=keep)
            elif p.fallback:
                params[name] = replace(p, value=p.fallback[0], estimates=(), assumption=f"fallback: {p.fallback[1]}")
            else:
                params[name] = replace(
                    p,
                    estimates=(),
                    distribution=p.distribution.widened(2.0, p.value),
                    assumption="every cited source was excluded; value kept, uncertainty doubled",
                )
        return ParameterSet(params, tuple(sorted(set(self.excluded_refs) | matched)), tuple(removed))

    def uncertain(self) -> list[Parameter]:
        """Parameters with a non-fixed distribution, in name order."""
        return [p for _, p in sorted(self.params.items()) if p.distribution.is_uncertain]

    def nominal(self, n: int = 1) -> ParameterBatch:
        """A batch of ``n`` copies of the central values."""
        return ParameterBatch(
            n=n,
            values={k: np.full(n, p.value) for k, p in self.params.items()},
            units={k: p.unit for k, p in self.params.items()},
        )

    def from_uniform(self, u: np.ndarray, names: list[str]) -> ParameterBatch:
        """A batch where parameter ``names[j]`` takes ``ppf(u[:, j])``; others stay central.

        Parameters of a :class:`JointNormal` group whose names are all in ``names`` are drawn together
        (their columns of ``u`` through the normal quantile and the group's Cholesky factor).
        """
        u = np.atleast_2d(u)
        batch = self.nominal(u.shape[0])
        values = dict(batch.values)
        for j, name in enumerate(names):
            p = self[name]
            values[name] = p.distribution.ppf(u[:, j], p.value)
        for group in self.joint:
            if all(n in names for n in group.names):
                from exoforge.special import ndtri

                cols = [names.index(n) for n in group.names]
                z = ndtri(np.clip(u[:, cols], 1e-12, 1 - 1e-12))
                drawn = group.values(np.asarray(z))
                for i, n in enumerate(group.names):
                    values[n] = drawn[:, i]
        return ParameterBatch(batch.n, values, batch.units)

    def sample(self, n: int, rng: np.random.Generator, names: list[str] | None = None) -> ParameterBatch:
        """Independent random draws of every uncertain parameter (or of ``names``)."""
        names = names if names is not None else [p.name for p in self.uncertain()]
        return self.from_uniform(rng.random((n, len(names))), names)

    def to_json(self) -> list[dict[str, Any]]:
        return [p.to_dict() for _, p in sorted(self.params.items())]


#: A DOI named in a parameter's assumption text ("... (Valim et al. 2014, doi:10.4236/cellbio.2014.31003, ...").
ASSUMPTION_DOI = re.compile(r"doi:\s*(10\.\d{4,9}/[^\s,;()]+)")


def assumption_dois(text: str | None) -> list[str]:
    """DOIs an assumption names (a judgement that leans on them), without trailing punctuation."""
    return list(dict.fromkeys(m.rstrip(".") for m in ASSUMPTION_DOI.findall(text or "")))


def normalise_ref(ref: str) -> str:
    """Canonical form of a DOI or PMID reference key."""
    r = ref.strip()
    low = r.lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "doi:"):
        if low.startswith(prefix):
            return low[len(prefix) :]
    if low.startswith("pmid:"):
        return "pmid:" + low[5:].strip()
    if r.isdigit():
        return f"pmid:{r}"
    return low


@dataclass(frozen=True)
class ParameterBatch:
    """N values of every parameter, as arrays in each parameter's own unit.

    The numerical core reads values with :meth:`get`, which converts to the
    unit it asks for; :class:`UsageLog` records which names were read, so a
    run cites exactly what it used.
    """

    n: int
    values: Mapping[str, np.ndarray]
    units: Mapping[str, str]

    def get(self, name: str, unit: str) -> np.ndarray:
        try:
            arr = self.values[name]
        except KeyError:
            raise KeyError(f"no parameter named '{name}'") from None
        f = conversion_factor(self.units[name], unit)
        return arr * f if f != 1.0 else arr

    def subset(self, index: np.ndarray | slice) -> ParameterBatch:
        vals = {k: v[index] for k, v in self.values.items()}
        n = len(next(iter(vals.values()))) if vals else 0
        return ParameterBatch(n, vals, self.units)


class UsageLog:
    """Wraps a :class:`ParameterBatch` and records every name read through it."""

    def __init__(self, batch: ParameterBatch):
        self.batch = batch
        self.used: set[str] = set()

    @property
    def n(self) -> int:
        return self.batch.n

    def get(self, name: str, unit: str) -> np.ndarray:
        self.used.add(name)
        return self.batch.get(name, unit)

    def has(self, name: str) -> bool:
        return name in self.batch.values
