"""Tables fit 80 columns, in a terminal and in a pipe: no line longer than the width, no value cut to '…'."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from exoforge.cli import app

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"

COMMANDS = [
    ["run", str(EX / "stirred_tank_tff_sec.yaml")],
    ["run", str(EX / "stirred_tank_hypoxia_priming.yaml")],
    ["parameters", "--grep", "growth_rate_max|lag_time|price.facility"],
    ["parameters", str(EX / "stirred_tank_hypoxia_priming.yaml"), "--stage", "evidence"],
    ["evidence", "list", "--strategy", "hollow_fiber"],
    ["evidence", "crossval"],
    ["evidence", "emulate"],
    ["evidence", "pool", "hollow_fiber"],
    ["evidence", "coverage"],
    ["evidence", "gaps", *(str(EX / f) for f in ("stirred_tank_tff_sec.yaml", "select_small_lab.yaml"))],
    ["select", str(EX / "select_small_lab.yaml")],
    ["validate", "--case", "colter2000_planar_bm", "--samples", "16"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(Path(x).name for x in a))
def test_output_fits_80_columns(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    long = [line for line in result.output.splitlines() if len(line) > 80]
    assert not long, "\n".join(long)
    assert "…" not in result.output, result.output
