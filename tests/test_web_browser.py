"""The workspace in a real browser: Debian's Chromium, headless, driven by Playwright against `exoforge serve`.

Create a scenario, fix a validation error, run it, see the KPIs and a plot, start a Monte Carlo job
and watch it finish, compare two runs. Screenshots go to tests/artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
YAML = (ROOT / "examples" / "stirred_tank_tff_sec.yaml").read_text()

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    port = _free_port()
    db = tmp_path_factory.mktemp("browser") / "workspace.db"
    env = {**os.environ, "EXOFORGE_DATABASE_URL": f"sqlite:///{db}"}
    exe = Path(sys.executable).with_name("exoforge")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    token = None
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"(xf_[A-Za-z0-9_-]+)", line)
        token = found.group(1) if found else token
        if line.startswith("workspace:"):
            break
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    import httpx

    while time.monotonic() < end:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    assert token, "the first start prints the administrator's token"
    try:
        yield {"base": base, "token": token}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_create_fix_run_analyse_and_compare_in_chromium(server: dict[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=120_000)  # a loaded 2-core machine: simulations take seconds
    base = server["base"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(f"{base}/login")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.get_by_label("API token").fill(server["token"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()

        page.get_by_label("Name").fill("Pilot line")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_role("heading", name="Pilot line")).to_be_visible()

        # a scenario with a typo: the editor names the key path, live
        page.get_by_role("link", name="New scenario").click()
        editor = page.get_by_label("Scenario text")
        editor.fill(YAML.replace("platform: stirred_tank", "platform: stired_tank", 1))
        problems = page.locator("#problems")
        expect(problems).to_contain_text("expansion.platform")
        expect(problems).to_contain_text("did you mean 'stirred_tank'")
        page.screenshot(path=str(ARTIFACTS / "1-validation-error.png"), full_page=True)
        editor.fill(YAML)
        expect(problems).to_contain_text("The scenario is valid")
        page.get_by_role("button", name="Save scenario").click()
        expect(page.get_by_text("Revision 1 ·")).to_be_visible()
        scenario_url = page.url

        # run it: KPI cards and an interactive plot
        page.get_by_role("button", name="Run revision 1").click()
        expect(page.locator("#kpi-cards .card")).to_have_count(6)
        expect(page.locator("#kpi-cards")).to_contain_text("cost per dose")
        expect(page.locator("#fig-time_courses[data-rendered='true'] .main-svg").first).to_be_visible()
        expect(page.locator("#fig-particles[data-rendered='true']")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "2-run.png"), full_page=True)
        first_run = page.url

        # a Monte Carlo job, watched until it finishes
        page.goto(scenario_url)
        page.get_by_label("Monte Carlo samples").fill("256")
        page.get_by_role("button", name="Start Monte Carlo").click()
        expect(page.get_by_role("heading", name=re.compile("Monte Carlo"))).to_be_visible()
        expect(page.locator("#job-state")).to_have_text("succeeded", timeout=240_000)
        expect(page.locator("#fig-histograms[data-rendered='true'] .main-svg").first).to_be_visible()
        expect(page.locator("#fig-tornado-0[data-rendered='true']")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "3-monte-carlo.png"), full_page=True)

        # an edit makes revision 2; its run is compared with the first
        page.goto(scenario_url)
        page.get_by_label("Scenario text").fill(YAML.replace("days: 7", "days: 6", 1))
        expect(page.locator("#problems")).to_contain_text("The scenario is valid")
        page.get_by_label("What changed").fill("one day shorter expansion")
        page.get_by_role("button", name="Save as a new revision").click()
        expect(page.get_by_text("Revision 2 ·")).to_be_visible()
        page.get_by_role("button", name="Run revision 2").click()
        expect(page.locator("#kpi-cards .card")).to_have_count(6)
        page.get_by_label("Other run", exact=True).select_option(index=0)
        page.get_by_role("button", name="Compare", exact=True).click()
        expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
        expect(page.locator("tr.differs").first).to_be_visible()
        expect(page.locator("table.compare").last).to_contain_text("expansion.days")
        page.screenshot(path=str(ARTIFACTS / "4-compare.png"), full_page=True)
        assert first_run.rsplit("/", 1)[1][:8] in page.content()
        browser.close()
    assert len(list(ARTIFACTS.glob("*.png"))) >= 4
