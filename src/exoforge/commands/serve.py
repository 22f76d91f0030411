"""`exoforge serve`: the workspace (REST API and web pages) on this machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (127.0.0.1: this machine only)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="server processes")] = 1,
    job_workers: Annotated[
        int, typer.Option("--job-workers", min=1, max=64, help="analyses run at once per process")
    ] = 1,
    examples: Annotated[
        Path | None,
        typer.Option("--examples", help="load this folder's scenario files into the project 'examples' first"),
    ] = None,
) -> None:
    """Serve the workspace: web pages at http://HOST:PORT/, the API under /api/v1.

    The database is EXOFORGE_DATABASE_URL (default: SQLite in your data folder). The first start
    creates an administrator and prints its API token once.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from exoforge.api.server import first_start
    from exoforge.store.config import database_url, redacted

    url = database_url()
    try:
        secret = first_start(url)
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"{redacted(url)}: cannot open the database: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database: {redacted(url)}")
    if secret is not None:
        typer.echo("administrator created; its API token (shown once, store it now):")
        typer.echo(f"  {secret}")
    if examples is not None:
        _load_examples(url, examples)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: listening on {host}: other machines can reach this server; serve it behind HTTPS", err=True)
    typer.echo(f"workspace: http://{host}:{port}/   API: http://{host}:{port}/api/v1/docs", err=False)
    import uvicorn

    os.environ["EXOFORGE_DATABASE_URL"] = url
    os.environ["EXOFORGE_JOB_WORKERS"] = str(job_workers)
    uvicorn.run(
        "exoforge.api.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
    )


def _load_examples(url: str, folder: Path) -> None:
    from exoforge.store.engine import open_store
    from exoforge.workspace.demo import load_folder

    if not folder.is_dir():
        typer.echo(f"--examples: {folder} is not a folder", err=True)
        raise typer.Exit(2)
    store = open_store(url)
    try:
        loaded = load_folder(store, folder)
    finally:
        store.dispose()
    typer.echo(f"examples: {loaded.scenarios} scenarios in project 'examples' ({loaded.runs} new runs)")
    for name in loaded.skipped:
        typer.echo(f"examples: {name} skipped (not a valid scenario)", err=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
