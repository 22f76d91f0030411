"""Running the application under an ASGI server (uvicorn here; gunicorn with uvicorn workers for a team).

``app_from_environment`` is the factory each server process calls: it reads its settings from the
environment (``EXOFORGE_DATABASE_URL``, ``EXOFORGE_JOB_WORKERS``, ``EXOFORGE_JOB_BACKEND``,
``EXOFORGE_MC_MAX_N``, ``EXOFORGE_MAX_ACTIVE_JOBS``, ``EXOFORGE_SECURE_COOKIES``,
``EXOFORGE_DASK_SCHEDULER``), so that every
worker process of a multi-process server is configured alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from exoforge.api.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def settings_from_environment(env: Mapping[str, str] | None = None) -> Settings:
    e = os.environ if env is None else env
    base = Settings()
    return Settings(
        database_url=e.get("EXOFORGE_DATABASE_URL") or None,
        job_workers=int(e.get("EXOFORGE_JOB_WORKERS", base.job_workers)),
        job_backend=e.get("EXOFORGE_JOB_BACKEND", base.job_backend),
        mc_max_n=int(e.get("EXOFORGE_MC_MAX_N", base.mc_max_n)),
        max_active_jobs=int(e.get("EXOFORGE_MAX_ACTIVE_JOBS", base.max_active_jobs)),
        secure_cookies=e.get("EXOFORGE_SECURE_COOKIES", "") == "1",
        dask_scheduler=e.get("EXOFORGE_DASK_SCHEDULER") or None,
    )


def app_from_environment() -> FastAPI:
    """The application of one server process (``uvicorn --factory exoforge.api.server:app_from_environment``)."""
    from exoforge.api.app import create_app

    return create_app(settings_from_environment())


def first_start(database_url: str | None = None) -> str | None:
    """Migrate the database and, on a database without an administrator, create one.

    Returns the administrator's token secret (None when an administrator exists).
    """
    from exoforge.store import repository as repo
    from exoforge.store.engine import open_store

    store = open_store(database_url)
    try:
        return store.write(repo.bootstrap_admin)
    finally:
        store.dispose()
