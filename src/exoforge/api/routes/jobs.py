"""Analyses as jobs: start (202), poll, cancel, list; the data behind their figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from exoforge.api.deps import ActorDep, JobId, PagingDep, ProjectId, ScenarioId, ServicesDep
from exoforge.api.problems import FieldProblem, ProblemError, problem_responses
from exoforge.api.schemas import JobCreate, JobOut, Page, PlotDataOut, Reason
from exoforge.store import repository as repo
from exoforge.workspace.jobs import Limits, start_job
from exoforge.workspace.plotdata import JOB_PLOTS
from exoforge.workspace.scenarios import InvalidScenario

if TYPE_CHECKING:
    from exoforge.api.deps import Services

router = APIRouter(tags=["analyses"])
READ = problem_responses(401, 404, 422)


def limits(svc: Services) -> Limits:
    st = svc.settings
    return Limits(st.mc_max_n, st.sensitivity_max_n, st.max_active_jobs_per_user, st.max_active_jobs)


@router.post(
    "/scenarios/{scenario_id}/analyses",
    response_model=JobOut,
    status_code=202,
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def start_analysis(scenario_id: ScenarioId, body: JobCreate, actor: ActorDep, svc: ServicesDep) -> JobOut:
    """Start a Monte Carlo or sensitivity analysis of a scenario revision, or a fit of its parameters to an
    uploaded dataset (editors); poll GET /jobs/{id}.

    The sample size is capped by the server, and so is the number of analyses queued or running (429).
    """
    settings = body.model_dump(exclude={"kind", "revision"}, exclude_none=True)
    if body.kind == "monte_carlo":
        settings = {k: v for k, v in settings.items() if k in ("n", "seed", "sampler")}
    elif body.kind == "fit":
        settings = {k: v for k, v in settings.items() if k in ("dataset_id", "parameters", "per_batch")}
    else:
        settings = {k: v for k, v in settings.items() if k in ("n", "seed", "methods", "kpis")}
        if body.kpis:
            from exoforge.analysis.uncertainty import HEADLINE_KPIS

            bad = [k for k in body.kpis if k not in HEADLINE_KPIS]
            if bad:
                raise ProblemError(
                    422,
                    f"kpis: '{bad[0]}' is not one of {', '.join(HEADLINE_KPIS)}",
                    [FieldProblem(path="kpis", message=f"choose from {', '.join(HEADLINE_KPIS)}")],
                )
    try:
        job = start_job(svc.store, actor, scenario_id, body.kind, settings, limits(svc), revision=body.revision)
    except InvalidScenario as exc:
        raise ProblemError(422, str(exc)) from None
    except ValueError as exc:
        path = str(exc).partition(":")[0]
        raise ProblemError(422, str(exc), [FieldProblem(path=path, message=str(exc))]) from None
    if svc.runner is not None:
        svc.runner.submit(job.id)
    return JobOut.model_validate(job)


@router.get("/projects/{project_id}/jobs", response_model=Page[JobOut], responses=READ)
def list_jobs(
    project_id: ProjectId,
    actor: ActorDep,
    svc: ServicesDep,
    page: PagingDep,
    status: Annotated[Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()] = None,
) -> Page[JobOut]:
    """The project's analyses, newest first (results left out: read one job for its result)."""
    with svc.store.read() as s:
        p = repo.list_jobs(s, actor, project_id, page.limit, page.offset, status)
        items = [JobOut.model_validate(j).model_copy(update={"result": None}) for j in p.items]
        return Page(items=items, total=p.total, limit=p.limit, offset=p.offset)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=READ)
def get_job(job_id: JobId, actor: ActorDep, svc: ServicesDep) -> JobOut:
    """A job's status and progress (0-1), and its result once it has succeeded."""
    with svc.store.read() as s:
        return JobOut.model_validate(repo.get_job(s, actor, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=problem_responses(401, 403, 404, 409, 422))
def cancel_job(job_id: JobId, actor: ActorDep, svc: ServicesDep, body: Reason | None = None) -> JobOut:
    """Cancel a queued or running job (editors); a running job stops at its next progress report."""
    job = svc.store.write(lambda s: repo.request_cancel(s, actor, job_id, body.reason if body else None))
    return JobOut.model_validate(job)


@router.get(
    "/jobs/{job_id}/plots/{name}",
    response_model=PlotDataOut,
    responses={**problem_responses(401, 404, 409, 422), 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="The data behind one figure of a finished analysis (JSON, or CSV with format=csv)",
)
def job_plot(
    job_id: JobId,
    name: Annotated[Literal["samples", "tornado", "sobol"], Path()],
    actor: ActorDep,
    svc: ServicesDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | PlotDataOut:
    with svc.store.read() as s:
        job = repo.get_job(s, actor, job_id)
    if job.result is None:
        raise ProblemError(409, f"job {job_id} has no result ({job.status})")
    data = JOB_PLOTS[name](job.result)
    if format == "csv":
        return Response(data.to_csv(), media_type="text/csv; charset=utf-8")
    return PlotDataOut(**data.to_json())
