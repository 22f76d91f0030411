"""Repository functions: every read and write of the workspace, with access checks and audit.

Each function takes a session (from :meth:`exoforge.store.engine.Store.read` or
:meth:`~exoforge.store.engine.Store.transaction`) and the :class:`~exoforge.store.access.Actor`.
Reads of another project's objects raise :class:`~exoforge.store.errors.NotFound`; writes check
the role and queue one audit entry per change (written at commit, see :mod:`exoforge.store.audit`).
The store knows nothing of simulations: callers validate scenario content and compute results.
"""

# Longer than 500 lines: every read and write of the workspace store is here, each checking the actor's role and
# writing its audit event; together, a query without those checks stands out.

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exoforge.store import audit
from exoforge.store.access import RANK, SYSTEM, Actor, Role, require_project, role_in
from exoforge.store.errors import Conflict, Forbidden, NotFound, TooManyJobs
from exoforge.store.hashing import content_hash
from exoforge.store.models import (
    ROLES,
    ApiToken,
    AuditEvent,
    Dataset,
    Job,
    Membership,
    Project,
    Run,
    Scenario,
    ScenarioRevision,
    User,
    utcnow,
)

T = TypeVar("T")
TOKEN_PREFIX = "xf_"
ACTIVE_JOB_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class Page:
    """One page of a listing: the items, how many there are in all, and where the page starts."""

    items: list[Any]
    total: int
    limit: int
    offset: int


def _page(session: Session, stmt: Select[Any], limit: int, offset: int) -> Page:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(limit).offset(offset)))
    return Page(items, int(total), limit, offset)


# --------------------------------------------------------------------------- users and tokens


def hash_token(secret: str) -> str:
    """SHA-256 of a token (tokens are 256-bit random strings: a fast hash is enough)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def get_user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def actor_for(user: User, request_id: str | None = None) -> Actor:
    return Actor(user.id, user.name, is_admin=user.is_admin, request_id=request_id)


def _require_site_admin(actor: Actor) -> None:
    if not (actor.is_admin or actor.trusted):
        raise Forbidden("only an administrator can manage users")


def create_user(session: Session, actor: Actor, name: str, *, is_admin: bool = False) -> User:
    """A new user (administrators only)."""
    _require_site_admin(actor)
    if get_user_by_name(session, name) is not None:
        raise Conflict(f"a user named '{name}' exists")
    user = User(name=name, is_admin=is_admin)
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", "user", user.id, detail={"name": name, "is_admin": is_admin})
    return user


def list_users(session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> Page:
    _require_site_admin(actor)
    return _page(session, select(User).order_by(User.name), limit, offset)


def ensure_local_user(session: Session, name: str) -> User:
    """The account of the local command line (created on first use)."""
    user = get_user_by_name(session, name)
    if user is None:
        user = User(name=name, is_admin=False)
        session.add(user)
        session.flush()
        audit.record(
            session, Actor(user.id, name, trusted=True), "create", "user", user.id, detail={"name": name, "local": True}
        )
    return user


def create_token(
    session: Session,
    actor: Actor,
    name: str,
    *,
    user_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for the actor (or, for an administrator, for ``user_id``).

    Returns the stored row and the secret, which is not stored and cannot be shown again.
    """
    owner = user_id or actor.user_id
    if owner is None:
        raise Forbidden("tokens belong to users")
    if owner != actor.user_id:
        _require_site_admin(actor)
    user = session.get(User, owner)
    if user is None:
        raise NotFound(f"user {owner} not found")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=owner,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(secret),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "api_token",
        token.id,
        detail={"user": user.name, "name": name, "prefix": token.prefix},
    )
    return token, secret


def list_tokens(session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> Page:
    """The actor's tokens (an administrator sees every token)."""
    stmt = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if not (actor.is_admin or actor.trusted):
        stmt = stmt.where(ApiToken.user_id == actor.user_id)
    return _page(session, stmt, limit, offset)


def revoke_token(session: Session, actor: Actor, token_id: str, reason: str | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user_id and not (actor.is_admin or actor.trusted)):
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "revoke", "api_token", token.id, detail={"prefix": token.prefix}, reason=reason)
    return token


