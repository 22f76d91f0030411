"""Server-rendered pages (Jinja2 + HTMX) over the same library calls as the API.

Signing in stores an API token in an HttpOnly, SameSite=Strict cookie. Pages read with it; every
change is an HTMX request (it carries ``HX-Request``, which a form on another site cannot send),
answered with a fragment or an ``HX-Redirect``. Figures are drawn in the browser by Plotly.js
(served from the installed plotly package) from the figures the HTML reports draw
(:mod:`exoforge.web.figures`); each figure links to the data behind it (the API's plot-data endpoints).
"""

# Longer than 500 lines: one short handler per page of the web app, each calling the library and rendering its
# template; the routes read as the site map.

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, select_autoescape

from exoforge._version import __version__
from exoforge.api.deps import COOKIE, Services, services
from exoforge.report.console import SUMMARY_ROWS, fmt
from exoforge.report.plotly_html import kpi_unit
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.errors import StoreError
from exoforge.store.models import Project, Scenario
from exoforge.web.figures import forest_figure, job_figures, run_figures
from exoforge.workspace.scenarios import InvalidScenario, content_and_text, to_yaml, validate

ID = r"^[0-9a-f]{32}$"
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    pass


def _env() -> Environment:
    from jinja2 import FileSystemLoader

    folder = resources.files("exoforge.web").joinpath("templates")
    env = Environment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = fmt
    env.globals["version"] = __version__
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = request.app.state.web_env
    html = env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status)


def web_actor(request: Request, svc: Annotated[Services, Depends(services)]) -> Actor:
    """The signed-in user (cookie); a change must also come as an HTMX request."""
    secret = request.cookies.get(COOKIE)
    actor = None
    if secret:
        with svc.store.read() as s:
            actor = repo.authenticate(s, secret, request.headers.get("x-request-id"))
    if actor is None:
        raise LoginRequired
    if request.method not in ("GET", "HEAD") and request.headers.get("hx-request") != "true":
        raise StoreError("changes are made from the pages (HTMX requests)")
    return actor


WebActor = Annotated[Actor, Depends(web_actor)]
Svc = Annotated[Services, Depends(services)]


def redirect(url: str) -> Response:
    """Navigate after an HTMX request."""
    return Response(status_code=204, headers={"HX-Redirect": url})


def fragment_error(message: str, status: int = 200) -> HTMLResponse:
    from markupsafe import escape

    return HTMLResponse(f'<p class="error" role="alert">{escape(message)}</p>', status_code=status)


# --------------------------------------------------------------------------- sign in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", title="Sign in")


