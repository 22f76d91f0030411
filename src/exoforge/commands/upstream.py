"""`exoforge scaleup` and `exoforge validate`: the culture platform's scale-up and the model's validation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from exoforge.commands.common import fail, input_errors, load, message


def scaleup(
    scenario: Annotated[Path, typer.Argument(help="scenario file on a stirred microcarrier platform")],
    to: Annotated[float, typer.Option("--to", help="target working volume [L]")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Operating point of the scenario's vessel at a target volume under constant P/V, tip speed or N_js."""
    from exoforge.parameters import UsageLog
    from exoforge.simulation import parameters_for
    from exoforge.upstream.scaleup import NotScalable, scale_up

    scn = load(scenario)
    errors: tuple[type[BaseException], ...] = (NotScalable, *input_errors())
    try:
        points = scale_up(scn, to, UsageLog(parameters_for(scn).params.nominal(1)))
    except errors as exc:
        fail([message(exc)], str(scenario))
    rows = [
        {
            "basis": pt.basis,
            "volume_l": pt.volume_l,
            "rpm": float(pt.rpm[0]),
            "dissolved_oxygen_fraction": float(pt.dissolved_oxygen_fraction[0]),
            "checks": [
                {
                    "name": c.name,
                    "value": float(c.value[0]),
                    "limit": float(c.limit[0]) if float(c.limit[0]) != float("inf") else None,
                    "ok": bool(c.ok[0]),
                }
                for c in pt.checks
            ],
            "failed": pt.failed,
        }
        for pt in points
    ]
    if json_out:
        typer.echo(json.dumps({"scenario": scn.name, "target_volume_l": to, "points": rows}, indent=2))
        return
    _print_scaleup(scn.name, to, rows)


def validate(
    cases: Annotated[
        Path | None,
        typer.Option(
            "--cases", help="directory of case files (default: the published cases shipped and those of plug-ins)"
        ),
    ] = None,
    figure: Annotated[
        Path | None, typer.Option("--figure", help="write the interactive comparison figure (HTML)")
    ] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="write the results table as Markdown")] = None,
    samples: Annotated[int, typer.Option("--samples", help="parameter draws per case for the 95 % interval")] = 256,
    only: Annotated[
        list[str] | None, typer.Option("--case", help="run only this case (repeat for more); default: every case")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    write_record: Annotated[
        bool,
        typer.Option(
            "--write-record",
            help="write the packaged cases' central predictions to the file runs read to warn where the model "
            "runs high or low (after a change to the model or its data)",
        ),
    ] = False,
) -> None:
    """Run the validation suite: predicted against reported values of published MSC cultures."""
    from exoforge.simulation import parameters_for
    from exoforge.upstream.validation import all_cases, load_cases, results_markdown, run_cases, summarise

    if write_record:
        _write_validation_record()
        return

    if figure is not None and figure.suffix.lower() not in (".html", ".htm"):
        fail([f"--figure: '{figure}' must end in .html (the figure is interactive HTML)"])
    if samples < 16:
        fail([f"--samples: {samples} is too few for a 95 % interval; give at least 16"])
    try:
        loaded = load_cases(cases) if cases is not None else all_cases()
    except (FileNotFoundError, ValueError) as exc:
        fail([str(exc)])
    if only:
        known = {c.id for c in loaded}
        unknown = [c for c in only if c not in known]
        if unknown:
            fail([f"--case: '{c}' is not a case; cases: {', '.join(sorted(known))}" for c in unknown])
        loaded = [c for c in loaded if c.id in only]
    results = run_cases(loaded, lambda s: parameters_for(s).params, samples)
    summary = summarise(results)
    if figure is not None:
        from exoforge.report.validation_plots import write_comparison

        write_comparison(results, figure)
    if markdown is not None:
        from exoforge.fileio import write_atomic

        write_atomic(markdown, results_markdown(results, summary))
    if json_out:
        typer.echo(json.dumps({"summary": summary.to_dict(), "cases": [r.to_dict() for r in results]}, indent=2))
        return
    _print_validation([r.to_dict() for r in results], summary.to_dict())
    if figure is not None:
        typer.echo(f"figure written: {figure}")


#: Columns of the scale-up table: (check name, header).
SCALEUP_COLUMNS = (
    ("power_per_volume_w_per_m3", "P/V W/m3"),
    ("tip_speed_m_per_s", "tip m/s"),
    ("kolmogorov_length_um", "eta um"),
    ("shear_stress_pa", "shear Pa"),
    ("agitation_to_just_suspended_speed", "N/N_js"),
    ("mixing_time_s", "t_mix s"),
    ("oxygen_demand_to_supply", "O2 dem/sup"),
)


