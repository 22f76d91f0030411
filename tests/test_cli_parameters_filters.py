"""`exoforge parameters --grep` and `--stage`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from exoforge.cli import app

runner = CliRunner()


def _names(args: list[str]) -> list[str]:
    result = runner.invoke(app, ["parameters", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [p["name"] for p in json.loads(result.output)]


def test_grep_matches_names_descriptions_and_sources() -> None:
    by_name = _names(["--grep", "^lactate_inhibition"])
    assert set(by_name) == {"lactate_inhibition_constant"}
    by_source = _names(["--grep", r"10\.1089/ten\.tea\.2008\.0345"])  # Schop 2009, cited by several
    assert {"lactate_inhibition_constant", "ammonia_inhibition_constant"} <= set(by_source)


def test_stage_filters_and_unknown_stage_is_refused() -> None:
    downstream = _names(["--stage", "downstream"])
    upstream = _names(["--stage", "upstream"])
    assert downstream and upstream
    assert "growth_rate_max" in upstream and "growth_rate_max" not in downstream
    assert "anion_exchange.binding_capacity" in downstream and "anion_exchange.binding_capacity" not in upstream
    economics = _names(["--stage", "economics"])
    assert any(n.startswith("price.") for n in economics) and not any(n.startswith("price.") for n in upstream)
    result = runner.invoke(app, ["parameters", "--stage", "upstreem"])
    assert result.exit_code == 2 and "is not one of" in result.output


def test_bad_regex_is_refused() -> None:
    result = runner.invoke(app, ["parameters", "--grep", "("])
    assert result.exit_code == 2 and "not a regular expression" in result.output
