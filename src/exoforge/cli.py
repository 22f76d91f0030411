"""Command-line interface: a thin shell over the library (parse -> call -> print).

Exit codes: 0 success; 2 the input breaks a contract (one line per problem on
standard error, never a traceback); 1 an unexpected failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from exoforge.result import Result
    from exoforge.scenario import Scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Design, simulate, cost and optimise MSC-exosome (small EV) production.",
    pretty_exceptions_enable=False,
)
evidence_app = typer.Typer(no_args_is_help=True, help="Query, validate and pool the cited evidence base.")
app.add_typer(evidence_app, name="evidence")


def _fail(problems: list[str], source: str | None = None, code: int = 2) -> NoReturn:
    for line in problems:
        typer.echo(f"{source}: {line}" if source else line, err=True)
    raise typer.Exit(code)


def _load(path: Path) -> Scenario:
    from exoforge.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        _fail(exc.problems, str(path))


def _simulate(scenario_path: Path, exclude_ref: list[str] | None, seed: int | None) -> Result:
    from exoforge.downstream.train import OperationNotModelled
    from exoforge.simulation import simulate
    from exoforge.upstream.platforms import PlatformNotModelled

    scn = _load(scenario_path)
    try:
        return simulate(scn, exclude_refs=exclude_ref or (), seed=seed)
    except (PlatformNotModelled, OperationNotModelled) as exc:
        _fail([str(exc)], str(scenario_path))
    except KeyError as exc:
        _fail([str(exc.args[0]) if exc.args else str(exc)], str(scenario_path))
    except ValueError as exc:
        _fail([str(exc)], str(scenario_path))


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario file (.yaml or .toml)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object (the output contract)")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="write a self-contained HTML report")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="recorded with the run; the run itself is deterministic")
    ] = None,
    exclude_ref: Annotated[
        list[str] | None, typer.Option("--exclude-ref", help="leave out every evidence record of this DOI or PMID")
    ] = None,
) -> None:
    """Simulate one scenario at its central parameter values."""
    result = _simulate(scenario, exclude_ref, seed)
    for ref in exclude_ref or ():
        from exoforge.parameters import normalise_ref

        if normalise_ref(ref) not in result.excluded_refs:
            typer.echo(f"note: --exclude-ref {ref}: no value this run uses comes from that reference", err=True)
    if report is not None:
        from exoforge.report.html import write_report

        write_report(result, report)
    if json_out:
        typer.echo(result.dumps())
        return
    from exoforge.report.console import print_summary

    print_summary(result)
    if report is not None:
        typer.echo(f"report written: {report}")


@evidence_app.command("validate")
def evidence_validate() -> None:
    """Check every evidence file against the schema; name the file and record of each error."""
    from exoforge.evidence.store import validate_files

    records, problems = validate_files()
    if problems:
        _fail(problems)
    refs = {r.ref_key for r in records}
    typer.echo(f"evidence valid: {len(records)} records from {len(refs)} references")


@evidence_app.command("list")
def evidence_list(
    strategy: Annotated[str | None, typer.Option(help="strategy id")] = None,
    category: Annotated[str | None, typer.Option(help="strategy family")] = None,
    cell_source: Annotated[str | None, typer.Option("--cell-source", help="e.g. bm_msc")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List evidence records, optionally filtered."""
    from exoforge.evidence.query import filter_records

    rows = [r.to_dict() for r in filter_records(strategy=strategy, category=category, cell_source=cell_source)]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    from exoforge.report.console import print_records

    print_records(rows, strategy=strategy, category=category)


@evidence_app.command("show")
def evidence_show(record_id: Annotated[str, typer.Argument(help="record id")]) -> None:
    """Show one record in full."""
    from exoforge.evidence.query import find_record

    rec = find_record(record_id)
    if rec is None:
        _fail([f"no evidence record with id '{record_id}'"])
    typer.echo(json.dumps(rec.to_dict(), indent=2))


def main() -> None:
    """Entry point of the ``exoforge`` command."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
