"""Emulate published comparisons: run the model on both arms of a study and infer the per-cell effect.

A published fold-change compares two cultures (the *arms*): a treated arm (a platform, a strategy,
or both) and a control arm. Their yields differ for reasons the model already explains (more
cells, a smaller harvest volume, more collections) and for the reason the record is about (each
cell secretes more). The emulation runs the culture model on both arms with **no** secretion
effect and computes the ratio the paper reports, on the paper's normalisation:

* ``per_cell``: particles harvested per cell-day of conditioning;
* ``per_volume``: particles per mL of harvested medium;
* ``per_run``: particles harvested per culture;
* ``unknown`` (a record whose basis is ``other``): the paper does not say; the model ratio is the
  mean of the per-cell and per-volume ratios on the log scale, and half their difference enters
  the uncertainty. (A per-run ratio between cultures of arbitrary sizes is not read into an
  unstated normalisation.)

The per-cell effect is what is left: ``ln effect = ln published − ln model ratio``. One rule for
every platform and every strategy. Arms take the platform's default laboratory arm
(``study_arms.yaml``) for every key the source does not state; the keys with a ``range`` there
are varied one at a time over it (read as a 95 % interval), and the spread of the model ratio
becomes the emulation variance of the effect.

The inferred effects are written to ``evidence/data/emulated_effects.yaml`` (``exoforge evidence
emulate --write``), with a fingerprint of every input, so runs read them without simulating.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.distributions import Z95
from exoforge.evidence.store import DATA_PACKAGE, EvidenceRecord, load_records
from exoforge.yamlio import load_yaml

#: Normalisations averaged for a record that does not state its own (basis ``other``).
UNKNOWN_NORMALISATIONS = ("per_cell", "per_volume")
#: A record's ``basis`` read as the normalisation of its ratio.
BASIS_NORMALISATION = {"per_cell": "per_cell", "per_volume": "per_volume", "per_run": "per_run", "other": "unknown"}
#: Where the committed emulations live, relative to the evidence data package.
EMULATED_FILE = "emulated_effects.yaml"
#: Cell sources the scenario contract models; any other record's cells run as the surrogate.
MODELLED_CELL_SOURCES = ("bm_msc", "ad_msc", "uc_msc", "ipsc_msc")
#: Cell source used when a record's cells are none of the modelled ones (other MSCs, non-MSC cells):
#: the ratio of two arms of the same cells depends little on which cells run in both.
SURROGATE_CELL_SOURCE = "bm_msc"


@dataclass(frozen=True)
class ArmRun:
    """The model's yields of one arm, with no secretion effect."""

    platform: str
    defaults: tuple[str, ...]  # scenario keys taken from the default arm (not stated by the source)
    per_cell: float  # particles / cell-day of conditioning
    per_volume: float  # particles / mL harvested
    per_run: float  # particles harvested


@dataclass(frozen=True)
class Emulation:
    """One comparison record emulated: the published ratio split into what the model explains and the rest."""

    record_id: str
    ref: str
    label: str
    strategy: str
    combined_with: tuple[str, ...]
    cell_source: str
    normalisation: str
    published: float
    log_model_ratio: float  # ln(treated / control) from the model, no secretion effect
    emulation_var: float  # variance of log_model_ratio from unstated keys and normalisation
    treated_defaults: tuple[str, ...]
    control_defaults: tuple[str, ...]
    treated_strategies: tuple[str, ...] = field(default=())
    control_strategies: tuple[str, ...] = field(default=())

    @property
    def log_effect(self) -> float:
        """ln of the per-cell effect the record implies."""
        return math.log(self.published) - self.log_model_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record_id,
            "ref": self.ref,
            "label": self.label,
            "strategy": self.strategy,
            "combined_with": list(self.combined_with),
            "cell_source": self.cell_source,
            "normalisation": self.normalisation,
            "published": self.published,
            "model_ratio": round(math.exp(self.log_model_ratio), 6),
            "log_model_ratio": round(self.log_model_ratio, 6),
            "emulation_sd": round(math.sqrt(self.emulation_var), 6),
            "per_cell_effect": round(math.exp(self.log_effect), 6),
            "treated_strategies": list(self.treated_strategies),
            "control_strategies": list(self.control_strategies),
            "defaults": {"treated": list(self.treated_defaults), "control": list(self.control_defaults)},
        }


def _data_dir() -> Path:
    return Path(str(resources.files(DATA_PACKAGE)))


