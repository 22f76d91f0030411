"""Runs: simulate a scenario revision (answered directly), list, read, re-run, compare, export, plot data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from exoforge.api.deps import ActorDep, PagingDep, ProjectId, RunId, ScenarioId, ServicesDep
from exoforge.api.problems import FieldProblem, ProblemError, problem_responses
from exoforge.api.schemas import CompareOut, Page, PlotDataOut, RerunOut, RunCreate, RunOut, RunSummary
from exoforge.store import repository as repo
from exoforge.store.models import Run, Scenario
from exoforge.workspace import exports
from exoforge.workspace.compare import compare
from exoforge.workspace.plotdata import RUN_PLOTS
from exoforge.workspace.runs import rerun, run_scenario
from exoforge.workspace.scenarios import InvalidScenario

if TYPE_CHECKING:
    from exoforge.api.deps import Services
    from exoforge.store.access import Actor

router = APIRouter(tags=["runs"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def record(run: Run, revision_hash: str) -> dict[str, Any]:
    out = RunOut.model_validate(run).model_dump(mode="json")
    out["scenario_content_hash"] = revision_hash
    return out


@router.post("/scenarios/{scenario_id}/runs", response_model=RunOut, status_code=201, responses=WRITE)
def create_run(scenario_id: ScenarioId, body: RunCreate, actor: ActorDep, svc: ServicesDep) -> RunOut:
    """Simulate a revision of the scenario (default: the newest) and record the run (editors).

    A simulation the model cannot run is recorded with status ``failed`` and its reason.
    """
    try:
        run = run_scenario(
            svc.store,
            actor,
            scenario_id,
            revision=body.revision,
            seed=body.seed,
            exclude_refs=body.exclude_refs,
            label=body.label,
        )
    except InvalidScenario as exc:  # a revision stored before a stricter contract
        raise ProblemError(
            422,
            "the revision breaks the scenario contract",
            [FieldProblem(path=p.path, message=p.message) for p in exc.problems],
        ) from None
    return RunOut.model_validate(run)


@router.get("/projects/{project_id}/runs", response_model=Page[RunSummary], responses=READ)
def list_project_runs(
    project_id: ProjectId,
    actor: ActorDep,
    svc: ServicesDep,
    page: PagingDep,
    scenario_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$", description="only this scenario's")] = None,
) -> Page[RunSummary]:
    """The project's runs, newest first."""
    with svc.store.read() as s:
        if scenario_id is not None:
            scenario = repo.get_scenario(s, actor, scenario_id)
            if scenario.project_id != project_id:
                raise ProblemError(404, f"scenario {scenario_id} not found in this project")
            p = repo.list_runs(s, actor, scenario_id=scenario_id, limit=page.limit, offset=page.offset)
        else:
            p = repo.list_runs(s, actor, project_id=project_id, limit=page.limit, offset=page.offset)
        return Page(
            items=[RunSummary.model_validate(r) for r in p.items], total=p.total, limit=p.limit, offset=p.offset
        )


