"""Load and validate the packaged evidence records and strategy catalogue, and plug-ins' evidence sets.

A plug-in's evidence set (:func:`register_evidence_folder`) is a folder in the layout of the packaged
one: ``records/*.yaml`` (the same record format, with a DOI or PMID) and, for the platforms the
plug-in adds, ``study_arms.yaml`` (their default study arms). Its records are validated against the
whole strategy catalogue, and a record id used twice (packaged or in another set) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from exoforge.datafiles import item_location, validation_messages
from exoforge.evidence.schema import Record, Reference, StrategyEntry
from exoforge.yamlio import load_yaml

DATA_PACKAGE = "exoforge.evidence.data"


@dataclass(frozen=True)
class EvidenceRecord:
    """A validated record joined with its reference and file of origin."""

    record: Record
    reference: Reference
    file: str
    plugin: str | None = None  # the plug-in whose evidence set holds it; None when packaged

    @property
    def ref_key(self) -> str:
        return self.reference.key

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data, with its reference.

        ``value`` is always present: the reported figure, the fold-change (treated over
        comparator) for a fold-change record, or ``None`` for a direction-only record;
        ``value_kind`` says which.
        """
        out: dict[str, Any] = self.record.model_dump(exclude_none=True)
        rec = self.record
        if rec.value is not None:
            out["value_kind"] = "value"
        elif rec.fold_change is not None:
            out["value"] = rec.fold_change
            out["value_kind"] = "fold_change"
        else:
            out["value"] = None
            out["value_kind"] = "direction_only"
        ref = self.reference
        out["doi"] = ref.doi
        out["pmid"] = ref.pmid
        out["first_author"] = ref.first_author
        out["year"] = ref.year
        out["journal"] = ref.journal
        out["file"] = self.file
        return out


@dataclass(frozen=True)
class Strategy:
    """One entry of the strategy catalogue (``strategies.yaml``)."""

    id: str
    category: str
    label: str
    effect: str
    pool_basis: str
    scenario: bool
    platforms: tuple[str, ...] = ()
    family: str | None = None  # related strategies pooled together (study < strategy < family)


