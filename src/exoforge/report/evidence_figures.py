"""Interactive forest plot of a strategy's meta-analysis (Plotly).

Studies as squares with their 95 % confidence intervals (open squares: standard
error imputed), the pooled effect as a diamond with its confidence interval and,
for k >= 3, the 95 % prediction interval the simulator draws from. The static
PNG of ``exoforge evidence pool --plot`` stays in :mod:`exoforge.report.forest`.
"""

from __future__ import annotations

import math
from typing import Any

from exoforge.distributions import Z95
from exoforge.evidence.meta import MetaAnalysis
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
        mid, lo, hi = math.exp(s.y), math.exp(s.y - Z95 * se), math.exp(s.y + Z95 * se)
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


def pooled_forest(strategy: str, exclude_refs: tuple[str, ...] = ()) -> Any | None:
    """Forest plot of a partially pooled per-cell effect (None when its family has no study).

    The strategy's own studies (emulated per-cell effects with their 95 % intervals, from the
    reported spread, the emulation and, for other cells, the transfer variance), the other studies
    of its family in grey, the family mean, the strategy's pooled effect and the 95 % interval a run
    draws from (a new process).
    """
    import plotly.graph_objects as go

    from exoforge.evidence.emulated import study_units
    from exoforge.evidence.hierarchy import pooled_posterior

    post = pooled_posterior(strategy, exclude_refs)
    units = [u for u in study_units(exclude_refs=exclude_refs) if u.family == post.family]
    if not units:
        return None
    units.sort(key=lambda u: (u.strategy != strategy, u.strategy, u.label))
    fig = go.Figure()
    for u in units:
        own = u.strategy == strategy
        se = math.sqrt(u.v)
        mid, lo, hi = math.exp(u.y), math.exp(u.y - Z95 * se), math.exp(u.y + Z95 * se)
        label = f"{u.label}: {u.strategy}{' (other cells)' if u.non_msc else ''}"
        fig.add_trace(
            go.Scatter(
                x=[mid],
                y=[label],
                mode="markers",
                marker={
                    "symbol": "square-open" if u.imputed else "square",
                    "size": 10,
                    "color": BLUE if own else "#999",
                },
                error_x={"type": "data", "symmetric": False, "array": [hi - mid], "arrayminus": [mid - lo]},
                showlegend=False,
                hovertemplate=(
                    f"{label}<br>per-cell effect %{{x:.3g}}-fold (emulated)<br>95 % {lo:.3g}-{hi:.3g}"
                    f"<br>records {', '.join(u.record_ids)}<extra></extra>"
                ),
            )
        )
    fam = math.exp(post.family_mean)
    fig.add_trace(
        go.Scatter(
            x=[fam],
            y=[f"{post.family} family mean"],
            mode="markers",
            marker={"symbol": "diamond-open", "size": 13, "color": RED},
            name="family mean",
            hovertemplate=f"{post.family} family mean %{{x:.3g}}-fold<extra></extra>",
        )
    )
    name = f"{strategy}: pooled (k = {post.k} own, {post.k_family} in family)"
    lo, hi = post.range_95
    fig.add_trace(
        go.Scatter(
            x=[post.median],
            y=[name],
            mode="markers",
            marker={"symbol": "diamond", "size": 14, "color": RED},
            error_x={"type": "data", "symmetric": False, "array": [hi - post.median], "arrayminus": [post.median - lo]},
            name="pooled effect (95 % for a new process: what a run draws from)",
            hovertemplate=f"pooled per-cell effect %{{x:.3g}}-fold<br>95 % for a new process {lo:.3g}-{hi:.3g}"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=1.0, line={"color": "#888", "width": 1})
    fig.update_xaxes(type="log", title_text="per-cell EV secretion effect (fold, treated / control)")
    fig.update_yaxes(autorange="reversed")
    return style(fig, f"{strategy}: studies of the {post.family} family", height=160 + 36 * (len(units) + 2))
