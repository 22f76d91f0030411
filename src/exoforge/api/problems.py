"""Errors as problem details (RFC 9457): ``application/problem+json``, never a stack trace.

Every error response carries ``type``, ``title``, ``status`` and ``detail``; validation errors
add ``errors``: one entry per problem with its key path and message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from exoforge.store.errors import Conflict, Forbidden, ImmutableRecord, NotFound, TooManyJobs

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("exoforge.api")


class FieldProblem(BaseModel):
    path: str = Field(description="key path of the offending value, e.g. expansion.platform")
    message: str


class Problem(BaseModel):
    """An error, as problem details (RFC 9457)."""

    type: str = Field(default="about:blank", description="URI of the problem type")
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
}


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, detail: str, errors: list[FieldProblem] | None = None, type_: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.type = type_ or "about:blank"


def problem_response(
    status: int, detail: str, request: Request | None = None, errors: list[FieldProblem] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=str(request.url.path) if request is not None else None,
        errors=errors or [],
    ).model_dump()
    headers = extra.pop("headers", None)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


STORE_ERRORS: dict[type[Exception], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    ImmutableRecord: 409,
    TooManyJobs: 429,
}


def install(app: FastAPI) -> None:
    """Answer every error with problem details."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request, exc.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, detail, request, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldProblem(path=_loc_path(e.get("loc", ())), message=str(e.get("msg", ""))) for e in exc.errors()]
        return problem_response(422, f"{len(errors)} problem(s) with the request", request, errors)

    for error_type, status in STORE_ERRORS.items():

        async def _store(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            headers = {"Retry-After": "10"} if status == 429 else None
            return problem_response(status, str(exc), request, headers=headers)

        app.add_exception_handler(error_type, _store)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "the server could not complete the request; it has been logged", request)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses (``application/problem+json``)."""
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"description": TITLES.get(s, "Error"), "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}}} for s in statuses
    }


def add_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """Put the problem schemas into an OpenAPI document's components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
    return spec
