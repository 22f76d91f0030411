"""Console table and self-contained HTML report of a technology selection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.table import Table

from exoforge.analysis.selection import DemandCurve, Selection
from exoforge.report.console import fmt


def print_selection(sel: Selection, console: Console | None = None, top: int = 10) -> None:
    """The ranked designs (cheapest first) and every rejected design with its reasons."""
    console = console or Console()
    demand = sel.demand
    lot = f", lots of {demand.lot_size_doses:g}" if demand.lot_size_doses else ""
    t = Table(
        title=f"{sel.name}: {len(sel.ranked)} of {len(sel.outcomes)} designs feasible "
        f"({demand.doses_per_year:g} doses a year{lot})",
        title_justify="left",
    )
    for col in ("rank", "design", "USD/dose supplied", "USD/batch", "doses/batch", "batches/yr", "lines", "batch days"):
        t.add_column(col, justify="left" if col == "design" else "right")
    for o in sel.ranked[:top]:
        k = o.kpis
        t.add_row(
            str(o.rank),
            o.design.label,
            fmt(k.get("cost.per_dose_supplied")),
            fmt(k.get("cost.per_batch")),
            fmt(k.get("doses_released_per_batch")),
            fmt(k.get("batches_per_year")),
            fmt(k.get("lines_needed")),
            fmt(k.get("batch_days")),
        )
    console.print(t)
    if sel.rejected:
        console.print(f"[bold]rejected ({len(sel.rejected)})[/]")
        for o in sel.rejected:
            console.print(f"  - {o.design.label}: {'; '.join(o.reasons)}", highlight=False)


def render_selection(sel: Selection, curves: Sequence[DemandCurve] = ()) -> str:
    from exoforge.report.economics_plots import cost_per_dose_vs_demand

    env = Environment(autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    template = env.from_string(
        resources.files("exoforge.report").joinpath("templates/selection.html").read_text(encoding="utf-8")
    )
    return template.render(
        sel=sel,
        curves=curves,
        fig_demand=cost_per_dose_vs_demand(curves) if curves else "",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_selection_report(sel: Selection, curves: Sequence[DemandCurve], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(render_selection(sel, curves), encoding="utf-8")
    tmp.replace(p)
    return p
