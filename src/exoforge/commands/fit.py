"""`exoforge fit DATA --scenario S`: fit growth, metabolism and EV secretion to a team's own batch data."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from exoforge.commands.common import fail, load

if TYPE_CHECKING:
    from exoforge.scenario import Scenario


def _scenarios(specs: list[str], batches: list[str]) -> tuple[dict[str, Scenario], dict[str, str]]:
    """``--scenario FILE`` (every batch) and ``--scenario BATCH=FILE`` (one batch) -> scenario per batch."""
    default: Path | None = None
    per: dict[str, Path] = {}
    problems = []
    for spec in specs:
        batch, sep, file = spec.partition("=")
        if sep and not Path(spec).exists():
            per[batch.strip()] = Path(file.strip())
        elif default is None:
            default = Path(spec)
        else:
            problems.append(f"--scenario {spec}: a second scenario for every batch; name its batch (BATCH=FILE)")
    for b in per:
        if b not in batches:
            problems.append(f"--scenario {b}=...: the data have no batch '{b}' (batches: {', '.join(batches)})")
    if problems:
        fail(problems)
    loaded: dict[str, Scenario] = {}
    files: dict[str, str] = {}
    cache: dict[Path, Scenario] = {}
    for b in batches:
        path = per.get(b, default)
        if path is None:
            fail([f"batch {b}: no scenario describes it (give --scenario FILE, or --scenario {b}=FILE)"])
        if path not in cache:
            cache[path] = load(path)
        loaded[b] = cache[path]
        files[b] = str(path)
    return loaded, files


def fit_command(
    data: Annotated[list[Path], typer.Argument(help="batch data in the long format (.csv or .xlsx), one or more")],
    scenario: Annotated[
        list[str],
        typer.Option("--scenario", help="the batches' process (FILE), or one batch's (BATCH=FILE); repeat"),
    ],
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", help="parameter to fit (repeat; default: from the variables measured)"),
    ] = None,
    per_batch: Annotated[
        list[str] | None, typer.Option("--per-batch", help="fit this parameter for each batch (repeat)")
    ] = None,
    noise: Annotated[
        Path | None, typer.Option("--noise", help="assay noise (YAML, as exoforge/measurements/assays.yaml)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the fitted parameter file (YAML)")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="write an HTML report with the plots")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Weighted least squares of growth, death, metabolism and EV-secretion parameters, with 95 % intervals,
    correlations and identifiability warnings; --out writes a parameter file that run, mc, optimize and
    select take with --params."""
    from exoforge.analysis.calibration import CalibrationError, CalibrationProblem, fit
    from exoforge.characterization.textfile import DataFileError
    from exoforge.measurements.noise import load_assays
    from exoforge.measurements.table import read_batch_data

    try:
        batch_data = read_batch_data(data)
        assays = load_assays(noise)
    except DataFileError as exc:
        fail(exc.problems)
    scenarios, files = _scenarios(scenario, batch_data.batches)
    from rich.console import Console

    console = Console(stderr=True)
    busy = f"fitting {len(batch_data.batches)} batch(es) ..."
    status = console.status(busy) if console.is_terminal else contextlib.nullcontext()
    try:
        with status:
            problem = CalibrationProblem(
                batch_data, scenarios, fit=parameter or None, per_batch=per_batch or (), assays=assays
            )
            result = fit(problem)
    except CalibrationError as exc:
        fail(exc.problems)
    if out is not None:
        from exoforge.analysis.parameter_file import write_parameter_file

        write_parameter_file(result, out, files)
    if report is not None:
        from exoforge.report.fit_report import write_fit_report

        write_fit_report(result, report)
    if json_out:
        body = result.to_json()
        body["parameter_file"] = str(out) if out is not None else None
        typer.echo(json.dumps(body, indent=2))
        return
    from exoforge.report.fit_report import print_fit

    print_fit(result, typer.echo)
    if out is not None:
        typer.echo(f"parameter file written: {out} (use with --params)")
    if report is not None:
        typer.echo(f"report written: {report}")


def register(app: typer.Typer) -> None:
    app.command("fit")(fit_command)
