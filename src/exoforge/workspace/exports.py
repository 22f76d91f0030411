"""Exports of a stored run: CSV tables, the HTML report, and an Excel workbook with live formulas.

The workbook's cost sheets are built so that a reviewer can trace every total: each ledger line's
cost is ``quantity x unit price x failed-batch factor`` as a formula, the sums by category and by
step are ``SUMIF`` formulas over the ledger, and cost per batch, per dose and per 1e9 particles
are formulas over those sums. The stored totals sit beside the formulas for comparison.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from exoforge.result import flatten
from exoforge.workspace.plotdata import RUN_PLOTS
from exoforge.workspace.records import COST_FIELDS, NON_KPI_KEYS, result_from_json

CSV_TABLES = ("kpis", "ledger", "steps", "checks", "time_courses")


def kpi_rows(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """(dotted key, value) of every number of the result, in document order."""
    numeric = {k: v for k, v in doc.items() if k not in NON_KPI_KEYS}
    cost = dict(numeric.get("cost") or {})
    numeric["cost"] = {k: v for k, v in cost.items() if k not in COST_FIELDS}
    return [
        (k, v)
        for k, v in flatten(numeric).items()
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool))
    ]


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def run_csv(doc: dict[str, Any], table: str = "kpis") -> str:
    """One table of a run as CSV: ``kpis`` (default), ``ledger``, ``steps``, ``checks``, ``time_courses``."""
    if table == "kpis":
        currency = (doc.get("cost") or {}).get("currency", "USD")
        rows = [[k, "" if v is None else v, currency if k.startswith("cost.") else ""] for k, v in kpi_rows(doc)]
        return _csv(["key", "value", "currency"], rows)
    if table == "ledger":
        lines = doc.get("ledger") or []
        keys = list(lines[0]) if lines else ["category", "item", "step", "quantity", "unit", "unit_price", "cost"]
        return _csv(keys, [[line.get(k) for k in keys] for line in lines])
    if table == "steps":
        steps = doc.get("isolation_steps") or []
        keys = [k for k in (steps[0] if steps else {}) if k != "equipment"]
        return _csv(keys, [[s.get(k) for k in keys] for s in steps])
    if table == "checks":
        return RUN_PLOTS["checks"](doc).to_csv()
    if table == "time_courses":
        return RUN_PLOTS["time_courses"](doc).to_csv()
    raise ValueError(f"table '{table}' is not one of {', '.join(CSV_TABLES)}")


def run_html(doc: dict[str, Any]) -> str:
    """The self-contained HTML report of a stored run."""
    from exoforge.report.html import render_report

    return render_report(result_from_json(doc))


def write_bytes(path: Path, data: bytes) -> Path:
    """Write a file whole or not at all (a temporary file renamed over the target)."""
    from exoforge.fileio import write_atomic

    return write_atomic(path, data)


# --------------------------------------------------------------------------- Excel


def failed_batch_factor(ledger: list[dict[str, Any]]) -> float:
    """The factor by which ledger costs exceed quantity x unit price (1 / (1 - failed-batch fraction))."""
    for line in ledger:
        base = float(line["quantity"]) * float(line["unit_price"])
        if base > 0 and line["cost"]:
            return float(line["cost"]) / base
    return 1.0


def run_xlsx(doc: dict[str, Any], record: dict[str, Any] | None = None) -> bytes:
    """An Excel workbook of a stored run (bytes of an .xlsx file).

    Sheets: ``Run`` (provenance), ``KPIs``, ``Ledger`` (every cost line, cost as a formula),
    ``Cost by category`` and ``Cost by step`` (SUMIF formulas and their total), ``Per dose``
    (per batch, per dose and per 1e9 particles as formulas), and the data behind the figures
    (``Time courses``, ``Particles``, ``Checks``).
    """
    # Longer than 80 lines: the workbook sheet by sheet, each cost cell written with its formula so a reviewer
    # can trace every total.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName

    bold = Font(bold=True)
    wb = Workbook()
    cost = doc.get("cost") or {}
    currency = cost.get("currency", "USD")

    ws = wb.active
    assert ws is not None
    ws.title = "Run"
    ws.append(["field", "value"])
    ws.append(["scenario", doc.get("scenario")])
    for key, value in (record or {}).items():
        if key != "result" and not isinstance(value, dict | list):
            ws.append([key, value])
    ws.append(["exoforge_version", doc.get("exoforge_version")])
    ws.append(["currency", currency])
    ws.append(["price_year", cost.get("price_year")])

    kp = wb.create_sheet("KPIs")
    kp.append(["key", "value"])
    for key, value in kpi_rows(doc):
        kp.append([key, value])

    ledger = doc.get("ledger") or []
    factor = failed_batch_factor(ledger)
    lg = wb.create_sheet("Ledger")
    lg.append(["failed-batch factor", factor, "1 / (1 - failed-batch fraction): good batches carry the failed ones"])
    wb.defined_names["failed_batch_factor"] = DefinedName("failed_batch_factor", attr_text="Ledger!$B$1")
    header = ["category", "item", "step", "quantity", "unit", f"unit price ({currency})", f"cost ({currency})"]
    header += ["price year", "price is an assumption", "role"]
    lg.append(header)
    first = 3
    for i, line in enumerate(ledger):
        row = first + i
        base = float(line["quantity"]) * float(line["unit_price"])
        formula = f"=D{row}*F{row}*failed_batch_factor"
        reproduces = math.isclose(base * factor, float(line["cost"] or 0.0), rel_tol=1e-9, abs_tol=1e-9)
        lg.append(
            [
                line["category"],
                line["item"],
                line["step"],
                line["quantity"],
                line["unit"],
                line["unit_price"],
                formula if reproduces else line["cost"],
                line.get("price_year"),
                line.get("price_is_assumption"),
                line.get("role"),
            ]
        )
    last = first + len(ledger) - 1
    total_row = last + 1
    lg.cell(total_row, 1, "total").font = bold
    lg.cell(total_row, 7, f"=SUM(G{first}:G{last})").font = bold
    for cell in lg[2]:
        cell.font = bold

    def grouped(title: str, column: str, keys: list[str]) -> str:
        sh = wb.create_sheet(title)
        sh.append([column.split(":")[0], f"cost per batch ({currency})"])
        letter = column.split(":")[1]
        for j, key in enumerate(keys):
            r = 2 + j
            sh.append([key, f"=SUMIF(Ledger!${letter}${first}:${letter}${last},A{r},Ledger!$G${first}:$G${last})"])
        tot = 2 + len(keys)
        sh.cell(tot, 1, "total").font = bold
        sh.cell(tot, 2, f"=SUM(B2:B{tot - 1})").font = bold
        sh.cell(tot + 1, 1, "stored cost.per_batch")
        sh.cell(tot + 1, 2, cost.get("per_batch"))
        sh.cell(tot + 2, 1, "difference")
        sh.cell(tot + 2, 2, f"=B{tot}-B{tot + 1}")
        return f"'{title}'!$B${tot}"

    categories = list(dict.fromkeys(line["category"] for line in ledger))
    steps = list(dict.fromkeys(line["step"] for line in ledger))
    total_ref = grouped("Cost by category", "category:A", categories)
    grouped("Cost by step", "step:C", steps)

    pd = wb.create_sheet("Per dose")
    ev = doc.get("ev") or {}
    pd.append(["quantity", "value", "stored value"])
    pd.append(["cost per batch", f"={total_ref}", cost.get("per_batch")])
    pd.append(["doses per batch (whole doses released)", doc.get("doses_per_batch")])
    pd.append(["dose-equivalents per batch", doc.get("doses_per_batch_exact")])
    pd.append(["doses the cost is divided by", "=IF(B3>=1,B3,B4)"])
    pd.append(["cost per dose", "=B2/B5", cost.get("per_dose")])
    pd.append(["particles in the final product", ev.get("final_particles")])
    pd.append(["cost per 1e9 particles", "=B2/(B7/1E9)", cost.get("per_1e9_particles")])

    for name, title in (("time_courses", "Time courses"), ("particles", "Particles"), ("checks", "Checks")):
        data = RUN_PLOTS[name](doc)
        sh = wb.create_sheet(title)
        sh.append([f"{c.label or c.name} [{c.unit}]" if c.unit else (c.label or c.name) for c in data.columns])
        for values in data.rows:
            sh.append([None if isinstance(v, float) and math.isnan(v) else v for v in values])

    for sheet in wb.worksheets:
        for col in range(1, sheet.max_column + 1):
            sheet.column_dimensions[get_column_letter(col)].width = 18 if col > 1 else 34
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
