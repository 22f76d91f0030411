"""Schema migrations (Alembic), run from the installed package.

The migration scripts live in ``exoforge/store/migrations`` and are found through the package,
so that ``exoforge db upgrade`` works from a wheel as well as from a checkout. On PostgreSQL an
advisory lock makes concurrent upgrades (several server processes starting at once) take turns.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from exoforge.store.engine import WRITE

SCRIPT_LOCATION = "exoforge.store:migrations"
#: Key of the PostgreSQL advisory lock held while migrating (any constant; "exof" in ASCII).
PG_LOCK_KEY = 0x65786F66


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest migration's revision identifier."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    """The database's migration revision (None: an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run(engine: Engine, action: str, target: str) -> None:
    with engine.execution_options(**{WRITE: True}).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()
        try:
            cfg = alembic_config(conn)
            if action == "upgrade":
                command.upgrade(cfg, target)
            else:
                command.downgrade(cfg, target)
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                conn.commit()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Migrate to ``target`` (default: the newest revision); nothing happens when already there."""
    if target == "head" and current(engine) == head():
        return
    _run(engine, "upgrade", target)


def downgrade(engine: Engine, target: str = "-1") -> None:
    """Migrate back to ``target`` (default: one step)."""
    _run(engine, "downgrade", target)
