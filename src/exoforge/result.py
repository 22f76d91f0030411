"""The one result type of a simulation run, and its JSON form (the public contract).

``Result.to_json()`` is what ``exoforge run --json`` prints, what the report
and any store or API serialise: nested objects for dotted keys
(``cells.seeded`` is ``{"cells": {"seeded": ...}}``), SI-like units stated in
the key names or in the contract (particles are NTA-equivalent counts,
volumes in mL where the key says so, money in ``cost.currency``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast, overload

SCHEMA_VERSION = 1


@overload
def _clean(x: dict[str, Any]) -> dict[str, Any]: ...


@overload
def _clean(x: Any) -> Any: ...


def _clean(x: Any) -> Any:
    """JSON-safe value: non-finite floats become None, numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):
        try:
            x = x.item()
        except (ValueError, AttributeError):
            return [_clean(v) for v in x.tolist()]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted keys into nested objects."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Inverse of :func:`nest` for numeric leaves (lists and strings are kept as they are)."""
    out: dict[str, Any] = {}
    for k, v in nested.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class CheckRecord(TypedDict):
    """An engineering check or scale limit of the run: ``ok`` when ``value <= limit``."""

    name: str
    value: float
    limit: float
    ok: bool
    description: str


class StepRecord(TypedDict):
    """One isolation step of the run: particles, protein and volume in and out, hours, purity, equipment."""

    name: str
    op: str
    particles_in: float
    particles_out: float
    recovery: float
    protein_in_ug: float
    protein_out_ug: float
    volume_in_ml: float
    volume_out_ml: float
    hours: float
    labour_hours: float
    medium_vesicles_in: float
    lipoprotein_particles_in: float
    particles_per_ug_protein_in: float
    medium_vesicles_out: float
    lipoprotein_particles_out: float
    particles_per_ug_protein_out: float
    counted_particles_per_ug_protein_out: float
    equipment: list[str]


class LedgerLine(TypedDict):
    """One priced line of the batch's cost: quantity x unit price, its category, step, price year and role."""

    category: str
    item: str
    step: str
    quantity: float
    unit: str
    unit_price: float
    cost: float
    price_is_assumption: bool
    price_year: int
    escalation: float
    role: str | None


@dataclass
class Result:
    """Everything a run produced: KPIs, time series, ledger, checks, warnings, citations."""

    scenario_name: str
    kpis: dict[str, float]
    currency: str
    price_year: int
    cost_breakdown: dict[str, float]
    cost_by_step: dict[str, float]
    ledger: list[LedgerLine]
    checks: list[CheckRecord]
    warnings: list[str]
    citations: list[dict[str, Any]]
    steps: list[StepRecord] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    evidence_effects: list[dict[str, Any]] = field(default_factory=list)
    excluded_refs: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seed: int | None = None
    version: str = ""
    facility_use: str = "dedicated"
    size_distributions: dict[str, Any] = field(default_factory=dict)  # measured and predicted EV sizes (ev_size)
    size_profile: dict[str, list[float]] = field(default_factory=dict)  # model EV sizes before/after isolation

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the command-line contract (see DESIGN.md)."""
        body: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "scenario": self.scenario_name}
        flat: dict[str, Any] = dict(self.kpis)
        flat["cost.currency"] = self.currency
        flat["cost.price_year"] = self.price_year
        flat["cost.facility_use"] = self.facility_use
        flat["cost.breakdown"] = dict(self.cost_breakdown)
        flat["cost.by_step"] = dict(self.cost_by_step)
        body.update(nest(flat))
        body["isolation_steps"] = self.steps
        body["size_profile"] = self.size_profile
        body["checks"] = self.checks
        body["warnings"] = self.warnings
        body["citations"] = self.citations
        body["assumptions"] = self.assumptions
        body["evidence_effects"] = self.evidence_effects
        body["ledger"] = self.ledger
        body["excluded_refs"] = self.excluded_refs
        body["removed_by_exclusion"] = self.removed
        body["seed"] = self.seed
        body["exoforge_version"] = self.version
        if self.size_distributions:
            body["ev_size"] = self.size_distributions
        return cast("dict[str, Any]", _clean(body))

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), indent=indent)

    @property
    def failed_checks(self) -> list[CheckRecord]:
        """The engineering checks and scale limits this run fails (empty when every one passes)."""
        return [c for c in self.checks if not c["ok"]]

    def raise_for_checks(self) -> Result:
        """Raise :class:`ChecksFailed` when a check fails; return the result otherwise (for chaining)."""
        if self.failed_checks:
            raise ChecksFailed(self)
        return self


def check_line(check: CheckRecord) -> str:
    """One line naming a failed check: name, value against its limit, and what it means."""
    return f"check failed: {check['name']} = {check['value']:.3g} (limit {check['limit']:.3g}): {check['description']}"


class ChecksFailed(Exception):
    """A run (``simulate(..., strict=True)`` or ``exoforge run --strict``) failed an engineering check.

    ``result`` is the complete run, so its KPIs and checks can still be read;
    ``failed`` lists the failed checks.
    """

    def __init__(self, result: Result):
        self.result = result
        self.failed = result.failed_checks
        names = ", ".join(c["name"] for c in self.failed)
        super().__init__(f"{result.scenario_name}: {len(self.failed)} engineering check(s) failed: {names}")
