"""Shared fixtures."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.workspace_fixtures import db_url, postgres_admin_url, sqlite_url  # noqa: F401  (workspace databases)

ROOT = Path(__file__).resolve().parents[1]
#: Files in examples/ that are not scenarios: design spaces (optimize) and selection spaces (select).
SPACE_PREFIXES = ("space_", "select_")
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(SPACE_PREFIXES))
SPACES = sorted((ROOT / "examples").glob("space_*.yaml"))


def example_data(path: Path, **changes: Any) -> dict[str, Any]:
    """The mapping of a scenario file with dotted keys changed (a value of None removes the key)."""
    from exoforge.analysis.space import get_key, set_key
    from exoforge.scenario import read_mapping

    data = copy.deepcopy(read_mapping(path))
    for dotted, value in changes.items():
        if value is None:
            parent_key, _, leaf = dotted.rpartition(".")
            parent = get_key(data, parent_key) if parent_key else data
            if isinstance(parent, dict):
                parent.pop(leaf, None)
        else:
            set_key(data, dotted, value)
    return data


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def example_results():
    """Result JSON of every example, computed once per test session."""
    import exoforge as xf

    return {p.name: xf.simulate(xf.load_scenario(p)).to_json() for p in EXAMPLES}
