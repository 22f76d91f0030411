"""Console table and self-contained interactive HTML report of a technology selection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from exoforge.analysis.selection import Selection
from exoforge.analysis.selection_contest import Contest
from exoforge.analysis.selection_demand import DemandCurve
from exoforge.analysis.selection_robustness import StudyLeftOut
from exoforge.analysis.selection_uncertainty import DesignOdds, SelectionOdds
from exoforge.report.console import fmt


def _share(x: float) -> str:
    """A share in running text (no space before the sign, so a line is never broken inside it)."""
    return f"{x:.0%}"


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x or abs(x) == float("inf") else f"{100 * x:,.0f} %"


def print_selection(sel: Selection, console: Console | None = None, top: int = 10) -> None:
    """The ranked designs (cheapest first), the cost under each facility use, and every rejected design."""
    console = console or Console()
    demand = sel.demand
    lot = f", lots of {demand.lot_size_doses:g}" if demand.lot_size_doses else ""
    console.print(
        f"[bold]{escape(sel.name)}[/]: {len(sel.ranked)} of {len(sel.outcomes)} designs feasible "
        f"({demand.doses_per_year:g} doses a year{lot}; {sel.facility_use} line)",
        highlight=False,
    )
    if sel.exclude_refs:
        console.print(f"left out of the evidence: {escape(', '.join(sel.exclude_refs))}", highlight=False)
    t = Table(show_edge=False, pad_edge=False)
    t.add_column("#", justify="right")
    t.add_column("design", overflow="fold", ratio=1)
    for col in ("USD/dose\nsupplied", "USD/dose\nreleased", "batches\n/year", "beyond\ndemand"):
        t.add_column(col, justify="right", no_wrap=True)
    for o in sel.ranked[:top]:
        k = o.kpis
        t.add_row(
            str(o.rank),
            escape(o.design.label),
            fmt(k.get("cost.per_dose_supplied")),
            fmt(k.get("cost.per_dose")),
            fmt(k.get("batches_per_year")),
            _pct(k.get("overproduction_fraction")),
        )
    console.print(t)
    best = sel.best_by_facility_use()
    if any(v is not None for v in best.values()):
        console.print(
            f"[bold]cost per dose supplied by how the line is used[/] (cheapest: {sel.cheapest_use})", highlight=False
        )
        u = Table(show_edge=False, pad_edge=False)
        u.add_column("facility use")
        u.add_column("USD/dose supplied", justify="right", no_wrap=True)
        u.add_column("best design", overflow="fold", ratio=1)
        for use, found in best.items():
            u.add_row(use, fmt(found[1]) if found else "-", escape(found[0].design.label) if found else "none feasible")
        console.print(u)
    if sel.rejected:
        console.print(f"[bold]rejected ({len(sel.rejected)})[/]")
        for o in sel.rejected:
            console.print(f"  - {escape(o.design.label)}: {escape('; '.join(o.reasons))}", highlight=False)


def print_robustness(rows: Sequence[StudyLeftOut], console: Console | None = None) -> None:
    """Whether the first choice survives without each study its effects lean on most."""
    if not rows:
        return
    console = console or Console()
    console.print("[bold]does the choice rest on one study?[/] (the ranking redone without it)", highlight=False)
    for r in rows:
        tag = ", a preprint" if r.preprint else ""
        moved = f"{r.strategy} {r.effect_ratio - 1:+.0%}"
        if r.same_best:
            verdict = f"the first choice stays first ({fmt(r.original_cost_without)} USD/dose supplied)"
        elif r.original_rank_without is not None:
            verdict = (
                f"the first choice falls to #{r.original_rank_without}; best: {r.best_without} "
                f"({fmt(r.best_cost_without)} USD/dose supplied)"
            )
        else:
            why = "; ".join(r.original_reasons_without)
            best = (
                f"{r.best_without} ({fmt(r.best_cost_without)} USD/dose supplied)"
                if r.best_without
                else "none feasible"
            )
            verdict = f"the first choice is rejected ({why}); best: {best}"
        console.print(f"  - without {escape(r.study)} ({escape(moved)}{tag}): {escape(verdict)}", highlight=False)


def _failing(d: DesignOdds) -> str:
    return ", ".join(f"{kind} ({_share(share)})" for kind, share in d.failing)


def print_odds(odds: SelectionOdds | None, console: Console | None = None, top: int = 10) -> None:
    """How often the designs rank first and meet every constraint over the draws of the uncertain parameters."""
    if odds is None:
        return
    console = console or Console()
    console.print(
        f"[bold]how sure is the ranking?[/] ({odds.samples} draws of the uncertain parameters, seed "
        f"{odds.seed}, the same draws for every design)",
        highlight=False,
    )
    if odds.p_none_feasible > 0:
        console.print(f"  in {_share(odds.p_none_feasible)} of draws no design meets every constraint", highlight=False)
    first = odds.central_first
    if first is not None:
        why = f"; it fails most often on: {_failing(first)}" if first.failing else ""
        console.print(
            f"  the first choice meets every constraint in {_share(first.p_feasible)} of draws and ranks first in "
            f"{_share(first.p_first)}{escape(why)}",
            highlight=False,
        )
    t = Table(show_edge=False, pad_edge=False)
    t.add_column("#", justify="right")
    t.add_column("design", overflow="fold", ratio=1)
    for col in ("first\nin", "feasible\nin", "USD/dose supplied\nmedian (5-95 %)"):
        t.add_column(col, justify="right", no_wrap=True)
    for d in [d for d in odds.designs if d.p_first > 0 or d.rank == 1][:top]:
        t.add_row(
            str(d.rank) if d.rank is not None else "-",
            escape(d.label),
            _pct(d.p_first),
            _pct(d.p_feasible),
            f"{fmt(d.cost_median)} ({fmt(d.cost_low)}-{fmt(d.cost_high)})",
        )
    console.print(t)


def print_contest(contest: Contest | None, console: Console | None = None) -> None:
    """Which of the first two designs is the better option over the draws, and the parameters that decide it."""
    if contest is None:
        return
    console = console or Console()
    share = (
        f"#1 is the better option in {_share(contest.p_first_cheaper)} of the {contest.compared} in which "
        "either meets every constraint"
        if contest.compared
        else "in none of them does either meet every constraint"
    )
    console.print(
        f"[bold]what decides between #1 and #2?[/] ({contest.samples} common draws; {share})", highlight=False
    )
    if not contest.deciders and contest.compared:
        console.print(
            f"  no parameter moves the choice beyond chance (|rho| <= {contest.threshold:.2f}): it turns on many "
            "small things at once",
            highlight=False,
        )
    for d in contest.deciders:
        console.print(
            f"  - {escape(d.name)} (rho {d.rho:+.2f}): a higher value favours #{2 if d.rho > 0 else 1}; "
            f"{escape(d.description)}{' (an assumption: no cited figure)' if d.assumption else ''}",
            highlight=False,
        )


def render_selection(
    sel: Selection,
    curves: Sequence[DemandCurve] = (),
    robustness: Sequence[StudyLeftOut] = (),
    odds: SelectionOdds | None = None,
    contest: Contest | None = None,
) -> str:
    from exoforge.report.plotly_html import figure_div, plotly_script
    from exoforge.report.selection_figures import cost_per_dose_vs_demand, ranking_odds

    env = Environment(autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    template = env.from_string(
        resources.files("exoforge.report").joinpath("templates/selection.html").read_text(encoding="utf-8")
    )
    return template.render(
        sel=sel,
        curves=curves,
        fig_demand=figure_div(cost_per_dose_vs_demand(curves), "fig-demand") if curves else "",
        plotly=plotly_script(),
        best_by_use=sel.best_by_facility_use(),
        robustness=robustness,
        odds=odds,
        contest=contest,
        fig_odds=figure_div(ranking_odds(odds), "fig-odds") if odds is not None else "",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_selection_report(
    sel: Selection,
    curves: Sequence[DemandCurve],
    path: str | Path,
    robustness: Sequence[StudyLeftOut] = (),
    odds: SelectionOdds | None = None,
    contest: Contest | None = None,
) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(render_selection(sel, curves, robustness, odds, contest), encoding="utf-8")
    tmp.replace(p)
    return p
