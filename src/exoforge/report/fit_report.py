"""Report of a fit: estimates, fitted time courses with their 95 % bands, residuals, correlations (Plotly).

The HTML page is self-contained: plotly.js comes from the installed plotly
package and is written into the page (no network). :func:`print_fit` prints
the console summary of ``exoforge fit``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.analysis.calibration import FitResult
from exoforge.analysis.observables import observable
from exoforge.fileio import write_atomic
from exoforge.measurements.variables import VARIABLES

#: Axis titles with units, per variable.
AXIS = {
    "viable_cells": "viable cells [cells]",
    "viable_cell_density": "viable cells [cells/mL]",
    "viable_cells_per_cm2": "viable cells [cells/cm²]",
    "viability": "viability [fraction]",
    "glucose": "glucose [mM]",
    "lactate": "lactate [mM]",
    "glutamine": "glutamine [mM]",
    "ammonia": "ammonia [mM]",
    "ev_concentration": "EVs in medium [particles/mL]",
}
#: Variables drawn on a linear axis (fractions, concentrations near zero); the others on a log axis.
LINEAR = ("viability", "glucose", "lactate", "glutamine", "ammonia")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _fmt(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.3g}"


def print_fit(result: FitResult, echo: Any = print) -> None:
    """Console summary: estimates with 95 % intervals against their priors, fit statistics, warnings."""
    prob = result.problem
    echo(
        f"fitted {prob.n_theta} parameter(s) and {prob.n_bias} assay bias(es) to {prob.n_obs} values of "
        f"{len(prob.data.batches)} batch(es) ({', '.join(prob.data.batches)}); data sha256 {prob.data_sha256[:12]}..."
    )
    echo(f"{'parameter':34} {'estimate':>11} {'95 % interval':>23} {'prior median':>13}  unit")
    for row in result.table():
        if row["key"].startswith("bias."):
            continue
        echo(
            f"{row['key']:34} {_fmt(row['estimate']):>11} {_fmt(row['low_95']):>11}-{_fmt(row['high_95']):<11} "
            f"{_fmt(row['prior_median']):>13}  {row['unit']}"
        )
    for row in result.table():
        if row["key"].startswith("bias."):
            echo(
                f"{row['key']:34} {row['estimate']:+11.3f} {row['low_95']:+11.3f}-{row['high_95']:<+11.3f}"
                f" {'0':>13}  ln"
            )
    echo(
        f"chi-square {result.chi2:.3g} on {result.dof} degrees of freedom (reduced {result.redchi:.3g}); "
        f"{result.nfev} evaluations, {'converged' if result.success else 'NOT converged'}"
    )
    for w in result.warnings:
        echo(f"warning: {w}")


# --------------------------------------------------------------------------- time courses


def time_course_bands(result: FitResult, draws: int = 80, seed: int = 1) -> list[dict[str, Any]]:
    """Model time courses at the estimates and the 2.5-97.5 % band of parameter draws (fit covariance), per
    scenario group, batch and variable: ``{"batch", "variable", "time", "central", "low", "high"}``."""
    prob = result.problem
    p = prob.n_theta
    rng = np.random.default_rng(seed)
    cov = result.covariance[:p, :p]
    try:
        chol = np.linalg.cholesky(cov + 1e-14 * np.eye(p))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        chol = v @ np.diag(np.sqrt(np.maximum(w, 0.0)))
    lower, upper = prob.bounds
    theta = result.x[None, :p] + rng.normal(size=(draws, p)) @ chol.T
    theta = np.clip(theta, lower[:p], upper[:p])
    rows = np.vstack([result.x[None, :p], theta])
    out = []
    for g in prob.groups:
        up = prob.simulate(g, rows)
        t = np.asarray(up.series["time_day"])
        nb = len(g.batches)
        for v in dict.fromkeys(prob.variable[i] for i in g.obs):
            s = observable(v, up)
            for ib, b in enumerate(g.batches):
                cols = s[:, ib::nb]
                band = np.nanpercentile(cols[:, 1:], [2.5, 97.5], axis=1)
                out.append(
                    {"batch": b, "variable": v, "time": t, "central": cols[:, 0], "low": band[0], "high": band[1]}
                )
    return out


def _figure_html(fig: Any) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def fit_figure(result: FitResult, bands: list[dict[str, Any]]) -> Any:
    """Measured values against the fitted model (line) and its 95 % band, one panel per variable."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    prob = result.problem
    variables = list(dict.fromkeys(prob.variable))
    fig = make_subplots(rows=len(variables), cols=1, subplot_titles=[AXIS.get(v, v) for v in variables])
    colour = {b: COLOURS[i % len(COLOURS)] for i, b in enumerate(prob.data.batches)}
    unit = {v: VARIABLES[v].unit or "fraction" for v in variables}
    for r, v in enumerate(variables, start=1):
        for band in (b for b in bands if b["variable"] == v):
            c = colour[band["batch"]]
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([band["time"], band["time"][::-1]]),
                    y=np.concatenate([band["high"], band["low"][::-1]]),
                    fill="toself",
                    fillcolor=c,
                    opacity=0.15,
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{band['batch']} 95 % band",
                    legendgroup=band["batch"],
                    showlegend=False,
                ),
                row=r,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=band["time"],
                    y=band["central"],
                    mode="lines",
                    line={"color": c},
                    name=f"{band['batch']} fitted",
                    legendgroup=band["batch"],
                    showlegend=r == 1,
                    hovertemplate=f"day %{{x:.2f}}<br>{v} %{{y:.4g}} {unit[v]}<extra>{band['batch']} fitted</extra>",
                ),
                row=r,
                col=1,
            )
        for b in prob.data.batches:
            idx = [i for i in range(prob.n_obs) if prob.variable[i] == v and prob.batch[i] == b]
            if not idx:
                continue
            fig.add_trace(
                go.Scatter(
                    x=prob.time[idx],
                    y=prob.y[idx],
                    mode="markers",
                    marker={"color": colour[b], "size": 7},
                    name=f"{b} measured",
                    legendgroup=b,
                    showlegend=r == 1,
                    hovertemplate=f"day %{{x:.2f}}<br>{v} %{{y:.4g}} {unit[v]}<extra>{b} measured</extra>",
                ),
                row=r,
                col=1,
            )
        fig.update_xaxes(title_text="time since seeding [day]", row=r, col=1)
        fig.update_yaxes(title_text=AXIS.get(v, v), type="linear" if v in LINEAR else "log", row=r, col=1)
    fig.update_layout(height=320 * len(variables), margin={"t": 40, "l": 70, "r": 20, "b": 40})
    return fig


