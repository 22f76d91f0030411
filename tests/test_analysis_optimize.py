"""Optimisation: design spaces, grouping of identical designs, constraints, search, resume and backends."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis import optimize as opt
from exoforge.analysis.space import Variable, build_space, common_uniforms, get_key, load_space
from exoforge.cli import app
from exoforge.engine.backends import DaskBackend
from exoforge.scenario import ScenarioError
from exoforge.simulation import evaluate, parameters_for
from tests.conftest import ROOT, SPACES

EXAMPLES_DIR = ROOT / "examples"

SMALL = {
    "space_version": 1,
    "name": "small",
    "base": "stirred_tank_tff_sec.yaml",
    "variables": [
        {"key": "expansion.vessels", "integer": [1, 3]},
        {"key": "conditioning.collections", "integer": [1, 2]},
        {"key": "conditioning.strategies", "options": [[], ["hypoxia"]]},
    ],
    "objectives": ["cost.per_dose"],
    "uncertainty": {"samples": 4, "seed": 1},
    "optimizer": {"population": 6, "generations": 3, "seed": 2},
}


def small(**changes):
    raw = json.loads(json.dumps(SMALL))
    raw.update(changes)
    return build_space(raw, EXAMPLES_DIR, "small")


def test_variables_decode_every_kind() -> None:
    v = Variable(key="a", options=[{"x": 1}, {"x": 2}])
    assert [v.decode(x) for x in (0.0, 0.49, 0.5, 0.999)] == [{"x": 1}, {"x": 1}, {"x": 2}, {"x": 2}]
    assert Variable(key="a", integer=(1, 4)).decode(0.99) == 4
    assert Variable(key="a", values=[3.0, 15.0]).decode(0.7) == 15.0
    stepped = Variable(key="a", range=(5, 10), step=0.5)
    assert stepped.levels == 11 and stepped.decode(0.999) == 10 and stepped.decode(0.0) == 5
    assert Variable(key="a", range=(1, 100), log=True).decode(0.5) == pytest.approx(10)
    with pytest.raises(ValueError, match="exactly one"):
        Variable(key="a", integer=(1, 2), values=[1.0])


def test_when_leaves_a_variable_out_so_designs_coincide() -> None:
    raw = json.loads(json.dumps(SMALL))
    raw["variables"].append(
        {"key": "expansion.days", "values": [5, 9], "when": {"conditioning.strategies": [["hypoxia"]]}}
    )
    sp = build_space(raw, EXAMPLES_DIR)
    a, b = sp.decode([0, 0, 0, 0.0]), sp.decode([0, 0, 0, 0.9])
    assert a == b  # no strategy: the days variable does not apply
    c, d = sp.decode([0, 0, 0.9, 0.0]), sp.decode([0, 0, 0.9, 0.9])
    assert (get_key(c, "expansion.days"), get_key(d, "expansion.days")) == (5, 9)
    assert get_key(c, "conditioning.strategies") == ["hypoxia"]


def test_a_broken_space_gets_one_line_per_problem() -> None:
    raw = json.loads(json.dumps(SMALL))
    raw["variables"][0] = {"key": "expansion.vessels", "integer": [1, 3], "values": [1]}
    raw["objectives"] = [{"maximize": "p_meets_demand", "minimize": "cost.per_dose"}]
    with pytest.raises(ScenarioError) as err:
        build_space(raw, EXAMPLES_DIR)
    assert len(err.value.problems) == 2
    assert any("variables.0" in p for p in err.value.problems)
    no_demand = json.loads(json.dumps(SMALL))
    no_demand["base"] = "planar_10layer_uc.yaml"
    no_demand["scenario"] = None
    scn = xf.load_scenario(EXAMPLES_DIR / "planar_10layer_uc.yaml").to_dict()
    scn.pop("demand", None)
    no_demand.pop("base")
    no_demand["scenario"] = scn
    no_demand["constraints"] = {"demand_met": True}
    with pytest.raises(ScenarioError, match=r"no demand\.doses_per_year"):
        build_space(no_demand, EXAMPLES_DIR)


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_every_example_space_loads_and_decodes_valid_scenarios(path) -> None:
    sp = load_space(path)
    rng = np.random.default_rng(0)
    valid = 0
    for x in rng.random((30, sp.dimension)):
        try:
            xf.parse_scenario(sp.decode(x))
            valid += 1
        except ScenarioError:
            pass
    assert valid >= 25


def test_parameter_sets_are_shared_only_where_they_must_be_equal() -> None:
    """parameters_key names everything parameters_for reads: scenarios equal on it get equal sets."""
    base = xf.load_scenario(EXAMPLES_DIR / "stirred_tank_tff_sec.yaml")
    d = base.to_dict()
    d["expansion"]["vessels"] = 5
    d["expansion"]["working_volume_l"] = 50
    d["expansion"]["days"] = 9
    d["conditioning"]["collections"] = 3
    d["isolation"] = d["isolation"][:2]
    other = xf.parse_scenario(d)
    assert opt.parameters_key(base) == opt.parameters_key(other)
    assert parameters_for(base).params.params == parameters_for(other).params.params
    d["conditioning"]["strategies"] = ["hypoxia"]
    primed = xf.parse_scenario(d)
    assert opt.parameters_key(primed) != opt.parameters_key(base)


def test_identical_designs_are_evaluated_once() -> None:
    sp = small()
    ev = opt.DesignEvaluator(sp)
    x = np.array([[0.1, 0.1, 0.1], [0.2, 0.3, 0.2], [0.9, 0.1, 0.1], [0.1, 0.1, 0.1]])
    metrics = ev.evaluate(x)
    assert ev.evaluated == 4 and len(ev.archive) == 2  # rows 0, 1 and 3 decode to one scenario
    assert ev.simulated_cultures == 2
    assert metrics[0] is metrics[1] is metrics[3]
    ev.evaluate(x[:1])
    assert ev.evaluated == 5 and len(ev.archive) == 2
    m = metrics[2]
    assert m.ok and m.kpis["cost.per_dose"] > 0
    assert set(m.probabilities) == {"p_meets_dose_target", "p_meets_demand", "p_all_checks_pass"}


def test_designs_sharing_a_culture_are_simulated_once_and_exactly() -> None:
    """Two isolation trains on one culture: one upstream run, and the KPIs evaluate() gives each design."""
    raw = json.loads(json.dumps(SMALL))
    base = xf.load_scenario(EXAMPLES_DIR / "stirred_tank_tff_sec.yaml").to_dict()
    raw["variables"].append({"key": "isolation", "options": [base["isolation"], base["isolation"][:2]]})
    sp = build_space(raw, EXAMPLES_DIR)
    ev = opt.DesignEvaluator(sp)
    metrics = ev.evaluate(np.array([[0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.9]]))
    assert len(ev.archive) == 2 and ev.simulated_cultures == 1
    assert metrics[0].kpis["ev.final_particles"] != metrics[1].kpis["ev.final_particles"]
    for m in metrics:
        scn = xf.parse_scenario(m.scenario)
        batch = opt.design_batch(parameters_for(scn).params, sp.uncertainty.samples, sp.uncertainty.seed)
        alone = opt.metrics_from_evaluation(m.key, scn, evaluate(scn, batch), sp.uncertainty.samples)
        assert alone.kpis == m.kpis and alone.probabilities == m.probabilities


def test_an_evaluation_on_a_shared_culture_records_every_name_evaluate_reads() -> None:
    """What a design read (for its citations and its deciding parameters) includes the culture's own run."""
    from exoforge.simulation import simulate_culture

    scn = xf.load_scenario(EXAMPLES_DIR / "stirred_tank_tff_sec.yaml")
    batch = parameters_for(scn).params.nominal(2)
    shared, _ = simulate_culture(scn, batch).evaluate(scn)
    assert shared is not None and shared.used == evaluate(scn, batch).used
    assert {"growth_rate_max", "platform.stirred_tank.ev_secretion", "sec.recovery"} <= shared.used


