"""Alembic environment: migrations run on the connection that :mod:`exoforge.store.migrate` passes in."""

from __future__ import annotations

from alembic import context

from exoforge.store.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from exoforge.store.config import database_url
        from exoforge.store.engine import make_engine

        engine = make_engine(database_url(context.config.get_main_option("sqlalchemy.url")))
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `exoforge db upgrade`")
run_migrations()
