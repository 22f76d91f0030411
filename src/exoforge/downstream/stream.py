"""Process streams between isolation steps, as arrays over the batch.

A stream carries product EV particles (NTA-equivalent counts), other
particles that NTA would count with them (medium-derived EVs, lipoproteins),
total protein and volume. Protein is split into EV-associated protein, which
travels with the particles, and free (soluble) protein, which each step
clears to its own extent:

    protein = particles / intrinsic_purity + free_protein
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exoforge.resources import Resource


@dataclass(frozen=True)
class Stream:
    """Arrays of shape (N,). Units: L, particle, particle, µg."""

    volume_l: np.ndarray
    particles: np.ndarray
    background_particles: np.ndarray
    protein_ug: np.ndarray

    def free_protein(self, intrinsic_purity: np.ndarray) -> np.ndarray:
        """Protein not carried by product EVs [µg]; ``intrinsic_purity`` in particles/µg."""
        return np.maximum(self.protein_ug - self.particles / intrinsic_purity, 0.0)

    @property
    def purity(self) -> np.ndarray:
        """Product particles per µg total protein."""
        return self.particles / np.maximum(self.protein_ug, 1e-300)

    def scaled(self, factor: np.ndarray) -> Stream:
        return Stream(
            self.volume_l * factor,
            self.particles * factor,
            self.background_particles * factor,
            self.protein_ug * factor,
        )


@dataclass(frozen=True)
class StepOutcome:
    """What one unit operation did to the stream, and what it cost in time and materials."""

    name: str
    op: str
    inlet: Stream
    outlet: Stream
    process_hours: np.ndarray  # wall-clock duration of the step [h]
    labour_hours: np.ndarray  # operator hours [h]
    resources: tuple[Resource, ...]
    warnings: tuple[str, ...] = ()

    @property
    def recovery(self) -> np.ndarray:
        return self.outlet.particles / np.maximum(self.inlet.particles, 1e-300)
