"""Reading instrument and laboratory text files: encoding, delimiter, numbers and located problems.

Every problem found in a data file is reported as one line naming the file,
the line (1-based, as an editor shows it) and, where it applies, the column:
``harvest.csv: line 44, column 3 (Concentration): 'abc' is not a number``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

#: A number written with a decimal comma (``2,16E+08``, ``72,5``), as locales other than English export.
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")


class DataFileError(ValueError):
    """A data file cannot be read as what it claims to be; ``problems`` holds one located line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Row:
    """One line of a delimited text file: its 1-based line number and its cells (stripped)."""

    line: int
    cells: tuple[str, ...]

    @property
    def label(self) -> str:
        """The first cell (where instrument exports put the name of a row)."""
        return self.cells[0] if self.cells else ""

    @property
    def blank(self) -> bool:
        return not any(self.cells)

    def cell(self, index: int) -> str:
        return self.cells[index] if index < len(self.cells) else ""


def read_text(path: Path) -> str:
    """The text of ``path``: UTF-8 (with or without BOM), else Windows-1252 as instrument PCs write it."""
    if not path.exists():
        raise DataFileError([f"{path}: file not found"])
    if path.is_dir():
        raise DataFileError([f"{path}: is a folder, not a file"])
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise DataFileError([f"{path}: line 1: binary content; expected a text export"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(text: str, candidates: str = ",;\t") -> str:
    """The delimiter used most on the first 40 lines (ties favour the order of ``candidates``)."""
    head = text.splitlines()[:40]
    counts = {c: sum(line.count(c) for line in head) for c in candidates}
    return max(candidates, key=lambda c: (counts[c], -candidates.index(c)))


def read_rows(path: Path, delimiter: str | None = None) -> tuple[list[Row], str]:
    """Every line of a delimited text file as a :class:`Row`, and the delimiter used."""
    text = read_text(path)
    delim = delimiter or sniff_delimiter(text)
    rows: list[Row] = []
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        for cells in reader:
            rows.append(Row(reader.line_num, tuple(c.strip() for c in cells)))
    except csv.Error as exc:
        raise DataFileError([f"{path}: line {reader.line_num}: {exc}"]) from None
    return rows, delim


def parse_number(text: str, decimal_comma: bool = True) -> float | None:
    """The number written in ``text`` or None; a decimal comma is accepted when ``decimal_comma``."""
    s = text.strip().replace("\u2212", "-")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    if decimal_comma and _DECIMAL_COMMA.match(s):
        return float(s.replace(",", "."))
    return None


def where(path: Path | str, row: Row, column: int | None = None, name: str | None = None) -> str:
    """``file: line L, column C (name)``: the location of a problem, columns 1-based."""
    loc = f"{path}: line {row.line}"
    if column is not None:
        loc += f", column {column + 1}"
        if name:
            loc += f" ({name})"
    return loc