def authenticate(session: Session, secret: str, request_id: str | None = None) -> Actor | None:
    """The actor a token secret stands for, or None (unknown, revoked, expired, or user disabled)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == hash_token(secret))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or user.disabled:
        return None
    if token.expires_at is not None:
        expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=utcnow().tzinfo)
        if expires <= utcnow():
            return None
    return actor_for(user, request_id)


def bootstrap_admin(session: Session, name: str = "admin") -> str | None:
    """On an empty user table: create the administrator and a token; return its secret (else None)."""
    if session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True))):
        return None
    user = get_user_by_name(session, name) or User(name=name, is_admin=True)
    user.is_admin = True
    session.add(user)
    session.flush()
    first = Actor(user.id, name, is_admin=True)
    audit.record(session, first, "create", "user", user.id, detail={"name": name, "is_admin": True, "bootstrap": True})
    _token, secret = create_token(session, first, "first administrator token")
    return secret


# --------------------------------------------------------------------------- projects and members


def create_project(session: Session, actor: Actor, name: str, description: str = "") -> Project:
    """A new project; its creator becomes its admin."""
    if actor.user_id is None:
        raise Forbidden("projects are created by users")
    project = Project(name=name, description=description, created_by=actor.user_id)
    session.add(project)
    session.flush()
    session.add(Membership(project_id=project.id, user_id=actor.user_id, role="admin"))
    audit.record(
        session,
        actor,
        "create",
        "project",
        project.id,
        project_id=project.id,
        detail={"name": name, "description": description},
    )
    return project


def list_projects(
    session: Session, actor: Actor, limit: int = 50, offset: int = 0, include_archived: bool = False
) -> Page:
    """Projects the actor has a role in (every project for a trusted actor)."""
    stmt = select(Project).order_by(Project.created_at.desc(), Project.id)
    if not actor.trusted:
        stmt = stmt.join(Membership, Membership.project_id == Project.id).where(Membership.user_id == actor.user_id)
    if not include_archived:
        stmt = stmt.where(Project.archived_at.is_(None))
    return _page(session, stmt, limit, offset)


def find_project(session: Session, actor: Actor, name: str) -> Project | None:
    """The actor's newest project of this name (None if there is none)."""
    stmt = select(Project).where(Project.name == name, Project.archived_at.is_(None))
    if not actor.trusted:
        stmt = stmt.join(Membership, Membership.project_id == Project.id).where(Membership.user_id == actor.user_id)
    return session.scalars(stmt.order_by(Project.created_at.desc())).first()


def get_project(session: Session, actor: Actor, project_id: str) -> Project:
    return require_project(session, actor, project_id, "viewer")


def update_project(
    session: Session,
    actor: Actor,
    project_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    reason: str | None = None,
) -> Project:
    project = require_project(session, actor, project_id, "admin")
    changes: dict[str, Any] = {}
    if name is not None and name != project.name:
        changes["name"] = {"old": project.name, "new": name}
        project.name = name
    if description is not None and description != project.description:
        changes["description"] = {"old": project.description, "new": description}
        project.description = description
    if changes:
        audit.record(
            session, actor, "update", "project", project.id, project_id=project.id, detail=changes, reason=reason
        )
    return project


def archive_project(session: Session, actor: Actor, project_id: str, reason: str | None = None) -> Project:
    """Archive a project: it stays readable with all its records, and can no longer be changed."""
    project = require_project(session, actor, project_id, "admin")
    project.archived_at = utcnow()
    audit.record(
        session, actor, "delete", "project", project.id, project_id=project.id, reason=reason, detail={"archived": True}
    )
    return project


def my_role(session: Session, actor: Actor, project_id: str) -> Role:
    require_project(session, actor, project_id, "viewer")
    role = role_in(session, actor, project_id)
    assert role is not None
    return role


