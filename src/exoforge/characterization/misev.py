"""Check a characterisation record against the MISEV2023-derived checklist.

The checklist (``characterization/data/misev_checklist.yaml``) lists each
item with its level, what it is for and its sources; the rule that decides
whether a record meets it is one function here, keyed by the item's id.
Conditional items apply only when their condition holds (an antibody assay,
an ultracentrifugation step, a therapeutic use).

Completeness score, as the research note recommends for EV-METRIC-like
scores (not the EV-METRIC itself): items met / items applicable, reported for
every applicable item and for the required ones alone.
"""

# Longer than 500 lines: the MISEV2023 checklist items and the rule that decides each, one after the other, as
# the guideline lists them.

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from exoforge.characterization.record import Record, sha256_of
from exoforge.yamlio import load_yaml

#: Parameters each size-resolved separation method needs to be reproduced (SEP-02).
SEPARATION_PARAMETERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "ultracentrifugation": (("g",), ("minutes",), ("rotor",)),
    "density_gradient": (("medium",), ("g",), ("hours", "minutes")),
    "tff": (("mwco_kda",), ("membrane_area_m2",)),
    "sec": (("resin",), ("fractions", "column_volume_ml")),
}
EV_TERMS = ("ev", "sev", "lev", "mev", "ep", "extracellular vesicles", "small extracellular vesicles")
EM_METHODS = ("tem", "cryo_em", "sem", "afm", "super_resolution")


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    title: str
    level: str
    purpose: str
    refs: tuple[str, ...]
    record: tuple[str, ...]
    when: str | None = None
    unverified: str | None = None


@dataclass(frozen=True)
class Checklist:
    name: str
    version: str
    derived_from: str
    sources: dict[str, dict[str, str]]
    items: tuple[ChecklistItem, ...]


@lru_cache(maxsize=1)
def load_checklist() -> Checklist:
    """The packaged checklist."""
    text = resources.files("exoforge.characterization.data").joinpath("misev_checklist.yaml").read_text("utf-8")
    raw = load_yaml(text)
    items = tuple(
        ChecklistItem(
            id=i["id"],
            section=i["section"],
            title=i["title"],
            level=i["level"],
            purpose=i["purpose"],
            refs=tuple(i["refs"]),
            record=tuple(i.get("record", ())),
            when=i.get("when"),
            unverified=i.get("unverified"),
        )
        for i in raw["items"]
    )
    return Checklist(raw["checklist"], str(raw["version"]), raw["derived_from"], raw["sources"], items)


# --------------------------------------------------------------------------- conditions


def _separation_needs_parameters(r: Record) -> bool:
    return any(s.method in SEPARATION_PARAMETERS for s in r.separation)


def _antibody_assays(r: Record) -> bool:
    return any(m.method in ("western_blot", "elisa", "bead_flow") for m in r.markers)


def _therapeutic_use(r: Record) -> bool:
    return r.qc.intended_use in ("preclinical_gmp", "clinical")


CONDITIONS: dict[str, Callable[[Record], bool]] = {
    "separation_needs_parameters": _separation_needs_parameters,
    "antibody_assays": _antibody_assays,
    "therapeutic_use": _therapeutic_use,
}

# --------------------------------------------------------------------------- rules
# Each returns None when met, else what is missing (shown with the item's purpose).


def _missing(**fields: Any) -> str | None:
    gone = [name for name, value in fields.items() if value is None or value == "" or value == [] or value == {}]
    return f"missing: {', '.join(gone)}" if gone else None


def _positive(r: Record, category: str) -> list[str]:
    return [m.name for m in r.markers if m.category == category and m.result == "positive"]


def _src_01(r: Record) -> str | None:
    return _missing(**{"source.species": r.source.species, "source.cell_type": r.source.cell_type})


def _src_02(r: Record) -> str | None:
    return _missing(**{"source.donor_or_line": r.source.donor_or_line, "source.passage": r.source.passage})


def _src_03(r: Record) -> str | None:
    return _missing(**{"culture.medium": r.culture.medium, "culture.ev_depletion": r.culture.ev_depletion})


def _src_04(r: Record) -> str | None:
    c = r.culture
    return _missing(
        **{
            "culture.format": c.format,
            "culture.conditioning_days": c.conditioning_days,
            "culture.conditioned_medium_ml": c.conditioned_medium_ml,
        }
    )


