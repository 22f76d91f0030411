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


#: Where fuzz chunks (in any worker process) append their tallies; the controller prints the sum.
FUZZ_TALLY_ENV = "EXOFORGE_FUZZ_TALLY"


def pytest_configure(config: pytest.Config) -> None:
    import os
    import tempfile

    if FUZZ_TALLY_ENV not in os.environ:  # the controller: workers inherit the variable
        fd, path = tempfile.mkstemp(prefix="exoforge-fuzz-", suffix=".jsonl")
        os.close(fd)
        os.environ[FUZZ_TALLY_ENV] = path


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    import json
    import os
    from collections import Counter

    if hasattr(config, "workerinput"):
        return
    path = Path(os.environ.get(FUZZ_TALLY_ENV, ""))
    if not path.is_file():
        return
    totals: dict[int, Counter[str]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        totals.setdefault(row["seed"], Counter()).update(row["tally"])
    for seed, t in sorted(totals.items()):
        terminalreporter.write_line(
            f"fuzz corpus {seed}: {sum(t.values()):,} cases, {t['refused']:,} refused cleanly, {t['ran']:,} ran; "
            f"tracebacks {t['traceback']}, over the time limit {t['over_time']}, non-finite outputs "
            f"{t['non_finite']}, other exits {t['bad_exit']}"
        )
    path.unlink()


def matched(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``; fails the test, showing the text, when it is absent."""
    import re

    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return found.group(1)
