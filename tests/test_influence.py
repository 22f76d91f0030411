"""What a pooled effect rests on: each study of its family left out in turn."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from exoforge.evidence.emulated import family_map
from exoforge.evidence.hierarchy import fitted, pooled_posterior
from exoforge.evidence.influence import preprint_refs, study_influence
from exoforge.evidence.schema import Reference

runner = CliRunner()
KRONSTADT = "10.1101/2022.08.30.505860"


def test_a_preprint_is_known_by_its_server() -> None:
    assert Reference(doi=KRONSTADT, first_author="A", year=2022, journal="bioRxiv").preprint
    assert Reference(doi="10.1101/gad.1", first_author="A", year=2022, journal="Genes Dev").preprint is False
    assert preprint_refs() == {KRONSTADT}


def test_each_family_study_left_out_is_the_refitted_hierarchy() -> None:
    rows = study_influence("microcarrier_stirred")
    family = family_map()["microcarrier_stirred"]
    assert {r.ref for r in rows} == {u.ref for u in fitted().units if u.family == family}
    with_all = pooled_posterior("microcarrier_stirred").median
    for row in rows:
        without = pooled_posterior("microcarrier_stirred", (row.ref,)).median
        assert row.median_without == pytest.approx(without, rel=1e-12)
        assert row.ratio == pytest.approx(without / with_all, rel=1e-12)
    changes = [abs(math.log(r.ratio)) for r in rows]
    assert changes == sorted(changes, reverse=True)
    kronstadt = next(r for r in rows if r.ref == KRONSTADT)
    assert kronstadt.preprint and kronstadt.strategies == ("scaffold_perfusion",)
    assert kronstadt.ratio < 1  # the 40-80-fold preprint pulls the family up
    assert sum(r.preprint for r in rows) == 1


def test_a_null_result_left_out_raises_the_effect_and_excluded_refs_stay_out() -> None:
    rows = study_influence("hypoxia")
    almeria = next(r for r in rows if r.study.startswith("Almeria"))
    assert almeria.ratio > 1
    without_almeria = study_influence("hypoxia", (almeria.ref,))
    assert almeria.ref not in {r.ref for r in without_almeria}
    with pytest.raises(KeyError):
        study_influence("no_such_strategy")


def test_pool_command_says_what_the_effect_rests_on() -> None:
    res = runner.invoke(app, ["evidence", "pool", "microcarrier_stirred"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "what it rests on" in text and "without Kronstadt SM 2022 (scaffold_perfusion; a preprint)" in text
    res = runner.invoke(app, ["evidence", "pool", "microcarrier_stirred", "--json"])
    body = json.loads(res.output)
    assert body["rests_on"][0]["ref"] == KRONSTADT and body["rests_on"][0]["preprint"] is True
    # a strategy that does not act on secretion has no run effect and nothing it rests on
    res = runner.invoke(app, ["evidence", "pool", "cell_immortalisation", "--json"])
    assert res.exit_code == 0 and "rests_on" not in json.loads(res.output)


def test_crossval_without_preprints_leaves_them_out_of_the_evidence_altogether() -> None:
    from exoforge.evidence.crossval import crossval

    full, without = crossval(), crossval((KRONSTADT,))
    assert without.n == full.n - 1
    assert all(not r.record_id.startswith("kronstadt") for r in without.rows)
    # every other comparison is predicted from evidence that no longer holds the preprint
    for row in without.rows:
        before = next(r for r in full.rows if r.record_id == row.record_id)
        if before.strategy in {"microcarrier_stirred", "microcarrier_spinner", "hollow_fiber", "vertical_wheel"}:
            assert row.predicted < before.predicted
    res = runner.invoke(app, ["evidence", "crossval"])
    assert res.exit_code == 0, res.output
    assert f"without the preprint(s) ({KRONSTADT}) in the evidence" in " ".join(res.output.split())
    assert [r.record_id for r in full.rows if r.preprint] == ["kronstadt2022-scaffold-perfusion-40to80x"]
    body = json.loads(runner.invoke(app, ["evidence", "crossval", "--json"]).output)
    assert [r["record"] for r in body["rows"] if r["preprint"]] == ["kronstadt2022-scaffold-perfusion-40to80x"]
    assert body["without_preprints"]["comparisons"] == full.n - 1
    assert body["without_preprints"]["median_abs_log10_error"] == pytest.approx(without.median_log10_error)
