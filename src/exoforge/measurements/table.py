"""The batch-data long format: one measured value per row, CSV or Excel.

Columns (a header row names them, in any order; names are case-insensitive):

=============  =======================================================  =========================
column         meaning                                                  PEtab measurement table
=============  =======================================================  =========================
``batch``      the batch (culture run) the sample came from             ``simulationConditionId``
``time``       sampling time since seeding (days unless ``time_unit``)  ``time``
``variable``   what was measured (see :data:`~.variables.VARIABLES`)    ``observableId``
``value``      the measured value                                       ``measurement``
``unit``       its unit (pint syntax: ``mM``, ``g/L``, ``1e6 cells``,
               ``particles/mL``, ``%``)
``replicate``  replicate label (optional; technical replicates of one   ``replicateId``
               sample share batch, time and variable)
``assay``      how it was measured (optional; sets the noise model,     (``noiseParameters`` hold
               e.g. ``nta``, ``cell_count``, ``metabolite_analyser``)    the noise in PEtab)
``time_unit``  unit of ``time`` (optional, default ``day``)
=============  =======================================================  =========================

The PEtab names in the last column are accepted as the column names too, so a
PEtab measurement table whose observables are exoforge variables reads as it is
(``datasetId``, ``observableParameters``, ``noiseParameters`` and
``preequilibrationConditionId`` are accepted and not used); ``note`` and
``comment`` columns are free text. Lines starting with ``#`` are comments.

Each batch's process (vessel, seeding, media, feeding, conditioning) is
described by a scenario file, given with the data to ``exoforge fit``.

Every problem is reported as one line naming the file, the line (CSV) or the
sheet and row (Excel), and the column: ``runs.csv: line 7, column 4 (value):
'12,,3' is not a number``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exoforge.characterization.textfile import DataFileError, parse_number, read_rows
from exoforge.measurements.variables import VARIABLES, Variable

REQUIRED = ("batch", "time", "variable", "value", "unit")
OPTIONAL = ("replicate", "assay", "time_unit")
#: PEtab measurement-table names accepted for exoforge's columns.
ALIASES = {
    "simulationconditionid": "batch",
    "observableid": "variable",
    "measurement": "value",
    "replicateid": "replicate",
}
#: Columns read and not used (PEtab's, and free text).
IGNORED = ("datasetid", "observableparameters", "noiseparameters", "preequilibrationconditionid", "note", "comment")


@dataclass(frozen=True)
class Measurement:
    """One measured value, in the variable's model unit (see :mod:`.variables`)."""

    batch: str
    time_day: float
    variable: str
    value: float
    replicate: str
    assay: str
    where: str  # file and line, for messages


