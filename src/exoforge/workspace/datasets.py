"""Measured batch data in the workspace: uploaded files kept byte for byte, read as exoforge reads them.

A dataset is the original file (bytes, name, SHA-256) and a summary of what it holds (batches,
variables, measurements, warnings). Only files that read as batch data (the long format of
:mod:`exoforge.measurements.table`) are stored; each problem of a file that does not is returned
with its line and column.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import Store
from exoforge.store.models import Dataset

SUFFIXES = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class InvalidDataset(ValueError):
    """The file cannot be read as batch data; ``problems`` holds one located line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def safe_filename(filename: str) -> str:
    """The file's base name, restricted to letters, digits, dot, dash and underscore."""
    base = Path(filename.replace("\\", "/")).name
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:120]
    return cleaned or "data.csv"


def read_upload(filename: str, content: bytes) -> Any:
    """The :class:`~exoforge.measurements.table.BatchData` of an uploaded file (read from a private copy)."""
    from exoforge.characterization.textfile import DataFileError
    from exoforge.measurements.table import read_batch_data

    name = safe_filename(filename)
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InvalidDataset([f"{name}: batch data are .csv or .xlsx files"])
    with tempfile.TemporaryDirectory(prefix="exoforge-data-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        try:
            return read_batch_data([path])
        except DataFileError as exc:
            raise InvalidDataset([p.replace(str(path), name) for p in exc.problems]) from None
        except (OSError, ValueError, KeyError) as exc:  # an unreadable spreadsheet
            raise InvalidDataset([f"{name}: cannot be read as batch data ({type(exc).__name__}: {exc})"]) from None


def summary_of(data: Any) -> dict[str, Any]:
    return {
        "batches": list(data.batches),
        "variables": list(data.variables),
        "measurements": len(data.measurements),
        "warnings": list(data.warnings),
    }


def import_dataset(
    store: Store, actor: Actor, project_id: str, filename: str, content: bytes, name: str | None = None
) -> Dataset:
    """Store an uploaded batch-data file (editors), after reading it; :class:`InvalidDataset` otherwise."""
    with store.read() as s:
        repo.require_project_role(s, actor, project_id, "editor")
    data = read_upload(filename, content)
    clean = safe_filename(filename)
    return store.write(
        lambda s: repo.add_dataset(
            s,
            actor,
            project_id,
            name=name or clean,
            filename=clean,
            media_type=SUFFIXES[Path(clean).suffix.lower()],
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            summary=summary_of(data),
        )
    )
