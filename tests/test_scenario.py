"""The scenario contract: parsing, numbers as users write them, and one clear line per problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.scenario import ScenarioError, load_scenario, parse_scenario, read_mapping
from tests.conftest import SPACE_PREFIXES

BAD = Path(__file__).parent / "bad_scenarios"
EXPECTED = json.loads((BAD / "expected.json").read_text())
runner = CliRunner()


def test_examples_parse(root: Path) -> None:
    paths = [p for p in sorted((root / "examples").glob("*.yaml")) if not p.name.startswith(SPACE_PREFIXES)]
    assert len(paths) >= 4
    for p in paths:
        scn = load_scenario(p)
        assert scn.schema_version == 1


def test_exponent_without_sign_is_a_float(tmp_path: Path, root: Path) -> None:
    text = (root / "examples" / "stirred_tank_tff_sec.yaml").read_text()
    assert "1.0e11" in text  # written as users write it; YAML 1.1 would read a string
    scn = load_scenario(root / "examples" / "stirred_tank_tff_sec.yaml")
    assert scn.dose.particles == pytest.approx(1e11)
    assert read_mapping(root / "examples" / "stirred_tank_tff_sec.yaml")["dose"]["particles"] == 1e11


def test_toml_is_accepted(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        """schema_version = 1
name = "planar"
cell_source = "ad_msc"
isolation = [{op = "ultracentrifugation"}]
[expansion]
platform = "planar"
medium = "fbs"
days = 5
seeding = {cells_per_cm2 = 3000}
[dose]
particles = 1e10
"""
    )
    scn = load_scenario(toml)
    assert scn.expansion.platform == "planar"
    assert xf.simulate(scn).kpis["ev.final_particles"] > 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_exits_2_with_one_line_per_problem(name: str) -> None:
    path = BAD / f"{name}.yaml"
    result = runner.invoke(app, ["run", str(path), "--json"])
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    for fragment in EXPECTED[name]:
        assert any(fragment in ln for ln in lines), (fragment, lines)
    # every line names the file and a key path
    for ln in lines:
        assert ln.startswith(str(path) + ": ")
        assert ":" in ln[len(str(path)) + 2 :]


def test_many_problems_are_all_reported() -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(BAD / "several_problems.yaml")
    assert len(exc.value.problems) >= 3


def test_not_a_mapping_and_syntax_error(tmp_path: Path) -> None:
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(p)
    q = tmp_path / "broken.yaml"
    q.write_text("name: [unclosed\n")
    result = runner.invoke(app, ["run", str(q)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_unknown_parameter_override_is_reported(root: Path, tmp_path: Path) -> None:
    data = read_mapping(root / "examples" / "stirred_tank_tff_sec.yaml")
    data["parameters"] = {"ev_secretion_rat": {"value": 1000, "unit": "particle/cell/day"}}
    p = tmp_path / "s.yaml"
    import yaml

    p.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["run", str(p)])
    assert result.exit_code == 2
    assert "did you mean 'ev_secretion_rate'" in result.stderr


def test_override_with_wrong_dimension_is_reported(root: Path) -> None:
    data = read_mapping(root / "examples" / "stirred_tank_tff_sec.yaml")
    data["parameters"] = {"ev_secretion_rate": {"value": 1000, "unit": "mL"}}
    scn = parse_scenario(data)
    with pytest.raises(ValueError, match="same quantity"):
        xf.simulate(scn)


@pytest.mark.parametrize(("unit", "expected"), [("1/day", 3000.0), ("1/h", 72000.0), ("particle/cell/day", 3000.0)])
def test_override_may_leave_counts_implied(root: Path, unit: str, expected: float) -> None:
    """The contract's own example writes the secretion rate as {value: 3000, unit: "1/day"}:
    counted entities (cells, particles) left out of a unit are implied, other units still convert."""
    data = read_mapping(root / "examples" / "stirred_tank_tff_sec.yaml")
    data["parameters"] = {"ev_secretion_rate": {"value": 3000, "unit": unit}}
    params = xf.parameters_for(parse_scenario(data)).params
    assert params.params["ev_secretion_rate"].value == pytest.approx(expected, rel=1e-12)
    assert params.params["ev_secretion_rate"].unit == "particle/cell/day"


def test_override_implies_counts_only(root: Path) -> None:
    """Leaving out a count never excuses a wrong kind of quantity: mM for a per-cell uptake rate."""
    data = read_mapping(root / "examples" / "stirred_tank_tff_sec.yaml")
    data["parameters"] = {"glucose_uptake_rate": {"value": 1.0, "unit": "mM"}}
    with pytest.raises(ValueError, match="'mM' does not measure the same quantity"):
        xf.parameters_for(parse_scenario(data))


def test_schema_command_prints_the_contract() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"schema_version", "cell_source", "expansion", "isolation", "dose"} <= set(schema["properties"])


def test_the_documented_contract_example_runs(root: Path) -> None:
    """The scenario printed in the contract's documentation, verbatim, runs and gives the contract keys."""
    result = runner.invoke(app, ["run", str(root / "tests" / "contract" / "documented_example.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    # its override {value: 3000, unit: "1/day"} is the base secretion rate, before strategy multipliers
    scn = load_scenario(root / "tests" / "contract" / "documented_example.yaml")
    assert xf.parameters_for(scn).params.params["ev_secretion_rate"].value == pytest.approx(3000.0)
    assert out["cost"]["currency"] == "USD"
    assert out["doses_per_batch"] >= 0
