"""Predicted vs published ratios of the leave-one-study-out check (Plotly, plotly.js inline).

Each emulated comparison is a point: its published ratio (x) and exoforge's prediction with the
whole study left out (y), with the 95 % prediction interval as an error bar; points on the
diagonal are exact. Ratios span three orders of magnitude, so both axes are logarithmic (they
show fold-changes, not fractions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exoforge.evidence.crossval import CrossvalSummary
from exoforge.report.plotly_html import BLUE, RED, style


def crossval_figure(summary: CrossvalSummary) -> Any:
    """Predicted vs published, with the no-effect baseline for comparison."""
    import plotly.graph_objects as go

    rows = summary.rows
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r.published for r in rows],
            y=[r.predicted for r in rows],
            mode="markers",
            marker={
                "color": [BLUE if r.inside else RED for r in rows],
                "symbol": ["diamond" if r.preprint else "circle" for r in rows],
                "size": 9,
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [r.high - r.predicted for r in rows],
                "arrayminus": [r.predicted - r.low for r in rows],
            },
            text=[f"{r.label}{' (preprint)' if r.preprint else ''}: {r.record_id}" for r in rows],
            name="exoforge, study left out (95 % prediction interval; a diamond is a preprint)",
            hovertemplate="%{text}<br>published %{x:.3g}-fold<br>predicted %{y:.3g}-fold<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[r.published for r in rows],
            y=[r.baseline for r in rows],
            mode="markers",
            marker={"symbol": "x", "color": "#999", "size": 7},
            text=[r.record_id for r in rows],
            name="no per-cell effect (model ratio of the arms alone)",
            hovertemplate="%{text}<br>published %{x:.3g}-fold<br>no-effect prediction %{y:.3g}-fold<extra></extra>",
        )
    )
    values = [v for r in rows for v in (r.published, r.low, r.high, r.baseline)]
    lo, hi = min(values) / 1.5, max(values) * 1.5
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "#444", "dash": "dot"}, name="exact"))
    fig.update_xaxes(type="log", title_text="published ratio (treated / control, fold)")
    fig.update_yaxes(type="log", title_text="predicted ratio (fold)")
    title = (
        f"leave-one-study-out: median |log10 error| {summary.median_log10_error:.2f} "
        f"(no effect: {summary.baseline_median_log10_error:.2f}), 95 % coverage {summary.coverage:.0%}, "
        f"{summary.n} comparisons"
    )
    return style(fig, title=title, height=560)


def write_crossval_html(summary: CrossvalSummary, path: str | Path) -> Path:
    """The figure as a self-contained HTML page (plotly.js inline, offline); written atomically."""
    from exoforge.fileio import write_atomic

    return write_atomic(path, str(crossval_figure(summary).to_html(full_html=True, include_plotlyjs=True)))