@router.post("/login")
def login(request: Request, svc: Svc, token: Annotated[str, Form(max_length=200)]) -> Response:
    with svc.store.read() as s:
        actor = repo.authenticate(s, token.strip())
    if actor is None:
        return render(request, "login.html", status=401, title="Sign in", error="That token is not valid.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, token.strip(), httponly=True, samesite="strict", secure=svc.settings.secure_cookies, path="/"
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- projects


@router.get("/", response_class=HTMLResponse)
def projects_page(request: Request, actor: WebActor, svc: Svc) -> HTMLResponse:
    with svc.store.read() as s:
        projects = repo.list_projects(s, actor, limit=100).items
    return render(request, "projects.html", title="Projects", actor=actor, projects=projects)


@router.post("/projects")
def create_project(
    actor: WebActor,
    svc: Svc,
    name: Annotated[str, Form(min_length=1, max_length=120)],
    description: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    project = svc.store.write(lambda s: repo.create_project(s, actor, name, description))
    return redirect(f"/projects/{project.id}")


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, project_id: str, actor: WebActor, svc: Svc) -> HTMLResponse:
    with svc.store.read() as s:
        project = repo.get_project(s, actor, project_id)
        scenarios = repo.list_scenarios(s, actor, project_id, limit=100).items
        runs = repo.list_runs(s, actor, project_id=project_id, limit=100).items
        jobs = repo.list_jobs(s, actor, project_id, limit=50).items
        names = {sc.id: sc.name for sc in s.query(Scenario).filter(Scenario.project_id == project_id)}
        role = repo.my_role(s, actor, project_id)
        members = repo.list_members(s, actor, project_id)
        datasets = repo.list_datasets(s, actor, project_id, limit=100).items
    return render(
        request,
        "project.html",
        title=project.name,
        actor=actor,
        project=project,
        scenarios=scenarios,
        runs=runs,
        jobs=jobs,
        names=names,
        role=role,
        members=members,
        kpi=_kpi,
        datasets=datasets,
    )


@router.post("/projects/{project_id}/datasets")
async def upload_dataset(
    request: Request,
    project_id: str,
    actor: WebActor,
    svc: Svc,
    file: Annotated[UploadFile, File()],
) -> Any:
    from exoforge.workspace.datasets import InvalidDataset, import_dataset

    content = await file.read()
    try:
        import_dataset(svc.store, actor, project_id, file.filename or "data.csv", content)
    except InvalidDataset as exc:
        return render(request, "_data_problems.html", problems=exc.problems[:50])
    return redirect(f"/projects/{project_id}")


# --------------------------------------------------------------------------- scenarios


@router.get("/projects/{project_id}/scenarios/new", response_class=HTMLResponse)
def new_scenario_page(
    request: Request,
    project_id: str,
    actor: WebActor,
    svc: Svc,
    copy: Annotated[str | None, Query(pattern=ID, description="start from this scenario's newest revision")] = None,
) -> HTMLResponse:
    with svc.store.read() as s:
        project = repo.get_project(s, actor, project_id)
        others = repo.list_scenarios(s, actor, project_id, limit=100).items
        text = ""
        if copy is not None:
            head = repo.get_revision(s, actor, copy)
            text = head.source_text or to_yaml(head.content)
    return render(
        request,
        "scenario.html",
        title="New scenario",
        actor=actor,
        project=project,
        scenario=None,
        text=text,
        revisions=[],
        others=others,
        runs=[],
        can_edit=True,
        kpi=_kpi,
    )


@router.post("/web/validate", response_class=HTMLResponse)
def validate_fragment(request: Request, actor: WebActor, yaml: Annotated[str, Form(max_length=200_000)] = "") -> Any:
    """The editor's live validation: one message per problem, by key path."""
    problems: list[Any] = []
    try:
        content, _ = content_and_text(None, yaml)
        validate(content)
    except InvalidScenario as exc:
        problems = exc.problems
    return render(request, "_problems.html", problems=problems)


@router.post("/projects/{project_id}/scenarios")
def create_scenario(
    request: Request,
    project_id: str,
    actor: WebActor,
    svc: Svc,
    yaml: Annotated[str, Form(max_length=200_000)],
    message: Annotated[str, Form(max_length=500)] = "",
) -> Any:
    try:
        content, text = content_and_text(None, yaml)
        validate(content)
    except InvalidScenario as exc:
        return render(request, "_problems.html", problems=exc.problems)
    scenario, _rev = svc.store.write(
        lambda s: repo.create_scenario(
            s, actor, project_id, str(content.get("name")), content, source_text=text, message=message
        )
    )
    return redirect(f"/scenarios/{scenario.id}")


@router.get("/scenarios/{scenario_id}", response_class=HTMLResponse)
def scenario_page(request: Request, scenario_id: str, actor: WebActor, svc: Svc) -> HTMLResponse:
    with svc.store.read() as s:
        scenario = repo.get_scenario(s, actor, scenario_id)
        project = repo.get_project(s, actor, scenario.project_id)
        head = repo.get_revision(s, actor, scenario_id)
        revisions = repo.list_revisions(s, actor, scenario_id, limit=100).items
        runs = repo.list_runs(s, actor, scenario_id=scenario_id, limit=20).items
        can_edit = repo.has_role(s, actor, project.id, "editor")
        datasets = repo.list_datasets(s, actor, project.id, limit=100).items
    return render(
        request,
        "scenario.html",
        title=scenario.name,
        actor=actor,
        project=project,
        scenario=scenario,
        text=head.source_text or to_yaml(head.content),
        head=head,
        revisions=revisions,
        others=[],
        runs=runs,
        can_edit=can_edit,
        kpi=_kpi,
        datasets=datasets,
    )


@router.post("/scenarios/{scenario_id}")
def save_scenario(
    request: Request,
    scenario_id: str,
    actor: WebActor,
    svc: Svc,
    yaml: Annotated[str, Form(max_length=200_000)],
    base_revision: Annotated[int, Form(ge=1)],
    message: Annotated[str, Form(max_length=500)] = "",
) -> Any:
    try:
        content, text = content_and_text(None, yaml)
        validate(content)
    except InvalidScenario as exc:
        return render(request, "_problems.html", problems=exc.problems)
    svc.store.write(
        lambda s: repo.edit_scenario(
            s, actor, scenario_id, content, source_text=text, message=message, base_revision=base_revision
        )
    )
    return redirect(f"/scenarios/{scenario_id}")


@router.post("/scenarios/{scenario_id}/run")
def run_scenario(
    scenario_id: str, actor: WebActor, svc: Svc, seed: Annotated[int | None, Form(ge=0, le=2**31 - 1)] = None
) -> Response:
    from exoforge.workspace.runs import run_scenario as run

    result = run(svc.store, actor, scenario_id, seed=seed)
    return redirect(f"/runs/{result.id}")


@router.post("/scenarios/{scenario_id}/fit")
def start_fit(scenario_id: str, actor: WebActor, svc: Svc, dataset_id: Annotated[str, Form(pattern=ID)]) -> Response:
    from exoforge.api.routes.jobs import limits
    from exoforge.workspace.jobs import start_job

    try:
        job = start_job(svc.store, actor, scenario_id, "fit", {"dataset_id": dataset_id}, limits(svc))
    except ValueError as exc:
        return fragment_error(str(exc))
    if svc.runner is not None:
        svc.runner.submit(job.id)
    return redirect(f"/jobs/{job.id}")


@router.post("/scenarios/{scenario_id}/analyses")
def start_analysis(
    scenario_id: str,
    actor: WebActor,
    svc: Svc,
    n: Annotated[int, Form(ge=1)] = 1000,
    seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 1,
) -> Response:
    from exoforge.api.routes.jobs import limits
    from exoforge.workspace.jobs import start_job

    try:
        job = start_job(svc.store, actor, scenario_id, "monte_carlo", {"n": n, "seed": seed}, limits(svc))
    except ValueError as exc:
        return fragment_error(str(exc))
    if svc.runner is not None:
        svc.runner.submit(job.id)
    return redirect(f"/jobs/{job.id}")


# --------------------------------------------------------------------------- runs and comparison


def _kpi(doc: dict[str, Any] | None, key: str) -> Any:
    node: Any = doc or {}
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


CARDS = (
    ("ev.final_particles", "EVs in the product", "particles"),
    ("doses_per_batch", "doses per batch", ""),
    ("cost.per_dose", "cost per dose", "USD"),
    ("cost.per_batch", "cost per batch", "USD"),
    ("ev.recovery_fraction", "isolation recovery", "fraction"),
    ("batch_days", "batch duration", "days"),
)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, actor: WebActor, svc: Svc) -> HTMLResponse:
    with svc.store.read() as s:
        run = repo.get_run(s, actor, run_id)
        project = s.get(Project, run.project_id)
        scenario = s.get(Scenario, run.scenario_id)
        others = [r for r in repo.list_runs(s, actor, project_id=run.project_id, limit=20).items if r.id != run.id]
    doc = run.result or {}
    currency = _kpi(doc, "cost.currency") or "USD"
    cards = [(label, _kpi(doc, key), unit.replace("USD", currency)) for key, label, unit in CARDS]
    summary = [(label, _kpi(doc, key), unit.replace("USD", currency)) for key, label, unit in SUMMARY_ROWS]
    return render(
        request,
        "run.html",
        title=f"Run of {scenario.name if scenario else ''}",
        actor=actor,
        run=run,
        project=project,
        scenario=scenario,
        doc=doc,
        cards=cards,
        summary=summary,
        others=others,
        figures=run_figures(doc, run.id) if run.result else [],
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    actor: WebActor,
    svc: Svc,
    ids: Annotated[list[Annotated[str, Query(pattern=ID)]], Query(max_length=8)],
) -> HTMLResponse:
    from exoforge.workspace.compare import compare

    if len(ids) < 2:
        return render(
            request,
            "message.html",
            status=422,
            title="Compare runs",
            actor=actor,
            message="Choose at least two runs to compare.",
        )
    with svc.store.read() as s:
        runs = repo.get_runs(s, actor, ids)
        contents = [repo.revision_of(s, r).content for r in runs]
        names = [(s.get(Scenario, r.scenario_id) or Scenario(name="?")).name for r in runs]
    cmp = compare([r.result for r in runs], contents)
    return render(request, "compare.html", title="Compare runs", actor=actor, runs=runs, names=names, cmp=cmp)


