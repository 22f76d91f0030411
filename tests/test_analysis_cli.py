"""`exoforge mc` and `exoforge sensitivity` from the command line: the JSON of DESIGN.md, reports, clean failures."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from exoforge.cli import app
from tests.conftest import ROOT

STR = str(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
runner = CliRunner()


def test_mc_json_follows_the_contract(tmp_path) -> None:
    report = tmp_path / "mc.html"
    out = runner.invoke(app, ["mc", STR, "-n", "300", "--seed", "4", "--json", "--report", str(report)])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["n"] == 300 and d["seed"] == 4
    assert {"median", "p5", "p95"} <= set(d["kpis"]["cost.per_dose"])
    assert 0 <= d["p_meets_dose_target"] <= 1 and 0 <= d["p_meets_demand"] <= 1
    html = report.read_text()
    assert html.count('class="plotly-graph-div"') == 1 and "Correlation between outputs" in html
    again = runner.invoke(app, ["mc", STR, "-n", "300", "--seed", "4", "--json", "--sampler", "random"])
    assert json.loads(again.output)["kpis"] == d["kpis"]


def test_mc_console_summary() -> None:
    out = runner.invoke(app, ["mc", STR, "-n", "200", "--sampler", "lhs"])
    assert out.exit_code == 0, out.output
    assert "cost.per_dose" in out.output and "P(one line meets the demand)" in out.output


def test_mc_refuses_bad_options() -> None:
    out = runner.invoke(app, ["mc", STR, "-n", "10", "--sampler", "grid"])
    assert out.exit_code == 2 and "random, lhs, sobol" in out.output
    out = runner.invoke(app, ["mc", STR, "-n", "10", "--scheduler", "tcp://127.0.0.1:1"])
    assert out.exit_code == 2 and "dask backend only" in out.output


def test_sensitivity_json_and_report(tmp_path) -> None:
    report = tmp_path / "sa.html"
    out = runner.invoke(
        app,
        [
            "sensitivity",
            STR,
            "--method",
            "morris",
            "--method",
            "tornado",
            "--trajectories",
            "4",
            "--kpi",
            "cost.per_dose",
            "--json",
            "--report",
            str(report),
        ],
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    entry = d["kpis"]["cost.per_dose"]
    assert set(entry) >= {"morris", "tornado", "ranking"} and "sobol" not in entry
    assert d["evaluations"] == (1 + 2 * len(d["parameters"])) + 4 * (len(d["parameters"]) + 1)
    assert report.read_text().count('class="plotly-graph-div"') == 2


def test_sensitivity_names_a_wrong_kpi() -> None:
    out = runner.invoke(app, ["sensitivity", STR, "--method", "tornado", "--kpi", "cost.per_gram"])
    assert out.exit_code == 2 and "cost.per_gram" in out.output
