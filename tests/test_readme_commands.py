"""Every command the README shows in an ``sh`` block runs as written, from a folder outside the repository.

The folder holds a copy of ``examples/`` (what a user who copied the examples has) and
``.venv/bin/exoforge`` pointing at the installed command; the workspace database is a SQLite file
in the folder. ``make`` lines are the set-up commands themselves and are not re-run here.
Long-running commands belong in ``text`` blocks, which are shown but not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Seconds one README command may take here.
COMMAND_TIMEOUT = 240


def readme_commands(text: str) -> list[str]:
    """The command lines of the README's ``sh`` blocks, comments removed (``make`` lines left out)."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.split(r"\s{2,}#", line)[0].strip()
            if line and not line.startswith("#") and not line.startswith("make "):
                out.append(line)
    return out


COMMANDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 20
    assert all(c.startswith(".venv/bin/exoforge ") for c in COMMANDS), [
        c for c in COMMANDS if not c.startswith(".venv/bin/exoforge ")
    ]


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme_user")
    assert ROOT not in folder.parents
    shutil.copytree(ROOT / "examples", folder / "examples")
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "exoforge").symlink_to(Path(sys.executable).parent / "exoforge")
    return folder


@pytest.mark.slow
def test_readme_commands_run_as_written_in_order(user_folder: Path) -> None:
    """In the README's order, in one folder: later commands use what earlier ones wrote (a fit's file)."""
    env = {
        **os.environ,
        "EXOFORGE_DATABASE_URL": f"sqlite:///{user_folder / 'workspace.db'}",
        "COLUMNS": "100",
    }
    failures = []
    for command in COMMANDS:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=user_folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0 or "Traceback" in done.stderr:
            failures.append(f"{command}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)
