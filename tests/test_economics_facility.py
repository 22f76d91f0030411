"""Facility use: dedicated lines, a shared suite, campaigns and a CDMO's day rate; demand KPIs of a run."""

from __future__ import annotations

import numpy as np
import pytest

import exoforge as xf
from exoforge.economics.demand import DAYS_PER_YEAR, throughput
from exoforge.simulation import evaluate, parameters_for
from tests.conftest import ROOT

BASE = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")


def _run(use: str, doses: float = 500, campaigns: int = 1, changes: dict | None = None):
    economics = {"facility_use": use, "campaigns_per_year": campaigns}
    data = dict(BASE, demand={"doses_per_year": doses}, economics=economics)
    scn = xf.parse_scenario(data)
    ps = parameters_for(scn).params
    if changes:
        ps = ps.with_values(changes)
    ev = evaluate(scn, ps.nominal(1))
    return {k: float(v[0]) for k, v in ev.kpis.items()}, {c: float(v[0]) for c, v in ev.cogs.by_item().items()}


def test_facility_days_of_each_use_follow_their_rule() -> None:
    days = np.array([12.0, 12.0])
    amount = np.array([3000.0, 300.0])  # 3,000 and 300 doses a batch
    op = np.array([330.0, 330.0])
    ded = throughput(amount, 1.0, days, 1000, op, facility_use="dedicated")
    assert list(ded.batches_per_year) == [1, 4] and list(ded.lines_needed) == [1, 1]
    assert ded.allocated_days == pytest.approx([DAYS_PER_YEAR, DAYS_PER_YEAR / 4])  # the whole year, shared out
    shared = throughput(amount, 1.0, days, 1000, op, facility_use="shared", changeover_days=3.0)
    assert shared.allocated_days == pytest.approx((12 + 3) * DAYS_PER_YEAR / 330)
    camp = throughput(amount, 1.0, days, 1000, op, facility_use="campaign", changeover_days=3.0, campaigns_per_year=2)
    # one changeover per campaign; never more campaigns than batches
    assert camp.allocated_days == pytest.approx([(12 + 3 * 1 / 1) * 365 / 330, (12 + 3 * 2 / 4) * 365 / 330])
    cdmo = throughput(amount, 1.0, days, 1000, op, facility_use="cdmo", changeover_days=3.0, campaigns_per_year=2)
    assert cdmo.allocated_days == pytest.approx([12 + 3, 12 + 1.5])  # days booked, not calendar share
    assert ded.doses_released_per_year == pytest.approx([3000, 1200])
    assert ded.overproduction_fraction == pytest.approx([2.0, 0.2])
    assert ded.line_utilisation(op) == pytest.approx([12 / 330, 48 / 330])
    with pytest.raises(ValueError, match="not one of"):
        throughput(amount, 1.0, days, 1000, op, facility_use="rented")


def test_a_dedicated_line_at_low_utilisation_costs_more_than_paying_for_the_days_used() -> None:
    k = {use: _run(use)[0] for use in ("dedicated", "shared", "campaign", "cdmo")}
    assert k["dedicated"]["line_utilisation"] < 0.2
    assert k["shared"]["cost.per_dose_supplied"] < k["dedicated"]["cost.per_dose_supplied"]
    ded = k["dedicated"]
    assert ded["facility_days_per_batch"] == pytest.approx(DAYS_PER_YEAR / ded["batches_per_year"])
    # the process itself is the same whatever the facility
    for use in ("shared", "campaign", "cdmo"):
        assert k[use]["ev.final_particles"] == k["dedicated"]["ev.final_particles"]
        assert k[use]["batches_per_year"] == k["dedicated"]["batches_per_year"]


def test_a_cdmo_charges_its_day_rate_instead_of_own_facility_and_equipment() -> None:
    kpis, items = _run("cdmo")
    assert items["cdmo_suite_per_day"] > 0
    assert "facility_per_day" not in items and not any(i.startswith("equipment_") for i in items)
    dearer, _ = _run("cdmo", changes={"price.cdmo_suite_per_day": (10_000.0, "USD/day")})
    assert dearer["cost.per_batch"] > kpis["cost.per_batch"]
    _, own = _run("dedicated")
    assert own["facility_per_day"] > 0 and "cdmo_suite_per_day" not in own


def test_changeovers_cost_per_campaign() -> None:
    per_batch = _run("dedicated")[0]["doses_released_per_batch"]
    doses = 6 * per_batch  # six batches a year, whatever the yield
    one, _ = _run("campaign", doses=doses, campaigns=1)
    four, _ = _run("campaign", doses=doses, campaigns=4)
    assert one["batches_per_year"] == 6
    assert four["facility_days_per_batch"] > one["facility_days_per_batch"]
    longer, _ = _run("campaign", doses=doses, campaigns=4, changes={"facility.product_changeover_days": (9.0, "day")})
    assert longer["cost.per_dose_supplied"] > four["cost.per_dose_supplied"]


def test_run_summary_shows_what_meeting_the_demand_takes() -> None:
    from typer.testing import CliRunner

    from exoforge.cli import app

    out = CliRunner().invoke(app, ["run", str(ROOT / "examples" / "clinical_1000_doses.yaml")])
    assert out.exit_code == 0, out.output
    for label in ("cost per dose supplied", "batches per year", "parallel lines", "line utilisation", "demand"):
        assert label in out.output
    d = xf.simulate(xf.load_scenario(ROOT / "examples" / "clinical_1000_doses.yaml")).to_json()
    assert d["demand"]["doses_per_year"] == 1000 and d["cost"]["facility_use"] == "dedicated"
    assert d["doses_released_per_year"] >= 1000 and d["overproduction_fraction"] >= 0
