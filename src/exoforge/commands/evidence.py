"""`exoforge evidence ...`: query, validate, pool and cite the evidence base."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from exoforge.commands.common import fail

evidence_app = typer.Typer(no_args_is_help=True, help="Query, validate, pool and cite the evidence base.")


@evidence_app.command("validate")
def evidence_validate() -> None:
    """Check every evidence file against the schema; name the file and record of each error."""
    from exoforge.evidence.store import validate_files

    records, problems = validate_files()
    if problems:
        fail(problems)
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
        fail([f"no evidence record with id '{record_id}'"])
    typer.echo(json.dumps(rec.to_dict(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
