"""Polymer (PEG) precipitation: vesicles, lipoproteins and some soluble protein come down together.

The precipitated fraction rises with the PEG concentration along a logistic
curve (half-precipitation concentration and width are parameters); the
pellet, collected in batch runs of the clarification centrifuge, is
resuspended in a small volume. Precipitation is scalable in volume but gives
low purity: lipoprotein particles co-precipitate and part of the soluble
protein with them.
"""

from __future__ import annotations

from typing import Literal, cast

import numpy as np
from pydantic import Field

from exoforge.downstream.common import runs, separate
from exoforge.downstream.registry import operation
from exoforge.downstream.stream import StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import JUDGEMENT, Num, OperationSettings, quantity


def precipitated_fraction(peg_percent: float, p: UsageLog) -> np.ndarray:
    """Fraction of vesicles precipitated at ``peg_percent`` (w/v)."""
    mid = p.get("peg_precipitation.half_precipitation_percent", "")
    width = p.get("peg_precipitation.transition_width_percent", "")
    return cast("np.ndarray", 1.0 / (1.0 + np.exp(-(peg_percent - mid) / width)))


class PEGPrecipitation(OperationSettings):
    """Polyethylene-glycol precipitation of EVs, pelleted by a low-speed spin."""

    op: Literal["peg_precipitation"] = Field(description="unit operation id")
    peg_percent: Num = quantity(
        8, 1, 40, "% w/v", "PEG concentration", basis=f"{JUDGEMENT}: EV protocols use 5-12 % w/v"
    )
    hours: Num = quantity(
        12, 0.1, 96, "h", "incubation before the spin", basis=f"{JUDGEMENT}: protocols incubate 0.5-24 h"
    )


@operation(PEGPrecipitation)
def peg_precipitation(cfg: PEGPrecipitation, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """PEG precipitation with ``cfg.hours`` incubation, a pelleting spin and resuspension."""
    step = StepBuilder(name, cfg.op, s)
    rec = precipitated_fraction(cfg.peg_percent, p) * p.get("peg_precipitation.pellet_recovery", "")
    n = runs(s.volume_l, p.get("centrifugation.capacity_per_run", "L"))
    handling = p.get("centrifugation.handling_hours_per_run", "h")
    hours = cfg.hours + n * (p.get("peg_precipitation.spin_minutes", "h") + handling)
    setup = p.get("peg_precipitation.setup_hours", "h")
    out = separate(
        s,
        p,
        rec,
        p.get("peg_precipitation.free_protein_retention", ""),
        s.volume_l * p.get("peg_precipitation.resuspension_fraction", ""),
        lipoprotein_recovery=rec * p.get("peg_precipitation.lipoprotein_coprecipitation", ""),
    )
    peg_kg = s.volume_l * cfg.peg_percent / 100.0  # w/v: g per 100 mL = 10 g/L per percent
    return step.outcome(
        out,
        process_hours=hours + setup,
        labour_hours=setup + n * handling,
        resources=(step.uses("peg_per_kg", peg_kg, "kg"), step.uses("centrifuge_bottles_per_run", n, "")),
        equipment=("benchtop_centrifuge",),
        limits=(
            step.limit(
                "centrifuge runs",
                n,
                p.get("centrifugation.max_runs_per_batch", ""),
                "batch runs of a benchtop centrifuge to pellet the precipitate; above it use a continuous centrifuge",
            ),
        ),
    )
