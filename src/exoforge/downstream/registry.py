"""The registry of isolation unit operations: the function that runs each scenario ``op``.

A built-in operation is one settings model and one function, defined together in its family
module and registered there::

    class SEC(OperationSettings):
        op: Literal["sec"] = Field(description="unit operation id")
        ...

    @operation(SEC)
    def sec(cfg: SEC, s: Stream, p: UsageLog, name: str) -> StepOutcome: ...

The settings' ``op`` literal is the id. The scenario contract builds its ``isolation`` choices from
:func:`operation_settings`; a plug-in registers through :class:`exoforge.plugins.PluginRegistrar`.
:data:`OPERATIONS` is read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from exoforge.downstream.stream import StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import OperationSettings, operation_id

OpFunction = Callable[[Any, Stream, UsageLog, str], StepOutcome]
F = TypeVar("F", bound=Callable[..., StepOutcome])

__all__ = ["OPERATIONS", "OpFunction", "operation", "operation_id", "operation_settings", "register_operation"]

_REGISTRY: dict[str, OpFunction] = {}
_SETTINGS: dict[str, type[OperationSettings]] = {}
#: Every modelled unit operation, by its scenario ``op`` id (read-only).
OPERATIONS: Mapping[str, OpFunction] = MappingProxyType(_REGISTRY)


def register_operation(op_id: str, run: OpFunction) -> None:
    """Add the function that runs operation ``op_id``; an id is registered once."""
    if op_id in _REGISTRY:
        raise ValueError(f"unit operation '{op_id}' is already registered")
    _REGISTRY[op_id] = run


def operation(settings: type[OperationSettings]) -> Callable[[F], F]:
    """Register the decorated function as the one that runs ``settings``' operation."""

    def register(run: F) -> F:
        op_id = operation_id(settings)
        register_operation(op_id, run)
        _SETTINGS[op_id] = settings
        return run

    return register


def operation_settings() -> tuple[type[OperationSettings], ...]:
    """The settings model of every operation registered with :func:`operation`, in registration order."""
    return tuple(_SETTINGS.values())
