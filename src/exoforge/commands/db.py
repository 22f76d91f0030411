"""`exoforge db upgrade|current|verify`: the workspace database's schema and audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(no_args_is_help=True, help="The workspace database (EXOFORGE_DATABASE_URL; default SQLite).")


def _engine(url: str | None) -> tuple[str, Engine]:
    """The resolved URL and an engine, or exit 2 naming the database that cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from exoforge.store.config import database_url, redacted
    from exoforge.store.engine import make_engine

    resolved = database_url(url)
    try:
        return resolved, make_engine(resolved)
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"{redacted(resolved)}: cannot open the database: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def upgrade(
    url: Annotated[str | None, typer.Option("--url", help="database URL (default: EXOFORGE_DATABASE_URL)")] = None,
    to: Annotated[str, typer.Option("--to", help="target migration")] = "head",
) -> None:
    """Create the database or migrate it to the newest schema."""
    from sqlalchemy.exc import SQLAlchemyError

    from exoforge.store import migrate
    from exoforge.store.config import redacted

    resolved, engine = _engine(url)
    try:
        before = migrate.current(engine)
        migrate.upgrade(engine, to)
        after = migrate.current(engine)
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"{redacted(resolved)}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{redacted(resolved)}: already at {after}")
    else:
        typer.echo(f"{redacted(resolved)}: migrated {before or 'empty'} -> {after}")


@db_app.command("current")
def current(
    url: Annotated[str | None, typer.Option("--url", help="database URL (default: EXOFORGE_DATABASE_URL)")] = None,
) -> None:
    """Print the database's schema revision and the newest one this exoforge knows."""
    from exoforge.store import migrate
    from exoforge.store.config import redacted

    resolved, engine = _engine(url)
    try:
        typer.echo(f"{redacted(resolved)}: {migrate.current(engine) or 'empty'} (newest: {migrate.head()})")
    finally:
        engine.dispose()


@db_app.command("verify")
def verify(
    url: Annotated[str | None, typer.Option("--url", help="database URL (default: EXOFORGE_DATABASE_URL)")] = None,
) -> None:
    """Check the audit log's hash chain: numbering, links and hashes. Exit 1 on any problem."""
    from exoforge.store import audit
    from exoforge.store.config import database_url
    from exoforge.store.engine import open_store

    store = open_store(database_url(url))
    with store.read() as s:
        report = audit.verify(s)
    store.dispose()
    for line in report.problems:
        typer.echo(line, err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {report.entries} entries")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
