"""Helpers shared by the command modules: clean failures, scenario loading and progress bars."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from exoforge.scenario import Scenario

#: ``--exclude-ref`` of the commands that run scenarios: a reference left out of every value they use
ExcludeRefOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude-ref", help="leave out every evidence record of this DOI or PMID (repeat)"),
]

#: ``--params`` of the commands that run scenarios: a fitted parameter file (written by exoforge fit)
ParamsOpt = Annotated[Path | None, typer.Option("--params", help="fitted parameter file (written by exoforge fit)")]


def fail(problems: list[str], source: str | None = None, code: int = 2) -> NoReturn:
    """Print one line per problem on standard error and exit (2: bad input)."""
    for line in problems:
        typer.echo(f"{source}: {line}" if source else line, err=True)
    raise typer.Exit(code)


def load(path: Path) -> Scenario:
    """Load a scenario or exit with one line per problem."""
    from exoforge.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        fail(exc.problems, str(path))


def input_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'the user's input cannot be simulated' (exit 2, no traceback)."""
    from exoforge.downstream.train import OperationNotModelled
    from exoforge.upstream.platforms import PlatformNotModelled

    return (PlatformNotModelled, OperationNotModelled, KeyError, ValueError)


def message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def parameters_from_file(scenario: Scenario, path: Path, exclude_refs: list[str] | None = None) -> Any:
    """A scenario's parameters with a fitted parameter file applied, or exit with one line per problem."""
    from exoforge.analysis.parameter_file import ParameterFileError, fitted_parameters

    try:
        return fitted_parameters(scenario, path, exclude_refs or ())
    except ParameterFileError as exc:
        fail(exc.problems)


def parameter_file(path: Path | None) -> Any:
    """A fitted parameter file (``--params``), or exit with one line per problem; None when not given."""
    if path is None:
        return None
    from exoforge.analysis.parameter_file import ParameterFileError, load_parameter_file

    try:
        return load_parameter_file(path)
    except ParameterFileError as exc:
        fail(exc.problems)


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on standard error; yields ``update(done, total)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
