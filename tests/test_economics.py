"""Cost of goods: the ledger sums, scale and capacity, demand and lots, roles, release tests, escalation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import exoforge as xf
from exoforge.economics.prices import escalation_factor, escalation_index, price_years
from exoforge.economics.release import QC_PANEL
from exoforge.simulation import evaluate, parameters_for
from tests.conftest import ROOT

BASE = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
UC_TRAIN = [{"op": "centrifugation", "g": 2000, "minutes": 20}, {"op": "ultracentrifugation"}]
SCALES_L = (0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200)


def scenario(**changes):
    data = dict(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return xf.parse_scenario(data)


def run(scn, n: int = 1, seed: int | None = None):
    ps = parameters_for(scn).params
    batch = ps.nominal(n) if seed is None else ps.sample(n, np.random.default_rng(seed))
    return evaluate(scn, batch)


@pytest.mark.parametrize(
    "path", [*sorted((ROOT / "examples").glob("isolation_*.yaml"))[:6], ROOT / "examples" / "clinical_1000_doses.yaml"]
)
def test_breakdowns_by_category_step_and_item_each_sum_to_the_total(path) -> None:
    ev = run(xf.load_scenario(path), n=12, seed=4)
    total = ev.kpis["cost.per_batch"]
    for split in (ev.cogs.by_category(), ev.cogs.by_step(), ev.cogs.by_item()):
        np.testing.assert_allclose(np.sum(list(split.values()), axis=0), total, rtol=1e-12)
    assert set(ev.cogs.by_category()) >= {"media", "consumables", "labour", "qc", "equipment", "facility"}
    assert np.all(ev.cogs.by_category()["equipment"] > 0)


def _scale_sweep(isolation):
    out = []
    for v in SCALES_L:
        scn = scenario(
            isolation=isolation,
            expansion=dict(BASE["expansion"], working_volume_l=v),
            demand=None,
            economics={"facility_use": "shared"},
        )
        ev = run(scn)
        failed = [lim for lim in ev.train.limits if not bool(lim.ok[0])]
        out.append((v, float(ev.kpis["cost.per_dose"][0]), failed, ev))
    return out


@pytest.mark.parametrize("isolation", [BASE["isolation"], UC_TRAIN], ids=["tff_sec", "ultracentrifugation"])
def test_cost_per_dose_falls_with_scale_until_a_capacity_limit(isolation) -> None:
    """A fixed process gets cheaper per dose as the vessel grows (fixed costs per batch spread over more
    doses) until an isolation step reaches its capacity limit, which the run reports as a failed check."""
    sweep = _scale_sweep(isolation)
    first = next(i for i, (_, _, failed, _) in enumerate(sweep) if failed)
    assert first >= 2, "the sweep must show the fall before the limit"
    costs = [c for _, c, _, _ in sweep[: first + 1]]
    assert all(b < a for a, b in itertools.pairwise(costs)), costs
    lim = sweep[first][2][0]
    assert float(lim.value[0]) > float(lim.limit[0])
    names = {c.name for c in sweep[first][3].checks if not bool(c.ok[0])}
    assert lim.name in names


def test_capacity_limit_buys_parallel_equipment() -> None:
    """Beyond a step's scale limit the line needs ceil(value / limit) units of its equipment."""
    small = run(scenario(expansion=dict(BASE["expansion"], working_volume_l=3), demand=None))
    big = run(scenario(expansion=dict(BASE["expansion"], working_volume_l=200), demand=None))
    units = {}
    for label, ev in (("small", small), ("big", big)):
        _step, n = ev.train.equipment()["benchtop_centrifuge"]
        units[label] = float(n[0])
    runs_limit = next(lim for lim in big.train.limits if "centrifuge runs" in lim.name)
    assert units["small"] == 1
    assert units["big"] == math.ceil(float(runs_limit.value[0]) / float(runs_limit.limit[0]))


def test_batches_per_year_and_lines_for_a_demand() -> None:
    scn = scenario(demand={"doses_per_year": 20_000})
    ev = run(scn)
    k = {key: float(v[0]) for key, v in ev.kpis.items()}
    op_days = parameters_for(scn).params["line_operating_days_per_year"].value
    assert k["batches_per_year"] == math.ceil(20_000 / k["doses_released_per_batch"])
    assert k["lines_needed"] == math.ceil(k["batches_per_year"] * k["batch_days"] / op_days)


