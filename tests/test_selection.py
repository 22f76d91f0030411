"""Technology selection: exhaustive, equal to brute force, every rejection explained."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from typing import Any

import pytest

import exoforge as xf
from exoforge.analysis.ranking import tie_band_order
from exoforge.analysis.selection import (
    SelectionSpace,
    enumerate_designs,
    load_space,
    select,
)
from exoforge.analysis.selection_demand import demand_curves
from exoforge.scenario import ScenarioError
from tests.conftest import ROOT

SMALL = ROOT / "examples" / "select_small_lab.yaml"
GRADES = ("impure", "low", "intermediate", "high")


def brute_force(space: SelectionSpace):
    """Every design built and simulated on its own with the public API, then filtered and sorted."""
    feasible: list[Any] = []
    rejected: list[Any] = []
    for plat in space.platforms:
        for scale in plat.scales:
            for tr in space.trains:
                data = copy.deepcopy(space.base_mapping)
                data["expansion"] = {**plat.expansion, **scale}
                data["isolation"] = tr.isolation
                data["demand"] = space.demand.model_dump(exclude_none=True)
                key = (plat.label, tuple(scale.items()), tr.label)
                try:
                    d = xf.simulate(xf.parse_scenario(data)).to_json()
                except (ScenarioError, ValueError, KeyError) as exc:
                    rejected.append((key, [str(exc)]))
                    continue
                why = []
                c = space.constraints
                if c.checks_pass:
                    why += [ch["name"] for ch in d["checks"] if not ch["ok"]]
                if d["doses_released_per_batch"] < 1:
                    why.append("lot")
                elif c.max_lines is not None and d["lines_needed"] > c.max_lines:
                    why.append("lines")
                if c.max_batch_days is not None and d["batch_days"] > c.max_batch_days:
                    why.append("days")
                if d["ev"]["purity_grade"] < GRADES.index(c.min_purity_grade):
                    why.append("purity")
                tie = (d["overproduction_fraction"], d["cost"]["per_dose"])
                (rejected if why else feasible).append((key, why or (d["cost"]["per_dose_supplied"], tie)))
    # the documented rule: cost per dose supplied, near-ties (1 %) by over-production, then cost per dose
    order = tie_band_order([c for _, (c, _) in feasible], [[t[j] for _, (_, t) in feasible] for j in range(2)])
    return [(feasible[i][0], feasible[i][1][0]) for i in order], rejected


def _key(outcome):
    return (outcome.design.platform, tuple(outcome.design.scale.items()), outcome.design.train)


def test_selection_equals_brute_force_on_a_small_space() -> None:
    space = load_space(SMALL)
    sel = select(space)
    feasible, rejected = brute_force(space)
    assert len(sel.outcomes) == len(feasible) + len(rejected) == 2 * 2 * 2
    assert [_key(o) for o in sel.ranked] == [k for k, _ in feasible]
    for o, (_, cost) in zip(sel.ranked, feasible, strict=True):
        assert o.kpis["cost.per_dose_supplied"] == pytest.approx(cost, rel=1e-9)
    assert {_key(o) for o in sel.rejected} == {k for k, _ in rejected}
    assert sel.ranked and sel.rejected  # the space exercises both outcomes


def test_every_rejected_design_says_why() -> None:
    sel = select(load_space(SMALL))
    _, rejected = brute_force(load_space(SMALL))
    expected = dict(rejected)
    for o in sel.rejected:
        assert o.reasons, o.design.label
        for name in expected[_key(o)]:
            if name not in ("lot", "lines", "days", "purity"):
                assert any(name in r for r in o.reasons), (name, o.reasons)
        assert all(isinstance(r, str) and len(r) > 10 for r in o.reasons)
    assert all(o.reasons == () and o.rank for o in sel.ranked)


def test_invalid_designs_and_unsimulable_cultures_are_rejected_with_the_problem() -> None:
    raw = xf.scenario.read_mapping(SMALL)
    raw["platforms"][1]["scales"] = [{"working_volume_l": 3, "area_cm2": 175}]
    raw["base"] = str(ROOT / "examples" / "planar_10layer_uc.yaml")
    path = ROOT / "tests" / "_tmp_select_invalid.yaml"
    path.write_text(json.dumps(raw))
    try:
        sel = select(load_space(path))
    finally:
        path.unlink()
    bad = [o for o in sel.rejected if o.design.platform.startswith("stirred")]
    assert bad and all("invalid scenario" in o.reasons[0] and "area_cm2" in o.reasons[0] for o in bad)


def test_a_broken_space_gets_one_line_per_problem(tmp_path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("selection_version: 1\nname: x\nbase: nowhere.yaml\ndemand: {doses_per_year: -1}\nplatforms: []\n")
    with pytest.raises(ScenarioError) as exc:
        load_space(p)
    text = "\n".join(exc.value.problems)
    assert "demand.doses_per_year" in text and "platforms" in text and "trains" in text


def test_lot_size_and_lines_drive_feasibility() -> None:
    space = load_space(SMALL)
    loose = space.model_copy(update={"demand": space.demand.model_copy(update={"lot_size_doses": None})})
    assert len(select(loose).ranked) >= len(select(space).ranked)
    huge = space.demand.model_copy(update={"doses_per_year": 1e7})
    assert all(any("parallel lines" in r or "less than" in r for r in o.reasons) for o in select(space, huge).outcomes)


def test_cost_per_dose_against_demand_falls_for_a_dedicated_line() -> None:
    curves = demand_curves(load_space(SMALL), [50, 200])
    assert curves
    pairs = [c for c in curves if not c.facility_use]
    some = [c for c in pairs if all(math.isfinite(v) for v in c.cost_per_dose)]
    assert some, "at least one technology pair is feasible at both demands"
    for c in some:
        assert c.cost_per_dose[1] < c.cost_per_dose[0]
    by_use = {c.facility_use: c for c in curves if c.facility_use}
    assert set(by_use) == {"dedicated", "shared", "campaign", "cdmo"}
    for level in range(2):  # a line paid all year never beats paying for the days a batch uses
        assert by_use["shared"].cost_per_dose[level] <= by_use["dedicated"].cost_per_dose[level]


def test_selection_costs_every_facility_use_and_names_the_cheapest() -> None:
    sel = select(load_space(SMALL))
    for o in sel.ranked:
        uses = o.by_facility_use
        assert set(uses) == {"dedicated", "shared", "campaign", "cdmo"}
        assert uses["dedicated"] == pytest.approx(o.kpis["cost.per_dose_supplied"], rel=1e-12)  # the space's use
        assert o.cheapest_use == min(uses, key=lambda u: uses[u])
    best = sel.best_by_facility_use()
    assert sel.cheapest_use == min((u for u in best if best[u]), key=lambda u: best[u][1])  # type: ignore[index]
    d = sel.to_json()
    assert d["cheapest_facility_use"] == sel.cheapest_use and d["best_by_facility_use"]["cdmo"]["label"]


def test_designs_enumerate_platform_scale_train() -> None:
    space = load_space(SMALL)
    labels = [d.label for d in enumerate_designs(space)]
    assert len(labels) == len(set(labels)) == 8


def test_select_command_prints_json_and_writes_a_report(tmp_path) -> None:
    report = tmp_path / "sel.html"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "exoforge.cli",
            "select",
            str(SMALL),
            "--json",
            "--demands",
            "50,200",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    d = json.loads(out.stdout)
    assert d["designs"] == 8 and d["feasible"] == len(d["ranked"])
    assert all(r["reasons"] for r in d["rejected"])
    assert d["demand_curves"] and d["ranked"][0]["rank"] == 1
    html = report.read_text()
    assert "plotly-graph-div" in html and "Rejected designs" in html and "How the line is used" in html


def test_a_study_left_out_reaches_every_design_and_is_recorded() -> None:
    """select --exclude-ref: each design costs as `simulate(..., exclude_refs=...)` of its scenario, the
    stirred tank's secretion effect (pooled with Kronstadt's 40-80-fold preprint) falls, and the
    selection says what it left out."""
    space = load_space(SMALL)
    ref = "10.1101/2022.08.30.505860"
    full, without = select(space), select(space, exclude_refs=[ref.upper()])
    assert without.exclude_refs == (ref,) and without.to_json()["left_out"] == [ref]
    assert full.exclude_refs == ()
    for o in without.outcomes:
        if o.design.scenario is None or not o.kpis:
            continue
        d = xf.simulate(o.design.scenario, exclude_refs=(ref,)).to_json()
        assert o.kpis["cost.per_dose"] == pytest.approx(d["cost"]["per_dose"], rel=1e-9)
        assert o.kpis["doses_per_batch"] == pytest.approx(d["doses_per_batch"], rel=1e-9)
    tank = [
        (a, b)
        for a in full.outcomes
        for b in without.outcomes
        if a.kpis
        and b.kpis
        and a.design.platform == b.design.platform == "stirred tank on microcarriers"
        and _key(a) == _key(b)
    ]
    assert tank and all(b.kpis["doses_per_batch"] < a.kpis["doses_per_batch"] for a, b in tank)


def test_the_first_choice_is_ranked_again_without_each_study_it_leans_on() -> None:
    """selection_robustness: each study tested moves an effect of the first choice by 5 % or more, and
    its row is what `select(..., exclude_refs=...)` gives: the new first choice and the old one's rank."""
    from exoforge.analysis.selection_robustness import robustness
    from exoforge.evidence.influence import MAX_STUDIES_TESTED, study_influence

    for path in (SMALL, ROOT / "examples" / "select_clinical_supply.yaml"):
        space = load_space(path)
        sel = select(space)
        assert sel.best is not None
        rows = robustness(space, sel)
        assert 0 < len(rows) <= MAX_STUDIES_TESTED and len({r.ref for r in rows}) == len(rows)
        changes = [abs(math.log(r.effect_ratio)) for r in rows]
        assert changes == sorted(changes, reverse=True) and min(changes) >= math.log(1.05)
        for r in rows:
            assert any(i.ref == r.ref and i.ratio == r.effect_ratio for i in study_influence(r.strategy))
            again = select(space, exclude_refs=(r.ref,))
            assert again.best is not None and r.best_without == again.best.design.label
            before = next(o for o in again.outcomes if o.design.label == sel.best.design.label)
            assert r.original_rank_without == (before.rank if before.feasible else None)
            assert r.same_best == (again.best.design.label == sel.best.design.label)
            assert r.original_reasons_without == (() if before.feasible else before.reasons)


def test_select_command_says_whether_the_choice_rests_on_one_study(tmp_path) -> None:
    from typer.testing import CliRunner

    from exoforge.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["select", str(SMALL)])
    assert out.exit_code == 0, out.output
    assert "does the choice rest on one study?" in out.output and "without Kronstadt SM 2022" in out.output
    report = tmp_path / "sel.html"
    d = json.loads(runner.invoke(app, ["select", str(SMALL), "--json", "--report", str(report)]).output)
    assert d["robustness"] and d["robustness"][0]["preprint"] is True
    assert "Does the choice rest on one study?" in report.read_text()
    d = json.loads(runner.invoke(app, ["select", str(SMALL), "--json", "--no-robustness"]).output)
    assert d["robustness"] == []
    ref = "10.1101/2022.08.30.505860"
    out = runner.invoke(app, ["select", str(SMALL), "--exclude-ref", ref, "--report", str(report), "--no-robustness"])
    assert out.exit_code == 0 and f"left out of the evidence: {ref}" in report.read_text()
