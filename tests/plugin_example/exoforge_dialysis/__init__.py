"""Example plug-in: buffer exchange of the EV product by dialysis against a cassette, a medium and a platform.

Everything an isolation operation needs is in this one module and its parameter file:
its settings (the scenario keys), the function that runs it, and what it uses. The medium is
its id, label and uses here, and its composition, price and conditioning factors in the file.
The platform, a rocking-motion bag, is the module ``rocking_bag.py`` and its own parameter file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from exoforge.downstream.common import separate
from exoforge.downstream.stream import StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.plugins import PluginRegistrar
from exoforge.scenario_fields import OperationSettings


class Dialysis(OperationSettings):
    """Buffer exchange by dialysis: small solutes leave, vesicles and most protein stay."""

    op: Literal["dialysis"] = Field(description="unit operation id")
    hours: float = Field(default=4.0, ge=0.5, le=48.0, description="dialysis time [h]")


def dialysis(cfg: Dialysis, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """One cassette per ``dialysis.cassette_volume`` of feed; the product keeps ``dialysis.recovery``."""
    step = StepBuilder(name, cfg.op, s)
    cassettes = np.ceil(s.volume_l / p.get("dialysis.cassette_volume", "L") - 1e-9)
    out = separate(s, p, p.get("dialysis.recovery", ""), p.get("dialysis.free_protein_retention", ""), s.volume_l)
    return step.outcome(
        out,
        process_hours=np.full_like(s.volume_l, cfg.hours),
        labour_hours=cassettes * p.get("dialysis.handling_hours_per_cassette", "h"),
        resources=(step.uses("dialysis_cassette_each", cassettes, ""),),
        limits=(
            step.limit(
                "dialysis cassettes",
                cassettes,
                p.get("dialysis.max_cassettes", ""),
                "cassettes handled by hand in one batch; above it use tangential-flow diafiltration",
            ),
        ),
    )


def register(plugins: PluginRegistrar) -> None:
    """The entry point: exoforge calls it once with its registrar."""
    from exoforge_dialysis.rocking_bag import register_platform

    plugins.unit_operation(Dialysis, dialysis)
    register_platform(plugins)
    plugins.medium("example_defined", "example chemically defined medium (plug-in)", ["expansion", "conditioning"])
    plugins.parameter_folder(Path(__file__).parent / "parameters")