@dataclass(frozen=True)
class SourceFile:
    """A data file read, with the SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True)
class BatchData:
    """Measurements of one or more batches, from one or more files."""

    measurements: tuple[Measurement, ...]
    sources: tuple[SourceFile, ...]
    warnings: tuple[str, ...] = ()

    @property
    def batches(self) -> list[str]:
        return list(dict.fromkeys(m.batch for m in self.measurements))

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(m.variable for m in self.measurements))

    def of(self, batch: str | None = None, variable: str | None = None) -> list[Measurement]:
        return [
            m
            for m in self.measurements
            if (batch is None or m.batch == batch) and (variable is None or m.variable == variable)
        ]

    @property
    def sha256(self) -> str:
        """One digest of every source file (of the sorted per-file digests when there are several)."""
        if len(self.sources) == 1:
            return self.sources[0].sha256
        joined = "\n".join(sorted(f"{s.sha256}" for s in self.sources))
        return hashlib.sha256(joined.encode()).hexdigest()

    def merged(self, other: BatchData) -> BatchData:
        return BatchData(
            self.measurements + other.measurements, self.sources + other.sources, self.warnings + other.warnings
        )


@dataclass(frozen=True)
class _RawRow:
    cells: tuple[Any, ...]
    locate: Callable[[int | None], str]  # column index (or None) -> "file: line 7, column 4"


def _norm(name: Any) -> str:
    return str(name or "").strip().lower().replace(" ", "_")


def _csv_rows(path: Path) -> list[_RawRow]:
    rows, _ = read_rows(path)
    out = []
    for r in rows:
        line = r.line

        def locate(col: int | None, line: int = line) -> str:
            return f"{path}: line {line}" + (f", column {col + 1}" if col is not None else "")

        out.append(_RawRow(r.cells, locate))
    return out


def _excel_rows(path: Path) -> list[_RawRow]:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise DataFileError([f"{path}: not a readable Excel workbook ({exc})"]) from None
    ws = wb["measurements"] if "measurements" in wb.sheetnames else wb[wb.sheetnames[0]]
    title = ws.title
    out = []
    for i, values in enumerate(ws.iter_rows(values_only=True), start=1):

        def locate(col: int | None, row: int = i) -> str:
            column = f", column {get_column_letter(col + 1)}" if col is not None else ""
            return f"{path}: sheet '{title}', row {row}{column}"

        out.append(_RawRow(tuple("" if v is None else v for v in values), locate))
    wb.close()
    return out


def _number(cell: Any, decimal_comma: bool = True) -> float | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return float(cell)
    return parse_number(str(cell), decimal_comma)


def convert(value: float, unit: str, var: Variable) -> float:
    """``value`` in ``unit`` expressed in the variable's model unit (``ValueError`` when not commensurable)."""
    from exoforge.units import ureg

    text = unit.strip()
    if text in ("", "-", "1") and var.unit == "":
        return value
    try:
        q = ureg.parse_expression(text or "dimensionless") * value
    except Exception as exc:  # pint raises several error types for a bad expression
        raise ValueError(f"'{unit}' is not a unit exoforge understands ({exc})") from None
    if not hasattr(q, "to"):
        raise ValueError(f"'{unit}' is not a unit")
    target = ureg.parse_expression(var.unit or "dimensionless")
    try:
        return float(q.to(target.units).magnitude / target.magnitude)
    except Exception:
        pass
    if var.molar_mass_g_per_mol is not None:
        try:
            per_volume = q.to("g/L").magnitude
            return float(per_volume / var.molar_mass_g_per_mol * 1000.0)  # g/L -> mol/L -> mM
        except Exception:
            pass
    mass = " or a mass concentration such as g/L" if var.molar_mass_g_per_mol else ""
    raise ValueError(f"'{unit}' does not measure {var.kind} ({var.name} is in {var.unit or 'a fraction'}{mass})")


def read_batch_data(paths: Sequence[str | Path]) -> BatchData:
    """Read one or more long-format files (``.csv``, ``.tsv``, ``.txt``, ``.xlsx``); see the module docstring.

    Raises
    ------
    DataFileError
        with one located line per problem, for every problem in every file.
    """
    if not paths:
        raise DataFileError(["no data file given"])
    problems: list[str] = []
    data = BatchData((), ())
    for path in paths:
        try:
            part, found = _read_one(Path(path))
        except DataFileError as exc:
            problems.extend(exc.problems)
        else:
            data = data.merged(part)
            problems.extend(found)
    seen: dict[tuple[str, float, str, str, str], Measurement] = {}
    for m in data.measurements:
        key = (m.batch, m.time_day, m.variable, m.replicate, m.assay)
        if key in seen:
            problems.append(
                f"{m.where}: repeats {seen[key].where} (batch {m.batch}, day {m.time_day:g}, {m.variable}, "
                f"replicate '{m.replicate}'); give each replicate its own label"
            )
        else:
            seen[key] = m
    if problems:
        raise DataFileError(problems)
    if not data.measurements:
        raise DataFileError([f"{', '.join(map(str, paths))}: no measurements"])
    return data