def test_lot_size_sets_lots_release_tests_and_released_doses() -> None:
    doses = float(run(scenario()).kpis["doses_per_batch"][0])
    lot = math.floor(doses / 3.5)
    ev = run(scenario(demand={"doses_per_year": 5000, "lot_size_doses": lot}))
    k = {key: float(v[0]) for key, v in ev.kpis.items()}
    assert k["lots_per_batch"] == math.floor(doses / lot) == 3
    assert k["doses_released_per_batch"] == 3 * lot
    # the demand's yearly batches over the doses demanded
    assert k["batches_per_year"] == math.ceil(5000 / (3 * lot))
    assert k["cost.per_dose"] == pytest.approx(k["cost.per_batch"] / (3 * lot))
    assert k["cost.per_dose_supplied"] == pytest.approx(k["cost.per_batch"] * k["batches_per_year"] / 5000)
    no_demand = run(scenario(demand=None)).kpis
    assert no_demand["cost.per_dose"][0] == pytest.approx(no_demand["cost.per_batch"][0] / doses)
    sterility = [ln for ln in ev.cogs.lines if ln.item == "qc_sterility"]
    assert len(sterility) == 1 and float(sterility[0].quantity[0]) == 3
    too_big = xf.simulate(scenario(demand={"doses_per_year": 5000, "lot_size_doses": doses * 2}))
    assert too_big.kpis["doses_released_per_batch"] == 0
    assert any("fewer than one lot" in w for w in too_big.warnings)


def test_release_panel_is_itemised_per_test() -> None:
    ev = run(scenario())
    qc_items = {ln.item for ln in ev.cogs.lines if ln.category == "qc"}
    assert {f"qc_{t}" for t in QC_PANEL} <= qc_items
    assert {"qc_sterility", "qc_endotoxin", "qc_mycoplasma", "qc_potency", "qc_identity_markers"} <= qc_items


def test_labour_by_operation_and_role() -> None:
    scn = scenario()
    ev = run(scn)
    frac = parameters_for(scn).params["labour.supervision_fraction"].value
    lines = [ln for ln in ev.cogs.lines if ln.category == "labour"]
    roles = {ln.item for ln in lines}
    assert {"labour_rate_per_h", "supervisor_rate_per_h", "qa_rate_per_h", "qc_analyst_rate_per_h"} <= roles
    for step in ev.train.steps:
        op = [ln for ln in lines if ln.step == step.name and ln.item == "labour_rate_per_h"]
        sup = [ln for ln in lines if ln.step == step.name and ln.item == "supervisor_rate_per_h"]
        assert float(op[0].quantity[0]) == pytest.approx(float(step.labour_hours[0]))
        assert float(sup[0].quantity[0]) == pytest.approx(frac * float(step.labour_hours[0]))
    result = xf.simulate(scn)
    assert {row["role"] for row in result.ledger if row["category"] == "labour"} == {
        "operator",
        "supervisor",
        "quality assurance",
        "QC analyst",
    }


def test_every_price_has_a_year_and_escalation_uses_the_index() -> None:
    _, source, idx = escalation_index()
    assert source.startswith("url:")
    years = price_years()
    ps = parameters_for(xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")).params
    for name in (n for n in ps if n.startswith("price.")):
        assert years.get(name, 2024) in idx, name
    assert escalation_factor(2019, 2024) == pytest.approx(idx[2024] / idx[2019])
    with pytest.raises(ValueError, match="no price index for 1990"):
        escalation_factor(1990, 2024)


def test_price_year_escalates_default_prices_but_not_the_users() -> None:
    base = xf.simulate(scenario())
    old = xf.simulate(scenario(economics={"price_year": 2019, "prices": {"serum_free_medium_per_l": 200.0}}))
    factor = escalation_factor(2024, 2019)

    def price(result, item):
        return next(r["unit_price"] for r in result.ledger if r["item"] == item)

    assert price(old, "tff_membrane_per_m2") == pytest.approx(price(base, "tff_membrane_per_m2") * factor)
    assert price(old, "serum_free_medium_per_l") == pytest.approx(200.0)
    assert old.price_year == 2019
    assert next(r for r in old.ledger if r["item"] == "tff_membrane_per_m2")["price_year"] == 2024
    assert next(r for r in old.ledger if r["item"] == "serum_free_medium_per_l")["price_year"] == 2019


def test_dedicated_lines_cost_more_per_dose_at_low_demand() -> None:
    """A dedicated line's facility and equipment are paid all year: at low demand each dose carries idle
    time; a shared facility charges only the days a batch occupies."""
    low = run(scenario(demand={"doses_per_year": 500})).kpis["cost.per_dose"][0]
    high = run(scenario(demand={"doses_per_year": 30_000})).kpis["cost.per_dose"][0]
    shared = run(scenario(demand={"doses_per_year": 500}, economics={"facility_use": "shared"})).kpis["cost.per_dose"][
        0
    ]
    assert high < low
    assert shared < low


def test_equipment_depreciation_follows_lifetime() -> None:
    scn = scenario()
    ps = parameters_for(scn).params
    a = evaluate(scn, ps.nominal(1)).cogs.by_category()["equipment"][0]
    b = evaluate(scn, ps.with_values({"equipment.lifetime_years": (20.0, "year")}).nominal(1)).cogs.by_category()[
        "equipment"
    ][0]
    assert b == pytest.approx(a / 2)