# --------------------------------------------------------------------------- jobs


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, actor: WebActor, svc: Svc) -> HTMLResponse:
    with svc.store.read() as s:
        job = repo.get_job(s, actor, job_id)
        scenario = s.get(Scenario, job.scenario_id)
        project = s.get(Project, job.project_id)
    title = {"monte_carlo": "Monte Carlo", "sensitivity": "Sensitivity", "fit": "Fit"}.get(job.kind, job.kind)
    figures = job_figures(job.kind, job.result, job.id) if job.status == "succeeded" and job.result else []
    return render(
        request,
        "job.html",
        title=title,
        actor=actor,
        job=job,
        scenario=scenario,
        project=project,
        kpi=_kpi,
        figures=figures,
        kpi_unit=kpi_unit,
    )


@router.get("/jobs/{job_id}/status", response_class=HTMLResponse)
def job_status(request: Request, job_id: str, actor: WebActor, svc: Svc) -> Response:
    """The progress fragment, polled by the job page until the job ends (then the page reloads)."""
    with svc.store.read() as s:
        job = repo.get_job(s, actor, job_id)
    response = render(request, "_job_status.html", job=job)
    if job.status in ("succeeded", "failed", "cancelled"):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, actor: WebActor, svc: Svc) -> Response:
    svc.store.write(lambda s: repo.request_cancel(s, actor, job_id))
    return redirect(f"/jobs/{job_id}")


