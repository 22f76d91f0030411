"""`exoforge nta import`: read a NanoSight or ZetaView export; concentration, sizes, settings, distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from exoforge.commands.common import fail

nta_app = typer.Typer(no_args_is_help=True, help="Nanoparticle-tracking (NTA) exports: NanoSight and ZetaView.")


def _fmt(x: Any, spec: str = ".4g") -> str:
    if x is None:
        return "not reported"
    if isinstance(x, list):
        return ", ".join(_fmt(v, spec) for v in x)
    if isinstance(x, float | int):
        return format(x, spec)
    return str(x)


def _print(summary: dict[str, Any]) -> None:
    conc = summary["concentration_per_ml_as_reported"]
    se = conc["standard_error"]
    recorded = summary["dilution_factor_recorded"]
    lines = [
        f"file          {summary['path']}",
        f"instrument    {summary['instrument']} ({summary['software']})",
        f"sample        {summary['sample']}",
        f"videos        {summary['videos']}",
        f"concentration {_fmt(conc['average'])} particles/mL as measured"
        + (f" (standard error {_fmt(se)})" if se is not None else "")
        + f"; per video: {_fmt(conc['per_video'])}",
        "dilution      " + (_fmt(recorded) if recorded else "not recorded in the file"),
    ]
    if summary["sample_concentration_per_ml"] is not None:
        lines.append(f"sample        {_fmt(summary['sample_concentration_per_ml'])} particles/mL (undiluted)")
    else:
        lines.append(f"sample        unknown: {summary['sample_concentration_missing']}")
    size = summary["size_nm"]
    if size:
        stats = "  ".join(
            f"{k.upper() if k.startswith('d') else k} {_fmt(v['average'], '.1f')}" for k, v in size.items()
        )
        lines.append(f"size [nm]     {stats}")
    settings = summary["settings"]
    shown = "  ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in settings.items() if v is not None)
    lines.append(f"settings      {shown or 'none reported'}")
    if "distribution" in summary:
        d = summary["distribution"]
        lines.append(
            f"distribution  {len(d['centres_nm'])} occupied bins of {d['bin_width_nm']:g} nm, "
            f"{d['centres_nm'][0]:g}-{d['centres_nm'][-1]:g} nm"
        )
    for w in summary["warnings"]:
        lines.append(f"warning: {w}")
    typer.echo("\n".join(lines))


@nta_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="NanoSight ExperimentSummary.csv or ZetaView .txt export")],
    dilution: Annotated[
        float | None,
        typer.Option("--dilution", help="dilution of the measured suspension (200 for 1:200) if the file has none"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="write the particle part into this characterisation record (YAML; created)"),
    ] = None,
) -> None:
    """Read an NTA export: concentration per video and average, sizes (mean, mode, D10/D50/D90), settings."""
    from exoforge.characterization.nta import read_nta
    from exoforge.characterization.textfile import DataFileError

    try:
        m = read_nta(file)
    except DataFileError as exc:
        fail(exc.problems)
    if dilution is not None and dilution < 1:
        fail([f"--dilution: {dilution:g} is not a dilution factor; give 1 or more (200 for 1:200)"])
    try:
        summary = m.summary(dilution)
    except ValueError as exc:
        fail([str(exc)])
    if record is not None:
        from exoforge.characterization.record import RecordError, fill_particles

        try:
            fill_particles(record, m, dilution)
        except (DataFileError, RecordError) as exc:
            fail(exc.problems)
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print(summary)
    if record is not None:
        typer.echo(f"record written: {record}")


def register(app: typer.Typer) -> None:
    app.add_typer(nta_app, name="nta")
