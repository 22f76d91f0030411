"""The hypoxia O2 setpoint: the scenario key, the dose-response on the pooled effect, the dissolved oxygen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import exoforge as xf
from exoforge.evidence.oxygen_response import hypoxia_response
from exoforge.scenario import ScenarioError, parse_scenario, read_mapping

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stirred_tank_hypoxia_priming.yaml"


def _scenario(oxygen: float | None, strategies: list[str] | None = None) -> Any:
    data = read_mapping(EXAMPLE)
    data["conditioning"].pop("oxygen_percent", None)
    if oxygen is not None:
        data["conditioning"]["oxygen_percent"] = oxygen
    if strategies is not None:
        data["conditioning"]["strategies"] = strategies
    return parse_scenario(data)


def test_response_follows_the_three_measured_levels() -> None:
    assert hypoxia_response(5.0) == pytest.approx(1.0)
    assert hypoxia_response(1.0) == pytest.approx(0.0)
    assert hypoxia_response(20.9) == pytest.approx(0.0, abs=0.01)
    assert hypoxia_response(3.0) == pytest.approx(0.5)
    assert np.all(np.diff(hypoxia_response(np.array([5.0, 8.0, 12.0, 20.0]))) < 0)


def test_default_is_five_percent_with_hypoxia_and_air_without() -> None:
    assert _scenario(None).conditioning.gas_oxygen_percent == 5.0
    assert _scenario(None, ["tnfa_ifng_priming"]).conditioning.gas_oxygen_percent == 20.9


def test_oxygen_and_strategy_must_agree() -> None:
    with pytest.raises(ScenarioError, match="list 'hypoxia'"):
        _scenario(2.0, ["tnfa_ifng_priming"])
    with pytest.raises(ScenarioError, match="not hypoxia"):
        _scenario(20.9)


def test_the_model_uses_the_setpoint() -> None:
    """Secretion follows the response (peak at 5 %); 1 % O2 lowers the dissolved oxygen and growth."""
    rate = {}
    cells = {}
    for o2 in (1.0, 3.0, 5.0, 12.0):
        res = xf.simulate(_scenario(o2)).to_json()
        rate[o2] = res["ev"]["particles_per_cell_per_day"]
        cells[o2] = res["cells"]["at_end_of_conditioning"]
        assert any(f"hypoxia at {o2:g} % O2" in w for w in res["warnings"])
    assert rate[5.0] > rate[3.0] > rate[1.0]
    assert rate[5.0] > rate[12.0] > rate[1.0]
    assert cells[1.0] < cells[5.0]
