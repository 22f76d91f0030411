"""`exoforge run`: one scenario at its central values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import ExcludeRefOpt, ParamsOpt, fail, input_errors, load, message, parameters_from_file

#: Exit code of ``run --strict`` when an engineering check fails (2 is reserved for bad input).
CHECK_FAILED_EXIT = 3


def run(
    scenario: Annotated[Path, typer.Argument(help="scenario file (.yaml or .toml)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object (the output contract)")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="write a self-contained HTML report")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="recorded with the run; the run itself is deterministic")
    ] = None,
    exclude_ref: ExcludeRefOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help=f"exit with code {CHECK_FAILED_EXIT} when an engineering check fails (output is printed)"
        ),
    ] = False,
    params: ParamsOpt = None,
    save: Annotated[
        bool, typer.Option("--save", help="record the run in the workspace database (see `exoforge runs`)")
    ] = False,
    project: Annotated[str, typer.Option("--project", help="workspace project of a saved run")] = "default",
) -> None:
    """Simulate one scenario at its central parameter values."""
    from exoforge.parameters import normalise_ref
    from exoforge.simulation import simulate

    scn = load(scenario)
    if save and params is not None:
        fail(["--save: a run with --params cannot be recorded yet (a re-run from the record could not repeat it)"])
    try:
        fitted = parameters_from_file(scn, params, exclude_ref) if params is not None else None
        result = simulate(scn, fitted, exclude_refs=exclude_ref or (), seed=seed)
    except input_errors() as exc:
        fail([message(exc)], str(scenario))
    for ref in exclude_ref or ():
        if normalise_ref(ref) not in result.excluded_refs:
            typer.echo(f"note: --exclude-ref {ref}: no value this run uses comes from that reference", err=True)
    if report is not None:
        from exoforge.report.html import write_report

        write_report(result, report)
    if save:
        from exoforge.commands.workspace_common import save_run

        save_run(scenario, scn, result, project, seed, exclude_ref or [])
    if json_out:
        typer.echo(result.dumps())
    else:
        from exoforge.report.console import print_summary

        print_summary(result)
        if report is not None:
            typer.echo(f"report written: {report}")
    if strict and result.failed_checks:
        from exoforge.result import check_line

        fail([check_line(c) for c in result.failed_checks], str(scenario), code=CHECK_FAILED_EXIT)


def register(app: typer.Typer) -> None:
    app.command()(run)
