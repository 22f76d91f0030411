"""The validation suite's comparison figure: predicted against reported values, interactive Plotly HTML.

One panel per observable (cells, fold expansion, cells per mL, particles per mL, particles per
collection), each on log-log axes with its unit: the model's central prediction against the value the
paper reports, the 95 % prediction interval as a vertical bar, the reported range as a horizontal bar,
the line of agreement and 2- and 10-fold bands. Hovering a point names the case, its source and every
number. plotly.js is written into the file (offline, no network).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exoforge.fileio import write_atomic
from exoforge.upstream.validation import OBSERVABLES, CaseResult

#: Colours of the platforms (a qualitative palette readable on white).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
FOLD_BANDS = ((2.0, "dot"), (10.0, "dash"))


def comparison_figure(results: Sequence[CaseResult]) -> Any:
    """A Plotly figure of predicted against reported values, one panel per observable."""
    # Longer than 80 lines: one Plotly figure: its traces, axes, units and hover text are set in one place so
    # the figure reads as a whole.
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metrics = [m for m in OBSERVABLES if any(r.case.metric == m for r in results)]
    platforms = sorted({r.case.platform for r in results})
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(platforms)}
    fig = make_subplots(
        rows=1,
        cols=len(metrics),
        subplot_titles=[f"{m} [{OBSERVABLES[m][1]}]" for m in metrics],
        horizontal_spacing=0.08,
    )
    shown: set[str] = set()
    for col, metric in enumerate(metrics, start=1):
        rows = [r for r in results if r.case.metric == metric]
        unit = OBSERVABLES[metric][1]
        values = [v for r in rows for v in (r.case.observed_low, r.case.observed_high, r.predicted, *r.interval)]
        positive = [v for v in values if math.isfinite(v) and v > 0]
        lo, hi = min(positive) / 3.0, max(positive) * 3.0
        fig.add_trace(
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                line={"color": "black", "width": 1},
                name="agreement",
                legendgroup="agreement",
                showlegend=col == 1,
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )
        for fold, dash in FOLD_BANDS:
            for factor in (fold, 1.0 / fold):
                fig.add_trace(
                    go.Scatter(
                        x=[lo, hi],
                        y=[lo * factor, hi * factor],
                        mode="lines",
                        line={"color": "grey", "width": 0.8, "dash": dash},
                        name=f"{fold:g}-fold",
                        legendgroup=f"{fold:g}-fold",
                        showlegend=col == 1 and factor > 1,
                        hoverinfo="skip",
                    ),
                    row=1,
                    col=col,
                )
        for r in rows:
            c = r.case
            first = c.platform not in shown
            shown.add(c.platform)
            status = "inside" if r.within_interval else ("known miss" if c.known_miss else "outside")
            fig.add_trace(
                go.Scatter(
                    x=[c.observed],
                    y=[r.predicted],
                    mode="markers",
                    marker={"color": colour[c.platform], "size": 9, "symbol": "circle" if r.within_interval else "x"},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [max(r.interval[1] - r.predicted, 0.0)],
                        "arrayminus": [max(r.predicted - r.interval[0], 0.0)],
                        "width": 3,
                    },
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": [c.observed_high - c.observed],
                        "arrayminus": [c.observed - c.observed_low],
                        "width": 3,
                    },
                    name=c.platform,
                    legendgroup=c.platform,
                    showlegend=first,
                    hovertemplate=(
                        f"<b>{c.id}</b><br>{c.title}<br>{c.ref}, {c.location}<br>"
                        f"reported %{{x:.3g}} {unit} (range {c.observed_low:.3g}-{c.observed_high:.3g})<br>"
                        f"predicted %{{y:.3g}} {unit} (95 % {r.interval[0]:.3g}-{r.interval[1]:.3g})<br>"
                        f"fold error {r.fold_error:.2f}; reported value {status} the interval<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
        axis = {"type": "log", "range": [math.log10(lo), math.log10(hi)], "exponentformat": "power"}
        fig.update_xaxes(**axis, title_text=f"reported [{unit}]", row=1, col=col)
        fig.update_yaxes(**axis, title_text=f"predicted [{unit}]", row=1, col=col)
    fig.update_layout(
        title="Validation: the culture model against published MSC cultures (bars: reported range, 95 % interval)",
        height=480,
        width=max(480 * len(metrics), 800),
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def comparison_html(results: Sequence[CaseResult]) -> str:
    """The comparison figure as a self-contained HTML page (plotly.js inline)."""
    return str(comparison_figure(results).to_html(full_html=True, include_plotlyjs=True))


def write_comparison(results: Sequence[CaseResult], path: str | Path) -> Path:
    """Write the comparison figure as HTML to ``path`` (parent folders created)."""
    return write_atomic(path, comparison_html(results))
