"""`exoforge schema`: the JSON Schema of the scenario contract (for editors and validators)."""

from __future__ import annotations

import json

import typer


def schema() -> None:
    """Print the JSON Schema of scenario files (schema_version 1)."""
    from exoforge.plugins import load_plugins
    from exoforge.scenario import Scenario

    load_plugins()
    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.command()(schema)
