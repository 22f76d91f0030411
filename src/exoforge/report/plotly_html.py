"""Plotly in self-contained HTML: plotly.js from the installed package, inline (no network), and one
look shared by every figure.

Figures are built by the ``*_figures`` modules of this package from plain data
and returned as ``plotly.graph_objects.Figure``; a report embeds each with
:func:`figure_div` and the page carries :func:`plotly_script` once. The web
application can call the same builders and serialise the figures itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: Options of every embedded figure: no vendor logo, responsive, SVG download from the mode bar.
PLOT_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "svg"},
}
#: Colours of the categories and series, readable on white and by most colour-blind readers.
BLUE, LIGHT, ORANGE, GREY, RED, GREEN, PURPLE = (
    "#1f5f8b",
    "#7a9cc6",
    "#d08c2b",
    "#9aa3ad",
    "#b3261e",
    "#4d9a6a",
    "#8c5aa8",
)
CATEGORY_COLOURS = {
    "media": BLUE,
    "consumables": LIGHT,
    "labour": ORANGE,
    "qc": PURPLE,
    "equipment": GREEN,
    "facility": GREY,
}
#: Pint unit strings as people write them.
UNIT_LABELS = {"m**2": "m²", "cm**2": "cm²", "m**3": "m³", "ug": "µg", "um": "µm", "1/day": "per day", "day": "days"}


#: Units of the run's KPIs (money in the run's currency).
KPI_UNITS = {
    "cost.per_dose": "USD",
    "cost.per_dose_supplied": "USD",
    "cost.per_batch": "USD",
    "cost.per_1e9_particles": "USD",
    "ev.final_particles": "particles",
    "ev.harvested_particles": "particles",
    "ev.secreted_particles": "particles",
    "ev.particles_per_ug_protein": "particles/µg",
    "ev.counted_particles_per_ug_protein": "particles/µg",
    "ev.particles_per_cell_per_day": "particles/cell/day",
    "ev.recovery_fraction": "fraction",
    "ev.final_volume_ml": "mL",
    "ev.final_protein_ug": "µg",
    "cells.harvested": "cells",
    "cells.seeded": "cells",
    "doses_per_batch": "doses",
    "doses_per_batch_exact": "doses",
    "doses_released_per_year": "doses",
    "batch_days": "days",
    "culture_days": "days",
    "isolation_hours": "h",
    "line_utilisation": "fraction",
    "overproduction_fraction": "fraction",
}


def kpi_unit(key: str, currency: str = "USD") -> str:
    """The unit of a KPI, '' when it has none (counts of lines or batches, grades)."""
    return KPI_UNITS.get(key, "").replace("USD", currency)


def unit_label(unit: str | None) -> str:
    """A unit as a reader writes it (``m**2`` -> ``m²``)."""
    if not unit:
        return ""
    out = UNIT_LABELS.get(unit, unit)
    return out.replace("**2", "²").replace("**3", "³")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the installed plotly package."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def plotly_script() -> str:
    """A ``<script>`` element holding plotly.js (put it in the page once, before the figures)."""
    return f'<script type="text/javascript">{plotly_js()}</script>'


def figure_div(fig: Any, div_id: str, height: int | None = None) -> str:
    """The figure as a ``<div>`` and its drawing script (plotly.js must already be on the page)."""
    if height is not None:
        fig.update_layout(height=height)
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG))


def style(fig: Any, title: str = "", height: int = 420, legend: bool = True) -> Any:
    """The shared look: white template, title, legend in a row above the plot (never over the data)."""
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01, "xref": "container", "xanchor": "left", "font": {"size": 14}},
        height=height,
        margin={"l": 70, "r": 30, "t": 90 if legend else 60, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        showlegend=legend,
        hoverlabel={"namelength": -1},
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    )
    return fig