def _read_one(path: Path) -> tuple[BatchData, list[str]]:
    """The valid rows of one file and the problems of the others (a file that cannot be read at all raises)."""
    # Longer than 80 lines: one row of a batch-data table: every column is checked with a message naming file,
    # line and column.
    if not path.exists():
        raise DataFileError([f"{path}: file not found"])
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    excel = path.suffix.lower() in (".xlsx", ".xlsm")
    rows = _excel_rows(path) if excel else _csv_rows(path)
    rows = [r for r in rows if any(str(c).strip() for c in r.cells) and not str(r.cells[0]).lstrip().startswith("#")]
    if not rows:
        raise DataFileError([f"{path}: line 1: the file holds no header row and no data"])
    header = rows[0]
    cols: dict[str, int] = {}
    problems: list[str] = []
    known = (*REQUIRED, *OPTIONAL)
    for j, name in enumerate(header.cells):
        n = _norm(name)
        if not n:
            continue
        n = ALIASES.get(n.replace("_", ""), n)
        if n in known:
            if n in cols:
                problems.append(f"{header.locate(j)}: column '{name}' appears twice")
            cols[n] = j
        elif n.replace("_", "") not in IGNORED:
            close = difflib.get_close_matches(n, list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(
                f"{header.locate(j)}: unknown column '{name}'{hint}; columns are {', '.join(known)} (and PEtab's names)"
            )
    for name in REQUIRED:
        if name not in cols:
            problems.append(f"{header.locate(None)}: missing column '{name}' (the header needs {', '.join(REQUIRED)})")
    if problems:
        raise DataFileError(problems)
    out: list[Measurement] = []
    warnings: list[str] = []
    for r in rows[1:]:

        def cell(name: str, r: _RawRow = r) -> Any:
            j = cols.get(name)
            return r.cells[j] if j is not None and j < len(r.cells) else ""

        def at(name: str, r: _RawRow = r) -> str:
            return f"{r.locate(cols[name])} ({name})"

        row_problems: list[str] = []
        batch = str(cell("batch")).strip()
        if not batch:
            row_problems.append(f"{at('batch')}: empty; every row needs the batch it came from")
        name = str(cell("variable")).strip()
        var = VARIABLES.get(name)
        if var is None:
            close = difflib.get_close_matches(name, list(VARIABLES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            row_problems.append(
                f"{at('variable')}: '{name}' is not a variable exoforge knows{hint}; known: {', '.join(VARIABLES)}"
            )
        t = _number(cell("time"))
        if t is None or not math.isfinite(t):
            row_problems.append(f"{at('time')}: '{cell('time')}' is not a number")
        elif "time_unit" in cols and str(cell("time_unit")).strip():
            try:
                from exoforge.units import conversion_factor

                t = t * conversion_factor(str(cell("time_unit")).strip(), "day")
            except Exception:
                row_problems.append(f"{at('time_unit')}: '{cell('time_unit')}' is not a unit of time (h, day, min)")
        if t is not None and t < 0:
            row_problems.append(f"{at('time')}: {t:g} is before seeding (time 0); times count days since seeding")
        v = _number(cell("value"))
        if v is None or not math.isfinite(v):
            row_problems.append(f"{at('value')}: '{cell('value')}' is not a number")
        value = math.nan
        if var is not None and v is not None and math.isfinite(v):
            try:
                value = convert(v, str(cell("unit")), var)
            except ValueError as exc:
                row_problems.append(f"{at('unit')}: {exc}")
            else:
                if value < var.lower or (var.upper is not None and value > var.upper):
                    upper = f" to {var.upper:g}" if var.upper is not None else " or more"
                    row_problems.append(
                        f"{at('value')}: {v:g} {cell('unit')} is outside the possible range of {name} "
                        f"({var.lower:g}{upper} {var.unit or '(fraction)'})"
                    )
        if row_problems:
            problems.extend(row_problems)
            continue
        assert var is not None and t is not None
        replicate = str(cell("replicate")).strip() or "1"
        assay = str(cell("assay")).strip() or var.default_assay
        out.append(Measurement(batch, float(t), name, value, replicate, assay, r.locate(None)))
    return BatchData(tuple(out), (SourceFile(str(path), digest),), tuple(warnings)), problems
