"""Size-resolved physics shared by the isolation steps, vectorised over the batch.

Product EVs are a lognormal number distribution of diameters (median and
geometric SD are parameters); a size average of any per-size quantity is taken
by Gauss-Hermite quadrature on ``K`` nodes, giving (N, K) arrays. Formulas:

* sedimentation coefficient of a sphere (Stokes):
  ``s = Δρ d² / (18 μ)`` [s];
* pelleted fraction in a rotor after time ``t`` at angular speed ω: a particle
  starting at radius r0 reaches the wall ``r_max`` when
  ``r0 >= r_max exp(-s ω² t)``; with particles spread evenly over the radial
  path ``[r_start, r_max]``, the fraction pelleted is
  ``(r_max - max(r_start, r_max e^{-s ω² t})) / (r_max - r_start)``.
  For a swinging bucket ``r_start = r_min`` (the k-factor geometry,
  ``k = ln(r_max/r_min) / ω²``, clearing time ``T = k / s``); for a fixed-angle
  rotor the path is across the tube, so ``r_start = r_max - path`` (k-factor
  scaling does not hold there: Livshits et al. 2015, doi:10.1038/srep17319);
* sieving through a membrane pore (Ferry 1936, J Gen Physiol 20:95):
  ``S = (1-λ)² (2 - (1-λ)²)`` for ``λ = d / d_pore < 1``, else 0;
* nominal pore diameter of a membrane from its molecular-weight cut-off:
  twice the minimal radius of a globular protein of that mass,
  ``R_min = 0.066 M^(1/3)`` nm with M in Da (Erickson 2009,
  doi:10.1007/s12575-009-9008-x, section 2), times a pore-to-marker ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from exoforge.parameters import UsageLog
from exoforge.special import ndtr

#: Quadrature nodes (standard-normal z) and weights (sum 1) for size averages.
_Z, _W = hermegauss(24)
_W = _W / _W.sum()
_Z.setflags(write=False)
_W.setflags(write=False)

G_STANDARD = 9.80665  # m/s²


def size_nodes(median_nm: np.ndarray, gsd: np.ndarray) -> np.ndarray:
    """Diameters [nm] at the quadrature nodes of a lognormal number distribution, shape (N, K)."""
    return cast("np.ndarray", median_nm[:, None] * np.power(gsd[:, None], _Z[None, :]))


def size_average(values: np.ndarray) -> np.ndarray:
    """Number-weighted average over the size distribution of an (N, K) array of per-size values.

    A row-wise sum (not a matrix product), so each row's result does not depend on the batch size.
    """
    return cast("np.ndarray", np.sum(values * _W, axis=-1))


def fraction_below(diameter_nm: np.ndarray, median_nm: np.ndarray, gsd: np.ndarray) -> np.ndarray:
    """Number fraction of a lognormal size distribution below ``diameter_nm``."""
    return ndtr(np.log(diameter_nm / median_nm) / np.log(gsd))


def sedimentation_coefficient(
    diameter_nm: np.ndarray, particle_density: np.ndarray, medium_density: np.ndarray, viscosity: np.ndarray
) -> np.ndarray:
    """Stokes sedimentation coefficient [s] of spheres; densities in kg/m³, viscosity in Pa·s.

    Broadcasts: ``diameter_nm`` may be (N, K) with the others (N,) (they are expanded).
    """
    d = np.asarray(diameter_nm) * 1e-9
    extra = (slice(None),) + (None,) * (d.ndim - 1)
    drho = (particle_density - medium_density)[extra]
    return cast("np.ndarray", drho * d**2 / (18.0 * viscosity[extra]))


def pelleted_fraction(
    s: np.ndarray, g_force: np.ndarray, seconds: np.ndarray, r_start_m: np.ndarray, r_max_m: np.ndarray
) -> np.ndarray:
    """Fraction of particles of sedimentation coefficient ``s`` [s] pelleted in a spin.

    ``g_force`` is the relative centrifugal force at ``r_max`` (×g); arrays broadcast like ``s``.
    Particles lighter than the medium (s <= 0) float and are never pelleted.
    """
    extra = (slice(None),) + (None,) * (np.ndim(s) - 1)
    omega2 = (g_force * G_STANDARD / r_max_m)[extra]
    r0 = r_max_m[extra] * np.exp(-np.maximum(s, 0.0) * omega2 * seconds[extra])
    start = r_start_m[extra]
    frac = (r_max_m[extra] - np.maximum(start, r0)) / np.maximum(r_max_m[extra] - start, 1e-12)
    return cast("np.ndarray", np.clip(frac, 0.0, 1.0))


def clearing_seconds(s: np.ndarray, g_force: np.ndarray, r_start_m: np.ndarray, r_max_m: np.ndarray) -> np.ndarray:
    """Time [s] to pellet every particle of coefficient ``s``: ``k / s`` with ``k = ln(r_max/r_start)/ω²``."""
    omega2 = g_force * G_STANDARD / r_max_m
    return cast("np.ndarray", np.log(r_max_m / r_start_m) / (omega2 * np.maximum(s, 1e-30)))


def ferry_sieving(diameter_nm: np.ndarray, pore_nm: np.ndarray) -> np.ndarray:
    """Sieving coefficient (permeate / retentate concentration) of spheres through cylindrical pores."""
    extra = (slice(None),) + (None,) * (np.ndim(diameter_nm) - 1)
    lam = np.asarray(diameter_nm) / np.asarray(pore_nm)[extra]
    phi = np.clip(1.0 - lam, 0.0, 1.0) ** 2
    return cast("np.ndarray", phi * (2.0 - phi))


def mwco_pore_nm(mwco_kda: float | np.ndarray, p: UsageLog) -> np.ndarray:
    """Nominal pore diameter [nm] of a membrane of the given cut-off (see module docstring)."""
    marker = 2.0 * 0.066 * np.cbrt(np.asarray(mwco_kda, dtype=float) * 1000.0)
    return cast("np.ndarray", marker * p.get("membrane.pore_to_marker_ratio", ""))


def ev_size(p: UsageLog) -> tuple[np.ndarray, np.ndarray]:
    """Median diameter [nm] and geometric SD of the product EV number distribution."""
    return p.get("ev_size.median_diameter", "nm"), p.get("ev_size.geometric_sd", "")


@dataclass(frozen=True)
class SizePopulation:
    """A measured EV number distribution carried by a stream: diameters (K,) and fractions (N, K) per row.

    Replaces the default lognormal (``ev_size.*`` parameters) when a scenario gives a measured
    distribution; every size-resolved step averages over it and passes on the population it keeps
    (the fractions reweighted by what it keeps of each size), so later steps act on what is left.
    """

    diameters_nm: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, diameters_nm: list[float] | np.ndarray, fractions: list[float] | np.ndarray, n: int) -> SizePopulation:
        d = np.asarray(diameters_nm, dtype=float)
        f = np.asarray(fractions, dtype=float)
        f = f / f.sum()
        return cls(d, np.broadcast_to(f, (n, d.size)).copy())

    @property
    def nodes(self) -> np.ndarray:
        """Diameters (N, K), as :func:`size_nodes` gives for the lognormal."""
        return np.broadcast_to(self.diameters_nm, self.weights.shape)

    def average(self, values: np.ndarray) -> np.ndarray:
        """Number-weighted average of per-size values (N, K) (or (K,)) over the population."""
        return cast("np.ndarray", np.sum(np.broadcast_to(values, self.weights.shape) * self.weights, axis=-1))

    def below(self, diameter_nm: np.ndarray) -> np.ndarray:
        """Per-size indicator (N, K) of the sizes below ``diameter_nm`` (N,)."""
        return (self.nodes < np.asarray(diameter_nm, dtype=float)[:, None]).astype(float)

    def after(self, kept: np.ndarray) -> SizePopulation:
        """The population left when each size keeps the fraction ``kept`` (N, K) of its particles."""
        w = self.weights * np.clip(np.broadcast_to(kept, self.weights.shape), 0.0, None)
        total = w.sum(axis=-1, keepdims=True)
        w = np.where(total > 0, w / np.where(total > 0, total, 1.0), self.weights)
        return SizePopulation(self.diameters_nm, w)

    def subset(self, index: np.ndarray | slice) -> SizePopulation:
        return SizePopulation(self.diameters_nm, self.weights[index])


def retained_through_membrane(sieving: np.ndarray, concentration_factor: float, diavolumes: float) -> np.ndarray:
    """Fraction of a solute kept in the retentate after concentrating by CF and N diavolumes.

    With a constant sieving coefficient S: ``CF^(-S) exp(-S N)``.
    """
    return cast("np.ndarray", np.power(concentration_factor, -sieving) * np.exp(-sieving * diavolumes))
