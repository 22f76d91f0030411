"""Scenarios and their revisions; validation by key path."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from exoforge.api.deps import ActorDep, PagingDep, ProjectId, ScenarioId, ServicesDep
from exoforge.api.problems import FieldProblem, ProblemError, problem_responses
from exoforge.api.schemas import (
    Page,
    RevisionOut,
    ScenarioBody,
    ScenarioCreate,
    ScenarioEdit,
    ScenarioOut,
    ScenarioSaved,
    Validation,
)
from exoforge.store import repository as repo
from exoforge.workspace.scenarios import InvalidScenario, content_and_text, validate

router = APIRouter(tags=["scenarios"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)


def checked(body: ScenarioBody) -> tuple[dict[str, Any], str | None]:
    """The scenario mapping of a request, or 422 with one entry per problem (key path and message)."""
    try:
        content, text = content_and_text(body.content, body.yaml)
        validate(content)
    except InvalidScenario as exc:
        raise ProblemError(
            422,
            f"the scenario breaks the contract ({len(exc.problems)} problem(s))",
            [FieldProblem(path=p.path, message=p.message) for p in exc.problems],
        ) from None
    return content, text


@router.post("/scenarios/validate", response_model=Validation, responses=problem_responses(401, 422))
def validate_scenario(body: ScenarioBody, actor: ActorDep) -> Validation:
    """Check a scenario against the contract without storing it: every problem with its key path."""
    try:
        content, _ = content_and_text(body.content, body.yaml)
        validate(content)
    except InvalidScenario as exc:
        return Validation(valid=False, errors=[p.to_json() for p in exc.problems])
    return Validation(valid=True, errors=[])


@router.get("/projects/{project_id}/scenarios", response_model=Page[ScenarioOut], responses=READ)
def list_scenarios(project_id: ProjectId, actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[ScenarioOut]:
    with svc.store.read() as s:
        p = repo.list_scenarios(s, actor, project_id, page.limit, page.offset)
        return Page(
            items=[ScenarioOut.model_validate(x) for x in p.items], total=p.total, limit=p.limit, offset=p.offset
        )


@router.post("/projects/{project_id}/scenarios", response_model=ScenarioSaved, status_code=201, responses=WRITE)
def create_scenario(project_id: ProjectId, body: ScenarioCreate, actor: ActorDep, svc: ServicesDep) -> ScenarioSaved:
    """Store a new scenario (editors): revision 1."""
    with svc.store.read() as s:
        repo.get_project(s, actor, project_id)  # 404 before 422 for a project the caller cannot see
    content, text = checked(body)
    name = body.name or str(content.get("name"))
    scenario, rev = svc.store.write(
        lambda s: repo.create_scenario(s, actor, project_id, name, content, source_text=text, message=body.message)
    )
    return ScenarioSaved(
        scenario=ScenarioOut.model_validate(scenario), revision=RevisionOut.model_validate(rev), created=True
    )


@router.get("/scenarios/{scenario_id}", response_model=ScenarioOut, responses=READ)
def get_scenario(scenario_id: ScenarioId, actor: ActorDep, svc: ServicesDep) -> ScenarioOut:
    with svc.store.read() as s:
        return ScenarioOut.model_validate(repo.get_scenario(s, actor, scenario_id))


@router.put("/scenarios/{scenario_id}", response_model=ScenarioSaved, responses=WRITE)
def edit_scenario(scenario_id: ScenarioId, body: ScenarioEdit, actor: ActorDep, svc: ServicesDep) -> ScenarioSaved:
    """Edit a scenario (editors): a new revision; earlier revisions and their runs never change."""
    with svc.store.read() as s:
        repo.get_scenario(s, actor, scenario_id)
    content, text = checked(body)
    rev, created = svc.store.write(
        lambda s: repo.edit_scenario(
            s,
            actor,
            scenario_id,
            content,
            source_text=text,
            message=body.message,
            base_revision=body.base_revision,
            name=body.name,
        )
    )
    with svc.store.read() as s:
        scenario = repo.get_scenario(s, actor, scenario_id)
    return ScenarioSaved(
        scenario=ScenarioOut.model_validate(scenario), revision=RevisionOut.model_validate(rev), created=created
    )


@router.delete("/scenarios/{scenario_id}", status_code=204, responses=WRITE, response_class=Response)
def archive_scenario(
    scenario_id: ScenarioId,
    actor: ActorDep,
    svc: ServicesDep,
    reason: Annotated[str | None, Query(max_length=2000, description="why (kept in the audit log)")] = None,
) -> Response:
    """Archive a scenario (editors); its revisions and runs stay."""
    svc.store.write(lambda s: repo.archive_scenario(s, actor, scenario_id, reason=reason))
    return Response(status_code=204)


@router.get("/scenarios/{scenario_id}/revisions", response_model=Page[RevisionOut], responses=READ)
def list_revisions(scenario_id: ScenarioId, actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[RevisionOut]:
    with svc.store.read() as s:
        p = repo.list_revisions(s, actor, scenario_id, page.limit, page.offset)
        return Page(
            items=[RevisionOut.model_validate(x) for x in p.items], total=p.total, limit=p.limit, offset=p.offset
        )


@router.get("/scenarios/{scenario_id}/revisions/{number}", response_model=RevisionOut, responses=READ)
def get_revision(
    scenario_id: ScenarioId,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: ActorDep,
    svc: ServicesDep,
) -> RevisionOut:
    with svc.store.read() as s:
        return RevisionOut.model_validate(repo.get_revision(s, actor, scenario_id, number))
