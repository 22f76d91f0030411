"""`exoforge plugins`: the installed plug-ins and what each one added."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer


def plugins_command(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the installed plug-ins (entry point group exoforge.plugins) and what each one added."""
    from exoforge.plugins import ENTRY_POINT_GROUP, loaded_plugins

    found = loaded_plugins()
    if json_out:
        typer.echo(json.dumps([asdict(p) for p in found], indent=2))
        return
    if not found:
        typer.echo(f"no plug-ins installed (entry point group '{ENTRY_POINT_GROUP}')")
        return
    for p in found:
        typer.echo(f"{p.name} ({p.target})")
        platforms = [f"{name} (like {like})" for name, like in p.platforms.items()]
        listed = (
            ("unit operations", p.operations),
            ("media", p.media),
            ("microcarriers", p.microcarriers),
            ("platforms", platforms),
        )
        for what, items in (*listed, ("parameters", p.parameter_folders), ("evidence", p.evidence_folders)):
            if items:
                typer.echo(f"  {what}: {', '.join(items)}")


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
