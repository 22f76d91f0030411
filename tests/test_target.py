"""`exoforge target`: the inverse question, checked through the normal run path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.analysis import target as target_module
from exoforge.analysis.target import target
from exoforge.cli import app
from exoforge.scenario import parse_scenario, read_mapping

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "clinical_1000_doses.yaml"


def _kpi_with(parameter: str, value: float, unit: str, kpi: str) -> float:
    data = read_mapping(EXAMPLE)
    data.setdefault("parameters", {})[parameter] = {"value": value, "unit": unit}
    return float(xf.simulate(parse_scenario(data)).kpis[kpi])


def test_the_answer_crosses_the_target_in_a_normal_run() -> None:
    scn = xf.load_scenario(EXAMPLE)
    r = target(scn, "cost.per_dose_supplied", "price.facility_per_day", below=200, n=40)
    assert r.required_central is not None
    lower = _kpi_with("price.facility_per_day", r.required_central * 0.95, r.unit, "cost.per_dose_supplied")
    higher = _kpi_with("price.facility_per_day", r.required_central * 1.05, r.unit, "cost.per_dose_supplied")
    assert lower < 200 < higher
    assert not r.current_meets_central and r.p_current_meets == 0.0
    assert 0.0 < r.p_reachable_in_range <= 1.0
    q = r.quantiles()
    assert q is not None and q[0] <= q[1] <= q[2]


def test_reusing_the_culture_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A price is not read by the culture: the shortcut must agree with the full evaluation."""
    scn = xf.load_scenario(EXAMPLE)
    fast = target(scn, "cost.per_dose_supplied", "price.facility_per_day", below=200, n=20)
    assert fast.culture_reused

    real = target_module.simulate_upstream  # type: ignore[attr-defined]

    def reads_everything(s, p, record_series=False):
        p.used.add("price.facility_per_day")
        return real(s, p, record_series)

    monkeypatch.setattr(target_module, "simulate_upstream", reads_everything)
    slow = target(scn, "cost.per_dose_supplied", "price.facility_per_day", below=200, n=20)
    assert not slow.culture_reused
    np.testing.assert_allclose(fast.central_kpi, slow.central_kpi, rtol=1e-9)
    np.testing.assert_allclose(fast.required_draws, slow.required_draws, rtol=1e-9)


def test_an_unreachable_target_says_so() -> None:
    scn = xf.load_scenario(EXAMPLE)
    r = target(scn, "cost.per_dose_supplied", "price.facility_per_day", below=1e-3, n=10)
    assert r.required_central is None and r.quantiles() is None and r.p_reachable_in_range == 0.0


def test_command_json_and_errors() -> None:
    runner = CliRunner()
    args = ["target", str(EXAMPLE), "--kpi", "cost.per_dose_supplied", "--vary", "ev_secretion_rate"]
    result = runner.invoke(app, [*args, "--below", "300", "-n", "20", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["parameter"] == "ev_secretion_rate" and not d["culture_reused"]
    assert runner.invoke(app, args).exit_code == 2  # neither --below nor --above
    bad = runner.invoke(app, ["target", str(EXAMPLE), "--kpi", "cost.per_dos", "--vary", "lag_time", "--below", "1"])
    assert bad.exit_code == 2 and "not a KPI" in bad.output


# -- a discrete choice ------------------------------------------------------------------------------


def test_each_option_is_the_scenario_run_with_it() -> None:
    """The central KPI of every option is what a plain run of the scenario with that option gives."""
    from exoforge.analysis.target_choice import target_choice

    scn = xf.load_scenario(EXAMPLE)
    uses = ["dedicated", "shared", "cdmo"]
    res = target_choice(scn, "cost.per_dose_supplied", "economics.facility_use", uses, below=400.0, n=30, seed=2)
    assert sorted(o.value for o in res.options) == sorted(uses)
    for o in res.options:
        variant = parse_scenario(
            {**scn.to_dict(), "economics": {**scn.to_dict()["economics"], "facility_use": o.value}}
        )
        assert o.central == pytest.approx(xf.simulate(variant).kpis["cost.per_dose_supplied"], rel=1e-9)
        assert o.culture_shared  # only the economics differ: one culture for all three
        assert o.draws.shape == (30,)
        assert o.p_meets == pytest.approx(float(np.mean(o.draws < 400.0)))
    # ranked by the probability of meeting the target, then by the central value
    ps = [o.p_meets for o in res.options]
    assert ps == sorted(ps, reverse=True)
    assert res.current == scn.economics.facility_use


def test_a_platform_choice_simulates_each_culture() -> None:
    from exoforge.analysis.target_choice import target_choice

    scn = xf.load_scenario(ROOT / "examples" / "pilot_3l_stirred_tank.yaml")
    res = target_choice(scn, "ev.final_particles", "expansion.platform", ["stirred_tank", "spinner"], above=1e11, n=20)
    assert not any(o.culture_shared for o in res.options)
    assert all(np.isfinite(o.central) for o in res.options)


def test_choose_on_the_command_line() -> None:
    out = CliRunner().invoke(
        app,
        [
            "target",
            str(EXAMPLE),
            "--kpi",
            "cost.per_dose_supplied",
            "--below",
            "400",
            "--choose",
            "economics.facility_use=dedicated,shared",
            "-n",
            "20",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["choice"] == "economics.facility_use" and len(data["options"]) == 2
    assert {"value", "central", "over_draws", "p_meets", "culture_shared"} <= set(data["options"][0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--choose", "expansion.platform=stirred_tank,wave_bag"], "--choose expansion.platform=wave_bag"),
        (["--choose", "expansion.platform"], "is not KEY=OPTION,OPTION"),
        (["--choose", "expansion.platform=spinner"], "at least two options"),
        (["--choose", "expansion.platform=spinner,stirred_tank", "--vary", "ev_secretion_rate"], "exactly one of"),
    ],
)
def test_a_bad_choice_is_refused_in_one_line(args: list[str], message: str) -> None:
    out = CliRunner().invoke(app, ["target", str(EXAMPLE), "--kpi", "cost.per_dose", "--below", "400", *args])
    assert out.exit_code == 2
    assert message in out.output
