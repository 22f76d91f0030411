"""`exoforge misev check`: a batch's characterisation record against the MISEV2023-derived checklist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import fail

misev_app = typer.Typer(no_args_is_help=True, help="EV characterisation against a MISEV2023-derived checklist.")


@misev_app.command("check")
def check_command(
    record: Annotated[Path, typer.Argument(help="characterisation record of one batch (YAML)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 when a required item is missing")] = False,
) -> None:
    """What the record lacks, what each missing item is for, and its completeness score."""
    from exoforge.characterization.misev import check_record
    from exoforge.characterization.record import RecordError, load_record

    try:
        rec = load_record(record)
    except RecordError as exc:
        fail(exc.problems)
    result = check_record(rec, record.parent)
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        applicable = result.applicable
        typer.echo(
            f"{record}: batch {rec.batch or '(unnamed)'}: {sum(i.met for i in applicable)} of {len(applicable)} "
            f"applicable items met, completeness {result.score():.0%} "
            f"(required items {result.score(required_only=True):.0%})"
        )
        ratio = result.to_json()["particles_per_ug_protein"]
        if ratio is not None:
            typer.echo(f"particles per ug protein: {ratio:.3g}")
        if not result.missing:
            typer.echo("nothing missing")
        for r in result.missing:
            typer.echo(f"\n{r.item.id} [{r.item.level}] {r.item.title}\n  {r.detail}\n  why: {r.item.purpose}")
            if r.item.unverified:
                typer.echo(f"  note: {r.item.unverified}")
        typer.echo(f"\nchecklist {result.checklist.name} {result.checklist.version}: {result.checklist.derived_from}")
    if strict and result.missing_required:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(misev_app, name="misev")
