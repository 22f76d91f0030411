"""Release testing of each lot: the QC panel, itemised per test.

Each test is priced per lot as ``price.qc_<test>`` (an external test price or
the kit and instrument cost of an in-house assay) plus QC-analyst hours for
sampling, running and reviewing it. ``price.qc_release_per_batch`` covers the
remaining lot-release checks that are not itemised (appearance, pH,
osmolality, residual DNA, retained samples).
"""

from __future__ import annotations

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.resources import Resource

#: The release panel: safety (sterility, endotoxin, mycoplasma), quantity and identity
#: (particle count and size, protein, identity markers) and potency.
QC_PANEL: tuple[str, ...] = (
    "sterility",
    "endotoxin",
    "mycoplasma",
    "particle_count_size",
    "total_protein",
    "identity_markers",
    "potency",
)
STEP = "release testing"


def release_testing(lots: np.ndarray, p: UsageLog) -> list[Resource]:
    """Resources of releasing ``lots`` lots (at least one panel per batch is run)."""
    panels = np.maximum(lots, 1.0)
    out = [Resource(f"qc_{test}", panels, "", STEP, "qc") for test in QC_PANEL]
    out.append(Resource("qc_release_per_batch", panels, "", STEP, "qc"))
    hours = panels * len(QC_PANEL) * p.get("qc.analyst_hours_per_test", "h")
    out.append(Resource("qc_analyst_rate_per_h", hours, "h", STEP, "labour"))
    return out
