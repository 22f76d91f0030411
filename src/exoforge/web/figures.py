"""The pages' figures: the report's Plotly figure builders, handed to the browser as JSON.

The figures are the same ones the HTML reports draw (:mod:`exoforge.report.run_figures`,
:mod:`~exoforge.report.analysis_figures`, :mod:`~exoforge.report.evidence_figures`); a page carries
each as a JSON document that ``workspace.js`` passes to Plotly.js, with links to the data behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PageFigure:
    """One figure of a page: its element id, heading, Plotly JSON, and where its data downloads."""

    name: str
    heading: str
    spec: str
    data_url: str = ""

    @property
    def element_id(self) -> str:
        return f"fig-{self.name}"


def _spec(fig: Any) -> str:
    # safe inside <script type="application/json">: no "</" can close the element early
    return str(fig.to_json()).replace("</", "<\\/")


def run_figures(doc: dict[str, Any], run_id: str) -> list[PageFigure]:
    """The figures of a stored run, in the order of the run report."""
    from exoforge.report import run_figures as rf
    from exoforge.workspace.records import result_from_json

    result = result_from_json(doc)
    data = f"/api/v1/runs/{run_id}/plots"
    out: list[PageFigure] = []
    if result.series:
        out.append(
            PageFigure(
                "time_courses", "Culture over time", _spec(rf.time_courses(result.series)), f"{data}/time_courses"
            )
        )
    if result.steps:
        out.append(
            PageFigure(
                "particles",
                "Particles through the isolation train",
                _spec(rf.particles_through_train(result.steps)),
                f"{data}/particles",
            )
        )
        out.append(
            PageFigure(
                "purity",
                "Purity through the isolation train",
                _spec(rf.purity_through_train(result.steps)),
                f"{data}/particles",
            )
        )
    if result.size_profile and not result.size_distributions:
        out.append(
            PageFigure(
                "sizes",
                "EV size distribution before and after isolation",
                _spec(rf.size_distribution(result.size_profile)),
                f"{data}/size_profile",
            )
        )
    out.append(
        PageFigure(
            "cost_breakdown",
            "Cost per batch by category",
            _spec(rf.cost_by_category(result.cost_breakdown, result.currency)),
            f"{data}/cost_breakdown",
        )
    )
    if result.ledger:
        out.append(
            PageFigure(
                "cost_by_step",
                "Cost per batch by step and category",
                _spec(rf.cost_by_step(result.ledger, result.currency)),
                f"{data}/cost_by_step",
            )
        )
    return out


def job_figures(kind: str, result: dict[str, Any], job_id: str) -> list[PageFigure]:
    """The figures of a finished analysis: Monte Carlo histograms and tornado; sensitivity indices."""
    from exoforge.report import analysis_figures as af
    from exoforge.report.plotly_html import kpi_unit

    data = f"/api/v1/jobs/{job_id}/plots"
    out: list[PageFigure] = []
    samples = result.get("samples") or {}
    if samples:
        arrays = {k: np.array([np.nan if v is None else v for v in vs], dtype=float) for k, vs in samples.items()}
        central = {k: v for k, v in (result.get("central") or {}).items() if v is not None}
        fig = af.histograms(arrays, {k: kpi_unit(k) for k in arrays}, central=central or None)
        out.append(PageFigure("histograms", "Distributions", _spec(fig), f"{data}/samples"))
    for i, (kpi, t) in enumerate((result.get("tornado") or {}).items()):
        rows = [(str(r[0]), float(r[1]), float(r[2])) for r in t["rows"]]
        fig = af.tornado(rows, float(t["base"]), kpi, kpi_unit(kpi))
        out.append(PageFigure(f"tornado-{i}", f"Tornado: {kpi}", _spec(fig), f"{data}/tornado"))
    if kind == "sensitivity":
        for i, (kpi, entry) in enumerate((result.get("kpis") or {}).items()):
            sobol = entry.get("sobol") if isinstance(entry, dict) else None
            if sobol:
                sobol_rows = sorted(
                    ((n, r["S1"], r["S1_conf"], r["ST"], r["ST_conf"]) for n, r in sobol.items()),
                    key=lambda r: -(r[3] if r[3] == r[3] else -1.0),
                )[:15]
                out.append(
                    PageFigure(
                        f"sobol-{i}", f"Sobol indices: {kpi}", _spec(af.sobol_indices(sobol_rows, kpi)), f"{data}/sobol"
                    )
                )
    return out


def forest_figure(meta: Any, url: str) -> PageFigure | None:
    """The forest plot of a strategy's meta-analysis (None without a study that has a number)."""
    from exoforge.report.evidence_figures import forest

    fig = forest(meta)
    return PageFigure("forest", "Forest plot", _spec(fig), url) if fig is not None else None
