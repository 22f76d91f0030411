"""Engineering checks that mean something: shipped examples pass theirs, `--strict` and the Python API stop on a
failure, and a Monte Carlo run says why its median differs from the central run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.commands.run import CHECK_FAILED_EXIT
from tests.conftest import EXAMPLES, ROOT, example_data

runner = CliRunner()
#: Examples that show a failing design on purpose say so in their name.
FAILING_PREFIX = "failing_"


def _failing_stirred_tank(tmp_path):
    """The pilot stirred tank clarified by a benchtop centrifuge: about 100 runs, five times its limit."""
    import yaml

    data = example_data(ROOT / "examples" / "platform_stirred_tank.yaml")
    data["isolation"][0] = {"op": "centrifugation", "g": 2000, "minutes": 20}
    path = tmp_path / "centrifuged.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_every_shipped_example_passes_its_checks_unless_named_failing(name: str, example_results: dict) -> None:
    checks = example_results[name]["checks"]
    failed = [f"{c['name']} = {c['value']} (limit {c['limit']})" for c in checks if not c["ok"]]
    if name.startswith(FAILING_PREFIX):
        assert failed, f"{name} is named as failing but passes every check"
    else:
        assert not failed, f"{name} fails: {failed}"


def test_run_strict_exits_non_zero_on_a_failed_check_and_still_prints(tmp_path) -> None:
    bad = _failing_stirred_tank(tmp_path)
    out = runner.invoke(app, ["run", str(bad), "--strict", "--json"])
    assert out.exit_code == CHECK_FAILED_EXIT != 0
    assert "centrifuge runs" in out.output and "check failed" in out.output
    body = out.output[out.output.index("{") : out.output.rindex("}") + 1]
    assert any(not c["ok"] for c in json.loads(body)["checks"])
    lenient = runner.invoke(app, ["run", str(bad), "--json"])
    assert lenient.exit_code == 0


def test_run_strict_passes_a_design_whose_checks_pass() -> None:
    out = runner.invoke(app, ["run", str(ROOT / "examples" / "platform_stirred_tank.yaml"), "--strict"])
    assert out.exit_code == 0, out.output


def test_simulate_strict_raises_with_the_whole_result(tmp_path) -> None:
    scn = xf.load_scenario(_failing_stirred_tank(tmp_path))
    with pytest.raises(xf.ChecksFailed) as info:
        xf.simulate(scn, strict=True)
    err = info.value
    assert err.failed and all(not c["ok"] for c in err.failed)
    assert err.result.kpis["cost.per_dose"] > 0
    assert "centrifuge runs" in str(err)
    assert xf.simulate(scn).failed_checks == err.failed  # without strict: the same result, no exception


def test_monte_carlo_explains_central_run_against_median() -> None:
    scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    mc = xf.monte_carlo(scn, n=256, seed=3)
    central = xf.simulate(scn).kpis
    assert mc.central["cost.per_dose"] == pytest.approx(central["cost.per_dose"], rel=1e-9)
    why = mc.central_vs_median("cost.per_dose")
    x = mc.kpis["cost.per_dose"][mc.valid]
    assert why.percentile == pytest.approx(float((x < central["cost.per_dose"]).mean()), abs=1 / 256)
    assert why.median == pytest.approx(float(mc.to_json()["kpis"]["cost.per_dose"]["median"]))
    lines = why.lines()
    assert "central run" in lines[0] and "percentile" in lines[1]
    if mc.p_all_checks_pass is not None and mc.p_all_checks_pass < 1:
        assert any("fail at least one engineering check" in line for line in lines)
    body = mc.to_json()
    assert body["central_vs_median"]["cost.per_dose"]["explanation"] == lines
    assert {f["kpi"] for f in body["central_vs_median"]["cost.per_dose"]["factors"]} >= {"cost.per_batch"}
