"""The characterisation record of one EV batch (a YAML file), checked by :mod:`exoforge.characterization.misev`.

Every section is optional (an incomplete record is what the check is for);
keys that are present are validated, and a misspelt key is an error naming its
path. ``exoforge nta import FILE --record RECORD.yaml`` writes the
``particles`` section from an NTA export (and adds the file to ``raw_files``).

.. code-block:: yaml

    record_version: 1
    batch: B3
    source: {species: human, cell_type: bone-marrow MSC, donor_or_line: D12, passage: 4,
             identity_tests: [CD73/CD90/CD105 flow, trilineage]}
    culture: {medium: alpha-MEM, supplement: 5 % hPL, ev_depletion: serum_free, format: 3 L stirred tank,
              conditioning_days: 2, conditioned_medium_ml: 3000, cell_count_at_harvest: 1.1e8, viability_percent: 94}
    preprocessing: [{step: centrifugation, g: 2000, minutes: 20, temperature_c: 4}]
    separation: [{method: tff, parameters: {mwco_kda: 300, membrane_area_m2: 0.05}},
                 {method: sec, parameters: {resin: Sepharose CL-4B, fractions: 7-9}}]
    particles: {...}           # written by `exoforge nta import --record`
    protein: {assay: BCA, concentration_ug_per_ml: 85, lod_ug_per_ml: 5}
    markers: [{name: CD63, category: transmembrane, result: positive, method: western_blot,
               antibody: H5C6, amount_loaded_ug: 10, lysis: RIPA}, ...]
    imaging: [{method: tem, views: [wide_field, close_up], files: [tem/b3_01.tif]}]
    function: [{name: T-cell proliferation, dose_levels: 4, metric: IC50, dose_particles: true,
                dose_protein: true, controls: [vehicle], reference_batch: B1}]
    product: {term: sEV, volume_ml: 10, buffer: PBS + 0.1 % HSA, storage_temperature_c: -80}
    qc: {intended_use: research}
    stability: [{condition: -80 C, days: 90, attribute: particle concentration, retained_percent: 92}]
    raw_files: [{path: nta/b3_ExperimentSummary.csv, sha256: ...}]
    evtrack_id: EV260001
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

RECORD_VERSION = 1

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class RecordError(ValueError):
    """A record file breaks its format; ``problems`` holds one line each (file and key path)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_M):
    species: str | None = Field(default=None, description="species of the producing cells, e.g. human")
    cell_type: str | None = Field(default=None, description="cell type and tissue, e.g. bone-marrow MSC")
    donor_or_line: str | None = Field(default=None, description="donor or cell-line identifier")
    passage: Annotated[int, Field(ge=0, le=100)] | None = Field(default=None, description="passage at conditioning")
    identity_tests: list[str] = Field(default_factory=list, description="identity tests of the parent MSCs")


class Culture(_M):
    medium: str | None = Field(default=None, description="basal medium of the conditioning phase")
    supplement: str | None = Field(default=None, description="serum, platelet lysate or defined supplement")
    ev_depletion: (
        Literal["serum_free", "ultracentrifuged", "ultrafiltered", "commercial_depleted", "not_depleted"] | None
    ) = Field(default=None, description="how the supplement was freed of its own EVs")
    format: str | None = Field(default=None, description="culture format, e.g. 3 L stirred tank on microcarriers")
    conditioning_days: Positive | None = Field(default=None, description="conditioning time [day]")
    conditioned_medium_ml: Positive | None = Field(default=None, description="conditioned medium harvested [mL]")
    cell_count_at_harvest: Positive | None = Field(default=None, description="producing cells at harvest")
    viability_percent: Annotated[float, Field(ge=0, le=100)] | None = Field(default=None, description="[%]")


class PreprocessingStep(_M):
    step: str = Field(description="what was done, e.g. centrifugation, filtration, hold, freeze")
    g: Positive | None = None
    minutes: Positive | None = None
    pore_um: Positive | None = None
    hours: NonNegative | None = None
    temperature_c: Annotated[float, Field(ge=-200, le=100)] | None = None


class SeparationStep(_M):
    method: str = Field(description="unit operation, as in a scenario's isolation train (tff, sec, ...)")
    parameters: dict[str, float | str] = Field(default_factory=dict, description="settings with units in the names")


class Particles(_M):
    method: Literal["NTA", "TRPS", "flow", "FCS", "other"] = "NTA"
    instrument: str | None = None
    software: str | None = None
    concentration_per_ml: Positive | None = Field(default=None, description="particles per mL of the product")
    dilution_factor: Annotated[float, Field(ge=1)] | None = None
    dilution_applied_by: Literal["instrument", "exoforge", "user"] | None = None
    size_nm: dict[str, float] = Field(default_factory=dict, description="mean, mode, d10, d50, d90 [nm]")
    size_standard_error_nm: dict[str, float] = Field(default_factory=dict, description="their standard errors [nm]")
    settings: dict[str, Any] = Field(default_factory=dict, description="instrument settings")
    videos: Annotated[int, Field(ge=1)] | None = None
    source_file: str | None = None
    sha256: str | None = None
    lod_per_ml: Positive | None = None


