"""Helpers of the workspace commands: the local database and the local user's actor."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from exoforge.result import Result
    from exoforge.scenario import Scenario
    from exoforge.store.access import Actor
    from exoforge.store.engine import Store


def open_local_store() -> Store:
    """The database of ``$EXOFORGE_DATABASE_URL`` (default: SQLite in the user's data folder), migrated."""
    from sqlalchemy.exc import SQLAlchemyError

    from exoforge.store.config import database_url, redacted
    from exoforge.store.engine import open_store

    url = database_url()
    try:
        return open_store(url)
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"{redacted(url)}: cannot open the database: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None


def local_actor(store: Store) -> Actor:
    """The person at this terminal: a user named after the login, trusted (direct database access)."""
    from exoforge.store import repository as repo
    from exoforge.store.access import Actor

    name = f"local:{getpass.getuser()}"
    user = store.write(lambda s: repo.ensure_local_user(s, name))
    return Actor(user.id, name, trusted=True)


def save_run(
    path: Path, scn: Scenario, result: Result, project: str, seed: int | None, exclude_refs: list[str]
) -> None:
    """Record a finished ``exoforge run`` in the workspace; one line on standard error says where.

    The revision is the file's mapping; measured size distributions read from NTA files (``ev_size``)
    are stored with their bins, so that the record can be run again without the files.
    """
    from exoforge._version import __version__
    from exoforge.scenario import read_mapping
    from exoforge.simulation import parameters_for
    from exoforge.store import repository as repo
    from exoforge.workspace.records import data_hash, result_document
    from exoforge.workspace.runs import save_result_of_file

    content = read_mapping(path)
    if scn.ev_size is not None:
        content["ev_size"] = scn.ev_size.model_dump(mode="json", exclude_none=True)
    record = repo.RunRecord(
        status="succeeded",
        seed=seed,
        exclude_refs=list(exclude_refs),
        exoforge_version=__version__,
        evidence_hash=data_hash(),
        parameters=parameters_for(scn, exclude_refs).params.to_json(),
        result=result_document(result),
    )
    store = open_local_store()
    run, number = save_result_of_file(
        store, local_actor(store), project, content, path.read_text(encoding="utf-8"), record
    )
    store.dispose()
    typer.echo(f"saved run {run.id[:12]} ({project} / {content.get('name')} revision {number})", err=True)
