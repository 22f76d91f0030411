"""EV size distributions of a run: the measured harvest, the product predicted after isolation and the product
as measured, where the scenario gives measured distributions (``ev_size``). One Plotly figure, with plotly.js
from the installed package written into the page (offline)."""

from __future__ import annotations

from typing import Any

from exoforge.result import Result

CURVES = (
    ("harvest_measured", "harvest, measured (NTA)", "#7f7f7f", "dot"),
    ("product_predicted", "product, predicted after isolation", "#1f77b4", "solid"),
    ("product_measured", "product, measured (NTA)", "#d62728", "dash"),
)


def size_figure(result: Result) -> Any:
    """Number fraction per bin against diameter for each distribution the run has."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for key, label, colour, dash in CURVES:
        d = result.size_distributions.get(key)
        if not d:
            continue
        fig.add_trace(
            go.Scatter(
                x=d["diameters_nm"],
                y=d["fractions"],
                mode="lines+markers",
                name=f"{label}: D50 {d['d50_nm']:.0f} nm",
                line={"color": colour, "dash": dash},
                marker={"size": 4},
                hovertemplate="diameter %{x:.0f} nm<br>fraction %{y:.3f} of particles<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(
        xaxis={"title": "diameter [nm]", "type": "log"},
        yaxis={"title": "number fraction per bin [-]", "type": "linear", "rangemode": "tozero"},
        height=380,
        margin={"t": 20, "l": 70, "r": 20, "b": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def size_comparison_html(result: Result) -> str:
    """The figure as an HTML fragment with plotly.js inline ('' when the run has no measured distribution)."""
    if not result.size_distributions:
        return ""
    from plotly.offline import get_plotlyjs

    fig = size_figure(result).to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
    rows = "".join(
        f"<tr><td>{label}</td><td class='num'>{d['d10_nm']:.0f}</td><td class='num'>{d['d50_nm']:.0f}</td>"
        f"<td class='num'>{d['d90_nm']:.0f}</td><td>{d['source']}</td></tr>"
        for key, label, _, _ in CURVES
        if (d := result.size_distributions.get(key))
    )
    head = "<tr><th>distribution</th><th>D10 [nm]</th><th>D50 [nm]</th><th>D90 [nm]</th><th>source</th></tr>"
    table = f"<table>{head}{rows}</table>"
    return f"<script>{get_plotlyjs()}</script>{fig}{table}"
