"""A server killed with SIGKILL in the middle of writes restarts with an intact database:
no partial revision, every acknowledged edit kept, revision numbers gap-free, the audit chain whole."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from exoforge.scenario import read_mapping
from exoforge.store.hashing import content_hash
from tests.conftest import ROOT

EXAMPLE = read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(url: str) -> tuple[subprocess.Popen[str], str, str | None]:
    port = _free_port()
    env = {**os.environ, "EXOFORGE_DATABASE_URL": url}
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
    while time.monotonic() < end:
        try:
            if httpx.get(f"{base}{API}/health", timeout=2).status_code == 200:
                return proc, base, token
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


@pytest.mark.slow
def test_a_server_killed_during_writes_restarts_intact(db_url: str) -> None:
    proc, base, token = _start(db_url)
    assert token is not None
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.post(f"{base}{API}/projects", json={"name": "crash"}, headers=headers).json()["id"]
    saved = httpx.post(f"{base}{API}/projects/{project}/scenarios", json={"content": EXAMPLE}, headers=headers)
    scenario = saved.json()["scenario"]["id"]
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(k: int) -> None:
        i = 0
        with httpx.Client(headers=headers, timeout=30) as client:
            while not stop.is_set():
                content: dict[str, Any] = dict(EXAMPLE, name=f"writer {k} edit {i}")
                try:
                    r = client.put(f"{base}{API}/scenarios/{scenario}", json={"content": content})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.append(content_hash(content))
                i += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    end = time.monotonic() + 120
    while len(acknowledged) < 40 and time.monotonic() < end:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 40

    proc, base, again = _start(db_url)
    try:
        assert again is None, "a restart creates no second administrator"
        revs: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = httpx.get(
                f"{base}{API}/scenarios/{scenario}/revisions?limit=100&offset={offset}", headers=headers
            ).json()
            revs += page["items"]
            offset += 100
            if offset >= page["total"]:
                break
        numbers = sorted(r["number"] for r in revs)
        assert numbers == list(range(1, len(revs) + 1)), "no gap, no partial revision"
        head = httpx.get(f"{base}{API}/scenarios/{scenario}", headers=headers).json()["head_revision"]
        assert head == len(revs)
        assert all(content_hash(r["content"]) == r["content_hash"] for r in revs), "every revision whole"
        stored = {r["content_hash"] for r in revs}
        assert set(acknowledged) <= stored, "every acknowledged edit survived"
        verify = httpx.get(f"{base}{API}/audit/verify", headers=headers).json()
        assert verify["ok"], verify["problems"][:5]
        entries: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = httpx.get(f"{base}{API}/projects/{project}/audit?limit=100&offset={offset}", headers=headers).json()
            entries += page["items"]
            offset += 100
            if offset >= page["total"]:
                break
        logged = sorted(e["entity_id"] for e in entries if e["entity"] == "scenario_revision")
        assert logged == sorted(r["id"] for r in revs), "exactly one audit entry per revision"
        ok = httpx.put(
            f"{base}{API}/scenarios/{scenario}", json={"content": dict(EXAMPLE, name="after")}, headers=headers
        )
        assert ok.status_code == 200 and ok.json()["revision"]["number"] == head + 1
    finally:
        proc.terminate()
        proc.wait(30)
    if db_url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
