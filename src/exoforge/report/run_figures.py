"""Interactive figures of one run (Plotly), built from a :class:`~exoforge.result.Result` or its JSON.

Every function takes the result's plain data and returns a
``plotly.graph_objects.Figure``; hover labels carry the values with their
units. Fractions (recovery, dissolved oxygen, transmission) are drawn on linear
axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from exoforge.report.plotly_html import BLUE, CATEGORY_COLOURS, GREY, LIGHT, ORANGE, RED, style

#: Culture panels: (series key, title, unit, axis type, scale applied to the values).
TIME_PANELS = (
    ("viable_cells", "viable cells, all vessels", "cells", "log", 1.0),
    ("glucose_mM", "glucose", "mM", "linear", 1.0),
    ("lactate_mM", "lactate", "mM", "linear", 1.0),
    ("ammonia_mM", "ammonia", "mM", "linear", 1.0),
    ("dissolved_oxygen_fraction", "dissolved O2", "% air saturation", "linear", 100.0),
    ("ev_particles", "EVs in medium, per vessel", "particles", "log", 1.0),
)


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def time_courses(series: Mapping[str, Sequence[float]]) -> Any:
    """Cells, glucose, lactate, ammonia, dissolved oxygen and EVs in the medium against time [day]."""
    go = _go()
    from plotly.subplots import make_subplots

    panels = [p for p in TIME_PANELS if p[0] in series]
    cols = 3
    rows = max(1, math.ceil(len(panels) / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{title} [{unit}]" for _, title, unit, _, _ in panels],
        horizontal_spacing=0.09,
        vertical_spacing=0.16,
    )
    t = list(series["time_day"])
    for i, (key, title, unit, axis, scale) in enumerate(panels):
        r, c = divmod(i, cols)
        y: list[float | None] = [v * scale for v in series[key]]
        if axis == "log":
            y = [
                v if v is not None and v > 0 else None for v in y
            ]  # a log axis has no zero: gaps where the medium was harvested
        fig.add_trace(
            go.Scatter(
                x=t,
                y=y,
                mode="lines",
                name=title,
                line={"color": BLUE, "width": 2},
                hovertemplate=f"day %{{x:.2f}}<br>{title}: %{{y:.4g}} {unit}<extra></extra>",
                showlegend=False,
            ),
            row=r + 1,
            col=c + 1,
        )
        fig.update_yaxes(type=axis, title_text=unit, row=r + 1, col=c + 1)
        fig.update_xaxes(title_text="day", row=r + 1, col=c + 1)
    return style(fig, "Culture: expansion and conditioning", height=300 * rows + 80, legend=False)


def particles_through_train(steps: Sequence[Mapping[str, Any]]) -> Any:
    """Product EVs (and the medium vesicles and lipoproteins counted with them) after harvest and after each
    isolation step, on a linear axis, with each step's recovery on its bar."""
    go = _go()
    labels = ["harvest"] + [s["name"] for s in steps]
    first = steps[0]
    product = [first["particles_in"]] + [s["particles_out"] for s in steps]
    recovery = [None] + [s["recovery"] for s in steps]
    text = [""] + [f"{100 * s['recovery']:.0f} %" for s in steps]
    vesicles = [first.get("medium_vesicles_in", 0.0)] + [s.get("medium_vesicles_out", 0.0) for s in steps]
    lipo = [first.get("lipoprotein_particles_in", 0.0)] + [s.get("lipoprotein_particles_out", 0.0) for s in steps]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=product,
            name="product EVs",
            marker_color=BLUE,
            text=text,
            textposition="outside",
            customdata=[
                ["the conditioned medium collected" if r is None else f"step recovery {100 * r:.1f} %"]
                for r in recovery
            ],
            hovertemplate="%{x}<br>product EVs: %{y:.3g} particles<br>%{customdata[0]}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=vesicles,
            name="medium vesicles",
            marker_color=LIGHT,
            hovertemplate="%{x}<br>medium vesicles: %{y:.3g} particles<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=lipo,
            name="lipoprotein particles",
            marker_color=ORANGE,
            hovertemplate="%{x}<br>lipoprotein particles: %{y:.3g} particles<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="particles per batch", type="linear", rangemode="tozero")
    fig.update_layout(barmode="group", uniformtext={"minsize": 9, "mode": "show"})
    return style(fig, "Particles through the isolation train (labels: product recovery of each step)", height=440)


