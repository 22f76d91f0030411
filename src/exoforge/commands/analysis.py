"""`exoforge mc`, `exoforge sensitivity` and `exoforge optimize`: the analyses, on a chosen backend."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from exoforge.commands.common import (
    ExcludeRefOpt,
    ParamsOpt,
    fail,
    input_errors,
    load,
    message,
    parameter_file,
    parameters_from_file,
    progress_bar,
)

BackendOpt = Annotated[str, typer.Option("--backend", help="local (this machine) or dask")]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="address of a Dask scheduler; default: a LocalCluster for the run")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="worker processes (local) or LocalCluster workers (dask)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="write a self-contained HTML report")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of the design (same seed, same numbers on every backend)")]


@contextlib.contextmanager
def backend_for(name: str, scheduler: str | None, workers: int | None, rows: int) -> Iterator[Any]:
    from exoforge.engine.backends import open_backend

    try:
        backend = open_backend(name, scheduler=scheduler, workers=workers, rows=rows)
    except (ValueError, OSError) as exc:
        fail([f"--backend {name}: {exc}"])
    with backend:
        yield backend


def _finish(result: Any, report: Path | None, json_out: bool, report_builder: str, printer: str) -> None:
    """Write the HTML report (``exoforge.report.analysis_html.<report_builder>``) when asked, then
    print the result as JSON or as tables (``exoforge.report.analysis_console.<printer>``).

    The report and console modules are imported here, not at start-up.
    """
    if report is not None:
        from exoforge.report import analysis_html

        analysis_html.write_html(getattr(analysis_html, report_builder)(result), report)
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    from exoforge.report import analysis_console

    getattr(analysis_console, printer)(result)
    if report is not None:
        typer.echo(f"report written: {report}")


def mc(
    scenario: Annotated[Path, typer.Argument(help="scenario file (.yaml or .toml)")],
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="number of parameter sets to sample")] = 10_000,
    seed: SeedOpt = 1,
    sampler: Annotated[str, typer.Option("--sampler", help="random, lhs or sobol")] = "random",
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    # the default is analysis.backends.DEFAULT_CHUNK_ROWS (not imported here: start-up time)
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="largest number of rows per task")] = 65_536,
    exclude_ref: ExcludeRefOpt = None,
    json_out: JsonOpt = False,
    report: ReportOpt = None,
    params: ParamsOpt = None,
) -> None:
    """Monte Carlo: sample every uncertain parameter N times; median, 5th-95th percentile, probabilities.

    With --params, the fitted parameters are sampled jointly from the fit's covariance."""
    from exoforge.analysis.uncertainty import SAMPLERS, monte_carlo

    if sampler not in SAMPLERS:
        fail([f"--sampler: '{sampler}' is not one of {', '.join(SAMPLERS)}"])
    scn = load(scenario)
    fitted = parameters_from_file(scn, params, exclude_ref) if params is not None else None
    for w in fitted.warnings if fitted is not None else ():
        typer.echo(f"note: {w}", err=True)
    with backend_for(backend, scheduler, workers, n) as be, progress_bar(f"{n:,} samples") as update:
        try:
            result = monte_carlo(
                scn,
                n=n,
                seed=seed,
                sampler=sampler,
                params=fitted.params if fitted is not None else None,
                exclude_refs=exclude_ref or (),
                backend=be,
                chunk_rows=chunk_rows,
                progress=update,
            )
        except input_errors() as exc:
            fail([message(exc)], str(scenario))
    _finish(result, report, json_out, "monte_carlo_report", "print_monte_carlo")