def load_study_arms(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The default laboratory arm of each platform (``study_arms.yaml``), with those of plug-ins' evidence sets."""
    base = root if root is not None else _data_dir()
    raw = load_yaml((base / "study_arms.yaml").read_text(encoding="utf-8"))
    arms: dict[str, dict[str, Any]] = raw["arms"]
    if root is None:
        from exoforge.evidence.store import plugin_evidence_folders, plugin_study_arms

        for plugin, folder in plugin_evidence_folders():
            arms.update(plugin_study_arms(plugin, folder))
    return arms


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"arm setting '{key}': '{part}' is not a section")
    node[parts[-1]] = value


def _leaf_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_leaf_keys(v, path + "."))
        else:
            out.append(path)
    return out


def arm_scenario_dict(
    platform: str, settings: dict[str, Any], cell_source: str, arms: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A complete scenario document for one arm: the platform's default arm with the stated keys set."""
    if platform not in arms:
        known = ", ".join(sorted(arms))
        raise ValueError(f"no default study arm for platform '{platform}' (study_arms.yaml has {known})")
    base = copy.deepcopy(arms[platform]["scenario"])
    doc: dict[str, Any] = {
        "schema_version": 1,
        "name": f"study arm ({platform})",
        "cell_source": cell_source,
        **base,
        "isolation": [{"op": "centrifugation", "g": 2000, "minutes": 20}],
        "dose": {"particles": 1.0e11},
    }
    for key, value in settings.items():
        _set_dotted(doc, key, value)
    return doc


def _yields(doc: dict[str, Any]) -> tuple[float, float, float]:
    """(per cell-day, per mL, per culture) particles of one arm, no secretion effect, central parameters."""
    from exoforge.parameters import ParameterSet, UsageLog, load_default_entries, resolve_variants
    from exoforge.scenario import Scenario
    from exoforge.simulation import scenario_context
    from exoforge.upstream.simulate import simulate_upstream

    scn = Scenario.model_validate(doc)
    ps = ParameterSet(resolve_variants(load_default_entries(), scenario_context(scn)))
    up = simulate_upstream(scn, UsageLog(ps.nominal(1)))
    particles = float(up.harvested_particles[0])
    cell_days = float(up.conditioning_cell_days[0])
    volume_ml = float(up.harvest_volume_l[0]) * 1000.0
    return particles / cell_days, particles / volume_ml, particles


def _log_ratio(treated: tuple[float, float, float], control: tuple[float, float, float], norm: str) -> float:
    index = {"per_cell": 0, "per_volume": 1, "per_run": 2}
    if norm == "unknown":
        return float(np.mean([math.log(treated[index[n]] / control[index[n]]) for n in UNKNOWN_NORMALISATIONS]))
    return math.log(treated[index[norm]] / control[index[norm]])


def _normalisation_var(treated: tuple[float, float, float], control: tuple[float, float, float]) -> float:
    """Variance of an unstated normalisation: half the spread of the candidate ratios is one SD."""
    index = {"per_cell": 0, "per_volume": 1}
    logs = [math.log(treated[index[n]] / control[index[n]]) for n in UNKNOWN_NORMALISATIONS]
    return ((max(logs) - min(logs)) / 2.0) ** 2


def _range_variance(
    treated: Any,
    control: Any,
    docs: dict[str, dict[str, Any]],
    central: dict[str, tuple[float, float, float]],
    norm: str,
    arms: dict[str, dict[str, Any]],
) -> float:
    """Variance of the model's ln ratio over the unstated keys' ranges, one key at a time.

    Two arms on the same platform follow one protocol, so an unstated key moves in both together;
    arms on different platforms have their own protocols, and each arm's keys move alone.
    """
    var = 0.0
    same = treated.platform == control.platform
    sides = (("treated", treated), ("control", control))
    for side, arm in sides if not same else (("both", treated),):
        for key, (low, high) in arms[arm.platform].get("ranges", {}).items():
            if key in arm.settings or (same and key in control.settings):
                continue
            ends = []
            for value in (low, high):
                y = {}
                for s2 in ("treated", "control"):
                    if side in (s2, "both"):
                        doc = copy.deepcopy(docs[s2])
                        _set_dotted(doc, key, value)
                        y[s2] = _yields(doc)
                    else:
                        y[s2] = central[s2]
                ends.append(_log_ratio(y["treated"], y["control"], norm))
            var += ((ends[1] - ends[0]) / (2 * Z95)) ** 2
    return var


def emulate(rec: EvidenceRecord, arms: dict[str, dict[str, Any]] | None = None) -> Emulation:
    """Emulate one comparison record that describes its arms."""
    r = rec.record
    if r.arms is None or r.fold_change is None:
        raise ValueError(f"record {r.id}: no arms to emulate")
    arms = arms if arms is not None else load_study_arms()
    norm = r.arms.normalisation or BASIS_NORMALISATION.get(r.basis, "unknown")
    cells = r.cell_source if r.cell_source in MODELLED_CELL_SOURCES else SURROGATE_CELL_SOURCE
    docs = {
        side: arm_scenario_dict(arm.platform, arm.settings, cells, arms)
        for side, arm in (("treated", r.arms.treated), ("control", r.arms.control))
    }
    central = {side: _yields(doc) for side, doc in docs.items()}
    log_ratio = _log_ratio(central["treated"], central["control"], norm)
    var = _normalisation_var(central["treated"], central["control"]) if norm == "unknown" else 0.0
    defaults: dict[str, tuple[str, ...]] = {}
    for side, arm in (("treated", r.arms.treated), ("control", r.arms.control)):
        stated = set(arm.settings)
        defaults[side] = tuple(
            k for k in _leaf_keys(arms[arm.platform]["scenario"]) if k not in stated and k != "expansion.platform"
        )
    var += _range_variance(r.arms.treated, r.arms.control, docs, central, norm, arms)
    treated_strats = tuple(r.arms.treated.strategies) or (r.strategy, *r.combined_with)
    return Emulation(
        record_id=r.id,
        ref=rec.ref_key,
        label=f"{rec.reference.first_author} {rec.reference.year}",
        strategy=r.strategy,
        combined_with=tuple(r.combined_with),
        cell_source=r.cell_source,
        normalisation=norm,
        published=r.fold_change,
        log_model_ratio=log_ratio,
        emulation_var=var,
        treated_defaults=defaults["treated"],
        control_defaults=defaults["control"],
        treated_strategies=treated_strats,
        control_strategies=tuple(r.arms.control.strategies),
    )


def comparison_records(records: Iterable[EvidenceRecord] | None = None) -> list[EvidenceRecord]:
    """Numeric fold-change records of the strategies the pooling holds: those that act on secretion, and
    members of a family that no run applies, which inform their family (``family_map``)."""
    from exoforge.evidence.emulated import family_map

    pooled = family_map()
    out = []
    for rec in records if records is not None else load_records():
        r = rec.record
        if r.fold_change is None or r.direction_only or r.strategy not in pooled:
            continue
        out.append(rec)
    return out


def emulate_all(records: Sequence[EvidenceRecord] | None = None) -> tuple[list[Emulation], list[tuple[str, str]]]:
    """Every comparison record with arms emulated; (record id, why not) for those without."""
    arms = load_study_arms()
    done: list[Emulation] = []
    skipped: list[tuple[str, str]] = []
    for rec in comparison_records(records):
        r = rec.record
        if r.arms is None:
            skipped.append((r.id, r.arms_unknown or "no arms described (direction-only until they are)"))
            continue
        done.append(emulate(rec, arms))
    return done, skipped


def input_fingerprint() -> str:
    """SHA-256 over every input of the emulation: records, strategies, study arms and parameter files."""
    h = hashlib.sha256()
    base = _data_dir()
    params = Path(str(resources.files("exoforge.data"))) / "parameters"
    catalogue = Path(str(resources.files("exoforge.data"))) / "catalogue.yaml"
    files = [*sorted((base / "records").glob("*.yaml")), base / "strategies.yaml", base / "study_arms.yaml"]
    files += [*sorted(params.glob("*.yaml")), catalogue]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def write_emulations(path: Path | None = None) -> Path:
    """Write ``emulated_effects.yaml`` (the committed emulations runs read) from the packaged records.

    Plug-ins' records are not written: they are emulated when first read (:mod:`exoforge.evidence.emulated`).
    """
    done, skipped = emulate_all([r for r in load_records() if r.plugin is None])
    out = path if path is not None else _data_dir() / EMULATED_FILE
    doc = {
        "fingerprint": input_fingerprint(),
        "emulations": [e.to_dict() for e in done],
        "direction_only": [{"record": rid, "why": why} for rid, why in skipped],
    }
    import yaml

    header = (
        "# Written by `exoforge evidence emulate --write` from the comparison records, study_arms.yaml and the\n"
        "# parameter files; do not edit by hand (a test checks the fingerprint against the inputs).\n"
    )
    from exoforge.fileio import write_atomic

    write_atomic(out, header + yaml.safe_dump(doc, sort_keys=False, width=110))
    return out
