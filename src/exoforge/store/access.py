"""Who is acting, and what each role may do in a project.

Roles are per project: ``viewer`` reads, ``editor`` also writes scenarios, runs and analyses,
``admin`` also manages the project and its members. A project the actor has no role in does not
exist for that actor (:class:`~exoforge.store.errors.NotFound`, never a hint that it exists); a
role too low for the action is :class:`~exoforge.store.errors.Forbidden`.

The local command line works on the database file directly: its actor is ``trusted`` (every
project, admin rights) and is still named in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoforge.store.errors import Forbidden, NotFound
from exoforge.store.models import ROLES, Membership, Project

Role = Literal["viewer", "editor", "admin"]
RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf the store acts.

    Attributes
    ----------
    user_id, name : the user (``name`` is copied into the audit log)
    is_admin : manages users and tokens (no project rights by itself)
    trusted : direct database access (the local command line): every project, as admin
    request_id : the API request, recorded with each audit entry
    """

    user_id: str | None
    name: str
    is_admin: bool = False
    trusted: bool = False
    request_id: str | None = None

    def with_request(self, request_id: str | None) -> Actor:
        return replace(self, request_id=request_id)


#: The actor of work nobody asked for at that moment (a job runner finishing an analysis).
SYSTEM = Actor(user_id=None, name="system", trusted=True)


def role_in(session: Session, actor: Actor, project_id: str) -> Role | None:
    """The actor's role in the project, or None."""
    if actor.trusted:
        return "admin"
    if actor.user_id is None:
        return None
    role = session.scalar(
        select(Membership.role).where(Membership.project_id == project_id, Membership.user_id == actor.user_id)
    )
    return role  # type: ignore[return-value]


def require_project(session: Session, actor: Actor, project_id: str, need: Role = "viewer") -> Project:
    """The project if the actor holds at least role ``need`` in it.

    Raises
    ------
    NotFound : no such project, or the actor has no role in it
    Forbidden : the actor's role is below ``need``
    """
    project = session.get(Project, project_id)
    role = role_in(session, actor, project_id) if project is not None else None
    if project is None or role is None:
        raise NotFound(f"project {project_id} not found")
    if RANK[role] < RANK[need]:
        raise Forbidden(f"this needs the {need} role in project '{project.name}'; you are {role}")
    if project.archived_at is not None and need != "viewer":
        raise Forbidden(f"project '{project.name}' is archived: it can be read, not changed")
    return project
