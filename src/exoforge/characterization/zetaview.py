"""ZetaView (Particle Metrix) size-distribution text exports (``*_size_*.txt``).

Layout (ZetaView 8.x, as processed by public analysis code for version
8.06.01): a header of ``Key:<tab>Value`` lines (``Sample``, ``Software``,
``Temperature``, ``Viscosity``, ``Dilution::``, ``Laser Wavelength nm``,
``Sensitivity``, ``Shutter``, ``Minimum Brightness``, ``Median Number (D50)``,
...), then a ``Size Distribution`` table headed ``Size / nm  Number
Concentration / cm-3  Volume / nm^3  Area / nm^2`` in linear bins, then (after
a ``-1.000E+0`` separator row) the same in logarithmic bins. exoforge reads the
header and the linear table; keys and columns are found by their labels.

Concentrations (``cm-3`` = per mL) are those of the measured suspension; the
sample's are the table's times ``Dilution::`` (as the vendor's reports give the
"original concentration"); check the product against your instrument's PDF
report once.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.characterization.nta import NTAMeasurement, Reported, SizeDistribution
from exoforge.characterization.textfile import DataFileError, Row, parse_number, read_rows, where

_HEADER_KEY = re.compile(r"^([^:\t]+?):{1,2}\s*(.*)$")


def looks_like(head: str) -> bool:
    """True when the text looks like a ZetaView export."""
    low = head.lower()
    return "zetaview" in low or ("size / nm" in low and "concentration / cm-3" in low)


def _header(rows: list[Row], stop: int) -> dict[str, tuple[str, Row]]:
    """``Key: value`` pairs above the size table (keys lower-case, value's first tab-separated field)."""
    out: dict[str, tuple[str, Row]] = {}
    for r in rows[:stop]:
        line = "\t".join(r.cells)
        m = _HEADER_KEY.match(line)
        if not m:
            continue
        key = re.sub(r"\s+", " ", m.group(1)).strip().lower()
        value = m.group(2).split("\t")[0].strip()
        out.setdefault(key, (value, r))
    return out


def read_zetaview(path: str | Path) -> NTAMeasurement:
    """Read a ZetaView size-distribution text export (see the module docstring).

    Raises
    ------
    DataFileError
        with one located line per problem (file, line, column).
    """
    # Longer than 80 lines: one ZetaView export, block by block as the file lays them out; each branch is one
    # labelled block.
    p = Path(path)
    rows, _ = read_rows(p, delimiter="\t")
    problems: list[str] = []
    warnings: list[str] = []
    start = next((i for i, r in enumerate(rows) if r.label.lower().startswith("size / nm")), None)
    if start is None:
        raise DataFileError([f"{p}: no 'Size / nm' table: not a ZetaView size-distribution export"])
    head = _header(rows, start)
    names = [re.sub(r"\s+", " ", c).lower() for c in rows[start].cells]
    conc_col = next((j for j, c in enumerate(names) if c.startswith("concentration")), None)
    number_col = next((j for j, c in enumerate(names) if c == "number"), None)
    if conc_col is None:
        raise DataFileError([f"{where(p, rows[start])}: the size table has no 'Concentration / cm-3' column"])

    def number(key: str, what: str, low: float | None = None) -> float | None:
        if key not in head:
            return None
        text, row = head[key]
        value = parse_number(text.split()[0] if text else "")
        if value is None:
            problems.append(f"{where(p, row, 1, what)}: '{text}' is not a number")
            return None
        if low is not None and value < low:
            problems.append(f"{where(p, row, 1, what)}: {value:g} is below {low:g}")
            return None
        return value

    centres: list[float] = []
    conc: list[float] = []
    counts: list[float] = []
    for r in rows[start + 1 :]:
        c = parse_number(r.label)
        if c is None or c < 0:  # blank line, the '-1.000E+0' separator or the next block
            if r.label and c is None:
                problems.append(f"{where(p, r, 0, 'Size / nm')}: '{r.label}' is not a size")
            break
        v = parse_number(r.cell(conc_col))
        if v is None or not math.isfinite(v):
            col_name = rows[start].cell(conc_col)
            problems.append(f"{where(p, r, conc_col, col_name)}: '{r.cell(conc_col)}' is not a number")
            continue
        if v < 0:
            problems.append(f"{where(p, r, conc_col, rows[start].cell(conc_col))}: {v:g} is negative")
        if centres and c <= centres[-1]:
            problems.append(f"{where(p, r, 0, 'Size / nm')}: {c:g} nm does not increase")
            break
        centres.append(c)
        conc.append(v)
        if number_col is not None:
            counts.append(parse_number(r.cell(number_col)) or 0.0)
    if not centres:
        problems.append(f"{where(p, rows[start])}: the size table has no rows")
    dilution = number("dilution", "Dilution", low=1.0)
    dilution_line = head["dilution"][1].line if "dilution" in head else None
    if "dilution" not in head:
        warnings.append(f"{p}: no 'Dilution::' line: the dilution is not recorded")
    settings: dict[str, Any] = {
        "sensitivity": number("sensitivity", "Sensitivity"),
        "shutter": number("shutter", "Shutter"),
        "laser_wavelength_nm": number("laser wavelength nm", "Laser Wavelength nm"),
        "minimum_brightness": number("minimum brightness", "Minimum Brightness"),
        "minimum_area": number("minimum area", "Minimum Area"),
        "maximum_area": number("maximum area", "Maximum Area"),
        "minimum_tracelength": number("minimum tracelength", "Minimum Tracelength"),
        "temperature_c": number("temperature", "Temperature"),
        "viscosity_cp": number("viscosity", "Viscosity"),
        "positions": number("positions", "Positions"),
        "traces": number("number of traces", "Number of Traces"),
    }
    for key in ("sensitivity", "shutter"):
        if settings[key] is None:
            warnings.append(f"{p}: no '{key.title()}:' line: the setting is not reported")
    d50_file = number("median number (d50)", "Median Number (D50)")
    if problems:
        raise DataFileError(problems)
    dist = SizeDistribution(np.array(centres), np.array(conc))
    total = dist.total
    size = {
        "mean": Reported((), dist.mean()),
        "mode": Reported((), dist.mode()),
        "d10": Reported((), dist.percentile(0.1)),
        "d50": Reported((), d50_file if d50_file is not None else dist.percentile(0.5)),
        "d90": Reported((), dist.percentile(0.9)),
    }
    software = head.get("software", ("ZetaView (version not stated)", rows[0]))[0]
    sample = head.get("sample", (p.stem, rows[0]))[0] or p.stem
    original = head.get("original file", (p.name, rows[0]))[0]
    return NTAMeasurement(
        path=str(p),
        instrument="ZetaView",
        software=software,
        sample=sample,
        videos=(original,),
        concentration=Reported((total,), total, None, rows[start].line),
        dilution_factor=dilution,
        dilution_line=dilution_line,
        concentration_adjusted_for_dilution=False,
        size=size,
        distribution=dist,
        settings=settings,
        warnings=tuple(warnings),
    )
