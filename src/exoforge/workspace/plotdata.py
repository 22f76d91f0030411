"""The data behind every figure of the workspace, as tables with units (downloadable as JSON or CSV).

Each function returns a :class:`PlotData`: a title, column names with their units, and rows. The
figures in the web app and the HTML report are drawn from the same numbers, so that a reviewer
can take any plot's data into another tool.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Time-course series: (key in the result's ``series``, label, unit).
SERIES = (
    ("viable_cells", "viable cells (all vessels)", "cells"),
    ("dead_cells", "dead cells (all vessels)", "cells"),
    ("glucose_mM", "glucose", "mM"),
    ("glutamine_mM", "glutamine", "mM"),
    ("lactate_mM", "lactate", "mM"),
    ("ammonia_mM", "ammonia", "mM"),
    ("dissolved_oxygen_fraction", "dissolved oxygen", "fraction of air saturation"),
    ("ev_particles", "EVs in the medium (per vessel)", "particles"),
    ("ev_secreted", "EVs secreted (cumulative, per vessel)", "particles"),
    ("protein_ug", "protein in the medium (per vessel)", "µg"),
)


@dataclass(frozen=True)
class Column:
    name: str
    unit: str = ""
    label: str = ""


@dataclass
class PlotData:
    """A figure's numbers: ``rows`` of values under ``columns`` (name, unit, label)."""

    name: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "columns": [{"name": c.name, "unit": c.unit, "label": c.label or c.name} for c in self.columns],
            "rows": [[_json_value(v) for v in row] for row in self.rows],
            "notes": self.notes,
        }

    def to_csv(self) -> str:
        """CSV with the units in the header (``name [unit]``)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([f"{c.name} [{c.unit}]" if c.unit else c.name for c in self.columns])
        for row in self.rows:
            w.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
        return buf.getvalue()

    def column(self, name: str) -> list[Any]:
        i = [c.name for c in self.columns].index(name)
        return [row[i] for row in self.rows]


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------- runs


def time_courses(doc: dict[str, Any]) -> PlotData:
    """Culture state over the run (one row per time point)."""
    series = doc.get("series") or {}
    present = [s for s in SERIES if s[0] in series]
    cols = [Column("time_day", "day", "time")] + [Column(k, unit, label) for k, label, unit in present]
    t = series.get("time_day") or []
    rows = [[t[i]] + [series[k][i] for k, _, _ in present] for i in range(len(t))]
    return PlotData("time_courses", "Culture over time", cols, rows)


def particles_through_train(doc: dict[str, Any]) -> PlotData:
    """Product EVs, medium vesicles and lipoprotein particles after harvest and after each step."""
    steps = doc.get("isolation_steps") or []
    cols = [
        Column("step", "", "step"),
        Column("product_evs", "particles", "product EVs"),
        Column("medium_vesicles", "particles", "medium-derived vesicles"),
        Column("lipoprotein_particles", "particles", "lipoprotein particles"),
        Column("particles_per_ug_protein", "particles/µg", "product particles per µg protein"),
        Column("step_recovery", "fraction", "recovery of the step"),
    ]
    rows: list[list[Any]] = []
    if steps:
        first = steps[0]
        rows.append(
            [
                "harvest",
                first["particles_in"],
                first.get("medium_vesicles_in"),
                first.get("lipoprotein_particles_in"),
                first.get("particles_per_ug_protein_in"),
                None,
            ]
        )
        for s in steps:
            rows.append(
                [
                    s["name"],
                    s["particles_out"],
                    s.get("medium_vesicles_out"),
                    s.get("lipoprotein_particles_out"),
                    s.get("particles_per_ug_protein_out"),
                    s.get("recovery"),
                ]
            )
    return PlotData("particles", "Particles through the isolation train", cols, rows)


def cost_breakdown(doc: dict[str, Any]) -> PlotData:
    """Cost per good batch by ledger category."""
    cost = doc.get("cost") or {}
    currency = cost.get("currency", "USD")
    rows = [[k, v] for k, v in (cost.get("breakdown") or {}).items()]
    return PlotData(
        "cost_breakdown",
        "Cost per batch by category",
        [Column("category"), Column("cost", currency, f"cost per batch ({currency})")],
        rows,
    )


def cost_by_step(doc: dict[str, Any]) -> PlotData:
    """Cost per good batch by process step and category (from the ledger)."""
    currency = (doc.get("cost") or {}).get("currency", "USD")
    totals: dict[tuple[str, str], float] = {}
    for line in doc.get("ledger") or []:
        key = (line["step"], line["category"])
        totals[key] = totals.get(key, 0.0) + float(line["cost"] or 0.0)
    rows = [[step, cat, v] for (step, cat), v in totals.items()]
    return PlotData(
        "cost_by_step",
        "Cost per batch by step and category",
        [Column("step"), Column("category"), Column("cost", currency, f"cost per batch ({currency})")],
        rows,
    )


def size_profile(doc: dict[str, Any]) -> PlotData:
    """Predicted EV number density over diameter in the harvest and the product, and the train's transmission."""
    sp = doc.get("size_profile") or {}
    names = [
        ("diameter_nm", "nm", "diameter"),
        ("harvest_particles_per_nm", "particles/nm", "harvest (before isolation)"),
        ("product_particles_per_nm", "particles/nm", "product (after isolation)"),
        ("transmission", "fraction", "kept by the train"),
    ]
    present = [n for n in names if n[0] in sp]
    n = len(sp.get("diameter_nm") or [])
    rows = [[sp[k][i] for k, _, _ in present] for i in range(n)]
    return PlotData("size_profile", "EV size distribution", [Column(k, u, lab) for k, u, lab in present], rows)


