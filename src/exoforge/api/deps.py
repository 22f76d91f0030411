"""Request dependencies: the store, the authenticated actor, pagination, identifier checks."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from exoforge.api.problems import ProblemError
from exoforge.api.settings import Settings
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import Store
from exoforge.workspace.jobs import JobRunner

#: Name of the web session cookie (holds an API token; HttpOnly, SameSite=Strict).
COOKIE = "exoforge_token"
ID_PATTERN = r"^[0-9a-f]{32}$"
REQUEST_ID_HEADER = "X-Request-ID"

bearer = HTTPBearer(auto_error=False, description="API token (`xf_...`), created with POST /api/v1/tokens")


@dataclass
class Services:
    """What the application holds for its requests (on ``app.state.services``)."""

    settings: Settings
    store: Store
    runner: JobRunner | None


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def request_id(request: Request) -> str:
    rid = request.headers.get(REQUEST_ID_HEADER, "")
    return rid if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid) else uuid.uuid4().hex


def token_from(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token, else (reads only, for the web pages' own requests) the session cookie."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE)
    return None


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    svc: Annotated[Services, Depends(services)],
) -> Actor:
    """The user behind the request's token (401 without a valid one)."""
    secret = token_from(request, credentials)
    actor = None
    if secret:
        with svc.store.read() as s:
            actor = repo.authenticate(s, secret, request_id(request))
    if actor is None:
        raise ProblemError(401, "a valid API token is required (Authorization: Bearer xf_...)")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
ServicesDep = Annotated[Services, Depends(services)]


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=100, description="items per page (at most 100)")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")] = 0,
) -> Paging:
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(paging)]


def id_path(description: str) -> object:
    return Path(pattern=ID_PATTERN, min_length=32, max_length=32, description=description)


ProjectId = Annotated[str, id_path("project id (32 hex digits)")]
ScenarioId = Annotated[str, id_path("scenario id (32 hex digits)")]
RunId = Annotated[str, id_path("run id (32 hex digits)")]
JobId = Annotated[str, id_path("job id (32 hex digits)")]
UserId = Annotated[str, id_path("user id (32 hex digits)")]
TokenId = Annotated[str, id_path("token id (32 hex digits)")]
