"""Feeding that follows the culture: lactate-controlled perfusion and hollow-fibre feeds, high densities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import exoforge as xf
from exoforge.parameters import UsageLog
from exoforge.scenario import ScenarioError
from exoforge.simulation import parameters_for
from exoforge.upstream import kinetics as kin
from exoforge.upstream.simulate import integrate_segment, simulate_upstream
from tests.test_upstream import _sampled_segment_inputs


def _microcarrier(**expansion):
    exp = {
        "platform": "stirred_tank",
        "working_volume_l": 1.0,
        "microcarrier": {"type": "cytodex3", "g_per_l": 20},
        "seeding": {"cells_per_ml": 1e5},
        "medium": "fbs",
        "days": 7,
        "feeding": {"exchange_fraction": 0.5, "every_days": 2},
    }
    exp.update(expansion)
    return {
        "schema_version": 1,
        "name": "dense microcarrier culture",
        "cell_source": "ad_msc",
        "expansion": exp,
        "isolation": [{"op": "centrifugation"}],
        "dose": {"particles": 1.0e11},
    }


def _hollow_fiber(**expansion):
    data = _microcarrier()
    data["cell_source"] = "bm_msc"
    data["expansion"] = {
        "platform": "hollow_fiber",
        "surface_area_m2": 2.1,
        "seeding": {"cells": 2e7},
        "medium": "fbs",
        "days": 10,
        **expansion,
    }
    return data


def _run(data):
    scn = xf.parse_scenario(data)
    return simulate_upstream(scn, UsageLog(parameters_for(scn).params.nominal(1)), record_series=True)


def test_lactate_controlled_feed_matches_lsoda() -> None:
    """The feed rate is a function of the state; the batch RK4 still agrees with LSODA to 0.1 %."""
    from exoforge.engine.reference import column_args

    n = 4
    kp, phase, y0, _ = _sampled_segment_inputs(n, dilution=0.05, seed=5)
    phase = replace(phase, lactate_setpoint=np.full(n, 3.0), dilution_max=np.full(n, 2.0), product_share=1.0)
    y_rk = integrate_segment(y0, 0.0, 7.0, kp, phase)
    for j in range(n):
        sub_k, sub_ph = column_args((kp, phase), j, n)

        def f(t, y, sub_k=sub_k, sub_ph=sub_ph):
            return kin.rhs(t, y.reshape(-1, 1), (sub_k, sub_ph)).ravel()

        ref = solve_ivp(f, (0, 7.0), y0[:, j], method="LSODA", rtol=1e-8, atol=1e-6).y[:, -1]
        for i in (kin.VIABLE, kin.CELL_DAYS, kin.FED):
            assert y_rk[i, j] == pytest.approx(ref[i], rel=1e-3), (kin.STATE_NAMES[i], y_rk[i, j], ref[i])
        assert y_rk[kin.LACTATE, j] == pytest.approx(ref[kin.LACTATE], rel=1e-3, abs=5.5e-3)


def test_controlled_perfusion_holds_lactate_and_saves_medium() -> None:
    hg = {"basal_medium": "dmem_high_glucose"}
    fixed = _run(_microcarrier(**hg, feeding={"perfusion_vvd": 2.0}))
    follows = _run(_microcarrier(**hg, feeding={"perfusion_vvd": 2.0, "lactate_setpoint_mM": 12}))
    assert follows.max_lactate_mM[0] <= 12.0 * 1.02  # held at the set-point while the rate is below its top
    assert follows.expansion_medium_l[0] < 0.6 * fixed.expansion_medium_l[0]  # medium follows the cells
    per_cell = [u.expansion_medium_l[0] / u.cells_end_expansion[0] for u in (fixed, follows)]
    assert per_cell[1] < per_cell[0]


def test_a_dense_microcarrier_process_needs_glucose_and_perfusion() -> None:
    """Above 1e6 cells/mL within a week at central parameters: high-glucose medium, perfusion, surface and
    inoculum for it; the same vessel on low-glucose medium with exchanges every two days runs out of glucose."""
    dense = _run(_microcarrier(basal_medium="dmem_high_glucose", feeding={"perfusion_vvd": 2.0}))
    lean = _run(_microcarrier(basal_medium="dmem_low_glucose"))
    assert dense.cells_end_expansion[0] / 1000.0 > 1.0e6
    assert lean.cells_end_expansion[0] / 1000.0 < 0.7e6 and lean.min_glucose_mM[0] < 0.5


def test_a_hollow_fibre_feed_follows_lactate_so_harvest_and_medium_depend_on_seeding() -> None:
    low, high = (_run(_hollow_fiber(seeding={"cells": s})) for s in (5e6, 5e7))
    capacity = low.geometry.capacity_cells[0]
    assert low.cells_end_expansion[0] < 0.6 * capacity  # a light seeding does not fill the cartridge
    assert high.cells_end_expansion[0] > 1.5 * low.cells_end_expansion[0]
    assert high.expansion_medium_l[0] > 1.3 * low.expansion_medium_l[0]  # the feed rose with the cells
    fixed = [_run(_hollow_fiber(seeding={"cells": s}, feed_ml_per_min=1.0)) for s in (5e6, 5e7)]
    assert fixed[0].expansion_medium_l[0] == pytest.approx(fixed[1].expansion_medium_l[0])  # a fixed rate


@pytest.mark.parametrize(
    ("feeding", "message"),
    [
        ({"exchange_fraction": 0.5, "every_days": 2, "lactate_setpoint_mM": 10}, "controls perfusion"),
        ({"perfusion_vvd": 1.0, "perfusion_min_vvd": 0.1}, "lactate-controlled"),
        ({"perfusion_vvd": 1.0, "perfusion_min_vvd": 2.0, "lactate_setpoint_mM": 10}, "exceeds"),
        ({"lactate_setpoint_mM": 10}, "needs perfusion_vvd"),
    ],
)
def test_inconsistent_feeding_is_refused(feeding, message) -> None:
    with pytest.raises(ScenarioError) as err:
        xf.parse_scenario(_microcarrier(feeding=feeding))
    assert message in "\n".join(err.value.problems)