def residual_figure(result: FitResult) -> Any:
    """Standardised residuals (in assay-noise SDs) against time, one colour per variable."""
    import plotly.graph_objects as go

    prob = result.problem
    fig = go.Figure()
    for k, v in enumerate(dict.fromkeys(prob.variable)):
        idx = [i for i in range(prob.n_obs) if prob.variable[i] == v]
        fig.add_trace(
            go.Scatter(
                x=prob.time[idx],
                y=result.data_residuals[idx],
                mode="markers",
                name=v,
                marker={"color": COLOURS[k % len(COLOURS)], "size": 7},
                text=[f"{prob.batch[i]}: {prob.where[i]}" for i in idx],
                hovertemplate="day %{x:.2f}<br>residual %{y:.2f} SD<br>%{text}<extra>" + v + "</extra>",
            )
        )
    for y in (-2, 2):
        fig.add_hline(y=y, line={"dash": "dot", "color": "grey"})
    fig.update_layout(
        xaxis_title="time since seeding [day]",
        yaxis_title="residual [assay-noise SDs, ln scale]",
        height=380,
        margin={"t": 20, "l": 70, "r": 20, "b": 40},
    )
    return fig


def correlation_figure(result: FitResult) -> Any:
    """Correlation matrix of the fitted parameters and biases (from the covariance at the estimates)."""
    import plotly.graph_objects as go

    keys = result.keys
    c = result.correlation()
    fig = go.Figure(
        go.Heatmap(
            z=c,
            x=keys,
            y=keys,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            colorbar={"title": "correlation [-]"},
            hovertemplate="%{y} / %{x}: %{z:.3f} (correlation, dimensionless)<extra></extra>",
            text=np.round(c, 2),
            texttemplate="%{text}",
        )
    )
    fig.update_layout(height=120 + 45 * len(keys), margin={"t": 20, "l": 220, "r": 20, "b": 160})
    return fig


def render_fit_report(result: FitResult, draws: int = 80) -> str:
    """The report page as one HTML string."""
    from plotly.offline import get_plotlyjs

    prob = result.problem
    bands = time_course_bands(result, draws=draws)
    rows = []
    for row in result.table():
        ratio = row.get("posterior_to_prior_sd")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(x))}</td>"
                for x in (
                    row["key"],
                    _fmt(row["estimate"]),
                    f"{_fmt(row['low_95'])} – {_fmt(row['high_95'])}",
                    _fmt(row.get("prior_median")),
                    row["unit"] or "–",
                    f"{ratio:.0%}" if ratio is not None else "–",
                )
            )
            + "</tr>"
        )
    files = "".join(
        f"<li><code>{html.escape(s.path)}</code> sha256 <code>{s.sha256}</code></li>" for s in prob.data.sources
    )
    scenarios = "".join(
        f"<li>{html.escape(b)}: {html.escape(s.name)}</li>" for b, s in prob.scenarios.items() if b in prob.data.batches
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings) or "<li>none</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>exoforge fit</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child{{text-align:left}}.warn li{{color:#8a4b00}}</style></head><body>
<h1>Fit of batch data</h1>
<p>{prob.n_obs} measured values of {len(prob.data.batches)} batch(es); {prob.n_theta} model parameter(s) and
{prob.n_bias} assay bias(es) fitted by weighted least squares; reduced chi-square {result.redchi:.3g}
({result.dof} degrees of freedom). Generated {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.</p>
<h2>Data and processes</h2><ul>{files}</ul><ul>{scenarios}</ul>
<h2>Estimates</h2>
<table><tr><th>parameter</th><th>estimate</th><th>95 % interval</th><th>prior median</th><th>unit</th>
<th>uncertainty / prior's</th></tr>{"".join(rows)}</table>
<p>Intervals are Wald intervals on the fitted (log or logit) scale. A bias is the natural log of an assay's
systematic error on one variable, shared by all batches. "Uncertainty / prior's" near 100 % means the data say
little about the parameter.</p>
<h2>Warnings</h2><ul class="warn">{warnings}</ul>
<h2>Measured values and the fitted model</h2>
<p>Lines: the model at the estimates; bands: 2.5-97.5 % of {draws} parameter sets drawn from the fit's
covariance (parameter uncertainty, not assay noise).</p>
{_figure_html(fit_figure(result, bands))}
<h2>Residuals</h2>
{_figure_html(residual_figure(result))}
<h2>Correlation of the estimates</h2>
<p>Pairs near ±1 cannot be told apart by these data.</p>
{_figure_html(correlation_figure(result))}
</body></html>
"""


def write_fit_report(result: FitResult, path: str | Path, draws: int = 80) -> Path:
    return write_atomic(path, render_fit_report(result, draws=draws))
