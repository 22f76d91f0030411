"""The Plotly figure builders: built from a run's data, linear where a fraction is shown, units in every hover."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import exoforge as xf
from exoforge.analysis.selection_demand import DemandCurve
from exoforge.report import analysis_figures, run_figures, selection_figures
from exoforge.report.html import ledger_quantity, render_report
from exoforge.report.plotly_html import plotly_js, unit_label
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def result():
    return xf.simulate(xf.load_scenario(ROOT / "examples" / "isolation_sec.yaml"))


def _hovers(fig) -> list[str]:
    return [t.hovertemplate for t in fig.data if t.hovertemplate]


def test_particles_through_the_train_are_on_a_linear_axis_with_each_steps_recovery(result) -> None:
    fig = run_figures.particles_through_train(result.steps)
    assert fig.layout.yaxis.type == "linear"
    product = fig.data[0]
    assert list(product.x) == ["harvest"] + [s["name"] for s in result.steps]
    assert product.text[1:] == tuple(f"{100 * s['recovery']:.0f} %" for s in result.steps)
    assert all("particles" in h for h in _hovers(fig))
    assert fig.layout.legend.y > 1  # the legend sits above the plot, never over the bars


def test_time_courses_show_every_state_with_units(result) -> None:
    fig = run_figures.time_courses(result.series)
    titles = [a.text for a in fig.layout.annotations]
    for name in ("viable cells", "glucose", "lactate", "ammonia", "dissolved O2", "EVs in medium"):
        assert any(name in t for t in titles), (name, titles)
    assert all(re.search(r"\[.+\]", t) for t in titles)  # every panel names its unit
    do = next(t for t in fig.data if "dissolved" in t.name)
    assert max(do.y) <= 100.0 and min(do.y) >= 0.0  # a percentage, linear axis


def test_size_distribution_before_and_after_isolation(result) -> None:
    sizes = result.size_profile
    d = np.array(sizes["diameter_nm"])
    product = np.array(sizes["product_particles_per_nm"])
    assert np.trapezoid(product, d) == pytest.approx(result.kpis["ev.final_particles"], rel=1e-6)
    kept = np.array(sizes["transmission"])
    assert kept.max() <= 1 and kept[d > 230].max() == 0.0  # the 0.22 um filter keeps nothing larger
    fig = run_figures.size_distribution(sizes)
    assert {t.name for t in fig.data} >= {"harvest (before isolation)", "product (after isolation)"}
    assert all("nm" in h for h in _hovers(fig))


def test_cost_figures_sum_to_the_batch_cost(result) -> None:
    fig = run_figures.cost_by_step(result.ledger, result.currency)
    total = sum(sum(t.x) for t in fig.data)
    assert total == pytest.approx(result.kpis["cost.per_batch"], rel=1e-9)
    cat = run_figures.cost_by_category(result.cost_breakdown, result.currency)
    assert sum(cat.data[0].x) == pytest.approx(result.kpis["cost.per_batch"], rel=1e-9)
    assert all("USD" in h for h in _hovers(fig) + _hovers(cat))


def test_sobol_figure_shows_confidence_intervals_on_a_linear_axis() -> None:
    rows = [("a", 0.5, 0.1, 0.7, 0.12), ("b", -0.05, 0.08, 1.2, 0.3)]
    fig = analysis_figures.sobol_indices(rows, "cost.per_dose")
    assert fig.layout.xaxis.type == "linear"
    total = next(t for t in fig.data if t.name == "total (ST)")
    assert list(total.error_x.array) == [0.3, 0.12] and list(total.x) == [1.2, 0.7]  # as estimated, outside [0, 1]
    assert all("95 % CI" in h for h in _hovers(fig))


def test_histograms_mark_median_percentiles_and_central_run() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(5, 1, 500)
    fig = analysis_figures.histograms({"cost.per_dose": x}, {"cost.per_dose": "USD"}, central={"cost.per_dose": 100.0})
    names = {t.name for t in fig.data}
    assert {"median", "5th percentile", "95th percentile", "central run"} <= names
    bars = fig.data[0]
    assert sum(bars.y) == 500 and "USD" in bars.hovertemplate


def test_demand_curves_skip_infeasible_points_and_show_each_facility_use() -> None:
    curves = [
        DemandCurve("stirred tank", "TFF + SEC", (100.0, 1000.0), (500.0, 80.0), ("15 L", "15 L")),
        DemandCurve("stacks", "UC", (100.0, 1000.0), (math.nan, math.nan), (None, None)),
        DemandCurve("any design", "", (100.0, 1000.0), (300.0, 70.0), ("a", "b"), "shared"),
    ]
    fig = selection_figures.cost_per_dose_vs_demand(curves)
    assert [t.name for t in fig.data] == ["stirred tank + TFF + SEC", "shared line, cheapest design"]


def test_run_report_embeds_plotly_inline_and_reads_like_a_report(result) -> None:
    html = render_report(result)
    assert plotly_js()[:2000] in html  # plotly.js from the installed package, inline
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)
    assert "Purity and lipoprotein carry-over" in html and "QC analyst" in html
    costs = html[html.index("<h2>Cost of goods") : html.index("<h2>Engineering checks")]
    assert "m**2" not in costs and "m²" in costs
    assert not re.search(r">\s*0\.\d+ each\s*<", costs)  # equipment is a share of its purchase, not 'each'
    equipment = next(row for row in result.ledger if row["category"] == "equipment")
    assert ledger_quantity(equipment).endswith("% of purchase")
    assert unit_label("m**2") == "m²"
