"""Demand-aware decisions: the optimiser ranks by cost per dose supplied, breaks near-ties by over-production,
says why its pick beats its one-variable neighbours, and keeps its state as JSON (pickles refused)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from exoforge.analysis import optimize as opt
from exoforge.analysis.ranking import tie_band_order
from exoforge.analysis.space import build_space, load_space
from tests.conftest import ROOT

EXAMPLES_DIR = ROOT / "examples"

#: Every design of this space makes at least a year's demand in one batch: scale and collections only change
#: how much more than the demand a batch makes.
OVERSIZED = {
    "space_version": 1,
    "name": "oversized",
    "base": "clinical_1000_doses.yaml",
    "variables": [
        {"key": "expansion.working_volume_l", "values": [5, 15, 50]},
        {"key": "conditioning.collections", "integer": [1, 3]},
    ],
    "constraints": {"demand_met": True},
    "uncertainty": {"samples": 0, "seed": 1},
    "optimizer": {"population": 6, "generations": 3, "seed": 1},
}


def test_tie_band_order_breaks_near_ties_by_the_next_criterion() -> None:
    cost = [100.0, 100.5, 120.0, 99.8, math.nan]
    over = [2.0, 0.1, 0.0, 3.0, 0.0]
    assert tie_band_order(cost, [over], 0.01) == [1, 0, 3, 2, 4]  # 99.8-100.8 tie: least over-production first
    assert tie_band_order(cost, [over], 0.0) == [3, 0, 1, 2, 4]  # no tolerance: the objective alone
    assert tie_band_order(cost, [over], 0.01, count=2) == [1, 0]


def test_a_space_with_a_demand_minimises_cost_per_dose_supplied_by_default() -> None:
    sp = build_space(dict(OVERSIZED), EXAMPLES_DIR, "oversized")
    assert [o.key for o in sp.objectives] == ["cost.per_dose_supplied"]
    from exoforge.scenario import read_mapping

    inline = read_mapping(EXAMPLES_DIR / "clinical_1000_doses.yaml")
    inline.pop("demand")
    no_demand = {k: v for k, v in OVERSIZED.items() if k != "base"} | {"scenario": inline, "constraints": {}}
    assert [o.key for o in build_space(no_demand, EXAMPLES_DIR).objectives] == ["cost.per_dose"]
    assert [o.key for o in load_space(EXAMPLES_DIR / "space_clinical_cost.yaml").objectives] == [
        "cost.per_dose_supplied"
    ]


def test_recommendation_meets_the_demand_without_gross_overproduction() -> None:
    sp = build_space(dict(OVERSIZED), EXAMPLES_DIR, "oversized")
    res = opt.optimize(sp)
    feasible = [m for m, ok in zip(res.designs, res.feasible, strict=True) if ok]
    lowest = min(m.value("cost.per_dose_supplied") for m in feasible)
    tied = [m for m in feasible if m.value("cost.per_dose_supplied") <= lowest * 1.01]
    top = res.recommendations()[0]
    m = top.metrics
    assert m.value("cost.per_dose_supplied") <= lowest * 1.01
    assert m.value("overproduction_fraction") == min(t.value("overproduction_fraction") for t in tied)
    assert m.value("doses_released_per_year") >= 1000 and m.value("lines_needed") == 1
    # the reason names the demand it is sized for and the over-production
    assert "1,000 doses demanded" in top.reason and "beyond the demand" in top.reason
    # why it beats its neighbours: every one-variable change, evaluated
    d = res.to_json()
    rows = d["neighbours"]
    assert rows and all(r["why"] for r in rows)
    assert {r["variable"] for r in rows} <= {"expansion.working_volume_l", "conditioning.collections"}
    for r in rows:
        if r["feasible"]:
            assert r["relative_to_best"] == pytest.approx(r["objective"] / m.value("cost.per_dose_supplied") - 1)
    for key in ("doses_released_per_year", "overproduction_fraction", "line_utilisation", "batches_per_year"):
        assert key in d["recommendations"][0]["kpis"]


def test_state_is_json_and_pickles_are_refused(tmp_path) -> None:
    sp = build_space(dict(OVERSIZED), EXAMPLES_DIR, "oversized")
    state = tmp_path / "opt.state"
    opt.optimize(sp, generations=1, state_path=state)
    saved = json.loads(state.read_text())
    assert saved["format"] == opt.STATE_FORMAT and saved["generations_done"] == 1
    assert saved["archive"] and all("kpis" in m for m in saved["archive"])
    resumed = opt.optimize(sp, generations=2, state_path=state, resume=True)
    whole = opt.optimize(sp, generations=2)
    assert [m.key for m in resumed.designs] == [m.key for m in whole.designs]
    assert resumed.evaluated == whole.evaluated
    old = tmp_path / "old.state"
    old.write_bytes(pickle.dumps({"algorithm": "anything"}))
    with pytest.raises(ValueError, match="pickle"):
        opt.optimize(sp, state_path=old, resume=True)
    junk = tmp_path / "junk.state"
    junk.write_text("not json")
    with pytest.raises(ValueError, match="not an exoforge optimiser state"):
        opt.optimize(sp, state_path=junk, resume=True)


def test_optimize_command_refuses_a_pickled_state_in_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from exoforge.cli import app

    old = tmp_path / "opt.state"
    old.write_bytes(pickle.dumps(np.arange(3)))
    out = CliRunner().invoke(
        app, ["optimize", str(EXAMPLES_DIR / "space_clinical_cost.yaml"), "--state", str(old), "--resume"]
    )
    assert out.exit_code == 2
    assert "pickle" in out.output and "Traceback" not in out.output
