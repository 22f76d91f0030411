"""Sensitivity: the sampler/analyser pairing, validated on SALib's Ishigami function; the scenario analysis."""

from __future__ import annotations

import numpy as np
import pytest
from SALib.analyze import morris as salib_morris
from SALib.analyze import sobol as salib_sobol
from SALib.sample import morris as salib_morris_sample
from SALib.sample import sobol as salib_sobol_sample
from SALib.test_functions import Ishigami

import exoforge as xf
from exoforge.analysis.sensitivity import (
    MorrisIndices,
    MorrisMethod,
    SobolIndices,
    SobolMethod,
    analyse_function,
    sensitivity,
)
from tests.conftest import ROOT

NAMES = ["x1", "x2", "x3"]
# Analytical indices of the Ishigami function, a = 7, b = 0.1 (Ishigami & Homma 1990,
# doi:10.1109/ISUMA.1990.151285; values as listed in SALib.test_functions.Ishigami and
# Saltelli et al. 2008, doi:10.1002/9780470725184)
A, B = 7.0, 0.1
_V1 = 0.5 * (1 + B * np.pi**4 / 5) ** 2
_V2 = A**2 / 8
_V13 = B**2 * np.pi**8 * (1 / 18 - 1 / 50)
_V = _V1 + _V2 + _V13
S1_EXACT = np.array([_V1 / _V, _V2 / _V, 0.0])
ST_EXACT = np.array([(_V1 + _V13) / _V, _V2 / _V, _V13 / _V])


def ishigami_on_unit_cube(u: np.ndarray) -> np.ndarray:
    """Ishigami with every input uniform on [-pi, pi], from rows of the unit cube."""
    return Ishigami.evaluate(-np.pi + 2 * np.pi * u, A, B)


