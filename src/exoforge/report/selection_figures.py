"""Interactive figures of a technology selection (Plotly): cost per dose supplied against yearly demand, and
how often each design ranks first over the draws of the uncertain parameters.

One line per platform + isolation train at the space's facility use (its
cheapest feasible scale at each demand), and one per way of using a line
(dedicated, shared, campaign, CDMO) for the cheapest feasible design of the
whole space. Gaps: nothing feasible at that demand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from exoforge.report.plotly_html import style

if TYPE_CHECKING:
    from exoforge.analysis.selection_demand import DemandCurve
    from exoforge.analysis.selection_uncertainty import SelectionOdds

#: Line styles of the facility-use curves.
USE_DASH = {"dedicated": "solid", "shared": "dash", "campaign": "dot", "cdmo": "dashdot"}


def cost_per_dose_vs_demand(curves: Sequence[DemandCurve], currency: str = "USD") -> Any:
    """Cost per dose supplied against yearly demand, per technology pair and per facility use."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for c in curves:
        y = [v if math.isfinite(v) else None for v in c.cost_per_dose]
        if not any(v is not None for v in y):
            continue
        by_use = bool(c.facility_use)
        fig.add_trace(
            go.Scatter(
                x=list(c.demands),
                y=y,
                mode="lines+markers",
                name=c.label,
                line={"width": 3 if by_use else 1.5, "dash": USE_DASH.get(c.facility_use, "solid")},
                marker={"size": 7 if by_use else 5},
                legendgroup="use" if by_use else "pair",
                legendgrouptitle_text="cheapest design, by facility use" if by_use else "platform + train",
                customdata=[[s or "none feasible"] for s in c.best_scale],
                hovertemplate=f"{c.label}<br>%{{x:,.0f}} doses a year: %{{y:,.4g}} {currency} per dose supplied"
                "<br>%{customdata[0]}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title_text="demand [doses per year]")
    fig.update_yaxes(type="log", title_text=f"cost per dose supplied [{currency}]")
    fig.update_layout(legend={"orientation": "v", "x": 1.02, "y": 1, "xanchor": "left", "yanchor": "top"})
    style(fig, "Cost per dose against demand", height=480)
    fig.update_layout(
        legend={"orientation": "v", "x": 1.02, "y": 1, "xanchor": "left", "yanchor": "top"}, margin={"r": 260}
    )
    return fig


def ranking_odds(odds: SelectionOdds, currency: str = "USD", count: int = 12) -> Any:
    """Share of draws in which each design ranks first and meets every constraint (linear 0-1 axis)."""
    import plotly.graph_objects as go

    shown = [d for d in odds.designs if d.p_first > 0 or d.rank is not None][:count][::-1]
    labels = [f"#{d.rank} {d.label}" if d.rank is not None else f"(rejected) {d.label}" for d in shown]
    cost = [
        [f"{d.cost_median:,.4g} ({d.cost_low:,.4g}-{d.cost_high:,.4g})" if math.isfinite(d.cost_median) else "-"]
        for d in shown
    ]
    fig = go.Figure()
    for name, values, color in (
        ("ranks first", [d.p_first for d in shown], "#1f5fa8"),
        ("meets every constraint", [d.p_feasible for d in shown], "#9db7d5"),
    ):
        fig.add_trace(
            go.Bar(
                y=labels,
                x=values,
                name=name,
                orientation="h",
                marker_color=color,
                customdata=cost,
                hovertemplate=f"%{{y}}<br>{name} in %{{x:.0%}} of draws (fraction %{{x:.2f}})"
                f"<br>cost per dose supplied, median (5-95 %): %{{customdata[0]}} {currency}<extra></extra>",
            )
        )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text=f"share of the {odds.samples} draws [%]")
    fig.update_yaxes(automargin=True, title_text="design (# rank at central values)")
    style(fig, "How often each design ranks first", height=max(320, 60 + 42 * len(shown)))
    fig.update_layout(barmode="group")
    return fig
