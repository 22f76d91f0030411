"""`exoforge runs list|show|export|rerun`: runs recorded in the workspace database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from exoforge.commands.common import fail

runs_app = typer.Typer(no_args_is_help=True, help="Runs recorded in the workspace database (`run --save`, the API).")

EXPORT_FORMATS = ("json", "csv", "html", "xlsx")


def _fmt(x: Any) -> str:
    from exoforge.report.console import fmt

    return fmt(x)


def _get(run_id: str) -> tuple[Any, Any, Any, Any]:
    """(store, actor, run, revision) or exit 2 naming the id."""
    from exoforge.commands.workspace_common import local_actor, open_local_store
    from exoforge.store import repository as repo
    from exoforge.store.errors import NotFound

    store = open_local_store()
    actor = local_actor(store)
    try:
        with store.read() as s:
            run = repo.get_run(s, actor, run_id)
            return store, actor, run, repo.revision_of(s, run)
    except NotFound:
        fail([f"no run with id {run_id} (give the id or a unique prefix of at least 6 characters)"])


@runs_app.command("list")
def list_runs(
    project: Annotated[str | None, typer.Option("--project", help="only this project's runs")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="newest N runs")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON list")] = False,
) -> None:
    """List stored runs, newest first."""
    from rich.console import Console
    from rich.table import Table

    from exoforge.commands.workspace_common import local_actor, open_local_store
    from exoforge.store import repository as repo
    from exoforge.store.models import Project, Scenario

    store = open_local_store()
    actor = local_actor(store)
    with store.read() as s:
        project_id = None
        if project is not None:
            found = repo.find_project(s, actor, project)
            if found is None:
                fail([f"--project: no project named '{project}'"])
            project_id = found.id
        page = repo.list_runs(s, actor, project_id=project_id, limit=limit)
        rows = []
        for run in page.items:
            scenario, proj = s.get(Scenario, run.scenario_id), s.get(Project, run.project_id)
            kpis = run.result or {}
            rows.append(
                {
                    "id": run.id,
                    "created_at": run.created_at.isoformat(),
                    "project": proj.name if proj else "",
                    "scenario": scenario.name if scenario else "",
                    "revision": run.revision_number,
                    "status": run.status,
                    "seed": run.seed,
                    "cost.per_dose": (kpis.get("cost") or {}).get("per_dose"),
                    "ev.final_particles": (kpis.get("ev") or {}).get("final_particles"),
                }
            )
    store.dispose()
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=f"{len(rows)} of {page.total} runs", title_justify="left")
    for col in ("id", "created (UTC)", "project", "scenario", "rev", "status", "cost per dose", "EVs in product"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["id"][:12],
            r["created_at"][:19].replace("T", " "),
            r["project"],
            r["scenario"],
            str(r["revision"]),
            r["status"],
            _fmt(r["cost.per_dose"]),
            _fmt(r["ev.final_particles"]),
        )
    Console().print(t)


def run_record(run: Any, revision: Any) -> dict[str, Any]:
    """A stored run as one JSON object (inputs, provenance, result)."""
    return {
        "id": run.id,
        "created_at": run.created_at.isoformat(),
        "project_id": run.project_id,
        "scenario_id": run.scenario_id,
        "revision": run.revision_number,
        "scenario_content_hash": revision.content_hash,
        "status": run.status,
        "seed": run.seed,
        "exclude_refs": run.exclude_refs,
        "exoforge_version": run.exoforge_version,
        "evidence_hash": run.evidence_hash,
        "parameters_hash": run.parameters_hash,
        "result_hash": run.result_hash,
        "rerun_of": run.rerun_of,
        "error": run.error,
        "result": run.result,
    }


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="run id (or a unique prefix of at least 6 characters)")],
    json_out: Annotated[bool, typer.Option("--json", help="print the whole record as JSON")] = False,
) -> None:
    """Show a stored run: its inputs, provenance and result."""
    store, _actor, run, rev = _get(run_id)
    store.dispose()
    if json_out:
        typer.echo(json.dumps(run_record(run, rev), indent=2))
        return
    typer.echo(f"run {run.id}  {run.status}  {run.created_at.isoformat()[:19]} UTC")
    typer.echo(f"scenario revision {run.revision_number} (content sha256 {rev.content_hash[:16]})")
    typer.echo(f"seed {run.seed}  exoforge {run.exoforge_version}  evidence data sha256 {run.evidence_hash[:16]}")
    if run.exclude_refs:
        typer.echo(f"left out: {', '.join(run.exclude_refs)}")
    if run.result is None:
        typer.echo(f"error: {run.error}")
        return
    from exoforge.report.console import print_summary
    from exoforge.workspace.records import result_from_json

    print_summary(result_from_json(run.result))


@runs_app.command("export")
def export(
    run_id: Annotated[str, typer.Argument(help="run id (or a unique prefix)")],
    fmt: Annotated[str, typer.Option("--format", help="json | csv | html | xlsx")] = "json",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="file to write (default: standard output; html and xlsx need a file)"),
    ] = None,
) -> None:
    """Export a stored run: the JSON record, KPIs and cost ledger as CSV, the HTML report, or an Excel workbook."""
    from exoforge.workspace import exports

    if fmt not in EXPORT_FORMATS:
        fail([f"--format: '{fmt}' is not allowed; choose one of {', '.join(EXPORT_FORMATS)}"])
    if fmt in ("html", "xlsx") and output is None:
        fail([f"--format {fmt}: give a file with -o FILE"])
    store, _actor, run, rev = _get(run_id)
    store.dispose()
    if run.result is None and fmt != "json":
        fail([f"run {run.id[:12]} failed ({run.error}); only its JSON record can be exported"])
    data: bytes
    if fmt == "json":
        data = (json.dumps(run_record(run, rev), indent=2) + "\n").encode()
    elif fmt == "csv":
        data = exports.run_csv(run.result).encode()
    elif fmt == "html":
        data = exports.run_html(run.result).encode()
    else:
        data = exports.run_xlsx(run.result, run_record(run, rev))
    if output is None:
        typer.echo(data.decode(), nl=False)
        return
    from exoforge.workspace.exports import write_bytes

    write_bytes(output, data)
    typer.echo(f"written: {output}", err=True)


@runs_app.command("rerun")
def rerun_cmd(
    run_id: Annotated[str, typer.Argument(help="run id (or a unique prefix)")],
    json_out: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Simulate a stored run again from its recorded inputs, record the repeat, and compare.

    Exit code 0 when the result is identical, 1 when it differs (the differences are listed).
    """
    from exoforge.workspace.runs import rerun

    store, actor, run, _rev = _get(run_id)
    outcome = rerun(store, actor, run.id)
    store.dispose()
    if json_out:
        typer.echo(json.dumps(outcome.to_json(), indent=2))
    elif outcome.identical:
        typer.echo(
            f"identical: run {outcome.repeat.id[:12]} repeats {run.id[:12]} (result sha256 "
            f"{(outcome.repeat.result_hash or '')[:16]})"
        )
    else:
        typer.echo(f"differs: run {outcome.repeat.id[:12]} does not repeat {run.id[:12]}")
        for name in outcome.changed_inputs:
            typer.echo(f"  changed since the original: {name}")
        for key in outcome.differences:
            typer.echo(f"  differs: {key}")
    if not outcome.identical:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
