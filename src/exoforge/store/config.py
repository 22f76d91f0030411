"""Where the workspace database is: ``EXOFORGE_DATABASE_URL``, or SQLite in the user's data folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import URL, make_url

ENV_VAR = "EXOFORGE_DATABASE_URL"
DEFAULT_FILE = "exoforge.db"


def default_sqlite_path() -> Path:
    """``exoforge.db`` in the platform's per-user data folder (e.g. ~/.local/share/exoforge)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("exoforge", appauthor=False)) / DEFAULT_FILE


def normalise_url(url: str) -> str:
    """SQLAlchemy URL with an installed driver: ``postgresql://`` and ``postgres://`` use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The URL to open: ``explicit``, else ``$EXOFORGE_DATABASE_URL``, else the default SQLite file."""
    env = os.environ if environ is None else environ
    url = explicit or env.get(ENV_VAR) or f"sqlite:///{default_sqlite_path()}"
    return normalise_url(url)


def parse(url: str) -> URL:
    return make_url(url)


def redacted(url: str) -> str:
    """The URL with any password hidden (for messages)."""
    return make_url(url).render_as_string(hide_password=True)
