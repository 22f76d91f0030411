"""`exoforge target`: what value of a parameter reaches a target KPI, with its uncertainty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import fail, input_errors, load, message
from exoforge.scenario import Scenario


def target_command(
    scenario: Annotated[Path, typer.Argument(help="scenario file")],
    kpi: Annotated[str, typer.Option("--kpi", help="KPI to bring to the target, e.g. cost.per_dose_supplied")],
    vary: Annotated[str | None, typer.Option("--vary", help="parameter to vary, e.g. ev_secretion_rate")] = None,
    choose: Annotated[
        str | None,
        typer.Option(
            "--choose",
            help="a choice: a scenario key and its options, e.g. expansion.platform=stirred_tank,vertical_wheel",
        ),
    ] = None,
    below: Annotated[float | None, typer.Option("--below", help="target: the KPI below this")] = None,
    above: Annotated[float | None, typer.Option("--above", help="target: the KPI above this")] = None,
    n: Annotated[int, typer.Option("-n", min=10, max=5000, help="draws of the other uncertain parameters")] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What value of a parameter (--vary), or which option of a choice (--choose), reaches a target KPI."""
    from exoforge.analysis.target import target

    if (below is None) == (above is None):
        fail(["give exactly one of --below or --above"])
    if (vary is None) == (choose is None):
        fail(["give exactly one of --vary PARAMETER or --choose KEY=OPTION,OPTION"])
    scn = load(scenario)
    if choose is not None:
        _choose(scn, scenario, kpi, choose, below, above, n, seed, json_out)
        return
    assert vary is not None
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


def _choose(
    scn: Scenario,
    scenario: Path,
    kpi: str,
    choose: str,
    below: float | None,
    above: float | None,
    n: int,
    seed: int,
    json_out: bool,
) -> None:
    from exoforge.analysis.target_choice import target_choice
    from exoforge.yamlio import load_yaml

    key, sep, listed = choose.partition("=")
    if not sep or not key.strip() or not listed.strip():
        fail([f"--choose: '{choose}' is not KEY=OPTION,OPTION (e.g. expansion.platform=stirred_tank,vertical_wheel)"])
    options = [load_yaml(o.strip()) for o in listed.split(",") if o.strip()]
    try:
        result = target_choice(scn, kpi, key.strip(), options, below=below, above=above, n=n, seed=seed)
    except KeyError as exc:
        fail([str(exc.args[0])], str(scenario))
    except input_errors() as exc:
        fail([message(exc)], str(scenario))
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    from exoforge.report.target_console import print_choice

    print_choice(result)


def register(app: typer.Typer) -> None:
    app.command("target")(target_command)
