"""`exoforge fit`: the pilot batches fitted, parameter files used by run, mc, optimize and select, warnings."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis.calibration import CalibrationError, CalibrationProblem, fit, with_values
from exoforge.analysis.parameter_file import ParameterFileError, apply_parameter_file, load_parameter_file
from exoforge.cli import app
from exoforge.measurements.table import BatchData, Measurement, SourceFile, read_batch_data
from exoforge.simulation import parameters_for
from tests.conftest import ROOT

runner = CliRunner()
DATA = ROOT / "examples" / "pilot_batches" / "batches.csv"
PILOT = ROOT / "examples" / "pilot_3l_stirred_tank.yaml"
LARGE = ROOT / "examples" / "production_50l_stirred_tank.yaml"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The pilot batches fitted once: (parameter file, report, JSON output)."""
    folder = tmp_path_factory.mktemp("fit")
    out, report = folder / "fitted.yaml", folder / "fit.html"
    res = runner.invoke(
        app, ["fit", str(DATA), "--scenario", str(PILOT), "--out", str(out), "--report", str(report), "--json"]
    )
    assert res.exit_code == 0, res.output
    return out, report, json.loads(res.output)


def test_fit_of_the_pilot_batches(fitted) -> None:
    _, report, body = fitted
    rows = {r["key"]: r for r in body["parameters"]}
    assert set(rows) >= {"growth_rate_max", "glucose_uptake_rate", "ev_secretion_rate", "ev_loss_rate"}
    # the synthetic batches were made at growth 0.70 x (1, 0.96, 1.04) in platelet-lysate medium, which is
    # growth_rate_max 0.589 plus the medium's 0.111 per day, glucose uptake 0.30 pmol/cell/h and secretion
    # 3e4 particles/cell/day (one data set: whether its intervals cover is the coverage test's matter)
    assert rows["growth_rate_max"]["estimate"] == pytest.approx(0.589, rel=0.1)
    assert rows["glucose_uptake_rate"]["estimate"] == pytest.approx(0.30, rel=0.15)
    assert rows["ev_secretion_rate"]["low_95"] < 3.0e4 < rows["ev_secretion_rate"]["high_95"]
    # the data narrow the literature priors (secretion: a 100-fold prior range)
    assert rows["ev_secretion_rate"]["posterior_to_prior_sd"] < 0.3  # the NTA systematic error (0.25) remains
    assert body["converged"] and 0.5 < body["reduced_chi2"] < 2.0
    assert body["data_sha256"] == hashlib.sha256(DATA.read_bytes()).hexdigest()
    corr = np.array(body["correlation"]["matrix"])
    assert corr.shape == (len(rows), len(rows)) and np.allclose(np.diag(corr), 1.0)
    html = report.read_text()
    assert "Plotly.newPlot" in html and "<script src=" not in html and len(html) > 3_000_000  # plotly.js inline
    assert "time since seeding [day]" in html and "residual [assay-noise SDs" in html


def test_parameter_file_names_the_data_and_is_measured_on_this_process(fitted) -> None:
    out, _, _ = fitted
    raw = yaml.safe_load(out.read_text())
    assert raw["source"]["data_sha256"] == hashlib.sha256(DATA.read_bytes()).hexdigest()
    assert raw["source"]["data_files"][0]["path"].endswith("batches.csv")
    secretion = next(p for p in raw["parameters"] if p["name"] == "ev_secretion_rate")
    assert secretion["measured_on"] == "this_process"
    pf = load_parameter_file(out)
    ps, warnings = apply_parameter_file(parameters_for(xf.load_scenario(LARGE)).params, pf)
    assert ps["platform.stirred_tank.ev_secretion"].value == 1.0  # nothing multiplies a rate measured here
    assert any("not multiplied by platform.stirred_tank.ev_secretion" in w for w in warnings)
    assert ps["ev_secretion_rate"].refs == (pf.ref,) and pf.ref.startswith("sha256:")
    # the joint draws follow the fit's covariance on the log scale
    names = [p.name for p in ps.uncertain()]
    batch = ps.sample(4000, np.random.default_rng(3), names)
    cov = pf.covariance
    i, j = pf.names().index("growth_rate_max"), pf.names().index("glucose_uptake_rate")
    logs = np.log(np.vstack([batch.values["growth_rate_max"], batch.values["glucose_uptake_rate"]]))
    expected = cov[i, j] / np.sqrt(cov[i, i] * cov[j, j])
    assert np.corrcoef(logs)[0, 1] == pytest.approx(expected, abs=0.05)
    assert np.std(logs[0]) == pytest.approx(np.sqrt(cov[i, i]), rel=0.1)


