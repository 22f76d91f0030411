"""Database fixtures of the workspace tests: a fresh SQLite file or a fresh PostgreSQL database.

PostgreSQL: ``EXOFORGE_TEST_POSTGRES_URL`` names a server to use (a database is created per
test); otherwise a throw-away cluster is started with the distribution's ``initdb`` and
``pg_ctl`` (run as the ``postgres`` user when the tests run as root, which PostgreSQL refuses),
listening on a Unix socket only, and removed at the end. Without PostgreSQL binaries the
PostgreSQL cases are skipped, unless ``EXOFORGE_REQUIRE_POSTGRES=1`` (continuous integration),
which turns a missing server into a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _missing(reason: str) -> None:
    if os.environ.get("EXOFORGE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (EXOFORGE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of the ``postgres`` database of a running server (started here if needed)."""
    given = os.environ.get("EXOFORGE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        _missing("initdb/pg_ctl were not found")
    assert initdb is not None and pg_ctl is not None
    root = Path(tempfile.mkdtemp(prefix="exoforge-pg-"))
    root.chmod(0o755)
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    init = subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]),
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        _missing(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = (
        f"-k {root} -c listen_addresses='' -p 5432 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
    )
    start = subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]),
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        text = log.read_text() if log.exists() else start.stderr
        shutil.rmtree(root, ignore_errors=True)
        _missing(f"the server did not start: {text.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}&port=5432"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, check=False
        )
        shutil.rmtree(root, ignore_errors=True)


def new_postgres_database(admin_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "t_" + uuid.uuid4().hex[:16]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace.db'}"
    admin = request.getfixturevalue("postgres_admin_url")
    return new_postgres_database(admin)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'workspace.db'}"
