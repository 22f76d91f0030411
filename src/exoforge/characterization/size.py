"""Measured size distributions for scenarios: NTA exports read into a compact set of bins.

The isolation physics averages per-size quantities over the EV population for
every parameter set of a batch (arrays of N rows by K sizes), so a 1 nm NTA
histogram of ~1,000 bins is regrouped into :data:`BINS` geometric bins spanning
its occupied range; each new bin's count is the sum of the counts it covers
and its centre the geometric mean of its edges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Bins of a measured distribution as the isolation physics uses it.
BINS = 48


def regroup(centres_nm: np.ndarray, counts: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """``bins`` geometric bins over the occupied range: (centres [nm], counts per bin)."""
    c = np.asarray(centres_nm, dtype=float)
    w = np.clip(np.asarray(counts, dtype=float), 0.0, None)
    occupied = np.flatnonzero(w > 0)
    if occupied.size == 0:
        raise ValueError("the size distribution holds no particles")
    if c.size <= bins:
        return c, w
    lo = max(c[occupied[0]], 1e-3)
    hi = c[occupied[-1]]
    if hi <= lo:
        return c[occupied], w[occupied]
    edges = np.geomspace(lo * 0.999, hi * 1.001, bins + 1)
    index = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, bins - 1)
    keep = (c >= edges[0]) & (c <= edges[-1])
    summed = np.bincount(index[keep], weights=w[keep], minlength=bins)
    mids = np.sqrt(edges[:-1] * edges[1:])
    nonzero = summed > 0
    return mids[nonzero], summed[nonzero]


def bins_of_file(path: Path) -> tuple[list[float], list[float], str]:
    """The regrouped number distribution of an NTA export, and a source line naming the file and its hash."""
    from exoforge.characterization.nta import read_nta
    from exoforge.characterization.record import sha256_of
    from exoforge.characterization.textfile import DataFileError

    m = read_nta(path)
    if m.distribution is None:
        raise DataFileError([f"{path}: the export holds no size distribution"])
    d, f = regroup(m.distribution.centres_nm, m.distribution.average)
    total = float(np.sum(f))
    source = f"{m.instrument} {Path(path).name} (sha256 {sha256_of(path)[:16]}, D50 {m.d50_nm or float('nan'):.1f} nm)"
    return [float(x) for x in d], [float(x / total) for x in f], source


def read_size_files(scenario: Any, base: Path, where: str) -> Any:
    """``scenario`` with every ``ev_size.*.nta_file`` read into bins (relative paths start at ``base``)."""
    from exoforge.characterization.textfile import DataFileError
    from exoforge.scenario import ScenarioError

    ev = scenario.ev_size
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key in ("harvest", "product"):
        spec = getattr(ev, key)
        if spec is None or spec.nta_file is None or spec.diameters_nm is not None:
            continue
        path = Path(spec.nta_file)
        if not path.is_absolute():
            path = base / path
        try:
            d, f, source = bins_of_file(path)
        except (DataFileError, ValueError) as exc:
            detail = "; ".join(exc.problems) if isinstance(exc, DataFileError) else str(exc)
            problems.append(f"ev_size.{key}.nta_file: {detail}")
            continue
        changes[key] = spec.model_copy(update={"diameters_nm": d, "fractions": f, "source": spec.source or source})
    if problems:
        raise ScenarioError(problems, where)
    if not changes:
        return scenario
    return scenario.model_copy(update={"ev_size": ev.model_copy(update=changes)})
