"""How sure the order of an optimiser's recommendations is: each run again on common draws of its parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis import optimize as opt
from exoforge.analysis.design_evaluation import design_batch
from exoforge.analysis.optimize_odds import recommendation_odds
from exoforge.cli import app
from exoforge.simulation import evaluate, parameters_for
from tests.test_analysis_optimize import EXAMPLES_DIR, SMALL, small

DRAWS = 10
#: the optimiser tests' small space, with every check a constraint and the search's own draws known
SPACE = {**SMALL, "constraints": {"checks_pass": True}, "uncertainty": {"samples": DRAWS, "seed": 3}}


def _space(**changes):
    return small(constraints=SPACE["constraints"], uncertainty=SPACE["uncertainty"], **changes)


def test_feasible_draws_are_the_searchs_own_and_the_best_is_the_cheapest_feasible() -> None:
    """With the search's own draws (same count and seed), a recommendation's share of feasible draws is
    the share of draws in which its checks pass, as the optimiser's evaluator counted it; the best in a
    draw is the cheapest recommendation feasible in it."""
    sp = _space()
    res = opt.optimize(sp, generations=3, population=6, seed=4, check_robustness=False, odds_samples=DRAWS)
    odds = res.odds
    recs = res.recommendations()
    assert odds is not None and len(odds.rows) == len(recs) >= 2
    assert odds.seed == 3 and [r.rank for r in odds.rows] == [r.rank for r in recs]
    cost, ok = [], []
    for rec, row in zip(recs, odds.rows, strict=True):
        assert row.p_feasible == pytest.approx(rec.metrics.probabilities["p_all_checks_pass"])
        scn = xf.parse_scenario(rec.metrics.scenario)
        ev = evaluate(scn, design_batch(parameters_for(scn).params, DRAWS, 3))
        checks = np.ones(DRAWS, dtype=bool)
        for c in ev.checks:
            checks &= np.asarray(c.ok)[1:]
        ok.append(checks)
        cost.append(np.asarray(ev.kpis["cost.per_dose"])[1:])
        assert row.objectives["cost.per_dose"][1] == pytest.approx(float(np.median(cost[-1])))
        if row.p_feasible < 1:
            assert any(k.startswith("check: ") for k, _ in row.failing)  # named check by check
    cost_m, ok_m = np.array(cost), np.array(ok)
    best = [int(np.argmin(np.where(ok_m[:, r], cost_m[:, r], np.inf))) for r in range(DRAWS) if ok_m[:, r].any()]
    for i, row in enumerate(odds.rows):
        assert row.p_first == pytest.approx(best.count(i) / DRAWS)
    assert odds.p_none_feasible == pytest.approx(1 - len(best) / DRAWS)
    assert res.to_json()["odds"] == json.loads(json.dumps(odds.to_json()))
    with pytest.raises(ValueError, match="at least 1"):
        recommendation_odds(res, 0)
    quiet = opt.optimize(sp, generations=3, population=6, seed=4, check_robustness=False, odds_samples=0)
    assert quiet.odds is None and quiet.to_json()["odds"] is None


def test_several_objectives_have_bands_but_no_single_best() -> None:
    sp = _space(objectives=["cost.per_dose", "batch_days"])
    res = opt.optimize(sp, generations=2, population=8, seed=1, check_robustness=False, odds_samples=6)
    assert res.odds is not None and res.odds.rows
    for row in res.odds.rows:
        assert row.p_first is None and set(row.objectives) == {"cost.per_dose", "batch_days"}
        low, mid, high = row.objectives["cost.per_dose"]
        assert low <= mid <= high


def test_optimize_command_says_how_sure_the_order_is(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(json.dumps({**SPACE, "base": str(EXAMPLES_DIR / "stirred_tank_tff_sec.yaml")}))
    runner = CliRunner()
    report = tmp_path / "opt.html"
    out = runner.invoke(app, ["optimize", str(path), "--no-robustness", "--odds-samples", "5", "--report", str(report)])
    assert out.exit_code == 0, out.output
    assert "how sure is the order?" in out.output and "5 draws" in " ".join(out.output.split())
    assert "How sure is the order?" in report.read_text()
    d = json.loads(
        runner.invoke(app, ["optimize", str(path), "--no-robustness", "--json", "--odds-samples", "0"]).output
    )
    assert d["odds"] is None


def test_a_recommendation_the_model_cannot_run_on_the_draws_is_never_feasible(monkeypatch) -> None:
    from exoforge.analysis import optimize_odds
    from exoforge.simulation import Culture

    res = opt.optimize(_space(), generations=2, population=6, seed=4, check_robustness=False, odds_samples=0)
    monkeypatch.setattr(optimize_odds, "simulate_culture", lambda scn, batch: Culture(batch, None, "cannot"))
    odds = recommendation_odds(res, 4)
    assert odds is not None and odds.p_none_feasible == 1.0
    for row in odds.rows:
        assert row.p_feasible == 0.0 and row.p_first == 0.0 and row.failing == (("valid design", 1.0),)