def list_members(session: Session, actor: Actor, project_id: str) -> list[tuple[Membership, User]]:
    require_project(session, actor, project_id, "viewer")
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id)
        .order_by(User.name)
    )
    return [(m, u) for m, u in rows]


def _admins(session: Session, project_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.project_id == project_id, Membership.role == "admin")
        )
        or 0
    )


def set_member(
    session: Session, actor: Actor, project_id: str, user_id: str, role: Role, reason: str | None = None
) -> Membership:
    """Give a user a role in the project (or change it). Project admins only."""
    if role not in ROLES:
        raise ValueError(f"role '{role}' is not one of {', '.join(ROLES)}")
    require_project(session, actor, project_id, "admin")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    member = session.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )
    if member is None:
        member = Membership(project_id=project_id, user_id=user_id, role=role)
        session.add(member)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "membership",
            member.id,
            project_id=project_id,
            detail={"user": user.name, "role": role},
            reason=reason,
        )
    elif member.role != role:
        if member.role == "admin" and _admins(session, project_id) <= 1:
            raise Conflict("a project keeps at least one admin")
        audit.record(
            session,
            actor,
            "update",
            "membership",
            member.id,
            project_id=project_id,
            detail={"user": user.name, "role": {"old": member.role, "new": role}},
            reason=reason,
        )
        member.role = role
    return member


def remove_member(session: Session, actor: Actor, project_id: str, user_id: str, reason: str | None = None) -> None:
    require_project(session, actor, project_id, "admin")
    member = session.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id)
    )
    if member is None:
        raise NotFound(f"user {user_id} is not a member of this project")
    if member.role == "admin" and _admins(session, project_id) <= 1:
        raise Conflict("a project keeps at least one admin")
    user = session.get(User, user_id)
    audit.record(
        session,
        actor,
        "delete",
        "membership",
        member.id,
        project_id=project_id,
        detail={"user": user.name if user else user_id, "role": member.role},
        reason=reason,
    )
    session.delete(member)


# --------------------------------------------------------------------------- scenarios


def _new_revision(
    session: Session,
    actor: Actor,
    scenario: Scenario,
    number: int,
    content: dict[str, Any],
    digest: str,
    source_text: str | None,
    message: str,
) -> ScenarioRevision:
    assert actor.user_id is not None
    rev = ScenarioRevision(
        scenario_id=scenario.id,
        number=number,
        content=content,
        content_hash=digest,
        source_text=source_text,
        message=message,
        created_by=actor.user_id,
    )
    session.add(rev)
    session.flush()
    return rev


def create_scenario(
    session: Session,
    actor: Actor,
    project_id: str,
    name: str,
    content: dict[str, Any],
    *,
    source_text: str | None = None,
    message: str = "",
) -> tuple[Scenario, ScenarioRevision]:
    """A new scenario with its first revision (editors)."""
    require_project(session, actor, project_id, "editor")
    if actor.user_id is None:
        raise Forbidden("scenarios are written by users")
    scenario = Scenario(project_id=project_id, name=name, head_revision=1, created_by=actor.user_id)
    session.add(scenario)
    session.flush()
    digest = content_hash(content)
    rev = _new_revision(session, actor, scenario, 1, content, digest, source_text, message)
    audit.record(session, actor, "create", "scenario", scenario.id, project_id=project_id, detail={"name": name})
    audit.record(
        session,
        actor,
        "create",
        "scenario_revision",
        rev.id,
        project_id=project_id,
        detail={"scenario": scenario.id, "number": 1, "content_hash": digest},
    )
    return scenario, rev


def get_scenario(session: Session, actor: Actor, scenario_id: str, need: Role = "viewer") -> Scenario:
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFound(f"scenario {scenario_id} not found")
    try:
        require_project(session, actor, scenario.project_id, need)
    except NotFound:
        raise NotFound(f"scenario {scenario_id} not found") from None
    return scenario


