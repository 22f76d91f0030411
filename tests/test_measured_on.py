"""A user's own secretion rate says what it was measured on (``measured_on``)."""

from __future__ import annotations

import pytest

import exoforge as xf
from exoforge.scenario import ScenarioError, parse_scenario
from tests.conftest import ROOT, example_data

PRIMED = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def _scenario(measured_on: str | None, strategies: list[str] | None = None) -> xf.Scenario:
    override: dict[str, object] = {"value": 3000, "unit": "1/day"}
    if measured_on is not None:
        override["measured_on"] = measured_on
    changes: dict[str, object] = {"parameters": {"ev_secretion_rate": override}}
    if strategies is not None:
        changes["conditioning.strategies"] = strategies
    return parse_scenario(example_data(PRIMED, **changes))


def test_this_process_takes_no_secretion_factor() -> None:
    scn = _scenario("this_process", ["tnfa_ifng_priming"])
    result = xf.simulate(scn)
    assert result.kpis["ev.particles_per_cell_per_day"] == pytest.approx(3000, rel=1e-9)
    assert not [w for w in result.warnings if "measured_on" in w]


def test_planar_is_the_default_and_names_the_factors_it_applies() -> None:
    default, planar = _scenario(None, ["tnfa_ifng_priming"]), _scenario("planar", ["tnfa_ifng_priming"])
    r_default, r_planar = xf.simulate(default), xf.simulate(planar)
    assert r_default.kpis["ev.particles_per_cell_per_day"] == pytest.approx(
        r_planar.kpis["ev.particles_per_cell_per_day"]
    )
    applied = xf.parameters_for(default).params
    factor = (
        applied["platform.stirred_tank.ev_secretion"].value * applied["strategy.tnfa_ifng_priming.ev_secretion"].value
    )
    # a factor of one (or shrinkage of a combination) would make this test vacuous
    assert abs(factor - 1) > 0.05
    (warning,) = [w for w in r_default.warnings if "measured_on" in w]
    assert "platform.stirred_tank.ev_secretion" in warning
    assert "strategy.tnfa_ifng_priming.ev_secretion" in warning
    ratio = r_default.kpis["ev.particles_per_cell_per_day"] / 3000
    assert ratio == pytest.approx(factor, rel=0.02)


def test_measured_on_is_refused_for_other_parameters() -> None:
    data = example_data(PRIMED, parameters={"ev_loss_rate": {"value": 0.1, "unit": "1/day", "measured_on": "planar"}})
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any("'ev_loss_rate' does not take measured_on" in p for p in err.value.problems)


def test_measured_on_takes_only_its_two_values() -> None:
    data = example_data(PRIMED, parameters={"ev_secretion_rate": {"value": 1, "unit": "1/day", "measured_on": "str"}})
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any("measured_on" in p and "this_process" in p for p in err.value.problems)