def test_common_random_numbers_follow_the_parameter_name() -> None:
    a = common_uniforms(["growth_rate_max", "ev_secretion_rate"], 8, seed=3)
    b = common_uniforms(["ev_secretion_rate", "lag_time"], 8, seed=3)
    np.testing.assert_array_equal(a[:, 1], b[:, 0])
    assert not np.array_equal(a[:, 0], b[:, 1])


def test_constraints_mark_designs_infeasible_with_their_reason() -> None:
    sp = small(constraints={"min_purity": 1e14, "max_batch_days": 1000})
    ev = opt.DesignEvaluator(sp)
    (m,) = ev.evaluate(np.array([[0.1, 0.1, 0.1]]))
    g = opt.constraint_values(sp, m)
    names = opt.constraint_names(sp)
    assert g[names.index("purity >= 1e+14")] > 0
    assert g[names.index("batch days <= 1000")] < 0
    assert g[names.index("valid design")] == 0


def _brute_force(sp) -> float:
    levels = [v.levels for v in sp.variables]
    grid = np.array(
        [[(i + 0.5) / n for i, n in zip(idx, levels, strict=True)] for idx in itertools.product(*map(range, levels))]
    )
    ev = opt.DesignEvaluator(sp)
    return min(m.value("cost.per_dose") for m in ev.evaluate(grid) if np.all(opt.constraint_values(sp, m) <= 0))


