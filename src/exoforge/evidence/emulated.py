"""The committed study emulations (``emulated_effects.yaml``) and the study units pooled from them.

Plug-ins' comparison records are emulated when first read, not committed (:func:`plugin_emulations`).

:mod:`exoforge.analysis.emulation` runs the culture model on both arms of every comparison record
and writes the per-cell effect each record implies. Runs read that file (no simulation at load).
This module turns it into *study units*: one log effect per study and strategy, with its variance,
ready for the hierarchical pooling of :mod:`exoforge.evidence.hierarchy`.

Rules:

1. **One effect per study and strategy.** The emulated log effects of a study's records of one
   strategy are averaged; their variances are averaged (as in :mod:`exoforge.evidence.effects`).
2. **Variance of a record.** The within-study variance of the published ratio (reported spread, or
   the imputed SE of :func:`exoforge.evidence.effects.imputed_se`) plus the emulation variance
   (unstated arm settings and normalisation).
3. **Other cells.** A study of non-MSC cells adds ``NON_MSC_SD``² (ln 2: a twofold transfer
   uncertainty; a judgement, as no study measures how EV-yield effects transfer between cell types).
4. **Combinations.** Records whose treated arm combines strategies are not study units: they test
   the combination rule (:func:`exoforge.evidence.hierarchy.predict_comparison`).
5. **Records of one study that disagree.** Two records of the same comparison (a per-run and a
   per-volume ratio, say) should imply the same per-cell effect once the model explains the arms.
   When their spread exceeds what their variances allow, the arms are not described well enough to
   tell which is right, so the study's variance is the larger of the two: the records' mean
   variance (rule 1) and the sample variance of their log effects. The study then counts for little
   and its strategy leans on its family. :func:`discordant_studies` lists them.
6. **Comparisons that share an arm.** Two comparisons of one study often share a culture: two
   platforms against the same static control, or priming measured on the spheroids that were the
   treated arm of the spheroid-versus-monolayer comparison. Their sampling errors are then
   correlated, and counting them as independent would weigh the shared culture twice. Each unit
   carries its records' arms (:func:`arm_identities`: what was cultured, not the strategy a record
   is filed under), and :func:`exoforge.evidence.hierarchy.shared_arm_covariance` turns shared arms
   into covariances.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from exoforge.evidence.store import DATA_PACKAGE, load_records, load_strategies
from exoforge.yamlio import load_yaml

EMULATED_FILE = "emulated_effects.yaml"
#: SD of ln(effect) added for a study of non-MSC cells (rule 3).
NON_MSC_SD = math.log(2.0)


@dataclass(frozen=True)
class EmulatedRecord:
    """One emulated comparison as committed."""

    record_id: str
    ref: str
    label: str
    strategy: str
    combined_with: tuple[str, ...]
    cell_source: str
    normalisation: str
    published: float
    log_model_ratio: float
    emulation_sd: float
    treated_strategies: tuple[str, ...]
    control_strategies: tuple[str, ...]
    record_var: float  # within-study variance of ln(published), rule 2
    imputed: bool

    @property
    def log_effect(self) -> float:
        return math.log(self.published) - self.log_model_ratio

    @property
    def total_var(self) -> float:
        """Variance of the per-cell log effect this record implies (rules 2 and 3)."""
        extra = NON_MSC_SD**2 if self.cell_source == "non_msc" else 0.0
        return self.record_var + self.emulation_sd**2 + extra


@dataclass(frozen=True)
class StudyUnit:
    """One study's per-cell log effect of one strategy (rule 1)."""

    ref: str
    label: str
    strategy: str
    family: str
    y: float
    v: float
    record_ids: tuple[str, ...]
    imputed: bool
    non_msc: bool
    discordant: bool = False  # its records disagree beyond their variances (rule 5)
    #: (treated arm, control arm, within-study variance of ln ratio) of each record (rule 6)
    arm_errors: tuple[tuple[str, str, float], ...] = ()


def emulated_path() -> Path:
    return Path(str(resources.files(DATA_PACKAGE))) / EMULATED_FILE


@lru_cache(maxsize=1)
def load_emulated_document() -> dict[str, Any]:
    """The committed file as read (fingerprint, emulations, direction-only records)."""
    doc: dict[str, Any] = load_yaml(emulated_path().read_text(encoding="utf-8"))
    return doc


def plugin_emulations() -> list[dict[str, Any]]:
    """The emulations of the plug-ins' comparison records, run now (a few seconds per record), as committed ones."""
    plugin_records = [r for r in load_records() if r.plugin is not None]
    if not plugin_records:
        return []
    from exoforge.analysis.emulation import emulate_all

    return [e.to_dict() for e in emulate_all(plugin_records)[0]]


