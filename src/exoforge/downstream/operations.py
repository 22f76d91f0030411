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

# the family modules register their operations when imported
from exoforge.downstream import chromatography, filtration, formulation, precipitation, registry, sedimentation
from exoforge.downstream.common import ceil_int, step_name
from exoforge.downstream.registry import OPERATIONS, OpFunction, operation, register_operation
from exoforge.scenario_fields import OperationSettings

#: The families in process order: clarify and pellet, filter, purify, precipitate, formulate.
FAMILIES = (sedimentation, filtration, chromatography, precipitation, formulation)


def operation_settings() -> tuple[type[OperationSettings], ...]:
    """The settings model of every built-in operation, family by family in :data:`FAMILIES` order and in
    definition order within a family, then any other registered with :func:`operation`."""
    rank = {family.__name__: i for i, family in enumerate(FAMILIES)}
    return tuple(sorted(registry.operation_settings(), key=lambda model: rank.get(model.__module__, len(rank))))


__all__ = [
    "FAMILIES",
    "OPERATIONS",
    "OpFunction",
    "ceil_int",
    "operation",
    "operation_settings",
    "register_operation",
    "step_name",
]
