"""NanoSight NTA 3.x ``ExperimentSummary.csv`` exports.

Layout (NTA 3.3, checked on two exports of the public repository
HugoSalmon/nanosight-data-analysis): labelled sections ``[Experiment Details]``,
``[Conditions]``, ``[Settings]``, ``[Results]``, ``[Size Data]``, each a block
of rows whose first cell names the row and whose next cells hold one value per
video, followed (where the section header says so) by ``Average`` and
``Standard Error``. ``[Size Data]`` repeats one block per weighting (number,
surface area, volume), each headed ``Weighting,<kind>``, with the statistics
(Mean, Mode, SD, D10, D50, D90), then ``Graph Data``: a table of bin centres
(1 nm bins) with the concentration of each video, their average and standard
error. The number-weighted block carries the concentrations.

Everything is found by its label, never by its position: any number of videos,
sections in any order or missing, labels in any case and spacing, commas or
semicolons between cells and decimal commas are all read. A missing section
that holds something exoforge needs is an error naming the file; a value that
is not a number is an error naming its line and column.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.characterization.nta import STATISTICS, NTAMeasurement, Reported, SizeDistribution
from exoforge.characterization.textfile import DataFileError, Row, parse_number, read_rows, where

_SECTION = re.compile(r"^\[(.+)\]$")
_NOT_RECORDED = ("not recorded", "n/a", "none", "")


def looks_like(head: str) -> bool:
    """True when the text starts like a NanoSight experiment summary."""
    low = head.lower()
    return "nta experiment summary" in low or ("[results]" in low and "[size data]" in low)


def norm(label: str) -> str:
    """A label compared without case, spaces or a trailing colon: 'Concentration (Particles / ml)' ->
    'concentration(particles/ml)'."""
    return re.sub(r"\s+", "", label).rstrip(":").lower()


class _File:
    """The rows of one export, with located problems collected as they are found."""

    def __init__(self, path: Path):
        self.path = path
        self.rows, self.delimiter = read_rows(path)
        self.decimal_comma = self.delimiter != ","
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.sections: dict[str, tuple[int, int]] = {}
        starts = [(i, m.group(1).strip().lower()) for i, r in enumerate(self.rows) if (m := _SECTION.match(r.label))]
        for k, (i, name) in enumerate(starts):
            end = starts[k + 1][0] if k + 1 < len(starts) else len(self.rows)
            self.sections.setdefault(name, (i, end))

    def section(self, name: str) -> list[Row] | None:
        """Rows of a section, its header row first (None when the file has no such section)."""
        span = self.sections.get(name)
        return self.rows[span[0] : span[1]] if span else None

    def number(self, row: Row, col: int, what: str, allow_text: tuple[str, ...] = ()) -> float | None:
        """The number in ``row`` at ``col`` (None when empty or one of ``allow_text``); problems are collected."""
        text = row.cell(col)
        if text.lower() in allow_text or not text:
            return None
        value = parse_number(text, self.decimal_comma)
        if value is None or not math.isfinite(value):
            self.problems.append(f"{where(self.path, row, col, what)}: '{text}' is not a number")
            return None
        return value


def _find(rows: list[Row], *labels: str, prefix: bool = False) -> Row | None:
    wanted = [norm(x) for x in labels]
    for r in rows:
        n = norm(r.label)
        if any(n.startswith(w) if prefix else n == w for w in wanted):
            return r
    return None


def _video_names(f: _File) -> list[str]:
    """Names of the videos, from the first 'Filename' row (one cell per video)."""
    results_start = f.sections.get("results", (len(f.rows), 0))[0]
    for r in f.rows[:results_start]:
        if norm(r.label) == "filename":
            return [c for c in r.cells[1:] if c]
    size = f.section("size data")
    if size:
        head = _find(size, "Filename")
        if head is not None:
            return [c for c in head.cells[1:] if c and norm(c) not in ("average", "standarderror")]
    return []


def _columns(header: Row, n_videos: int) -> tuple[int | None, int | None]:
    """Columns of 'Average' and 'Standard Error' in a header row (None when absent)."""
    avg = se = None
    for j, c in enumerate(header.cells):
        if j == 0:
            continue
        if norm(c) in ("average", "concentrationaverage") and avg is None:
            avg = j
        elif norm(c) == "standarderror" and se is None:
            se = j
    return avg, se


def _reported(f: _File, row: Row, n: int, avg_col: int | None, se_col: int | None, what: str) -> Reported:
    values = [f.number(row, 1 + k, what) for k in range(n)]
    if n and all(v is None for v in values):
        f.problems.append(f"{where(f.path, row)}: '{row.label}' has no value for any of the {n} videos")
    avg = f.number(row, avg_col, f"{what}, average") if avg_col is not None else None
    se = f.number(row, se_col, f"{what}, standard error") if se_col is not None else None
    if avg is None:
        computed = Reported.of(values, row.line)
        return computed
    return Reported(tuple(values), avg, se, row.line)


def _per_video_setting(f: _File, rows: list[Row] | None, label: str, n: int) -> Any:
    """A setting reported per video: one value when all videos agree, else the list (None when absent)."""
    if rows is None:
        return None
    r = _find(rows, label)
    if r is None:
        return None
    raw = [r.cell(1 + k) for k in range(n)] if n else [r.cell(1)]
    values: list[Any] = []
    for k, text in enumerate(raw):
        num = parse_number(text, f.decimal_comma)
        values.append(num if num is not None else (text or None))
        if num is not None and num < 0:
            f.problems.append(f"{where(f.path, r, 1 + k, label)}: {text} is negative")
    distinct = {v for v in values if v is not None}
    if len(distinct) == 1:
        return distinct.pop()
    return values or None


def _dilution(f: _File, results: list[Row], n: int) -> tuple[float | None, int | None]:
    row = _find(results, "Dilution factor", prefix=True)
    if row is None:
        f.warnings.append(f"{f.path}: no 'Dilution factor' row in [Results]: the dilution is not recorded")
        return None, None
    values = [f.number(row, 1 + k, "Dilution factor", _NOT_RECORDED) for k in range(max(n, 1))]
    given = {v for v in values if v is not None}
    if not given:
        return None, row.line
    if len(given) > 1:
        f.problems.append(f"{where(f.path, row)}: the videos record different dilution factors {sorted(given)}")
        return None, row.line
    factor = given.pop()
    if factor < 1:
        f.problems.append(f"{where(f.path, row, 1, 'Dilution factor')}: {factor:g} is not a dilution factor (>= 1)")
        return None, row.line
    if len([v for v in values if v is not None]) != len(values):
        f.problems.append(f"{where(f.path, row)}: the dilution factor is recorded for some videos only")
    return factor, row.line


def _size_block(f: _File, size: list[Row]) -> list[Row]:
    """The number-weighted block of [Size Data] (the whole section when it has no 'Weighting' rows)."""
    marks = [i for i, r in enumerate(size) if norm(r.label) == "weighting"]
    if not marks:
        return size
    for k, i in enumerate(marks):
        if norm(size[i].cell(1)) == "number":
            end = marks[k + 1] if k + 1 < len(marks) else len(size)
            return size[i:end]
    f.problems.append(f"{where(f.path, size[marks[0]])}: [Size Data] has no number-weighted block ('Weighting,Number')")
    return []


def _graph(f: _File, block: list[Row], n: int) -> SizeDistribution | None:
    start = next((i for i, r in enumerate(block) if norm(r.label).startswith("bincent")), None)
    if start is None:
        f.warnings.append(f"{f.path}: no 'Bin centre' table in the number-weighted size data: no size distribution")
        return None
    header = block[start]
    names = [norm(c) for c in header.cells]
    video_cols = [j for j, c in enumerate(names) if j > 0 and c.startswith("concentration") and "average" not in c]
    avg_col = next((j for j, c in enumerate(names) if j > 0 and "average" in c), None)
    se_col = next((j for j, c in enumerate(names) if j > 0 and c == "standarderror"), None)
    if not video_cols and avg_col is None:
        f.problems.append(f"{where(f.path, header)}: the 'Bin centre' table has no concentration columns")
        return None
    if n and video_cols and len(video_cols) != n:
        f.problems.append(
            f"{where(f.path, header)}: the size table has {len(video_cols)} video columns, the file names {n} videos"
        )
    centres: list[float] = []
    table: list[list[float]] = []
    for r in block[start + 1 :]:
        centre = parse_number(r.label, f.decimal_comma)
        if centre is None:
            if r.label and not r.blank and norm(r.label) != "percentile":
                f.problems.append(f"{where(f.path, r, 0, 'Bin centre')}: '{r.label}' is not a bin centre")
            break
        cols = [*video_cols, *(c for c in (avg_col, se_col) if c is not None)]
        values = []
        for j in cols:
            v = f.number(r, j, header.cell(j) or f"column {j + 1}")
            if v is not None and v < 0:
                f.problems.append(f"{where(f.path, r, j, header.cell(j))}: {v:g} particles/mL is negative")
            values.append(np.nan if v is None else v)
        if centres and centre <= centres[-1]:
            f.problems.append(f"{where(f.path, r, 0, 'Bin centre')}: {centre:g} nm does not increase")
            break
        centres.append(centre)
        table.append(values)
    if not centres:
        f.problems.append(f"{where(f.path, header)}: the size table has no rows")
        return None
    arr = np.array(table, dtype=float)
    nv = len(video_cols)
    per_video = arr[:, :nv] if nv else None
    k = nv
    if avg_col is not None:
        average = arr[:, k]
        k += 1
    else:
        assert per_video is not None
        with warnings.catch_warnings():  # a row without any number is already a reported problem
            warnings.simplefilter("ignore", RuntimeWarning)
            average = np.nanmean(per_video, axis=1)
    se = arr[:, k] if se_col is not None else None
    return SizeDistribution(np.array(centres), np.nan_to_num(average), per_video, se)


def _concentration_warnings(f: _File, n: int) -> None:
    rows = f.section("concentration warnings")
    if rows is None:
        return
    r = _find(rows, "Validity of concentration measurement")
    if r is None:
        return
    for k in range(n):
        text = r.cell(1 + k)
        if text and norm(text) != "ok":
            f.warnings.append(f"{f.path}: line {r.line}: video {k + 1}: concentration validity '{text}'")


def read_nanosight(path: str | Path) -> NTAMeasurement:
    """Read a NanoSight NTA 3.x ``ExperimentSummary.csv`` (see the module docstring).

    Raises
    ------
    DataFileError
        with one located line per problem (file, line, column).
    """
    # Longer than 80 lines: one NanoSight export, section by section as the file lays them out; each branch is
    # one labelled section or row.
    p = Path(path)
    f = _File(p)
    first = next((r for r in f.rows if not r.blank), None)
    if first is None:
        raise DataFileError([f"{p}: line 1: the file is empty"])
    if "results" not in f.sections:
        if "nta experiment summary" not in first.label.lower():
            raise DataFileError(
                [f"{p}: line {first.line}: not a NanoSight experiment summary (expected 'NTA Experiment Summary File')"]
            )
        found = ", ".join(f"[{name}]" for name in f.sections) or "none"
        raise DataFileError(
            [f"{p}: line {first.line}: no [Results] section (sections found: {found}): no particle concentration"]
        )

    details = f.section("experiment details") or []
    software_row = _find(details, "Software Version")
    created = next((r for r in f.rows[:5] if r.label.lower().startswith("created with")), None)
    software = (
        software_row.cell(1)
        if software_row is not None and software_row.cell(1)
        else created.label[len("created with") :].strip()
        if created is not None
        else "NanoSight NTA (version not stated)"
    )
    sample_row = _find(details, "Sample Description") or _find(details, "Experiment Name")
    sample = sample_row.cell(1) if sample_row is not None else p.stem

    videos = _video_names(f)
    results = f.section("results")
    assert results is not None
    header = results[0]
    n = len(videos)
    if n == 0:
        avg_col, _ = _columns(header, 0)
        n = (avg_col - 1) if avg_col else 1
        videos = [f"video {k + 1}" for k in range(n)]
        f.warnings.append(f"{p}: no 'Filename' row: {n} video(s) assumed from the [Results] columns")
    avg_col, se_col = _columns(header, n)
    conc_row = _find(results, "Concentration (Particles / ml)")
    if conc_row is None:
        conc_row = next((r for r in results if re.match(r"^concentration\(particles/ml", norm(r.label))), None)
    if conc_row is None:
        f.problems.append(
            f"{where(p, header)}: [Results] has no 'Concentration (Particles / ml)' row: no particle concentration"
        )
        concentration = Reported((), None)
    else:
        concentration = _reported(f, conc_row, n, avg_col, se_col, "Concentration")
        for k, v in enumerate(concentration.per_video):
            if v is not None and v < 0:
                f.problems.append(f"{where(p, conc_row, 1 + k, 'Concentration')}: {v:g} particles/mL is negative")
    dilution, dilution_line = _dilution(f, results, n)

    conditions = f.section("conditions")
    settings_rows = f.section("settings")
    settings: dict[str, Any] = {
        "camera_type": _per_video_setting(f, conditions, "Camera Type", n),
        "camera_level": _per_video_setting(f, conditions, "Camera Level", n),
        "shutter_ms": _per_video_setting(f, conditions, "Shutter/ms", n),
        "gain": _per_video_setting(f, conditions, "Slider Gain", n),
        "temperature_c": _per_video_setting(f, conditions, "Temperature/C", n),
        "viscosity_cp": _per_video_setting(f, conditions, "Viscosity/cP", n),
        "detection_threshold": _per_video_setting(f, settings_rows, "Detection Threshold", n),
        "frames_analysed": _per_video_setting(f, settings_rows, "Total frames analysed", n),
    }
    if conditions is None:
        f.warnings.append(f"{p}: no [Conditions] section: camera level, temperature and viscosity are not reported")
    if settings_rows is None:
        f.warnings.append(f"{p}: no [Settings] section: the detection threshold is not reported")
    for key in ("camera_level", "detection_threshold"):
        if settings[key] is None and (conditions is not None if key == "camera_level" else settings_rows is not None):
            f.warnings.append(f"{p}: no '{key.replace('_', ' ')}' row: the setting is not reported")

    size: dict[str, Reported] = {}
    distribution = None
    size_rows = f.section("size data")
    if size_rows is None:
        f.warnings.append(f"{p}: no [Size Data] section: no size statistics or size distribution")
    else:
        block = _size_block(f, size_rows)
        head = _find(block, "Filename")
        s_avg, s_se = _columns(head, n) if head is not None else (None, None)
        for stat in STATISTICS:
            row = _find(block, stat)
            if row is not None:
                size[stat] = _reported(f, row, n, s_avg, s_se, stat.upper() if stat != "mode" else "Mode")
        missing = [s for s in STATISTICS if s not in size]
        if missing:
            f.warnings.append(f"{p}: the number-weighted size data has no {', '.join(missing)} row(s)")
        distribution = _graph(f, block, n) if block else None
        if distribution is not None:
            for stat, q in (("d10", 0.1), ("d50", 0.5), ("d90", 0.9)):
                if stat not in size:
                    size[stat] = Reported((), distribution.percentile(q))
    _concentration_warnings(f, n)
    if f.problems:
        raise DataFileError(f.problems)
    return NTAMeasurement(
        path=str(p),
        instrument="NanoSight",
        software=software,
        sample=sample,
        videos=tuple(videos),
        concentration=concentration,
        dilution_factor=dilution,
        dilution_line=dilution_line,
        concentration_adjusted_for_dilution=True,  # "concentrations adjusted for this factor"
        size=size,
        distribution=distribution,
        settings=settings,
        warnings=tuple(f.warnings),
    )
