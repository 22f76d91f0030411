"""Interactive forest plot of a strategy's meta-analysis (Plotly).

Studies as squares with their 95 % confidence intervals (open squares: standard
error imputed), the pooled effect as a diamond with its confidence interval and,
for k >= 3, the 95 % prediction interval the simulator draws from. The static
PNG of ``exoforge evidence pool --plot`` stays in :mod:`exoforge.report.forest`.
"""

from __future__ import annotations

import math
from typing import Any

from exoforge.evidence.meta import MetaAnalysis
from exoforge.evidence.pooling import Z975
from exoforge.report.plotly_html import BLUE, RED, style


def forest(meta: MetaAnalysis) -> Any | None:
    """The forest plot of ``meta`` (None when it has no study with a number)."""
    import plotly.graph_objects as go

    if not meta.studies:
        return None
    fig = go.Figure()
    basis = meta.basis.replace("_", " ")
    labels = [f"{s.label} ({', '.join(s.cell_sources)})" for s in meta.studies]
    for label, s in zip(labels, meta.studies, strict=True):
        se = math.sqrt(s.v)
        mid, lo, hi = math.exp(s.y), math.exp(s.y - Z975 * se), math.exp(s.y + Z975 * se)
        fig.add_trace(
            go.Scatter(
                x=[mid],
                y=[label],
                mode="markers",
                marker={
                    "symbol": "square-open" if s.imputed else "square",
                    "size": 10,
                    "color": BLUE,
                },
                error_x={"type": "data", "symmetric": False, "array": [hi - mid], "arrayminus": [mid - lo]},
                name=label,
                showlegend=False,
                hovertemplate=(
                    f"{label}<br>fold-change %{{x:.3g}} ({basis})<br>95 % CI {lo:.3g}-{hi:.3g}"
                    f"{' (SE imputed)' if s.imputed else ''}<br>{s.ref}<extra></extra>"
                ),
            )
        )
    p = meta.pooled
    if p is not None:
        name = f"pooled ({meta.method.upper()}), k = {p.k}, tau² = {p.tau2:.2g}, I² = {p.i2:.0%}"
        c_lo, c_hi, mid = math.exp(p.ci_low), math.exp(p.ci_high), math.exp(p.mu)
        pi = p.k >= 3 and math.isfinite(p.pi_low)
        pi_text = f"<br>95 % prediction interval {math.exp(p.pi_low):.3g}-{math.exp(p.pi_high):.3g}" if pi else ""
        fig.add_trace(
            go.Scatter(
                x=[mid],
                y=[name],
                mode="markers",
                marker={"symbol": "diamond", "size": 14, "color": RED},
                error_x={"type": "data", "symmetric": False, "array": [c_hi - mid], "arrayminus": [mid - c_lo]},
                name="pooled effect (95 % CI)",
                hovertemplate=f"pooled fold-change %{{x:.3g}} ({basis})<br>95 % CI {c_lo:.3g}-{c_hi:.3g}{pi_text}"
                "<extra></extra>",
            )
        )
        if pi:
            fig.add_trace(
                go.Scatter(
                    x=[math.exp(p.pi_low), math.exp(p.pi_high)],
                    y=[name, name],
                    mode="lines",
                    line={"color": RED, "dash": "dash"},
                    name="95 % prediction interval (what a run draws from)",
                    hoverinfo="skip",
                )
            )
    fig.add_vline(x=1.0, line={"color": "#888", "width": 1})
    fig.update_xaxes(type="log", title_text=f"fold-change ({basis})")
    fig.update_yaxes(autorange="reversed")
    n = len(meta.studies) + 1
    return style(fig, f"{meta.label}: {meta.population} studies", height=140 + 36 * n)
