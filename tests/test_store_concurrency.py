"""Concurrent writers lose no write: 8 processes x 200 edits of one scenario, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest
from sqlalchemy import select

from exoforge.store import audit
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import open_store
from exoforge.store.hashing import content_hash
from exoforge.store.models import AuditEvent, ScenarioRevision

WRITERS = 8
EDITS = 200


def _writer(url: str, actor: Actor, scenario_id: str, writer: int, edits: int, start: Any) -> None:
    store = open_store(url, upgrade=False)
    start.wait(60)
    for i in range(edits):
        content = {"writer": writer, "edit": i}
        rev, new = store.write(lambda s, c=content: repo.edit_scenario(s, actor, scenario_id, c))  # type: ignore[misc]
        assert new, rev
    store.dispose()


@pytest.mark.slow
def test_eight_concurrent_writers_lose_no_edit(db_url: str) -> None:
    store = open_store(db_url)
    secret = store.write(repo.bootstrap_admin)
    assert secret
    with store.read() as s:
        admin = repo.authenticate(s, secret)
    assert admin is not None
    project = store.write(lambda s: repo.create_project(s, admin, "concurrency"))
    scenario, _ = store.write(lambda s: repo.create_scenario(s, admin, project.id, "shared", {"start": True}))
    with store.read() as s:
        audit_before = audit.verify(s).entries

    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs = [
        ctx.Process(target=_writer, args=(db_url, admin, scenario.id, w, EDITS, go), daemon=True)
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(600)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    with store.read() as s:
        revs = list(s.scalars(select(ScenarioRevision).where(ScenarioRevision.scenario_id == scenario.id)))
        numbers = sorted(r.number for r in revs)
        assert numbers == list(range(1, WRITERS * EDITS + 2)), "revision numbers unique and gap-free"
        written = {(r.content["writer"], r.content["edit"]) for r in revs if "writer" in r.content}
        assert written == {(w, i) for w in range(WRITERS) for i in range(EDITS)}, "every edit stored"
        assert all(r.content_hash == content_hash(r.content) for r in revs)
        assert repo.get_scenario(s, admin, scenario.id).head_revision == WRITERS * EDITS + 1
        logged = s.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.entity == "scenario_revision", AuditEvent.project_id == project.id
            )
        ).all()
        assert sorted(logged) == sorted(r.id for r in revs), "one audit entry per revision"
        report = audit.verify(s)
        assert report.ok, report.problems[:5]
        assert report.entries == audit_before + WRITERS * EDITS
    store.dispose()
