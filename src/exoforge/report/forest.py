"""Static forest plot of a strategy's meta-analysis as PNG (matplotlib, imported only when drawing), for
``exoforge evidence pool --plot``; reports use the interactive :mod:`exoforge.report.evidence_figures`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from exoforge.distributions import Z95
from exoforge.evidence.meta import MetaAnalysis
from exoforge.fileio import atomic_target


def _figure(meta: MetaAnalysis) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(meta.studies)
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.42 * (n + 3)))
    ys = list(range(n + 2, 2, -1))
    for y, s in zip(ys, rows, strict=True):
        se = math.sqrt(s.v)
        lo, hi = math.exp(s.y - Z95 * se), math.exp(s.y + Z95 * se)
        ax.plot([lo, hi], [y, y], color="#1f5f8b", lw=1.4)
        ax.plot(math.exp(s.y), y, "s", color="#1f5f8b", ms=6, mfc="white" if s.imputed else "#1f5f8b")
        ax.text(
            1.02,
            y,
            f"{math.exp(s.y):.2g}  [{lo:.2g}, {hi:.2g}]",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
        )
    labels = [f"{s.label} ({', '.join(s.cell_sources)})" for s in rows]
    ticks: list[float] = [float(y) for y in ys]
    p = meta.pooled
    if p is not None:
        yd = 1.2
        c_lo, c_hi, mid = math.exp(p.ci_low), math.exp(p.ci_high), math.exp(p.mu)
        ax.fill([c_lo, mid, c_hi, mid], [yd, yd + 0.35, yd, yd - 0.35], color="#b3261e")
        if p.k >= 3 and math.isfinite(p.pi_low):
            ax.plot([math.exp(p.pi_low), math.exp(p.pi_high)], [yd, yd], color="#b3261e", lw=1, ls="--")
        ax.text(
            1.02,
            yd,
            f"{mid:.2g}  [{c_lo:.2g}, {c_hi:.2g}]",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
            color="#b3261e",
        )
        labels.append(f"pooled ({meta.method.upper()}), k={p.k}, tau²={p.tau2:.2g}, I²={p.i2:.0%}")
        ticks.append(yd)
    ax.axvline(1.0, color="#888", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(0.3, n + 3)
    ax.set_xlabel(f"fold-change ({meta.basis.replace('_', ' ')})")
    ax.set_title(
        f"{meta.label} — {meta.population} studies; open squares: SE imputed; dashed: 95 % prediction interval",
        fontsize=9,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def write_forest_png(meta: MetaAnalysis, path: str | Path, dpi: int = 150) -> Path:
    """Write the forest plot as PNG; raises ``ValueError`` when there are no studies."""
    if not meta.studies:
        raise ValueError(f"no numeric fold-change for '{meta.strategy}' on the {meta.basis} basis: nothing to plot")
    import matplotlib.pyplot as plt

    p = Path(path)
    fig = _figure(meta)
    with atomic_target(p) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return p
