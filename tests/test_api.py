"""The REST API: every route, with its authorisation failures (another project's objects are invisible,
viewers cannot write, a revoked token is refused), limits, problem details and the audit log's immutability."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exoforge.api import Settings, create_app
from exoforge.scenario import read_mapping
from exoforge.store import repository as repo
from exoforge.store.models import User
from tests.conftest import ROOT

EXAMPLE = read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
API = "/api/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with an administrator, users with each role in project A, an outsider owning project B,
    a scenario with one run, and a finished Monte Carlo job."""
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    settings = Settings(
        database_url=url, job_backend="thread", max_active_jobs_per_user=2, mc_max_n=2000, max_body_bytes=200_000
    )
    app = create_app(settings)
    with TestClient(app) as client:
        store = app.state.services.store
        admin_secret = store.write(repo.bootstrap_admin)
        w: dict[str, Any] = {"client": client, "store": store, "tokens": {"admin": admin_secret}, "users": {}}
        for name in ("ann", "vic", "eve", "out"):
            r = client.post(f"{API}/users", json={"name": name}, headers=auth(admin_secret))
            assert r.status_code == 201, r.text
            w["users"][name] = r.json()["id"]
            t = client.post(f"{API}/tokens", json={"name": "t", "user_id": r.json()["id"]}, headers=auth(admin_secret))
            assert t.status_code == 201
            w["tokens"][name] = t.json()["token"]
        a = client.post(f"{API}/projects", json={"name": "A"}, headers=auth(w["tokens"]["ann"])).json()
        b = client.post(f"{API}/projects", json={"name": "B"}, headers=auth(w["tokens"]["out"])).json()
        for user, role in (("vic", "viewer"), ("eve", "editor")):
            r = client.put(
                f"{API}/projects/{a['id']}/members/{w['users'][user]}",
                json={"role": role},
                headers=auth(w["tokens"]["ann"]),
            )
            assert r.status_code == 200, r.text
        sc = client.post(
            f"{API}/projects/{a['id']}/scenarios", json={"content": EXAMPLE}, headers=auth(w["tokens"]["ann"])
        )
        assert sc.status_code == 201, sc.text
        run = client.post(
            f"{API}/scenarios/{sc.json()['scenario']['id']}/runs", json={"seed": 5}, headers=auth(w["tokens"]["ann"])
        )
        assert run.status_code == 201, run.text
        job = client.post(
            f"{API}/scenarios/{sc.json()['scenario']['id']}/analyses",
            json={"kind": "monte_carlo", "n": 64, "seed": 2},
            headers=auth(w["tokens"]["ann"]),
        )
        assert job.status_code == 202, job.text
        w.update(A=a["id"], B=b["id"], scenario=sc.json()["scenario"]["id"], run=run.json()["id"], job=job.json()["id"])
        w["job_done"] = wait_for_job(client, w["job"], w["tokens"]["ann"])
        yield w