def test_the_ga_finds_the_cheapest_design_of_a_small_space() -> None:
    sp = small()
    best = _brute_force(sp)  # 12 designs
    res = opt.optimize(sp, generations=6, population=8, seed=4)
    recs = res.recommendations()
    assert recs[0].metrics.value("cost.per_dose") == pytest.approx(best)
    assert "lowest cost.per_dose" in recs[0].reason and "runner-up" in recs[0].reason
    assert res.evaluated >= len(res.designs)
    d = res.to_json()
    assert d["recommendations"][0]["scenario"]["schema_version"] == 1
    assert d["history"][-1]["best"] == pytest.approx(best)


def test_resumed_run_continues_exactly(tmp_path) -> None:
    sp = small()
    whole = opt.optimize(sp, generations=4, population=6, seed=7)
    state = tmp_path / "state.pkl"
    opt.optimize(sp, generations=2, population=6, seed=7, state_path=state)
    resumed = opt.optimize(sp, generations=4, state_path=state, resume=True)
    assert resumed.evaluated == whole.evaluated
    assert [m.key for m in resumed.designs] == [m.key for m in whole.designs]
    assert resumed.history == whole.history
    other = small(name="another")
    with pytest.raises(ValueError, match="different design space"):
        opt.optimize(other, generations=4, state_path=state, resume=True)


