"""Formulation, hold and storage: lyophilisation, holds at 4 °C, frozen storage with freeze-thaw.

Particle losses in solution are first order in time, ``exp(-k t)``, with a
rate for each temperature (at 4 °C EVs adsorb to container walls: Evtushenko
et al. 2020, doi:10.1371/journal.pone.0243738); each freeze-thaw cycle of
frozen storage loses a further fraction. Soluble protein is not lost.
Storage days do not occupy the production line; a hold does.
"""

from __future__ import annotations

from typing import Literal, cast

import numpy as np
from pydantic import Field

from exoforge.downstream.common import full, runs, separate
from exoforge.downstream.registry import operation
from exoforge.downstream.stream import StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import JUDGEMENT, Int, Num, OperationSettings, quantity

_RATE = {4: "storage.loss_rate_4c", -20: "storage.loss_rate_minus20c", -80: "storage.loss_rate_minus80c"}


class Lyophilization(OperationSettings):
    """Freeze-drying of the product."""

    op: Literal["lyophilization"] = Field(description="unit operation id")
    excipient: Literal["trehalose", "sucrose", "mannitol", "none"] = Field(
        default="trehalose", description="lyoprotectant"
    )


@operation(Lyophilization)
def lyophilization(cfg: Lyophilization, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Freeze-drying in vials with an excipient; recovery after reconstitution depends on the excipient.

    Vials of ``fill_volume``; a freeze-dryer shelf holds ``shelf_capacity_vials``
    per cycle of ``cycle_hours``.
    """
    step = StepBuilder(name, cfg.op, s)
    vials = runs(s.volume_l, p.get("lyophilization.fill_volume", "L"))
    cycles = runs(vials, p.get("lyophilization.shelf_capacity_vials", ""))
    handling = p.get("lyophilization.handling_hours_per_cycle", "h")
    hours = cycles * (p.get("lyophilization.cycle_hours", "h") + handling)
    rec = p.get(f"lyophilization.recovery.{cfg.excipient}", "")
    out = separate(s, p, rec, np.ones_like(vials), s.volume_l)
    resources = [step.uses("vial_each", vials, "")]
    if cfg.excipient != "none":
        kg = s.volume_l * p.get("lyophilization.excipient_concentration", "kg/L")
        resources.append(step.uses(f"{cfg.excipient}_per_kg", kg, "kg"))
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=cycles * handling,
        resources=tuple(resources),
        equipment=("freeze_dryer",),
        limits=(
            step.limit(
                "vials per batch",
                vials,
                p.get("lyophilization.shelf_capacity_vials", ""),
                "vials one freeze-dryer cycle holds; above it the batch needs several cycles",
            ),
        ),
    )


def _kept(temperature_c: int, days: float, freeze_thaw: int, p: UsageLog, like: np.ndarray) -> np.ndarray:
    k = p.get(_RATE[temperature_c], "1/day")
    kept = np.exp(-k * days) * np.ones_like(like)
    if temperature_c < 0:
        kept = kept * (1.0 - p.get("storage.freeze_thaw_loss", "")) ** freeze_thaw
    return cast("np.ndarray", kept)


class Storage(OperationSettings):
    """Storage of the product before use."""

    op: Literal["storage"] = Field(description="unit operation id")
    temperature_c: Literal[4, -20, -80] = Field(default=-80, description="storage temperature [degC]")
    days: Num = quantity(
        28, 0, 1825, "day", "storage time", basis=f"{JUDGEMENT}: shelf lives of biologics are at most a few years"
    )
    freeze_thaw_cycles: Int = quantity(1, 0, 10, "1", "freeze-thaw cycles the product goes through")


@operation(Storage)
def storage(cfg: Storage, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Storage of the product for ``days`` at 4, -20 or -80 °C, with freeze-thaw cycles when frozen."""
    step = StepBuilder(name, cfg.op, s)
    kept = _kept(cfg.temperature_c, cfg.days, cfg.freeze_thaw_cycles, p, s.volume_l)
    out = separate(s, p, kept, np.ones_like(kept), s.volume_l)
    handling = p.get("storage.handling_hours", "h") * np.ones_like(kept)
    unit = "pharmaceutical_refrigerator" if cfg.temperature_c == 4 else "ultra_low_freezer"
    return step.outcome(
        out,
        process_hours=handling,
        labour_hours=handling,
        resources=(step.uses("cold_storage_per_l_day", s.volume_l * cfg.days, "L*day"),),
        equipment=(unit,),
        limits=(
            step.limit(
                "stored volume [L]",
                s.volume_l,
                p.get("storage.unit_capacity", "L"),
                "product volume one storage unit takes",
            ),
        ),
    )


class Hold(OperationSettings):
    """A hold of the intermediate between steps."""

    op: Literal["hold"] = Field(description="unit operation id")
    hours: Num = quantity(24, 0.1, 720, "h", "hold time", basis=f"{JUDGEMENT}: at most a month")
    temperature_c: Literal[4] = Field(default=4, description="hold temperature [degC]")


@operation(Hold)
def hold(cfg: Hold, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """A hold of the process stream at 4 °C for ``hours`` (the line waits)."""
    step = StepBuilder(name, cfg.op, s)
    kept = _kept(4, cfg.hours / 24.0, 0, p, s.volume_l)
    out = separate(s, p, kept, np.ones_like(kept), s.volume_l)
    handling = p.get("storage.handling_hours", "h") * np.ones_like(kept)
    return step.outcome(
        out,
        process_hours=full(s.volume_l, cfg.hours) + handling,
        labour_hours=handling,
        resources=(step.uses("cold_storage_per_l_day", s.volume_l * cfg.hours / 24.0, "L*day"),),
        equipment=("pharmaceutical_refrigerator",),
        limits=(
            step.limit(
                "hold time [h]",
                full(s.volume_l, cfg.hours),
                p.get("storage.max_hold_hours", "h"),
                "hold time at 4 °C beyond which wall adsorption losses call for a validated container",
            ),
        ),
    )