def purity_through_train(steps: Sequence[Mapping[str, Any]]) -> Any:
    """Product and counted particles per µg protein after harvest and after each step."""
    go = _go()
    labels = ["harvest"] + [s["name"] for s in steps]
    first = steps[0]
    product = [first.get("particles_per_ug_protein_in")] + [s.get("particles_per_ug_protein_out") for s in steps]
    counted = [None] + [s.get("counted_particles_per_ug_protein_out") for s in steps]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=product,
            mode="lines+markers",
            name="product EVs per µg protein",
            line={"color": RED},
            hovertemplate="%{x}<br>%{y:.3g} product particles/µg protein<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=counted,
            mode="lines+markers",
            name="counted particles per µg protein (what NTA and a protein assay give)",
            line={"color": GREY, "dash": "dash"},
            hovertemplate="%{x}<br>%{y:.3g} counted particles/µg protein<extra></extra>",
        )
    )
    fig.update_yaxes(type="log", title_text="particles / µg protein")
    return style(fig, "Purity through the train", height=380)


def size_distribution(sizes: Mapping[str, Sequence[float]]) -> Any:
    """EV number density over diameter in the harvest and in the product, and the train's transmission."""
    go = _go()
    from plotly.subplots import make_subplots

    d = list(sizes["diameter_nm"])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, name, colour in (
        ("harvest_particles_per_nm", "harvest (before isolation)", LIGHT),
        ("product_particles_per_nm", "product (after isolation)", BLUE),
    ):
        fig.add_trace(
            go.Scatter(
                x=d,
                y=list(sizes[key]),
                mode="lines",
                name=name,
                line={"color": colour, "width": 2.5},
                fill="tozeroy",
                hovertemplate=f"{name}<br>%{{x:.0f}} nm: %{{y:.3g}} particles/nm<extra></extra>",
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=d,
            y=[100 * v for v in sizes["transmission"]],
            mode="lines",
            name="kept by the train",
            line={"color": ORANGE, "dash": "dot"},
            hovertemplate="%{x:.0f} nm: %{y:.1f} % kept by the train<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title_text="diameter [nm]", type="log")
    fig.update_yaxes(title_text="particles per nm", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="kept by the train [%]", range=[0, 100], secondary_y=True, showgrid=False)
    return style(fig, "EV size distribution before and after isolation", height=400)


def cost_by_category(breakdown: Mapping[str, float], currency: str) -> Any:
    """Cost per good batch by ledger category, with each category's share of the total."""
    go = _go()
    total = sum(breakdown.values()) or 1.0
    items = sorted(((k, v) for k, v in breakdown.items() if v > 0), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color=[CATEGORY_COLOURS.get(k, GREY) for k, _ in items],
            customdata=[[v / total] for _, v in items],
            hovertemplate=f"%{{y}}: %{{x:,.0f}} {currency} per batch (%{{customdata[0]:.1%}})<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=f"{currency} per good batch")
    return style(fig, f"Cost by category: {total:,.0f} {currency} per batch", height=320, legend=False)


def cost_by_step(ledger: Sequence[Mapping[str, Any]], currency: str) -> Any:
    """Cost per good batch of each process step, stacked by ledger category (the stack sums to the total)."""
    go = _go()
    table: dict[str, dict[str, float]] = {}
    for row in ledger:
        table.setdefault(row["step"], {}).setdefault(row["category"], 0.0)
        table[row["step"]][row["category"]] += row["cost"]
    steps = sorted(table, key=lambda s: sum(table[s].values()))
    fig = go.Figure()
    for cat, colour in CATEGORY_COLOURS.items():
        xs = [table[s].get(cat, 0.0) for s in steps]
        if any(xs):
            fig.add_trace(
                go.Bar(
                    x=xs,
                    y=steps,
                    orientation="h",
                    name=cat,
                    marker_color=colour,
                    hovertemplate=f"%{{y}} · {cat}: %{{x:,.0f}} {currency} per batch<extra></extra>",
                )
            )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text=f"{currency} per good batch")
    return style(fig, "Cost by process step and category", height=max(320, 34 * len(steps) + 160))
