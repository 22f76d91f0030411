"""Rich tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from exoforge.result import Result


def fmt(x: Any) -> str:
    """Compact number formatting for tables."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | float):
        if x != x:  # NaN
            return "-"
        if x in (float("inf"), float("-inf")):
            return "inf"
        ax = abs(x)
        if ax != 0 and (ax >= 1e5 or ax < 1e-2):
            return f"{x:.3g}"
        return f"{x:,.3g}" if ax < 1000 else f"{x:,.0f}"
    return str(x)


SUMMARY_ROWS = (
    ("cells.seeded", "cells seeded", ""),
    ("cells.harvested", "cells at end of expansion", ""),
    ("cells.fold_expansion", "fold expansion", "x"),
    ("ev.particles_per_cell_per_day", "EV productivity", "particles/cell/day"),
    ("ev.secreted_particles", "EVs secreted (conditioning)", "particles"),
    ("ev.harvested_particles", "EVs harvested", "particles"),
    ("ev.final_particles", "EVs in final product", "particles"),
    ("ev.recovery_fraction", "isolation recovery", ""),
    ("ev.particles_per_ug_protein", "purity", "particles/ug protein"),
    ("ev.final_volume_ml", "product volume", "mL"),
    ("doses_per_batch", "doses per batch", ""),
    ("batch_days", "batch duration", "days"),
    ("cost.per_batch", "cost per batch", "USD"),
    ("cost.per_dose", "cost per released dose", "USD"),
    ("cost.per_1e9_particles", "cost per 1e9 particles", "USD"),
)
#: Rows shown when the scenario states a demand: what meeting it takes and costs.
DEMAND_ROWS = (
    ("demand.doses_per_year", "demand", "doses/year"),
    ("cost.per_dose_supplied", "cost per dose supplied", "USD"),
    ("doses_released_per_batch", "doses released per batch", "doses"),
    ("batches_per_year", "batches per year", ""),
    ("doses_released_per_year", "doses released per year", "doses"),
    ("overproduction_fraction", "released beyond the demand", "%"),
    ("lines_needed", "parallel lines", ""),
    ("line_utilisation", "line utilisation", "%"),
    ("facility_days_per_batch", "facility days charged per batch", "days"),
)


def summary_value(key: str, value: Any, unit: str) -> str:
    """A summary cell: percentages for the '%' rows, compact numbers otherwise."""
    if unit == "%" and isinstance(value, int | float) and value == value and abs(value) != float("inf"):
        return f"{100 * value:,.0f}"
    return fmt(value)


def print_summary(result: Result, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title=result.scenario_name, title_justify="left")
    t.add_column("output")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for key, label, unit in SUMMARY_ROWS:
        t.add_row(label, fmt(result.kpis.get(key)), unit.replace("USD", result.currency))
    console.print(t)
    demand = result.kpis.get("demand.doses_per_year")
    if demand is not None and demand == demand:
        d = Table(title=f"meeting the demand ({result.facility_use} facility)", title_justify="left")
        d.add_column("output")
        d.add_column("value", justify="right")
        d.add_column("unit")
        for key, label, unit in DEMAND_ROWS:
            d.add_row(label, summary_value(key, result.kpis.get(key), unit), unit.replace("USD", result.currency))
        console.print(d)
    c = Table(title="cost breakdown per batch", title_justify="left")
    c.add_column("category")
    c.add_column(result.currency, justify="right")
    for k, v in result.cost_breakdown.items():
        c.add_row(k, fmt(v))
    console.print(c)
    if result.checks:
        ch = Table(title="engineering checks", title_justify="left")
        for col in ("check", "value", "limit", "ok"):
            ch.add_column(col)
        for row in result.checks:
            ch.add_row(
                row["name"], fmt(row["value"]), fmt(row["limit"]), "[green]ok[/]" if row["ok"] else "[red]FAIL[/]"
            )
        console.print(ch)
    if result.warnings:
        console.print("[bold yellow]warnings[/]")
        for w in result.warnings:
            console.print(f"  - {w}", highlight=False)
    console.print(f"{len(result.citations)} references cited (see --json or --report)")


def print_records(rows: list[dict[str, Any]], strategy: str | None = None, category: str | None = None) -> None:
    console = Console()
    t = Table(title=f"evidence records ({len(rows)})", title_justify="left")
    for col in ("id", "reference", "cell", "strategy", "basis", "value", "location"):
        t.add_column(col, overflow="fold")
    for r in rows:
        ref = r.get("doi") or f"PMID {r.get('pmid')}"
        value = f"x{r['fold_change']:.3g}" if r.get("fold_change") else fmt(r.get("value"))
        if r.get("unit") not in (None, "1", ""):
            value += f" {r['unit']}"
        t.add_row(
            r["id"],
            f"{r['first_author']} {r['year']} ({ref})",
            r["cell_source"],
            r["strategy"],
            r["basis"],
            value,
            r["location"],
        )
    console.print(t)
    if not rows and (strategy or category):
        console.print("no records match: the evidence base holds no figure for this selection")


