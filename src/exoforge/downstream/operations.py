"""Isolation unit operations: each maps a :class:`Stream` to a :class:`StepOutcome`.

Every operation reads its constants from the parameter set under its own
prefix (``tff.recovery``, ``sec.free_protein_retention``, ...), so each number
has its source in the data files. Common structure:

* particles out = particles in × recovery (a fraction, never above 1), size
  resolved where the separation acts on size (pelleting, sieving, exclusion);
* free protein out = free protein in × free-protein retention;
  EV-associated protein follows the particles (see :mod:`.stream`);
* medium vesicles follow the product; lipoprotein particles have their own
  recovery in every step (density, size or affinity decide it);
* duration from capacity (runs of a rotor, membrane area × flux, column
  cycles, binding capacity), operator hours, the consumables used as
  :class:`Resource` lines priced by the economics wing, the equipment the step
  needs, and a scale limit.

The families live in :mod:`.sedimentation`, :mod:`.filtration`,
:mod:`.chromatography`, :mod:`.precipitation` and :mod:`.formulation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from exoforge.downstream.chromatography import anion_exchange, immunoaffinity, multimodal_chromatography, sec
from exoforge.downstream.common import ceil_int, step_name
from exoforge.downstream.filtration import depth_filtration, microfiltration, sterile_filtration, tff, ultrafiltration
from exoforge.downstream.formulation import hold, lyophilization, storage
from exoforge.downstream.precipitation import peg_precipitation
from exoforge.downstream.sedimentation import centrifugation, density_gradient, ultracentrifugation
from exoforge.downstream.stream import StepOutcome, Stream
from exoforge.parameters import UsageLog

OpFunction = Callable[[Any, Stream, UsageLog, str], StepOutcome]

#: Every modelled unit operation, by its scenario ``op`` id (read-only).
_REGISTRY: dict[str, OpFunction] = dict(
    {
        "centrifugation": centrifugation,
        "depth_filtration": depth_filtration,
        "microfiltration": microfiltration,
        "ultracentrifugation": ultracentrifugation,
        "density_gradient": density_gradient,
        "tff": tff,
        "ultrafiltration": ultrafiltration,
        "sec": sec,
        "anion_exchange": anion_exchange,
        "multimodal_chromatography": multimodal_chromatography,
        "peg_precipitation": peg_precipitation,
        "immunoaffinity": immunoaffinity,
        "sterile_filtration": sterile_filtration,
        "lyophilization": lyophilization,
        "storage": storage,
        "hold": hold,
    }
)
OPERATIONS: Mapping[str, OpFunction] = MappingProxyType(_REGISTRY)


def register_operation(op_id: str, run: OpFunction) -> None:
    """Add the function that runs operation ``op_id`` (a plug-in's; built-ins cannot be replaced)."""
    if op_id in _REGISTRY:
        raise ValueError(f"unit operation '{op_id}' is already registered")
    _REGISTRY[op_id] = run


__all__ = ["OPERATIONS", "OpFunction", "ceil_int", "register_operation", "step_name"]
