"""Command-line interface: a thin shell over the library (parse -> call -> print).

Exit codes: 0 success; 2 the input breaks a contract (one line per problem on
standard error, never a traceback); 1 an unexpected failure (or an installed
plug-in that cannot be loaded, named in one line); 3 ``run --strict``: an
engineering check failed (the output is still printed).

Commands live in :mod:`exoforge.commands`, one module per group; each module's
``register(app)`` adds its commands here.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Design, simulate, cost and optimise MSC-exosome (small EV) production.",
    pretty_exceptions_enable=False,
)

#: Command modules, registered in this order (``exoforge --help`` lists them so).
COMMAND_MODULES = (
    "run",
    "evidence",
    "parameters",
    "schema",
    "analysis",
    "upstream",
    "select",
    "target",
    "nta",
    "misev",
    "fit",
    "runs",
    "db",
    "serve",
    "plugins",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"exoforge.commands.{_name}").register(app)


def main() -> None:
    """Entry point of the ``exoforge`` command."""
    from exoforge.plugins import PluginError

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except PluginError as exc:  # an installed plug-in is broken: say which, without a traceback
        print(f"exoforge: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