@lru_cache(maxsize=1)
def load_emulated() -> tuple[EmulatedRecord, ...]:
    """Every committed emulation, and those of plug-ins' records, with the within-study variance of its record."""
    from exoforge.evidence.effects import _log_se, imputed_se

    records = load_records()
    by_id = {r.record.id: r for r in records}
    se_imp = imputed_se(records)
    out = []
    for e in [*load_emulated_document()["emulations"], *plugin_emulations()]:
        rec = by_id.get(e["record"])
        if rec is None:
            raise ValueError(
                f"{EMULATED_FILE}: record '{e['record']}' is not in the evidence; run evidence emulate --write"
            )
        se = _log_se(rec)
        out.append(
            EmulatedRecord(
                record_id=e["record"],
                ref=e["ref"],
                label=e["label"],
                strategy=e["strategy"],
                combined_with=tuple(e["combined_with"]),
                cell_source=e["cell_source"],
                normalisation=e["normalisation"],
                published=float(e["published"]),
                log_model_ratio=float(e["log_model_ratio"]),
                emulation_sd=float(e["emulation_sd"]),
                treated_strategies=tuple(e["treated_strategies"]),
                control_strategies=tuple(e["control_strategies"]),
                record_var=(se if se is not None else se_imp) ** 2,
                imputed=se is None,
            )
        )
    return tuple(out)


def family_map() -> dict[str, str]:
    """Strategy id -> family, for the strategies the pooling holds: those that act on secretion
    (ev_secretion or platform effects), and members of a family that no run applies (``effect: none``:
    a 3D culture the scenario contract has no platform for, e.g. scaffold perfusion), whose studies
    inform their family. A strategy that acts on growth (an immortalised line) is pooled on its own."""
    acting = acting_strategies()
    return {
        s.id: s.family or s.id
        for s in load_strategies()
        if s.id in acting or (s.family is not None and s.effect == "none" and s.category != "isolation")
    }


def family_informed_only(strategy: str) -> str | None:
    """The family a strategy's studies inform when no run applies the strategy itself, else None."""
    return None if strategy in acting_strategies() else family_map().get(strategy)


def acting_strategies() -> frozenset[str]:
    """Strategies a run applies to secretion (ev_secretion or platform effects)."""
    return frozenset(
        s.id for s in load_strategies() if s.effect in ("ev_secretion", "platform") and s.category != "isolation"
    )


def record_spread(group: list[EmulatedRecord]) -> float:
    """Sample variance of the log per-cell effects of a study's records of one strategy (0 for one record)."""
    if len(group) < 2:
        return 0.0
    mean = sum(g.log_effect for g in group) / len(group)
    return sum((g.log_effect - mean) ** 2 for g in group) / (len(group) - 1)


def discordant_studies(
    emulated: tuple[EmulatedRecord, ...] | None = None, exclude_refs: tuple[str, ...] = ()
) -> list[tuple[StudyUnit, tuple[EmulatedRecord, ...]]]:
    """The study units whose records disagree beyond their variances (rule 5), with those records."""
    records = emulated if emulated is not None else load_emulated()
    return [
        (unit, tuple(e for e in records if e.record_id in unit.record_ids))
        for unit in study_units(records, exclude_refs)
        if unit.discordant
    ]


def arm_identities() -> dict[str, tuple[str, str]]:
    """Record id -> (treated arm, control arm) of every comparison record that describes its arms.

    An arm is what was cultured: cell source, platform, the settings the source states, and the
    strategies applied besides the platform's own (a platform strategy is named by the platform). Two
    arms of one study with the same identity are taken to be the same culture (rule 6). A record that
    names the record it repeats (``same_comparison_as``) takes that record's arms, so the two count as
    one measurement.
    """
    platform_strategies = {s.id for s in load_strategies() if s.effect == "platform"}
    records = load_records()
    by_id = {rec.record.id: rec.record for rec in records}
    out = {}
    for rec in records:
        rid, r = rec.record.id, rec.record
        if r.same_comparison_as in by_id:  # one published comparison filed under two strategies
            r = by_id[r.same_comparison_as]
        if r.arms is None:
            continue
        treated = tuple(r.arms.treated.strategies) or (r.strategy, *r.combined_with)
        sides = ((r.arms.treated, treated), (r.arms.control, tuple(r.arms.control.strategies)))
        keys = [
            json.dumps(
                [r.cell_source, arm.platform, arm.settings, sorted(set(strats) - platform_strategies)],
                sort_keys=True,
                default=str,
            )
            for arm, strats in sides
        ]
        out[rid] = (keys[0], keys[1])
    return out


def study_units(
    emulated: tuple[EmulatedRecord, ...] | None = None, exclude_refs: tuple[str, ...] = ()
) -> list[StudyUnit]:
    """One unit per study and strategy (rules 1-6), minus excluded references."""
    families = family_map()
    arms = arm_identities()
    groups: dict[tuple[str, str], list[EmulatedRecord]] = defaultdict(list)
    for e in emulated if emulated is not None else load_emulated():
        if e.combined_with or e.ref in exclude_refs or e.strategy not in families:
            continue
        groups[(e.ref, e.strategy)].append(e)
    units = []
    for (ref, sid), group in sorted(groups.items()):
        mean_var = sum(g.total_var for g in group) / len(group)
        spread = record_spread(group)
        units.append(
            StudyUnit(
                ref=ref,
                label=group[0].label,
                strategy=sid,
                family=families[sid],
                y=sum(g.log_effect for g in group) / len(group),
                v=max(mean_var, spread),
                record_ids=tuple(g.record_id for g in group),
                imputed=any(g.imputed for g in group),
                non_msc=all(g.cell_source == "non_msc" for g in group),
                discordant=spread > mean_var,
                arm_errors=tuple((*arms[g.record_id], g.record_var) for g in group if g.record_id in arms),
            )
        )
    return units