def _src_05(r: Record) -> str | None:
    c = r.culture
    return _missing(
        **{"culture.cell_count_at_harvest": c.cell_count_at_harvest, "culture.viability_percent": c.viability_percent}
    )


def _src_06(r: Record) -> str | None:
    return _missing(**{"source.identity_tests": r.source.identity_tests})


def _src_07(r: Record) -> str | None:
    if not r.preprocessing:
        return "missing: preprocessing (no step listed)"
    vague = [
        f"preprocessing[{i}] ({s.step})"
        for i, s in enumerate(r.preprocessing)
        if not ((s.g and s.minutes) or s.pore_um or s.hours is not None or s.temperature_c is not None)
    ]
    return f"no g-force and time, pore size, duration or temperature for {', '.join(vague)}" if vague else None


def _sep_01(r: Record) -> str | None:
    return None if r.separation else "missing: separation (no step listed)"


def _sep_02(r: Record) -> str | None:
    gaps = []
    for i, s in enumerate(r.separation):
        for alternatives in SEPARATION_PARAMETERS.get(s.method, ()):
            if not any(a in s.parameters for a in alternatives):
                gaps.append(f"separation[{i}] ({s.method}): parameters.{' or '.join(alternatives)}")
    return f"missing: {'; '.join(gaps)}" if gaps else None


def _sep_03(r: Record) -> str | None:
    return _missing(
        **{"product.buffer": r.product.buffer, "product.storage_temperature_c": r.product.storage_temperature_c}
    )


def _qnt_01(r: Record) -> str | None:
    c = r.culture
    if c.conditioned_medium_ml is None and c.cell_count_at_harvest is None:
        return "missing: culture.conditioned_medium_ml or culture.cell_count_at_harvest"
    return None


def _has_particles(r: Record) -> bool:
    return r.particles is not None and r.particles.concentration_per_ml is not None


def _has_protein(r: Record) -> bool:
    return r.protein is not None and (r.protein.concentration_ug_per_ml is not None or r.protein.total_ug is not None)


def _qnt_02(r: Record) -> str | None:
    have = [
        n
        for n, ok in (
            ("particles", _has_particles(r)),
            ("protein", _has_protein(r)),
            ("lipid", r.lipid is not None and r.lipid.concentration_nmol_per_ml is not None),
        )
        if ok
    ]
    return None if len(have) >= 2 else f"only {', '.join(have) or 'none'} of particles, protein, lipid quantified"


def particles_per_ug(r: Record) -> float | None:
    """Particles per µg protein, when both concentrations (or particles and total protein with a volume) are given."""
    if not _has_particles(r) or r.protein is None:
        return None
    assert r.particles is not None and r.particles.concentration_per_ml is not None
    if r.protein.concentration_ug_per_ml:
        return r.particles.concentration_per_ml / r.protein.concentration_ug_per_ml
    if r.protein.total_ug and r.product.volume_ml:
        return r.particles.concentration_per_ml * r.product.volume_ml / r.protein.total_ug
    return None


def _qnt_03(r: Record) -> str | None:
    if particles_per_ug(r) is None:
        return "missing: particles.concentration_per_ml with protein.concentration_ug_per_ml (or total_ug and volume)"
    return None


def _qnt_04(r: Record) -> str | None:
    p = r.particles
    if p is None:
        return "missing: particles (run `exoforge nta import FILE --record RECORD.yaml`)"
    return _missing(
        **{"particles.concentration_per_ml": p.concentration_per_ml, "particles.size_nm.d50": p.size_nm.get("d50")}
    )


def _qnt_05(r: Record) -> str | None:
    p = r.particles
    if p is None:
        return "missing: particles"
    if p.method != "NTA":
        return _missing(**{"particles.settings": p.settings})
    return _missing(
        **{
            "particles.settings.camera_level (or sensitivity)": p.settings.get(
                "camera_level", p.settings.get("sensitivity")
            ),
            "particles.settings.detection_threshold (or minimum_brightness)": p.settings.get(
                "detection_threshold", p.settings.get("minimum_brightness")
            ),
            "particles.videos": p.videos,
        }
    )


def _qnt_06(r: Record) -> str | None:
    p = r.particles
    if p is None:
        return "missing: particles"
    return _missing(
        **{"particles.dilution_factor": p.dilution_factor, "particles.dilution_applied_by": p.dilution_applied_by}
    )