def _print_scaleup(name: str, target: float, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}\nscale-up to {target:g} L (geometric similarity)", title_justify="left")
    table.add_column("basis", no_wrap=True)
    table.add_column("L", justify="right")
    table.add_column("rpm", justify="right")
    for _, header in SCALEUP_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("failing checks")
    for r in rows:
        by_name = {c["name"]: c for c in r["checks"]}
        cells = []
        for check, _ in SCALEUP_COLUMNS:
            c = by_name[check]
            cells.append(f"{'' if c['ok'] else '[red]'}{c['value']:.3g}")
        table.add_row(r["basis"], f"{r['volume_l']:g}", f"{r['rpm']:.3g}", *cells, ", ".join(r["failed"]) or "none")
    console = Console()
    console.print(table)
    limits = {c["name"]: c["limit"] for c in rows[0]["checks"]}
    console.print(
        "limits: "
        + "; ".join(
            f"{header} {'>=' if check in ('kolmogorov_length_um', 'agitation_to_just_suspended_speed') else '<='} "
            f"{limits[check]:.3g}"
            for check, header in SCALEUP_COLUMNS
            if limits[check] is not None
        )
    )
    console.print(
        "N_js is Zwietering's correlation, extrapolated below its tested particle size (0.15-5 mm) for "
        "microcarriers: prefer a measured N_s1u."
    )


def _write_validation_record() -> None:
    import yaml

    from exoforge.fileio import write_atomic
    from exoforge.simulation import parameters_for
    from exoforge.upstream.validation_record import central_outcomes, record_document, record_path

    outcomes = central_outcomes(lambda s: parameters_for(s).params)
    header = (
        "# Written by `exoforge validate --write-record`: every packaged validation case's central prediction\n"
        "# against its reported value; runs read it to warn where the model runs high or low. Do not edit by hand\n"
        "# (a test holds it in step with the model).\n"
    )
    write_atomic(record_path(), header + yaml.safe_dump(record_document(outcomes), sort_keys=False, width=110))
    typer.echo(f"written: {record_path()} ({len(outcomes)} cases)")


def _print_validation(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from exoforge.upstream.validation import recalibration_sentence
    from exoforge.upstream.validation_bias import BIAS_FOLD

    console = Console()
    # a narrow terminal drops the platform and cell-source columns (the case id names both) and folds
    wide = console.width >= 140
    cols = ["case", "platform", "cells", "observable", "unit"] if wide else ["case", "observable"]
    cols += ["reported", "predicted", "95 % interval", "fold", "inside"]
    table = Table(title="validation: predicted against reported", title_justify="left")
    for col in cols:
        table.add_column(col, justify="right" if col in ("reported", "predicted", "fold") else "left", overflow="fold")
    for r in rows:
        lo, hi = r["prediction_interval_95"]
        inside = "yes" if r["observed_in_interval"] else ("known miss" if r["known_miss"] else "[red]no")
        lead = (
            [r["id"], r["platform"], r["cell_source"], r["metric"], r["unit"]]
            if wide
            else [
                r["id"],
                f"{r['metric']} [{r['unit']}]",
            ]
        )
        table.add_row(
            *lead,
            f"{r['observed']:.3g}",
            f"{r['predicted']:.3g}",
            f"{lo:.2g}-{hi:.2g}",
            f"{r['fold_error']:.2f}",
            inside,
        )
    console.print(table)
    console.print(
        f"{summary['cases']} cases; median fold error {summary['median_fold_error']:.2f} (cells: "
        f"{summary['median_fold_error_cells']:.2f} over {summary['cell_cases']}); worst {summary['worst_case']} "
        f"({summary['worst_fold_error']:.2f}-fold); {summary['observed_inside_interval_95']} of {summary['cases']} "
        f"reported values inside the 95 % interval; known misses: {', '.join(summary['known_misses']) or 'none'}"
    )
    notes = {
        "platform": f" (runs warn beyond x{BIAS_FOLD:g} or x1/{BIAS_FOLD:g})",
        "surface": " (runs on it warn from here where their platform's own cases do not)",
    }
    for key, label in (("by_platform", "platform"), ("by_surface", "surface")):
        if not summary[key]:
            continue
        title = f"central prediction / reported, geometric mean by {label}{notes[label]}"
        table = Table(title=title, title_justify="left")
        for col in (label, "observes", "cases", "over / under", "sign test p", "predicted / reported"):
            table.add_column(col, justify="left" if col in (label, "observes") else "right")
        for b in summary[key]:
            fold = b["geometric_mean_predicted_over_reported"]
            mark = "[red]" if b["runs_warn"] else ""
            counts = f"{b['cases_over']} / {b['cases_under']}"
            sign = f"{b['sign_test_p']:.2g}"
            table.add_row(b[label], b["observes"], str(len(b["cases"])), counts, sign, f"{mark}{fold:#.3g}")
        console.print(table)
    recalibrated = summary.get("median_fold_error_cells_surface_recalibrated", math.nan)
    if math.isfinite(recalibrated):
        console.print(recalibration_sentence(summary["median_fold_error_cells"], recalibrated))


def register(app: typer.Typer) -> None:
    app.command()(scaleup)
    app.command()(validate)
