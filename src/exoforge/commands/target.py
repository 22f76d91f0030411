"""`exoforge target`: what value of a parameter, or which option of a choice, reaches a target KPI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from exoforge.commands.common import fail, input_errors, load, message


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
    from exoforge.analysis.target_choice import target_choice
    from exoforge.report.target_console import print_choice, print_target

    if (below is None) == (above is None):
        fail(["give exactly one of --below or --above"])
    if (vary is None) == (choose is None):
        fail(["give exactly one of --vary PARAMETER or --choose KEY=OPTION,OPTION"])
    scn = load(scenario)
    bounds: dict[str, Any] = {"below": below, "above": above, "n": n, "seed": seed}
    if vary is not None:
        _answer(lambda: target(scn, kpi, vary, **bounds), print_target, scenario, json_out)
        return
    assert choose is not None
    key, options = _options(choose)
    _answer(lambda: target_choice(scn, kpi, key, options, **bounds), print_choice, scenario, json_out)


def _options(choose: str) -> tuple[str, list[Any]]:
    """``KEY=A,B,C`` as the key and its options (each read as a YAML scalar: numbers stay numbers)."""
    from exoforge.yamlio import load_yaml

    key, sep, listed = choose.partition("=")
    if not sep or not key.strip() or not listed.strip():
        fail([f"--choose: '{choose}' is not KEY=OPTION,OPTION (e.g. expansion.platform=stirred_tank,vertical_wheel)"])
    return key.strip(), [load_yaml(o.strip()) for o in listed.split(",") if o.strip()]


def _answer(compute: Callable[[], Any], show: Callable[[Any], None], scenario: Path, json_out: bool) -> None:
    """Run the search; a user's mistake ends in one line (exit 2), the answer prints as JSON or a table."""
    try:
        result = compute()
    except KeyError as exc:
        fail([str(exc.args[0])], str(scenario))
    except input_errors() as exc:
        fail([message(exc)], str(scenario))
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        show(result)


def register(app: typer.Typer) -> None:
    app.command("target")(target_command)
