"""Helpers shared by the command modules: clean failures and scenario loading."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from exoforge.scenario import Scenario


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