def wait_for_job(client: TestClient, job_id: str, token: str, timeout: float = 300) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"{API}/jobs/{job_id}", headers=auth(token)).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def fill(path: str, w: dict[str, Any]) -> str:
    values = {
        "project_id": w["A"],
        "scenario_id": w["scenario"],
        "run_id": w["run"],
        "job_id": w["job"],
        "user_id": w["users"]["vic"],
        "token_id": "0" * 32,
        "dataset_id": "0" * 32,
        "number": "1",
        "name": "samples" if "/jobs/" in path else "time_courses",
        "record_id": "__record__",
        "strategy_id": "hypoxia",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def api_routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get(f"{API}/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


# --------------------------------------------------------------------------- authentication


def test_every_route_but_health_needs_a_token_and_a_revoked_token_is_refused(world) -> None:
    client = world["client"]
    token, secret = world["store"].write(
        lambda s: repo.create_token(s, repo.actor_for(s.get(User, world["users"]["eve"])), "soon revoked")
    )
    assert client.get(f"{API}/me", headers=auth(secret)).status_code == 200
    r = client.delete(f"{API}/tokens/{token.id}", headers=auth(secret))
    assert r.status_code == 204
    routes = api_routes(client)
    assert len(routes) >= 30
    for method, path in routes:
        url = fill(path, world)
        for headers in ({}, auth(secret), auth("xf_not-a-token"), {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            r = client.request(method, url, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None)
            if path == f"{API}/health":
                assert r.status_code == 200
                continue
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == 401 and "Traceback" not in r.text


# --------------------------------------------------------------------------- every route, as the owner


def test_every_route_answers_a_member_with_the_right_role(world) -> None:
    client, w = world["client"], world
    ann, admin = auth(w["tokens"]["ann"]), auth(w["tokens"]["admin"])
    seen: set[tuple[str, str]] = set()

    def call(method: str, path: str, headers: dict[str, str], expect: int, **kw: Any) -> Any:
        r = client.request(method, API + path, headers=headers, **kw)
        assert r.status_code == expect, (method, path, r.status_code, r.text[:500])
        seen.add((method, path.split("?")[0]))
        return r

    assert call("GET", "/health", {}, 200).json()["status"] == "ok"
    assert call("GET", "/me", ann, 200).json()["name"] == "ann"
    assert call("GET", "/users", admin, 200).json()["total"] == 5
    assert call("POST", "/users", admin, 201, json={"name": "zed"}).json()["is_admin"] is False
    assert call("GET", "/tokens", ann, 200).json()["total"] >= 1
    tok = call("POST", "/tokens", ann, 201, json={"name": "laptop"}).json()
    assert tok["token"].startswith("xf_") and tok["prefix"] == tok["token"][:9]
    call("DELETE", f"/tokens/{tok['id']}", ann, 204)
    assert call("GET", "/audit", admin, 200).json()["total"] > 10
    assert call("GET", "/audit/verify", admin, 200).json()["ok"] is True

    p = call("POST", "/projects", ann, 201, json={"name": "C", "description": "scratch"}).json()
    assert p["role"] == "admin"
    assert call("GET", "/projects", ann, 200).json()["total"] >= 2
    assert call("GET", f"/projects/{p['id']}", ann, 200).json()["name"] == "C"
    assert (
        call("PATCH", f"/projects/{p['id']}", ann, 200, json={"name": "C2", "reason": "rename"}).json()["name"] == "C2"
    )
    call("PUT", f"/projects/{p['id']}/members/{w['users']['vic']}", ann, 200, json={"role": "viewer"})
    assert {m["name"] for m in call("GET", f"/projects/{p['id']}/members", ann, 200).json()} == {"ann", "vic"}
    call("DELETE", f"/projects/{p['id']}/members/{w['users']['vic']}", ann, 204)
    audit = call("GET", f"/projects/{p['id']}/audit", ann, 200).json()
    assert [e["action"] for e in audit["items"]][:4] == ["delete", "create", "update", "create"]

    v = call("POST", "/scenarios/validate", ann, 200, json={"content": EXAMPLE}).json()
    assert v == {"valid": True, "errors": []}
    sc = call("POST", f"/projects/{p['id']}/scenarios", ann, 201, json={"content": EXAMPLE, "name": "S"}).json()
    sid = sc["scenario"]["id"]
    assert call("GET", f"/projects/{p['id']}/scenarios", ann, 200).json()["total"] == 1
    assert call("GET", f"/scenarios/{sid}", ann, 200).json()["head_revision"] == 1
    edited = dict(EXAMPLE, name="S edited")
    e = call("PUT", f"/scenarios/{sid}", ann, 200, json={"content": edited, "base_revision": 1}).json()
    assert e["created"] and e["revision"]["number"] == 2
    assert call("GET", f"/scenarios/{sid}/revisions", ann, 200).json()["total"] == 2
    assert call("GET", f"/scenarios/{sid}/revisions/1", ann, 200).json()["content"] == EXAMPLE
    run = call("POST", f"/scenarios/{sid}/runs", ann, 201, json={"revision": 1, "seed": 3}).json()
    assert run["status"] == "succeeded" and run["revision_number"] == 1
    assert call("GET", f"/projects/{p['id']}/runs", ann, 200).json()["items"][0]["id"] == run["id"]
    assert call("GET", f"/projects/{p['id']}/runs?scenario_id={sid}", ann, 200).json()["total"] == 1
    got = call("GET", f"/runs/{run['id']}", ann, 200).json()
    assert got["result"]["cost"]["per_dose"] > 0 and len(got["evidence_hash"]) == 64
    rr = call("POST", f"/runs/{run['id']}/rerun", ann, 201).json()
    assert rr["identical"] is True and rr["original"] == run["id"]
    cmp = call("GET", f"/runs/compare?ids={run['id']}&ids={w['run']}", ann, 200).json()
    assert len(cmp["runs"]) == 2 and any(r["differs"] for r in cmp["kpis"]) is False
    assert call("GET", f"/runs/{run['id']}/export.json", ann, 200).json()["id"] == run["id"]
    assert call("GET", f"/runs/{run['id']}/export.csv", ann, 200).text.startswith("key,value,currency")
    assert "<html" in call("GET", f"/runs/{run['id']}/export.html", ann, 200).text.lower()
    assert call("GET", f"/runs/{run['id']}/export.xlsx", ann, 200).content[:2] == b"PK"
    plot = call("GET", f"/runs/{run['id']}/plots/time_courses", ann, 200).json()
    assert plot["columns"][0] == {"name": "time_day", "unit": "day", "label": "time"}
    job = call(
        "POST", f"/scenarios/{sid}/analyses", ann, 202, json={"kind": "sensitivity", "methods": ["tornado"], "n": 4}
    ).json()
    assert call("GET", f"/jobs/{job['id']}", ann, 200).json()["kind"] == "sensitivity"
    done = wait_for_job(client, job["id"], w["tokens"]["ann"])
    assert done["status"] == "succeeded", done
    assert call("GET", f"/projects/{p['id']}/jobs", ann, 200).json()["total"] == 1
    assert call("GET", f"/jobs/{job['id']}/plots/tornado", ann, 200).json()["rows"]
    call("POST", f"/jobs/{job['id']}/cancel", ann, 409)
    data = (ROOT / "examples" / "pilot_batches" / "batches.csv").read_bytes()
    ds = call("POST", f"/projects/{p['id']}/datasets", ann, 201, files={"file": ("batches.csv", data)}).json()
    assert call("GET", f"/projects/{p['id']}/datasets", ann, 200).json()["total"] == 1
    assert call("GET", f"/datasets/{ds['id']}", ann, 200).json()["sha256"] == ds["sha256"]
    assert call("GET", f"/datasets/{ds['id']}/file", ann, 200).content == data
    call("DELETE", f"/scenarios/{sid}", ann, 204)
    call("DELETE", f"/projects/{p['id']}", ann, 204)

    assert call("GET", "/evidence/records?strategy=hypoxia", ann, 200).json()["total"] >= 1
    rid = call("GET", "/evidence/records?limit=1", ann, 200).json()["items"][0]["id"]
    assert call("GET", f"/evidence/records/{rid}", ann, 200).json()["id"] == rid
    assert any(s["id"] == "hypoxia" for s in call("GET", "/evidence/strategies", ann, 200).json())
    assert call("GET", "/evidence/strategies/hypoxia/pool", ann, 200).json()["strategy"] == "hypoxia"
    effect = call("GET", "/evidence/strategies/spheroid/effect", ann, 200).json()
    assert effect["low_95"] < effect["median"] < effect["high_95"] and effect["family"] == "dynamic_3d_culture"
    assert {s["study"] for s in effect["studies"]} == {"Kim JY 2022", "Yuan X 2022"}
    assert effect["shared_arms"][0]["other"] == "tnfa_ifng_priming" and effect["shared_arms"][0]["covariance"] < 0
    assert effect["shared_arms"][0]["study_correlation"] == -0.5
    assert {r["study"] for r in effect["rests_on"]} >= {"Kim JY 2022", "Yuan X 2022", "Kronstadt SM 2022"}
    assert [r["preprint"] for r in effect["rests_on"] if r["study"] == "Kronstadt SM 2022"] == [True]
    call("GET", "/evidence/strategies/no_such_strategy/effect", ann, 404)

    templates = api_routes(client)

    def template(method: str, path: str) -> tuple[str, str] | None:
        for m, t in templates:
            if m == method and re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)), API + path):
                return (m, t)
        return None

    exercised = {template(m, p) for m, p in seen}
    missing = sorted(set(templates) - exercised)
    assert not missing, f"routes not exercised: {missing}"


# --------------------------------------------------------------------------- authorisation


def test_another_projects_objects_are_invisible(world) -> None:
    client, out = world["client"], auth(world["tokens"]["out"])
    for method, path in api_routes(client):
        if not any(k in path for k in ("{project_id}", "{scenario_id}", "{run_id}", "{job_id}")):
            continue
        if path.endswith("/datasets") and method == "POST":
            r = client.post(fill(path, world), headers=out, files={"file": ("b.csv", b"batch,time\n")})
            assert r.status_code == 404, (method, path, r.status_code)
            continue
        r = client.request(method, fill(path, world), headers=out, json={"role": "viewer"} if "members" in path else {})
        assert r.status_code in (404, 422), (method, path, r.status_code)
        if r.status_code == 422:  # a body the route refuses before it looks the object up
            body = {"kind": "monte_carlo", "n": 2} if path.endswith("/analyses") else {"content": EXAMPLE}
            r = client.request(method, fill(path, world), headers=out, json=body)
            assert r.status_code == 404, (method, path, r.status_code)
        assert r.json()["status"] == 404 and "'A'" not in r.json()["detail"]
    r = client.get(f"{API}/runs/compare?ids={world['run']}&ids={world['run']}", headers=out)
    assert r.status_code == 404
    assert all(p["name"] != "A" for p in client.get(f"{API}/projects", headers=out).json()["items"])


def test_viewers_cannot_write_and_editors_cannot_manage_members(world) -> None:
    client, vic, eve = world["client"], auth(world["tokens"]["vic"]), auth(world["tokens"]["eve"])
    sid, a = world["scenario"], world["A"]
    assert client.get(f"{API}/runs/{world['run']}", headers=vic).status_code == 200
    writes = [
        ("PUT", f"/scenarios/{sid}", {"content": dict(EXAMPLE, name="viewer edit")}),
        ("POST", f"/projects/{a}/scenarios", {"content": EXAMPLE}),
        ("POST", f"/scenarios/{sid}/runs", {}),
        ("POST", f"/scenarios/{sid}/analyses", {"kind": "monte_carlo", "n": 2}),
        ("DELETE", f"/scenarios/{sid}", None),
        ("POST", f"/runs/{world['run']}/rerun", None),
        ("POST", f"/jobs/{world['job']}/cancel", None),
        ("PATCH", f"/projects/{a}", {"name": "x"}),
        ("PUT", f"/projects/{a}/members/{world['users']['out']}", {"role": "admin"}),
        ("DELETE", f"/projects/{a}/members/{world['users']['eve']}", None),
        ("DELETE", f"/projects/{a}", None),
    ]
    for method, path, body in writes:
        r = client.request(method, API + path, headers=vic, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    for method, path, body in writes[7:]:
        assert client.request(method, API + path, headers=eve, json=body).status_code == 403
    assert client.get(f"{API}/users", headers=vic).status_code == 403
    assert client.post(f"{API}/users", headers=vic, json={"name": "x"}).status_code == 403
    assert client.get(f"{API}/audit", headers=vic).status_code == 403


def test_the_audit_log_cannot_be_changed_or_deleted_through_the_api(world) -> None:
    client, admin = world["client"], auth(world["tokens"]["admin"])
    first = client.get(f"{API}/audit?limit=1", headers=admin).json()["items"][0]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/audit", f"/audit/{first['seq']}", f"/projects/{world['A']}/audit"):
            r = client.request(method, API + path, headers=admin, json={"reason": "tamper"})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    again = client.get(f"{API}/audit?limit=100", headers=admin).json()["items"]
    assert next(e for e in again if e["seq"] == first["seq"]) == first
    assert client.get(f"{API}/audit/verify", headers=admin).json()["ok"] is True


# --------------------------------------------------------------------------- behaviour


def test_editing_a_scenario_never_changes_an_earlier_runs_record(world) -> None:
    client, ann = world["client"], auth(world["tokens"]["ann"])
    before = client.get(f"{API}/runs/{world['run']}", headers=ann).json()
    r = client.put(
        f"{API}/scenarios/{world['scenario']}",
        headers=ann,
        json={"content": dict(EXAMPLE, name="changed after the run"), "message": "rename"},
    )
    assert r.status_code == 200 and r.json()["created"]
    after = client.get(f"{API}/runs/{world['run']}", headers=ann).json()
    assert after == before and after["revision_number"] == 1
    rev1 = client.get(f"{API}/scenarios/{world['scenario']}/revisions/1", headers=ann).json()
    assert rev1["content"] == EXAMPLE


def test_invalid_scenarios_are_refused_with_problems_by_key_path(world) -> None:
    client, ann = world["client"], auth(world["tokens"]["ann"])
    bad = client.post(
        f"{API}/scenarios/validate",
        headers=ann,
        json={"yaml": "schema_version: 1\nname: x\ncell_source: bm_msc\nexpansion: {platform: stired_tank}\n"},
    )
    assert bad.status_code == 200 and bad.json()["valid"] is False
    paths = [e["path"] for e in bad.json()["errors"]]
    assert "expansion.platform" in paths and "isolation" in paths
    r = client.post(
        f"{API}/projects/{world['A']}/scenarios", headers=ann, json={"content": dict(EXAMPLE, cell_source="bone")}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["path"] == "cell_source"
    syntax = client.post(f"{API}/scenarios/validate", headers=ann, json={"yaml": "a: [1, 2"})
    assert syntax.json()["valid"] is False
    both = client.post(f"{API}/scenarios/validate", headers=ann, json={"yaml": "a: 1", "content": {}})
    assert both.json()["errors"][0]["path"] == "(body)"
    extra = client.post(f"{API}/projects", headers=ann, json={"name": "x", "owner_id": "y"})
    assert extra.status_code == 422 and extra.json()["errors"][0]["path"] == "body.owner_id"


def test_limits_pagination_body_size_n_and_concurrent_jobs(world) -> None:
    client, ann, eve = world["client"], auth(world["tokens"]["ann"]), auth(world["tokens"]["eve"])
    assert client.get(f"{API}/projects?limit=101", headers=ann).status_code == 422
    page = client.get(f"{API}/evidence/records?limit=2&offset=1", headers=ann).json()
    assert len(page["items"]) == 2 and page["offset"] == 1 and page["total"] > 2
    big = client.post(f"{API}/scenarios/validate", headers=ann, json={"yaml": "x" * 300_000})
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
    too_many = client.post(
        f"{API}/scenarios/{world['scenario']}/analyses", headers=ann, json={"kind": "monte_carlo", "n": 2001}
    )
    assert too_many.status_code == 422 and "cap" in too_many.json()["detail"]
    client.app.state.services.runner = None  # hold jobs in the queue
    try:
        started = [
            client.post(
                f"{API}/scenarios/{world['scenario']}/analyses", headers=eve, json={"kind": "monte_carlo", "n": 8}
            )
            for _ in range(3)
        ]
        assert [r.status_code for r in started] == [202, 202, 429]
        assert started[2].headers["retry-after"] == "10"
        for r in started[:2]:
            c = client.post(f"{API}/jobs/{r.json()['id']}/cancel", headers=eve, json={"reason": "test"})
            assert c.json()["status"] == "cancelled"
    finally:
        from exoforge.workspace.jobs import JobRunner

        client.app.state.services.runner = JobRunner(client.app.state.services.store.url, 1, "thread")


def test_a_monte_carlo_job_reports_progress_finishes_and_its_plot_data_downloads(world) -> None:
    client, ann = world["client"], auth(world["tokens"]["ann"])
    job = world["job_done"]
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["result"]["n"] == 64 and job["result"]["seed"] == 2
    assert "cost.per_dose" in job["result"]["samples"] and "cost.per_dose" in job["result"]["tornado"]
    assert len(job["result"]["samples"]["cost.per_dose"]) == job["result"]["valid"]
    samples = client.get(f"{API}/jobs/{world['job']}/plots/samples", headers=ann).json()
    column = [c["name"] for c in samples["columns"]].index("cost.per_dose")
    assert samples["columns"][column]["unit"] == "USD"
    values = [r[column] for r in samples["rows"]]
    assert values == job["result"]["samples"]["cost.per_dose"]
    assert min(values) <= job["result"]["kpis"]["cost.per_dose"]["median"] <= max(values)
    csv_text = client.get(f"{API}/jobs/{world['job']}/plots/tornado?format=csv", headers=ann).text
    assert csv_text.startswith("kpi,unit,parameter,base,at_p5,at_p95")


def test_a_running_job_can_be_cancelled(world) -> None:
    client, ann = world["client"], auth(world["tokens"]["ann"])
    r = client.post(
        f"{API}/scenarios/{world['scenario']}/analyses", headers=ann, json={"kind": "monte_carlo", "n": 2000, "seed": 9}
    )
    assert r.status_code == 202
    job_id = r.json()["id"]
    end = time.monotonic() + 120
    while client.get(f"{API}/jobs/{job_id}", headers=ann).json()["status"] == "queued" and time.monotonic() < end:
        time.sleep(0.05)
    c = client.post(f"{API}/jobs/{job_id}/cancel", headers=ann)
    assert c.status_code in (200, 409)
    final = wait_for_job(client, job_id, ann["Authorization"].split()[1])
    assert final["status"] in ("cancelled", "succeeded")
    if c.status_code == 200:
        assert final["status"] == "cancelled" and final["cancel_requested"]


def test_errors_are_problem_details_never_a_stack_trace(world) -> None:
    client, ann = world["client"], auth(world["tokens"]["ann"])
    for r in (
        client.get(f"{API}/runs/{'f' * 32}", headers=ann),
        client.get(f"{API}/runs/not-an-id", headers=ann),
        client.get(f"{API}/nowhere", headers=ann),
        client.post(
            f"{API}/projects",
            headers=ann,
            content=b"{not json",
        ),
    ):
        assert r.headers["content-type"] == "application/problem+json", r.text
        body = r.json()
        assert set(body) >= {"type", "title", "status", "detail"} and "Traceback" not in r.text
    assert client.get(f"{API}/health").headers["x-request-id"]
    r = client.post(f"{API}/projects", headers={**ann, "X-Request-ID": "trace-me-1"}, json={"name": "traced"})
    assert r.headers["x-request-id"] == "trace-me-1"
    admin = auth(world["tokens"]["admin"])
    entry = client.get(f"{API}/audit?limit=1", headers=admin).json()["items"][0]
    assert entry["request_id"] == "trace-me-1" and entry["entity"] == "project"
