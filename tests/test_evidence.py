"""Evidence base: schema validity, pooling against statsmodels and a published REML example,
and leave-one-study-out through --exclude-ref."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from statsmodels.stats.meta_analysis import combine_effects
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.evidence.effects import fold_change_records, imputed_se, study_effects
from exoforge.evidence.pooling import leave_one_out, pool
from exoforge.evidence.store import load_records, load_strategies, validate_files
from exoforge.simulation import parameters_for
from tests.conftest import ROOT

runner = CliRunner()

# BCG vaccine trials (Colditz et al. 1994, JAMA 271:698, PMID 8309034), the standard
# meta-analysis example: tpos, tneg, cpos, cneg per trial.
BCG = [
    (4, 119, 11, 128),
    (6, 300, 29, 274),
    (3, 228, 11, 209),
    (62, 13536, 248, 12619),
    (33, 5036, 47, 5761),
    (180, 1361, 372, 1079),
    (8, 2537, 10, 619),
    (505, 87886, 499, 87892),
    (29, 7470, 45, 7232),
    (17, 1699, 65, 1600),
    (186, 50448, 141, 27197),
    (5, 2493, 3, 2338),
    (27, 16886, 29, 17825),
]


def _bcg() -> tuple[np.ndarray, np.ndarray]:
    a, b, c, d = (np.array(col, float) for col in zip(*BCG, strict=True))
    y = np.log((a / (a + b)) / (c / (c + d)))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return y, v


def test_shipped_evidence_validates() -> None:
    records, problems = validate_files()
    assert problems == []
    assert len(records) >= 100
    for r in records:
        assert r.reference.doi or r.reference.pmid
        assert len(r.record.location) >= 3


def test_validate_command() -> None:
    result = runner.invoke(app, ["evidence", "validate"])
    assert result.exit_code == 0, result.output
    assert "records" in result.output


def test_validate_names_file_and_record(tmp_path) -> None:
    import shutil

    data = ROOT / "src" / "exoforge" / "evidence" / "data"
    shutil.copy(data / "strategies.yaml", tmp_path / "strategies.yaml")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "bad.yaml").write_text(
        "reference: {doi: 10.1000/x, first_author: A, year: 2020, journal: J}\n"
        "records:\n  - {id: r1, location: Abstract, cell_source: bm_msc, platform: planar, medium: fbs,"
        " strategy: hypoxia, category: culture_condition, metric: m, basis: per_cell, unit: '1'}\n"
        "  - {id: r2, location: Abstract, cell_source: bm_msc, platform: planar, medium: fbs,"
        " strategy: nonexistent, category: culture_condition, metric: m, basis: per_cell, fold_change: 2, unit: '1'}\n"
    )
    _, problems = validate_files(tmp_path)
    assert any("bad.yaml record r1" in p for p in problems)
    assert any("bad.yaml record r2" in p and "nonexistent" in p for p in problems)


def test_same_comparison_as_names_a_record_of_the_same_reference_with_arms(tmp_path) -> None:
    import shutil

    data = ROOT / "src" / "exoforge" / "evidence" / "data"
    shutil.copy(data / "strategies.yaml", tmp_path / "strategies.yaml")
    shutil.copy(data / "study_arms.yaml", tmp_path / "study_arms.yaml")
    (tmp_path / "records").mkdir()
    arms = "arms: {treated: {platform: spheroid}, control: {platform: planar}}"
    rec = (
        "  - {{id: {rid}, location: Abstract, cell_source: bm_msc, platform: spheroid, medium: fbs, strategy: spheroid,"
        " category: dynamic_3d_culture, metric: m, basis: other, fold_change: 2, unit: '1', {extra}}}\n"
    )
    (tmp_path / "records" / "a.yaml").write_text(
        "reference: {doi: 10.1000/a, first_author: A, year: 2020, journal: J}\nrecords:\n"
        + rec.format(rid="a1", extra=arms)
        + rec.format(rid="a2", extra=f"{arms}, same_comparison_as: a1")
        + rec.format(rid="a3", extra=f"{arms}, same_comparison_as: nowhere")
        + rec.format(rid="a4", extra=f"{arms}, same_comparison_as: a2")
    )
    (tmp_path / "records" / "b.yaml").write_text(
        "reference: {doi: 10.1000/b, first_author: B, year: 2021, journal: J}\nrecords:\n"
        + rec.format(rid="b1", extra=f"{arms}, same_comparison_as: a1")
        + rec.format(rid="b2", extra="same_comparison_as: a1")
    )
    _, problems = validate_files(tmp_path)
    text = "\n".join(problems)
    assert "record a2" not in text  # a record of the same reference that describes the arms
    assert "a.yaml record a3: same_comparison_as 'nowhere': no such record" in text
    assert "a.yaml record a4: same_comparison_as 'a2': name the record that describes" in text
    assert "b.yaml record b1: same_comparison_as 'a1': that record is of another reference (10.1000/a)" in text
    assert "b.yaml record b2: (record): Value error, same_comparison_as belongs to a fold-change record" in text


@pytest.mark.parametrize(("method", "sm"), [("dl", "dl"), ("pm", "iterated")])
def test_pooling_equals_statsmodels_on_bcg(method: str, sm: str) -> None:
    y, v = _bcg()
    ours = pool(y, v, method)  # type: ignore[arg-type]
    ref = combine_effects(y, v, method_re=sm)
    assert ours.tau2 == pytest.approx(ref.tau2, abs=1e-6)
    assert ours.mu == pytest.approx(ref.mean_effect_re, abs=1e-6)
    assert ours.se == pytest.approx(ref.sd_eff_w_re, abs=1e-6)
    assert ours.q == pytest.approx(ref.q, abs=1e-6)
    assert ours.i2 == pytest.approx(ref.i2, abs=1e-6)


def test_reml_matches_direct_maximisation_and_published_value() -> None:
    y, v = _bcg()
    ours = pool(y, v, "reml")

    def neg_restricted_loglik(t2: float) -> float:
        w = 1 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + t2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    best = minimize_scalar(neg_restricted_loglik, bounds=(0, 5), method="bounded", options={"xatol": 1e-12})
    assert ours.tau2 == pytest.approx(best.x, abs=1e-6)
    # published REML estimate for these data: tau^2 = 0.3132, mu = -0.7145 (metafor documentation)
    assert ours.tau2 == pytest.approx(0.3132, abs=5e-4)
    assert ours.mu == pytest.approx(-0.7145, abs=5e-4)
    assert ours.pi_low < ours.ci_low < ours.mu < ours.ci_high < ours.pi_high


def _strategies_with_k(kmin: int) -> list[tuple[str, str]]:
    out = []
    recs = list(load_records())
    se_imp = imputed_se(recs)
    for s in load_strategies():
        for basis in ("per_cell", "per_volume", "per_run", "recovery", "per_protein"):
            studies = study_effects(
                [r for r in fold_change_records(recs, s.id, basis) if r.record.cell_source != "non_msc"], se_imp
            )
            if len(studies) >= kmin:
                out.append((s.id, basis))
    return out


@pytest.mark.parametrize(("strategy", "basis"), _strategies_with_k(2))
def test_every_pooled_strategy_equals_statsmodels(strategy: str, basis: str) -> None:
    recs = [r for r in fold_change_records(list(load_records()), strategy, basis) if r.record.cell_source != "non_msc"]
    studies = study_effects(recs, imputed_se(list(load_records())))
    y = np.array([s.y for s in studies])
    v = np.array([s.v for s in studies])
    ref = combine_effects(y, v, method_re="dl")
    ours = pool(y, v, "dl")
    assert ours.tau2 == pytest.approx(ref.tau2, abs=1e-6)
    assert ours.mu == pytest.approx(ref.mean_effect_re, abs=1e-6)
    assert len(leave_one_out(y, v)) == len(y)


def _doi_used_by(result_json: dict) -> set[str]:
    return {c["doi"] for c in result_json["citations"] if c.get("doi")}


def test_exclude_ref_changes_a_run_only_when_the_reference_is_used() -> None:
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    plain = xf.simulate(scn).to_json()
    used = sorted(_doi_used_by(plain))
    assert used
    ps = parameters_for(scn).params
    for doi in used:
        excl = xf.simulate(scn, exclude_refs=[doi]).to_json()
        assert doi not in _doi_used_by(excl)
        assert excl["excluded_refs"] == [doi]
        assert excl["removed_by_exclusion"], doi
        assert json.dumps(plain) != json.dumps(excl)
        # numbers move whenever another estimate, a re-pooling or a fallback can replace the study
        replaceable = [
            p
            for p in ps.values()
            if doi in {e.ref for e in p.estimates}
            and (len({e.ref for e in p.estimates}) > 1 or p.fallback or p.combine == "pooled")
        ]
        if replaceable:
            assert json.dumps(plain["ev"]) + json.dumps(plain["cost"]) + json.dumps(plain["checks"]) != (
                json.dumps(excl["ev"]) + json.dumps(excl["cost"]) + json.dumps(excl["checks"])
            ), doi
    unused = "10.1000/not-a-reference-of-this-run"
    other = xf.simulate(scn, exclude_refs=[unused]).to_json()
    assert json.dumps(plain) == json.dumps(other)


def test_parameters_report_removed_estimates() -> None:
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    ps = parameters_for(scn, ["10.1089/ten.tea.2008.0345"]).params
    assert any("glucose_uptake_rate" in r for r in ps.removed)


def test_pool_command_json_and_plot(tmp_path) -> None:
    out = tmp_path / "forest.png"
    result = runner.invoke(app, ["evidence", "pool", "microcarrier_stirred", "--json", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["k"] >= 1 and d["pooled"]["fold"] > 1
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pool_unknown_strategy_is_reported() -> None:
    result = runner.invoke(app, ["evidence", "pool", "hypoxa"])
    assert result.exit_code == 2
    assert "did you mean 'hypoxia'" in result.stderr


def test_pool_with_nothing_to_plot_is_reported(tmp_path) -> None:
    result = runner.invoke(app, ["evidence", "pool", "heat_stress", "--plot", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "nothing to plot" in result.stderr


def test_meta_analysis_subgroups_and_leave_one_out() -> None:
    meta = xf.meta_analysis("spheroid", basis="other", include_non_msc=True)
    assert meta.k >= 2
    assert len(meta.leave_one_out) == meta.k
    assert all(lo.pooled.k == meta.k - 1 for lo in meta.leave_one_out)
    # the combined spheroid + priming record measures the combination and is not pooled
    assert all("9.4x" not in rid for s in meta.studies for rid in s.record_ids)


def test_combination_warning_uses_combined_records() -> None:
    from exoforge.evidence.effects import combination_tested

    assert combination_tested(["spheroid", "tnfa_ifng_priming"])
    assert not combination_tested(["hypoxia", "heat_stress"])


def test_list_json_and_filters() -> None:
    result = runner.invoke(app, ["evidence", "list", "--category", "isolation", "--json"])
    rows = json.loads(result.output)
    assert rows and all(r["category"] == "isolation" for r in rows)
    for r in rows:
        assert {"id", "strategy", "category", "metric", "basis"} <= set(r)
        assert r.get("doi") or r.get("pmid")
        # the documented keys are always there; value is the figure, the fold-change, or null
        assert "value" in r
        kind = r["value_kind"]
        if kind == "fold_change":
            assert r["value"] == r["fold_change"] > 0
        elif kind == "direction_only":
            assert r["value"] is None and r["direction_only"]
        else:
            assert isinstance(r["value"], float | int)


def test_coverage_says_when_a_family_has_no_msc_figure() -> None:
    from exoforge.evidence.coverage import coverage

    cov = coverage()
    assert cov["references"] >= 40 and cov["records"] >= 100
    assert set(cov["families"]) >= {"biogenesis_engineering", "culture_condition", "dynamic_3d_culture", "isolation"}
    for row in cov["strategies"]:
        assert row["msc_figure"] or row["note"].startswith(("no MSC figure", "no record"))


@pytest.mark.parametrize("fmt", ["text", "bibtex", "ris"])
def test_cite_lists_only_what_a_run_used(fmt: str) -> None:
    path = ROOT / "examples" / "planar_10layer_uc.yaml"
    result = runner.invoke(app, ["evidence", "cite", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    used = {c["ref"] for c in xf.simulate(xf.load_scenario(path)).citations}
    for ref in used:
        if ref.startswith("10."):
            assert ref in result.output.lower()
    # a reference of the evidence base this run does not use is not cited
    assert "10.3934/bioeng.2023016" not in result.output
    if fmt == "bibtex":
        assert result.output.count("@article{") == len(used)
    if fmt == "ris":
        assert result.output.count("ER  - ") == len(used)


def test_a_run_cites_the_dois_its_assumptions_name() -> None:
    """A judgement that leans on papers (platelet lysate's growth increment) lists them, marked as such."""
    from exoforge.parameters import assumption_dois

    text = "x (Pochampally 2004, doi:10.1182/blood-2003-06-1967, direction only); see doi:10.1000/ab12."
    assert assumption_dois(text) == ["10.1182/blood-2003-06-1967", "10.1000/ab12"]
    result = xf.simulate(xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml"))  # platelet lysate
    valim = next(c for c in result.citations if c["ref"] == "10.4236/cellbio.2014.31003")
    assert valim["used_for"] == ["growth_increment.hpl"] and "named in its assumption" in valim["locations"][0]
    assert valim["label"] == "Valim V 2014, CellBio"  # known from the parameter files' reference list
    fbs = xf.simulate(xf.load_scenario(ROOT / "examples" / "planar_10layer_uc.yaml"))  # FBS: no increment read
    assert all(c["ref"] != "10.4236/cellbio.2014.31003" for c in fbs.citations)
    # excluding the paper leaves the judgement standing, less sure, and no longer citing it
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    ps = parameters_for(scn).params
    excluded = parameters_for(scn, exclude_refs=["10.4236/cellbio.2014.31003"]).params
    before, after = ps["growth_increment.hpl"], excluded["growth_increment.hpl"]
    assert (
        after.value == before.value
        and after.distribution.interval(after.value)[1] > before.distribution.interval(before.value)[1]
    )
    assert assumption_dois(after.assumption) == [] and "10.4236/cellbio.2014.31003" in excluded.excluded_refs


def test_user_multiplier_for_a_strategy_without_evidence() -> None:
    """Serum deprivation has no comparison of its own in the evidence base: a run says so and draws its
    family's predictive effect, and a user's own multiplier takes its place (and the warning goes)."""
    base = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    base["conditioning"]["strategies"] = ["serum_deprivation"]
    plain = xf.simulate(xf.parse_scenario(base))
    assert any("'serum_deprivation': no comparison in the evidence measures it" in w for w in plain.warnings)
    base["parameters"] = {"strategy.serum_deprivation.ev_secretion": {"value": 1.0, "unit": ""}}
    neutral = xf.simulate(xf.parse_scenario(base))
    base["parameters"] = {"strategy.serum_deprivation.ev_secretion": {"value": 2.0, "unit": ""}}
    given = xf.simulate(xf.parse_scenario(base))
    assert given.kpis["ev.secreted_particles"] == pytest.approx(2.0 * neutral.kpis["ev.secreted_particles"], rel=1e-6)
    assert given.kpis["ev.secreted_particles"] != pytest.approx(plain.kpis["ev.secreted_particles"], rel=1e-3)
    assert not any("'serum_deprivation': no comparison" in w for w in given.warnings)


def test_readme_counts_match_the_shipped_evidence() -> None:
    """The README's evidence table gives the counts that ``evidence coverage`` reports."""
    result = CliRunner().invoke(app, ["evidence", "coverage", "--json"])
    assert result.exit_code == 0, result.output
    cov = json.loads(result.output)
    readme = (ROOT / "README.md").read_text()
    rows = {
        "biogenesis engineering": "biogenesis_engineering",
        "culture conditions": "culture_condition",
        "3D / dynamic culture": "dynamic_3d_culture",
        "isolation": "isolation",
    }
    for label, family in rows.items():
        fam = cov["families"][family]
        expected = (
            f"| {label} | {fam['references']} | {fam['records']} | {fam['strategies']} | "
            f"{len(fam['strategies_without_msc_figure'])} |"
        )
        assert expected in readme, expected
    base = cov["families"]["baseline"]
    assert f"yields) | {base['references']} | {base['records']} |" in readme
    assert f"| **all** | **{cov['references']}** | **{cov['records']}** |" in readme


def test_effects_from_other_cells_are_flagged_and_wider() -> None:
    """A strategy measured only on other cells says so in a run, and its study carries an extra
    (ln 2)² of transfer variance into the pooling (calcium elevation in cancer lines against
    TNF-alpha + IFN-gamma priming of MSCs, one study each)."""
    from exoforge.evidence.emulated import NON_MSC_SD, load_emulated, study_units

    path = ROOT / "examples" / "stirred_tank_tff_sec.yaml"

    def run(strategy: str):
        base = xf.scenario.read_mapping(path)
        base["conditioning"]["strategies"] = [strategy]
        return xf.simulate(xf.parse_scenario(base))

    calcium, priming = run("calcium_ionophore"), run("tnfa_ifng_priming")
    assert any("'calcium_ionophore': measured only on non-MSC cells" in w for w in calcium.warnings)
    assert not any("'tnfa_ifng_priming': measured only on non-MSC" in w for w in priming.warnings)
    units = {u.strategy: u for u in study_units()}
    records = {e.strategy: e for e in load_emulated() if not e.combined_with}
    ca = records["calcium_ionophore"]
    assert units["calcium_ionophore"].v == pytest.approx(ca.record_var + ca.emulation_sd**2 + NON_MSC_SD**2)
    ti = records["tnfa_ifng_priming"]
    assert units["tnfa_ifng_priming"].v == pytest.approx(ti.record_var + ti.emulation_sd**2)
    plain = xf.simulate(xf.parse_scenario(xf.scenario.read_mapping(path)))
    assert calcium.kpis["ev.secreted_particles"] > plain.kpis["ev.secreted_particles"]


def test_pool_takes_the_basis_that_has_numbers() -> None:
    """A strategy without numbers on its default basis: `evidence pool` pools the basis that has them
    (and a plot of it works, as the README shows); one with none says where to look."""
    from exoforge.evidence.meta import numeric_bases

    assert numeric_bases("hypoxia") == {"other": {"msc": 2, "non_msc": 1}}
    assert numeric_bases("serum_deprivation") == {}
    result = CliRunner().invoke(app, ["evidence", "pool", "hypoxia", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    # the MSC studies (Salomon 2013, Almeria 2019) are pooled, the non-MSC one (Dougherty 2020) left out
    assert d["basis"] == "other" and d["k"] == 2
    result = CliRunner().invoke(app, ["evidence", "pool", "serum_deprivation"])
    assert result.exit_code == 0 and "evidence list --strategy serum_deprivation" in result.output
