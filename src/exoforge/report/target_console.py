"""Terminal answer of ``exoforge target``."""

from __future__ import annotations

from rich.console import Console

from exoforge.analysis.target import TargetResult
from exoforge.analysis.target_choice import ChoiceResult
from exoforge.report.console import fmt


def print_target(r: TargetResult) -> None:
    """The value that reaches the target, centrally and over the draws, and how likely it is reachable."""
    console = Console()
    unit = f" {r.unit}" if r.unit else ""
    sign = "<" if r.bound == "below" else ">"
    console.print(f"[bold]{r.kpi} {sign} {fmt(r.target)}[/] by varying [bold]{r.parameter}[/]", highlight=False)
    lo, hi = r.documented_range
    console.print(
        f"  current value {fmt(r.current)}{unit}; documented 95 % range {fmt(lo)}-{fmt(hi)}{unit}", highlight=False
    )
    if r.current_meets_central:
        console.print("  the current value already meets the target (central parameters)")
    if r.required_central is None:
        console.print("  central parameters: no value in the searched range crosses the target", highlight=False)
    else:
        console.print(
            f"  central parameters: the target is crossed at {fmt(r.required_central)}{unit}", highlight=False
        )
    q = r.quantiles()
    reached = int(sum(1 for v in r.required_draws if v == v))
    if q is None:
        console.print(
            f"  over {r.required_draws.size} draws of the other parameters: never reached in the searched range"
        )
    else:
        console.print(
            f"  over {r.required_draws.size} draws of the other parameters ({reached} reach it): median "
            f"{fmt(q[1])}{unit}, 90 % {fmt(q[0])}-{fmt(q[2])}{unit}",
            highlight=False,
        )
    console.print(
        f"  P(reachable within the documented range) {r.p_reachable_in_range:.0%}; "
        f"P(the current value already meets it) {r.p_current_meets:.0%}",
        highlight=False,
    )
    if r.culture_reused:
        console.print("  (the culture does not read this parameter: it was simulated once per draw)")


def print_choice(r: ChoiceResult) -> None:
    """Each option with its KPI centrally and over the draws, and P(it meets the target), best first."""
    from rich.table import Table

    console = Console()
    sign = "<" if r.bound == "below" else ">"
    console.print(f"[bold]{r.kpi} {sign} {fmt(r.target)}[/] by choosing [bold]{r.key}[/]", highlight=False)
    console.print(f"  current: {r.current}; {r.draws} draws of the uncertain parameters per option", highlight=False)
    from exoforge.report.plotly_html import kpi_unit

    unit = kpi_unit(r.kpi)
    table = Table(title_justify="left")
    table.add_column("option")
    for col in (f"central [{unit}]" if unit else "central", "median (90 %)", "P(meets)"):
        table.add_column(col, justify="right")
    for o in r.options:
        q = o.interval()
        spread = f"{fmt(q[1])} ({fmt(q[0])}-{fmt(q[2])})" if q else "-"
        central = fmt(o.central) if o.error is None else f"failed: {o.error}"
        table.add_row(str(o.value), central, spread, f"{o.p_meets:.0%}")
    console.print(table)
    if any(o.culture_shared for o in r.options):
        console.print("  (options that change only isolation or economics were evaluated on one culture simulation)")
