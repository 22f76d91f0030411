"""Interactive figures of the analyses (Plotly): Monte Carlo histograms, tornado, Sobol indices with their
confidence intervals, Morris screening, the Pareto front and convergence of an optimisation.

Every function takes plain data (arrays, lists of tuples) and returns a
``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from exoforge.report.plotly_html import BLUE, GREY, LIGHT, ORANGE, style


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _wide(x: np.ndarray) -> bool:
    """Positive values spread over more than a decade and a half: bin and draw them on a log axis."""
    pos = x[x > 0]
    return pos.size == x.size and pos.size > 1 and float(np.quantile(pos, 0.95) / np.quantile(pos, 0.05)) > 30


def histograms(
    samples: Mapping[str, np.ndarray],
    units: Mapping[str, str] | None = None,
    central: Mapping[str, float] | None = None,
    cols: int = 2,
) -> Any:
    """One histogram per KPI with its median (solid), 5th and 95th percentiles (dashed) and the central run
    (dotted, when given). Wide positive distributions are binned on log10 and drawn on a log axis."""
    go = _go()
    from plotly.subplots import make_subplots

    keys = [k for k, v in samples.items() if np.isfinite(v).sum() > 1]
    rows = max(1, math.ceil(len(keys) / cols))
    units = units or {}
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{k} [{units[k]}]" if units.get(k) else k for k in keys],
        vertical_spacing=min(0.12, 0.5 / rows),
        horizontal_spacing=0.1,
    )
    for i, key in enumerate(keys):
        r, c = divmod(i, cols)
        x = samples[key][np.isfinite(samples[key])]
        unit = units.get(key, "")
        log = _wide(x)
        if log:
            edges = np.logspace(np.log10(x.min()), np.log10(x.max()), 41)
        else:
            edges = np.linspace(x.min(), x.max(), 41) if np.ptp(x) > 0 else np.array([x.min() - 0.5, x.min() + 0.5])
        counts, edges = np.histogram(x, bins=edges)
        mids = np.sqrt(edges[:-1] * edges[1:]) if log else (edges[:-1] + edges[1:]) / 2
        fig.add_trace(
            go.Bar(
                x=mids,
                y=counts,
                width=np.diff(edges),
                marker_color=LIGHT,
                name=key,
                showlegend=False,
                customdata=np.column_stack([edges[:-1], edges[1:], counts / x.size]),
                hovertemplate=f"{key}<br>%{{customdata[0]:.3g}}-%{{customdata[1]:.3g}} {unit}<br>"
                "%{y} samples (%{customdata[2]:.1%})<extra></extra>",
            ),
            row=r + 1,
            col=c + 1,
        )
        p5, med, p95 = np.quantile(x, [0.05, 0.5, 0.95])
        top = float(counts.max()) * 1.05
        lines = [
            (med, "median", "solid", BLUE),
            (p5, "5th percentile", "dash", BLUE),
            (p95, "95th percentile", "dash", BLUE),
        ]
        if central is not None and key in central and math.isfinite(central[key]):
            lines.append((central[key], "central run", "dot", ORANGE))
        for value, name, dash, colour in lines:
            fig.add_trace(
                go.Scatter(
                    x=[value, value],
                    y=[0, top],
                    mode="lines",
                    line={"color": colour, "dash": dash, "width": 1.5},
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    hovertemplate=f"{key}<br>{name}: {value:.4g} {unit}<extra></extra>",
                ),
                row=r + 1,
                col=c + 1,
            )
        fig.update_xaxes(type="log" if log else "linear", title_text=unit or None, row=r + 1, col=c + 1)
        fig.update_yaxes(title_text="samples", row=r + 1, col=c + 1)
    return style(fig, "Distributions over the parameter uncertainty", height=260 * rows + 110)


def tornado(rows: Sequence[tuple[str, float, float]], base: float, kpi: str, unit: str = "") -> Any:
    """Swing of ``kpi`` with each parameter alone at its 5th (low) and 95th (high) percentile.

    ``rows`` are ``(parameter, KPI at low, KPI at high)``, widest swing first.
    """
    go = _go()
    ordered = list(rows)[::-1]
    names = [r[0] for r in ordered]
    ends = {1: [float(r[1]) for r in ordered], 2: [float(r[2]) for r in ordered]}
    fig = go.Figure()
    for idx, label, colour in ((1, "parameter at its 5th percentile", LIGHT), (2, "at its 95th percentile", BLUE)):
        fig.add_trace(
            go.Bar(
                y=names,
                x=[v - base for v in ends[idx]],
                base=[base] * len(ordered),
                orientation="h",
                name=label,
                marker_color=colour,
                customdata=[[v, (v / base - 1) if base else float("nan")] for v in ends[idx]],
                hovertemplate=f"%{{y}} {label}<br>{kpi}: %{{customdata[0]:.4g}} {unit} "
                f"(%{{customdata[1]:+.1%}} from the central {base:.4g})<extra></extra>",
            )
        )
    fig.add_vline(x=base, line={"color": "black", "width": 1})
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text=f"{kpi} [{unit}]" if unit else kpi)
    return style(fig, f"Tornado: {kpi}, one parameter at a time", height=max(300, 26 * len(ordered) + 170))


def sobol_indices(rows: Sequence[tuple[str, float, float, float, float]], kpi: str) -> Any:
    """First-order (S1) and total (ST) Sobol indices with their 95 % confidence intervals.

    ``rows`` are ``(parameter, S1, S1_conf, ST, ST_conf)``, most influential first; the axis is linear
    (indices are shares of variance) and shows any estimate outside [0, 1] as it is.
    """
    go = _go()
    ordered = list(rows)[::-1]
    names = [r[0] for r in ordered]
    fig = go.Figure()
    for idx, label, colour in ((3, "total (ST)", BLUE), (1, "first order (S1)", LIGHT)):
        est = [float(r[idx]) for r in ordered]
        half = [float(r[idx + 1]) for r in ordered]
        fig.add_trace(
            go.Bar(
                y=names,
                x=est,
                error_x={"type": "data", "array": half, "color": "#333"},
                orientation="h",
                name=label,
                marker_color=colour,
                customdata=[[e - h, e + h] for e, h in zip(est, half, strict=True)],
                hovertemplate=f"%{{y}}<br>{label}: %{{x:.3f}} (95 % CI %{{customdata[0]:.3f}} to "
                "%{customdata[1]:.3f}) of the variance<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": GREY, "width": 1})
    fig.add_vline(x=1, line={"color": GREY, "width": 1, "dash": "dot"})
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=f"share of the variance of {kpi}", type="linear")
    title = f"Sobol indices: {kpi} (bars: 95 % confidence intervals)"
    return style(fig, title, height=max(300, 40 * len(ordered) + 170))


def morris(rows: Sequence[tuple[str, float, float]], kpi: str, unit: str = "") -> Any:
    """Morris screening: mean absolute elementary effect (mu*) against its spread (sigma)."""
    go = _go()
    mu = [r[1] for r in rows]
    sd = [r[2] for r in rows]
    fig = go.Figure(
        go.Scatter(
            x=mu,
            y=sd,
            mode="markers+text",
            text=[r[0] if i < 8 else "" for i, r in enumerate(rows)],
            textposition="top right",
            textfont={"size": 10},
            marker={"color": BLUE, "size": 8},
            customdata=[r[0] for r in rows],
            hovertemplate=f"%{{customdata}}<br>mu* %{{x:.3g}} {unit}<br>sigma %{{y:.3g}} {unit}<extra></extra>",
            showlegend=False,
        )
    )
    lim = max(max(mu, default=0.0), max(sd, default=0.0)) * 1.05 or 1.0
    fig.add_trace(
        go.Scatter(
            x=[0, lim],
            y=[0, lim],
            mode="lines",
            line={"color": GREY, "dash": "dash"},
            hoverinfo="skip",
            name="sigma = mu* (strong interaction or non-linearity above it)",
        )
    )
    per = f"{unit} per unit quantile" if unit else "per unit quantile"
    fig.update_xaxes(title_text=f"mu*: mean |elementary effect| on {kpi} [{per}]")
    fig.update_yaxes(title_text=f"sigma [{per}]")
    return style(fig, f"Morris screening: {kpi}", height=440)


def pareto(
    points: np.ndarray,
    labels: Sequence[str],
    front: np.ndarray,
    highlight: Sequence[int] = (),
    names: Sequence[str] = (),
) -> Any:
    """Objectives of every feasible design, pairwise; the Pareto front in colour, recommendations ringed."""
    go = _go()
    from plotly.subplots import make_subplots

    k = points.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] or [(0, 0)]
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.1, vertical_spacing=0.15)
    text = list(names) if len(names) == len(points) else [f"design {i + 1}" for i in range(len(points))]
    for n, (i, j) in enumerate(pairs):
        r, c = divmod(n, cols)
        if i == j:
            fig.add_trace(
                go.Histogram(x=points[:, i], marker_color=LIGHT, name=labels[i], showlegend=False), row=r + 1, col=c + 1
            )
            fig.update_xaxes(title_text=labels[i], row=r + 1, col=c + 1)
            continue
        for mask, name, colour, size in ((~front, "feasible", GREY, 5), (front, "Pareto front", BLUE, 8)):
            idx = np.flatnonzero(mask)
            fig.add_trace(
                go.Scatter(
                    x=points[idx, i],
                    y=points[idx, j],
                    mode="markers",
                    marker={"color": colour, "size": size},
                    name=name,
                    legendgroup=name,
                    showlegend=n == 0,
                    text=[text[t] for t in idx],
                    hovertemplate=f"%{{text}}<br>{labels[i]}: %{{x:.4g}}<br>{labels[j]}: %{{y:.4g}}<extra></extra>",
                ),
                row=r + 1,
                col=c + 1,
            )
        if len(highlight):
            h = np.asarray(highlight)
            fig.add_trace(
                go.Scatter(
                    x=points[h, i],
                    y=points[h, j],
                    mode="markers",
                    marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": ORANGE, "width": 2}},
                    name="recommended",
                    legendgroup="recommended",
                    showlegend=n == 0,
                    text=[f"#{rank + 1}: {text[t]}" for rank, t in enumerate(h)],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=r + 1,
                col=c + 1,
            )
        fig.update_xaxes(title_text=labels[i], row=r + 1, col=c + 1)
        fig.update_yaxes(title_text=labels[j], row=r + 1, col=c + 1)
    title = "Pareto front" if k > 1 else "Feasible designs"
    return style(fig, title, height=360 * rows + 100)


def convergence(history: Sequence[tuple[int, float]], label: str) -> Any:
    """Best feasible objective against the number of designs evaluated."""
    go = _go()
    x = [h[0] for h in history]
    y = [h[1] if math.isfinite(h[1]) else None for h in history]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            line={"shape": "hv", "color": BLUE},
            hovertemplate=f"%{{x}} designs evaluated<br>best {label}: %{{y:.4g}}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_xaxes(title_text="designs evaluated")
    fig.update_yaxes(title_text=label)
    return style(fig, "Convergence", height=320, legend=False)