def sensitivity(
    scenario: Annotated[Path, typer.Argument(help="scenario file (.yaml or .toml)")],
    method: Annotated[
        list[str] | None, typer.Option("--method", help="sobol, morris or tornado (repeat; default: all three)")
    ] = None,
    n: Annotated[int, typer.Option("-n", "--n", help="Sobol base sample size (a power of two)")] = 1024,
    trajectories: Annotated[int, typer.Option("--trajectories", min=2, help="Morris trajectories")] = 32,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", help="output to analyse (repeat)")] = None,
    parameter: Annotated[
        list[str] | None, typer.Option("--parameter", help="parameter to vary (repeat; default: every uncertain one)")
    ] = None,
    second_order: Annotated[bool, typer.Option("--second-order", help="Sobol second-order indices too")] = False,
    log: Annotated[bool, typer.Option("--log", help="analyse log10 of the outputs")] = False,
    seed: SeedOpt = 1,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
    report: ReportOpt = None,
) -> None:
    """Global sensitivity: Sobol first-order and total indices, Morris screening and a tornado plot."""
    from exoforge.analysis import sensitivity as sa

    methods = method or ["sobol", "morris", "tornado"]
    scn = load(scenario)
    with backend_for(backend, scheduler, workers, n * 64) as be, progress_bar("sensitivity") as update:
        try:
            result = sa.sensitivity(
                scn,
                methods=methods,
                n=n,
                trajectories=trajectories,
                seed=seed,
                kpis=kpi or sa.DEFAULT_KPIS,
                names=parameter,
                second_order=second_order,
                log_outputs=log,
                backend=be,
                progress=update,
            )
        except input_errors() as exc:
            fail([message(exc)], str(scenario))
    _finish(result, report, json_out, "sensitivity_report", "print_sensitivity")


#: --odds-samples of optimize: draws on which every recommendation is run again.
OddsSamplesOpt = Annotated[
    int,
    typer.Option(
        "--odds-samples",
        min=0,
        max=4096,
        help="draws on which every recommendation is run again, to say how sure their order is (0: skip)",
    ),
]


def optimize(
    space: Annotated[Path, typer.Argument(help="design-space file (.yaml or .toml)")],
    generations: Annotated[
        int | None, typer.Option("--generations", min=1, help="generations (default: the file's)")
    ] = None,
    population: Annotated[int | None, typer.Option("--population", min=4, help="designs per generation")] = None,
    designs: Annotated[
        int | None,
        typer.Option("--designs", min=1, help="designs to evaluate (sets generations = designs / population)"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of the optimiser (default: the file's)")] = None,
    state: Annotated[Path | None, typer.Option("--state", help="save the state here after every generation")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from --state")] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="recommendations to list")] = 5,
    write_best: Annotated[
        Path | None, typer.Option("--write-best", help="write the top recommendation as a scenario file")
    ] = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
    report: ReportOpt = None,
    params: ParamsOpt = None,
    exclude_ref: ExcludeRefOpt = None,
    check_robustness: Annotated[
        bool,
        typer.Option(
            "--robustness/--no-robustness", help="re-evaluate the recommendations without each study #1 leans on most"
        ),
    ] = True,
    odds_samples: OddsSamplesOpt = 64,
) -> None:
    """Optimise a design space: cost per dose (GA) or several objectives (NSGA-II), with recommendations."""
    import math

    from exoforge.analysis import optimize as opt
    from exoforge.analysis.space import load_space
    from exoforge.scenario import ScenarioError

    try:
        sp = load_space(space)
    except ScenarioError as exc:
        fail(exc.problems, str(space))
    if resume and state is None:
        fail(["--resume needs --state FILE (the state saved by an earlier run)"])
    pop = population or sp.optimizer.population
    gens = math.ceil(designs / pop) if designs is not None else generations
    rows = (gens or sp.optimizer.generations) * pop
    with backend_for(backend, scheduler, workers, rows * 64) as be, progress_bar("generations") as update:
        try:
            result = opt.optimize(
                sp,
                backend=be,
                generations=gens,
                population=population,
                seed=seed,
                state_path=state,
                resume=resume,
                on_generation=lambda g, total, n: update(g, total),
                top=top,
                parameter_file=parameter_file(params),
                exclude_refs=exclude_ref or (),
                check_robustness=check_robustness,
                odds_samples=odds_samples,
            )
        except (ValueError, OSError) as exc:
            fail([message(exc)], str(space))
    if write_best is not None:
        recs = result.recommendations()
        if not recs:
            fail(["--write-best: no feasible design to write"], str(space), code=1)
        from exoforge.analysis.space import write_scenario

        best = dict(recs[0].metrics.scenario, name=f"{sp.name}: {recs[0].metrics.summary}")
        write_scenario(best, write_best, f"recommended by exoforge optimize {space.name}: {recs[0].reason}")
    _finish(result, report, json_out, "optimization_report", "print_optimization")


def register(app: typer.Typer) -> None:
    app.command()(mc)
    app.command()(sensitivity)
    app.command()(optimize)
