"""Every expansion platform runs from a file and from the API, and behaves as its physics says."""

from __future__ import annotations

import copy
from typing import get_args

import numpy as np
import pytest

import exoforge as xf
from exoforge.parameters import UsageLog
from exoforge.scenario import Platform, ScenarioError
from exoforge.simulation import evaluate, parameters_for
from exoforge.upstream.simulate import simulate_upstream
from tests.conftest import ROOT, example_data

PLATFORMS = get_args(Platform)  # every platform of the scenario contract


def _data(name: str, **changes):
    return example_data(ROOT / "examples" / f"platform_{name}.yaml", **changes)


def _up(data, n: int = 1):
    scn = xf.parse_scenario(data)
    ps = parameters_for(scn).params
    batch = ps.nominal(1) if n == 1 else ps.sample(n, np.random.default_rng(5))
    return simulate_upstream(scn, UsageLog(batch))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_platform_runs_from_its_example_file(platform) -> None:
    scn = xf.load_scenario(ROOT / "examples" / f"platform_{platform}.yaml")
    assert scn.expansion.platform == platform
    result = xf.simulate(scn).to_json()
    assert result["cells"]["harvested"] > result["cells"]["seeded"] * 0.5
    assert result["ev"]["final_particles"] > 0
    assert result["cost"]["per_dose"] > 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_platform_runs_from_the_python_api_as_a_batch(platform) -> None:
    scn = xf.parse_scenario(_data(platform))
    batch = xf.parameters_for(scn).params.sample(16, np.random.default_rng(2))
    kpis = evaluate(scn, batch).kpis
    for key in ("cells.harvested", "cells.recovered_if_harvested", "ev.harvested_particles", "cost.per_batch"):
        assert kpis[key].shape == (16,) and np.all(np.isfinite(kpis[key])) and np.all(kpis[key] > 0), key
    assert np.all(kpis["cells.recovered_if_harvested"] < kpis["cells.harvested"])


@pytest.mark.parametrize(
    ("platform", "item"),
    [
        ("planar", "planar_vessel_per_cm2"),
        ("multilayer", "planar_vessel_per_cm2"),
        ("spinner", "microcarrier_per_g"),
        ("stirred_tank", "bioreactor_vessel_per_l"),
        ("vertical_wheel", "bioreactor_vessel_per_l"),
        ("hollow_fiber", "hollow_fiber_cartridge_per_m2"),
        ("fixed_bed", "fixed_bed_vessel_per_m2"),
        ("spheroid", "spheroid_vessel_per_l"),
    ],
)
def test_each_platform_costs_its_own_consumables_and_labour(platform, item) -> None:
    up = _up(_data(platform))
    items = {r.item for r in up.resources}
    assert item in items and "labour_rate_per_h" in items
    assert f"price.{item}" in parameters_for(xf.parse_scenario(_data(platform))).params


def test_hollow_fibre_keeps_evs_in_the_cell_compartment() -> None:
    """Collections drain only the cell compartment; the feed washes out small molecules, not EVs."""
    ic = _up(_data("hollow_fiber"))
    ec = _up(_data("hollow_fiber", **{"expansion.cell_compartment": "ec"}))
    collections = 5
    assert ic.harvest_volume_l[0] == pytest.approx(collections * 0.180)
    assert ec.harvest_volume_l[0] == pytest.approx(collections * 0.300)
    slow = _up(_data("hollow_fiber", **{"expansion.feed_ml_per_min": 1.0}))
    fast = _up(_data("hollow_fiber", **{"expansion.feed_ml_per_min": 4.0}))
    # more feed brings more glucose (more cells, more EVs), and never carries EVs away
    assert fast.harvested_particles[0] >= slow.harvested_particles[0]
    assert fast.min_glucose_mM[0] > slow.min_glucose_mM[0]


