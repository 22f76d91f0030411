"""Self-contained interactive HTML report of one run (Plotly figures, plotly.js inline, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import escape

from exoforge.report import run_figures
from exoforge.report.console import DEMAND_ROWS, SUMMARY_ROWS, fmt, summary_value
from exoforge.report.plotly_html import figure_div, plotly_script, unit_label
from exoforge.result import Result


def ledger_quantity(line: dict[str, Any]) -> str:
    """A ledger quantity as a reader reads it: equipment as its share of the purchase price (depreciation)."""
    if line["category"] == "equipment":
        return f"{100 * line['quantity']:.3g} % of purchase"
    unit = unit_label(line.get("unit"))
    return f"{fmt(line['quantity'])} {unit if unit != 'each' else 'units'}".strip()


def run_figures_html(result: Result) -> dict[str, str]:
    """Every figure of the run as an embeddable ``<div>`` (empty where there is nothing to draw)."""
    figs: dict[str, str] = {}
    if result.series:
        figs["time"] = figure_div(run_figures.time_courses(result.series), "fig-time-courses")
    if result.steps:
        figs["train"] = figure_div(run_figures.particles_through_train(result.steps), "fig-train")
        figs["purity"] = figure_div(run_figures.purity_through_train(result.steps), "fig-purity")
    if result.size_profile and not result.size_distributions:
        figs["sizes"] = figure_div(run_figures.size_distribution(result.size_profile), "fig-sizes")
    figs["cost_category"] = figure_div(
        run_figures.cost_by_category(result.cost_breakdown, result.currency), "fig-cost-category"
    )
    if result.ledger:
        figs["cost_step"] = figure_div(run_figures.cost_by_step(result.ledger, result.currency), "fig-cost-step")
    return figs


def render_report(result: Result) -> str:
    """The report as one HTML string."""
    env = Environment(autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    env.filters["unit"] = unit_label
    env.filters["quantity"] = ledger_quantity
    template = env.from_string(
        resources.files("exoforge.report").joinpath("templates/report.html").read_text(encoding="utf-8")
    )
    has_demand = result.kpis.get("demand.doses_per_year") == result.kpis.get("demand.doses_per_year") and (
        result.kpis.get("demand.doses_per_year") is not None
    )
    return template.render(
        r=result,
        summary=[
            (label, fmt(result.kpis.get(key)), unit.replace("USD", result.currency))
            for key, label, unit in SUMMARY_ROWS
        ],
        demand_rows=[
            (label, summary_value(key, result.kpis.get(key), unit), unit.replace("USD", result.currency))
            for key, label, unit in DEMAND_ROWS
        ]
        if has_demand
        else [],
        figs=run_figures_html(result),
        plotly=plotly_script(),
        fig_size=_measured_sizes(result),
        labour_roles=_labour_by_role(result),
        forests=_forest_plots(result),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _measured_sizes(result: Result) -> str:
    """The measured and predicted size distributions (scenario key ``ev_size``) with their D10/D50/D90 table."""
    if not result.size_distributions:
        return ""
    from exoforge.report import size_plots
    from exoforge.report.plotly_html import style

    fig = style(size_plots.size_figure(result), "EV size: measured and predicted", height=420)
    rows = "".join(
        f"<tr><td>{label}</td><td class='num'>{d['d10_nm']:.0f}</td><td class='num'>{d['d50_nm']:.0f}</td>"
        f"<td class='num'>{d['d90_nm']:.0f}</td><td>{escape(str(d['source']))}</td></tr>"
        for key, label, _, _ in size_plots.CURVES
        if (d := result.size_distributions.get(key))
    )
    head = "<tr><th>distribution</th><th>D10 [nm]</th><th>D50 [nm]</th><th>D90 [nm]</th><th>source</th></tr>"
    return figure_div(fig, "fig-measured-sizes") + f"<table>{head}{rows}</table>"


def _labour_by_role(result: Result) -> list[tuple[str, str, float, float]]:
    """(step, role, hours, cost) of every labour line of the ledger."""
    return [
        (row["step"], row.get("role") or row["item"], row["quantity"], row["cost"])
        for row in result.ledger
        if row["category"] == "labour"
    ]


def _forest_plots(result: Result) -> list[tuple[str, str, list[Any]]]:
    """(title, figure div, what it rests on) of the meta-analysis behind each pooled multiplier the run
    used; what it rests on lists the studies whose removal moves a partially pooled effect by 5 % or
    more (:func:`exoforge.evidence.influence.study_influence`)."""
    from exoforge.evidence.influence import study_influence
    from exoforge.evidence.meta import meta_analysis
    from exoforge.report.evidence_figures import forest

    out: list[tuple[str, str, list[Any]]] = []
    for i, eff in enumerate(result.evidence_effects):
        if eff["basis"] == "emulated":
            from exoforge.parameters import normalise_ref
            from exoforge.report.evidence_figures import pooled_forest

            drop = tuple(sorted(normalise_ref(r) for r in result.excluded_refs))
            pooled = pooled_forest(eff["strategy"], drop)
            if pooled is not None:
                title = (
                    f"{eff['strategy']} ({eff['parameter']}): median x{eff['median']:.3g}, "
                    f"k = {eff['k']} own studies, {eff.get('family_studies', 0)} in the {eff.get('family')} family"
                )
                rests = [row for row in study_influence(eff["strategy"], drop) if row.moves_effect]
                out.append((title, figure_div(pooled, f"fig-forest-{i}"), rests))
            continue
        meta = meta_analysis(eff["strategy"], eff["basis"], "reml", result.excluded_refs)
        fig = forest(meta)
        if fig is not None:
            title = f"{meta.label} ({eff['parameter']}): median x{eff['median']:.3g}, k = {meta.k}"
            out.append((title, figure_div(fig, f"fig-forest-{i}"), []))
    return out


def write_report(result: Result, path: str | Path) -> Path:
    """Write the report; parent folders are created. Returns the path."""
    from exoforge.fileio import write_atomic

    return write_atomic(path, render_report(result))
