"""Filter and find evidence records."""

from __future__ import annotations

from exoforge.evidence.store import EvidenceRecord, load_records


def filter_records(
    strategy: str | None = None,
    category: str | None = None,
    cell_source: str | None = None,
    basis: str | None = None,
) -> list[EvidenceRecord]:
    """Records matching every given filter, in file order."""
    out = []
    for r in load_records():
        rec = r.record
        if strategy and rec.strategy != strategy:
            continue
        if category and rec.category != category:
            continue
        if cell_source and rec.cell_source != cell_source:
            continue
        if basis and rec.basis != basis:
            continue
        out.append(r)
    return out


def find_record(record_id: str) -> EvidenceRecord | None:
    for r in load_records():
        if r.record.id == record_id:
            return r
    return None
