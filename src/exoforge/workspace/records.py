"""Stored records: a result document back to a :class:`~exoforge.result.Result`, and the data hash.

A run stores ``Result.to_json()`` plus the time courses (``series``), so that every figure of the
run can be drawn again from the record alone.
"""

from __future__ import annotations

import hashlib
import math
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from exoforge.result import Result, flatten

#: Top-level keys of the result document that are not KPIs.
NON_KPI_KEYS = (
    "schema_version",
    "scenario",
    "size_profile",
    "isolation_steps",
    "checks",
    "warnings",
    "citations",
    "assumptions",
    "evidence_effects",
    "ledger",
    "excluded_refs",
    "removed_by_exclusion",
    "seed",
    "exoforge_version",
    "series",
    "ev_size",
)
#: Keys under ``cost`` that are not numbers.
COST_FIELDS = ("currency", "price_year", "breakdown", "by_step", "facility_use")
#: Package folders whose files decide default parameter values and evidence effects.
DATA_PACKAGES = ("exoforge.evidence.data", "exoforge.data.parameters")


def result_document(result: Result) -> dict[str, Any]:
    """What a run stores: the JSON contract of the result plus its time courses."""
    from exoforge.result import _clean

    doc = result.to_json()
    doc["series"] = _clean(dict(result.series))
    return doc


def result_from_json(doc: dict[str, Any]) -> Result:
    """The :class:`Result` a stored document was made from (``to_json`` read back)."""
    cost = dict(doc.get("cost") or {})
    numeric = {k: v for k, v in doc.items() if k not in NON_KPI_KEYS}
    numeric["cost"] = {k: v for k, v in cost.items() if k not in COST_FIELDS}
    kpis = {k: (math.nan if v is None else float(v)) for k, v in flatten(numeric).items() if _is_number(v)}
    return Result(
        scenario_name=str(doc.get("scenario", "")),
        kpis=kpis,
        currency=str(cost.get("currency", "USD")),
        price_year=int(cost.get("price_year") or 0),
        cost_breakdown=dict(cost.get("breakdown") or {}),
        cost_by_step=dict(cost.get("by_step") or {}),
        ledger=list(doc.get("ledger") or []),
        checks=list(doc.get("checks") or []),
        warnings=list(doc.get("warnings") or []),
        citations=list(doc.get("citations") or []),
        steps=list(doc.get("isolation_steps") or []),
        series={k: [math.nan if x is None else x for x in v] for k, v in (doc.get("series") or {}).items()},
        assumptions=list(doc.get("assumptions") or []),
        evidence_effects=list(doc.get("evidence_effects") or []),
        excluded_refs=list(doc.get("excluded_refs") or []),
        removed=list(doc.get("removed_by_exclusion") or []),
        seed=doc.get("seed"),
        version=str(doc.get("exoforge_version", "")),
        size_distributions=dict(doc.get("ev_size") or {}),
        facility_use=str(cost.get("facility_use") or "dedicated"),
        size_profile=dict(doc.get("size_profile") or {}),
    )


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.extend(_files(entry, name + "/"))
        elif not entry.name.endswith((".py", ".pyc")):
            out.append((name, entry))
    return out


def data_hash() -> str:
    """SHA-256 over every evidence record and default-parameter file (names and bytes).

    Two runs with the same scenario, seed, version and data hash used the same published
    evidence and defaults.
    """
    h = hashlib.sha256()
    for package in DATA_PACKAGES:
        for name, entry in sorted(_files(resources.files(package)), key=lambda t: t[0]):
            h.update(f"{package}/{name}\0".encode())
            h.update(entry.read_bytes())
            h.update(b"\0")
    return h.hexdigest()
