"""Figures of the isolation train and of the economics, as inline SVG (matplotlib imported when drawn).

* :func:`train_waterfall`: product EVs, medium vesicles and lipoprotein particles after harvest and
  after each step (log scale), with the particle-to-protein ratio of the stream;
* :func:`cost_by_step_and_category`: cost per good batch by process step, split by ledger category;
* :func:`cost_per_dose_vs_demand`: the cheapest feasible cost per dose of each technology pair
  (platform + isolation train) against the yearly demand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from exoforge.report.plots import _plt, _svg
from exoforge.result import Result

if TYPE_CHECKING:
    from exoforge.analysis.selection import DemandCurve

CATEGORY_COLOURS = {
    "media": "#1f5f8b",
    "consumables": "#7a9cc6",
    "labour": "#d08c2b",
    "qc": "#8c5aa8",
    "equipment": "#4d9a6a",
    "facility": "#9aa3ad",
}


def train_waterfall(result: Result) -> str:
    """Particles of each kind through the isolation train, and the particle-to-protein ratio."""
    plt = _plt()
    steps = result.steps
    labels = ["harvest"] + [s["name"] for s in steps]
    first = steps[0]
    product = [first["particles_in"]] + [s["particles_out"] for s in steps]
    vesicles = [first.get("medium_vesicles_in", math.nan)] + [s.get("medium_vesicles_out", math.nan) for s in steps]
    lipo = [first.get("lipoprotein_particles_in", math.nan)] + [
        s.get("lipoprotein_particles_out", math.nan) for s in steps
    ]
    purity = [first.get("particles_per_ug_protein_in", math.nan)] + [
        s.get("particles_per_ug_protein_out", math.nan) for s in steps
    ]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = list(range(len(labels)))
    w = 0.27
    ax.bar([i - w for i in x], product, w, color="#1f5f8b", label="product EVs")
    ax.bar(x, [max(v, 1.0) for v in vesicles], w, color="#7a9cc6", label="medium vesicles")
    ax.bar([i + w for i in x], [max(v, 1.0) for v in lipo], w, color="#d08c2b", label="lipoprotein particles")
    ax.set_yscale("log")
    ax.set_ylabel("particles")
    ax.set_xticks(x, labels, rotation=20, ha="right")
    for i, s in enumerate(steps, start=1):
        ax.annotate(f"{s['recovery']:.0%}", (i - w, product[i]), ha="center", va="bottom", fontsize=7)
    ax2 = ax.twinx()
    ax2.plot(x, purity, color="#b3261e", marker="o", lw=1.2, label="product particles per ug protein")
    ax2.set_yscale("log")
    ax2.set_ylabel("particles / ug protein", color="#b3261e")
    lines, names = ax.get_legend_handles_labels()
    l2, n2 = ax2.get_legend_handles_labels()
    ax.legend(lines + l2, names + n2, fontsize=7, loc="lower left")
    ax.set_title("particles through the isolation train (step recovery above each product bar)")
    fig.tight_layout()
    return _svg(fig)


def cost_by_step_and_category(result: Result) -> str:
    """Cost per good batch of each process step, stacked by ledger category (sums to the total)."""
    plt = _plt()
    table: dict[str, dict[str, float]] = {}
    for row in result.ledger:
        table.setdefault(row["step"], {}).setdefault(row["category"], 0.0)
        table[row["step"]][row["category"]] += row["cost"]
    steps = sorted(table, key=lambda s: sum(table[s].values()))
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.35 * len(steps) + 1)))
    left = [0.0] * len(steps)
    for cat, colour in CATEGORY_COLOURS.items():
        widths = [table[s].get(cat, 0.0) for s in steps]
        if any(widths):
            ax.barh(steps, widths, left=left, color=colour, label=cat)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlabel(f"{result.currency} per good batch (price year {result.price_year})")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"cost by process step and category; total {sum(left):,.0f} {result.currency} per batch")
    fig.tight_layout()
    return _svg(fig)


def cost_per_dose_vs_demand(curves: Sequence[DemandCurve], currency: str = "USD") -> str:
    """Cheapest feasible cost per dose against yearly demand, one line per platform + train pair."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    styles: dict[str, Any] = {}
    markers = "osD^vP*X"
    for i, c in enumerate(curves):
        style = styles.setdefault(c.platform, markers[len(styles) % len(markers)])
        pts = [(d, y) for d, y in zip(c.demands, c.cost_per_dose, strict=True) if math.isfinite(y)]
        if not pts:
            continue
        ax.plot(*zip(*pts, strict=True), marker=style, lw=1.3, label=c.label, color=f"C{i % 10}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("demand (doses per year)")
    ax.set_ylabel(f"{currency} per dose supplied (cheapest feasible scale)")
    ax.set_title("cost per dose against demand for each technology pair (gaps: no feasible scale)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _svg(fig)
