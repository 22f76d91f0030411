"""Self-contained HTML reports of the analyses (Monte Carlo, sensitivity, optimisation).

Each report is one HTML file with interactive Plotly figures (plotly.js
inline, no network), rendered from the analysis result's JSON form plus the
figures of :mod:`exoforge.report.analysis_figures`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from exoforge._version import __version__
from exoforge.report import analysis_figures as figures
from exoforge.report.console import fmt
from exoforge.report.plotly_html import figure_div, kpi_unit, plotly_script

if TYPE_CHECKING:
    from exoforge.analysis.optimize import OptimizationResult
    from exoforge.analysis.sensitivity import SensitivityResult
    from exoforge.analysis.uncertainty import MonteCarloResult


def _pct(x: Any) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f} %"


def _env() -> Environment:
    env = Environment(loader=PackageLoader("exoforge.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    env.filters["pct"] = _pct
    return env


def _render(template: str, title: str, kind: str, settings: list[tuple[str, Any]], **context: Any) -> str:
    return (
        _env()
        .get_template(template)
        .render(
            title=title,
            kind=kind,
            settings=settings,
            version=__version__,
            plotly=plotly_script(),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            **context,
        )
    )


def write_html(text: str, path: str | Path) -> Path:
    """Write ``text`` atomically; parent folders are created."""
    from exoforge.fileio import write_atomic

    return write_atomic(path, text)


def monte_carlo_report(mc: MonteCarloResult) -> str:
    """Histograms, percentiles, probabilities, KPI correlation table and drivers of a Monte Carlo run."""
    d = mc.to_json()
    keys = mc.headline_keys()
    valid = mc.valid
    corr_keys, corr = mc.correlation_table(keys)
    drivers = [(k, mc.drivers(k, top=8)) for k in ("cost.per_dose", "ev.final_particles") if k in keys]
    others = [k for k in d["kpis"] if k not in keys]
    return _render(
        "analysis_mc.html",
        f"Monte Carlo: {mc.scenario_name}",
        "Monte Carlo",
        [("n", mc.n), ("seed", mc.seed), ("sampler", mc.sampler), ("backend", f"{mc.backend} x{mc.workers}")],
        d=d,
        keys=keys + others,
        fig_hist=figure_div(
            figures.histograms(
                {k: mc.kpis[k][valid] for k in keys}, {k: kpi_unit(k) for k in keys}, central=mc.central
            ),
            "fig-mc-histograms",
        ),
        corr_keys=corr_keys,
        corr=corr.tolist(),
        drivers=drivers,
    )


def sensitivity_report(sa: SensitivityResult) -> str:
    """Tornado, Sobol indices and Morris screening of a sensitivity analysis."""
    d = sa.to_json()
    panels = []
    for i, kpi in enumerate(sa.kpis):
        fig: dict[str, str] = {"kpi": kpi}
        unit = "log10" if sa.log_outputs else kpi_unit(kpi)
        if kpi in sa.tornado:
            t = sa.tornado[kpi]
            fig["tornado"] = figure_div(figures.tornado(t.rows[:15], t.base, kpi, kpi_unit(kpi)), f"fig-tornado-{i}")
        if kpi in sa.sobol:
            fig["sobol"] = figure_div(figures.sobol_indices(sa.sobol[kpi].top(15), kpi), f"fig-sobol-{i}")
        if kpi in sa.morris:
            fig["morris"] = figure_div(figures.morris(sa.morris[kpi].rows(), kpi, unit), f"fig-morris-{i}")
        panels.append(fig)
    return _render(
        "analysis_sensitivity.html",
        f"Sensitivity: {sa.scenario_name}",
        "sensitivity",
        [("methods", ", ".join(sa.methods)), ("n", sa.n), ("seed", sa.seed), ("parameters", len(sa.names))],
        d=d,
        figures=panels,
        index_warnings=sa.warnings(),
    )


def optimization_report(opt: OptimizationResult) -> str:
    """Pareto plot, convergence and ranked recommendations of an optimisation."""
    d = opt.to_json()
    points, front, labels = opt.objective_table()
    names = [m.summary for m, ok in zip(opt.designs, opt.feasible, strict=True) if ok]
    fig_pareto = (
        figure_div(figures.pareto(points, labels, front, opt.recommended_indices(), names), "fig-pareto")
        if len(points)
        else ""
    )
    fig_conv = (
        figure_div(figures.convergence(opt.history, opt.objectives[0].label), "fig-convergence") if opt.history else ""
    )
    return _render(
        "analysis_optimize.html",
        f"Optimisation: {opt.space_name}",
        "optimisation",
        [("algorithm", opt.algorithm), ("designs", opt.evaluated), ("seed", opt.seed)],
        d=d,
        fig_pareto=fig_pareto,
        fig_conv=fig_conv,
    )
