"""Simulate a stored scenario revision and record the run; re-run a record and compare.

A run records the scenario revision, the seed and the references left out (the inputs), the
exoforge version, the hash of the evidence and default-parameter data, the resolved parameter set
(every value, unit, distribution and source) and the result document. The simulation is
deterministic: the same revision, seed, exclusions, version and data give the identical result,
which :func:`rerun` checks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from exoforge._version import __version__
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import Store
from exoforge.store.hashing import content_hash
from exoforge.store.models import Run
from exoforge.workspace.records import data_hash, result_document


def _input_errors() -> tuple[type[BaseException], ...]:
    from exoforge.downstream.train import OperationNotModelled
    from exoforge.upstream.platforms import PlatformNotModelled

    return (PlatformNotModelled, OperationNotModelled, KeyError, ValueError)


def simulate_content(
    content: dict[str, Any], *, seed: int | None = None, exclude_refs: Sequence[str] = (), label: str = ""
) -> repo.RunRecord:
    """Run a scenario mapping at its central values; a simulation that cannot run is a failed record.

    Raises
    ------
    exoforge.scenario.ScenarioError : the mapping breaks the scenario contract (nothing to record)
    """
    from exoforge.scenario import parse_scenario
    from exoforge.simulation import parameters_for, simulate

    scn = parse_scenario(content)
    start = time.perf_counter()
    try:
        prepared = parameters_for(scn, exclude_refs)
        result = simulate(scn, exclude_refs=exclude_refs, seed=seed)
    except _input_errors() as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return repo.RunRecord(
            status="failed",
            seed=seed,
            exclude_refs=list(exclude_refs),
            exoforge_version=__version__,
            evidence_hash=data_hash(),
            parameters=[],
            result=None,
            error=message,
            seconds=time.perf_counter() - start,
            label=label,
        )
    return repo.RunRecord(
        status="succeeded",
        seed=seed,
        exclude_refs=list(exclude_refs),
        exoforge_version=__version__,
        evidence_hash=data_hash(),
        parameters=prepared.params.to_json(),
        result=result_document(result),
        seconds=time.perf_counter() - start,
        label=label,
    )


def run_scenario(
    store: Store,
    actor: Actor,
    scenario_id: str,
    *,
    revision: int | None = None,
    seed: int | None = None,
    exclude_refs: Sequence[str] = (),
    label: str = "",
) -> Run:
    """Simulate revision ``revision`` (default: the newest) of a stored scenario and record the run.

    The simulation runs outside any transaction; the record is written in one.
    """
    with store.read() as s:
        repo.get_scenario(s, actor, scenario_id, "editor")
        rev = repo.get_revision(s, actor, scenario_id, revision)
    record = simulate_content(rev.content, seed=seed, exclude_refs=exclude_refs, label=label)
    return store.write(lambda s: repo.record_run(s, actor, rev, record))


@dataclass
class RerunOutcome:
    """A stored run and its repetition: whether the result is identical, and what changed if not."""

    original: Run
    repeat: Run
    identical: bool
    differences: list[str] = field(default_factory=list)
    changed_inputs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original.id,
            "repeat": self.repeat.id,
            "identical": self.identical,
            "differences": self.differences,
            "changed_inputs": self.changed_inputs,
        }


def differing_keys(a: Any, b: Any, prefix: str = "", limit: int = 50) -> list[str]:
    """Dotted paths where two JSON documents differ (at most ``limit``)."""
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else str(k))
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, f"{path}[{i}]")
        elif x != y:
            out.append(path or "(document)")

    walk(a, b, prefix)
    return out


def rerun(store: Store, actor: Actor, run_id: str) -> RerunOutcome:
    """Simulate a stored run again from its recorded inputs, record the repeat, and compare results."""
    with store.read() as s:
        original = repo.get_run(s, actor, run_id)
        rev = repo.revision_of(s, original)
    record = simulate_content(rev.content, seed=original.seed, exclude_refs=original.exclude_refs, label=original.label)
    record = repo.RunRecord(**{**record.__dict__, "rerun_of": original.id})
    repeat = store.write(lambda s: repo.record_run(s, actor, rev, record))
    changed = [
        name
        for name, old, new in (
            ("exoforge_version", original.exoforge_version, repeat.exoforge_version),
            ("evidence_hash", original.evidence_hash, repeat.evidence_hash),
            ("parameters_hash", original.parameters_hash, repeat.parameters_hash),
        )
        if old != new
    ]
    identical = original.result_hash == repeat.result_hash and original.status == repeat.status
    diffs = [] if identical else differing_keys(original.result, repeat.result)
    if not identical and original.error != repeat.error:
        diffs.append("error")
    return RerunOutcome(original, repeat, identical, diffs, changed)


def save_result_of_file(
    store: Store,
    actor: Actor,
    project_name: str,
    content: dict[str, Any],
    source_text: str | None,
    record: repo.RunRecord,
) -> tuple[Run, int]:
    """Record a run made from a scenario file: the project and scenario (by name) are created on
    first use, the file's content becomes a new revision when it changed. Returns the run and the
    revision number."""

    def work(s: Any) -> tuple[Run, int]:
        project = repo.find_project(s, actor, project_name) or repo.create_project(s, actor, project_name)
        name = str(content.get("name") or "scenario")
        scenario = repo.find_scenario(s, actor, project.id, name)
        if scenario is None:
            scenario, rev = repo.create_scenario(s, actor, project.id, name, content, source_text=source_text)
        else:
            rev, _new = repo.edit_scenario(s, actor, scenario.id, content, source_text=source_text)
        return repo.record_run(s, actor, rev, record), rev.number

    return store.write(work)


def result_hash(doc: dict[str, Any] | None) -> str | None:
    return content_hash(doc) if doc is not None else None
