"""Building blocks shared by the unit operations: mass balance of one step, run counts, limits."""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from exoforge.downstream.stream import Stream
from exoforge.parameters import UsageLog


def separate(
    s: Stream,
    p: UsageLog,
    recovery: np.ndarray,
    free_retention: np.ndarray,
    volume_out: np.ndarray,
    *,
    background_recovery: np.ndarray | None = None,
    lipoprotein_recovery: np.ndarray | None = None,
    size_kept: np.ndarray | None = None,
) -> Stream:
    """The outlet of a step that keeps fractions of each species.

    Product particles keep ``recovery``; EV-associated protein follows them;
    free protein keeps ``free_retention``; medium vesicles follow the product
    unless ``background_recovery`` is given; lipoprotein particles keep
    ``lipoprotein_recovery`` (default: as the product). Fractions are clipped
    to [0, 1], so no step creates material. A measured size distribution
    passes on reweighted by ``size_kept`` (N, K), the fraction each size keeps
    (unchanged when the step does not select by size).
    """
    recovery = np.clip(recovery, 0.0, 1.0)
    purity = p.get("ev_intrinsic_purity", "particle/ug")
    ev_protein = np.minimum(s.protein_ug, s.particles / purity)  # never more than the stream holds
    free = (s.protein_ug - ev_protein) * np.clip(free_retention, 0.0, 1.0)
    particles = s.particles * recovery
    bg = s.background_particles * (recovery if background_recovery is None else np.clip(background_recovery, 0, 1))
    lipo = s.lipoprotein_particles * (recovery if lipoprotein_recovery is None else np.clip(lipoprotein_recovery, 0, 1))
    size = s.size.after(size_kept) if s.size is not None and size_kept is not None else s.size
    return Stream(np.maximum(volume_out, 1e-9), particles, bg, ev_protein * recovery + free, lipo, size)


def runs(volume_l: np.ndarray, capacity_l: np.ndarray) -> np.ndarray:
    """Whole batch runs of a fixed capacity needed for a volume (at least one)."""
    return cast("np.ndarray", np.maximum(np.ceil(volume_l / capacity_l - 1e-9), 1.0))


def full(like: np.ndarray, value: float) -> np.ndarray:
    return np.full_like(np.asarray(like, dtype=float), value)


def step_name(index: int, op: str) -> str:
    return f"{index + 1}. {op}"


def ceil_int(x: float) -> int:
    return math.ceil(x - 1e-9)
