"""`exoforge parameters` lists every default with its provenance."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from exoforge.cli import app
from exoforge.parameters import load_default_entries
from tests.conftest import ROOT

runner = CliRunner()


def test_lists_all_defaults_as_json() -> None:
    result = runner.invoke(app, ["parameters", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) == len(load_default_entries())
    for row in rows:
        assert row["sources"] or row.get("assumption")


def test_resolves_a_scenario_and_filters_assumptions() -> None:
    path = ROOT / "examples" / "stirred_tank_tff_sec.yaml"
    result = runner.invoke(app, ["parameters", str(path), "--assumptions", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert rows and all(r.get("assumption") for r in rows)
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))  # variants resolved: one entry per name


def test_search_in_table_form() -> None:
    result = runner.invoke(app, ["parameters", "--search", "lactate"])
    assert result.exit_code == 0
    assert "lactate_inhibition_constant" in result.output.replace("\n", "").replace("│", "").replace(" ", "") or (
        "lactate_inhibitio" in result.output
    )
