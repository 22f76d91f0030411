"""Batch ODE integration: N independent systems advanced together as arrays.

The integrator is classical fourth-order Runge–Kutta with a fixed step that
divides each segment between discrete events (medium exchanges, the switch to
conditioning, collections) exactly. Why this and not a step-controlled or
implicit method:

* the culture models are, for almost every parameter set, not stiff on the
  time scale of a step: oxygen, the one fast process, is quasi-steady (solved
  algebraically), and the other rates are of order 1/day. scipy's explicit
  RK45 needs about as many right-hand-side calls per scenario as LSODA and
  BDF, and several times fewer than Radau (``benchmarks/results.json``,
  ``integrator``), which is what a non-stiff problem looks like. The
  exceptions are members whose substrate runs out at a small Monod constant;
  the upstream stage integrates those again at a finer step;
* with one step for the whole batch, a step is a handful of numpy operations
  on (S, N) arrays whatever N is, and a system's result does not depend on
  which other systems share its batch. Results are therefore identical
  whatever the chunking or backend (tested). Step control shared by a batch
  would tie every result to the hardest member of its chunk; step control per
  member would need per-member times in every right-hand side;
* the accuracy is measured, not assumed: RK4 is fourth order (tested on a
  problem with an exact solution), and the whole process (ODEs, events,
  isolation, economics) agrees with scipy's LSODA at rtol 1e-8, run scenario
  by scenario, to 0.1 % on every example (``tests/test_engine.py``); the
  benchmark reports the largest deviation over many sampled parameter sets and
  a study of the step size. The step is chosen by the stage that calls the
  integrator (``exoforge.upstream.simulate.DT_MAX_DAYS``).

The engine knows no biology: a right-hand side is any callable
``f(t, y, args) -> dy/dt`` on arrays of shape (S, N); in ``args`` (arrays,
tuples, lists or dataclasses of them) an array whose last axis has length N
holds one value per system, anything else is shared.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

RHS = Callable[[float, np.ndarray, Any], np.ndarray]


def steps_for(span: float, dt_max: float) -> int:
    """Number of equal steps of at most ``dt_max`` covering ``span``."""
    if span <= 0:
        return 0
    return max(1, math.ceil(span / dt_max - 1e-9))


def select_systems(args: Any, index: np.ndarray, n: int) -> Any:
    """The right-hand-side arguments of systems ``index`` of ``n`` (see the module docstring)."""
    if isinstance(args, np.ndarray):
        return args[..., index] if args.ndim and args.shape[-1] == n else args
    if isinstance(args, tuple | list):
        return type(args)(select_systems(a, index, n) for a in args)
    if dataclasses.is_dataclass(args) and not isinstance(args, type):
        changes = {f.name: select_systems(getattr(args, f.name), index, n) for f in dataclasses.fields(args) if f.init}
        return dataclasses.replace(args, **changes)
    return args


def rk4_segment(
    rhs: RHS,
    y: np.ndarray,
    t0: float,
    t1: float,
    dt_max: float,
    args: Any,
    record: Callable[[float, np.ndarray], None] | None = None,
    record_every: int = 1,
) -> np.ndarray:
    """Advance ``y`` (S, N) from ``t0`` to ``t1`` with classical RK4.

    ``record(t, y)`` is called after every ``record_every`` steps and at the end.
    Returns the new state (a new array; the input is not modified).
    """
    n = steps_for(t1 - t0, dt_max)
    if n == 0:
        return y.copy()
    h = (t1 - t0) / n
    half = 0.5 * h
    sixth = h / 6.0
    t = t0
    y = y.copy()
    for i in range(n):
        k1 = rhs(t, y, args)
        k2 = rhs(t + half, y + half * k1, args)
        k3 = rhs(t + half, y + half * k2, args)
        k4 = rhs(t + h, y + h * k3, args)
        y += sixth * (k1 + 2.0 * (k2 + k3) + k4)
        t = t0 + (i + 1) * h
        if record is not None and ((i + 1) % record_every == 0 or i == n - 1):
            record(t, y)
    return y
