"""Load a folder of scenario files into a workspace project (the example data of ``make demo``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoforge.store import repository as repo
from exoforge.store.engine import Store
from exoforge.store.models import User
from exoforge.workspace.runs import run_scenario
from exoforge.workspace.scenarios import InvalidScenario, mapping_from_text, validate

#: File-name prefixes of example files that are not scenarios (design and selection spaces).
NOT_SCENARIOS = ("space_", "select_")


@dataclass(frozen=True)
class Loaded:
    project_id: str
    scenarios: int
    runs: int
    skipped: list[str]


def load_folder(store: Store, folder: Path, project_name: str = "examples", run: bool = True) -> Loaded:
    """Each scenario file of ``folder`` becomes a scenario of the administrator's project
    ``project_name`` (a changed file a new revision); each new revision is run once."""
    with store.read() as s:
        admin = s.scalars(select(User).where(User.is_admin.is_(True)).order_by(User.created_at)).first()
    if admin is None:
        raise LookupError("the workspace has no administrator yet")
    actor = repo.actor_for(admin)
    project = store.write(
        lambda s: (
            repo.find_project(s, actor, project_name)
            or repo.create_project(s, actor, project_name, f"scenario files of {folder}")
        )
    )
    count, runs, skipped = 0, 0, []
    for path in sorted(folder.glob("*.y*ml")):
        if path.name.startswith(NOT_SCENARIOS):
            continue
        text = path.read_text(encoding="utf-8")
        try:
            content = mapping_from_text(text)
            validate(content)
        except InvalidScenario:
            skipped.append(path.name)
            continue
        name = str(content.get("name") or path.stem)

        def save(s: Session, content: dict[str, Any] = content, text: str = text, name: str = name) -> tuple[str, bool]:
            found = repo.find_scenario(s, actor, project.id, name)
            if found is None:
                sc, _rev = repo.create_scenario(s, actor, project.id, name, content, source_text=text)
                return sc.id, True
            _rev, new = repo.edit_scenario(s, actor, found.id, content, source_text=text)
            return found.id, new

        scenario_id, new = store.write(save)
        count += 1
        if run and new:
            run_scenario(store, actor, scenario_id)
            runs += 1
    return Loaded(project.id, count, runs, skipped)
