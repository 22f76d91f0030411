"""Request and response bodies of the API (separate input and output models; inputs refuse unknown keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

Role = Literal["viewer", "editor", "admin"]
Name = Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f]+$")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int = Field(description="items in the whole listing")
    limit: int
    offset: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str = Field(description="database backend (sqlite or postgresql)")
    schema_revision: str | None


# --------------------------------------------------------------------------- users and tokens


class UserCreate(Input):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._@-]+$")
    is_admin: bool = False


class UserOut(Output):
    id: str
    name: str
    is_admin: bool
    disabled: bool
    created_at: datetime


class TokenCreate(Input):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f]+$")
    user_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$", description="administrators only")
    expires_at: datetime | None = None


class TokenOut(Output):
    id: str
    user_id: str
    name: str
    prefix: str = Field(description="first characters of the token, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown once, store it now")


class Me(BaseModel):
    id: str | None
    name: str
    is_admin: bool


# --------------------------------------------------------------------------- projects


class ProjectCreate(Input):
    name: str = Name
    description: str = Field(default="", max_length=5000)


class ProjectUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=r"^[^\x00-\x1f]+$")
    description: str | None = Field(default=None, max_length=5000)
    reason: str | None = Field(default=None, max_length=2000, description="why (kept in the audit log)")


class ProjectOut(Output):
    id: str
    name: str
    description: str
    created_at: datetime
    archived_at: datetime | None
    role: Role | None = Field(default=None, description="your role in the project")


class MemberSet(Input):
    role: Role
    reason: str | None = Field(default=None, max_length=2000)


class MemberOut(BaseModel):
    user_id: str
    name: str
    role: Role


# --------------------------------------------------------------------------- scenarios


class ScenarioBody(Input):
    """A scenario as a mapping (``content``) or as YAML text (``yaml``); exactly one of them."""

    content: dict[str, Any] | None = Field(default=None, description="the scenario mapping (schema_version 1)")
    yaml: str | None = Field(default=None, max_length=200_000, description="the scenario as YAML text")


class ScenarioCreate(ScenarioBody):
    name: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$", description="default: content's name"
    )
    message: str = Field(default="", max_length=500)


class ScenarioEdit(ScenarioBody):
    message: str = Field(default="", max_length=500, description="why the scenario changed (kept with the revision)")
    base_revision: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the revision the edit started from; refused (409) if stale"
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")


class Validation(BaseModel):
    valid: bool
    errors: list[dict[str, str]] = Field(description="one entry per problem: key path and message")


class RevisionOut(Output):
    id: str
    scenario_id: str
    number: int
    content: dict[str, Any]
    content_hash: str = Field(description="SHA-256 of the canonical JSON of the content")
    source_text: str | None
    message: str
    created_at: datetime
    created_by: str


class ScenarioOut(Output):
    id: str
    project_id: str
    name: str
    head_revision: int
    created_at: datetime
    archived_at: datetime | None


class ScenarioSaved(BaseModel):
    scenario: ScenarioOut
    revision: RevisionOut
    created: bool = Field(description="false when the content equals the newest revision (nothing recorded)")


# --------------------------------------------------------------------------- runs


class RunCreate(Input):
    revision: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: the newest revision")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    exclude_refs: list[str] = Field(default_factory=list, max_length=20)
    label: str = Field(default="", max_length=200)


class RunSummary(Output):
    id: str
    project_id: str
    scenario_id: str
    revision_number: int
    status: Literal["succeeded", "failed"]
    seed: int | None
    label: str
    exoforge_version: str
    result_hash: str | None
    rerun_of: str | None
    created_at: datetime
    created_by: str
    error: str | None


class RunOut(RunSummary):
    exclude_refs: list[str]
    evidence_hash: str = Field(description="SHA-256 of the evidence records and default-parameter files used")
    parameters_hash: str
    seconds: float
    result: dict[str, Any] | None = Field(description="the result document (`run --json` plus time courses)")


class RerunOut(BaseModel):
    original: str
    repeat: str
    identical: bool
    differences: list[str]
    changed_inputs: list[str]


class CompareOut(BaseModel):
    runs: list[RunSummary]
    scenario_names: list[str]
    kpis: list[dict[str, Any]] = Field(description="one row per KPI: key, unit, values (one per run), differs")
    scenario_differences: list[dict[str, Any]] = Field(description="scenario keys whose values differ between runs")


# --------------------------------------------------------------------------- jobs


class DatasetOut(Output):
    id: str
    project_id: str
    name: str
    kind: str
    filename: str
    media_type: str
    size: int = Field(description="bytes")
    sha256: str = Field(description="SHA-256 of the file as uploaded")
    summary: dict[str, Any] = Field(description="batches, variables, measurements and warnings read from it")
    created_at: datetime
    created_by: str


class JobCreate(Input):
    kind: Literal["monte_carlo", "sensitivity", "fit"]
    revision: int | None = Field(default=None, ge=1, le=2**31 - 1)
    n: int | None = Field(default=None, ge=1, le=1_000_000, description="samples (capped by the server)")
    seed: int = Field(default=1, ge=0, le=2**31 - 1)
    sampler: Literal["random", "lhs", "sobol"] = "random"
    methods: list[Literal["tornado", "morris", "sobol"]] | None = Field(default=None, max_length=3)
    kpis: list[str] | None = Field(default=None, max_length=10)
    dataset_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$", description="fit: the batch data")
    parameters: list[Annotated[str, Field(max_length=120)]] | None = Field(
        default=None, max_length=30, description="fit: parameters to fit (default: from the variables measured)"
    )
    per_batch: list[Annotated[str, Field(max_length=120)]] | None = Field(
        default=None, max_length=30, description="fit: parameters fitted for each batch"
    )


class JobOut(Output):
    id: str
    project_id: str
    scenario_id: str
    revision_number: int
    kind: str
    settings: dict[str, Any]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    cancel_requested: bool
    error: str | None
    exoforge_version: str
    evidence_hash: str
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = None


class Reason(Input):
    reason: str | None = Field(default=None, max_length=2000)


# --------------------------------------------------------------------------- plots, audit, evidence


class PlotColumn(BaseModel):
    name: str
    unit: str
    label: str


class PlotDataOut(BaseModel):
    name: str
    title: str
    columns: list[PlotColumn]
    rows: list[list[Any]]
    notes: list[str]


class AuditOut(Output):
    seq: int
    at: str
    actor_id: str | None
    actor_name: str
    action: str
    entity: str
    entity_id: str
    project_id: str | None
    detail: dict[str, Any]
    reason: str | None
    request_id: str | None
    app_version: str
    hash: str


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    problems: list[str]


class EvidenceRecordOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    strategy: str | None = None
    category: str | None = None
    metric: str | None = None
    basis: str | None = None
    value: float | None = None
    doi: str | None = None
    pmid: str | int | None = None


class StrategyOut(BaseModel):
    id: str
    category: str
    label: str
    effect: str
    pool_basis: str
    scenario: bool
    platforms: list[str]


class MetaOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    strategy: str
    label: str
    basis: str
    k: int
    studies: list[dict[str, Any]]
    pooled: dict[str, Any] | None


class RunEffectOut(BaseModel):
    """The per-cell secretion multiplier a run draws for a strategy or platform, and what it rests on."""

    strategy: str
    median: float
    low_95: float = Field(description="2.5th percentile for a new process")
    high_95: float = Field(description="97.5th percentile for a new process")
    sigma_log: float = Field(description="SD of ln(multiplier) a run samples")
    k: int = Field(description="the strategy's own studies")
    family: str
    family_studies: int
    own_studies_median: float | None
    family_median: float
    shrinkage: float | None = Field(description="fraction of the way from its own studies to the family (0-1)")
    studies: list[dict[str, Any]] = Field(description="each own study's emulated per-cell effect, SD (ln), records")
    shared_arms: list[dict[str, Any]] = Field(
        description="comparisons of its studies that share a culture with its own, with the covariance of their "
        "sampling errors (ln²) and the correlation of their study-level deviations"
    )
    rests_on: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the multiplier with each study of its family left out in turn, largest change first "
        "(study, ref, strategies, preprint, median_without, ratio)",
    )