def test_a_fitted_parameter_file_changes_run_and_mc(fitted) -> None:
    out, _, _ = fitted
    plain = json.loads(runner.invoke(app, ["run", str(LARGE), "--json"]).output)
    res = runner.invoke(app, ["run", str(LARGE), "--json", "--params", str(out)])
    assert res.exit_code == 0, res.output
    with_fit = json.loads(res.output)
    # the run takes the fitted rates: secretion is the rate measured on this process, multiplied by nothing
    # (the literature default is a planar rate times the pooled stirred-tank effect, which may land near it)
    fit_values = {p["name"]: p["value"] for p in yaml.safe_load(out.read_text())["parameters"]}
    assert with_fit["ev"]["particles_per_cell_per_day"] == pytest.approx(fit_values["ev_secretion_rate"], rel=1e-9)
    assert plain["ev"]["particles_per_cell_per_day"] != pytest.approx(fit_values["ev_secretion_rate"], rel=1e-3)
    # the fitted growth, death and glucose uptake move the cells (by about 3 % here: the pilot grew near the
    # literature's rate once platelet lysate's increment is counted)
    assert with_fit["cells"]["harvested"] != pytest.approx(plain["cells"]["harvested"], rel=0.01)
    cited = [c for c in with_fit["citations"] if c["ref"].startswith("sha256:")]
    assert cited and "ev_secretion_rate" in cited[0]["used_for"] and "batches.csv" in cited[0]["locations"][0]
    mc_plain = json.loads(runner.invoke(app, ["mc", str(LARGE), "-n", "400", "--json"]).output)
    res = runner.invoke(app, ["mc", str(LARGE), "-n", "400", "--json", "--params", str(out)])
    assert res.exit_code == 0, res.output
    mc_fit = json.loads(res.output[res.output.index("{") :])
    a, b = mc_plain["kpis"]["ev.final_particles"], mc_fit["kpis"]["ev.final_particles"]
    # the fit moves the distribution (its median may land near the literature's by chance; the top does not)
    assert b["p95"] != pytest.approx(a["p95"], rel=0.05)
    # the pilot data narrow the prediction at 50 L (the fit's covariance replaces the literature spread)
    assert np.log(b["p95"] / b["p5"]) < 0.8 * np.log(a["p95"] / a["p5"])


def test_select_and_optimize_take_the_parameter_file(fitted) -> None:
    out, _, _ = fitted
    space = ROOT / "examples" / "select_small_lab.yaml"
    plain = json.loads(runner.invoke(app, ["select", str(space), "--json"]).output)
    res = runner.invoke(app, ["select", str(space), "--json", "--params", str(out)])
    assert res.exit_code == 0, res.output

    def costs(body: dict) -> dict:
        return {d["label"]: d["kpis"]["cost.per_dose"] for d in body["ranked"]}

    assert costs(json.loads(res.output)) != costs(plain)

    # the draws of how sure the ranking is use the fitted parameters too (the pilot data narrow them)
    def spread(body: dict) -> float:
        bands = [
            d["cost_per_dose_supplied"] for d in body["uncertainty"]["designs"] if d["cost_per_dose_supplied"]["p5"]
        ]
        return float(np.median([np.log(b["p95"] / b["p5"]) for b in bands]))

    assert spread(json.loads(res.output)) < spread(plain)
    from exoforge.analysis.optimize import DesignEvaluator
    from exoforge.analysis.space import load_space

    sp = load_space(ROOT / "examples" / "space_clinical_cost.yaml")
    scn = xf.load_scenario(LARGE)
    evaluator = DesignEvaluator(sp, parameter_file=load_parameter_file(out))
    key = evaluator._batch(scn)
    growth = evaluator._batches[key].values["growth_rate_max"][0]
    assert growth == pytest.approx(load_parameter_file(out).entries[0].value)