def checks(doc: dict[str, Any]) -> PlotData:
    rows = [[c["name"], c["value"], c["limit"], c["ok"]] for c in doc.get("checks") or []]
    return PlotData(
        "checks",
        "Engineering checks",
        [Column("check"), Column("value"), Column("limit"), Column("ok")],
        rows,
        notes=["units are stated in each check's description"],
    )


RUN_PLOTS: dict[str, Callable[[dict[str, Any]], PlotData]] = {
    "time_courses": time_courses,
    "particles": particles_through_train,
    "cost_breakdown": cost_breakdown,
    "cost_by_step": cost_by_step,
    "size_profile": size_profile,
    "checks": checks,
}


# --------------------------------------------------------------------------- analyses


def mc_samples(result: dict[str, Any]) -> PlotData:
    """Monte Carlo: every sample of each headline KPI (one column per KPI), the histograms' data."""
    from exoforge.report.plotly_html import kpi_unit

    samples = result.get("samples") or {}
    keys = list(samples)
    n = max((len(v) for v in samples.values()), default=0)
    rows = [[samples[k][i] if i < len(samples[k]) else None for k in keys] for i in range(n)]
    return PlotData(
        "samples",
        "Monte Carlo: the KPI of every sample",
        [Column(k, kpi_unit(k)) for k in keys],
        rows,
        notes=["samples the model could not evaluate are empty"],
    )


def tornado(result: dict[str, Any]) -> PlotData:
    """One-at-a-time swings of each KPI: parameter at its 5th and 95th percentile, others central."""
    rows = []
    for kpi, t in (result.get("tornado") or {}).items():
        for name, low, high in t["rows"]:
            rows.append([kpi, t.get("unit", ""), name, t["base"], low, high])
    return PlotData(
        "tornado",
        "Sensitivity: one parameter at a time",
        [
            Column("kpi"),
            Column("unit"),
            Column("parameter"),
            Column("base", "", "KPI at central values"),
            Column("at_p5", "", "KPI with the parameter at its 5th percentile"),
            Column("at_p95", "", "KPI with the parameter at its 95th percentile"),
        ],
        rows,
    )


def sobol(result: dict[str, Any]) -> PlotData:
    """First-order and total Sobol indices of each KPI (a sensitivity job with the sobol method)."""
    rows = []
    for kpi, entry in (result.get("kpis") or {}).items():
        if isinstance(entry, dict):
            for name, r in (entry.get("sobol") or {}).items():
                rows.append([kpi, name, r["S1"], r["S1_conf"], r["ST"], r["ST_conf"]])
    return PlotData(
        "sobol",
        "Sobol indices",
        [Column("kpi"), Column("parameter"), Column("S1"), Column("S1_conf"), Column("ST"), Column("ST_conf")],
        rows,
    )


JOB_PLOTS: dict[str, Callable[[dict[str, Any]], PlotData]] = {
    "samples": mc_samples,
    "tornado": tornado,
    "sobol": sobol,
}
