"""Settings of a workspace server: database, limits, job workers. Passed in, never global."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Configuration of one server process.

    Attributes
    ----------
    database_url : SQLAlchemy URL (default: ``EXOFORGE_DATABASE_URL`` or SQLite in the user's data folder)
    max_body_bytes : largest request body accepted (413 above)
    page_max : largest page of a listing (``limit``)
    mc_max_n : largest Monte Carlo sample size of one job
    sensitivity_max_n : largest Sobol base sample of one job
    max_active_jobs_per_user, max_active_jobs : caps on queued and running analyses (429 above)
    job_workers : analyses run at the same time by this process
    job_backend : ``process`` (a worker process per analysis; the default) or ``thread``
    job_chunk_rows : rows per progress report of a Monte Carlo job
    dask_scheduler : address of a Dask scheduler (``tcp://host:8786``): analyses run their chunks there
    secure_cookies : mark the web session cookie Secure (behind HTTPS)
    """

    database_url: str | None = None
    max_body_bytes: int = 1_000_000
    page_max: int = 100
    mc_max_n: int = 20_000
    sensitivity_max_n: int = 1024
    max_active_jobs_per_user: int = 2
    max_active_jobs: int = 8
    job_workers: int = 1
    job_backend: str = "process"
    job_chunk_rows: int = 1024
    dask_scheduler: str | None = None
    secure_cookies: bool = False
