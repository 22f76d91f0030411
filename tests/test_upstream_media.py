"""Basal media catalogue: each formulation's glucose and glutamine reach the culture."""

from __future__ import annotations

from typing import get_args

import pytest

import exoforge as xf
from exoforge.parameters import UsageLog, load_default_entries
from exoforge.scenario import BasalMedium, ScenarioError
from exoforge.simulation import parameters_for
from exoforge.upstream.culture_inputs import culture_media
from exoforge.upstream.simulate import simulate_upstream
from tests.conftest import ROOT, example_data

STR = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def _run(**changes):
    scn = xf.parse_scenario(example_data(STR, **changes))
    p = UsageLog(parameters_for(scn).params.nominal(1))
    return scn, p, simulate_upstream(scn, p)


def test_every_basal_medium_of_the_contract_has_glucose_and_glutamine() -> None:
    names = {p.name for p in load_default_entries()}
    for basal in get_args(BasalMedium):
        assert f"basal_glucose.{basal}" in names and f"basal_glutamine.{basal}" in names, basal


def test_the_basal_medium_sets_glucose_and_glutamine_of_both_phases() -> None:
    scn, p, _ = _run(**{"expansion.basal_medium": "dmem_high_glucose"})
    m_exp, m_cond = culture_media(scn, p)
    assert m_exp.glucose[0] == pytest.approx(24.98) and m_exp.glutamine[0] == pytest.approx(4.0)
    assert m_cond.glucose[0] == pytest.approx(24.98)  # conditioning keeps the expansion's basal medium
    scn, p, _ = _run(**{"expansion.basal_medium": "dmem_high_glucose", "conditioning.basal_medium": "alpha_mem"})
    m_exp, m_cond = culture_media(scn, p)
    assert m_exp.glucose[0] == pytest.approx(24.98) and m_cond.glucose[0] == pytest.approx(5.5)
    scn, p, _ = _run()
    m_exp, _ = culture_media(scn, p)
    assert m_exp.glucose[0] == pytest.approx(p.get("medium_glucose.hpl", "mM")[0])  # not stated: usual MSC medium


def test_high_glucose_medium_keeps_glucose_above_the_low_glucose_run() -> None:
    *_, low = _run(**{"expansion.basal_medium": "dmem_low_glucose"})
    *_, high = _run(**{"expansion.basal_medium": "dmem_high_glucose"})
    assert high.min_glucose_mM[0] > 3 * low.min_glucose_mM[0]
    assert high.cells_end_expansion[0] >= low.cells_end_expansion[0]


def test_an_unknown_basal_medium_is_refused_with_the_allowed_names() -> None:
    with pytest.raises(ScenarioError) as err:
        xf.parse_scenario(example_data(STR, **{"expansion.basal_medium": "dmem_medium_glucose"}))
    text = "\n".join(err.value.problems)
    assert "expansion.basal_medium" in text and "dmem_high_glucose" in text
