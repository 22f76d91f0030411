"""Opening the database: engine settings per backend, sessions, transactions with retry.

SQLite: WAL journal (readers never block the writer), ``synchronous=FULL`` (a committed
transaction survives a crash of the process or the machine), foreign keys on, and write
transactions that start with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock
(busy timeout) instead of failing half-way. PostgreSQL: READ COMMITTED; concurrent edits of one
scenario queue on its row lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exoforge.store import audit, guards
from exoforge.store.config import database_url

T = TypeVar("T")
WRITE = "exoforge_write"
SQLITE_BUSY_TIMEOUT_S = 60.0
RETRIES = 5


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with this module's settings."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _transient(exc: BaseException) -> bool:
    """A failure that a fresh attempt of the same transaction can overcome (lock timeout, deadlock)."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        return code in ("40001", "40P01")  # serialization failure, deadlock detected
    return False


@dataclass
class Store:
    """An open database: read sessions, write transactions, and the URL it came from."""

    url: str
    engine: Engine

    def __post_init__(self) -> None:
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(**{WRITE: True}), expire_on_commit=False)
        for factory in (self._reader, self._writer):
            guards.install(factory)
            audit.install(factory)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (its transaction is rolled back at the end)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed at the end of the block, rolled back on an error."""
        with self._writer() as session, session.begin():
            yield session

    def write(self, work: Callable[[Session], T], retries: int = RETRIES) -> T:
        """Run ``work(session)`` in a write transaction, again on a transient failure (deadlock, lock timeout)."""
        for attempt in range(retries + 1):
            try:
                with self.transaction() as session:
                    return work(session)
            except (OperationalError, DBAPIError) as exc:
                if attempt == retries or not _transient(exc):
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, *, upgrade: bool = True, **engine_kwargs: Any) -> Store:
    """Open the workspace database (see :func:`exoforge.store.config.database_url`).

    With ``upgrade`` (the default) the schema is migrated to the newest revision first.
    """
    from exoforge.store import migrate

    resolved = database_url(url)
    store = Store(resolved, make_engine(resolved, **engine_kwargs))
    if upgrade:
        migrate.upgrade(store.engine)
    return store