def _qnt_07(r: Record) -> str | None:
    c = r.culture
    return _missing(
        **{
            "particles.concentration_per_ml": r.particles.concentration_per_ml if r.particles else None,
            "product.volume_ml": r.product.volume_ml,
            "culture.conditioned_medium_ml": c.conditioned_medium_ml,
            "culture.cell_count_at_harvest": c.cell_count_at_harvest,
        }
    )


def _qnt_08(r: Record) -> str | None:
    lod = (r.particles.lod_per_ml if r.particles else None) or (r.protein.lod_ug_per_ml if r.protein else None)
    return None if lod else "missing: particles.lod_per_ml or protein.lod_ug_per_ml"


def _mrk_01(r: Record) -> str | None:
    return None if _positive(r, "transmembrane") else "no positive transmembrane/GPI-anchored marker"


def _mrk_02(r: Record) -> str | None:
    return None if _positive(r, "cytosolic") else "no positive cytosolic marker"


def _mrk_03(r: Record) -> str | None:
    n = len(_positive(r, "transmembrane")) + len(_positive(r, "cytosolic"))
    return None if n >= 3 else f"{n} positive EV marker(s); at least 3 needed"


def _mrk_04(r: Record) -> str | None:
    ok = any(m.category in ("non_ev_coisolate", "other_compartment") for m in r.markers)
    return None if ok else "no purity marker (non-EV co-isolate or other compartment) assessed"


def _mrk_05(r: Record) -> str | None:
    gaps = []
    for i, m in enumerate(r.markers):
        if m.method not in ("western_blot", "elisa", "bead_flow"):
            continue
        need: dict[str, object] = {"antibody": m.antibody}
        if m.method == "western_blot":
            need.update({"amount_loaded_ug": m.amount_loaded_ug, "lysis": m.lysis})
        gone = [k for k, v in need.items() if not v]
        if gone:
            gaps.append(f"markers[{i}] ({m.name}): {', '.join(gone)}")
    return f"missing: {'; '.join(gaps)}" if gaps else None


def _mrk_06(r: Record) -> str | None:
    pos = _positive(r, "msc_positive")
    neg = [m.name for m in r.markers if m.category == "haematopoietic_negative" and m.result != "positive"]
    if pos and neg:
        return None
    return "need at least one MSC-positive marker found and one haematopoietic marker absent"


def _sgl_01(r: Record) -> str | None:
    views = {v for im in r.imaging if im.method in EM_METHODS for v in im.views}
    gone = sorted({"wide_field", "close_up"} - views)
    return f"no single-EV image of view(s): {', '.join(gone)}" if gone else None


def _sgl_02(r: Record) -> str | None:
    p = r.particles
    ok = p is not None and p.method in ("NTA", "TRPS", "flow", "FCS") and p.concentration_per_ml is not None
    return None if ok else "missing: a single-particle method with a concentration (particles)"


def _nom_01(r: Record) -> str | None:
    term = (r.product.term or "").strip().lower()
    if not term:
        return "missing: product.term"
    if term in EV_TERMS:
        return None
    if "exosome" in term and r.product.term_justification:
        return None
    return f"'{r.product.term}' is not 'EV' or an operational term, and has no product.term_justification"


def _fun_01(r: Record) -> str | None:
    ok = any((f.dose_levels or 0) >= 3 and f.metric for f in r.function)
    return None if ok else "no functional assay with 3 or more dose levels and a response metric"


def _fun_02(r: Record) -> str | None:
    ok = any(f.dose_particles and f.dose_protein and f.controls for f in r.function)
    return None if ok else "no functional assay dosed in particles and protein with controls"


def _fun_03(r: Record) -> str | None:
    return None if any(f.reference_batch for f in r.function) else "no reference batch compared"


def _qc_01(r: Record) -> str | None:
    q = r.qc
    return _missing(**{"qc.sterility": q.sterility, "qc.endotoxin": q.endotoxin, "qc.mycoplasma": q.mycoplasma})


def _qc_02(r: Record) -> str | None:
    return None if r.stability else "missing: stability"


def _rep_01(r: Record, base: Path | None = None) -> str | None:
    if not r.raw_files:
        return "missing: raw_files"
    unhashed = [f.path for f in r.raw_files if not (f.sha256 and re.fullmatch(r"[0-9a-f]{64}", f.sha256))]
    if unhashed:
        return f"no SHA-256 for {', '.join(unhashed)}"
    changed = []
    for f in r.raw_files:
        path = Path(f.path) if base is None or Path(f.path).is_absolute() else base / f.path
        if path.is_file() and sha256_of(path) != f.sha256:
            changed.append(f.path)
    return f"changed since recorded (SHA-256 differs): {', '.join(changed)}" if changed else None


