"""`exoforge select`: the cheapest platform × scale × isolation train for a demand (exhaustive)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import ExcludeRefOpt, ParamsOpt, fail, input_errors, message, parameter_file, progress_bar

#: --samples: draws of the uncertain parameters on which every design is run again.
SamplesOpt = Annotated[
    int,
    typer.Option(
        "--samples",
        min=0,
        max=4096,
        help="draws of the uncertain parameters on which every design is run again (0: central values only; "
        "also skips what decides between the first two)",
    ),
]


def select_command(
    space: Annotated[Path, typer.Argument(help="selection-space file (.yaml or .toml)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="write a self-contained HTML report")] = None,
    demands: Annotated[
        str | None, typer.Option("--demands", help="comma-separated doses per year for cost-per-dose curves")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="ranked designs shown in the table")] = 10,
    params: ParamsOpt = None,
    exclude_ref: ExcludeRefOpt = None,
    check_robustness: Annotated[
        bool,
        typer.Option(
            "--robustness/--no-robustness", help="rank again without each study the first choice leans on most"
        ),
    ] = True,
    samples: SamplesOpt = 64,
    seed: Annotated[int, typer.Option("--seed", help="seed of the draws")] = 1,
) -> None:
    """Simulate every platform × scale × isolation train of SPACE; rank the feasible ones by cost per dose."""
    from exoforge.analysis.selection import load_space, select
    from exoforge.analysis.selection_contest import what_decides
    from exoforge.analysis.selection_demand import demand_curves
    from exoforge.analysis.selection_robustness import robustness
    from exoforge.analysis.selection_uncertainty import selection_odds
    from exoforge.scenario import ScenarioError

    try:
        sp = load_space(space)
    except ScenarioError as exc:
        fail(exc.problems, str(space))
    try:
        levels = [float(x) for x in demands.split(",")] if demands else list(sp.demands)
    except ValueError:
        fail([f"--demands: '{demands}' is not a comma-separated list of numbers"])
    want_curves = bool(levels) and (report is not None or json_out)
    total = 1 + want_curves + check_robustness + 2 * bool(samples)  # phases, for the progress bar
    try:
        with progress_bar("select", enabled=not json_out) as update:
            pf = parameter_file(params)
            drop = exclude_ref or ()
            sel = select(sp, parameter_file=pf, exclude_refs=drop)
            update(1, total)
            curves = demand_curves(sp, levels, parameter_file=pf, exclude_refs=drop) if want_curves else []
            rests = robustness(sp, sel, parameter_file=pf) if check_robustness else []
            update(total - 2 * bool(samples), total)
            odds = selection_odds(sp, sel, samples, seed, parameter_file=pf) if samples else None
            update(total - bool(samples), total)
            contest = what_decides(sp, sel, seed=seed, parameter_file=pf) if samples else None
    except input_errors() as exc:
        fail([message(exc)], str(space))
    if report is not None:
        from exoforge.report.selection_report import write_selection_report

        write_selection_report(sel, curves, report, rests, odds, contest)
    if json_out:
        body = {**sel.to_json(), "demand_curves": [c.to_json() for c in curves]}
        body["robustness"] = [r.to_json() for r in rests]
        body["uncertainty"] = odds.to_json() if odds is not None else None
        body["what_decides"] = contest.to_json() if contest is not None else None
        typer.echo(json.dumps(body, indent=2))
        return
    from exoforge.report.selection_report import print_contest, print_odds, print_robustness, print_selection

    print_selection(sel, top=top)
    print_odds(odds, top=top)
    print_contest(contest)
    print_robustness(rests)
    if report is not None:
        typer.echo(f"report written: {report}")


def register(app: typer.Typer) -> None:
    app.command("select")(select_command)
