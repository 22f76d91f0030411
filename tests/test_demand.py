"""Throughput for a demand (exoforge.economics.demand): lots, batches, lines and facility days, by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from exoforge.economics.demand import cost_per_dose, cost_per_dose_supplied, throughput

A = np.array


def _tp(**changes):
    args: dict[str, Any] = {
        "final_amount": A([1050.0, 40.0, 0.5]),  # doses' worth of product in three batches
        "dose_amount": 1.0,
        "batch_days": A([12.0, 12.0, 12.0]),
        "doses_per_year": 2500.0,
        "operating_days": A([300.0, 300.0, 300.0]),
        "lot_size": 100.0,
    }
    args.update(changes)
    return throughput(**args)


def test_lots_and_releases() -> None:
    tp = _tp()
    np.testing.assert_array_equal(tp.doses_per_batch, [1050, 40, 0])
    np.testing.assert_array_equal(tp.lots_per_batch, [10, 0, 0])
    np.testing.assert_array_equal(tp.doses_released, [1000, 0, 0])  # 50 doses fill no lot
    # without a lot size the whole batch is one lot
    one = _tp(lot_size=None)
    np.testing.assert_array_equal(one.lots_per_batch, [1, 1, 0])
    np.testing.assert_array_equal(one.doses_released, [1050, 40, 0])


def test_batches_lines_and_dedicated_days() -> None:
    tp = _tp()
    # 2500 / 1000 -> 3 batches; 3 x 12 days on one line of 300 days
    assert tp.batches_per_year[0] == 3
    assert np.isinf(tp.batches_per_year[1])  # no lot released: the demand cannot be met
    assert tp.lines_needed[0] == 1
    assert tp.allocated_days[0] == pytest.approx(max(365 / 3, 12 * 365 / 300))
    assert tp.line_utilisation(A([300.0] * 3))[0] == pytest.approx(3 * 12 / 300)
    assert tp.overproduction_fraction[0] == pytest.approx(3 * 1000 / 2500 - 1)
    assert tp.doses_released_per_year[0] == 3000


def test_a_batch_that_releases_no_lot_releases_nothing_a_year() -> None:
    tp = _tp()  # the second and third batches fill no lot of 100 doses
    np.testing.assert_array_equal(tp.doses_released_per_year[1:], [0.0, 0.0])
    np.testing.assert_array_equal(tp.overproduction_fraction[1:], [-1.0, -1.0])  # all of the demand short
    assert np.all(np.isinf(tp.lines_needed[1:]))
    utilisation = tp.line_utilisation(A([300.0] * 3))
    assert np.isfinite(utilisation[0]) and np.all(np.isnan(utilisation[1:]))  # undefined: no batch count meets it


def test_many_small_batches_need_parallel_lines() -> None:
    tp = _tp(final_amount=A([100.0]), batch_days=A([20.0]), operating_days=A([300.0]), doses_per_year=5000.0)
    assert tp.batches_per_year[0] == 50
    assert tp.lines_needed[0] == 4  # 50 x 20 = 1000 line-days over 300 a line
    assert tp.allocated_days[0] == pytest.approx(4 * 365 / 50)


def test_shared_campaign_and_cdmo_days() -> None:
    shared = _tp(facility_use="shared", changeover_days=3.0)
    assert shared.allocated_days[0] == pytest.approx((12 + 3) * 365 / 300)
    campaign = _tp(facility_use="campaign", changeover_days=3.0, campaigns_per_year=2)
    booked = 12 + 3 * 2 / 3  # two campaigns' changeovers over three batches
    assert campaign.allocated_days[0] == pytest.approx(booked * 365 / 300)
    cdmo = _tp(facility_use="cdmo", changeover_days=3.0, campaigns_per_year=2)
    assert cdmo.allocated_days[0] == pytest.approx(booked)
    # more campaigns than batches: each batch is its own campaign
    many = _tp(facility_use="cdmo", changeover_days=3.0, campaigns_per_year=10)
    assert many.allocated_days[0] == pytest.approx(12 + 3)


def test_without_a_demand() -> None:
    tp = _tp(doses_per_year=None)
    assert np.all(np.isnan(tp.batches_per_year)) and np.all(np.isnan(tp.lines_needed))
    np.testing.assert_allclose(tp.allocated_days, 12 * 365 / 300)  # a campaign of one
    assert np.all(np.isnan(tp.overproduction_fraction)) and np.all(np.isnan(tp.doses_released_per_year))
    assert np.all(np.isnan(cost_per_dose_supplied(A([1.0, 1.0, 1.0]), tp)))


def test_costs_per_dose() -> None:
    tp = _tp()
    per_batch = A([100_000.0, 100_000.0, 100_000.0])
    np.testing.assert_allclose(cost_per_dose(per_batch, tp), [100.0, 100_000 / 40, 100_000 / 0.5])
    supplied = cost_per_dose_supplied(per_batch, tp)
    assert supplied[0] == pytest.approx(3 * 100_000 / 2500)  # the 500 doses over demand are not supplied
    assert np.isinf(supplied[1]) and np.isinf(supplied[2])


def test_an_unknown_facility_use_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of dedicated, shared, campaign, cdmo"):
        _tp(facility_use="rented")
