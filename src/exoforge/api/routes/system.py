"""Health, the caller, users, tokens and the whole audit log."""

from __future__ import annotations

from fastapi import APIRouter, Response

from exoforge._version import __version__
from exoforge.api.deps import ActorDep, PagingDep, ServicesDep, TokenId
from exoforge.api.problems import problem_responses
from exoforge.api.schemas import (
    AuditOut,
    AuditVerification,
    Health,
    Me,
    Page,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)
from exoforge.store import audit, migrate
from exoforge.store import repository as repo

router = APIRouter()
AUTH = problem_responses(401, 403, 422)


@router.get("/health", response_model=Health, tags=["system"], summary="Service and database health (no token)")
def health(svc: ServicesDep) -> Health:
    return Health(
        status="ok",
        version=__version__,
        database=svc.store.dialect,
        schema_revision=migrate.current(svc.store.engine),
    )


@router.get("/me", response_model=Me, tags=["users"], responses=AUTH)
def me(actor: ActorDep) -> Me:
    return Me(id=actor.user_id, name=actor.name, is_admin=actor.is_admin)


@router.get("/users", response_model=Page[UserOut], tags=["users"], responses=AUTH, summary="Users (administrators)")
def list_users(actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[UserOut]:
    with svc.store.read() as s:
        p = repo.list_users(s, actor, page.limit, page.offset)
        return Page(items=[UserOut.model_validate(u) for u in p.items], total=p.total, limit=p.limit, offset=p.offset)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    responses=problem_responses(401, 403, 409, 422),
    summary="Create a user (administrators)",
)
def create_user(body: UserCreate, actor: ActorDep, svc: ServicesDep) -> UserOut:
    return UserOut.model_validate(
        svc.store.write(lambda s: repo.create_user(s, actor, body.name, is_admin=body.is_admin))
    )


@router.get("/tokens", response_model=Page[TokenOut], tags=["tokens"], responses=AUTH)
def list_tokens(actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[TokenOut]:
    with svc.store.read() as s:
        p = repo.list_tokens(s, actor, page.limit, page.offset)
        return Page(items=[TokenOut.model_validate(t) for t in p.items], total=p.total, limit=p.limit, offset=p.offset)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    tags=["tokens"],
    responses=problem_responses(401, 403, 404, 422),
    summary="Create an API token (the secret is shown once)",
)
def create_token(body: TokenCreate, actor: ActorDep, svc: ServicesDep) -> TokenCreated:
    token, secret = svc.store.write(
        lambda s: repo.create_token(s, actor, body.name, user_id=body.user_id, expires_at=body.expires_at)
    )
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    tags=["tokens"],
    responses=problem_responses(401, 403, 404, 422),
    summary="Revoke a token",
    response_class=Response,
)
def revoke_token(token_id: TokenId, actor: ActorDep, svc: ServicesDep) -> Response:
    svc.store.write(lambda s: repo.revoke_token(s, actor, token_id))
    return Response(status_code=204)


@router.get(
    "/audit",
    response_model=Page[AuditOut],
    tags=["audit"],
    responses=AUTH,
    summary="The whole audit log, newest first (administrators)",
)
def audit_log(actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[AuditOut]:
    with svc.store.read() as s:
        p = repo.list_audit(s, actor, limit=page.limit, offset=page.offset)
        return Page(items=[AuditOut.model_validate(e) for e in p.items], total=p.total, limit=p.limit, offset=p.offset)


@router.get(
    "/audit/verify",
    response_model=AuditVerification,
    tags=["audit"],
    responses=AUTH,
    summary="Check the audit log's hash chain (administrators)",
)
def audit_verify(actor: ActorDep, svc: ServicesDep) -> AuditVerification:
    with svc.store.read() as s:
        repo.list_audit(s, actor, limit=1)  # administrators only
        report = audit.verify(s)
    return AuditVerification(ok=report.ok, entries=report.entries, problems=report.problems)