def list_scenarios(
    session: Session, actor: Actor, project_id: str, limit: int = 50, offset: int = 0, include_archived: bool = False
) -> Page:
    require_project(session, actor, project_id, "viewer")
    stmt = select(Scenario).where(Scenario.project_id == project_id).order_by(Scenario.created_at.desc(), Scenario.id)
    if not include_archived:
        stmt = stmt.where(Scenario.archived_at.is_(None))
    return _page(session, stmt, limit, offset)


def find_scenario(session: Session, actor: Actor, project_id: str, name: str) -> Scenario | None:
    require_project(session, actor, project_id, "viewer")
    return session.scalars(
        select(Scenario)
        .where(Scenario.project_id == project_id, Scenario.name == name, Scenario.archived_at.is_(None))
        .order_by(Scenario.created_at.desc())
    ).first()


def edit_scenario(
    session: Session,
    actor: Actor,
    scenario_id: str,
    content: dict[str, Any],
    *,
    source_text: str | None = None,
    message: str = "",
    base_revision: int | None = None,
    name: str | None = None,
) -> tuple[ScenarioRevision, bool]:
    """Record an edit as a new revision; return it and whether it is new.

    Content equal to the head revision's (same hash) makes no revision and returns the head.
    ``base_revision``: the revision the edit started from; if another edit has landed since, the
    edit is refused (:class:`Conflict`) instead of silently replacing it.

    The scenario's row is read ``FOR UPDATE`` (PostgreSQL; SQLite write transactions hold the
    database lock from their start), so concurrent edits of one scenario take turns: revision
    numbers are unique and gap-free, and no edit is lost.
    """
    scenario = get_scenario(session, actor, scenario_id, "editor")
    if scenario.archived_at is not None:
        raise Conflict(f"scenario {scenario_id} is archived")
    digest = content_hash(content)
    current = session.execute(
        select(Scenario.head_revision).where(Scenario.id == scenario_id).with_for_update()
    ).scalar_one()
    if base_revision is not None and base_revision != current:
        raise Conflict(
            f"scenario {scenario_id} is at revision {current}, the edit started from {base_revision}: "
            "reload it and apply the edit again"
        )
    head = session.scalar(
        select(ScenarioRevision).where(ScenarioRevision.scenario_id == scenario_id, ScenarioRevision.number == current)
    )
    if head is not None and head.content_hash == digest and name in (None, scenario.name):
        return head, False
    number = current + 1
    session.execute(
        update(Scenario)
        .where(Scenario.id == scenario_id)
        .values(head_revision=number)
        .execution_options(synchronize_session=False)
    )
    rev = _new_revision(session, actor, scenario, number, content, digest, source_text, message)
    detail: dict[str, Any] = {
        "scenario": scenario_id,
        "number": number,
        "content_hash": digest,
        "previous_hash": head.content_hash if head else None,
    }
    if name is not None and name != scenario.name:
        detail["name"] = {"old": scenario.name, "new": name}
        session.execute(
            update(Scenario)
            .where(Scenario.id == scenario_id)
            .values(name=name)
            .execution_options(synchronize_session=False)
        )
    session.expire(scenario)
    audit.record(
        session,
        actor,
        "create",
        "scenario_revision",
        rev.id,
        project_id=scenario.project_id,
        detail=detail,
        reason=message or None,
    )
    return rev, True


def archive_scenario(session: Session, actor: Actor, scenario_id: str, reason: str | None = None) -> Scenario:
    """Archive a scenario (its revisions and runs stay)."""
    scenario = get_scenario(session, actor, scenario_id, "editor")
    if scenario.archived_at is None:
        scenario.archived_at = utcnow()
        audit.record(
            session,
            actor,
            "delete",
            "scenario",
            scenario.id,
            project_id=scenario.project_id,
            detail={"archived": True, "name": scenario.name},
            reason=reason,
        )
    return scenario


