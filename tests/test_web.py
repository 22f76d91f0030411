"""The web pages, server-side: sign-in, every page, HTMX changes, the editor's live validation, offline scripts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exoforge.api import Settings, create_app
from exoforge.store import repository as repo
from tests.conftest import ROOT, matched

YAML = (ROOT / "examples" / "stirred_tank_tff_sec.yaml").read_text()
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}"
    app = create_app(Settings(database_url=url, job_backend="thread"))
    with TestClient(app) as client:
        secret = app.state.services.store.write(repo.bootstrap_admin)
        r = client.post("/login", data={"token": secret}, follow_redirects=False)
        assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        yield {"client": client, "secret": secret, "app": app}


def test_pages_need_a_signed_in_user(tmp_path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", job_backend="thread"))
    with TestClient(app) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert client.get("/login").status_code == 200
        bad = client.post("/login", data={"token": "xf_wrong"})
        assert bad.status_code == 401 and "not valid" in bad.text
        assert client.post("/projects", data={"name": "x"}, headers=HX).headers["hx-redirect"] == "/login"


def test_scripts_are_served_offline_from_the_package(site) -> None:
    client = site["client"]
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("var htmx=")
    assert "Zero-Clause BSD" in client.get("/static/htmx.LICENSE.txt").text
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page


def test_a_scenario_is_created_validated_live_run_and_compared(site) -> None:
    client = site["client"]
    r = client.post("/projects", data={"name": "Pilot"}, headers=HX)
    project = r.headers["hx-redirect"]
    assert client.get(project).status_code == 200
    new = client.get(f"{project}/scenarios/new")
    assert new.status_code == 200 and 'for="yaml"' in new.text
    broken = YAML.replace("platform: stirred_tank", "platform: stired_tank", 1)
    check = client.post("/web/validate", data={"yaml": broken}, headers=HX)
    assert "expansion.platform" in check.text and "stirred_tank" in check.text
    refused = client.post(f"{project}/scenarios", data={"yaml": broken}, headers=HX)
    assert "hx-redirect" not in refused.headers and "expansion.platform" in refused.text
    assert "The scenario is valid" in client.post("/web/validate", data={"yaml": YAML}, headers=HX).text
    saved = client.post(f"{project}/scenarios", data={"yaml": YAML, "message": "first"}, headers=HX)
    scenario = saved.headers["hx-redirect"]
    page = client.get(scenario).text
    assert "Revision 1" in page and "Run revision 1" in page
    run1 = client.post(f"{scenario}/run", data={"seed": "4"}, headers=HX).headers["hx-redirect"]
    run_page = client.get(run1).text
    for section in (
        "Key results",
        "Culture over time",
        "Particles through the isolation train",
        "Cost per batch by category",
        "Engineering checks",
        "Warnings",
        "Citations",
    ):
        assert section in run_page, section
    assert 'data-figure="fig-time_courses-spec"' in run_page and "/vendor/plotly.min.js" in run_page
    assert '<script type="application/json" id="fig-particles-spec">' in run_page
    assert "<script>" not in run_page  # no inline script: the content security policy forbids it
    edited = YAML.replace("days: 7", "days: 6", 1)
    head = matched(r'name="base_revision" value="(\d+)"', page)
    client.post(scenario, data={"yaml": edited, "base_revision": head}, headers=HX)
    run2 = client.post(f"{scenario}/run", headers=HX).headers["hx-redirect"]
    ids = [run1.rsplit("/", 1)[1], run2.rsplit("/", 1)[1]]
    cmp = client.get(f"/compare?ids={ids[0]}&ids={ids[1]}")
    assert cmp.status_code == 200 and 'class="differs"' in cmp.text and "expansion.days" in cmp.text
    assert client.get(f"/compare?ids={ids[0]}").status_code == 422
    assert client.get(f"{project}/audit").status_code == 200


def test_a_monte_carlo_job_page_polls_until_done(site) -> None:
    client = site["client"]
    project = client.post("/projects", data={"name": "MC"}, headers=HX).headers["hx-redirect"]
    scenario = client.post(f"{project}/scenarios", data={"yaml": YAML}, headers=HX).headers["hx-redirect"]
    job = client.post(f"{scenario}/analyses", data={"n": "32", "seed": "1"}, headers=HX).headers["hx-redirect"]
    assert "Progress" in client.get(job).text or "Results" in client.get(job).text
    end = time.monotonic() + 300
    while time.monotonic() < end:
        status = client.get(f"{job}/status")
        if status.headers.get("hx-refresh") == "true":
            break
        time.sleep(0.2)
    page = client.get(job).text
    assert "Distributions" in page and "Tornado: cost.per_dose" in page and "succeeded" in page
    assert 'id="fig-histograms-spec"' in page


def test_measured_data_upload_and_fit_from_the_pages(site) -> None:
    client = site["client"]
    project = client.post("/projects", data={"name": "Fits"}, headers=HX).headers["hx-redirect"]
    pilot = (ROOT / "examples" / "pilot_3l_stirred_tank.yaml").read_text()
    scenario = client.post(f"{project}/scenarios", data={"yaml": pilot}, headers=HX).headers["hx-redirect"]
    bad = client.post(f"{project}/datasets", files={"file": ("x.csv", b"batch,time\n1,2\n")}, headers=HX)
    assert "cannot be read as batch data" in bad.text
    data = (ROOT / "examples" / "pilot_batches" / "batches.csv").read_bytes()
    ok = client.post(f"{project}/datasets", files={"file": ("batches.csv", data)}, headers=HX)
    assert ok.headers["hx-redirect"] == project
    assert "B1, B2, B3" in client.get(project).text
    page = client.get(scenario).text
    assert "Start fit" in page
    dataset = matched(r'<option value="([0-9a-f]{32})">batches.csv', page)
    job = client.post(f"{scenario}/fit", data={"dataset_id": dataset}, headers=HX).headers["hx-redirect"]
    assert client.get(job).status_code == 200


def test_changes_without_htmx_are_refused(site) -> None:
    client = site["client"]
    r = client.post("/projects", data={"name": "forged"})
    assert r.status_code == 400 and "HTMX" in r.text
    assert "forged" not in client.get("/").text


def test_evidence_pages(site) -> None:
    client = site["client"]
    page = client.get("/evidence")
    assert page.status_code == 200 and "/evidence/hypoxia" in page.text
    # each secretion effect's multiplier and the study it leans on most (hypoxia: its null result)
    index = " ".join(page.text.split())
    assert "Leans most on" in index and "Almeria C 2019" in index and "Kronstadt SM 2022 (a preprint)" in index
    strategy = client.get("/evidence/microcarrier_stirred")
    assert strategy.status_code == 200 and 'id="fig-forest-spec"' in strategy.text
    # the published fold-changes, and the per-cell effect a run draws from them, with what it rests on
    text = " ".join(strategy.text.split())
    assert "What a run draws" in text and "partially pooled within the dynamic_3d_culture family" in text
    assert "Barekzai J 2023" in text and "its records disagree" in text
    assert "Shares a culture with microcarrier_spinner in Barekzai J 2023 (a common arm)" in text
    # what the multiplier rests on: each family study left out, the preprint named as one
    assert "What it rests on" in text and "Kronstadt SM 2022" in text and "(a preprint, not peer reviewed)" in text
    assert "No study of its own" in " ".join(client.get("/evidence/fixed_bed").text.split())
    growth_only = client.get("/evidence/cell_immortalisation")  # acts on growth, not on secretion
    assert growth_only.status_code == 200 and "What a run draws" not in growth_only.text
    pooled_only = client.get("/evidence/scaffold_perfusion")  # informs its family; no run applies it
    assert pooled_only.status_code == 200 and "Kronstadt SM 2022" in pooled_only.text
    assert "No run applies this strategy" in pooled_only.text and "Per-cell EV secretion" not in pooled_only.text
    assert "No run applies" not in strategy.text and "No run applies" not in growth_only.text
    assert client.get("/evidence/hypoxia").status_code == 200
    assert client.get("/evidence/no_such_strategy").status_code == 404


def test_pages_of_another_project_are_not_found(site) -> None:
    client, app = site["client"], site["app"]
    store = app.state.services.store
    with store.read() as s:
        admin = repo.authenticate(s, site["secret"])
    assert admin is not None
    other = store.write(lambda s: repo.create_user(s, admin, "stranger"))
    actor = repo.actor_for(other)
    project = store.write(lambda s: repo.create_project(s, actor, "Secret"))
    r = client.get(f"/projects/{project.id}")
    assert r.status_code == 404 and "Secret" not in r.text


def test_the_example_folder_loads_into_a_project_once(tmp_path) -> None:
    import shutil

    from exoforge.store.engine import open_store
    from exoforge.workspace.demo import load_folder

    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("stirred_tank_tff_sec.yaml", "platform_planar.yaml", "space_clinical_cost.yaml"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    (folder / "broken.yaml").write_text("schema_version: 1\nname: broken\n")
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    store.write(repo.bootstrap_admin)
    first = load_folder(store, folder)
    assert (first.scenarios, first.runs, first.skipped) == (2, 2, ["broken.yaml"])
    again = load_folder(store, folder)
    assert (again.project_id, again.scenarios, again.runs) == (first.project_id, 2, 0)
    store.dispose()
    makefile = (ROOT / "Makefile").read_text()
    assert "exoforge serve --examples examples" in makefile
