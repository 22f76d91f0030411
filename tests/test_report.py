"""The HTML report is self-contained and shows what the contract promises."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from exoforge.cli import app

runner = CliRunner()


def test_report_is_self_contained(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    result = runner.invoke(app, ["run", str(root / "examples" / "planar_10layer_uc.yaml"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count('class="plotly-graph-div"') >= 4  # time courses, train, sizes, costs
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)
    for section in (
        "Culture time courses",
        "Isolation train",
        "Cost of goods",
        "Engineering checks",
        "Warnings",
        "Citations",
    ):
        assert section in html
    assert "doi:" in html


def test_summary_table_by_default(root: Path) -> None:
    result = runner.invoke(app, ["run", str(root / "examples" / "stirred_tank_tff_sec.yaml")])
    assert result.exit_code == 0
    assert "cost per dose" in result.output
    assert "EVs in final product" in result.output
