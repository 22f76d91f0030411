"""The HTML reports in a real browser (Playwright driving Debian's Chromium, offline): every figure draws,
hovering a trace shows its value with its unit. Screenshots are kept in tests/artifacts/reports/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from tests.conftest import ROOT, matched

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts" / "reports"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    return page, errors, requests


def _hover_text(page, selector: str) -> str:
    """Move the mouse over the tallest bar of a figure's first trace; return the hover label's text."""
    points = page.locator(f"{selector} .trace").first.locator(".point path")
    page.locator(selector).scroll_into_view_if_needed()
    boxes = [points.nth(i).bounding_box() for i in range(points.count())]
    box = max((b for b in boxes if b), key=lambda b: b["height"])
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page.locator(f"{selector} .hoverlayer .hovertext").first
    label.wait_for(timeout=10_000)
    return label.text_content() or ""


def test_run_report_draws_and_hovers_a_value_with_its_unit(tmp_path, browser) -> None:
    report = tmp_path / "run.html"
    out = CliRunner().invoke(
        app, ["run", str(ROOT / "examples" / "stirred_tank_tff_sec.yaml"), "--report", str(report), "--json"]
    )
    assert out.exit_code == 0, out.output
    page, errors, requests = _open(browser, report)
    assert page.locator(".js-plotly-plot").count() >= 6
    text = _hover_text(page, "#fig-train")
    assert "particles" in text
    step = text.split("product EVs")[0].strip()
    number = float(matched(r"product EVs: ([0-9.e+]+)", text))
    data = page.evaluate("(() => { const d = document.getElementById('fig-train').data[0]; return [d.x, d.y]; })()")
    assert number == pytest.approx(dict(zip(*data, strict=True))[step], rel=1e-2)  # the value of the bar hovered
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#fig-train").screenshot(path=str(ARTIFACTS / "run_report_hover.png"))
    page.screenshot(path=str(ARTIFACTS / "run_report.png"), full_page=True)
    assert not errors, errors
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests  # nothing from the network


def test_monte_carlo_report_draws_and_hovers_a_histogram_bar(tmp_path, browser) -> None:
    report = tmp_path / "mc.html"
    out = CliRunner().invoke(
        app, ["mc", str(ROOT / "examples" / "stirred_tank_tff_sec.yaml"), "-n", "200", "--report", str(report)]
    )
    assert out.exit_code == 0, out.output
    page, errors, requests = _open(browser, report)
    text = _hover_text(page, "#fig-mc-histograms")
    assert "samples" in text and "USD" in text  # the first panel is cost per dose, in the run's currency
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#fig-mc-histograms").screenshot(path=str(ARTIFACTS / "mc_report_hover.png"))
    assert "Central run against the Monte Carlo median" in page.content()
    assert not errors, errors
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
