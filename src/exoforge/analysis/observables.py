"""Model outputs that batch data are compared with, read from the upstream time series.

Each variable of :data:`exoforge.measurements.variables.VARIABLES` is a
function of the series that :func:`exoforge.upstream.simulate.simulate_upstream`
records with ``record_series=True`` (arrays of shape (T, N)), in the
variable's model unit. Values at sampling times are interpolated linearly
between recorded points; at the time of an event (a medium exchange, the start
of conditioning, a collection) a sample is taken **before** the event, as a
sample drawn to decide or document the event is.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from exoforge.upstream.simulate import UpstreamResult


def observable(variable: str, up: UpstreamResult) -> np.ndarray:
    """Series (T, N) of ``variable`` in its model unit (see :mod:`exoforge.measurements.variables`)."""
    s = up.series
    geo = up.geometry
    vessels = float(up.vessels)
    with np.errstate(divide="ignore", invalid="ignore"):
        if variable == "viable_cells":
            return s["viable_cells"]
        if variable == "viable_cell_density":
            return s["viable_cells"] / (geo.volume_l * vessels * 1000.0)
        if variable == "viable_cells_per_cm2":
            return s["viable_cells"] / (geo.area_cm2 * vessels)
        if variable == "viability":
            alive = s["viable_cells"]
            return cast("np.ndarray", alive / (alive + s["dead_cells"]))
        if variable in ("glucose", "lactate", "glutamine", "ammonia"):
            return s[f"{variable}_mM"]
        if variable == "ev_concentration":
            return s["ev_particles"] / (geo.product_volume_l * 1000.0)
    raise KeyError(f"no model output for variable '{variable}'")


def interpolation(t_series: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``lo``, ``hi`` and weights ``w`` so that ``x(t) = (1 - w) x[lo] + w x[hi]`` (before events).

    ``t_series`` is non-decreasing; an event appears as a repeated time (before, then after it).
    """
    t = np.asarray(t_series, dtype=float)
    q = np.asarray(times, dtype=float)
    hi = np.searchsorted(t, q, side="left")  # first recorded point at or after the sampling time
    hi = np.clip(hi, 0, len(t) - 1)
    exact = np.isclose(t[hi], q, rtol=0.0, atol=1e-9)
    lo = np.where(exact, hi, np.maximum(hi - 1, 0))
    span = t[hi] - t[lo]
    w = np.where(span > 0, (q - t[lo]) / np.where(span > 0, span, 1.0), 0.0)
    return lo, hi, w
