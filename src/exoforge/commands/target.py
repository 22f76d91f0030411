"""`exoforge target`: what value of a parameter reaches a target KPI, with its uncertainty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import fail, input_errors, load, message


def target_command(
    scenario: Annotated[Path, typer.Argument(help="scenario file")],
    kpi: Annotated[str, typer.Option("--kpi", help="KPI to bring to the target, e.g. cost.per_dose_supplied")],
    vary: Annotated[str, typer.Option("--vary", help="parameter to vary, e.g. ev_secretion_rate")],
    below: Annotated[float | None, typer.Option("--below", help="target: the KPI below this")] = None,
    above: Annotated[float | None, typer.Option("--above", help="target: the KPI above this")] = None,
    n: Annotated[int, typer.Option("-n", min=10, max=5000, help="draws of the other uncertain parameters")] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What value of a parameter reaches a target KPI, how sure that is, and whether it is reachable at all."""
    from exoforge.analysis.target import target

    if (below is None) == (above is None):
        fail(["give exactly one of --below or --above"])
    scn = load(scenario)
    try:
        result = target(scn, kpi, vary, below=below, above=above, n=n, seed=seed)
    except KeyError as exc:
        fail([str(exc.args[0])], str(scenario))
    except input_errors() as exc:
        fail([message(exc)], str(scenario))
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    from exoforge.report.target_console import print_target

    print_target(result)


def register(app: typer.Typer) -> None:
    app.command("target")(target_command)