class Protein(_M):
    assay: str | None = None
    concentration_ug_per_ml: Positive | None = None
    total_ug: Positive | None = None
    lod_ug_per_ml: Positive | None = None


class Lipid(_M):
    assay: str | None = None
    concentration_nmol_per_ml: Positive | None = None


MarkerCategory = Literal[
    "transmembrane",
    "cytosolic",
    "non_ev_coisolate",
    "other_compartment",
    "secreted",
    "msc_positive",
    "haematopoietic_negative",
]


class Marker(_M):
    name: str
    category: MarkerCategory = Field(description="MISEV category (transmembrane = 1, cytosolic = 2, ...)")
    result: Literal["positive", "negative", "depleted", "not_detected"]
    method: Literal["western_blot", "elisa", "bead_flow", "mass_spectrometry", "single_ev_flow", "other"] | None = None
    antibody: str | None = None
    amount_loaded_ug: Positive | None = None
    lysis: str | None = None


class Image(_M):
    method: Literal["tem", "cryo_em", "sem", "afm", "super_resolution"]
    views: list[Literal["wide_field", "close_up"]] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)


class FunctionAssay(_M):
    name: str
    mechanism: str | None = None
    dose_levels: Annotated[int, Field(ge=1)] | None = None
    metric: str | None = None
    dose_particles: bool = False
    dose_protein: bool = False
    controls: list[str] = Field(default_factory=list)
    reference_batch: str | None = None


class Product(_M):
    term: str | None = Field(default=None, description="EV, sEV, lEV, EP, or exosome with a justification")
    term_justification: str | None = None
    volume_ml: Positive | None = None
    buffer: str | None = None
    storage_temperature_c: Annotated[float, Field(ge=-200, le=40)] | None = None
    container: str | None = None


class QC(_M):
    intended_use: Literal["research", "preclinical", "preclinical_gmp", "clinical"] = "research"
    sterility: str | None = None
    endotoxin: str | None = None
    mycoplasma: str | None = None


class StabilityEntry(_M):
    condition: str
    days: NonNegative
    attribute: str
    retained_percent: NonNegative | None = None


class RawFile(_M):
    path: str
    sha256: str | None = None


class Record(_M):
    """The characterisation record of one batch (see the module docstring)."""

    record_version: Literal[1] = 1
    batch: str | None = None
    source: Source = Field(default_factory=Source)
    culture: Culture = Field(default_factory=Culture)
    preprocessing: list[PreprocessingStep] = Field(default_factory=list)
    separation: list[SeparationStep] = Field(default_factory=list)
    particles: Particles | None = None
    protein: Protein | None = None
    lipid: Lipid | None = None
    markers: list[Marker] = Field(default_factory=list)
    imaging: list[Image] = Field(default_factory=list)
    function: list[FunctionAssay] = Field(default_factory=list)
    product: Product = Field(default_factory=Product)
    qc: QC = Field(default_factory=QC)
    stability: list[StabilityEntry] = Field(default_factory=list)
    raw_files: list[RawFile] = Field(default_factory=list)
    evtrack_id: str | None = None


def _problems(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".") or "(top level)"
        if e["type"] == "extra_forbidden":
            out.append(f"{path}: unknown key")
        elif e["type"] == "missing":
            out.append(f"{path}: required key is missing")
        else:
            value = e.get("input")
            shown = f"'{value}'" if isinstance(value, str) else repr(value)
            out.append(f"{path}: {shown} is invalid: {e['msg']}")
    return out


def read_raw(path: Path) -> dict[str, Any]:
    """The mapping of a record file (``RecordError`` naming the file when it is not one)."""
    if not path.exists():
        raise RecordError([f"{path}: file not found"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecordError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecordError([f"{path}: the top level must be a mapping of keys to values"])
    return data


def parse_record(data: dict[str, Any], source: str = "record") -> Record:
    """Validate a mapping; ``RecordError`` lists every problem with its key path."""
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        raise RecordError([f"{source}: {p}" for p in _problems(exc)]) from None


def load_record(path: str | Path) -> Record:
    p = Path(path)
    return parse_record(read_raw(p), str(p))


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    from exoforge.fileio import write_atomic

    write_atomic(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def fill_particles(path: str | Path, measurement: Any, dilution: float | None = None) -> Record:
    """Write the ``particles`` section of the record at ``path`` from an NTA measurement (created if absent).

    The NTA file is added to ``raw_files`` with its SHA-256. Other sections are kept as they are.
    """
    p = Path(path)
    data = read_raw(p) if p.exists() else {"record_version": RECORD_VERSION, "batch": measurement.sample}
    entry = measurement.record_entry(dilution)
    entry["sha256"] = sha256_of(measurement.path)
    if measurement.dilution_factor is not None:
        entry["dilution_applied_by"] = "instrument" if measurement.concentration_adjusted_for_dilution else "exoforge"
    else:
        entry["dilution_applied_by"] = "exoforge"
    data["particles"] = entry
    files = [f for f in data.get("raw_files") or [] if isinstance(f, dict) and f.get("path") != measurement.path]
    files.append({"path": measurement.path, "sha256": entry["sha256"]})
    data["raw_files"] = files
    record = parse_record(data, str(p))
    _write_yaml(p, data)
    return record