def list_revisions(session: Session, actor: Actor, scenario_id: str, limit: int = 50, offset: int = 0) -> Page:
    get_scenario(session, actor, scenario_id)
    stmt = (
        select(ScenarioRevision)
        .where(ScenarioRevision.scenario_id == scenario_id)
        .order_by(ScenarioRevision.number.desc())
    )
    return _page(session, stmt, limit, offset)


def get_revision(session: Session, actor: Actor, scenario_id: str, number: int | None = None) -> ScenarioRevision:
    """Revision ``number`` of the scenario (default: the newest)."""
    scenario = get_scenario(session, actor, scenario_id)
    want = scenario.head_revision if number is None else number
    rev = session.scalar(
        select(ScenarioRevision).where(ScenarioRevision.scenario_id == scenario_id, ScenarioRevision.number == want)
    )
    if rev is None:
        raise NotFound(f"scenario {scenario_id} has no revision {want}")
    return rev


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunRecord:
    """What a run stores besides its revision: inputs that decide the result, and the result."""

    status: str
    seed: int | None
    exclude_refs: list[str]
    exoforge_version: str
    evidence_hash: str
    parameters: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None = None
    seconds: float = 0.0
    label: str = ""
    rerun_of: str | None = None


def record_run(session: Session, actor: Actor, revision: ScenarioRevision, rec: RunRecord) -> Run:
    """Store a run of ``revision`` (editors). Runs are permanent."""
    scenario = get_scenario(session, actor, revision.scenario_id, "editor")
    if actor.user_id is None:
        raise Forbidden("runs are recorded for users")
    run = Run(
        project_id=scenario.project_id,
        scenario_id=scenario.id,
        revision_id=revision.id,
        revision_number=revision.number,
        status=rec.status,
        seed=rec.seed,
        exclude_refs=list(rec.exclude_refs),
        exoforge_version=rec.exoforge_version,
        evidence_hash=rec.evidence_hash,
        parameters=rec.parameters,
        parameters_hash=content_hash(rec.parameters),
        result=rec.result,
        result_hash=content_hash(rec.result) if rec.result is not None else None,
        error=rec.error,
        seconds=rec.seconds,
        label=rec.label,
        rerun_of=rec.rerun_of,
        created_by=actor.user_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "run",
        run.id,
        project_id=scenario.project_id,
        detail={
            "scenario": scenario.id,
            "revision": revision.number,
            "status": rec.status,
            "result_hash": run.result_hash,
            "evidence_hash": rec.evidence_hash,
            "parameters_hash": run.parameters_hash,
            "rerun_of": rec.rerun_of,
        },
    )
    return run


def _by_prefix(session: Session, model: type[T], ident: str) -> T | None:
    if len(ident) == 32:
        return session.get(model, ident)
    if len(ident) < 6:
        return None
    rows = list(session.scalars(select(model).where(model.id.startswith(ident)).limit(2)))  # type: ignore[attr-defined]
    return rows[0] if len(rows) == 1 else None