def test_analytical_values_match_the_literature() -> None:
    np.testing.assert_allclose(S1_EXACT, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(ST_EXACT, [0.5576, 0.4424, 0.2437], atol=1e-4)


def test_sobol_recovers_the_ishigami_indices() -> None:
    res = analyse_function(SobolMethod(n=8192, seed=3), NAMES, ishigami_on_unit_cube)
    assert isinstance(res, SobolIndices)
    np.testing.assert_allclose(res.S1, S1_EXACT, atol=0.03)
    np.testing.assert_allclose(res.ST, ST_EXACT, atol=0.03)
    assert [res.names[i] for i in res.order()] == ["x1", "x2", "x3"]
    # the bootstrap intervals cover the exact values
    assert np.all(np.abs(res.ST - ST_EXACT) <= 3 * res.ST_conf + 1e-3)


def test_sobol_pairing_reproduces_salib_used_directly() -> None:
    """Same problem, sample size, second-order flag and seed on both sides of the pair."""
    method = SobolMethod(n=1024, second_order=True, seed=5)
    ours = analyse_function(method, NAMES, ishigami_on_unit_cube)
    assert isinstance(ours, SobolIndices)
    problem = {"num_vars": 3, "names": NAMES, "bounds": [[0, 1]] * 3}
    x = salib_sobol_sample.sample(problem, 1024, calc_second_order=True, seed=5)
    theirs = salib_sobol.analyze(problem, ishigami_on_unit_cube(x), calc_second_order=True, seed=5)
    np.testing.assert_array_equal(ours.S1, theirs["S1"])
    np.testing.assert_array_equal(ours.ST_conf, theirs["ST_conf"])
    assert ours.S2 is not None and ours.S2.shape == (3, 3)


def test_morris_screens_the_ishigami_inputs() -> None:
    """Every Ishigami input is influential (x3 only through its interaction with x1: S1 = 0, ST = 0.24);
    an extra input the function ignores is screened out."""
    names = [*NAMES, "dummy"]
    res = analyse_function(
        MorrisMethod(trajectories=500, levels=4, seed=2, low=0.0, high=1.0),
        names,
        lambda u: ishigami_on_unit_cube(u[:, :3]),
    )
    by = res.by_name()
    top = max(v["mu_star"] for v in by.values())
    assert all(by[x]["mu_star"] > 0.3 * top for x in NAMES)
    assert by["dummy"]["mu_star"] == 0.0 and res.names[res.order()[-1]] == "dummy"
    # x1 acts with one sign; the effects of x2 (sin^2) and x3 (x3^4 sin x1) cancel in sign
    assert by["x1"]["mu"] == pytest.approx(by["x1"]["mu_star"])
    assert abs(by["x2"]["mu"]) < 0.2 * by["x2"]["mu_star"]
    assert abs(by["x3"]["mu"]) < 0.2 * by["x3"]["mu_star"]
    assert by["x3"]["sigma"] > by["x3"]["mu_star"]  # interaction


def test_morris_pairing_reproduces_salib_used_directly() -> None:
    method = MorrisMethod(trajectories=20, levels=4, seed=8)
    ours = analyse_function(method, NAMES, ishigami_on_unit_cube)
    assert isinstance(ours, MorrisIndices)
    problem = {"num_vars": 3, "names": NAMES, "bounds": [[0.025, 0.975]] * 3}
    x = salib_morris_sample.sample(problem, 20, num_levels=4, seed=8)
    theirs = salib_morris.analyze(problem, x, ishigami_on_unit_cube(x), num_levels=4, seed=8)
    np.testing.assert_array_equal(ours.mu_star, theirs["mu_star"])
    np.testing.assert_array_equal(ours.sigma, theirs["sigma"])


def test_an_analyser_refuses_a_foreign_design() -> None:
    sobol, morris = SobolMethod(n=64, seed=1), MorrisMethod(trajectories=10, seed=1)
    d_morris = morris.design(NAMES)
    with pytest.raises(ValueError, match="only its own design"):
        sobol.analyse(d_morris, ishigami_on_unit_cube(d_morris.u))
    other = SobolMethod(n=64, seed=2).design(NAMES)
    with pytest.raises(ValueError, match="only its own design"):
        sobol.analyse(other, ishigami_on_unit_cube(other.u))
    own = sobol.design(NAMES)
    with pytest.raises(ValueError, match="outputs for a design"):
        sobol.analyse(own, ishigami_on_unit_cube(own.u)[:-1])
    with pytest.raises(ValueError, match="power of two"):
        SobolMethod(n=1000)


@pytest.fixture(scope="module")
def scenario_analysis():
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    return sensitivity(scn, n=64, trajectories=8, seed=1, kpis=("cost.per_dose", "ev.final_particles"))


def test_scenario_sensitivity_ranks_the_secretion_rate(scenario_analysis) -> None:
    sa = scenario_analysis
    assert set(sa.methods) == {"sobol", "morris", "tornado"}
    for kpi in sa.kpis:
        assert "ev_secretion_rate" in sa.ranking(kpi)[:5]
        lo, hi = sa.tornado[kpi].by_name()["ev_secretion_rate"]
        assert lo != hi
    # particles scale with the secretion rate: higher rate, more particles
    lo, hi = sa.tornado["ev.final_particles"].by_name()["ev_secretion_rate"]
    assert hi > sa.tornado["ev.final_particles"].base > lo
    d = len(sa.names)
    assert sa.evaluations == (1 + 2 * d) + 8 * (d + 1) + 64 * (d + 2)


def test_scenario_sensitivity_json(scenario_analysis) -> None:
    d = scenario_analysis.to_json()
    entry = d["kpis"]["cost.per_dose"]
    assert set(entry) >= {"sobol", "morris", "tornado", "ranking"}
    s = entry["sobol"]["ev_secretion_rate"]
    assert set(s) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert entry["tornado"]["rows"][0]["parameter"] == entry["ranking"][0] or entry["tornado"]["rows"]


def test_unknown_kpi_or_method_is_refused() -> None:
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    with pytest.raises(ValueError, match="not an output"):
        sensitivity(scn, kpis=("cost.per_gram",), methods=("tornado",))
    with pytest.raises(ValueError, match="not one of"):
        sensitivity(scn, methods=("fast",))


def test_an_index_outside_its_range_by_more_than_its_interval_is_flagged_with_a_sample_size() -> None:
    from exoforge.analysis.sensitivity import ACCURACY, SensitivityResult, SobolIndices

    s = SobolIndices(
        ["a", "b", "c"],
        np.array([0.2, -0.3, 0.1]),
        np.array([0.05, 0.1, 0.2]),
        np.array([1.999, 0.5, -0.05]),
        np.array([0.3, 0.1, 0.2]),
    )
    flagged = s.out_of_range(1024)
    assert {(w["parameter"], w["index"]) for w in flagged} == {("a", "ST"), ("b", "S1")}  # c's is within its CI
    a = next(w for w in flagged if w["parameter"] == "a")
    assert a["outside_by"] == pytest.approx(0.999)
    # an error of ~1 at n = 1024 falls below ACCURACY at n (0.999 / ACCURACY)^2 * 1024, a power of two
    assert a["suggested_n"] >= 1024 * (0.999 / ACCURACY) ** 2 and a["suggested_n"] & (a["suggested_n"] - 1) == 0
    sa = SensitivityResult("x", ["a", "b", "c"], ["k"], ["sobol"], 1024, 1, sobol={"k": s})
    lines = sa.warnings()
    assert len(lines) == 2 and all("outside [0, 1]" in line and "-n " in line for line in lines)
    assert sa.to_json()["index_warnings"][0]["kpi"] == "k"


def test_terminal_tables_show_confidence_intervals_and_fit_80_columns() -> None:
    import io

    from rich.console import Console

    from exoforge.analysis.sensitivity import MorrisIndices, SensitivityResult, SobolIndices
    from exoforge.report.analysis_console import print_sensitivity

    names = ["a_rather_long_parameter_name.with_a_suffix_that_goes_on", "b"]
    sa = SensitivityResult("x", names, ["cost.per_dose"], ["sobol", "morris"], 256, 1)
    sa.sobol["cost.per_dose"] = SobolIndices(
        names, np.array([0.4, 0.1]), np.array([0.05, 0.02]), np.array([0.6, 0.2]), np.array([0.07, 0.03])
    )
    sa.morris["cost.per_dose"] = MorrisIndices(
        names, np.array([1.0, 0.2]), np.array([1.0, 0.2]), np.array([0.3, 0.1]), np.array([0.5, 0.1])
    )
    buf = io.StringIO()
    print_sensitivity(sa, Console(file=buf, width=80))
    text = buf.getvalue()
    assert "0.400 ± 0.050" in text and "0.600 ± 0.070" in text and "± CI" in text
    assert max(len(line) for line in text.splitlines()) <= 80
