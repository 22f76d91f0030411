"""Measured EV size distributions: an NTA export replaces the default lognormal, size-dependent steps act on the
measured population, and the report compares the predicted product with the measured one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.scenario import ScenarioError, parse_scenario
from tests.conftest import ROOT

runner = CliRunner()
MEASURED = ROOT / "examples" / "pilot_3l_measured_size.yaml"
PILOT = ROOT / "examples" / "pilot_3l_stirred_tank.yaml"


def with_size(d50: float, gsd: float, ops: list[dict]) -> xf.Scenario:
    """The pilot with an inline lognormal-shaped measured harvest distribution and the given train."""
    data = yaml.safe_load(PILOT.read_text())
    d = np.geomspace(30, 1000, 60)
    f = np.exp(-0.5 * (np.log(d / d50) / np.log(gsd)) ** 2)
    data["isolation"] = ops
    data["ev_size"] = {"harvest": {"diameters_nm": d.tolist(), "fractions": f.tolist(), "source": "test"}}
    return parse_scenario(data)


def test_an_nta_export_is_read_into_bins_relative_to_the_scenario() -> None:
    scn = xf.load_scenario(MEASURED)
    assert scn.ev_size is not None
    harvest = scn.ev_size.harvest
    assert harvest is not None and harvest.diameters_nm is not None and 3 <= len(harvest.diameters_nm) <= 48
    assert harvest.source is not None and harvest.fractions is not None
    assert "B1_day10_ExperimentSummary.csv" in harvest.source and "sha256" in harvest.source
    assert sum(harvest.fractions) == pytest.approx(1.0)
    again = parse_scenario(scn.to_dict())  # a loaded scenario carries its bins (no file needed again)
    assert again.ev_size is not None and again.ev_size.harvest is not None
    assert again.ev_size.harvest.diameters_nm == harvest.diameters_nm


def test_size_dependent_steps_act_on_the_measured_population() -> None:
    sterile = [{"op": "sterile_filtration"}]
    small = xf.simulate(with_size(90, 1.3, sterile))
    large = xf.simulate(with_size(200, 1.6, sterile))
    # a 0.22 um filter passes nearly all of a 90 nm population and far less of a 200 nm one
    assert small.kpis["ev.recovery_fraction"] > 1.5 * large.kpis["ev.recovery_fraction"]
    out = large.size_distributions
    assert out["product_predicted"]["d90_nm"] < out["harvest_measured"]["d90_nm"]  # the large ones are held back
    assert out["product_predicted"]["d90_nm"] < 220
    spin = xf.simulate(with_size(200, 1.6, [{"op": "ultracentrifugation", "g": 100000, "minutes": 20}]))
    # a short spin pellets the large vesicles first: the pellet is larger than the feed
    d = spin.size_distributions
    assert d["product_predicted"]["d50_nm"] > d["harvest_measured"]["d50_nm"]


def test_runs_without_measured_sizes_are_unchanged() -> None:
    plain = xf.simulate(xf.load_scenario(PILOT))
    assert plain.size_distributions == {} and "ev_size" not in plain.to_json()


def test_the_report_compares_predicted_and_measured_product(tmp_path) -> None:
    report = tmp_path / "run.html"
    out = runner.invoke(app, ["run", str(MEASURED), "--json", "--report", str(report)])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)["ev_size"]
    assert set(d) >= {"harvest_measured", "product_predicted", "product_measured", "steps"}
    # the synthetic product export was made with D50 98 nm; the prediction from the 105 nm harvest is close
    assert d["product_measured"]["d50_nm"] == pytest.approx(98, abs=3)
    assert d["product_predicted"]["d50_nm"] == pytest.approx(d["product_measured"]["d50_nm"], rel=0.1)
    html = report.read_text()
    assert "EV size: measured and predicted after isolation" in html and "diameter [nm]" in html


def test_bad_measured_sizes_are_named(tmp_path) -> None:
    data = yaml.safe_load(PILOT.read_text())
    data["ev_size"] = {"harvest": {"nta_file": "nowhere.csv"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as err:
        xf.load_scenario(path)
    assert "ev_size.harvest.nta_file" in err.value.problems[0] and "file not found" in err.value.problems[0]
    out = runner.invoke(app, ["run", str(path)])
    assert out.exit_code == 2 and "ev_size.harvest.nta_file" in out.output
    data["ev_size"] = {"harvest": {"diameters_nm": [50, 40, 60], "fractions": [1, 2]}}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert "ev_size.harvest" in err.value.problems[0]
