"""`exoforge evidence ...`: query, validate, pool and cite the evidence base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from exoforge.commands.common import fail

evidence_app = typer.Typer(no_args_is_help=True, help="Query, validate, pool and cite the evidence base.")


@evidence_app.command("validate")
def evidence_validate() -> None:
    """Check every evidence file against the schema; name the file and record of each error."""
    from exoforge.datafiles import check_packaged_data
    from exoforge.evidence.store import validate_files
    from exoforge.parameters import packaged_data_paths

    records, problems = validate_files()
    parameters, data_problems = check_packaged_data(*packaged_data_paths())
    if problems or data_problems:
        fail([*problems, *data_problems])
    refs = {r.ref_key for r in records}
    typer.echo(f"evidence valid: {len(records)} records from {len(refs)} references")
    typer.echo(f"data valid: {parameters} parameters and the media and microcarrier catalogue")


@evidence_app.command("list")
def evidence_list(
    strategy: Annotated[str | None, typer.Option(help="strategy id")] = None,
    category: Annotated[str | None, typer.Option(help="strategy family")] = None,
    cell_source: Annotated[str | None, typer.Option("--cell-source", help="e.g. bm_msc")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List evidence records, optionally filtered."""
    from exoforge.evidence.query import filter_records

    rows = [r.to_dict() for r in filter_records(strategy=strategy, category=category, cell_source=cell_source)]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    from exoforge.report.console import print_records

    print_records(rows, strategy=strategy, category=category)


@evidence_app.command("show")
def evidence_show(record_id: Annotated[str, typer.Argument(help="record id")]) -> None:
    """Show one record in full."""
    from exoforge.evidence.query import find_record

    rec = find_record(record_id)
    if rec is None:
        fail([f"no evidence record with id '{record_id}'"])
    typer.echo(json.dumps(rec.to_dict(), indent=2))


