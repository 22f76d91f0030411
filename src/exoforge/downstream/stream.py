"""Process streams between isolation steps, as arrays over the batch.

A stream carries product EV particles (NTA-equivalent counts), the other
particles that NTA would count with them, total protein and volume. The other
particles are of two kinds that isolation steps treat differently:

* ``background_particles``: vesicles that came with the medium (bovine or
  platelet EVs of serum or lysate). They are vesicles of the same size and
  density as the product, so every step that keeps product EVs keeps them too
  (immunoaffinity capture is the exception);
* ``lipoprotein_particles``: lipoprotein particles large enough to be counted
  (VLDL/LDL size, 20-80 nm, density 0.93-1.06 g/mL; Adv Drug Deliv Rev
  2020;159:377, doi:10.1016/j.addr.2020.08.003, Table 1). Steps that separate
  by density (ultracentrifugation, gradients) or by affinity remove them; steps
  that separate by size (SEC, TFF) mostly do not.

Protein is split into EV-associated protein, which travels with the product
particles, and free (soluble) protein, which each step clears to its own
extent:

    protein = particles / intrinsic_purity + free_protein
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from exoforge.downstream.physics import SizePopulation
from exoforge.resources import Resource


@dataclass(frozen=True)
class Stream:
    """Arrays of shape (N,). Units: L, particle, particle, µg, particle."""

    volume_l: np.ndarray
    particles: np.ndarray
    background_particles: np.ndarray
    protein_ug: np.ndarray
    lipoprotein_particles: np.ndarray = field(default_factory=lambda: np.zeros(0))
    size: SizePopulation | None = None  # a measured EV size distribution (None: the default lognormal)

    def __post_init__(self) -> None:
        if self.lipoprotein_particles.shape != np.shape(self.particles):
            object.__setattr__(self, "lipoprotein_particles", np.zeros_like(np.asarray(self.particles, dtype=float)))

    def free_protein(self, intrinsic_purity: np.ndarray) -> np.ndarray:
        """Protein not carried by product EVs [µg]; ``intrinsic_purity`` in particles/µg."""
        return cast("np.ndarray", np.maximum(self.protein_ug - self.particles / intrinsic_purity, 0.0))

    @property
    def purity(self) -> np.ndarray:
        """Product particles per µg total protein."""
        return cast("np.ndarray", self.particles / np.maximum(self.protein_ug, 1e-300))

    @property
    def counted_particles(self) -> np.ndarray:
        """Everything an NTA count would report: product, medium vesicles and lipoprotein particles."""
        return cast("np.ndarray", self.particles + self.background_particles + self.lipoprotein_particles)

    @property
    def counted_purity(self) -> np.ndarray:
        """Counted particles per µg total protein: the particle-to-protein ratio a laboratory measures."""
        return cast("np.ndarray", self.counted_particles / np.maximum(self.protein_ug, 1e-300))

    def scaled(self, factor: np.ndarray) -> Stream:
        return Stream(
            self.volume_l * factor,
            self.particles * factor,
            self.background_particles * factor,
            self.protein_ug * factor,
            self.lipoprotein_particles * factor,
            self.size,
        )


@dataclass(frozen=True)
class Limit:
    """A scale or capacity limit of one step: ``ok`` where ``value <= limit``; arrays (N,)."""

    name: str
    value: np.ndarray
    limit: np.ndarray
    description: str

    @property
    def ok(self) -> np.ndarray:
        return np.asarray(self.value <= self.limit)


@dataclass(frozen=True, kw_only=True)
class StepOutcome:
    """What one unit operation did to the stream, and what it cost in time and materials.

    ``labour_hours`` are hands-on operator hours; ``equipment`` names the
    capital items the step needs (priced as ``price.equipment_<item>`` and
    depreciated by the economics wing); ``limits`` are the step's scale limits.
    """

    name: str
    op: str
    inlet: Stream
    outlet: Stream
    process_hours: np.ndarray  # wall-clock duration of the step [h]
    labour_hours: np.ndarray  # operator hours [h]
    resources: tuple[Resource, ...]
    warnings: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    limits: tuple[Limit, ...] = ()

    @property
    def recovery(self) -> np.ndarray:
        return cast("np.ndarray", self.outlet.particles / np.maximum(self.inlet.particles, 1e-300))


@dataclass(frozen=True)
class StepBuilder:
    """One isolation step while its operation computes it: names its lines and builds its outcome.

    Every unit operation makes one (``step = StepBuilder(name, cfg.op, inlet)``), names its
    consumables with :meth:`uses` and its scale limits with :meth:`limit`, and returns
    :meth:`outcome`, whose arguments are all named.
    """

    name: str  # the step's name in the train, e.g. '2. tff'
    op: str  # the scenario's operation id
    inlet: Stream

    def uses(self, item: str, quantity: np.ndarray, unit: str) -> Resource:
        """``quantity`` [``unit``] of the priced item ``item`` (parameter ``price.<item>``) used by this step."""
        return Resource(item, quantity, unit, self.name)

    def limit(self, what: str, value: np.ndarray, bound: np.ndarray, description: str) -> Limit:
        """A scale limit ``value <= bound`` of this step, named '<step>: <what>'."""
        return Limit(
            f"{self.name}: {what}", np.asarray(value, dtype=float), np.asarray(bound, dtype=float), description
        )

    def outcome(
        self,
        outlet: Stream,
        *,
        process_hours: np.ndarray,
        labour_hours: np.ndarray,
        resources: Sequence[Resource],
        equipment: Sequence[str] = (),
        limits: Sequence[Limit] = (),
        warnings: Sequence[str] = (),
    ) -> StepOutcome:
        """The step's outcome: its outlet, wall-clock and operator hours [h], consumables, equipment and limits."""
        return StepOutcome(
            name=self.name,
            op=self.op,
            inlet=self.inlet,
            outlet=outlet,
            process_hours=process_hours,
            labour_hours=labour_hours,
            resources=tuple(resources),
            warnings=tuple(warnings),
            equipment=tuple(equipment),
            limits=tuple(limits),
        )
