"""How sure is a selection's ranking: every design on the same draws, checked against each design run alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from exoforge.analysis.design_evaluation import design_batch
from exoforge.analysis.ranking import tie_band_order
from exoforge.analysis.selection import load_space, select
from exoforge.analysis.selection_uncertainty import selection_odds
from exoforge.cli import app
from exoforge.simulation import evaluate, parameters_for
from tests.conftest import ROOT

SMALL = ROOT / "examples" / "select_small_lab.yaml"
GRADES = ("impure", "low", "intermediate", "high")
SAMPLES = 12
PREPRINT = "10.1101/2022.08.30.505860"  # Kronstadt 2022, which the stirred tank's effect leans on most


def _alone(space, sel, samples: int, seed: int, exclude_refs: tuple[str, ...] = ()):
    """Each design simulated on its own (no shared culture) on its draws; per draw feasible or not, and its costs."""
    c = space.constraints
    out = {}
    for o in sel.outcomes:
        scn = o.design.scenario
        if scn is None:
            continue
        ev = evaluate(scn, design_batch(parameters_for(scn, exclude_refs).params, samples, seed))
        k = {name: np.asarray(v)[1:] for name, v in ev.kpis.items()}
        ok = np.ones(samples, dtype=bool)
        for check in ev.checks:
            ok &= np.asarray(check.ok)[1:]
        lot = k["doses_released_per_batch"] >= 1
        feasible = ok & lot & np.isfinite(k["cost.per_dose_supplied"])
        feasible &= ~lot | (k["lines_needed"] <= c.max_lines)
        if c.max_batch_days is not None:
            feasible &= k["batch_days"] <= c.max_batch_days
        feasible &= k["ev.purity_grade"] >= GRADES.index(c.min_purity_grade)
        out[o.design.label] = (feasible, k)
    return out


@pytest.mark.parametrize("left_out", [(), (PREPRINT,)])
def test_shares_are_those_of_each_design_run_alone_on_the_same_draws(left_out: tuple[str, ...]) -> None:
    """Feasibility and the first design in each draw, recomputed from every design simulated alone on its
    own parameter batch (common random numbers by parameter name), agree with the selection's odds, with
    and without a study left out of the evidence."""
    space = load_space(SMALL)
    sel = select(space, exclude_refs=left_out)
    odds = selection_odds(space, sel, SAMPLES, seed=5)
    alone = _alone(space, sel, SAMPLES, seed=5, exclude_refs=left_out)
    by_label = {d.label: d for d in odds.designs}
    assert set(alone) <= set(by_label)
    labels = list(alone)
    firsts = dict.fromkeys(labels, 0)
    none = 0
    for r in range(SAMPLES):
        idx = [lab for lab in labels if alone[lab][0][r]]
        if not idx:
            none += 1
            continue
        k = [alone[lab][1] for lab in idx]
        order = tie_band_order(
            [float(x["cost.per_dose_supplied"][r]) for x in k],
            [[float(x[c][r]) for x in k] for c in ("overproduction_fraction", "cost.per_dose")],
            space.tie_tolerance,
        )
        firsts[idx[order[0]]] += 1
    for lab in labels:
        d = by_label[lab]
        assert d.p_feasible == pytest.approx(alone[lab][0].mean()), lab
        assert d.p_first == pytest.approx(firsts[lab] / SAMPLES), lab
        cost = alone[lab][1]["cost.per_dose_supplied"]
        finite = cost[np.isfinite(cost)]
        if finite.size:
            assert d.cost_median == pytest.approx(float(np.median(finite)), rel=1e-9), lab
    assert odds.p_none_feasible == pytest.approx(none / SAMPLES)
    # every draw has one first design or none
    assert sum(d.p_first for d in odds.designs) + odds.p_none_feasible == pytest.approx(1.0)
    for d in odds.designs:
        assert 0 <= d.p_first <= d.p_feasible <= 1
        assert d.cost_low <= d.cost_median <= d.cost_high or not np.isfinite(d.cost_median)
        assert all(0 < share <= 1 for _, share in d.failing)
        if d.p_feasible < 1:
            assert d.failing, d.label  # an infeasible draw says why


def test_the_central_ranking_carries_over_and_the_draws_differ_from_it() -> None:
    space = load_space(SMALL)
    sel = select(space)
    odds = selection_odds(space, sel, SAMPLES)
    assert odds.central_first is not None and sel.best is not None
    assert odds.central_first.label == sel.best.design.label and odds.central_first.rank == 1
    ranks = sorted(d.rank for d in odds.designs if d.rank is not None)
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) == len(sel.ranked)
    # sorted by the share of draws each design is first in
    shares = [d.p_first for d in odds.designs]
    assert shares == sorted(shares, reverse=True)
    # the parameters vary: no design costs the same in every draw
    assert all(d.cost_low < d.cost_high for d in odds.designs if np.isfinite(d.cost_median))
    with pytest.raises(ValueError, match="at least 1"):
        selection_odds(space, sel, 0)


def test_select_command_says_how_sure_the_ranking_is(tmp_path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["select", str(SMALL), "--samples", "8", "--no-robustness"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "how sure is the ranking? (8 draws of the uncertain parameters, seed 1" in text
    assert "the first choice meets every constraint in" in text and "what decides between #1 and #2?" in text
    report = tmp_path / "sel.html"
    res = runner.invoke(
        app,
        ["select", str(SMALL), "--json", "--samples", "8", "--seed", "3", "--no-robustness", "--report", str(report)],
    )
    d = json.loads(res.output)["uncertainty"]
    assert d["samples"] == 8 and d["seed"] == 3
    assert sum(x["p_first"] for x in d["designs"]) + d["p_none_feasible"] == pytest.approx(1.0)
    html = report.read_text()
    assert "How sure is the ranking?" in html and 'id="fig-odds"' in html
    assert "What decides between #1 and #2?" in html
    d = json.loads(runner.invoke(app, ["select", str(SMALL), "--json", "--samples", "0", "--no-robustness"]).output)
    assert d["uncertainty"] is None and d["what_decides"] is None


def is_flagged_assumption(contest, name: str) -> bool:
    return next(d.assumption for d in contest.deciders if d.name == name)


def test_what_decides_between_the_first_two_is_the_rank_correlation_with_their_cost_ratio() -> None:
    """Each listed parameter's rho is scipy's Spearman correlation of its draws with log(cost #1 / cost #2),
    recomputed from the two designs run alone (a draw in which a design breaks a constraint makes it
    infinitely dear); only correlations above the Bonferroni level are listed, largest first; and for the
    small lab, where #1 is a stirred tank with ultracentrifugation, a higher stirred-tank secretion effect
    and a higher pellet recovery favour #1."""
    from scipy.stats import norm, spearmanr

    from exoforge.analysis.selection_contest import bonferroni_threshold, what_decides

    space = load_space(SMALL)
    sel = select(space)
    contest = what_decides(space, sel, samples=512, seed=2)
    assert contest is not None and sel.best is not None and contest.first == sel.best.design.label
    first, second = sel.ranked[0], sel.ranked[1]
    alone = _alone(space, sel, 512, seed=2)
    cost = {}
    for o in (first, second):
        feasible, k = alone[o.design.label]
        cost[o.design.label] = np.where(feasible, k["cost.per_dose_supplied"], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(cost[first.design.label]) - np.log(cost[second.design.label])
    ok = ~np.isnan(y)
    assert contest.compared == ok.sum()
    assert contest.p_first_cheaper == pytest.approx(float(np.mean(y[ok] < 0)))
    assert first.design.scenario is not None
    ps = parameters_for(first.design.scenario).params
    values = design_batch(ps, 512, 2).values
    assert contest.deciders, "the stirred tank's own secretion effect decides against the stacks"
    rhos = [abs(d.rho) for d in contest.deciders]
    assert rhos == sorted(rhos, reverse=True) and min(rhos) > contest.threshold
    for d in contest.deciders:
        if d.name in values:
            x = np.asarray(values[d.name])[1:][ok]
            assert d.rho == pytest.approx(spearmanr(x, y[ok]).statistic, abs=1e-9), d.name
    for d in contest.deciders:  # a stated assumption is flagged as one
        if d.name in ps.params:
            assert d.assumption == ps[d.name].is_assumption
    assert not is_flagged_assumption(contest, "platform.stirred_tank.ev_secretion")  # pooled from the evidence
    signs = {d.name: d.rho for d in contest.deciders}
    assert signs["platform.stirred_tank.ev_secretion"] < 0
    assert signs.get("ultracentrifugation.pellet_recovery", -1.0) < 0
    assert bonferroni_threshold(300, 513) == pytest.approx(norm.ppf(1 - 0.05 / 600) / np.sqrt(512))
    assert json.loads(json.dumps(contest.to_json()))["deciders"][0]["parameter"] == contest.deciders[0].name


def test_a_design_the_model_cannot_run_on_the_draws_loses_every_contest(monkeypatch) -> None:
    from exoforge.analysis import selection_contest
    from exoforge.simulation import evaluate

    space = load_space(SMALL)
    sel = select(space)
    first = sel.ranked[0].design.scenario

    def fails_first(scn, batch):
        if scn is first:
            raise ArithmeticError("cannot")
        return evaluate(scn, batch)

    monkeypatch.setattr(selection_contest, "evaluate", fails_first)
    contest = selection_contest.what_decides(space, sel, samples=32)
    assert contest is not None and contest.p_first_cheaper == 0.0 and contest.deciders == ()


def test_a_contest_without_any_draw_to_compare_says_so() -> None:
    import math

    from rich.console import Console

    from exoforge.analysis.selection_contest import Contest
    from exoforge.report.selection_report import print_contest

    console = Console(record=True, width=80)
    print_contest(Contest("a", "b", 8, 1, 0, math.nan, math.nan, 0.5, ()), console)
    text = " ".join(console.export_text().split())
    assert "in none of them does either meet every constraint" in text
    assert "nan" not in text and "many small things" not in text
