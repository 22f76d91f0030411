"""Building blocks of the scenario contract: numbers with units and ranges, and the operation-settings base.

Every model of the contract (:mod:`exoforge.scenario`) and every unit operation's settings
(defined next to the function that runs it, in :mod:`exoforge.downstream`) is built from these,
so ``exoforge schema`` shows each number's unit and range the same way wherever it is defined.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo

__all__ = [
    "AREA_BASIS",
    "JUDGEMENT",
    "MWCO_BASIS",
    "RESIN_BASIS",
    "ContractModel",
    "Int",
    "Num",
    "OperationSettings",
    "field_range",
    "fmt_bound",
    "operation_id",
    "quantity",
    "range_text",
    "unit_of",
]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("is a yes/no value, not a number")
    return value


def fmt_bound(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) < 1e7 else f"{x:.3g}"


def range_text(lo: float | None, hi: float | None, unit: str = "", lo_open: bool = False, hi_open: bool = False) -> str:
    """A range in words: 'from 0.1 to 200 L', 'more than 0 and at most 365 day'."""
    u = f" {unit}" if unit else ""
    if lo is None and hi is None:
        return "any finite number"
    if lo is None:
        assert hi is not None
        return f"{'less than' if hi_open else 'at most'} {fmt_bound(hi)}{u}"
    if hi is None:
        return f"{'more than' if lo_open else 'at least'} {fmt_bound(lo)}{u}"
    if not lo_open and not hi_open:
        return f"from {fmt_bound(lo)} to {fmt_bound(hi)}{u}"
    low = f"{'more than' if lo_open else 'at least'} {fmt_bound(lo)}"
    return f"{low} and {'less than' if hi_open else 'at most'} {fmt_bound(hi)}{u}"


def field_range(field: FieldInfo) -> tuple[float | None, float | None, bool, bool]:
    """(lower, upper, lower exclusive, upper exclusive) of a field's numeric constraints."""
    lo = hi = None
    lo_open = hi_open = False
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Gt):
            lo, lo_open = float(m.gt), True  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Le):
            hi = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Lt):
            hi, hi_open = float(m.lt), True  # type: ignore[arg-type]
    return lo, hi, lo_open, hi_open


def unit_of(field: FieldInfo) -> str:
    return str(getattr(field.json_schema_extra, "unit", ""))


_SCHEMA_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


class _QuantitySchema:
    """JSON Schema of a numeric field: its unit."""

    def __init__(self, unit: str):
        self.unit = unit

    def __call__(self, schema: Any) -> None:
        schema["unit"] = self.unit


def quantity(
    default: Any,
    lo: float,
    hi: float,
    unit: str,
    text: str,
    *,
    lo_open: bool = False,
    basis: str = "",
) -> Any:
    """A numeric field: finite, within [lo, hi] (``lo_open``: above lo), described with its unit.

    ``text`` says what the number is; the allowed range is appended from the bounds themselves,
    then ``basis``: where the range comes from (a citation, or 'judgement: ...').
    """
    bounds: dict[str, Any] = {"gt": lo} if lo_open else {"ge": lo}
    shown = "" if unit in ("", "1") else unit
    unit_text = f" [{shown}]" if shown else ""
    allowed = range_text(lo, hi, shown, lo_open)
    description = f"{text}{unit_text}. Allowed: {allowed}." + (f" Range: {basis}." if basis else "")
    extra = _QuantitySchema(unit or "1")
    return Field(default, le=hi, description=description, json_schema_extra=extra, **bounds)


#: A float field: finite (the model refuses inf and NaN) and never a yes/no value.
Num = Annotated[float, BeforeValidator(_not_bool)]
#: An integer field, never a yes/no value.
Int = Annotated[int, BeforeValidator(_not_bool)]

#: The word a range basis starts with when no citable figure was read.
JUDGEMENT = "judgement"


def _schema_bounds(schema: Any) -> None:
    """Write numeric bounds as JSON Schema keywords throughout a model's schema: pydantic leaves the bounds
    of optional and nested numbers (``float | None``, list items) as raw ``ge``/``le`` keys."""
    if isinstance(schema, dict):
        if schema.get("type") in ("number", "integer"):
            for raw, keyword in _SCHEMA_BOUNDS.items():
                if raw in schema:
                    schema[keyword] = schema.pop(raw)
        for value in schema.values():
            _schema_bounds(value)
    elif isinstance(schema, list):
        for value in schema:
            _schema_bounds(value)


class ContractModel(BaseModel):
    """Base of every model of the scenario contract: unknown keys, inf and NaN refused; frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra=_schema_bounds)


# --------------------------------------------------------------------------- unit operations


class OperationSettings(ContractModel):
    """Base class of a unit operation's settings: ``op: Literal["<id>"]`` and the operation's own keys.

    A built-in operation defines its settings next to the function that runs it and registers both
    with :func:`exoforge.downstream.registry.operation`; a plug-in's operation subclasses it too
    (see :mod:`exoforge.plugins`).
    """

    op: str


def operation_id(settings: type[OperationSettings]) -> str:
    """The ``op`` id of a unit operation's settings model (its ``op: Literal["<id>"]``)."""
    ids = get_args(settings.model_fields["op"].annotation)
    if len(ids) != 1 or not isinstance(ids[0], str):
        raise TypeError(f"{settings.__name__}.op must be Literal['<operation id>']")
    return str(ids[0])


#: Range bases shared by the operations' size fields.
AREA_BASIS = f"{JUDGEMENT}: from a syringe filter to a production filter train"
RESIN_BASIS = f"{JUDGEMENT}: from a microlitre spin column to a 100 L process column"
MWCO_BASIS = (
    f"{JUDGEMENT}: ultrafiltration membranes are rated 1-1,000 kDa and EV processes use 10-750 kDa; hollow fibres "
    "rated 0.05 um correspond to a few thousand kDa"
)
