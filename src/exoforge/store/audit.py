"""The append-only audit log: every create, update and delete, with who, when, what and why.

Repository functions call :func:`record` as they change data; the entries are written when the
session commits, after every other change of that transaction, in one step that locks the
single ``audit_head`` row. That lock serialises audit writes, so that sequence numbers are
gap-free and each entry's hash chains to the one before it (SHA-256 of the previous hash and the
entry's canonical JSON). Taking it last keeps the lock order the same in every transaction (no
deadlocks). :func:`verify` recomputes the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from exoforge._version import __version__
from exoforge.store.hashing import canonical_json, sha256_text
from exoforge.store.models import AuditEvent, AuditHead

if TYPE_CHECKING:
    from exoforge.store.access import Actor

GENESIS_HASH = "0" * 64
_PENDING = "exoforge_audit_pending"
ACTIONS = ("create", "update", "delete", "start", "finish", "cancel", "revoke", "login")


@dataclass(frozen=True)
class PendingEntry:
    actor_id: str | None
    actor_name: str
    action: str
    entity: str
    entity_id: str
    project_id: str | None
    detail: dict[str, Any]
    reason: str | None
    request_id: str | None


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    *,
    project_id: str | None = None,
    detail: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Queue one audit entry; it is written when ``session`` commits (and dropped if it rolls back)."""
    if action not in ACTIONS:
        raise ValueError(f"audit action '{action}' is not one of {', '.join(ACTIONS)}")
    pending: list[PendingEntry] = session.info.setdefault(_PENDING, [])
    pending.append(
        PendingEntry(
            actor.user_id,
            actor.name,
            action,
            entity,
            str(entity_id),
            project_id,
            dict(detail or {}),
            reason,
            actor.request_id,
        )
    )


def entry_body(e: AuditEvent) -> dict[str, Any]:
    """The fields of an entry that its hash covers (everything but the hash itself)."""
    return {
        "seq": e.seq,
        "at": e.at,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "entity": e.entity,
        "entity_id": e.entity_id,
        "project_id": e.project_id,
        "detail": e.detail,
        "reason": e.reason,
        "request_id": e.request_id,
        "app_version": e.app_version,
        "prev_hash": e.prev_hash,
    }


def entry_hash(e: AuditEvent) -> str:
    return sha256_text(e.prev_hash + canonical_json(entry_body(e)))


def _write_pending(session: Session) -> None:
    pending: list[PendingEntry] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()
    head = cast(Table, AuditHead.__table__)
    last_seq, prev = session.execute(
        update(head).where(head.c.id == 1).values(seq=head.c.seq + len(pending)).returning(head.c.seq, head.c.hash)
    ).one()
    seq = last_seq - len(pending)
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    for p in pending:
        seq += 1
        entry = AuditEvent(
            seq=seq,
            at=at,
            actor_id=p.actor_id,
            actor_name=p.actor_name,
            action=p.action,
            entity=p.entity,
            entity_id=p.entity_id,
            project_id=p.project_id,
            detail=p.detail,
            reason=p.reason,
            request_id=p.request_id,
            app_version=__version__,
            prev_hash=prev,
            hash="",
        )
        entry.hash = entry_hash(entry)
        prev = entry.hash
        session.add(entry)
    session.execute(update(head).where(head.c.id == 1).values(hash=prev))


def _drop_pending(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def install(factory: sessionmaker[Session]) -> None:
    """Write queued entries at commit, drop them on rollback."""
    event.listen(factory, "before_commit", _write_pending)
    event.listen(factory, "after_rollback", _drop_pending)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, batch: int = 1000) -> ChainReport:
    """Recompute the chain: numbering from 1 without gaps, each hash, each link, and the head row."""
    problems: list[str] = []
    prev, expected, count = GENESIS_HASH, 1, 0
    last = 0
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch))
        chunk = list(rows)
        if not chunk:
            break
        for e in chunk:
            count += 1
            if e.seq != expected:
                problems.append(f"audit entry {expected}: missing (next entry is {e.seq})")
            if e.prev_hash != prev:
                problems.append(f"audit entry {e.seq}: does not link to the entry before it")
            if entry_hash(e) != e.hash:
                problems.append(f"audit entry {e.seq}: content does not match its hash (altered)")
            prev, expected, last = e.hash, e.seq + 1, e.seq
            session.expunge(e)
    head = session.get(AuditHead, 1)
    if head is None:
        problems.append("audit head row is missing")
    elif head.seq != expected - 1 or head.hash != prev:
        problems.append(f"audit head says {head.seq} entries, the log ends at {expected - 1} (entries removed?)")
    return ChainReport(count, problems)