def _rep_02(r: Record) -> str | None:
    if not r.evtrack_id:
        return "missing: evtrack_id"
    return None if re.fullmatch(r"EV\d{6}", r.evtrack_id) else f"'{r.evtrack_id}' is not an EV-TRACK id (EV + 6 digits)"


RULES: dict[str, Callable[..., str | None]] = {
    "SRC-01": _src_01,
    "SRC-02": _src_02,
    "SRC-03": _src_03,
    "SRC-04": _src_04,
    "SRC-05": _src_05,
    "SRC-06": _src_06,
    "SRC-07": _src_07,
    "SEP-01": _sep_01,
    "SEP-02": _sep_02,
    "SEP-03": _sep_03,
    "QNT-01": _qnt_01,
    "QNT-02": _qnt_02,
    "QNT-03": _qnt_03,
    "QNT-04": _qnt_04,
    "QNT-05": _qnt_05,
    "QNT-06": _qnt_06,
    "QNT-07": _qnt_07,
    "QNT-08": _qnt_08,
    "MRK-01": _mrk_01,
    "MRK-02": _mrk_02,
    "MRK-03": _mrk_03,
    "MRK-04": _mrk_04,
    "MRK-05": _mrk_05,
    "MRK-06": _mrk_06,
    "SGL-01": _sgl_01,
    "SGL-02": _sgl_02,
    "NOM-01": _nom_01,
    "FUN-01": _fun_01,
    "FUN-02": _fun_02,
    "FUN-03": _fun_03,
    "QC-01": _qc_01,
    "QC-02": _qc_02,
    "REP-01": _rep_01,
    "REP-02": _rep_02,
}


@dataclass(frozen=True)
class ItemResult:
    item: ChecklistItem
    applicable: bool
    met: bool
    detail: str | None  # what is missing (None when met or not applicable)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.item.id,
            "title": self.item.title,
            "level": self.item.level,
            "applicable": self.applicable,
            "met": self.met,
            "purpose": self.item.purpose,
            "refs": list(self.item.refs),
        }
        if self.detail:
            out["missing"] = self.detail
        if self.item.unverified:
            out["unverified"] = self.item.unverified
        return out


@dataclass(frozen=True)
class CheckResult:
    """Every item's outcome and the completeness scores."""

    checklist: Checklist
    record: Record
    items: tuple[ItemResult, ...]

    @property
    def applicable(self) -> list[ItemResult]:
        return [i for i in self.items if i.applicable]

    @property
    def missing(self) -> list[ItemResult]:
        return [i for i in self.applicable if not i.met]

    @property
    def missing_required(self) -> list[ItemResult]:
        return [i for i in self.missing if i.item.level in ("required", "conditional")]

    def score(self, required_only: bool = False) -> float:
        items = [i for i in self.applicable if not required_only or i.item.level in ("required", "conditional")]
        return sum(i.met for i in items) / len(items) if items else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "checklist": self.checklist.name,
            "checklist_version": self.checklist.version,
            "derived_from": self.checklist.derived_from,
            "batch": self.record.batch,
            "completeness": self.score(),
            "required_completeness": self.score(required_only=True),
            "applicable_items": len(self.applicable),
            "met_items": sum(i.met for i in self.applicable),
            "missing_required": [i.item.id for i in self.missing_required],
            "particles_per_ug_protein": particles_per_ug(self.record),
            "items": [i.to_json() for i in self.items],
            "sources": self.checklist.sources,
        }


def check_record(record: Record, base: str | Path | None = None) -> CheckResult:
    """Check ``record`` against every item of the packaged checklist.

    ``base`` is the folder relative paths of ``raw_files`` start from (the record's); files found there are
    checked against their recorded SHA-256.
    """
    cl = load_checklist()
    out = []
    for item in cl.items:
        rule = RULES[item.id]
        applicable = item.when is None or CONDITIONS[item.when](record)
        if not applicable:
            detail = None
        elif item.id == "REP-01":
            detail = _rep_01(record, Path(base) if base is not None else None)
        else:
            detail = rule(record)
        out.append(ItemResult(item, applicable, applicable and detail is None, detail))
    return CheckResult(cl, record, tuple(out))
