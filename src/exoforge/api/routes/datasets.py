"""Datasets: measured batch data uploaded to a project (kept byte for byte), listed, read, downloaded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from exoforge.api.deps import ActorDep, PagingDep, ProjectId, ServicesDep
from exoforge.api.problems import FieldProblem, ProblemError, problem_responses
from exoforge.api.schemas import DatasetOut, Page
from exoforge.store import repository as repo
from exoforge.workspace.datasets import InvalidDataset, import_dataset

router = APIRouter(tags=["datasets"])
READ = problem_responses(401, 404, 422)
DatasetId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", min_length=32, max_length=32, description="dataset id")]


@router.post(
    "/projects/{project_id}/datasets",
    response_model=DatasetOut,
    status_code=201,
    responses=problem_responses(401, 403, 404, 413, 422),
)
async def upload_dataset(
    project_id: ProjectId,
    actor: ActorDep,
    svc: ServicesDep,
    file: Annotated[UploadFile, File(description="batch data in the long format (.csv or .xlsx)")],
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> DatasetOut:
    """Upload measured batch data (editors); the file is read first and kept byte for byte with its SHA-256."""
    content = await file.read()
    try:
        ds = import_dataset(svc.store, actor, project_id, file.filename or "data.csv", content, name)
    except InvalidDataset as exc:
        raise ProblemError(
            422,
            f"the file cannot be read as batch data ({len(exc.problems)} problem(s))",
            [FieldProblem(path="file", message=p) for p in exc.problems[:50]],
        ) from None
    return DatasetOut.model_validate(ds)


@router.get("/projects/{project_id}/datasets", response_model=Page[DatasetOut], responses=READ)
def list_datasets(project_id: ProjectId, actor: ActorDep, svc: ServicesDep, page: PagingDep) -> Page[DatasetOut]:
    with svc.store.read() as s:
        p = repo.list_datasets(s, actor, project_id, page.limit, page.offset)
        return Page(
            items=[DatasetOut.model_validate(d) for d in p.items], total=p.total, limit=p.limit, offset=p.offset
        )


@router.get("/datasets/{dataset_id}", response_model=DatasetOut, responses=READ)
def get_dataset(dataset_id: DatasetId, actor: ActorDep, svc: ServicesDep) -> DatasetOut:
    with svc.store.read() as s:
        return DatasetOut.model_validate(repo.get_dataset(s, actor, dataset_id))


@router.get(
    "/datasets/{dataset_id}/file",
    responses={
        **READ,
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            }
        },
    },
    response_class=Response,
    summary="The uploaded file, byte for byte",
)
def dataset_file(dataset_id: DatasetId, actor: ActorDep, svc: ServicesDep) -> Response:
    with svc.store.read() as s:
        ds = repo.get_dataset(s, actor, dataset_id)
        content = ds.content
    return Response(
        content,
        media_type=ds.media_type,
        headers={"Content-Disposition": f'attachment; filename="{ds.filename}"', "X-Content-SHA256": ds.sha256},
    )