@router.get("/runs/compare", response_model=CompareOut, responses=READ)
def compare_runs(
    actor: ActorDep,
    svc: ServicesDep,
    ids: Annotated[
        list[Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")]],
        Query(min_length=2, max_length=8, description="two to eight run ids"),
    ],
) -> CompareOut:
    """Two or more runs side by side: every KPI (``differs`` marks unequal ones) and the scenario keys that differ."""
    with svc.store.read() as s:
        runs = repo.get_runs(s, actor, ids)
        revisions = [repo.revision_of(s, r) for r in runs]
        names = [(s.get(Scenario, r.scenario_id) or Scenario(name="?")).name for r in runs]
    cmp = compare([r.result for r in runs], [rev.content for rev in revisions])
    return CompareOut(
        runs=[RunSummary.model_validate(r) for r in runs],
        scenario_names=names,
        kpis=cmp.kpis,
        scenario_differences=cmp.scenario_differences,
    )


@router.get("/runs/{run_id}", response_model=RunOut, responses=READ)
def get_run(run_id: RunId, actor: ActorDep, svc: ServicesDep) -> RunOut:
    with svc.store.read() as s:
        return RunOut.model_validate(repo.get_run(s, actor, run_id))


@router.post("/runs/{run_id}/rerun", response_model=RerunOut, status_code=201, responses=WRITE)
def rerun_run(run_id: RunId, actor: ActorDep, svc: ServicesDep) -> RerunOut:
    """Simulate a stored run again from its recorded inputs (editors); the repeat is recorded and compared."""
    with svc.store.read() as s:
        run = repo.get_run(s, actor, run_id)
        repo.get_scenario(s, actor, run.scenario_id, "editor")
    return RerunOut(**rerun(svc.store, actor, run_id).to_json())


def _stored(svc: Services, actor: Actor, run_id: str) -> tuple[Run, str]:
    with svc.store.read() as s:
        run = repo.get_run(s, actor, run_id)
        return run, repo.revision_of(s, run).content_hash


def _result(run: Run) -> dict[str, Any]:
    if run.result is None:
        raise ProblemError(409, f"run {run.id} failed ({run.error}): it has no result to export")
    return run.result


@router.get(
    "/runs/{run_id}/export.json",
    responses={**READ, 200: {"content": {"application/json": {}}}},
    summary="The run record as JSON (inputs, provenance, result)",
)
def export_json(run_id: RunId, actor: ActorDep, svc: ServicesDep) -> Response:
    import json

    run, digest = _stored(svc, actor, run_id)
    return Response(
        json.dumps(record(run, digest), indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id[:12]}.json"'},
    )


@router.get(
    "/runs/{run_id}/export.csv",
    responses={**problem_responses(401, 404, 409, 422), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    response_class=Response,
    summary="One table of the run as CSV",
)
def export_csv(
    run_id: RunId,
    actor: ActorDep,
    svc: ServicesDep,
    table: Annotated[Literal["kpis", "ledger", "steps", "checks", "time_courses"], Query()] = "kpis",
) -> Response:
    run, _ = _stored(svc, actor, run_id)
    return Response(
        exports.run_csv(_result(run), table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id[:12]}-{table}.csv"'},
    )


@router.get(
    "/runs/{run_id}/export.html",
    responses={
        **problem_responses(401, 404, 409, 422),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    },
    response_class=Response,
    summary="The self-contained HTML report of the run",
)
def export_html(run_id: RunId, actor: ActorDep, svc: ServicesDep) -> Response:
    run, _ = _stored(svc, actor, run_id)
    return Response(
        exports.run_html(_result(run)),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id[:12]}.html"'},
    )


@router.get(
    "/runs/{run_id}/export.xlsx",
    responses={
        **problem_responses(401, 404, 409, 422),
        200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
    },
    response_class=Response,
    summary="Excel workbook: ledger and cost sheets as formulas, figure data",
)
def export_xlsx(run_id: RunId, actor: ActorDep, svc: ServicesDep) -> Response:
    run, digest = _stored(svc, actor, run_id)
    data = exports.run_xlsx(_result(run), {k: v for k, v in record(run, digest).items() if k != "result"})
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="run-{run.id[:12]}.xlsx"'}
    )


@router.get(
    "/runs/{run_id}/plots/{name}",
    response_model=PlotDataOut,
    responses={**problem_responses(401, 404, 409, 422), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="The data behind one figure of the run (JSON, or CSV with format=csv)",
)
def run_plot(
    run_id: RunId,
    name: Annotated[
        Literal["time_courses", "particles", "cost_breakdown", "cost_by_step", "size_profile", "checks"], Path()
    ],
    actor: ActorDep,
    svc: ServicesDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | PlotDataOut:
    run, _ = _stored(svc, actor, run_id)
    data = RUN_PLOTS[name](_result(run))
    if format == "csv":
        return Response(data.to_csv(), media_type="text/csv; charset=utf-8")
    return PlotDataOut(**data.to_json())
