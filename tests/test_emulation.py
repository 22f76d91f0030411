"""Study emulation, partial pooling and the leave-one-study-out check (issue: credible predictions)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from statsmodels.stats.meta_analysis import combine_effects
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis.emulation import (
    arm_scenario_dict,
    comparison_records,
    emulate,
    input_fingerprint,
    load_study_arms,
)
from exoforge.cli import app
from exoforge.evidence.crossval import crossval
from exoforge.evidence.emulated import StudyUnit, load_emulated, load_emulated_document, study_units
from exoforge.evidence.hierarchy import (
    Hierarchy,
    fitted,
    pooled_posterior,
    shared_arm_correlation,
    shared_arm_covariance,
)
from exoforge.evidence.pooling import pool
from exoforge.evidence.store import load_records, load_strategies
from exoforge.run_records import secretion_ceiling
from exoforge.simulation import parameters_for

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_committed_emulations_are_fresh() -> None:
    """emulated_effects.yaml was written from the current records, arms and parameter files."""
    assert load_emulated_document()["fingerprint"] == input_fingerprint(), (
        "inputs changed since emulated_effects.yaml was written: run `exoforge evidence emulate --write`"
    )


def test_every_numeric_comparison_is_emulated_or_says_why_not() -> None:
    emulated = {e.record_id for e in load_emulated()}
    why_not = {d["record"]: d["why"] for d in load_emulated_document()["direction_only"]}
    for rec in comparison_records():
        rid = rec.record.id
        assert rid in emulated or (rid in why_not and len(why_not[rid]) > 20), rid
        if rid in why_not:
            assert rec.record.arms_unknown, rid


def test_a_record_reemulated_matches_the_committed_file() -> None:
    by_id = {r.record.id: r for r in load_records()}
    committed = {e.record_id: e for e in load_emulated()}
    rid = "kink2024-hfbr-vs-flask-per-volume"
    fresh = emulate(by_id[rid])
    assert fresh.log_model_ratio == pytest.approx(committed[rid].log_model_ratio, abs=1e-5)
    assert math.sqrt(fresh.emulation_var) == pytest.approx(committed[rid].emulation_sd, abs=1e-5)


def test_the_model_explains_cell_density_not_per_cell_secretion() -> None:
    """A hollow fibre concentrates cells per mL: the model explains much of a per-volume gain,
    none of a per-cell one; arms of the same cells on one platform explain nothing."""
    by_id = {e.record_id: e for e in load_emulated()}
    per_volume = by_id["kink2024-hfbr-vs-flask-per-volume"]
    assert per_volume.log_model_ratio > math.log(3)
    assert per_volume.log_effect < math.log(per_volume.published)
    per_cell = by_id["barekzai2023-str-1l-csppr-24x"]
    assert abs(per_cell.log_model_ratio) < 0.05
    same = by_id["sung2019-thrombin-gt5x"]
    assert same.log_model_ratio == pytest.approx(0.0, abs=1e-9) and same.emulation_sd == pytest.approx(0.0, abs=1e-9)


def test_unstated_keys_widen_the_emulation() -> None:
    by_id = {e.record_id: e for e in load_emulated()}
    assert by_id["yan2020-hfbr-vs-2d-7.5x"].emulation_sd > by_id["barekzai2023-str-1l-csppr-24x"].emulation_sd
    yan = next(d for d in load_emulated_document()["emulations"] if d["record"] == "yan2020-hfbr-vs-2d-7.5x")
    assert "expansion.seeding.cells" in yan["defaults"]["treated"]


def test_an_arm_for_an_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="no default study arm for platform 'moon_base'"):
        arm_scenario_dict("moon_base", {}, "bm_msc", load_study_arms())


def test_every_secretion_effect_comes_from_its_records_or_its_family() -> None:
    """No platform or strategy acting on secretion runs at 1x by default; each effect is the
    hierarchy's posterior for it (its own emulated studies, or its family's prediction)."""
    catalogue = {s.id: s for s in load_strategies()}
    for s in catalogue.values():
        if s.effect == "platform":
            for platform in s.platforms:
                scn = xf.load_scenario(ROOT / "examples" / f"platform_{platform}.yaml")
                ps = parameters_for(scn).params
                p = ps[f"platform.{platform}.ev_secretion"]
                post = pooled_posterior(s.id)
                assert p.value == pytest.approx(post.median, rel=1e-12)
                assert abs(math.log(p.value)) > 0.1, platform
                own = {e.record_id for e in load_emulated() if e.strategy == s.id and not e.combined_with}
                assert {r for est in p.estimates for r in est.records} == own


def test_a_strategy_without_studies_takes_its_family_prediction() -> None:
    post = pooled_posterior("mechanical_stimulation")
    family = [u for u in study_units() if u.family == "physical_stimulation"]
    assert post.k == 0 and post.k_family == len(family) > 0
    assert post.mean == pytest.approx(post.family_mean, abs=1e-9)
    # wider than a strategy of the same family with a study of its own
    assert post.sigma > pooled_posterior("electrical_stimulation").sigma


def test_shrinkage_moves_a_single_study_toward_its_family() -> None:
    post = pooled_posterior("microcarrier_stirred")
    assert post.k == 1 and post.raw_mean is not None
    assert post.shrinkage is not None and 0.0 < post.shrinkage < 1.0
    assert min(post.raw_mean, post.family_mean) < post.mean < max(post.raw_mean, post.family_mean)


def test_excluding_a_study_repools_a_strategy_with_k_at_least_2() -> None:
    """The pooled strategies with k >= 2 on shipped data: hollow fibre and spheroids."""
    pooled = [s.id for s in load_strategies() if pooled_posterior(s.id).k >= 2]
    assert {"hollow_fiber", "spheroid"} <= set(pooled)
    units = [u for u in study_units() if u.strategy == "hollow_fiber"]
    full = pooled_posterior("hollow_fiber")
    without = pooled_posterior("hollow_fiber", (units[0].ref,))
    assert without.k == full.k - 1
    assert without.mean != pytest.approx(full.mean, abs=1e-6)


@pytest.mark.parametrize("strategy", ["hollow_fiber", "spheroid"])
def test_emulated_studies_pooled_by_dl_equal_statsmodels(strategy: str) -> None:
    units = [u for u in study_units() if u.strategy == strategy]
    assert len(units) >= 2
    y = np.array([u.y for u in units])
    v = np.array([u.v for u in units])
    ref = combine_effects(y, v, method_re="dl")
    ours = pool(y, v, "dl")
    if ref.tau2 > 0:
        assert ours.tau2 == pytest.approx(ref.tau2, abs=1e-6)
        assert ours.mu == pytest.approx(ref.mean_effect_re, abs=1e-6)
    else:
        # statsmodels keeps a negative DL moment estimate (and then weights by it); ours truncates at
        # zero, which makes the random-effects mean the fixed-effect one
        assert ours.tau2 == pytest.approx(0.0, abs=1e-12)
        assert ours.mu == pytest.approx(ref.mean_effect_fe, abs=1e-6)


def _toy_units() -> list[StudyUnit]:
    def u(ref: str, s: str, f: str, y: float, v: float) -> StudyUnit:
        return StudyUnit(ref, ref, s, f, y, v, (ref,), False, False)

    return [
        u("a", "s1", "f1", 1.2, 0.05),
        u("b", "s1", "f1", 0.8, 0.08),
        u("c", "s2", "f1", 1.9, 0.1),
        u("d", "s3", "f2", 0.3, 0.04),
        u("e", "s4", "f2", 0.6, 0.2),
    ]


def test_hierarchy_limits_on_toy_data() -> None:
    fams = {"s1": "f1", "s2": "f1", "s3": "f2", "s4": "f2", "s5": "f2", "s6": "f3"}
    h = Hierarchy(_toy_units(), fams)
    s1, s5, s6 = h.predict("s1"), h.predict("s5"), h.predict("s6")
    assert 0.8 < s1.mean < 1.9  # between its studies and its family
    assert s5.k == 0 and s5.var_new > s1.var_new
    assert s6.k_family == 0 and s6.var_new > s5.var_new  # a family with no study: widest
    empty = Hierarchy([], fams).predict("s1")
    assert empty.mean == pytest.approx(0.0, abs=1e-12)


def _toy_units_sharing_arms() -> list[StudyUnit]:
    """The toy data with study "a" reporting a second comparison against the same control (rule 6),
    and study "d" a third whose control was the treated arm of its first."""
    units = _toy_units()
    a, d = units[0], units[3]
    units[0] = dataclasses.replace(a, arm_errors=(("T1", "C", a.v),))
    units[3] = dataclasses.replace(d, arm_errors=(("T3", "C3", d.v),))
    units.append(StudyUnit("a", "a", "s2", "f1", 1.5, 0.06, ("a2",), False, False, arm_errors=(("T2", "C", 0.06),)))
    units.append(StudyUnit("d", "d", "s4", "f2", 0.9, 0.05, ("d2",), False, False, arm_errors=(("T4", "T3", 0.05),)))
    return units


def test_comparisons_sharing_an_arm_covary() -> None:
    units = _toy_units_sharing_arms()
    c = shared_arm_covariance(units)
    assert c == pytest.approx(c.T)
    assert c[0, 5] == pytest.approx(0.5 * math.sqrt(0.05 * 0.06))  # a common control
    assert c[3, 6] == pytest.approx(-0.5 * math.sqrt(0.04 * 0.05))  # d's second control is its first's treated arm
    assert np.count_nonzero(c) == 4  # units of different studies, or without arms, do not covary
    # their study-level deviations correlate the same way, each arm carrying half of sigma²
    r = shared_arm_correlation(units)
    assert r[0, 5] == pytest.approx(0.5) and r[3, 6] == pytest.approx(-0.5)
    assert np.count_nonzero(r) == 4
    assert np.linalg.eigvalsh(np.eye(len(units)) + r).min() >= 0.0
    # the shipped studies with two comparisons: a common static control (Barekzai 2023), and priming
    # measured on the spheroids of the spheroid comparison (Kim 2022)
    h = fitted()
    pairs = {
        tuple(sorted((h.units[i].strategy, h.units[j].strategy))): h.shared[i, j]
        for i, j in zip(*np.nonzero(h.shared), strict=True)
    }
    assert pairs[("microcarrier_spinner", "microcarrier_stirred")] > 0
    assert pairs[("spheroid", "tnfa_ifng_priming")] < 0


def test_pool_command_names_the_comparisons_that_share_a_culture() -> None:
    res = runner.invoke(app, ["evidence", "pool", "tnfa_ifng_priming"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "shares a culture with spheroid in Kim JY 2022" in text and "covariance -0.045" in text
    assert "study-level correlation -0.5" in text
    res = runner.invoke(app, ["evidence", "pool", "hypoxia"])
    assert res.exit_code == 0 and "shares a culture" not in res.output
    res = runner.invoke(app, ["evidence", "pool", "tnfa_ifng_priming", "--json"])
    effect = json.loads(res.output)["run_effect"]
    assert effect["median"] == pytest.approx(pooled_posterior("tnfa_ifng_priming").median)
    assert effect["shared_arms"][0]["relation"] == "one's control is the other's treated arm"
    assert effect["shared_arms"][0]["study_correlation"] == pytest.approx(-0.5)
    res = runner.invoke(
        app, ["evidence", "pool", "tnfa_ifng_priming", "--json", "--exclude-ref", "10.1186/s40580-022-00349-z"]
    )
    effect = json.loads(res.output)["run_effect"]
    assert effect["k"] == 0 and effect["shared_arms"] == []


def test_effects_of_a_family_correlate_through_its_mean_only_weakly() -> None:
    """The secretion effects of two platforms share their family's pooled mean, so their draws for a new
    process correlate; the selection and the optimiser draw them independently, which the module says is
    close: below 0.2 for every pair of platform effects on the shipped evidence."""
    from exoforge.evidence.store import load_strategies

    h = fitted()
    platforms = [s.id for s in load_strategies() if s.effect == "platform"]
    assert len(platforms) >= 5
    for i, a in enumerate(platforms):
        assert h.predictive_correlation(a, a) == 1.0
        for b in platforms[i + 1 :]:
            r = h.predictive_correlation(a, b)
            assert r == pytest.approx(h.predictive_correlation(b, a), rel=1e-9)
            assert 0.0 < r < 0.2, (a, b, r)
    # strategies of different families share only the overall mean: weaker still
    assert abs(h.predictive_correlation("hypoxia", "microcarrier_stirred")) < h.predictive_correlation(
        "microcarrier_stirred", "microcarrier_spinner"
    )


def test_hierarchy_likelihood_carries_the_shared_arms() -> None:
    """The grid's posterior weights are the model's marginal likelihood with the shared-arm covariance
    of sampling errors and study-level deviations (scipy's multivariate normal at every grid point),
    not that of independent comparisons."""
    units = _toy_units_sharing_arms()
    fams = {"s1": "f1", "s2": "f1", "s3": "f2", "s4": "f2"}
    h = Hierarchy(units, fams)
    y = np.array([u.y for u in units])
    same_s = np.array([[a.strategy == b.strategy for b in units] for a in units], dtype=float)
    same_f = np.array([[fams[a.strategy] == fams[b.strategy] for b in units] for a in units], dtype=float)
    base = np.diag([u.v for u in units]) + shared_arm_covariance(units) + 1.5**2
    study = np.eye(len(units)) + shared_arm_correlation(units)
    logpost = np.array(
        [
            multivariate_normal(np.zeros(len(units)), base + s**2 * study + t**2 * same_s + o**2 * same_f).logpdf(y)
            - 0.5 * (s**2 + t**2 + o**2)
            for s, t, o in zip(h.sigma, h.tau, h.omega, strict=True)
        ]
    )
    w = np.exp(logpost - logpost.max())
    assert h.weights == pytest.approx(w / w.sum(), rel=1e-8, abs=1e-14)
    independent = Hierarchy([dataclasses.replace(u, arm_errors=()) for u in units], fams)
    assert np.abs(independent.weights - h.weights).max() > 1e-4


@pytest.mark.slow
def test_hierarchy_agrees_with_pymc_nuts() -> None:
    """The grid estimator against the same model sampled by NUTS (PyMC), comparisons sharing arms included."""
    pm = pytest.importorskip("pymc")
    units = _toy_units_sharing_arms()
    fams = {"s1": "f1", "s2": "f1", "s3": "f2", "s4": "f2", "s5": "f2"}
    ours = Hierarchy(units, fams)
    strategies = ["s1", "s2", "s3", "s4", "s5"]
    families = ["f1", "f2"]
    s_idx = np.array([strategies.index(u.strategy) for u in units])
    f_of_s = np.array([families.index(fams[s]) for s in strategies])
    known = np.diag([u.v for u in units]) + shared_arm_covariance(units)
    with pm.Model():
        mu0 = pm.Normal("mu0", 0.0, 1.5)
        omega = pm.HalfNormal("omega", 1.0)
        tau = pm.HalfNormal("tau", 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        fam_z = pm.Normal("fam_z", 0.0, 1.0, shape=len(families))
        mu_f = pm.Deterministic("mu_f", mu0 + omega * fam_z)
        s_z = pm.Normal("s_z", 0.0, 1.0, shape=len(strategies))
        theta = pm.Deterministic("theta", mu_f[f_of_s] + tau * s_z)
        pm.MvNormal(
            "y",
            mu=theta[s_idx],
            cov=known + sigma**2 * (np.eye(len(units)) + shared_arm_correlation(units)),
            observed=np.array([u.y for u in units]),
        )
        trace = pm.sample(2000, tune=2000, chains=2, cores=1, random_seed=7, progressbar=False, target_accept=0.95)
    theta_draws = trace.posterior["theta"].values.reshape(-1, len(strategies))
    for j, s in enumerate(strategies):
        post = ours.predict(s)
        assert post.mean == pytest.approx(theta_draws[:, j].mean(), abs=0.08), s
        assert math.sqrt(post.var_theta) == pytest.approx(theta_draws[:, j].std(), rel=0.15, abs=0.05), s
    # the correlation of two strategies' effects in a new study of each (theta + an independent sigma)
    sigma_draws = trace.posterior["sigma"].values.reshape(-1)
    rng = np.random.default_rng(3)
    new = theta_draws + sigma_draws[:, None] * rng.standard_normal(theta_draws.shape)
    for a, b in (("s1", "s2"), ("s3", "s4"), ("s3", "s5"), ("s1", "s3")):
        sampled = np.corrcoef(new[:, strategies.index(a)], new[:, strategies.index(b)])[0, 1]
        assert ours.predictive_correlation(a, b) == pytest.approx(sampled, abs=0.08), (a, b)


def test_crossval_covers_every_emulation_and_meets_the_committed_figures() -> None:
    summary = crossval()
    assert summary.n == len(load_emulated())
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"median \|log10\(predicted/published\)\| \*\*([0-9.]+)\*\*", readme)
    c = re.search(r"95 % interval coverage \*\*(\d+) %\*\*", readme)
    n = re.search(r"over \*\*(\d+)\*\* comparisons", readme)
    assert m and c and n, "the README states the crossval figures"
    # the README rounds to two decimals: hold the figure no worse than the rounding allows
    assert summary.median_log10_error <= float(m.group(1)) + 0.005
    assert int(n.group(1)) == summary.n
    assert round(100 * summary.coverage) == int(c.group(1))
    assert 0.80 <= summary.coverage <= 0.99
    assert summary.median_log10_error < summary.baseline_median_log10_error


def test_crossval_excludes_the_whole_study() -> None:
    """A record's prediction must not change when its own study's numbers change."""
    summary = crossval()
    row = next(r for r in summary.rows if r.record_id == "barekzai2023-str-1l-csppr-24x")
    # the study is out, so the stirred tank takes its family's prediction
    fam = fitted(("10.3934/bioeng.2023016",)).predict("microcarrier_stirred")
    assert fam.k == 0
    assert row.predicted == pytest.approx(row.baseline * math.exp(fam.mean), rel=1e-9)


def test_combination_record_is_predicted_by_the_rule() -> None:
    summary = crossval()
    row = next(r for r in summary.rows if r.combined_with)
    assert row.inside


def test_crossval_and_emulate_commands(tmp_path: Path) -> None:
    out = tmp_path / "cv.html"
    result = runner.invoke(app, ["evidence", "crossval", "--json", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert '"coverage_95"' in result.output
    html = out.read_text()
    assert "plotly" in html.lower() and "predicted ratio" in html
    result = runner.invoke(app, ["evidence", "emulate", "--json"])
    assert result.exit_code == 0, result.output
    assert "kink2024-hfbr-vs-flask-per-volume" in result.output


def test_stacked_effects_above_the_ceiling_are_flagged() -> None:
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_hypoxia_priming.yaml")
    res = xf.simulate(scn).to_json()
    rate = res["ev"]["particles_per_cell_per_day"]
    flagged = any("above" in w and "particles/cell/day" in w for w in res["warnings"])
    assert flagged == (rate > secretion_ceiling())
    plain = xf.simulate(xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")).to_json()
    assert plain["ev"]["particles_per_cell_per_day"] < secretion_ceiling()
    assert not any("particles/cell/day, above" in w for w in plain["warnings"])


def _copy_evidence(tmp_path: Path) -> Path:
    import shutil

    from exoforge.evidence.emulated import emulated_path

    root = tmp_path / "evidence"
    shutil.copytree(emulated_path().parent, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def test_a_typo_in_a_strategy_effect_is_refused_with_its_line(tmp_path: Path) -> None:
    from exoforge.evidence.store import validate_files

    root = _copy_evidence(tmp_path)
    text = (root / "strategies.yaml").read_text()
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "{id: hypoxia," in ln)
    lines = text.splitlines()
    lines[line - 1] = lines[line - 1].replace("effect: ev_secretion,", "effect: ev_secretio,")
    (root / "strategies.yaml").write_text("\n".join(lines) + "\n")
    _, problems = validate_files(root)
    assert problems
    assert problems[0].startswith("strategies.yaml line ")
    assert any(f"strategies.yaml line {line}: strategy hypoxia: effect" in p for p in problems), problems


def test_an_arm_without_a_default_study_arm_is_refused(tmp_path: Path) -> None:
    from exoforge.evidence.store import validate_files

    root = _copy_evidence(tmp_path)
    f = root / "records" / "kink2024_hollow_fiber_ars.yaml"
    f.write_text(f.read_text().replace("treated: {platform: hollow_fiber", "treated: {platform: multilayer", 1))
    _, problems = validate_files(root)
    assert any("arms.treated.platform: no default study arm for 'multilayer'" in p for p in problems), problems


def test_a_run_says_what_each_secretion_effect_rests_on(tmp_path: Path) -> None:
    """The run JSON gives studies, family and shrinkage; the report draws each pooled effect's forest."""
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_hypoxia_priming.yaml")
    result = xf.simulate(scn)
    effects = {e["strategy"]: e for e in result.to_json()["evidence_effects"]}
    assert {"microcarrier_stirred", "hypoxia", "tnfa_ifng_priming"} <= set(effects)
    stirred = effects["microcarrier_stirred"]
    post = pooled_posterior("microcarrier_stirred")
    assert stirred["k"] == post.k == 1 and len(stirred["records"]) == 2
    assert stirred["family"] == "dynamic_3d_culture" and stirred["family_studies"] == post.k_family
    assert stirred["shrinkage"] == pytest.approx(post.shrinkage)
    from exoforge.report.html import write_report

    html = write_report(result, tmp_path / "r.html").read_text()
    for i in range(3):
        assert f'id="fig-forest-{i}"' in html
    assert "studies of the dynamic_3d_culture family" in html
    # what each pooled multiplier rests on: the studies that move it by 5 % or more, the preprint named
    text = " ".join(html.split())
    assert "What it rests on" in text and "Kronstadt SM 2022" in text and "(a preprint, not peer reviewed)" in text


def test_records_of_one_study_that_disagree_widen_that_study() -> None:
    """Rule 5: a study whose records imply different per-cell effects has their spread as its variance,
    a study whose records agree keeps their mean variance, and a run on the platform says so."""
    from dataclasses import replace

    from exoforge.evidence.emulated import discordant_studies, record_spread

    emulated = load_emulated()
    cao = [e for e in emulated if e.ref == "10.1186/s13287-020-01719-2"]
    assert len(cao) == 2
    unit = next(u for u in study_units() if u.ref == "10.1186/s13287-020-01719-2")
    mean_var = sum(e.total_var for e in cao) / 2
    assert record_spread(cao) > mean_var
    assert unit.v == pytest.approx(record_spread(cao))
    assert {u.ref for u, _ in discordant_studies()} == {"10.1186/s13287-020-01719-2", "10.3934/bioeng.2023016"}
    # the same two records made to agree: the study keeps the mean variance and is no longer listed
    agreeing = [replace(cao[1], log_model_ratio=cao[0].log_model_ratio + math.log(cao[1].published / cao[0].published))]
    both = (cao[0], *agreeing)
    assert record_spread(list(both)) == pytest.approx(0.0, abs=1e-12)
    assert not discordant_studies(both)
    scn = xf.load_scenario(ROOT / "examples" / "platform_hollow_fiber.yaml")
    warnings = parameters_for(scn).warnings
    assert any("Cao J 2020" in w and "per-cell effects" in w for w in warnings)


def test_hypoxia_pools_its_msc_null_result_and_names_the_study_its_o2_response_cannot_emulate() -> None:
    """Almeria 2019 (adipose MSC, EV concentration unchanged at 5 % O2) enters the pooling as no change,
    so hypoxia's own studies pull it below its family; Salomon 2013 (gains at 1 % and 3 % over an 8 %
    control) is kept out of the emulation with its reason, and every hypoxia run's warning names it."""
    from exoforge.evidence.oxygen_response import response_warning

    emulated = {e.record_id: e for e in load_emulated()}
    null = emulated["almeria2019-hypoxia-5pct-ev-concentration-no-change"]
    assert null.published == 1.0 and null.strategy == "hypoxia"
    post = pooled_posterior("hypoxia")
    assert post.k == 2
    assert post.raw_mean is not None and math.exp(post.raw_mean) < 1.6  # below the non-MSC study alone
    assert post.median < math.exp(post.family_mean)
    without_null = pooled_posterior("hypoxia", exclude_refs=("10.3389/fbioe.2019.00292",))
    assert without_null.k == 1 and without_null.median > post.median
    why = {r.record.id: r.record.arms_unknown for r in comparison_records() if r.record.arms is None}
    for rid in ("salomon2013-hypoxia-1pct-vs-8pct-3.3x", "salomon2013-hypoxia-3pct-vs-8pct-6.7x"):
        assert rid not in emulated and "8 % O2" in (why[rid] or "")
    assert "Salomon 2013" in response_warning(5.0)


def test_every_numeric_comparison_of_a_family_is_emulated_or_says_why_and_informs_its_family() -> None:
    """Studies of 3D cultures the scenario contract has no platform for (Haraszti 2018's microcarriers in
    an unnamed vessel, Kronstadt 2022's perfused scaffold) are emulated and pooled with their family, so
    a platform without studies of its own (the fixed bed) leans on them; no run applies them."""
    from exoforge.evidence.emulated import family_map
    from exoforge.evidence.hierarchy import run_effect

    pooled = family_map()
    assert "scaffold_perfusion" in pooled and "cell_immortalisation" not in pooled  # growth effects pool apart
    emulated = {e.record_id for e in load_emulated()}
    for rec in load_records():
        r = rec.record
        if r.fold_change is None or r.direction_only or r.strategy not in pooled:
            continue
        assert r.id in emulated or r.arms_unknown, r.id
    assert {"haraszti2018-mc3d-vs-2d-20x", "kronstadt2022-scaffold-perfusion-40to80x"} <= emulated
    assert {row.record_id for row in crossval().rows} >= {"haraszti2018-mc3d-vs-2d-20x"}
    assert run_effect("scaffold_perfusion") is None and run_effect("fixed_bed") is not None
    res = runner.invoke(app, ["evidence", "pool", "scaffold_perfusion", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["informs_family"] == "dynamic_3d_culture"
    res = runner.invoke(app, ["evidence", "pool", "scaffold_perfusion"])
    assert "pooled with the dynamic_3d_culture family" in " ".join(res.output.split())
    with_it = pooled_posterior("fixed_bed")
    without = pooled_posterior("fixed_bed", exclude_refs=("10.1101/2022.08.30.505860",))
    assert with_it.k == without.k == 0 and with_it.k_family == without.k_family + 1
    assert with_it.median > without.median
