"""Projects, their members and their audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response

from exoforge.api.deps import ActorDep, PagingDep, ProjectId, ServicesDep, UserId
from exoforge.api.problems import problem_responses
from exoforge.api.schemas import AuditOut, MemberOut, MemberSet, Page, ProjectCreate, ProjectOut, ProjectUpdate
from exoforge.store import repository as repo
from exoforge.store.access import role_in

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from exoforge.store.access import Actor
    from exoforge.store.models import Project

router = APIRouter(tags=["projects"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)


def _out(s: Session, actor: Actor, project: Project) -> ProjectOut:
    out = ProjectOut.model_validate(project)
    out.role = role_in(s, actor, project.id)
    return out


@router.get("/projects", response_model=Page[ProjectOut], responses=problem_responses(401, 422))
def list_projects(actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[ProjectOut]:
    """Projects you have a role in."""
    with svc.store.read() as s:
        p = repo.list_projects(s, actor, page.limit, page.offset)
        return Page(items=[_out(s, actor, x) for x in p.items], total=p.total, limit=p.limit, offset=p.offset)


@router.post("/projects", response_model=ProjectOut, status_code=201, responses=problem_responses(401, 403, 422))
def create_project(body: ProjectCreate, actor: ActorDep, svc: ServicesDep) -> ProjectOut:
    """Create a project; you become its admin."""
    project = svc.store.write(lambda s: repo.create_project(s, actor, body.name, body.description))
    with svc.store.read() as s:
        return _out(s, actor, project)


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=READ)
def get_project(project_id: ProjectId, actor: ActorDep, svc: ServicesDep) -> ProjectOut:
    with svc.store.read() as s:
        return _out(s, actor, repo.get_project(s, actor, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectOut, responses=WRITE)
def update_project(project_id: ProjectId, body: ProjectUpdate, actor: ActorDep, svc: ServicesDep) -> ProjectOut:
    """Rename or describe a project (project admins)."""
    project = svc.store.write(
        lambda s: repo.update_project(
            s, actor, project_id, name=body.name, description=body.description, reason=body.reason
        )
    )
    with svc.store.read() as s:
        return _out(s, actor, project)


@router.delete("/projects/{project_id}", status_code=204, responses=WRITE, response_class=Response)
def archive_project(
    project_id: ProjectId,
    actor: ActorDep,
    svc: ServicesDep,
    reason: Annotated[str | None, Query(max_length=2000, description="why (kept in the audit log)")] = None,
) -> Response:
    """Archive a project (project admins): every record stays readable, nothing can be changed."""
    svc.store.write(lambda s: repo.archive_project(s, actor, project_id, reason=reason))
    return Response(status_code=204)


@router.get("/projects/{project_id}/members", response_model=list[MemberOut], responses=READ)
def list_members(project_id: ProjectId, actor: ActorDep, svc: ServicesDep) -> list[MemberOut]:
    with svc.store.read() as s:
        return [
            MemberOut.model_validate({"user_id": u.id, "name": u.name, "role": m.role})
            for m, u in repo.list_members(s, actor, project_id)
        ]


@router.put("/projects/{project_id}/members/{user_id}", response_model=MemberOut, responses=WRITE)
def set_member(project_id: ProjectId, user_id: UserId, body: MemberSet, actor: ActorDep, svc: ServicesDep) -> MemberOut:
    """Give a user a role in the project, or change it (project admins)."""
    member = svc.store.write(lambda s: repo.set_member(s, actor, project_id, user_id, body.role, body.reason))
    with svc.store.read() as s:
        name = next(u.name for m, u in repo.list_members(s, actor, project_id) if m.id == member.id)
    return MemberOut(user_id=user_id, name=name, role=body.role)


@router.delete("/projects/{project_id}/members/{user_id}", status_code=204, responses=WRITE, response_class=Response)
def remove_member(project_id: ProjectId, user_id: UserId, actor: ActorDep, svc: ServicesDep) -> Response:
    svc.store.write(lambda s: repo.remove_member(s, actor, project_id, user_id))
    return Response(status_code=204)


@router.get("/projects/{project_id}/audit", response_model=Page[AuditOut], responses=READ, tags=["audit"])
def project_audit(project_id: ProjectId, actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[AuditOut]:
    """The project's audit entries, newest first (read-only: the log cannot be changed or deleted)."""
    with svc.store.read() as s:
        p = repo.list_audit(s, actor, project_id=project_id, limit=page.limit, offset=page.offset)
        return Page(items=[AuditOut.model_validate(e) for e in p.items], total=p.total, limit=p.limit, offset=p.offset)
