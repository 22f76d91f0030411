"""`exoforge parameters`: every default with its value, unit, uncertainty and sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import fail, input_errors, load, message


def parameters(
    scenario: Annotated[
        Path | None, typer.Argument(help="resolve the parameters of this scenario (variants, evidence, overrides)")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", help="only names or descriptions containing this")] = None,
    grep: Annotated[
        str | None,
        typer.Option("--grep", help="only parameters whose name, description, assumption or sources match this regex"),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="only one stage: upstream, downstream, economics or evidence (or a file's name)"),
    ] = None,
    assumptions: Annotated[
        bool, typer.Option("--assumptions", help="only parameters that rest on an assumption")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List parameters: value, unit, distribution and where each number comes from."""
    from exoforge.parameters import ParameterSet, load_default_entries

    if scenario is not None:
        from exoforge.simulation import parameters_for

        scn = load(scenario)
        try:
            params = list(parameters_for(scn).params.values())
        except input_errors() as exc:
            fail([message(exc)], str(scenario))
    else:
        params = list(load_default_entries())
    if search:
        params = ParameterSet({f"{p.name}#{i}": p for i, p in enumerate(params)}).search(search)
    if grep:
        import re

        try:
            params = ParameterSet({f"{p.name}#{i}": p for i, p in enumerate(params)}).grep(grep)
        except re.error as exc:
            fail([f"--grep: '{grep}' is not a regular expression ({exc})"])
    if stage:
        from exoforge.parameters import STAGES

        known = sorted({*STAGES, "evidence", *(g for groups in STAGES.values() for g in groups)})
        if stage not in known:
            fail([f"--stage: '{stage}' is not one of {', '.join(known)}"])
        params = [p for p in params if stage in (p.stage, p.group)]
    if assumptions:
        params = [p for p in params if p.is_assumption]
    params.sort(key=lambda p: (p.name, p.when))
    if json_out:
        typer.echo(json.dumps([p.to_dict() for p in params], indent=2))
        return
    from exoforge.report.console import print_parameters

    print_parameters(params)


def register(app: typer.Typer) -> None:
    app.command()(parameters)
