"""Render the README's figures of the worked example (python examples/pilot_batches/make_figures.py).

Fits the pilot batches, predicts the 50 L process with and without the fit (Monte Carlo), runs the
measured-size example, and screenshots the Plotly figures with the Debian chromium through Playwright
(the interactive versions are in the HTML reports the README's commands write).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import exoforge as xf
from exoforge.analysis.calibration import CalibrationProblem, fit
from exoforge.analysis.parameter_file import fitted_parameters, write_parameter_file
from exoforge.measurements.table import read_batch_data
from exoforge.report import fit_report, size_plots

HERE = Path(__file__).parent
EXAMPLES = HERE.parent
OUT = HERE / "figures"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def prediction_figure(default: xf.MonteCarloResult, fitted: xf.MonteCarloResult) -> object:
    """EVs in the final product and cost per dose of the 50 L batch: literature defaults against the pilot fit."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=["EVs in the final product", "cost per released dose"])
    for col, (kpi, unit) in enumerate((("ev.final_particles", "particles"), ("cost.per_dose", "USD")), start=1):
        for name, mc, colour in (
            ("literature defaults", default, "#7f7f7f"),
            ("fitted to the pilot", fitted, "#1f77b4"),
        ):
            x = mc.kpis[kpi][mc.valid]
            p5, p25, med, p75, p95 = np.nanpercentile(x, [5, 25, 50, 75, 95])
            for lo, hi, width in ((p5, p95, 2), (p25, p75, 10)):
                fig.add_trace(
                    go.Scatter(
                        x=[name, name],
                        y=[lo, hi],
                        mode="lines",
                        line={"color": colour, "width": width},
                        showlegend=False,
                        hoverinfo="skip",
                    ),
                    row=1,
                    col=col,
                )
            fig.add_trace(
                go.Scatter(
                    x=[name],
                    y=[med],
                    mode="markers",
                    marker={"color": "white", "size": 9, "line": {"color": colour, "width": 2}},
                    showlegend=False,
                    hovertemplate=f"median %{{y:.3g}} {unit}<br>5th-95th percentile {p5:.3g}-{p95:.3g} {unit}"
                    f"<extra>{name}</extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_yaxes(type="log", title_text=f"{kpi} [{unit}]", row=1, col=col)
    fig.update_layout(
        height=420,
        width=950,
        margin={"t": 40, "l": 70, "r": 20, "b": 40},
        title={
            "text": "50 L batch, 2,000 Monte Carlo samples: median (circle), 25th-75th (bar) and 5th-95th "
            "percentile (line)",
            "font": {"size": 12},
            "y": 0.99,
        },
    )
    return fig


def screenshot(html_fragments: dict[str, str], folder: Path) -> None:
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        for name, fragment in html_fragments.items():
            path = Path(tmp) / f"{name}.html"
            path.write_text(f"<html><head><script>{get_plotlyjs()}</script></head><body>{fragment}</body></html>")
            page.goto(path.as_uri())
            page.wait_for_selector(".plotly-graph-div .main-svg")
            page.locator(".plotly-graph-div").first.screenshot(path=str(folder / f"{name}.png"))
        browser.close()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    data = read_batch_data([HERE / "batches.csv"])
    pilot = xf.load_scenario(EXAMPLES / "pilot_3l_stirred_tank.yaml")
    result = fit(CalibrationProblem(data, dict.fromkeys(data.batches, pilot)))
    large = xf.load_scenario(EXAMPLES / "production_50l_stirred_tank.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        pf = write_parameter_file(result, Path(tmp) / "fitted.yaml")
        fitted_ps = fitted_parameters(large, pf).params
    default = xf.monte_carlo(large, n=2000, seed=1)
    fitted = xf.monte_carlo(large, n=2000, seed=1, params=fitted_ps)
    measured = xf.simulate(xf.load_scenario(EXAMPLES / "pilot_3l_measured_size.yaml"))

    def div(fig: object, height: int | None = None) -> str:
        if height is not None:
            fig.update_layout(height=height, width=950)  # type: ignore[attr-defined]
        return str(fig.to_html(full_html=False, include_plotlyjs=False))  # type: ignore[attr-defined]

    bands = fit_report.time_course_bands(result)
    screenshot(
        {
            "fit": div(fit_report.fit_figure(result, bands), 1500),
            "residuals": div(fit_report.residual_figure(result), 360),
            "prediction_50l": div(prediction_figure(default, fitted)),
            "size": div(size_plots.size_figure(measured), 380),
        },
        OUT,
    )


if __name__ == "__main__":
    main()