def print_meta(meta: Any) -> None:
    """A strategy's meta-analysis as tables."""
    import math

    console = Console()
    console.print(
        f"[bold]{meta.label}[/] ({meta.strategy}) — basis {meta.basis}, {meta.population} studies, "
        f"{meta.method.upper()}",
        highlight=False,
    )
    if not meta.studies:
        from exoforge.evidence.meta import numeric_bases

        console.print("no numeric fold-change on this basis in the evidence base")
        others = numeric_bases(meta.strategy)
        for basis, k in others.items():
            console.print(
                f"  basis {basis}: {k['msc']} MSC and {k['non_msc']} non-MSC studies (--basis {basis})",
                highlight=False,
            )
        if not others:
            console.print(
                f"  no basis has one: `exoforge evidence list --strategy {meta.strategy}` shows what is known",
                highlight=False,
            )
        return
    t = Table(title_justify="left")
    for col in ("study", "cell source", "fold", "SE ln", "records"):
        t.add_column(col, overflow="fold")
    for s in meta.studies:
        t.add_row(
            f"{s.label} ({s.ref})",
            ", ".join(s.cell_sources),
            fmt(math.exp(s.y)),
            f"{math.sqrt(s.v):.2f}{' (imputed)' if s.imputed else ''}",
            ", ".join(s.record_ids),
        )
    console.print(t)
    p = meta.pooled
    pi = f"[{math.exp(p.pi_low):.3g}, {math.exp(p.pi_high):.3g}]" if p.k >= 3 else "not defined for k < 3"
    console.print(
        f"pooled fold {p.fold:.3g}, 95 % CI [{math.exp(p.ci_low):.3g}, {math.exp(p.ci_high):.3g}], "
        f"95 % PI {pi}, tau² {p.tau2:.3g}, I² {p.i2:.0%}, k {p.k}",
        highlight=False,
    )
    for src, sub in meta.subgroups.items():
        console.print(f"  subgroup {src}: fold {sub.fold:.3g} (k {sub.k})", highlight=False)
    for lo in meta.leave_one_out:
        console.print(f"  without {lo.label}: fold {lo.pooled.fold:.3g}", highlight=False)


def print_coverage(cov: dict[str, Any]) -> None:
    """Evidence counts per family and strategy."""
    console = Console()
    console.print(f"{cov['references']} references, {cov['records']} records")
    t = Table(title="by family", title_justify="left")
    for col in ("family", "references", "records", "strategies", "no MSC figure"):
        t.add_column(col, overflow="fold")
    for fam, d in cov["families"].items():
        t.add_row(
            fam,
            str(d["references"]),
            str(d["records"]),
            str(d["strategies"]),
            ", ".join(d["strategies_without_msc_figure"]) or "-",
        )
    console.print(t)
    s = Table(title="by strategy", title_justify="left")
    for col in ("strategy", "family", "refs", "records", "numeric MSC fold-changes (refs by basis)", "note"):
        s.add_column(col, overflow="fold")
    for row in cov["strategies"]:
        folds = ", ".join(f"{b}: {k}" for b, k in row["numeric_msc_fold_changes"].items()) or "-"
        s.add_row(row["id"], row["category"], str(row["references"]), str(row["records"]), folds, row["note"])
    console.print(s)


#: Below this terminal width the parameters are printed one block each instead of as a table.
PARAMETER_TABLE_MIN_WIDTH = 140


def print_parameters(params: list[Any]) -> None:
    """Parameters with value, unit, uncertainty and sources.

    A wide terminal gets a table; a narrow one (80 columns, or output to a pipe) gets one block per
    parameter: the name and its variant on one line, the value, unit and 90 % range on the next, the
    sources wrapped below, so that no name or number is cut.
    """
    console = Console()
    rows = []
    for p in params:
        lo, hi = p.distribution.interval(p.value) if p.distribution.is_uncertain else (p.value, p.value)
        rng = f"{fmt(lo)} – {fmt(hi)}" if p.distribution.is_uncertain else "fixed"
        if p.estimates:
            src = "; ".join(f"{e.ref} ({e.location})" for e in p.estimates)
        else:
            src = f"[yellow]assumption[/]: {p.assumption}"
        when = ", ".join(f"{k}={v}" for k, v in p.when)
        rows.append((p.name, when, fmt(p.value), p.unit or "-", rng, src))
    if console.width >= PARAMETER_TABLE_MIN_WIDTH:
        t = Table(title=f"parameters ({len(params)})", title_justify="left")
        for col in ("name", "when", "value", "unit", "90 % range", "source"):
            t.add_column(col, overflow="fold")
        for row in rows:
            t.add_row(*row)
        console.print(t)
        return
    console.print(f"[bold]parameters ({len(params)})[/]")
    for name, when, value, unit, rng, src in rows:
        variant = f"  [dim]when {when}[/]" if when else ""
        console.print(f"[bold]{name}[/]{variant}", overflow="fold")
        range_text = "fixed" if rng == "fixed" else f"90 % {rng}"
        amount = f"{value} {unit}" if unit != "-" else value
        console.print(Padding(f"{amount} ({range_text})", (0, 0, 0, 4)))
        console.print(Padding(Text.from_markup(src, overflow="fold"), (0, 0, 0, 4)))
