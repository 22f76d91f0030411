"""Measured batch data in the workspace: upload (kept byte for byte), read, download, access, and a fit job."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exoforge.api import Settings, create_app
from exoforge.scenario import read_mapping
from exoforge.store import repository as repo
from tests.conftest import ROOT

API = "/api/v1"
DATA = (ROOT / "examples" / "pilot_batches" / "batches.csv").read_bytes()
PILOT = read_mapping(ROOT / "examples" / "pilot_3l_stirred_tank.yaml")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('data') / 'data.db'}"
    app = create_app(Settings(database_url=url, job_backend="thread"))
    with TestClient(app) as client:
        store = app.state.services.store
        secret = store.write(repo.bootstrap_admin)
        admin = {"Authorization": f"Bearer {secret}"}
        tokens = {}
        for name in ("ann", "vic", "out"):
            user = client.post(f"{API}/users", json={"name": name}, headers=admin).json()
            tok = client.post(f"{API}/tokens", json={"name": "t", "user_id": user["id"]}, headers=admin).json()
            tokens[name] = {"Authorization": f"Bearer {tok['token']}", "id": user["id"]}
        ann = {"Authorization": tokens["ann"]["Authorization"]}
        project = client.post(f"{API}/projects", json={"name": "pilot"}, headers=ann).json()["id"]
        client.put(f"{API}/projects/{project}/members/{tokens['vic']['id']}", json={"role": "viewer"}, headers=ann)
        scenario = client.post(f"{API}/projects/{project}/scenarios", json={"content": PILOT}, headers=ann).json()
        yield {"client": client, "tokens": tokens, "project": project, "scenario": scenario["scenario"]["id"]}


def _headers(site: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": site["tokens"][who]["Authorization"]}


def _dataset(site: dict[str, Any]) -> str:
    """The project's dataset (uploaded here if this test process has none yet)."""
    client, ann = site["client"], _headers(site, "ann")
    items = client.get(f"{API}/projects/{site['project']}/datasets", headers=ann).json()["items"]
    if items:
        return str(items[0]["id"])
    r = client.post(f"{API}/projects/{site['project']}/datasets", headers=ann, files={"file": ("batches.csv", DATA)})
    return str(r.json()["id"])


def test_batch_data_are_kept_byte_for_byte_and_read(site) -> None:
    client, ann = site["client"], _headers(site, "ann")
    r = client.post(
        f"{API}/projects/{site['project']}/datasets",
        headers=ann,
        files={"file": ("../../batches.csv", DATA, "text/csv")},
    )
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["filename"] == "batches.csv" and ds["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert ds["summary"]["batches"] == ["B1", "B2", "B3"] and ds["summary"]["measurements"] > 100
    listed = client.get(f"{API}/projects/{site['project']}/datasets", headers=_headers(site, "vic")).json()
    assert ds["id"] in [d["id"] for d in listed["items"]]
    back = client.get(f"{API}/datasets/{ds['id']}/file", headers=_headers(site, "vic"))
    assert back.content == DATA and back.headers["x-content-sha256"] == ds["sha256"]
    audit = client.get(f"{API}/projects/{site['project']}/audit", headers=ann).json()["items"]
    assert audit[0]["entity"] == "dataset" and audit[0]["detail"]["sha256"] == ds["sha256"]


def test_a_file_that_is_not_batch_data_is_refused_with_located_problems(site) -> None:
    client, ann = site["client"], _headers(site, "ann")
    bad = b"batch,time,variable,value,unit\nB1,3,glucose,abc,mM\n"
    r = client.post(f"{API}/projects/{site['project']}/datasets", headers=ann, files={"file": ("runs.csv", bad)})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert any("runs.csv: line 2" in e["message"] for e in r.json()["errors"])
    pdf = client.post(f"{API}/projects/{site['project']}/datasets", headers=ann, files={"file": ("x.pdf", b"%PDF")})
    assert pdf.status_code == 422


def test_datasets_follow_the_project_roles(site) -> None:
    client = site["client"]
    vic, out = _headers(site, "vic"), _headers(site, "out")
    r = client.post(f"{API}/projects/{site['project']}/datasets", headers=vic, files={"file": ("b.csv", DATA)})
    assert r.status_code == 403
    ds = (
        site.get("dataset")
        or client.get(f"{API}/projects/{site['project']}/datasets", headers=vic).json()["items"][0]["id"]
    )
    for path in (f"/datasets/{ds}", f"/datasets/{ds}/file", f"/projects/{site['project']}/datasets"):
        assert client.get(API + path, headers=out).status_code == 404
    assert (
        client.post(
            f"{API}/projects/{site['project']}/datasets", headers=out, files={"file": ("b.csv", DATA)}
        ).status_code
        == 404
    )


@pytest.mark.slow
def test_a_fit_job_estimates_the_parameters_of_the_uploaded_batches(site) -> None:
    client, ann = site["client"], _headers(site, "ann")
    ds = _dataset(site)
    r = client.post(f"{API}/scenarios/{site['scenario']}/analyses", headers=ann, json={"kind": "fit", "dataset_id": ds})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    end = time.monotonic() + 600
    while time.monotonic() < end:
        job = client.get(f"{API}/jobs/{job_id}", headers=ann).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["dataset_id"] == ds and result["data_files"][0]["path"] == "batches.csv"
    growth = next(p for p in result["parameters"] if p["name"] == "growth_rate_max")
    # the synthetic pilot batches were made at 0.70 /day in platelet-lysate medium, growth_rate_max 0.589 plus
    # the medium's 0.111 (examples/pilot_batches/make_pilot_data.py)
    assert growth["low_95"] < 0.589 * 1.1 and growth["high_95"] > 0.589 * 0.9
    missing = client.post(
        f"{API}/scenarios/{site['scenario']}/analyses", headers=ann, json={"kind": "fit", "dataset_id": "0" * 32}
    )
    assert missing.status_code == 404
