"""Self-contained HTML report of one run (inline SVG figures, no external files or scripts)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from jinja2 import Environment, select_autoescape

from exoforge.report import economics_plots, plots, size_plots
from exoforge.report.console import SUMMARY_ROWS, fmt
from exoforge.result import Result


def render_report(result: Result) -> str:
    """The report as one HTML string."""
    env = Environment(autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    template = env.from_string(
        resources.files("exoforge.report").joinpath("templates/report.html").read_text(encoding="utf-8")
    )
    return template.render(
        r=result,
        summary=[
            (label, result.kpis.get(key), unit.replace("USD", result.currency)) for key, label, unit in SUMMARY_ROWS
        ],
        fig_time=plots.time_courses(result),
        fig_waterfall=plots.particle_waterfall(result) if result.steps else "",
        fig_cost=plots.cost_breakdown(result),
        fig_train=economics_plots.train_waterfall(result) if result.steps else "",
        fig_cost_steps=economics_plots.cost_by_step_and_category(result) if result.ledger else "",
        fig_size=size_plots.size_comparison_html(result),
        labour_roles=_labour_by_role(result),
        forests=_forest_plots(result),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _labour_by_role(result: Result) -> list[tuple[str, str, float, float]]:
    """(step, role, hours, cost) of every labour line of the ledger."""
    return [
        (row["step"], row.get("role") or row["item"], row["quantity"], row["cost"])
        for row in result.ledger
        if row["category"] == "labour"
    ]


def _forest_plots(result: Result) -> list[tuple[str, str]]:
    """(title, svg) of the meta-analysis behind each pooled multiplier the run used."""
    from exoforge.evidence.meta import meta_analysis
    from exoforge.report.forest import forest_svg

    out = []
    for eff in result.evidence_effects:
        meta = meta_analysis(eff["strategy"], eff["basis"], "reml", result.excluded_refs)
        svg = forest_svg(meta)
        if svg:
            out.append((f"{meta.label} ({eff['parameter']}): median x{eff['median']:.3g}, k = {meta.k}", svg))
    return out


def write_report(result: Result, path: str | Path) -> Path:
    """Write the report; parent folders are created. Returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(render_report(result), encoding="utf-8")
    tmp.replace(p)
    return p
