"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Files in examples/ that are not scenarios: design spaces (optimize) and selection spaces (select).
SPACE_PREFIXES = ("space_", "select_")
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(SPACE_PREFIXES))
SPACES = sorted((ROOT / "examples").glob("space_*.yaml"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def example_results():
    """Result JSON of every example, computed once per test session."""
    import exoforge as xf

    return {p.name: xf.simulate(xf.load_scenario(p)).to_json() for p in EXAMPLES}
