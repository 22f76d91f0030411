"""What to measure first: assumptions ranked over many scenarios by the runs they move."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis.assumption_ranking import rank_assumptions
from exoforge.cli import app
from exoforge.simulation import DRIVER_THRESHOLD
from tests.conftest import ROOT

EX = ROOT / "examples"
FILES = ("stirred_tank_tff_sec.yaml", "planar_10layer_uc.yaml", "platform_hollow_fiber.yaml")


def test_the_ranking_collects_each_runs_own_assumptions() -> None:
    """Each row counts, over the scenarios, what their runs say of that assumption; rows that move more
    runs come first, then larger changes."""
    scenarios = [(f, xf.load_scenario(EX / f)) for f in FILES]
    ranked = rank_assumptions(scenarios)
    runs = {label: {a["name"]: a for a in xf.simulate(scn).assumptions} for label, scn in scenarios}
    assert ranked and len({r.name for r in ranked}) == len(ranked)
    for r in ranked:
        seen = {label: a[r.name] for label, a in runs.items() if r.name in a}
        effects = {label: a["max_relative_effect"] for label, a in seen.items()}
        assert r.read_by == len(seen)
        assert r.drives == sum(e > DRIVER_THRESHOLD for e in effects.values())
        assert r.largest == pytest.approx(max(effects.values())) and effects[r.largest_in] == r.largest
        assert set(r.values) == {a["value"] for a in seen.values()}
        assert r.reason and all(a["reason"] == r.reason for a in seen.values())
    keys = [(-r.drives, -r.largest) for r in ranked]
    assert keys == sorted(keys)
    # the baseline secretion rate, an order-of-magnitude assumption, moves every run
    top = ranked[0]
    assert top.name == "ev_secretion_rate" and top.drives == len(FILES)


def test_gaps_command_skips_selection_and_design_spaces_and_refuses_bad_files(tmp_path) -> None:
    runner = CliRunner()
    files = [str(EX / f) for f in FILES] + [str(EX / "select_small_lab.yaml"), str(EX / "space_clinical_cost.yaml")]
    out = runner.invoke(app, ["evidence", "gaps", *files, "--top", "3"])
    assert out.exit_code == 0, out.output
    assert "what to measure first" in out.output and "ev_secretion_rate" in out.output
    assert "not scenarios, left out: select_small_lab.yaml, space_clinical_cost.yaml" in out.output
    d = json.loads(runner.invoke(app, ["evidence", "gaps", *files, "--json"]).output)
    assert d[0]["name"] == "ev_secretion_rate" and d[0]["drives"] == 3 and d[0]["reason"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\ncell_source: bm_msc\n")
    res = runner.invoke(app, ["evidence", "gaps", str(bad)])
    assert res.exit_code == 2 and "expansion: required key is missing" in res.output
    res = runner.invoke(app, ["evidence", "gaps", str(EX / "select_small_lab.yaml")])
    assert res.exit_code == 2 and "no scenario among the files given" in res.output