def test_microcarrier_addition_raises_a_capacity_limited_culture() -> None:
    base = _data("stirred_tank", **{"expansion.days": 12, "expansion.feeding": {"perfusion_vvd": 1.0}})
    without = copy.deepcopy(base)
    without["expansion"]["microcarrier"] = {"type": "cytodex3", "g_per_l": 2}
    a = _up(base)
    b = _up(without)
    assert a.cells_end_expansion[0] > 1.2 * b.cells_end_expansion[0]
    grams = {r.item: r.quantity[0] for r in a.resources}["microcarrier_per_g"]
    assert grams == pytest.approx((2 + 2) * 50)


def test_bead_to_bead_transfer_rate_sets_how_fast_new_beads_fill() -> None:
    data = _data("stirred_tank", **{"expansion.days": 10})
    slow = _up(dict(data, parameters={"bead_to_bead_transfer_rate": {"value": 0.1, "unit": "1/day"}}))
    fast = _up(dict(data, parameters={"bead_to_bead_transfer_rate": {"value": 2.0, "unit": "1/day"}}))
    assert fast.cells_end_expansion[0] > slow.cells_end_expansion[0]


def test_fed_batch_tops_up_glucose_without_medium_exchange() -> None:
    fed = _up(_data("spinner", **{"expansion.days": 9}))
    batch = _up(_data("spinner", **{"expansion.feeding": None, "expansion.days": 9}))
    assert fed.cells_end_expansion[0] > 1.2 * batch.cells_end_expansion[0]  # the batch runs out of glucose
    assert fed.expansion_medium_l[0] == pytest.approx(batch.expansion_medium_l[0])  # no medium added or removed
    assert fed.exchanges == 8 and batch.exchanges == 0  # a top-up each day before day 9


def test_perfusion_collects_the_perfusate_with_the_evs() -> None:
    perfused = _up(_data("fixed_bed"))
    assert perfused.harvest_volume_l[0] == pytest.approx(3 * 1.0 + 1.0 * 1.0 * 6.0)  # 3 collections + 1 vvd x 6 days


def test_sparging_keeps_more_dissolved_oxygen_than_surface_aeration() -> None:
    from exoforge.upstream.checks import dissolved_oxygen_at

    scn_s = xf.parse_scenario(_data("stirred_tank"))
    scn_a = xf.parse_scenario(_data("stirred_tank", **{"expansion.aeration": "surface"}))
    cells = np.array([5e9])
    p = UsageLog(parameters_for(scn_s).params.nominal(1))
    sparged = dissolved_oxygen_at(_up(_data("stirred_tank")).geometry, cells, p)
    surface = dissolved_oxygen_at(_up(_data("stirred_tank", **{"expansion.aeration": "surface"})).geometry, cells, p)
    assert scn_s.expansion.aeration == "sparged" and scn_a.expansion.aeration == "surface"
    assert sparged[0] > surface[0]


def test_oxygen_limits_growth_when_supply_is_short() -> None:
    """Surface aeration at 200 L: growth feels the oxygen limit; sparging lifts it."""
    kw = {"expansion.working_volume_l": 200, "expansion.days": 12, "expansion.feeding": {"perfusion_vvd": 1.0}}
    surface = _up(_data("stirred_tank", **kw, **{"expansion.aeration": "surface"}))
    sparged = _up(_data("stirred_tank", **kw))
    assert sparged.cells_end_expansion[0] > surface.cells_end_expansion[0]


def test_aggregate_growth_is_capped_by_oxygen_penetration() -> None:
    """Higher oxygen uptake in the aggregates shrinks the size they can reach, hence the cells."""
    lo = {"oxygen_uptake_rate_aggregate": {"value": 10, "unit": "fmol/cell/h"}}
    hi = {"oxygen_uptake_rate_aggregate": {"value": 20000, "unit": "fmol/cell/h"}}
    few = _up(dict(_data("spheroid", **{"expansion.days": 8}), parameters=hi))
    many = _up(dict(_data("spheroid", **{"expansion.days": 8}), parameters=lo))
    assert many.cells_end_expansion[0] > few.cells_end_expansion[0]


