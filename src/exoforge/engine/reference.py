"""Reference integration: scipy ``solve_ivp`` run system by system, for validation only.

:func:`solve_ivp_segment` has the signature of
:func:`exoforge.engine.integrate.rk4_segment` but integrates each of the N
columns of the state separately with a stiff-capable, error-controlled scipy
method (LSODA or Radau) at tight tolerance. It is the yardstick the batch
integrator is validated and benchmarked against: slow by design (a Python loop
over systems, hundreds of right-hand-side calls on (S, 1) arrays per system),
never used to produce results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from exoforge.engine.integrate import RHS, select_systems

#: scipy methods accepted as a reference (implicit or automatically switching, error-controlled).
REFERENCE_METHODS = ("LSODA", "Radau", "BDF")
#: Every scipy method this integrator can run (explicit ones to measure stiffness, not as a reference).
METHODS = (*REFERENCE_METHODS, "RK45", "DOP853", "RK23")


@dataclass(frozen=True)
class ReferenceSettings:
    """Tolerances of the reference integration.

    Attributes
    ----------
    method : one of :data:`METHODS` (a reference must use one of :data:`REFERENCE_METHODS`)
    rtol : relative tolerance [-]
    atol : absolute tolerance, in the internal unit of every state (cells,
        particles, mM, µg); the states of the culture model are counts of order
        1e4-1e14 or concentrations of order 1-100 mM, so 1e-6 leaves the relative
        tolerance in control everywhere.
    """

    method: str = "LSODA"
    rtol: float = 1e-8
    atol: float = 1e-6

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method '{self.method}' is not one of {', '.join(METHODS)}")

    @property
    def is_reference(self) -> bool:
        """Stiff-safe and error-controlled: fit to validate against."""
        return self.method in REFERENCE_METHODS


@dataclass
class ReferenceStats:
    """Work done by the reference integrator (filled in as it runs)."""

    systems: int = 0
    rhs_calls: int = 0
    failures: int = 0


def column_args(args: Any, j: int, n: int) -> Any:
    """The right-hand-side arguments of system ``j`` of ``n`` (arrays cut to ``[..., j:j+1]``)."""
    return args if n == 1 else select_systems(args, np.array([j]), n)


def solve_ivp_segment(
    rhs: RHS,
    y: np.ndarray,
    t0: float,
    t1: float,
    dt_max: float,
    args: Any,
    record: Callable[[float, np.ndarray], None] | None = None,
    record_every: int = 1,
    *,
    settings: ReferenceSettings | None = None,
    stats: ReferenceStats | None = None,
) -> np.ndarray:
    """Advance ``y`` (S, N) from ``t0`` to ``t1``, one ``solve_ivp`` call per column.

    Per-system arguments are cut from ``args`` by :func:`exoforge.engine.integrate.select_systems`.
    ``dt_max`` is accepted for signature compatibility and ignored (the
    reference chooses its own steps). ``record`` is called once, at ``t1``.
    A system the solver cannot finish is returned as NaN (and counted in
    ``stats.failures``).
    """
    from scipy.integrate import solve_ivp

    cfg = settings or ReferenceSettings()
    s, n = y.shape
    out = np.array(y, dtype=float, copy=True)
    if t1 <= t0:
        return out
    for j in range(n):
        calls = [0]
        own = column_args(args, j, n)

        def f(t: float, v: np.ndarray, calls: list[int] = calls, own: Any = own) -> np.ndarray:
            calls[0] += 1
            return np.asarray(rhs(t, v.reshape(s, 1), own)).ravel()

        if stats is not None:
            stats.systems += 1
        if not np.all(np.isfinite(out[:, j])):
            out[:, j] = np.nan  # failed in an earlier segment: stays failed
            continue
        sol = solve_ivp(f, (t0, t1), out[:, j], method=cfg.method, rtol=cfg.rtol, atol=cfg.atol)
        if stats is not None:
            stats.rhs_calls += calls[0]
        if sol.success:
            out[:, j] = sol.y[:, -1]
        else:
            out[:, j] = np.nan
            if stats is not None:
                stats.failures += 1
    if record is not None:
        record(t1, out)
    return out
