"""Batch integrator: order of accuracy, independence of batch members, and the whole process
against the per-scenario scipy reference (LSODA, rtol 1e-8) to 0.1 %."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.reference import kpi_deviation, reference_kpis

import exoforge as xf
from exoforge.engine.integrate import rk4_segment, steps_for
from exoforge.engine.reference import ReferenceSettings, ReferenceStats, solve_ivp_segment
from exoforge.simulation import evaluate, parameters_for
from tests.conftest import EXAMPLES


def _logistic(t: float, y: np.ndarray, args: np.ndarray) -> np.ndarray:
    r, k = args
    return r * y * (1.0 - y / k)


def _logistic_exact(t: float, y0: np.ndarray, r: np.ndarray, k: np.ndarray) -> np.ndarray:
    return k / (1.0 + (k / y0 - 1.0) * np.exp(-r * t))


def test_rk4_is_fourth_order() -> None:
    """Halving the step divides the error by about 2**4 on a problem with a known solution."""
    y0 = np.array([[1.0, 5.0, 20.0]])
    args = np.array([[0.9, 1.3, 0.4], [100.0, 50.0, 80.0]])
    exact = _logistic_exact(6.0, y0[0], args[0], args[1])
    errors = [np.max(np.abs(rk4_segment(_logistic, y0, 0.0, 6.0, dt, args)[0] / exact - 1)) for dt in (0.4, 0.2, 0.1)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(12 < r < 20 for r in ratios), (errors, ratios)


def test_steps_cover_the_span_exactly() -> None:
    assert steps_for(2.0, 0.05) == 40
    assert steps_for(0.01, 0.05) == 1
    assert steps_for(0.0, 0.05) == 0


def test_members_do_not_depend_on_their_companions() -> None:
    """A member's result is the same alone or in any batch: chunking cannot change a result."""
    rhs = _logistic
    rng = np.random.default_rng(4)
    y0 = rng.uniform(1, 10, size=(1, 64))
    args = np.vstack([rng.uniform(0.2, 1.5, 64), rng.uniform(20, 200, 64)])
    together = rk4_segment(rhs, y0, 0.0, 5.0, 0.2, args)
    for j in (0, 17, 40, 63):
        alone = rk4_segment(rhs, y0[:, j : j + 1], 0.0, 5.0, 0.2, args[:, j : j + 1])
        assert alone[0, 0] == together[0, j]
    halves = np.hstack([rk4_segment(rhs, y0[:, a:b], 0.0, 5.0, 0.2, args[:, a:b]) for a, b in ((0, 29), (29, 64))])
    np.testing.assert_array_equal(halves, together)


def test_select_systems_cuts_per_system_arrays_only() -> None:
    from dataclasses import dataclass

    from exoforge.engine.integrate import select_systems

    @dataclass(frozen=True)
    class Args:
        rate: np.ndarray
        shared: float
        flag: bool

    args = (Args(np.arange(5.0), 2.0, True), np.arange(10.0).reshape(2, 5), np.ones(3))
    sub = select_systems(args, np.array([1, 3]), 5)
    np.testing.assert_array_equal(sub[0].rate, [1.0, 3.0])
    assert sub[0].shared == 2.0 and sub[0].flag is True
    np.testing.assert_array_equal(sub[1], [[1.0, 3.0], [6.0, 8.0]])
    np.testing.assert_array_equal(sub[2], np.ones(3))


def test_reference_segment_matches_the_exact_solution() -> None:
    y0 = np.array([[1.0, 5.0]])
    args = np.array([[0.9, 1.3], [100.0, 50.0]])
    stats = ReferenceStats()
    out = solve_ivp_segment(_logistic, y0, 0.0, 6.0, 0.05, args, stats=stats)
    np.testing.assert_allclose(out[0], _logistic_exact(6.0, y0[0], args[0], args[1]), rtol=1e-7)
    assert stats.systems == 2 and stats.rhs_calls > 20 and stats.failures == 0


def test_reference_rejects_an_explicit_method() -> None:
    with pytest.raises(ValueError, match="not one of"):
        ReferenceSettings(method="Euler")
    assert not ReferenceSettings(method="RK45").is_reference
    scn = xf.load_scenario(EXAMPLES[0])
    with pytest.raises(ValueError, match="not a reference method"):
        reference_kpis(scn, parameters_for(scn).params.nominal(1), ReferenceSettings("RK45"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_whole_process_matches_the_scipy_reference(path) -> None:
    """Every KPI of the batch engine is within 0.1 % of LSODA (rtol 1e-8) run scenario by scenario."""
    scn = xf.load_scenario(path)
    ps = parameters_for(scn).params
    batch = ps.sample(3, np.random.default_rng(11))
    engine = evaluate(scn, batch).kpis
    ref, stats = reference_kpis(scn, batch, ReferenceSettings("LSODA", rtol=1e-8))
    dev = kpi_deviation(engine, ref)
    assert stats.failures == 0
    assert dev.rows >= 2 and dev.largest_whole_number_step <= 1, "a whole-number KPI moved by more than rounding"
    assert dev.max_relative <= 1e-3, (dev.worst_kpi, dev.max_relative)
    assert {"ev.final_particles", "cost.per_batch", "cells.harvested"} <= set(dev.per_kpi)


def test_deviation_counts_whole_number_flips() -> None:
    a = {"doses_per_batch": np.array([3.0, 4.0]), "cost": np.array([1.0, 2.0])}
    b = {"doses_per_batch": np.array([3.0, 3.0]), "cost": np.array([1.001, 9.0])}
    dev = kpi_deviation(a, b)
    assert dev.rounding_flips == 1 and dev.rows == 1 and dev.largest_whole_number_step == 1
    assert dev.max_relative == pytest.approx(1 - 1 / 1.001)