def test_more_collections_harvest_more_evs_and_serum_free_conditioning_kills_more_cells() -> None:
    one = _up(_data("multilayer", **{"conditioning.collections": 1}))
    three = _up(_data("multilayer"))
    assert three.harvested_particles[0] > 2 * one.harvested_particles[0]
    same = _up(_data("planar", **{"conditioning.medium": "same"}))
    serum_free = _up(_data("planar"))
    assert serum_free.dead_cells_end[0] > same.dead_cells_end[0]


def test_glutamine_decomposes_to_ammonia_even_without_cells() -> None:
    data = _data("planar", **{"expansion.seeding.cells_per_cm2": 1.0})  # the fewest the contract allows
    up = _up(data)
    assert up.max_ammonia_mM[0] > 0.1  # 2 mM glutamine at ~0.06/day for 3 days between exchanges


@pytest.mark.parametrize(
    ("platform", "changes", "message"),
    [
        ("planar", {"expansion.bed_volume_l": 1.0}, "bed_volume_l applies to fixed_bed"),
        ("spinner", {"expansion.cells_per_aggregate": 1e4}, "cells_per_aggregate applies to spheroid"),
        ("fixed_bed", {"expansion.feed_ml_per_min": 1.0}, "feed_ml_per_min applies to hollow_fiber"),
        ("stirred_tank", {"expansion.working_volume_l": 250}, "outside 0.1-200 L"),
        ("vertical_wheel", {"expansion.working_volume_l": 100}, "outside 0.1-80 L"),
        ("hollow_fiber", {"expansion.working_volume_l": 1}, "not working_volume_l"),
        ("stirred_tank", {"expansion.microcarrier": {"type": "cytodex3", "g_per_l": 2, "add_on_day": 3}}, "both"),
        ("planar", {"expansion.feeding": {"glucose_setpoint_mM": 5}}, "every_days"),
        ("planar", {"expansion.feeding": {"perfusion_vvd": 1, "exchange_fraction": 0.5}}, "one feeding mode"),
    ],
)
def test_platform_keys_are_checked(platform, changes, message) -> None:
    with pytest.raises(ScenarioError) as err:
        xf.parse_scenario(_data(platform, **changes))
    assert any(message in p for p in err.value.problems), err.value.problems


def test_every_scenario_platform_is_registered_once() -> None:
    """The registry and the scenario's platform names are the same set: none is simulated as another."""
    from typing import get_args

    from exoforge.scenario import Platform
    from exoforge.upstream.platform_models import PLATFORM_MODELS

    assert set(PLATFORM_MODELS) == set(get_args(Platform))
    assert all(name == model.name for name, model in PLATFORM_MODELS.items())


def test_an_unregistered_platform_is_refused_not_priced_as_another() -> None:
    import pytest

    from exoforge.upstream.platform_models import PlatformModel, platform_model, register_platform
    from exoforge.upstream.platforms import PlatformNotModelled

    with pytest.raises(PlatformNotModelled, match=r"'wave_bag' is not modelled.*modelled platforms: planar"):
        platform_model("wave_bag")
    planar = platform_model("planar")
    with pytest.raises(ValueError, match="already registered"):
        register_platform(PlatformModel("planar", planar.layout, planar.vessel))


def test_each_platform_prices_its_own_vessel() -> None:
    """The consumable each platform's vessel is priced as (a spheroid vessel only for spheroids)."""
    import exoforge as xf
    from tests.conftest import ROOT

    expected = {
        "platform_planar": "planar_vessel_per_cm2",
        "platform_multilayer": "planar_vessel_per_cm2",
        "platform_spinner": "bioreactor_vessel_per_l",
        "platform_hollow_fiber": "hollow_fiber_cartridge_per_m2",
        "platform_fixed_bed": "fixed_bed_vessel_per_m2",
        "platform_spheroid": "spheroid_vessel_per_l",
    }
    vessels = set(expected.values())
    for example, item in expected.items():
        ledger = xf.simulate(xf.load_scenario(ROOT / "examples" / f"{example}.yaml")).ledger
        priced = {line["item"] for line in ledger} & vessels
        assert priced == {item}, example
