"""Rich tables of the analyses for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from exoforge.report.console import fmt

if TYPE_CHECKING:
    from exoforge.analysis.optimize import OptimizationResult
    from exoforge.analysis.optimize_odds import OptimizeOdds
    from exoforge.analysis.sensitivity import SensitivityResult
    from exoforge.analysis.uncertainty import MonteCarloResult


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f} %"


def print_monte_carlo(mc: MonteCarloResult, console: Console | None = None) -> None:
    """Percentiles of the key outputs and the probabilities of meeting the targets."""
    console = console or Console()
    d = mc.to_json()
    table = Table(title=f"{mc.scenario_name}: {mc.n:,} samples ({mc.sampler}, seed {mc.seed})", title_justify="left")
    for col in ("output", "median", "5th pct", "95th pct"):
        table.add_column(col, justify="left" if col == "output" else "right")
    for key in mc.headline_keys():
        s = d["kpis"][key]
        table.add_row(key, fmt(s["median"]), fmt(s["p5"]), fmt(s["p95"]))
    console.print(table)
    console.print(f"P(batch yields at least one dose)  {_pct(d['p_meets_dose_target'])}")
    console.print(f"P(one line meets the demand)       {_pct(d['p_meets_demand'])}")
    console.print(f"P(all engineering checks pass)     {_pct(d['p_all_checks_pass'])}")
    explained = mc.central_vs_median("cost.per_dose")
    if explained is not None:
        console.print("[bold]central run vs Monte Carlo median[/bold]")
        for line in explained.lines():
            console.print(f"  {line}", highlight=False)
    failed = d["failed"]
    if failed["count"]:
        reasons = "; ".join(f"{r} ({c})" for r, c in failed["reasons"].items())
        console.print(f"[yellow]{failed['count']} samples failed and are left out: {reasons}[/yellow]")
    console.print(f"[dim]{mc.seconds:.1f} s on {mc.backend} x{mc.workers}[/dim]")


def _pm(est: float, conf: float, digits: int = 3) -> str:
    """An estimate with its 95 % half-width, e.g. '0.412 ± 0.051'."""
    if est != est:
        return "-"
    return f"{est:.{digits}f} ± {conf:.{digits}f}" if conf == conf else f"{est:.{digits}f}"


def print_sensitivity(sa: SensitivityResult, console: Console | None = None, top: int = 10) -> None:
    """Per KPI and method, the most influential parameters with 95 % confidence intervals, then any index
    that leaves [0, 1] by more than its interval (with the sample size that would fix it)."""
    console = console or Console()
    for kpi in sa.kpis:
        names = sa.ranking(kpi)[:top]
        if kpi in sa.sobol:
            s = sa.sobol[kpi].by_name()
            t = Table(title=f"{kpi}: Sobol indices (n = {sa.n}, 95 % CI)", title_justify="left")
            t.add_column("parameter", overflow="fold", ratio=1)
            t.add_column("first order S1", justify="right", no_wrap=True)
            t.add_column("total ST", justify="right", no_wrap=True)
            for name in names:
                t.add_row(name, _pm(s[name]["S1"], s[name]["S1_conf"]), _pm(s[name]["ST"], s[name]["ST_conf"]))
            console.print(t)
        if kpi in sa.morris:
            m = sa.morris[kpi].by_name()
            order = [n for n in sa.ranking(kpi) if n in m][:top] if kpi in sa.sobol else names
            t = Table(title=f"{kpi}: Morris screening (95 % CI of mu*)", title_justify="left")
            t.add_column("parameter", overflow="fold", ratio=1)
            t.add_column("mu*", justify="right", no_wrap=True)
            t.add_column("± CI", justify="right", no_wrap=True)
            t.add_column("sigma", justify="right", no_wrap=True)
            for name in order:
                t.add_row(name, fmt(m[name]["mu_star"]), fmt(m[name]["mu_star_conf"]), fmt(m[name]["sigma"]))
            console.print(t)
        if kpi in sa.tornado:
            tor = sa.tornado[kpi]
            t = Table(title=f"{kpi}: one at a time (central {fmt(tor.base)})", title_justify="left")
            t.add_column("parameter", overflow="fold", ratio=1)
            t.add_column("at 5th pct", justify="right", no_wrap=True)
            t.add_column("at 95th pct", justify="right", no_wrap=True)
            for name, lo, hi in tor.rows[:top]:
                t.add_row(name, fmt(lo), fmt(hi))
            console.print(t)
    for line in sa.warnings():
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
    console.print(f"[dim]{sa.evaluations:,} evaluations in {sa.seconds:.1f} s[/dim]")


def print_optimization(opt: OptimizationResult, console: Console | None = None) -> None:
    """Ranked recommendations, each with its objectives and the reason it wins."""
    from rich.markup import escape

    console = console or Console()
    d = opt.to_json()
    console.print(
        f"[bold]{escape(opt.space_name)}[/bold]: {d['designs_evaluated']:,} designs evaluated "
        f"({d['distinct_designs']:,} distinct, {d['feasible']:,} feasible), {opt.algorithm}"
    )
    if opt.exclude_refs:
        console.print(f"left out of the evidence: {escape(', '.join(opt.exclude_refs))}")
    for r in d["recommendations"]:
        objectives = ", ".join(f"{o.key} {fmt(r['objectives'][o.key])}" for o in opt.objectives)
        console.print(f"\n[bold]#{r['rank']}[/bold] {escape(r['summary'])}")
        console.print(f"   {escape(objectives)}")
        console.print(f"   [dim]why:[/dim] {escape(r['reason'])}")
    if d.get("neighbours"):
        key = opt.objectives[0].key
        console.print(f"\n[bold]why #1 beats its neighbours[/bold] (one variable changed; {key})")
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("change", overflow="fold", max_width=28)
        table.add_column("value", justify="right")
        table.add_column("vs #1", justify="right")
        table.add_column("why", overflow="fold")
        for n in d["neighbours"]:
            rel = n["relative_to_best"]
            table.add_row(
                escape(f"{n['variable']} -> {n['value']}"),
                fmt(n["objective"]) if n["feasible"] else "-",
                f"{rel:+.1%}" if rel is not None else "infeasible",
                escape(n["why"]),
            )
        console.print(table)
    if opt.robustness:
        console.print("\n[bold]does #1 rest on one study?[/bold] (the recommendations evaluated again without it)")
        for r in opt.robustness:
            tag = ", a preprint" if r.preprint else ""
            objectives = ", ".join(f"{k} {fmt(v)}" for k, v in r.first_objectives.items())
            if not r.first_feasible:
                verdict = f"#1 breaks a constraint ({objectives})"
            elif r.best_rank_without is None:
                verdict = f"#1 gives {objectives}"
            elif r.best_rank_without == 1:
                verdict = f"#1 stays the best of the recommendations ({objectives})"
            else:
                verdict = f"#{r.best_rank_without} becomes the best of the recommendations (#1: {objectives})"
            console.print(
                f"   without {escape(r.study)} ({escape(r.strategy)} {r.effect_ratio - 1:+.0%}{tag}): {escape(verdict)}"
            )
    if opt.odds is not None:
        _print_odds(opt.odds, opt, console)
    if not d["recommendations"]:
        console.print("[yellow]no feasible design: every design breaks a constraint[/yellow]")
    if d["infeasible_reasons"]:
        top = list(d["infeasible_reasons"].items())[:4]
        console.print("\n[dim]infeasible: " + escape("; ".join(f"{r} ({c})" for r, c in top)) + "[/dim]")
    saved = f"; state saved to {opt.state_path}" if opt.state_path else ""
    console.print(f"[dim]{opt.seconds:.1f} s{saved}[/dim]")


def _print_odds(odds: OptimizeOdds, opt: OptimizationResult, console: Console) -> None:
    """How sure the order of the recommendations is, over common draws of their uncertain parameters."""
    from rich.markup import escape

    console.print(
        f"\n[bold]how sure is the order?[/bold] (the recommendations run again on {odds.samples} draws of "
        f"their uncertain parameters, seed {odds.seed}, the same draws for each)",
        highlight=False,
    )
    if odds.p_none_feasible > 0:
        console.print(
            f"   in {odds.p_none_feasible:.0%} of draws no recommendation meets every constraint", highlight=False
        )
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    single = len(opt.objectives) == 1
    if single:
        table.add_column("best\nin", justify="right")
    table.add_column("feasible\nin", justify="right")
    for o in opt.objectives:
        table.add_column(f"{o.key}\nmedian (5-95 %)", justify="right", overflow="fold")
    table.add_column("breaks most often", overflow="fold", ratio=1)
    for r in odds.rows:
        cells = [str(r.rank)]
        if single:
            cells.append(f"{r.p_first:.0%}")
        cells.append(f"{r.p_feasible:.0%}")
        for o in opt.objectives:
            low, mid, high = r.objectives[o.key]
            cells.append(f"{fmt(mid)} ({fmt(low)}-{fmt(high)})")
        cells.append(escape("; ".join(f"{k} ({s:.0%})" for k, s in r.failing)) or "-")
        table.add_row(*cells)
    console.print(table)