class EvidenceError(ValueError):
    """The packaged or user-supplied evidence files break the schema."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _records_dir(root: Path | None) -> Path:
    if root is not None:
        return root / "records"
    return Path(str(resources.files(DATA_PACKAGE))) / "records"


def _format_validation(file: str, err: ValidationError, raw: Any) -> list[str]:
    problems = []
    for e in err.errors():
        loc = list(e["loc"])
        where = file
        if len(loc) >= 2 and loc[0] == "records" and isinstance(loc[1], int):
            try:
                rid = raw["records"][loc[1]].get("id", f"#{loc[1]}")
            except (KeyError, IndexError, TypeError, AttributeError):
                rid = f"#{loc[1]}"
            where = f"{file} record {rid}"
            loc = loc[2:]
        path = ".".join(str(p) for p in loc) or "(file)"
        problems.append(f"{where}: {path}: {e['msg']}")
    return problems


def validate_files(root: Path | None = None) -> tuple[list[EvidenceRecord], list[str]]:
    """Read every record file; return the records and a list of problems.

    Each problem names the file and the record id. Duplicate record ids across
    files and unknown strategy ids are problems too. Without ``root``: the packaged
    records and those of the plug-ins' evidence sets.
    """
    try:
        strategies = {s.id: s for s in load_strategies(root)}
    except EvidenceError as exc:
        return [], list(exc.problems)
    arms_file = (root if root is not None else Path(str(resources.files(DATA_PACKAGE)))) / "study_arms.yaml"
    arm_platforms = set(load_yaml(arms_file.read_text(encoding="utf-8"))["arms"]) if arms_file.exists() else set()
    folders: list[tuple[str | None, Path]] = [(None, _records_dir(root))]
    if root is None:
        for name, folder in _PLUGIN_EVIDENCE:
            arm_platforms |= set(plugin_study_arms(name, folder))
            folders.append((name, folder / "records"))
    reading = _RecordReader(strategies, arm_platforms)
    for owner, directory in folders:
        for path in sorted(directory.glob("*.yaml")):
            reading.read(path, owner)
    reading.check_same_comparisons()
    return reading.records, reading.problems


class _RecordReader:
    """Reads record files one by one, collecting records and problems across files (duplicate ids)."""

    def __init__(self, strategies: dict[str, Strategy], arm_platforms: set[str]):
        self.strategies = strategies
        self.arm_platforms = arm_platforms
        self.records: list[EvidenceRecord] = []
        self.problems: list[str] = []
        self.seen: dict[str, str] = {}
        self.refs_seen: dict[str, Reference] = {}

    def read(self, path: Path, plugin: str | None) -> None:
        name = path.name if plugin is None else f"plug-in {plugin}: {path.name}"
        problems = self.problems
        try:
            raw = load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{name}: not valid YAML: {exc}")
            return
        if not isinstance(raw, dict) or set(raw) - {"reference", "records"}:
            problems.append(f"{name}: a record file holds exactly 'reference' and 'records'")
            return
        try:
            reference = Reference.model_validate(raw.get("reference"))
        except ValidationError as exc:
            problems.extend(f"{name}: reference: {line}" for line in _format_validation(name, exc, raw))
            return
        raw_records = raw.get("records")
        if not isinstance(raw_records, list) or not raw_records:
            problems.append(f"{name}: records: give a non-empty list of records")
            return
        key = reference.key
        other = self.refs_seen.get(key)
        if other is not None and (other.first_author, other.year) != (reference.first_author, reference.year):
            problems.append(
                f"{name}: reference {key} is given as {reference.first_author} "
                f"{reference.year} here but as {other.first_author} {other.year} elsewhere"
            )
        self.refs_seen[key] = reference
        for i, raw_rec in enumerate(raw_records):
            self._record(name, i, raw_rec, reference, plugin)

    def check_same_comparisons(self) -> None:
        """A record that repeats another's comparison names a record of the same reference that has arms."""
        by_id = {r.record.id: r for r in self.records}
        for rec in self.records:
            target_id = rec.record.same_comparison_as
            if target_id is None:
                continue
            where = f"{self.seen[rec.record.id]} record {rec.record.id}: same_comparison_as '{target_id}'"
            target = by_id.get(target_id)
            if target is None:
                self.problems.append(f"{where}: no such record")
            elif target.ref_key != rec.ref_key:
                self.problems.append(f"{where}: that record is of another reference ({target.ref_key})")
            elif target.record.arms is None or target.record.same_comparison_as is not None:
                self.problems.append(f"{where}: name the record that describes the comparison's arms itself")

    def _record(self, name: str, i: int, raw_rec: Any, reference: Reference, plugin: str | None) -> None:
        strategies, problems = self.strategies, self.problems
        rid = raw_rec.get("id", f"#{i}") if isinstance(raw_rec, dict) else f"#{i}"
        try:
            rec = Record.model_validate(raw_rec)
        except ValidationError as exc:
            for e in exc.errors():
                field_path = ".".join(str(x) for x in e["loc"]) or "(record)"
                problems.append(f"{name} record {rid}: {field_path}: {e['msg']}")
            strategy = raw_rec.get("strategy") if isinstance(raw_rec, dict) else None
            if isinstance(strategy, str) and strategy not in strategies and strategy != "baseline":
                problems.append(f"{name} record {rid}: strategy '{strategy}' is not in strategies.yaml")
            return
        if rec.id in self.seen:
            problems.append(f"{name} record {rec.id}: id already used in {self.seen[rec.id]}")
        self.seen[rec.id] = name
        if rec.strategy not in strategies and rec.strategy != "baseline":
            problems.append(f"{name} record {rec.id}: strategy '{rec.strategy}' is not in strategies.yaml")
        elif rec.strategy in strategies and strategies[rec.strategy].category != rec.category:
            problems.append(
                f"{name} record {rec.id}: category '{rec.category}' but strategy "
                f"'{rec.strategy}' is '{strategies[rec.strategy].category}'"
            )
        problems.extend(_arm_problems(f"{name} record {rec.id}", rec, strategies, self.arm_platforms))
        self.records.append(EvidenceRecord(rec, reference, name, plugin))


def _arm_problems(where: str, rec: Record, strategies: dict[str, Strategy], arm_platforms: set[str]) -> list[str]:
    """An arm's platform needs a default study arm, and its strategies must exist."""
    if rec.arms is None:
        return []
    out = []
    for side in ("treated", "control"):
        arm = getattr(rec.arms, side)
        if arm.platform not in arm_platforms:
            out.append(
                f"{where}: arms.{side}.platform: no default study arm for '{arm.platform}' in study_arms.yaml "
                f"(known: {', '.join(sorted(arm_platforms))})"
            )
        out.extend(
            f"{where}: arms.{side}.strategies: '{sid}' is not in strategies.yaml"
            for sid in arm.strategies
            if sid not in strategies
        )
    return out


@lru_cache(maxsize=4)
def _load_cached(root: Path | None) -> tuple[EvidenceRecord, ...]:
    records, problems = validate_files(root)
    if problems:
        raise EvidenceError(problems)
    return tuple(records)


def load_records(root: Path | None = None) -> tuple[EvidenceRecord, ...]:
    """All validated records (cached; read-only), with the plug-ins'. Raises :class:`EvidenceError`."""
    if root is None:
        from exoforge.plugins import load_plugins

        load_plugins()
    return _load_cached(root)


#: Evidence sets added by plug-ins (:func:`register_evidence_folder`): (plug-in name, folder).
_PLUGIN_EVIDENCE: list[tuple[str, Path]] = []