@evidence_app.command("pool")
def evidence_pool(
    strategy: Annotated[str, typer.Argument(help="strategy id, e.g. hypoxia")],
    basis: Annotated[str | None, typer.Option(help="fold-change basis (default: the strategy's pool basis)")] = None,
    method: Annotated[str, typer.Option(help="tau² estimator: reml, dl or pm")] = "reml",
    include_non_msc: Annotated[bool, typer.Option("--include-non-msc", help="pool non-MSC records too")] = False,
    exclude_ref: Annotated[list[str] | None, typer.Option("--exclude-ref", help="leave a reference out")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a forest plot (PNG)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Random-effects meta-analysis of a strategy's fold-changes, with subgroups and leave-one-out."""
    from exoforge.evidence.emulated import acting_strategies, family_informed_only
    from exoforge.evidence.meta import meta_analysis
    from exoforge.parameters import normalise_ref

    if method not in ("reml", "dl", "pm"):
        fail([f"--method: '{method}' is not one of reml, dl, pm"])
    try:
        meta = meta_analysis(strategy, basis, method, exclude_ref or (), include_non_msc)  # type: ignore[arg-type]
    except KeyError as exc:
        fail([str(exc.args[0])])
    if plot is not None:
        from exoforge.report.forest import write_forest_png

        try:
            write_forest_png(meta, plot)
        except ValueError as exc:
            fail([str(exc)])
    drop = tuple(sorted({normalise_ref(r) for r in exclude_ref or ()}))
    from exoforge.evidence.influence import study_influence

    if json_out:
        from exoforge.evidence.hierarchy import run_effect

        body = meta.to_dict()
        effect = run_effect(strategy, drop)
        if effect is not None:
            body["run_effect"] = effect
            body["rests_on"] = [row.to_dict() for row in study_influence(strategy, drop)]
        informs = family_informed_only(strategy)
        if informs is not None:
            body["informs_family"] = informs
        typer.echo(json.dumps(body, indent=2))
        return
    from exoforge.evidence.hierarchy import fitted
    from exoforge.report.console import print_meta
    from exoforge.report.evidence_console import print_influence, print_posterior

    print_meta(meta)
    if strategy in acting_strategies():
        hier = fitted(drop)
        print_posterior(hier.predict(strategy), hier.hyper(), hier.shared_arms(strategy))
        print_influence(study_influence(strategy, drop))
    informs = family_informed_only(strategy)
    if informs is not None:
        typer.echo(
            f"no run applies {strategy} (the scenario contract has no platform for it); its numeric comparisons "
            f"are emulated on the stand-in arm each record names and pooled with the {informs} family"
        )
    if plot is not None:
        typer.echo(f"forest plot written: {plot}")


@evidence_app.command("emulate")
def evidence_emulate(
    write: Annotated[bool, typer.Option("--write", help="write emulated_effects.yaml (the file runs read)")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the model on both arms of every published comparison and infer each per-cell effect."""
    from exoforge.analysis.emulation import emulate_all, write_emulations

    if write:
        path = write_emulations()
        typer.echo(f"written: {path}")
        return
    done, skipped = emulate_all()
    if json_out:
        doc = {
            "emulations": [e.to_dict() for e in done],
            "direction_only": [{"record": r, "why": w} for r, w in skipped],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    from exoforge.report.evidence_console import print_emulations

    print_emulations(done, skipped)


@evidence_app.command("crossval")
def evidence_crossval(
    plot: Annotated[Path | None, typer.Option("--plot", help="write predicted vs published (HTML)")] = None,
    exclude_ref: Annotated[
        list[str] | None, typer.Option("--exclude-ref", help="leave a reference out of the evidence altogether")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Predict every emulated comparison with its whole study left out: exoforge's own accuracy.

    A second summary leaves the preprints out of the evidence altogether (a sensitivity analysis).
    """
    from exoforge.evidence.crossval import crossval
    from exoforge.evidence.influence import preprint_refs
    from exoforge.parameters import normalise_ref

    drop = tuple(sorted({normalise_ref(r) for r in exclude_ref or ()}))
    summary = crossval(drop)
    preprints = tuple(sorted(preprint_refs() - set(drop)))
    without_preprints = crossval(tuple(sorted({*drop, *preprints}))) if preprints else None
    if plot is not None:
        from exoforge.report.crossval_plots import write_crossval_html

        write_crossval_html(summary, plot)
    if json_out:
        body = summary.to_dict()
        if without_preprints is not None:
            body["without_preprints"] = {
                "excluded": list(preprints),
                "comparisons": without_preprints.n,
                "median_abs_log10_error": without_preprints.median_log10_error,
                "coverage_95": without_preprints.coverage,
            }
        typer.echo(json.dumps(body, indent=2))
        return
    from exoforge.report.evidence_console import print_crossval, print_crossval_sensitivity

    print_crossval(summary)
    if without_preprints is not None:
        print_crossval_sensitivity(f"the preprint(s) ({', '.join(preprints)})", without_preprints)
    if plot is not None:
        typer.echo(f"plot written: {plot}")


@evidence_app.command("coverage")
def evidence_coverage(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Records, references and numeric MSC fold-changes per strategy family and strategy."""
    from exoforge.evidence.coverage import coverage

    cov = coverage()
    if json_out:
        typer.echo(json.dumps(cov, indent=2))
        return
    from exoforge.report.console import print_coverage

    print_coverage(cov)


@evidence_app.command("cite")
def evidence_cite(
    scenario: Annotated[Path, typer.Argument(help="scenario file: cite what its run uses")],
    fmt: Annotated[str, typer.Option("--format", help="text, bibtex or ris")] = "text",
    exclude_ref: Annotated[list[str] | None, typer.Option("--exclude-ref")] = None,
) -> None:
    """The references a run of SCENARIO uses, and only those."""
    from exoforge.commands.common import input_errors, load, message
    from exoforge.evidence.citations import entries_for, format_entries
    from exoforge.simulation import simulate

    if fmt not in ("text", "bibtex", "ris"):
        fail([f"--format: '{fmt}' is not one of text, bibtex, ris"])
    scn = load(scenario)
    try:
        result = simulate(scn, exclude_refs=exclude_ref or ())
    except input_errors() as exc:
        fail([message(exc)], str(scenario))
    typer.echo(format_entries(entries_for(result), fmt), nl=False)  # type: ignore[arg-type]


@evidence_app.command("gaps")
def evidence_gaps(
    scenarios: Annotated[list[Path], typer.Argument(help="scenario files (e.g. examples/*.yaml)")],
    top: Annotated[int, typer.Option("--top", min=1, help="assumptions listed")] = 15,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON list")] = False,
) -> None:
    """What to measure first: the stated assumptions that move the most runs of SCENARIOS, largest first."""
    from exoforge.analysis.assumption_ranking import rank_assumptions
    from exoforge.commands.common import input_errors, message, progress_bar
    from exoforge.scenario import ScenarioError, load_scenario, read_mapping

    loaded, problems, skipped = [], [], []
    for path in scenarios:
        try:
            data = read_mapping(path)
            if isinstance(data, dict) and ("selection_version" in data or "space_version" in data):
                skipped.append(path.name)  # a selection or design space, which a glob of examples/ takes too
                continue
            loaded.append((path.stem, load_scenario(path)))  # from its file: relative paths in it resolve
        except ScenarioError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
    if problems:
        fail(problems)
    if not loaded:
        fail(["no scenario among the files given"])
    if skipped and not json_out:
        from rich.console import Console

        Console(stderr=True).print(f"not scenarios, left out: {', '.join(skipped)}", highlight=False, markup=False)
    try:
        with progress_bar("scenarios", enabled=not json_out) as update:
            ranked = rank_assumptions(loaded, update)
    except input_errors() as exc:
        fail([message(exc)])
    if json_out:
        typer.echo(json.dumps([r.to_json() for r in ranked], indent=2))
        return
    from exoforge.report.evidence_console import print_gaps

    print_gaps(ranked[:top], len(loaded))


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