def test_a_study_left_out_reaches_every_design_and_a_resume_must_leave_out_the_same(tmp_path) -> None:
    """optimize --exclude-ref: each design's parameters are those `parameters_for` gives without the
    reference (the stirred tank's pooled effect then falls), the result says what it left out, and a
    state saved with the full evidence is not resumed without the study (nor the other way round)."""
    ref = "10.1101/2022.08.30.505860"  # the 40-80-fold scaffold preprint of the 3D family
    sp = small()
    x = np.array([[0.1, 0.1, 0.1]])
    (full,) = opt.DesignEvaluator(sp).evaluate(x)
    (without,) = opt.DesignEvaluator(sp, exclude_refs=(ref,)).evaluate(x)
    scn = xf.parse_scenario(without.scenario)
    batch = opt.design_batch(parameters_for(scn, (ref,)).params, sp.uncertainty.samples, sp.uncertainty.seed)
    alone = opt.metrics_from_evaluation(without.key, scn, evaluate(scn, batch), sp.uncertainty.samples)
    assert alone.kpis == without.kpis
    assert without.kpis["ev.final_particles"] < full.kpis["ev.final_particles"]
    state = tmp_path / "state.json"
    res = opt.optimize(sp, generations=1, population=6, seed=7, state_path=state, exclude_refs=[ref.upper()])
    assert res.exclude_refs == (ref,) and res.to_json()["left_out"] == [ref]
    with pytest.raises(ValueError, match="other references left out"):
        opt.optimize(sp, generations=2, state_path=state, resume=True)
    resumed = opt.optimize(sp, generations=2, state_path=state, resume=True, exclude_refs=[ref])
    assert resumed.exclude_refs == (ref,)
    report = tmp_path / "opt.html"
    result = CliRunner().invoke(
        app, ["optimize", str(SPACES[0]), "--designs", "4", "--exclude-ref", ref, "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert f"Left out of the evidence (every design's parameters): {ref}" in report.read_text()
    assert f"left out of the evidence: {ref}" in result.output
    assert "does #1 rest on one study?" in result.output


def test_the_recommendations_are_evaluated_again_without_each_study_the_first_leans_on() -> None:
    """optimize_robustness: each row is the recommended designs evaluated by a DesignEvaluator without
    the study (same samples), and the study moves an effect of #1 by 5 % or more."""
    from exoforge.analysis.optimize_robustness import recommendation_robustness
    from exoforge.evidence.influence import studies_leant_on

    sp = small()
    res = opt.optimize(sp, generations=3, population=6, seed=4)
    recs = res.recommendations()
    assert res.robustness and [r.to_json() for r in res.robustness] == res.to_json()["robustness"]
    first = xf.parse_scenario(recs[0].metrics.scenario)
    assert [r.ref for r in res.robustness] == [row.ref for _, row in studies_leant_on(first)]
    for r in res.robustness:
        assert abs(math.log(r.effect_ratio)) >= math.log(1.05)
        again = opt.DesignEvaluator(sp, exclude_refs=(r.ref,)).evaluate(np.array([m.metrics.x for m in recs]))
        assert r.first_objectives["cost.per_dose"] == again[0].value("cost.per_dose")
        ok = [bool(np.all(opt.constraint_values(sp, m) <= 0)) for m in again]
        best = min((m.value("cost.per_dose"), rec.rank) for m, rec, f in zip(again, recs, ok, strict=True) if f)
        assert r.first_feasible == ok[0] and r.best_rank_without == best[1]
    assert recommendation_robustness(res) == res.robustness
    quiet = opt.optimize(sp, generations=3, population=6, seed=4, check_robustness=False)
    assert quiet.robustness == [] and quiet.to_json()["robustness"] == []


def test_dask_backend_gives_the_same_optimisation() -> None:
    sp = small()
    local = opt.optimize(sp, generations=2, population=6, seed=3)
    with DaskBackend(workers=2, processes=False) as backend:
        remote = opt.optimize(sp, generations=2, population=6, seed=3, backend=backend)
    assert [m.key for m in local.designs] == [m.key for m in remote.designs]
    assert [m.kpis for m in local.designs] == [m.kpis for m in remote.designs]


def test_nsga2_front_and_recommendations() -> None:
    sp = small(objectives=["cost.per_dose", "batch_days", {"maximize": "p_meets_demand"}])
    res = opt.optimize(sp, generations=2, population=8, seed=1)
    assert res.algorithm == "NSGA-II"
    points, front, labels = res.objective_table()
    assert front.any() and len(labels) == 3
    f = opt.to_minimised(res.objectives, points)
    for i in np.flatnonzero(front):  # nobody dominates a front member
        assert not np.any(np.all(f <= f[i], axis=1) & np.any(f < f[i], axis=1))
    recs = res.recommendations()
    assert recs[0].reason.startswith("best balance")
    assert all(r.reason for r in recs)


def test_discrete_variables_snap_to_their_level_centres() -> None:
    snap = opt.SnapToLevels([3, None, 2])
    x = np.array([[0.0, 0.123, 0.99], [0.4, 0.5, 0.2]])
    np.testing.assert_allclose(snap._do(None, x), [[1 / 6, 0.123, 0.75], [0.5, 0.5, 0.25]])


def test_pareto_mask() -> None:
    pts = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [5.0, 1.0], [1.0, 5.0]])
    np.testing.assert_array_equal(opt.pareto_mask(pts), [True, True, False, True, True])


def test_optimize_command(tmp_path) -> None:
    best = tmp_path / "best.yaml"
    out = CliRunner().invoke(
        app,
        [
            "optimize",
            str(EXAMPLES_DIR / "space_clinical_cost.yaml"),
            "--generations",
            "1",
            "--population",
            "6",
            "--json",
            "--write-best",
            str(best),
            "--report",
            str(tmp_path / "opt.html"),
        ],
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["designs_evaluated"] == 6 and d["algorithm"] == "GA"
    if d["recommendations"]:
        assert xf.load_scenario(best).to_dict()["expansion"] == d["recommendations"][0]["scenario"]["expansion"]
    assert "plotly-graph-div" in (tmp_path / "opt.html").read_text() or not d["feasible"]
    # whether #1 rests on one study: in the JSON, and in the report when any study was tested
    assert "robustness" in d
    assert bool(d["robustness"]) == ("Does #1 rest on one study?" in (tmp_path / "opt.html").read_text())
