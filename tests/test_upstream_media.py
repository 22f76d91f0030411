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


def test_platelet_lysate_raises_the_growth_rate_by_its_increment_and_fbs_by_nothing() -> None:
    from exoforge.upstream.culture_inputs import kinetic_parameters
    from exoforge.upstream.platform_models import vessel_geometry

    mu, logs = {}, {}
    for medium in ("hpl", "fbs", "serum_free"):
        scn, p, _ = _run(**{"expansion.medium": medium})
        mu[medium] = kinetic_parameters(scn, vessel_geometry(scn.expansion, p), p).mu_max[0]
        logs[medium] = p
    increment = logs["hpl"].get("growth_increment.hpl", "1/day")[0]
    assert 0.04 < increment < 0.3
    assert "growth_increment.hpl" in logs["hpl"].used  # the run lists it among what it read
    assert "growth_increment.hpl" not in logs["fbs"].used
    # the media share the basal glucose, so the same reference scaling multiplies base rate and increment
    assert mu["serum_free"] == pytest.approx(mu["fbs"])  # no paired figure: nothing added at the centre
    base = logs["fbs"].get("growth_rate_max", "1/day")[0]
    assert mu["hpl"] / mu["fbs"] == pytest.approx((base + increment) / base)
    _, _, fbs = _run(**{"expansion.medium": "fbs"})
    _, _, hpl = _run()
    assert hpl.cells_end_expansion[0] > fbs.cells_end_expansion[0]


def test_conditioning_grows_at_its_own_medium_rate_not_the_expansion_increment() -> None:
    from exoforge.upstream.culture_inputs import phase_multipliers

    def growth_factor(**changes):
        scn, p, _ = _run(**changes)
        return phase_multipliers(scn, p)[2][0], p

    # serum-free conditioning after platelet lysate: the factor acts on the FBS-medium rate, so the
    # lysate's increment is taken off as the cells leave it
    factor, p = growth_factor()  # the example: hpl expansion, serum-free conditioning
    base, inc = p.get("growth_rate_max", "1/day")[0], p.get("growth_increment.hpl", "1/day")[0]
    serum_free = p.get("conditioning_growth_factor.serum_free", "")[0]
    assert factor == pytest.approx(serum_free * base / (base + inc))
    # EV-depleted platelet lysate keeps the lysate's increment (the same draw)
    factor, p = growth_factor(**{"conditioning.medium": "ev_depleted_hpl"})
    assert factor == pytest.approx(p.get("conditioning_growth_factor.ev_depleted_hpl", "")[0])
    # after FBS expansion, EV-depleted platelet lysate adds it
    factor, p = growth_factor(**{"expansion.medium": "fbs", "conditioning.medium": "ev_depleted_hpl"})
    depleted = p.get("conditioning_growth_factor.ev_depleted_hpl", "")[0]
    assert factor == pytest.approx(depleted * (base + inc) / base)


def test_a_serum_free_expansion_medium_carries_its_uncertainty_as_a_factor_the_conditioning_leaves() -> None:
    from exoforge.upstream.culture_inputs import kinetic_parameters, phase_multipliers
    from exoforge.upstream.platform_models import vessel_geometry

    def with_factor(factor: float, **changes):
        scn = xf.parse_scenario(example_data(STR, **changes))
        params = parameters_for(scn).params.with_values({"expansion_growth_factor.serum_free": (factor, "")})
        p = UsageLog(params.nominal(1))
        mu = kinetic_parameters(scn, vessel_geometry(scn.expansion, p), p).mu_max[0]
        return mu, phase_multipliers(scn, p)[2][0], p

    serum_free = {"expansion.medium": "serum_free"}
    mu_1, cond_1, p = with_factor(1.0, **serum_free)
    mu_2, cond_2, _ = with_factor(1.5, **serum_free)
    assert "expansion_growth_factor.serum_free" in p.used
    entry = parameters_for(xf.parse_scenario(example_data(STR, **serum_free))).params[
        "expansion_growth_factor.serum_free"
    ]
    lo, hi = entry.distribution.interval(entry.value, 0.95)
    assert lo < 0.7 and hi > 1.4  # no paired figure: wide, both ways
    assert mu_2 == pytest.approx(1.5 * mu_1)
    # the serum-free conditioning medium is a basal medium: its rate does not take the expansion factor
    assert cond_2 * mu_2 == pytest.approx(cond_1 * mu_1)
    # FBS expansion does not read it
    _, _, p_fbs = with_factor(1.5, **{"expansion.medium": "fbs"})
    assert "expansion_growth_factor.serum_free" not in p_fbs.used