def get_run(session: Session, actor: Actor, run_id: str) -> Run:
    """A run by id (or, for a trusted actor, by a unique prefix of at least 6 characters)."""
    run = _by_prefix(session, Run, run_id) if actor.trusted else session.get(Run, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    try:
        require_project(session, actor, run.project_id, "viewer")
    except NotFound:
        raise NotFound(f"run {run_id} not found") from None
    return run


def list_runs(
    session: Session,
    actor: Actor,
    *,
    project_id: str | None = None,
    scenario_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Runs, newest first: of a project, of a scenario, or (trusted actors) of every project."""
    stmt = select(Run).order_by(Run.created_at.desc(), Run.id)
    if scenario_id is not None:
        scenario = get_scenario(session, actor, scenario_id)
        stmt = stmt.where(Run.scenario_id == scenario.id)
    elif project_id is not None:
        require_project(session, actor, project_id, "viewer")
        stmt = stmt.where(Run.project_id == project_id)
    elif not actor.trusted:
        stmt = stmt.join(Membership, Membership.project_id == Run.project_id).where(Membership.user_id == actor.user_id)
    return _page(session, stmt, limit, offset)


def get_runs(session: Session, actor: Actor, run_ids: Sequence[str]) -> list[Run]:
    return [get_run(session, actor, rid) for rid in run_ids]


def revision_of(session: Session, run: Run | Job) -> ScenarioRevision:
    rev = session.get(ScenarioRevision, run.revision_id)
    assert rev is not None
    return rev


# --------------------------------------------------------------------------- datasets


def require_project_role(session: Session, actor: Actor, project_id: str, need: Role) -> Project:
    return require_project(session, actor, project_id, need)


def add_dataset(
    session: Session,
    actor: Actor,
    project_id: str,
    *,
    name: str,
    filename: str,
    media_type: str,
    content: bytes,
    sha256: str,
    summary: dict[str, Any],
    kind: str = "batch_data",
) -> Dataset:
    """Store an uploaded file as it came (editors). Datasets are permanent."""
    require_project(session, actor, project_id, "editor")
    if actor.user_id is None:
        raise Forbidden("datasets are uploaded by users")
    ds = Dataset(
        project_id=project_id,
        name=name,
        kind=kind,
        filename=filename,
        media_type=media_type,
        size=len(content),
        sha256=sha256,
        content=content,
        summary=summary,
        created_by=actor.user_id,
    )
    session.add(ds)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "dataset",
        ds.id,
        project_id=project_id,
        detail={"name": name, "filename": filename, "sha256": sha256, "size": len(content)},
    )
    return ds


def get_dataset(session: Session, actor: Actor, dataset_id: str) -> Dataset:
    ds = session.get(Dataset, dataset_id)
    if ds is None:
        raise NotFound(f"dataset {dataset_id} not found")
    try:
        require_project(session, actor, ds.project_id, "viewer")
    except NotFound:
        raise NotFound(f"dataset {dataset_id} not found") from None
    return ds


def list_datasets(session: Session, actor: Actor, project_id: str, limit: int = 50, offset: int = 0) -> Page:
    require_project(session, actor, project_id, "viewer")
    stmt = select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.created_at.desc(), Dataset.id)
    return _page(session, stmt, limit, offset)


# --------------------------------------------------------------------------- jobs


def active_jobs(session: Session, *, project_id: str | None = None, user_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE_JOB_STATUSES))
    if project_id is not None:
        stmt = stmt.where(Job.project_id == project_id)
    if user_id is not None:
        stmt = stmt.where(Job.created_by == user_id)
    return int(session.scalar(stmt) or 0)


def create_job(
    session: Session,
    actor: Actor,
    revision: ScenarioRevision,
    kind: str,
    settings: dict[str, Any],
    *,
    exoforge_version: str,
    evidence_hash: str,
    max_active_per_user: int | None = None,
    max_active: int | None = None,
) -> Job:
    """Queue an analysis of ``revision`` (editors), unless a cap on active jobs is reached."""
    scenario = get_scenario(session, actor, revision.scenario_id, "editor")
    if actor.user_id is None:
        raise Forbidden("analyses are started by users")
    if max_active_per_user is not None and active_jobs(session, user_id=actor.user_id) >= max_active_per_user:
        raise TooManyJobs(f"you have {max_active_per_user} analyses queued or running; wait for one to finish")
    if max_active is not None and active_jobs(session) >= max_active:
        raise TooManyJobs(f"the server runs at most {max_active} analyses at a time; try again shortly")
    job = Job(
        project_id=scenario.project_id,
        scenario_id=scenario.id,
        revision_id=revision.id,
        revision_number=revision.number,
        kind=kind,
        settings=settings,
        status="queued",
        progress=0.0,
        cancel_requested=False,
        exoforge_version=exoforge_version,
        evidence_hash=evidence_hash,
        created_by=actor.user_id,
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "job",
        job.id,
        project_id=scenario.project_id,
        detail={"kind": kind, "settings": settings, "scenario": scenario.id, "revision": revision.number},
    )
    return job


def get_job(session: Session, actor: Actor, job_id: str) -> Job:
    job = _by_prefix(session, Job, job_id) if actor.trusted else session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    try:
        require_project(session, actor, job.project_id, "viewer")
    except NotFound:
        raise NotFound(f"job {job_id} not found") from None
    return job


def list_jobs(
    session: Session, actor: Actor, project_id: str, limit: int = 50, offset: int = 0, status: str | None = None
) -> Page:
    require_project(session, actor, project_id, "viewer")
    stmt = select(Job).where(Job.project_id == project_id).order_by(Job.created_at.desc(), Job.id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return _page(session, stmt, limit, offset)


def request_cancel(session: Session, actor: Actor, job_id: str, reason: str | None = None) -> Job:
    """Cancel a job (editors): a queued job stops at once, a running one at its next progress report."""
    job = get_job(session, actor, job_id)
    require_project(session, actor, job.project_id, "editor")
    if job.status not in ACTIVE_JOB_STATUSES:
        raise Conflict(f"job {job_id} has already finished ({job.status})")
    job.cancel_requested = True
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
    audit.record(
        session, actor, "cancel", "job", job.id, project_id=job.project_id, detail={"status": job.status}, reason=reason
    )
    return job


def claim_job(session: Session, job_id: str) -> Job | None:
    """Mark a queued job running (None if another worker took it, or it was cancelled)."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    audit.record(session, SYSTEM, "start", "job", job.id, project_id=job.project_id, detail={"kind": job.kind})
    return job


def report_progress(session: Session, job_id: str, progress: float) -> bool:
    """Store a running job's progress (0-1); return whether cancellation was requested."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(progress=min(1.0, max(0.0, float(progress))), heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish_job(
    session: Session, job_id: str, status: str, *, result: dict[str, Any] | None = None, error: str | None = None
) -> Job:
    """Record a job's outcome: succeeded (with its result), failed (with the reason) or cancelled."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    job.status = status
    job.result = result
    job.error = error
    job.finished_at = utcnow()
    if status == "succeeded":
        job.progress = 1.0
    audit.record(
        session,
        SYSTEM,
        "finish",
        "job",
        job.id,
        project_id=job.project_id,
        detail={"status": status, "result_hash": content_hash(result) if result is not None else None, "error": error},
    )
    return job


def heartbeat(session: Session, job_id: str) -> None:
    """A running job's worker is alive."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def fail_interrupted_jobs(session: Session, stale_after_s: float = 120.0) -> list[str]:
    """Mark running jobs whose worker stopped beating ``stale_after_s`` seconds ago as failed.

    Workers beat every few seconds while they run (:func:`heartbeat`); a job that stops beating
    was left by a server or worker process that died.
    """
    from datetime import timedelta

    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stmt = select(Job).where(
        Job.status == "running",
        func.coalesce(Job.heartbeat_at, Job.started_at) < cutoff,
    )
    ids = []
    for job in session.scalars(stmt):
        job.status = "failed"
        job.error = "the analysis stopped (its server or worker process ended); start it again"
        job.finished_at = utcnow()
        audit.record(
            session,
            SYSTEM,
            "finish",
            "job",
            job.id,
            project_id=job.project_id,
            detail={"status": "failed", "error": job.error},
        )
        ids.append(job.id)
    return ids


# --------------------------------------------------------------------------- audit log


def list_audit(
    session: Session,
    actor: Actor,
    *,
    project_id: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Audit entries, newest first: of one project (its members), or all of them (administrators)."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if project_id is not None:
        require_project(session, actor, project_id, "viewer")
        stmt = stmt.where(AuditEvent.project_id == project_id)
    elif not (actor.is_admin or actor.trusted):
        raise Forbidden("the whole audit log is for administrators; ask for one project's")
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    return _page(session, stmt, limit, offset)


def has_role(session: Session, actor: Actor, project_id: str, need: Role) -> bool:
    role = role_in(session, actor, project_id)
    return role is not None and RANK[role] >= RANK[need]


def is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError)
