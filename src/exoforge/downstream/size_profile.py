"""The EV size distribution before and after the isolation train, from the train's own physics.

The process model carries product EVs as one lognormal number distribution of
diameters (``ev_size.median_diameter``, ``ev_size.geometric_sd``); each
size-selective step averages its per-size transmission over it. To show what
the train does to the distribution, the same train is run on a batch of nearly
monodisperse feeds, one row per diameter (geometric SD 1.001), with every other
parameter and the feed itself at the run's central values: row *k*'s recovery
is then the train's transmission of EVs of diameter *d_k*. The product
distribution is the harvest distribution times that transmission, scaled to the
run's final particle count. No step is modelled twice: the curve comes from the
unit operations themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from exoforge.downstream.stream import Stream
from exoforge.downstream.train import run_train
from exoforge.parameters import ParameterBatch, ParameterSet, UsageLog
from exoforge.scenario import Scenario

#: Near-monodisperse spread of each row (a geometric SD of exactly 1 has no quadrature).
MONODISPERSE_GSD = 1.001
#: Diameters probed [nm]: a geometric grid over the spread of the distribution.
POINTS = 48


@dataclass(frozen=True)
class SizeProfile:
    """Number density of product EVs over diameter, before and after isolation [particles/nm]."""

    diameter_nm: np.ndarray
    harvest: np.ndarray
    product: np.ndarray
    transmission: np.ndarray  # fraction of EVs of each diameter the train keeps

    def to_json(self) -> dict[str, Any]:
        return {
            "diameter_nm": self.diameter_nm.tolist(),
            "harvest_particles_per_nm": self.harvest.tolist(),
            "product_particles_per_nm": self.product.tolist(),
            "transmission": self.transmission.tolist(),
        }


def lognormal_density(d: np.ndarray, median: float, gsd: float) -> np.ndarray:
    """Number density per nm of a lognormal distribution of diameters (integrates to 1)."""
    s = np.log(gsd)
    return cast("np.ndarray", np.exp(-0.5 * (np.log(d / median) / s) ** 2) / (d * s * np.sqrt(2 * np.pi)))


def size_profile(scn: Scenario, params: ParameterSet, feed: Stream, final_particles: float) -> SizeProfile:
    """The harvest and product size distributions of ``scn`` at the central values of ``params``.

    ``feed`` is the run's harvest stream (one row) and ``final_particles`` its
    product particle count, which the product curve integrates to.
    """
    median = float(params["ev_size.median_diameter"].value)
    gsd = float(params["ev_size.geometric_sd"].value)
    d = np.geomspace(median / gsd**3, median * gsd**3, POINTS)
    batch = params.nominal(POINTS)
    values = {k: v.copy() for k, v in batch.values.items()}
    values["ev_size.median_diameter"] = d.copy()
    values["ev_size.geometric_sd"] = np.full(POINTS, MONODISPERSE_GSD)
    rows = Stream(
        np.repeat(feed.volume_l[:1], POINTS),
        np.repeat(feed.particles[:1], POINTS),
        np.repeat(feed.background_particles[:1], POINTS),
        np.repeat(feed.protein_ug[:1], POINTS),
        np.repeat(feed.lipoprotein_particles[:1], POINTS),
    )
    with np.errstate(all="ignore"):
        train = run_train(list(scn.isolation), rows, UsageLog(ParameterBatch(POINTS, values, batch.units)))
    transmission = np.clip(np.nan_to_num(train.recovery, nan=0.0), 0.0, 1.0)
    harvest = float(feed.particles[0]) * lognormal_density(d, median, gsd)
    shape = harvest * transmission
    area = float(np.trapezoid(shape, d))
    product = shape * (final_particles / area) if area > 0 else np.zeros_like(shape)
    return SizeProfile(d, harvest, product, transmission)
