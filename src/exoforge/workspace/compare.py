"""Runs side by side: every KPI of every run, and the scenario keys whose values differ."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from exoforge.report.plotly_html import kpi_unit
from exoforge.result import flatten
from exoforge.workspace.exports import kpi_rows

#: Relative difference below which two KPI values count as equal (float noise).
REL_TOL = 1e-9


def _differs(values: list[Any]) -> bool:
    nums = [v for v in values if isinstance(v, int | float)]
    if len(nums) != len(values):
        return len({repr(v) for v in values}) > 1
    finite = [float(v) for v in nums]
    return any(not math.isclose(finite[0], v, rel_tol=REL_TOL, abs_tol=0.0) for v in finite[1:])


def _flat_scenario(content: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flatten(content).items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                for k, v in flatten(item).items():
                    out[f"{key}[{i}].{k}"] = v
        else:
            out[key] = value
    return out


@dataclass
class Comparison:
    kpis: list[dict[str, Any]]
    scenario_differences: list[dict[str, Any]]


def compare(results: list[dict[str, Any] | None], contents: list[dict[str, Any]]) -> Comparison:
    """Rows of KPI values (``differs`` marks those that are not all equal) and differing scenario keys."""
    tables = [dict(kpi_rows(doc)) if doc else {} for doc in results]
    keys = list(dict.fromkeys(k for t in tables for k in t))
    currency = next(((doc.get("cost") or {}).get("currency") for doc in results if doc), "USD") or "USD"
    rows = []
    for key in keys:
        values = [t.get(key) for t in tables]
        rows.append({"key": key, "unit": kpi_unit(key, currency), "values": values, "differs": _differs(values)})
    flats = [_flat_scenario(c) for c in contents]
    scenario_keys = list(dict.fromkeys(k for f in flats for k in f))
    diffs = []
    for key in scenario_keys:
        values = [f.get(key) for f in flats]
        if len({repr(v) for v in values}) > 1:
            diffs.append({"key": key, "values": values})
    return Comparison(rows, diffs)
