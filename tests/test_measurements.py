"""The batch-data long format: units through pint, PEtab names, Excel, and one located line per problem."""

from __future__ import annotations

import hashlib

import pytest

from exoforge.characterization.textfile import DataFileError
from exoforge.measurements.table import read_batch_data


def write(tmp_path, text: str, name: str = "runs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(paths) -> list[str]:
    with pytest.raises(DataFileError) as err:
        read_batch_data(paths)
    return err.value.problems


def test_units_are_converted_to_the_model_units(tmp_path) -> None:
    path = write(
        tmp_path,
        "# comment lines are skipped\n"
        "batch,time,variable,value,unit,replicate,assay,time_unit\n"
        "B1,0,viable_cells,6,1e6 cells,1,,\n"
        "B1,72,glucose,0.9,g/L,1,,h\n"
        "B1,3,lactate,90,mg/dL,1,,\n"
        "B1,3,viability,95,%,1,,\n"
        "B1,9,ev_concentration,2.16e9,particles/mL,a,nta,\n"
        "B1,9,ev_concentration,2.0e6,particles/uL,b,nta,\n",
    )
    data = read_batch_data([path])
    by = {(m.variable, m.replicate): m for m in data.measurements}
    assert by["viable_cells", "1"].value == pytest.approx(6e6)
    assert by["glucose", "1"].value == pytest.approx(0.9 / 180.156 * 1000) and by["glucose", "1"].time_day == 3.0
    assert by["lactate", "1"].value == pytest.approx(0.9 / 89.071 * 1000)
    assert by["viability", "1"].value == pytest.approx(0.95)
    assert by["ev_concentration", "b"].value == pytest.approx(2.0e9)
    assert by["viable_cells", "1"].assay == "cell_count" and by["ev_concentration", "a"].assay == "nta"
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.batches == ["B1"]


def test_petab_column_names_and_semicolons_with_decimal_commas(tmp_path) -> None:
    path = write(
        tmp_path,
        "observableId;simulationConditionId;time;measurement;unit;replicateId;datasetId\nglucose;B2;1;5,5;mM;r1;d1\n",
    )
    (m,) = read_batch_data([path]).measurements
    assert (m.batch, m.variable, m.value, m.replicate) == ("B2", "glucose", 5.5, "r1")


def test_every_problem_named_by_file_line_and_column(tmp_path) -> None:
    path = write(
        tmp_path,
        "batch,time,variable,value,unit\n"
        "B1,xx,glucose,5,mM\n"
        "B1,1,glucos,5,mM\n"
        "B1,1,glucose,5,g\n"
        "B1,1,viability,140,%\n"
        "B1,-1,lactate,2,mM\n"
        "B1,2,lactate,abc,mM\n"
        "B1,2,lactate,1,mM\n"
        "B1,2,lactate,1.1,mM\n",
    )
    found = problems([path])
    expected = [
        ("line 2, column 2 (time)", "'xx' is not a number"),
        ("line 3, column 3 (variable)", "did you mean 'glucose'"),
        ("line 4, column 5 (unit)", "'g' does not measure a concentration"),
        ("line 5, column 4 (value)", "outside the possible range of viability"),
        ("line 6, column 2 (time)", "before seeding"),
        ("line 7, column 4 (value)", "'abc' is not a number"),
        ("line 9", "repeats"),
    ]
    for where, what in expected:
        assert any(where in p and what in p for p in found), (where, found)
    assert len(found) == len(expected)


def test_header_problems(tmp_path) -> None:
    found = problems([write(tmp_path, "batch,tme,variable,value\nB1,0,glucose,5\n")])
    assert any("line 1, column 2: unknown column 'tme' (did you mean 'time'?)" in p for p in found)
    assert any("missing column 'unit'" in p for p in found)
    assert problems([tmp_path / "nope.csv"]) == [f"{tmp_path / 'nope.csv'}: file not found"]


def test_excel_sheet_row_and_column(tmp_path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "measurements"
    for row in (
        ["batch", "time", "variable", "value", "unit"],
        ["B1", 0, "viable_cells", 6e6, "cells"],
        ["B1", 2, "glucose", "abc", "mM"],
    ):
        ws.append(row)
    path = tmp_path / "runs.xlsx"
    wb.save(path)
    assert problems([path]) == [f"{path}: sheet 'measurements', row 3, column D (value): 'abc' is not a number"]
    ws.delete_rows(3)
    wb.save(path)
    (m,) = read_batch_data([path]).measurements
    assert m.value == 6e6 and m.where.endswith("row 2")
