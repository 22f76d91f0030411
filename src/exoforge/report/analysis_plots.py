"""Figures of the analyses as inline SVG: Monte Carlo histograms, tornado, Sobol and Morris charts, Pareto front.

matplotlib is imported only when a figure is drawn. Every function takes plain
data (arrays, lists of tuples) and returns one ``<svg>`` string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from exoforge.report.plots import _plt, _svg

BLUE = "#1f5f8b"
LIGHT = "#7a9cc6"
ORANGE = "#c8662b"
GREY = "#9aa5b1"


def _wide(x: np.ndarray) -> bool:
    """Values spread over more than a decade and a half: draw them on a log axis."""
    pos = x[x > 0]
    return pos.size == x.size and pos.size > 1 and np.quantile(pos, 0.95) / np.quantile(pos, 0.05) > 30


def histograms(samples: Mapping[str, np.ndarray], labels: Mapping[str, str] | None = None, cols: int = 3) -> str:
    """One histogram per KPI, with the median (solid) and the 5th and 95th percentiles (dashed)."""
    plt = _plt()
    keys = [k for k, v in samples.items() if np.isfinite(v).sum() > 1]
    rows = max(1, -(-len(keys) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        x = samples[key][np.isfinite(samples[key])]
        bins: np.ndarray | int = 40 if np.ptp(x) > 0 else 1
        if _wide(x):
            bins = np.logspace(np.log10(x.min()), np.log10(x.max()), 40)
            ax.set_xscale("log")
        ax.hist(x, bins=bins, color=LIGHT, edgecolor="white", linewidth=0.3)
        p5, med, p95 = np.quantile(x, [0.05, 0.5, 0.95])
        ax.axvline(med, color=BLUE, lw=1.4)
        for v in (p5, p95):
            ax.axvline(v, color=BLUE, lw=1.0, ls="--")
        ax.set_title((labels or {}).get(key, key), fontsize=8.5)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return _svg(fig)


def tornado(rows: Sequence[tuple[str, float, float]], base: float, kpi: str, unit: str = "") -> str:
    """Swing of ``kpi`` when each parameter moves alone to its 5th (low) and 95th (high) percentile.

    ``rows`` are ``(parameter, value at low, value at high)``, widest swing first.
    """
    plt = _plt()
    rows = list(rows)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    for i, (_, lo, hi) in enumerate(rows):
        ax.barh(i, lo - base, left=base, color=LIGHT, height=0.7)
        ax.barh(i, hi - base, left=base, color=BLUE, height=0.7)
    ax.axvline(base, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_xlabel(f"{kpi} {unit}".strip())
    ax.set_title("one at a time: parameter at its 5th (light) and 95th (dark) percentile, others central")
    values = [v for r in rows for v in r[1:]] + [base]
    if all(v > 0 for v in values) and max(values) / min(values) > 30:
        ax.set_xscale("log")
    fig.tight_layout()
    return _svg(fig)


def sobol_bars(rows: Sequence[tuple[str, float, float, float, float]], kpi: str) -> str:
    """First-order (S1) and total (ST) Sobol indices with their 95 % confidence half-widths.

    ``rows`` are ``(parameter, S1, S1_conf, ST, ST_conf)``, most influential first.
    """
    plt = _plt()
    rows = list(rows)[::-1]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    ax.barh(y + 0.2, [r[3] for r in rows], xerr=[r[4] for r in rows], height=0.4, color=BLUE, label="total (ST)")
    ax.barh(y - 0.2, [r[1] for r in rows], xerr=[r[2] for r in rows], height=0.4, color=LIGHT, label="first order (S1)")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel(f"share of the variance of {kpi}")
    ax.set_xlim(left=min(0.0, min((r[1] for r in rows), default=0.0)))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def morris_scatter(rows: Sequence[tuple[str, float, float]], kpi: str, label_top: int = 8) -> str:
    """Morris screening: mean absolute elementary effect (mu*) against its spread (sigma)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    mu = np.array([r[1] for r in rows])
    sd = np.array([r[2] for r in rows])
    ax.scatter(mu, sd, s=18, color=BLUE)
    top = np.argsort(-mu)[:label_top]
    for i in top:
        ax.annotate(rows[i][0], (mu[i], sd[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    lim = max(float(mu.max(initial=0)), float(sd.max(initial=0))) * 1.05 or 1.0
    ax.plot([0, lim], [0, lim], color=GREY, lw=0.8, ls="--")
    ax.set_xlabel(f"mu* (mean |elementary effect| on {kpi})")
    ax.set_ylabel("sigma (interaction or non-linearity)")
    fig.tight_layout()
    return _svg(fig)


def pareto(
    points: np.ndarray,
    labels: Sequence[str],
    front: np.ndarray,
    highlight: Sequence[int] = (),
) -> str:
    """Pairwise scatter of the objectives of every feasible design; the Pareto front in colour.

    ``points`` is (designs, objectives) in the user's sense (maximised objectives
    are shown as they are), ``front`` a boolean mask, ``highlight`` the indices
    of the recommended designs.
    """
    plt = _plt()
    k = points.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] or [(0, 0)]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for ax, (i, j) in zip(axes.flat, pairs, strict=False):
        if i == j:
            ax.hist(points[:, i], bins=30, color=LIGHT)
            ax.set_xlabel(labels[i])
            continue
        ax.scatter(points[~front, i], points[~front, j], s=6, color=GREY, alpha=0.5, label="feasible")
        ax.scatter(points[front, i], points[front, j], s=14, color=BLUE, label="Pareto front")
        if len(highlight):
            h = np.asarray(highlight)
            ax.scatter(points[h, i], points[h, j], s=60, facecolors="none", edgecolors=ORANGE, lw=1.5)
        ax.set_xlabel(labels[i], fontsize=8)
        ax.set_ylabel(labels[j], fontsize=8)
        for axis, col in ((ax.xaxis, i), (ax.yaxis, j)):
            v = points[:, col]
            if _wide(v):
                (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    if k > 1:
        axes.flat[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _svg(fig)


def convergence(history: Sequence[tuple[int, float]], label: str) -> str:
    """Best feasible objective against the number of designs evaluated."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    if history:
        x, y = zip(*history, strict=True)
        ax.plot(x, y, color=BLUE, lw=1.5, drawstyle="steps-post")
    ax.set_xlabel("designs evaluated")
    ax.set_ylabel(label)
    fig.tight_layout()
    return _svg(fig)