# --------------------------------------------------------------------------- evidence and audit


@router.get("/evidence", response_class=HTMLResponse)
def evidence_page(request: Request, actor: WebActor) -> HTMLResponse:
    from exoforge.evidence.emulated import acting_strategies
    from exoforge.evidence.hierarchy import pooled_posterior
    from exoforge.evidence.influence import study_influence
    from exoforge.evidence.query import filter_records
    from exoforge.evidence.store import load_strategies

    strategies = list(load_strategies())
    counts: dict[str, int] = {}
    for r in filter_records():
        counts[r.record.strategy or ""] = counts.get(r.record.strategy or "", 0) + 1
    acting = acting_strategies()
    # the multiplier a run draws and the study it leans on most (largest change when left out)
    effects = {
        s.id: (pooled_posterior(s.id).median, next(iter(study_influence(s.id)), None))
        for s in strategies
        if s.id in acting
    }
    return render(
        request,
        "evidence.html",
        title="Evidence",
        actor=actor,
        strategies=strategies,
        counts=counts,
        effects=effects,
    )


@router.get("/evidence/{strategy_id}", response_class=HTMLResponse)
def strategy_page(
    request: Request,
    strategy_id: str,
    actor: WebActor,
    basis: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
) -> HTMLResponse:
    from exoforge.evidence.meta import meta_analysis
    from exoforge.evidence.query import filter_records

    try:
        meta = meta_analysis(strategy_id, basis)
    except (KeyError, ValueError) as exc:
        return render(request, "message.html", status=404, title="Evidence", actor=actor, message=str(exc))
    from exoforge.evidence.emulated import family_informed_only
    from exoforge.evidence.hierarchy import run_effect
    from exoforge.evidence.influence import study_influence

    records = [r.to_dict() for r in filter_records(strategy=strategy_id)]
    forest = forest_figure(meta, f"/api/v1/evidence/strategies/{strategy_id}/pool?basis={meta.basis}")
    effect = run_effect(strategy_id)
    rests_on = [row.to_dict() for row in study_influence(strategy_id)] if effect is not None else []
    return render(
        request,
        "strategy.html",
        title=meta.label,
        actor=actor,
        meta=meta.to_dict(),
        records=records,
        forest=forest,
        effect=effect,
        rests_on=rests_on,
        informs_family=family_informed_only(strategy_id),
    )


@router.get("/projects/{project_id}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    project_id: str,
    actor: WebActor,
    svc: Svc,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    with svc.store.read() as s:
        project = repo.get_project(s, actor, project_id)
        page = repo.list_audit(s, actor, project_id=project_id, limit=100, offset=offset)
    return render(request, "audit.html", title=f"Audit log of {project.name}", actor=actor, project=project, page=page)


# --------------------------------------------------------------------------- mounting


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def mount(app: FastAPI) -> FastAPI:
    """Add the pages, the static files and the handlers that turn store errors into pages."""
    app.state.web_env = _env()
    app.mount("/static", StaticFiles(directory=str(resources.files("exoforge.web").joinpath("static"))), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.include_router(router)
    _install_page_errors(app)
    return app


def _install_page_errors(app: FastAPI) -> None:
    """Pages answer errors with a page (or an HTMX fragment); the API keeps problem details."""
    from exoforge.api.app import API_PREFIX

    previous = dict(app.exception_handlers)

    async def login_required(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(LoginRequired, login_required)
    for error_type in list(previous):
        if not (isinstance(error_type, type) and issubclass(error_type, StoreError)):
            continue
        api_handler = previous[error_type]

        async def page_error(request: Request, exc: Exception, api_handler: Any = api_handler) -> Response:
            if request.url.path.startswith(API_PREFIX):
                return cast("Response", await api_handler(request, exc))
            status = {"NotFound": 404, "Forbidden": 403, "TooManyJobs": 429}.get(type(exc).__name__, 409)
            if request.headers.get("hx-request") == "true":
                return fragment_error(str(exc))
            return render(request, "message.html", status=status, title="Not possible", actor=None, message=str(exc))

        app.add_exception_handler(error_type, page_error)

    async def other_store_error(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request") == "true":
            return fragment_error(str(exc))
        return render(request, "message.html", status=400, title="Not possible", actor=None, message=str(exc))

    app.add_exception_handler(StoreError, other_store_error)
