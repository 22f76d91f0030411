"""ORM-level refusal to change permanent records (the database triggers refuse it too).

:func:`install` registers two session events: ``before_flush`` refuses a flush that would update
or delete an audit entry, a scenario revision or a run; ``do_orm_execute`` refuses bulk
``update()`` / ``delete()`` statements on their tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from exoforge.store.errors import ImmutableRecord
from exoforge.store.models import PERMANENT_MODELS, PERMANENT_TABLES


def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, PERMANENT_MODELS):
            raise ImmutableRecord(f"{type(obj).__tablename__} rows are permanent: they cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, PERMANENT_MODELS) and session.is_modified(obj, include_collections=False):
            raise ImmutableRecord(f"{type(obj).__tablename__} rows are permanent: they cannot be changed")


def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in PERMANENT_TABLES:
        verb = "changed" if state.is_update else "deleted"
        raise ImmutableRecord(f"{table.name} rows are permanent: they cannot be {verb}")  # type: ignore[union-attr]


def install(factory: sessionmaker[Session]) -> None:
    """Guard every session the factory makes."""
    event.listen(factory, "before_flush", _refuse_changes)
    event.listen(factory, "do_orm_execute", _refuse_bulk)
