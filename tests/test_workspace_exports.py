"""Exports of a stored run: the result document read back, CSV tables, plot data, and the Excel workbook
whose cost sheets are live formulas that evaluate to the stored totals."""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

import pytest

from exoforge.workspace import exports, plotdata
from exoforge.workspace.records import data_hash, result_document, result_from_json
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def result():
    import exoforge as xf

    return xf.simulate(xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml"), seed=3)


@pytest.fixture(scope="module")
def doc(result) -> dict[str, Any]:
    return result_document(result)


@pytest.mark.parametrize("example", ["stirred_tank_tff_sec.yaml", "pilot_3l_measured_size.yaml"])
def test_a_stored_document_reads_back_to_the_same_result(example: str) -> None:
    import exoforge as xf

    result = xf.simulate(xf.load_scenario(ROOT / "examples" / example))
    back = result_from_json(result_document(result))
    assert back.to_json() == result.to_json()
    assert back.series.keys() == result.series.keys()
    assert back.kpis["cost.per_dose"] == result.kpis["cost.per_dose"]


def test_the_data_hash_covers_the_evidence_and_parameter_files() -> None:
    h = data_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", h) and h == data_hash()


def test_csv_tables(doc) -> None:
    kpis = list(csv.reader(io.StringIO(exports.run_csv(doc))))
    assert kpis[0] == ["key", "value", "currency"]
    by_key = {r[0]: r for r in kpis[1:]}
    assert float(by_key["cost.per_dose"][1]) == doc["cost"]["per_dose"] and by_key["cost.per_dose"][2] == "USD"
    assert float(by_key["ev.final_particles"][1]) == doc["ev"]["final_particles"]
    ledger = list(csv.DictReader(io.StringIO(exports.run_csv(doc, "ledger"))))
    assert math.isclose(sum(float(r["cost"]) for r in ledger), doc["cost"]["per_batch"], rel_tol=1e-12)
    with pytest.raises(ValueError, match="not one of"):
        exports.run_csv(doc, "nope")


def test_the_data_behind_every_run_figure_has_units(doc) -> None:
    for name, build in plotdata.RUN_PLOTS.items():
        data = build(doc)
        assert data.rows, name
        assert all(len(row) == len(data.columns) for row in data.rows)
        header = data.to_csv().splitlines()[0]
        assert header.count(",") == len(data.columns) - 1
    tc = plotdata.time_courses(doc)
    assert tc.columns[0].unit == "day" and tc.column("time_day") == doc["series"]["time_day"]
    particles = plotdata.particles_through_train(doc)
    assert particles.column("product_evs")[-1] == doc["ev"]["final_particles"]
    costs = plotdata.cost_breakdown(doc)
    assert math.isclose(sum(costs.column("cost")), doc["cost"]["per_batch"], rel_tol=1e-12)


# --------------------------------------------------------------------------- Excel formulas

REF = re.compile(
    r"(?<![\w.'])(?:(?:'(?P<q>[^']+)'|(?P<s>[A-Za-z_]\w*))!)?\$?(?P<c1>[A-Z]{1,3})\$?(?P<r1>\d+)"
    r"(?::\$?(?P<c2>[A-Z]{1,3})\$?(?P<r2>\d+))?"
)


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


class Evaluator:
    """Evaluates the formulas this workbook uses: + - * /, comparisons, SUM, SUMIF, IF, defined names."""

    def __init__(self, wb) -> None:
        self.wb = wb
        self.names = {name: dn.attr_text for name, dn in wb.defined_names.items()}

    def value(self, sheet: str, col: int, row: int) -> Any:
        v = self.wb[sheet].cell(row, col).value
        if isinstance(v, str) and v.startswith("="):
            return self.formula(sheet, v[1:])
        return v

    def formula(self, sheet: str, text: str) -> Any:
        for name, target in self.names.items():
            text = re.sub(rf"\b{name}\b", target, text)
        refs: list[Any] = []

        def sub(m: re.Match[str]) -> str:
            sh = m["q"] or m["s"] or sheet
            c1, r1 = _col(m["c1"]), int(m["r1"])
            if m["c2"]:
                c2, r2 = _col(m["c2"]), int(m["r2"])
                refs.append([self.value(sh, c, r) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)])
            else:
                refs.append(self.value(sh, c1, r1))
            return f"_r[{len(refs) - 1}]"

        expr = REF.sub(sub, text)

        def SUM(xs):
            return sum(x for x in xs if isinstance(x, int | float))

        def SUMIF(keys, crit, xs):
            return sum(x for k, x in zip(keys, xs, strict=True) if k == crit)

        def IF(c, a, b):
            return a if c else b

        return eval(expr, {"_r": refs, "SUM": SUM, "SUMIF": SUMIF, "IF": IF})


def test_excel_cost_sheets_are_live_formulas_that_sum_to_the_stored_totals(doc) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(exports.run_xlsx(doc, {"id": "r1", "seed": 3})))
    assert {"Run", "KPIs", "Ledger", "Cost by category", "Cost by step", "Per dose"} <= set(wb.sheetnames)
    ev = Evaluator(wb)
    ledger = wb["Ledger"]
    costs = [ledger.cell(r, 7).value for r in range(3, 3 + len(doc["ledger"]))]
    assert all(isinstance(c, str) and c.startswith("=D") for c in costs), "every ledger cost is a formula"
    for r, line in enumerate(doc["ledger"], start=3):
        assert math.isclose(ev.value("Ledger", 7, r), line["cost"], rel_tol=1e-9)
    per_batch = doc["cost"]["per_batch"]
    for title, keys in (("Cost by category", doc["cost"]["breakdown"]), ("Cost by step", doc["cost"]["by_step"])):
        sheet = wb[title]
        total_row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "total")
        assert str(sheet.cell(total_row, 2).value).startswith("=SUM(")
        assert math.isclose(ev.value(title, 2, total_row), per_batch, rel_tol=1e-9)
        for r in range(2, total_row):
            key = sheet.cell(r, 1).value
            assert str(sheet.cell(r, 2).value).startswith("=SUMIF(")
            assert math.isclose(ev.value(title, 2, r), keys[key], rel_tol=1e-9, abs_tol=1e-9), key
    per_dose = {wb["Per dose"].cell(r, 1).value: r for r in range(2, wb["Per dose"].max_row + 1)}
    assert math.isclose(ev.value("Per dose", 2, per_dose["cost per dose"]), doc["cost"]["per_dose"], rel_tol=1e-9)
    assert math.isclose(
        ev.value("Per dose", 2, per_dose["cost per 1e9 particles"]), doc["cost"]["per_1e9_particles"], rel_tol=1e-9
    )
    assert {"Time courses", "Particles", "Checks"} <= set(wb.sheetnames)
