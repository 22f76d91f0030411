"""Plug-ins: installed packages that add unit operations and parameters to exoforge.

A plug-in is any installed distribution that declares an entry point in the group
``exoforge.plugins`` (in its ``pyproject.toml``)::

    [project.entry-points."exoforge.plugins"]
    dialysis = "exoforge_dialysis:register"

The entry point names a function that exoforge calls once, with a :class:`PluginRegistrar`, the
first time a scenario is read, a parameter set is built or an isolation train is run. Through it
the plug-in adds

* a **unit operation**: its settings model (a subclass of
  :class:`exoforge.scenario.OperationSettings` with ``op: Literal["<id>"]``), which then joins the
  scenario's ``isolation`` choices and ``exoforge schema``, and the function that runs it
  (``run(settings, stream, parameters, step_name) -> StepOutcome``, see
  :mod:`exoforge.downstream.operations`);
* a **parameter folder**: YAML files in the format of ``exoforge/data/parameters`` (validated
  the same way), holding the operation's constants with their sources and the prices of what it
  uses (``price.<item>``).

A plug-in that fails to load stops the program with its name and the reason, rather than
running without it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exoforge.downstream.operations import OpFunction
    from exoforge.scenario import OperationSettings

ENTRY_POINT_GROUP = "exoforge.plugins"

_loaded: list[str] | None = None


class PluginError(RuntimeError):
    """An installed plug-in could not be loaded or registered something invalid."""


class PluginRegistrar:
    """What a plug-in's entry point receives: the ways it can extend exoforge."""

    def __init__(self, plugin: str):
        self.plugin = plugin

    def unit_operation(self, settings: type[OperationSettings], run: OpFunction) -> None:
        """Add the isolation operation described by ``settings`` (its ``op`` id) and run by ``run``."""
        from exoforge.downstream.operations import register_operation
        from exoforge.scenario import register_operation_model

        op_id = register_operation_model(settings)
        register_operation(op_id, run)

    def parameter_folder(self, folder: str | Path) -> None:
        """Read the parameter files (``*.yaml``) of ``folder`` with the packaged ones."""
        from exoforge.parameters import register_parameter_folder

        register_parameter_folder(Path(folder))


def load_plugins() -> tuple[str, ...]:
    """Load every installed plug-in once (later calls return the names loaded the first time)."""
    global _loaded
    if _loaded is not None:
        return tuple(_loaded)
    _loaded = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
            register(PluginRegistrar(ep.name))
        except Exception as exc:
            raise PluginError(f"plug-in '{ep.name}' ({ep.value}) could not be loaded: {exc}") from exc
        _loaded.append(ep.name)
    return tuple(_loaded)
