"""The workspace store on SQLite and PostgreSQL: migrations, revisions, runs, roles, tokens, audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from exoforge.store import audit, migrate
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import Store, open_store
from exoforge.store.errors import Conflict, Forbidden, ImmutableRecord, NotFound, TooManyJobs
from exoforge.store.hashing import content_hash
from exoforge.store.models import AuditEvent, Run, ScenarioRevision


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def team(store: Store) -> dict[str, Any]:
    """An administrator, two projects, and users with each role in project A."""
    secret = store.write(repo.bootstrap_admin)
    assert secret is not None
    with store.read() as s:
        admin = repo.authenticate(s, secret)
    assert admin is not None

    def setup(s):
        users = {name: repo.create_user(s, admin, name) for name in ("ann", "vic", "eve", "out")}
        return {k: repo.actor_for(u) for k, u in users.items()}

    actors = store.write(setup)
    a = store.write(lambda s: repo.create_project(s, actors["ann"], "A"))
    b = store.write(lambda s: repo.create_project(s, actors["out"], "B"))
    store.write(lambda s: repo.set_member(s, actors["ann"], a.id, actors["vic"].user_id, "viewer"))
    store.write(lambda s: repo.set_member(s, actors["ann"], a.id, actors["eve"].user_id, "editor"))
    return {"admin": admin, **actors, "A": a, "B": b}


def _record(rev: ScenarioRevision, result: dict[str, Any]) -> repo.RunRecord:
    return repo.RunRecord(
        status="succeeded",
        seed=1,
        exclude_refs=[],
        exoforge_version="test",
        evidence_hash="e" * 64,
        parameters=[{"name": "p", "value": 1.0}],
        result=result,
    )


def test_migrations_upgrade_empty_database_to_head_and_downgrade_one_step(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from exoforge.store.engine import make_engine
    from exoforge.store.models import Base

    engine = make_engine(db_url)
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    tables = set(inspect(engine).get_table_names())
    assert {"audit_log", "users", "api_tokens", "projects", "memberships", "scenarios", "scenario_revisions"} <= tables
    assert {"runs", "jobs", "datasets"} <= tables
    migrate.downgrade(engine)
    assert migrate.current(engine) != migrate.head()
    assert "heartbeat_at" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


def test_migrations_are_found_through_the_package() -> None:
    from importlib import resources

    root = resources.files("exoforge.store").joinpath("migrations")
    assert root.joinpath("env.py").is_file() and root.joinpath("script.py.mako").is_file()
    versions = [p.name for p in root.joinpath("versions").iterdir() if p.name[0].isdigit()]
    assert "0001_audit_log.py" in versions and len(versions) == len(set(versions))
    assert migrate.SCRIPT_LOCATION == "exoforge.store:migrations"


def test_sqlite_runs_in_wal_mode_in_the_user_data_folder(tmp_path, monkeypatch) -> None:
    from exoforge.store.config import ENV_VAR, database_url

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = database_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'exoforge' / 'exoforge.db'}"
    s = open_store()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    s.dispose()
    assert (tmp_path / "data" / "exoforge" / "exoforge.db").exists()
    assert database_url(environ={ENV_VAR: "postgresql://u@h/db"}) == "postgresql+psycopg://u@h/db"


def test_an_edit_makes_a_new_revision_and_identical_content_does_not(store: Store, team) -> None:
    ann = team["ann"]
    sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}, source_text="x: 1"))
    assert (r1.number, r1.content, r1.content_hash) == (1, {"x": 1}, content_hash({"x": 1}))
    r2, new = store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 2}, message="double x"))
    assert new and r2.number == 2
    same, new = store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 2}))
    assert not new and same.id == r2.id
    with pytest.raises(Conflict, match="at revision 2"):
        store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 3}, base_revision=1))
    with store.read() as s:
        revs = repo.list_revisions(s, ann, sc.id)
        assert [r.number for r in revs.items] == [2, 1] and revs.total == 2
        assert repo.get_revision(s, ann, sc.id, 1).content == {"x": 1}
        assert repo.get_revision(s, ann, sc.id).number == 2
        assert repo.get_scenario(s, ann, sc.id).head_revision == 2


def test_editing_a_scenario_never_changes_an_earlier_runs_record(store: Store, team) -> None:
    ann = team["ann"]
    sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))
    run = store.write(lambda s: repo.record_run(s, ann, r1, _record(r1, {"kpi": 1.5})))
    with store.read() as s:
        before = {c: getattr(repo.get_run(s, ann, run.id), c) for c in Run.__table__.columns.keys()}
    store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 2}))
    store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 3}))
    with store.read() as s:
        after = repo.get_run(s, ann, run.id)
        assert {c: getattr(after, c) for c in Run.__table__.columns.keys()} == before
        assert repo.revision_of(s, after).content == {"x": 1}
        assert after.result_hash == content_hash({"kpi": 1.5})


@pytest.mark.parametrize("model", [AuditEvent, ScenarioRevision, Run])
def test_permanent_records_cannot_be_changed_or_deleted_through_the_orm(store: Store, team, model) -> None:
    ann = team["ann"]
    _sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))
    store.write(lambda s: repo.record_run(s, ann, r1, _record(r1, {"kpi": 1.0})))
    column = {"AuditEvent": "reason", "ScenarioRevision": "message", "Run": "label"}[model.__name__]

    def change(s):
        obj = s.scalars(select(model).limit(1)).first()
        setattr(obj, column, "rewritten")

    def remove(s):
        s.delete(s.scalars(select(model).limit(1)).first())

    for work in (change, remove):
        with pytest.raises(ImmutableRecord):
            store.write(work)
    with pytest.raises(ImmutableRecord):
        store.write(lambda s: s.execute(update(model).values(**{column: "bulk"})))
    with pytest.raises(ImmutableRecord):
        store.write(lambda s: s.execute(delete(model)))


@pytest.mark.parametrize("table", ["audit_log", "scenario_revisions", "runs"])
def test_database_triggers_refuse_raw_sql_updates_and_deletes(store: Store, team, table) -> None:
    ann = team["ann"]
    _sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))
    store.write(lambda s: repo.record_run(s, ann, r1, _record(r1, {"kpi": 1.0})))
    column = {"audit_log": "reason", "scenario_revisions": "message", "runs": "label"}[table]
    for sql in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="permanent"), store.engine.begin() as conn:
            conn.execute(text(sql))
    if store.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="permanent"), store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    with store.read() as s:
        assert audit.verify(s).ok


def test_every_change_is_audited_with_who_what_and_a_verifiable_chain(store: Store, team) -> None:
    ann, a = team["ann"], team["A"]
    sc, _r1 = store.write(lambda s: repo.create_scenario(s, ann.with_request("req-1"), a.id, "S", {"x": 1}))
    store.write(lambda s: repo.edit_scenario(s, ann, sc.id, {"x": 2}, message="why: more x"))
    store.write(lambda s: repo.set_member(s, ann, a.id, team["vic"].user_id, "editor", reason="promoted"))
    store.write(lambda s: repo.archive_scenario(s, ann, sc.id, reason="obsolete"))
    with store.read() as s:
        entries = repo.list_audit(s, ann, project_id=a.id, limit=100).items
        kinds = [(e.action, e.entity) for e in reversed(entries)]
        assert kinds[-5:] == [
            ("create", "scenario"),
            ("create", "scenario_revision"),
            ("create", "scenario_revision"),
            ("update", "membership"),
            ("delete", "scenario"),
        ]
        by_kind = {(e.action, e.entity): e for e in entries}
        assert by_kind[("create", "scenario")].request_id == "req-1"
        assert by_kind[("update", "membership")].detail["role"] == {"old": "viewer", "new": "editor"}
        assert by_kind[("update", "membership")].reason == "promoted"
        assert all(e.actor_name == "ann" for e in entries[:5])
        report = audit.verify(s)
        assert report.ok and report.entries >= 10
        with pytest.raises(Forbidden):
            repo.list_audit(s, ann)  # the whole log: administrators only
        assert repo.list_audit(s, team["admin"]).total == report.entries


def test_a_rolled_back_transaction_leaves_no_audit_entry(store: Store, team) -> None:
    with store.read() as s:
        before = audit.verify(s).entries

    def fail(s):
        repo.create_project(s, team["ann"], "never")
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.write(fail)
    with store.read() as s:
        report = audit.verify(s)
        assert report.ok and report.entries == before


def test_audit_verification_detects_an_altered_entry(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    secret = store.write(repo.bootstrap_admin)
    assert secret
    with store.engine.begin() as conn:  # bypass every guard, as someone with the file could
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 1"))
    with store.read() as s:
        report = audit.verify(s)
    assert not report.ok and "entry 1: content does not match" in report.problems[0]
    store.dispose()


def test_another_projects_objects_are_invisible_and_viewers_cannot_write(store: Store, team) -> None:
    ann, vic, out, eve = team["ann"], team["vic"], team["out"], team["eve"]
    sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))
    run = store.write(lambda s: repo.record_run(s, ann, r1, _record(r1, {"k": 1})))
    with store.read() as s:
        for look in (
            lambda: repo.get_project(s, out, team["A"].id),
            lambda: repo.get_scenario(s, out, sc.id),
            lambda: repo.get_run(s, out, run.id),
            lambda: repo.list_runs(s, out, project_id=team["A"].id),
            lambda: repo.list_audit(s, out, project_id=team["A"].id),
        ):
            with pytest.raises(NotFound):
                look()
        assert repo.get_run(s, vic, run.id).id == run.id
        assert [p.name for p in repo.list_projects(s, out).items] == ["B"]
        assert repo.list_runs(s, out).total == 0
    with pytest.raises(NotFound):
        store.write(lambda s: repo.edit_scenario(s, out, sc.id, {"x": 9}))
    with pytest.raises(Forbidden):
        store.write(lambda s: repo.edit_scenario(s, vic, sc.id, {"x": 9}))
    with pytest.raises(Forbidden):
        store.write(lambda s: repo.create_scenario(s, vic, team["A"].id, "T", {}))
    with pytest.raises(Forbidden):
        store.write(lambda s: repo.set_member(s, eve, team["A"].id, out.user_id, "viewer"))
    rev, new = store.write(lambda s: repo.edit_scenario(s, eve, sc.id, {"x": 9}))
    assert new and rev.number == 2
    with pytest.raises(Conflict, match="at least one admin"):
        store.write(lambda s: repo.set_member(s, ann, team["A"].id, ann.user_id, "viewer"))


def test_tokens_are_stored_hashed_and_a_revoked_token_is_refused(store: Store, team) -> None:
    ann = team["ann"]
    token, secret = store.write(lambda s: repo.create_token(s, ann, "laptop"))
    with store.read() as s:
        assert repo.authenticate(s, secret) == Actor(ann.user_id, "ann")
        rows = s.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
        assert all(secret not in (h, p) for h, p in rows)
        assert repo.hash_token(secret) in {h for h, _ in rows}
        assert repo.authenticate(s, secret + "x") is None
        assert repo.authenticate(s, "not a token") is None
    store.write(lambda s: repo.revoke_token(s, ann, token.id))
    with store.read() as s:
        assert repo.authenticate(s, secret) is None
    with pytest.raises(NotFound):
        store.write(lambda s: repo.revoke_token(s, team["out"], token.id))
    with pytest.raises(Forbidden):
        store.write(lambda s: repo.create_token(s, ann, "for vic", user_id=team["vic"].user_id))
    assert store.write(repo.bootstrap_admin) is None  # only the first start creates an administrator


def test_jobs_queue_run_report_progress_and_cancel(store: Store, team) -> None:
    ann, vic = team["ann"], team["vic"]
    _sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))

    def start(s):
        return repo.create_job(
            s, ann, r1, "monte_carlo", {"n": 10}, exoforge_version="t", evidence_hash="e" * 64, max_active_per_user=2
        )

    j1, j2 = store.write(start), store.write(start)
    with pytest.raises(TooManyJobs):
        store.write(start)
    with pytest.raises(Forbidden):
        store.write(lambda s: repo.request_cancel(s, vic, j1.id))
    cancelled = store.write(lambda s: repo.request_cancel(s, ann, j2.id))
    assert cancelled.status == "cancelled"
    assert store.write(lambda s: repo.claim_job(s, j2.id)) is None
    running = store.write(lambda s: repo.claim_job(s, j1.id))
    assert running is not None and running.status == "running"
    assert store.write(lambda s: repo.claim_job(s, j1.id)) is None
    assert store.write(lambda s: repo.report_progress(s, j1.id, 0.5)) is False
    store.write(lambda s: repo.request_cancel(s, ann, j1.id))
    assert store.write(lambda s: repo.report_progress(s, j1.id, 0.75)) is True
    store.write(lambda s: repo.finish_job(s, j1.id, "cancelled"))
    with store.read() as s:
        job = repo.get_job(s, vic, j1.id)
        assert (job.status, job.progress) == ("cancelled", 0.75)
        assert repo.active_jobs(s) == 0
        kinds = [
            (e.action, e.entity_id) for e in repo.list_audit(s, ann, project_id=team["A"].id, entity_id=j1.id).items
        ]
        assert [k for k, _ in reversed(kinds)] == ["create", "start", "cancel", "finish"]
        with pytest.raises(NotFound):
            repo.get_job(s, team["out"], j1.id)


def test_migrations_and_web_files_are_package_data() -> None:
    """Every folder of the store, API and web code is a package, and every non-Python file in them
    matches a package-data pattern of pyproject.toml (so a wheel carries the migrations and pages)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["exoforge"]
    src = root / "src" / "exoforge"
    for area in ("store", "api", "web", "workspace"):
        for path in (src / area).rglob("*"):
            if "__pycache__" in path.parts:
                continue
            if path.is_dir():
                assert (path / "__init__.py").exists() or not any(path.glob("*.py")), f"{path} is not a package"
                continue
            if path.suffix == ".py":
                continue
            rel = path.relative_to(src).as_posix()
            assert any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.replace("**/", "")) for p in patterns), rel
    assert (src / "store" / "migrations" / "script.py.mako").exists()


def test_a_running_job_whose_worker_stopped_beating_is_failed_and_a_live_one_is_not(store: Store, team) -> None:
    from datetime import timedelta

    from exoforge.store.models import Job, utcnow

    ann = team["ann"]
    _sc, r1 = store.write(lambda s: repo.create_scenario(s, ann, team["A"].id, "S", {"x": 1}))

    def start(s):
        return repo.create_job(s, ann, r1, "monte_carlo", {"n": 10}, exoforge_version="t", evidence_hash="e" * 64)

    dead, alive = store.write(start), store.write(start)
    for job in (dead, alive):
        store.write(lambda s, j=job: repo.claim_job(s, j.id))  # type: ignore[misc]
    store.write(lambda s: s.get(Job, dead.id).__setattr__("heartbeat_at", utcnow() - timedelta(minutes=10)))
    store.write(lambda s: repo.heartbeat(s, alive.id))
    failed = store.write(lambda s: repo.fail_interrupted_jobs(s, stale_after_s=120))
    assert failed == [dead.id]
    with store.read() as s:
        assert repo.get_job(s, ann, dead.id).status == "failed"
        assert repo.get_job(s, ann, alive.id).status == "running"
