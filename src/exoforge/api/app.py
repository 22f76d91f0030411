"""The application: REST API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``) and the web pages.

``create_app(settings)`` opens (and migrates) the database, starts the job runner, and answers
every error as problem details. Requests larger than ``settings.max_body_bytes`` are refused with
413 before they are read; every response carries an ``X-Request-ID`` (also written to the audit
log) and conservative security headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exoforge._version import __version__
from exoforge.api import problems
from exoforge.api.deps import REQUEST_ID_HEADER, Services
from exoforge.api.settings import Settings

API_PREFIX = "/api/v1"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self' 'unsafe-eval'; frame-ancestors 'none'",
    ),
]


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes (413), by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._refuse(scope, send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": problems.TITLES[413],
                "status": 413,
                "detail": f"the request body is larger than {self.limit} bytes",
                "instance": scope.get("path"),
                "errors": [],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class RequestHeaders:
    """Add the request id and the security headers to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        from exoforge.api.deps import request_id

        rid = request_id(Request(scope))
        scope.setdefault("state", {})["request_id"] = rid
        # the same id reaches the audit log: pass it on as the request header
        headers = [(k, v) for k, v in scope.get("headers", []) if k != REQUEST_ID_HEADER.lower().encode()]
        scope["headers"] = [*headers, (REQUEST_ID_HEADER.lower().encode(), rid.encode())]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(REQUEST_ID_HEADER.lower().encode(), rid.encode()), *SECURITY_HEADERS]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [(k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings | None = None, *, start_jobs: bool = True) -> FastAPI:
    """The application for ``settings``; ``start_jobs=False`` leaves queued jobs to another process."""
    from exoforge.store.config import database_url
    from exoforge.store.engine import open_store
    from exoforge.workspace.jobs import JobRunner

    settings = settings or Settings()
    url = database_url(settings.database_url)
    store = open_store(url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if start_jobs:
            runner = JobRunner(
                url, settings.job_workers, settings.job_backend, settings.job_chunk_rows, settings.dask_scheduler
            )
            runner.resume(store)
        app.state.services.runner = runner
        sweeper = asyncio.create_task(_sweep_interrupted(runner, store)) if runner is not None else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            if runner is not None:
                runner.shutdown(wait=False)
            store.dispose()

    app = FastAPI(
        title="exoforge workspace API",
        version=__version__,
        description=(
            "Projects, scenarios with immutable revisions, runs, analyses as jobs, the evidence base and the "
            "audit log. Every route but /health needs an API token (`Authorization: Bearer xf_...`). Errors are "
            "problem details (RFC 9457)."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = Services(settings=settings, store=store, runner=None)
    problems.install(app)
    _problem_schemas(app)

    from exoforge.api.routes import datasets, evidence, jobs, projects, runs, scenarios, system

    for module in (system, projects, scenarios, runs, jobs, datasets, evidence):
        app.include_router(module.router, prefix=API_PREFIX)
    _mount_web(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestHeaders)
    return app


async def _sweep_interrupted(runner: Any, store: Any, every_s: float = 60.0) -> None:
    """Every minute, fail running jobs whose worker stopped beating (a killed worker process)."""
    import logging

    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(runner.sweep, store)
        except Exception:  # the next sweep tries again
            logging.getLogger("exoforge.api").exception("sweeping interrupted jobs failed")


def _problem_schemas(app: FastAPI) -> None:
    """Generate the OpenAPI document once, with the problem-details schemas in its components."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = problems.add_schemas(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_web(app: FastAPI) -> Any:
    """The server-rendered pages (if the web package is present)."""
    try:
        from exoforge.web.app import mount
    except ImportError:
        return None
    return mount(app)
