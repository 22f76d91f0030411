"""The isolation and economics figures render as inline SVG."""

from __future__ import annotations

import math

import exoforge as xf
from exoforge.analysis.selection import DemandCurve
from exoforge.report import economics_plots
from tests.conftest import ROOT


def test_train_waterfall_and_cost_by_step_render() -> None:
    result = xf.simulate(xf.load_scenario(ROOT / "examples" / "isolation_sec.yaml"))
    assert economics_plots.train_waterfall(result).startswith("<svg")
    svg = economics_plots.cost_by_step_and_category(result)
    assert svg.startswith("<svg") and "total" in svg


def test_cost_per_dose_against_demand_skips_infeasible_points() -> None:
    curves = [
        DemandCurve("stirred tank", "TFF + SEC", (100.0, 1000.0), (500.0, 80.0), ("15 L", "15 L")),
        DemandCurve("stacks", "UC", (100.0, 1000.0), (math.nan, math.nan), (None, None)),
    ]
    svg = economics_plots.cost_per_dose_vs_demand(curves)
    assert svg.startswith("<svg") and "stirred tank + TFF + SEC" in svg


def test_run_report_has_purity_and_cost_by_step_sections() -> None:
    from exoforge.report.html import render_report

    html = render_report(xf.simulate(xf.load_scenario(ROOT / "examples" / "isolation_peg_precipitation.yaml")))
    assert "Purity and lipoprotein carry-over" in html and "QC analyst" in html and "lipoprotein particles" in html
