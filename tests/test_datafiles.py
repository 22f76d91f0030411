"""Packaged data files are validated at load: unknown keys, kinds and uses are refused by file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from exoforge.datafiles import DataFileError, check_packaged_data, validate_catalogue, validate_parameter_file
from exoforge.parameters import load_default_entries, packaged_data_paths
from exoforge.yamlio import load_yaml

GOOD = """parameters:
  - {name: growth_rate_max, unit: 1/day, description: d, value: 0.5, assumption: a}
  - name: death_rate
    unit: 1/day
    estimates:
      - {value: 0.02, ref: 10.1000/x, location: Table 1}
"""


def _check(text: str) -> list[str]:
    path = Path("growth.yaml")
    try:
        validate_parameter_file(path, text, load_yaml(text))
    except DataFileError as exc:
        return exc.problems
    return []


def test_a_valid_file_passes() -> None:
    assert _check(GOOD) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("value: 0.5", "valeu: 0.5"), "growth.yaml line 2: parameter growth_rate_max: valeu: Extra inputs"),
        (("location: Table 1", "locaton: Table 1"), "growth.yaml line 3: parameter death_rate: estimates.0"),
        (("assumption: a}", "assumption: a, distribution: {kind: gamma}}"), "distribution.kind: Input should be"),
        (("assumption: a}", "assumption: a, combine: median}"), "combine: Input should be 'first'"),
        (("value: 0.5, assumption: a", "value: 0.5"), "give cited estimates, or a value with an assumption"),
        (("{name: growth_rate_max", "{name: Growth Rate"), "name: String should match pattern"),
    ],
)
def test_a_mistake_names_file_line_and_key(change: tuple[str, str], message: str) -> None:
    problems = _check(GOOD.replace(*change))
    assert any(message in p for p in problems), problems


def test_the_catalogue_refuses_an_unknown_use_by_line() -> None:
    text = Path(packaged_data_paths()[1]).read_text(encoding="utf-8")
    broken = text.replace("use: [conditioning]}", "use: [harvest]}", 1)
    line = next(i + 1 for i, row in enumerate(broken.splitlines()) if "use: [harvest]" in row)
    with pytest.raises(DataFileError) as info:
        validate_catalogue(Path("catalogue.yaml"), broken, load_yaml(broken))
    assert any(p.startswith(f"catalogue.yaml line {line}: media.") for p in info.value.problems), info.value.problems


def test_every_packaged_file_is_valid_and_loads() -> None:
    count, problems = check_packaged_data(*packaged_data_paths())
    assert problems == []
    assert count == len(load_default_entries())


def test_evidence_validate_fails_on_a_broken_parameter_file(tmp_path: Path, monkeypatch) -> None:
    params, catalogue = packaged_data_paths()
    copy = tmp_path / "parameters"
    shutil.copytree(params, copy)
    prices = copy / "prices_upstream.yaml"
    prices.write_text(prices.read_text(encoding="utf-8").replace("assumption:", "asumption:", 1), encoding="utf-8")
    monkeypatch.setattr("exoforge.parameters.packaged_data_paths", lambda: (copy, catalogue))
    out = CliRunner().invoke(app, ["evidence", "validate"])
    assert out.exit_code == 2
    assert "prices_upstream.yaml line 7: parameter price.fbs_medium_per_l: asumption: Extra inputs" in out.output