def register_evidence_folder(plugin: str, folder: Path) -> None:
    """Add a plug-in's evidence set: ``folder/records/*.yaml`` and, optionally, ``folder/study_arms.yaml``."""
    if not (folder / "records").is_dir():
        raise EvidenceError([f"plug-in {plugin}: evidence folder {folder} has no records/ folder"])
    plugin_study_arms(plugin, folder)  # readable, and no platform given twice
    _PLUGIN_EVIDENCE.append((plugin, folder))
    forget_loaded_evidence()


def plugin_evidence_folders() -> tuple[tuple[str, Path], ...]:
    """The plug-ins' evidence sets: (plug-in name, folder)."""
    from exoforge.plugins import load_plugins

    load_plugins()
    return tuple(_PLUGIN_EVIDENCE)


def plugin_study_arms(plugin: str, folder: Path) -> dict[str, dict[str, Any]]:
    """The default study arms of a plug-in's evidence set (``study_arms.yaml``; none when absent)."""
    path = folder / "study_arms.yaml"
    if not path.exists():
        return {}
    raw = load_yaml(path.read_text(encoding="utf-8"))
    arms = raw.get("arms") if isinstance(raw, dict) else None
    if not isinstance(arms, dict):
        raise EvidenceError([f"plug-in {plugin}: study_arms.yaml: give 'arms:' with one entry per platform"])
    packaged = load_yaml((Path(str(resources.files(DATA_PACKAGE))) / "study_arms.yaml").read_text(encoding="utf-8"))
    twice = sorted(set(arms) & set(packaged["arms"]))
    if twice:
        raise EvidenceError([f"plug-in {plugin}: study_arms.yaml: {', '.join(twice)} already have a default arm"])
    return arms


def forget_loaded_evidence() -> None:
    """Drop what was read from the evidence, so the next reader sees what plug-ins have added since."""
    from exoforge.evidence.emulated import load_emulated
    from exoforge.evidence.hierarchy import fitted

    _load_cached.cache_clear()
    load_emulated.cache_clear()
    fitted.cache_clear()


#: Strategies added by plug-ins (:func:`register_strategy`): a plug-in platform's effect on secretion.
_PLUGIN_STRATEGIES: list[Strategy] = []


def load_strategies(root: Path | None = None) -> tuple[Strategy, ...]:
    """The strategy catalogue (cached; read-only), validated entry by entry, with plug-ins' strategies.

    Raises :class:`EvidenceError` naming the file, line and strategy of every problem.
    """
    packaged = _packaged_strategies(root)
    if root is not None:
        return packaged
    from exoforge.plugins import load_plugins

    load_plugins()
    return (*packaged, *_PLUGIN_STRATEGIES)


def register_strategy(entry: dict[str, object]) -> Strategy:
    """Add a plug-in's strategy (an entry in the format of ``strategies.yaml``), validated like one."""
    try:
        e = StrategyEntry.model_validate(entry)
    except ValidationError as exc:
        raise EvidenceError(validation_messages(exc, f"strategy {entry.get('id')}")) from None
    if e.id in {s.id for s in load_strategies()}:
        raise EvidenceError([f"strategy {e.id}: already in the catalogue"])
    strategy = _strategy(e)
    _PLUGIN_STRATEGIES.append(strategy)
    forget_loaded_evidence()  # the hierarchy knows its strategies' families when fitted
    return strategy


def _strategy(e: StrategyEntry) -> Strategy:
    return Strategy(
        id=e.id,
        category=e.category,
        label=e.label,
        effect=e.effect,
        pool_basis=e.pool_basis,
        scenario=e.scenario,
        platforms=tuple(e.platforms),
        family=e.family,
    )


@lru_cache(maxsize=4)
def _packaged_strategies(root: Path | None) -> tuple[Strategy, ...]:
    base = root if root is not None else Path(str(resources.files(DATA_PACKAGE)))
    text = (base / "strategies.yaml").read_text(encoding="utf-8")
    raw = load_yaml(text)
    problems: list[str] = []
    entries: list[StrategyEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("strategies", []) if isinstance(raw, dict) else []):
        sid = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
        try:
            entry = StrategyEntry.model_validate(item)
        except ValidationError as exc:
            where = item_location("strategies.yaml", text, "strategies", i)
            problems += validation_messages(exc, f"{where}: strategy {sid}")
            continue
        if entry.id in seen:
            where = item_location("strategies.yaml", text, "strategies", i)
            problems.append(f"{where}: strategy {entry.id}: id given twice")
        seen.add(entry.id)
        entries.append(entry)
    if not entries and not problems:
        problems.append("strategies.yaml: no strategies listed")
    if problems:
        raise EvidenceError(problems)
    return tuple(_strategy(e) for e in entries)
