"""Figures of a run as inline SVG (matplotlib, imported only when a report is written)."""

from __future__ import annotations

import io
from typing import Any

from exoforge.result import Result


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none"})
    return plt


def time_courses(result: Result) -> str:
    """Viable cells, glucose, lactate and EVs in the medium over the run."""
    plt = _plt()
    s = result.series
    t = s["time_day"]
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), sharex=True)
    panels = [
        ("viable_cells", "viable cells (all vessels)", "cells", True),
        ("glucose_mM", "glucose", "mM", False),
        ("lactate_mM", "lactate", "mM", False),
        ("ev_particles", "EVs in medium (per vessel)", "particles", True),
    ]
    for ax, (key, title, unit, log) in zip(axes.flat, panels, strict=True):
        ax.plot(t, s[key], color="#1f5f8b", lw=1.6)
        ax.set_title(title)
        ax.set_ylabel(unit)
        if log:
            ax.set_yscale("log")
    for ax in axes[1]:
        ax.set_xlabel("day")
    fig.tight_layout()
    return _svg(fig)


def particle_waterfall(result: Result) -> str:
    """Particles after harvest and after each isolation step, with the loss of each step."""
    plt = _plt()
    labels = ["harvest"] + [s["name"] for s in result.steps]
    values = [result.steps[0]["particles_in"]] + [s["particles_out"] for s in result.steps]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    bars = ax.bar(range(len(values)), values, color=["#7a9cc6"] + ["#1f5f8b"] * len(result.steps))
    ax.set_yscale("log")
    ax.set_xticks(range(len(values)), labels, rotation=20, ha="right")
    ax.set_ylabel("particles")
    for i, s in enumerate(result.steps, start=1):
        ax.annotate(
            f"{s['recovery']:.0%}",
            (bars[i].get_x() + bars[i].get_width() / 2, values[i]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_title("particles through the isolation train (step recovery above each bar)")
    fig.tight_layout()
    return _svg(fig)


def cost_breakdown(result: Result) -> str:
    """Cost per batch by category and by process step."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    cats = {k: v for k, v in result.cost_breakdown.items() if v > 0}
    a1.barh(list(cats), list(cats.values()), color="#1f5f8b")
    a1.set_xlabel(f"{result.currency} per batch")
    a1.set_title("by category")
    steps = dict(sorted(result.cost_by_step.items(), key=lambda kv: kv[1]))
    a2.barh(list(steps), list(steps.values()), color="#7a9cc6")
    a2.set_xlabel(f"{result.currency} per batch")
    a2.set_title("by step")
    fig.tight_layout()
    return _svg(fig)
