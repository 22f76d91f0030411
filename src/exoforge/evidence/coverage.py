"""How much evidence stands behind each strategy family and strategy."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from exoforge.evidence.store import load_records, load_strategies


def coverage() -> dict[str, Any]:
    """Counts of references and records per family and per strategy.

    For each strategy: records, distinct references, MSC records, numeric MSC
    fold-changes by basis (distinct references), direction-only records, and
    ``msc_figure`` — whether any MSC record carries a number. A strategy with
    no MSC number says so in ``note``.
    """
    records = load_records()
    catalogue = {s.id: s for s in load_strategies()}
    by_strategy: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        by_strategy[r.record.strategy].append(r)
    families: dict[str, dict[str, Any]] = {}
    rows = []
    for sid in list(catalogue) + (["baseline"] if "baseline" in by_strategy else []):
        recs = by_strategy.get(sid, [])
        category = catalogue[sid].category if sid in catalogue else "baseline"
        msc = [r for r in recs if r.record.cell_source != "non_msc"]
        numeric_msc = [
            r
            for r in msc
            if not r.record.direction_only and (r.record.fold_change is not None or r.record.value is not None)
        ]
        fold_by_basis: dict[str, set[str]] = defaultdict(set)
        for r in msc:
            if r.record.fold_change is not None and not r.record.direction_only:
                fold_by_basis[r.record.basis].add(r.ref_key)
        note = ""
        if not recs:
            note = "no record in the evidence base"
        elif not numeric_msc:
            note = "no MSC figure: " + ("non-MSC records only" if not msc else "MSC records give the direction only")
        rows.append(
            {
                "id": sid,
                "category": category,
                "label": catalogue[sid].label if sid in catalogue else "absolute figures (no comparator)",
                "records": len(recs),
                "references": len({r.ref_key for r in recs}),
                "msc_records": len(msc),
                "numeric_msc_fold_changes": {b: len(v) for b, v in sorted(fold_by_basis.items())},
                "direction_only": sum(r.record.direction_only for r in recs),
                "msc_figure": bool(numeric_msc),
                "note": note,
            }
        )
        fam = families.setdefault(
            category, {"records": 0, "references": set(), "strategies": 0, "strategies_without_msc_figure": []}
        )
        fam["records"] += len(recs)
        fam["references"] |= {r.ref_key for r in recs}
        fam["strategies"] += 1
        if not numeric_msc:
            fam["strategies_without_msc_figure"].append(sid)
    for fam in families.values():
        fam["references"] = len(fam["references"])
    return {
        "references": len({r.ref_key for r in records}),
        "records": len(records),
        "families": families,
        "strategies": rows,
    }