def test_bad_parameter_files_and_options(tmp_path, fitted) -> None:
    out, _, _ = fitted
    raw = yaml.safe_load(out.read_text())
    raw["parameters"][0]["name"] = raw["covariance"]["names"][0] = "growth_rate_maxx"
    raw["parameters"][1]["scale"] = "cubic"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParameterFileError) as err:
        load_parameter_file(bad)
    assert any("parameters[1].scale" in p for p in err.value.problems)
    raw["parameters"][1]["scale"] = "log"
    bad.write_text(yaml.safe_dump(raw))
    res = runner.invoke(app, ["run", str(LARGE), "--params", str(bad)])
    assert res.exit_code == 2 and "growth_rate_maxx" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["fit", str(DATA), "--scenario", str(PILOT), "--parameter", "growth_rat_max"])
    assert res.exit_code == 2 and "did you mean 'growth_rate_max'" in res.output
    res = runner.invoke(
        app,
        [
            "fit",
            str(DATA),
            "--scenario",
            str(ROOT / "examples" / "stirred_tank_tff_sec.yaml"),
            "--scenario",
            f"B9={PILOT}",
        ],
    )
    assert res.exit_code == 2 and "no batch 'B9'" in res.output
    short = tmp_path / "short.yaml"
    data = yaml.safe_load(PILOT.read_text())
    data["conditioning"]["days"] = 1
    short.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["fit", str(DATA), "--scenario", str(short)])
    assert res.exit_code == 2 and "is after the end of batch B1's process" in res.output and "line" in res.output


def _design(ev_days: tuple[float, ...]) -> BatchData:
    rows = []
    for t in (1.0, 3.0, 5.0, 7.0):
        rows.append(Measurement("B1", t, "viable_cells", 1.0, "1", "cell_count", f"cells day {t}"))
    for t in ev_days:
        for r in "ab":
            rows.append(Measurement("B1", t, "ev_concentration", 1.0, r, "nta", f"EVs day {t}"))
    return BatchData(tuple(rows), (SourceFile("design", "0"),))


def test_an_unidentifiable_design_warns() -> None:
    """EVs counted once, at harvest: secretion and loss rate trade off; a time course separates them."""
    scn = xf.load_scenario(PILOT)
    results = []
    for days in ((10.0,), (7.25, 7.5, 8.0, 9.0, 10.0)):
        problem = CalibrationProblem(
            _design(days), {"B1": scn}, fit=["growth_rate_max", "ev_secretion_rate", "ev_loss_rate"]
        )
        truth = problem.predict(problem.start[None, : problem.n_theta])[0]
        results.append(fit(with_values(problem, truth)))
    once, course = results
    assert any("not separable without a time course" in w for w in once.warnings)
    data_alone = once.data_only_correlation()
    assert data_alone is None or abs(data_alone[1, 2]) > 0.95
    assert any(
        "ev_secretion_rate and ev_loss_rate are not separable" in w or "cannot determine" in w for w in once.warnings
    )
    assert not any("time course" in w or "not separable" in w for w in course.warnings)
    loss = next(r for r in once.table() if r["key"] == "ev_loss_rate")
    assert loss["posterior_to_prior_sd"] > 0.8  # the single time point leaves the loss rate at its prior
    assert any("ev_loss_rate: the data say little" in w for w in once.warnings)


def test_unknown_assay_and_zero_values_are_named(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "batch,time,variable,value,unit,assay\nB1,1,viable_cells,1e7,cells,coulter\n"
        "B1,2,viable_cells,0,cells,cell_count\n"
    )
    data = read_batch_data([path])
    with pytest.raises(CalibrationError) as err:
        CalibrationProblem(data, {"B1": xf.load_scenario(PILOT)})
    text = "\n".join(err.value.problems)
    assert "line 2: assay 'coulter' has no noise model" in text and "line 3: viable_cells = 0 needs a floor" in text
