"""The evidence base, read-only: records, strategies, and the meta-analysis behind each strategy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from exoforge.api.deps import ActorDep, PagingDep
from exoforge.api.problems import ProblemError, problem_responses
from exoforge.api.schemas import EvidenceRecordOut, MetaOut, Page, RunEffectOut, StrategyOut

router = APIRouter(tags=["evidence"])
READ = problem_responses(401, 404, 422)
Slug = Annotated[str | None, Query(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/evidence/records", response_model=Page[EvidenceRecordOut], responses=problem_responses(401, 422))
def list_records(
    actor: ActorDep, page: PagingDep, strategy: Slug = None, category: Slug = None, basis: Slug = None
) -> Page[EvidenceRecordOut]:
    """Cited literature records, filtered."""
    from exoforge.evidence.query import filter_records

    rows = filter_records(strategy=strategy, category=category, basis=basis)
    items = [EvidenceRecordOut(**r.to_dict()) for r in rows[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(rows), limit=page.limit, offset=page.offset)


@router.get("/evidence/records/{record_id}", response_model=EvidenceRecordOut, responses=READ)
def get_record(
    record_id: Annotated[str, Path(max_length=120, pattern=r"^[A-Za-z0-9_.:-]+$")], actor: ActorDep
) -> EvidenceRecordOut:
    from exoforge.evidence.query import find_record

    rec = find_record(record_id)
    if rec is None:
        raise ProblemError(404, f"no evidence record '{record_id}'")
    return EvidenceRecordOut(**rec.to_dict())


@router.get("/evidence/strategies", response_model=list[StrategyOut], responses=problem_responses(401))
def list_strategies(actor: ActorDep) -> list[StrategyOut]:
    from exoforge.evidence.store import load_strategies

    return [
        StrategyOut(
            id=s.id,
            category=s.category,
            label=s.label,
            effect=s.effect,
            pool_basis=s.pool_basis,
            scenario=s.scenario,
            platforms=list(s.platforms),
        )
        for s in load_strategies()
    ]


@router.get("/evidence/strategies/{strategy_id}/pool", response_model=MetaOut, responses=READ)
def pool(
    strategy_id: Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")],
    actor: ActorDep,
    basis: Slug = None,
) -> MetaOut:
    """Random-effects pooling of a strategy's fold-changes: every study (the forest plot's rows) and the pool."""
    from exoforge.evidence.meta import meta_analysis

    try:
        meta = meta_analysis(strategy_id, basis)
    except KeyError as exc:
        raise ProblemError(404, str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:
        raise ProblemError(422, str(exc)) from None
    return MetaOut(**meta.to_dict())


@router.get("/evidence/strategies/{strategy_id}/effect", response_model=RunEffectOut, responses=READ)
def run_effect(
    strategy_id: Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")], actor: ActorDep
) -> RunEffectOut:
    """The per-cell secretion multiplier a run draws for a strategy or platform: partially pooled within its
    family, with its own studies, how far it was shrunk, the comparisons sharing a culture with its own and
    what it rests on (the multiplier with each study of its family left out)."""
    from exoforge.evidence.hierarchy import run_effect as effect
    from exoforge.evidence.influence import study_influence

    found = effect(strategy_id)
    if found is None:
        raise ProblemError(
            404, f"'{strategy_id}' has no per-cell effect on secretion (not a strategy or platform that acts on it)"
        )
    return RunEffectOut(**found, rests_on=[row.to_dict() for row in study_influence(strategy_id)])
