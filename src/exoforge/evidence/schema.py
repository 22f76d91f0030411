"""Schema of the cited literature records that back exoforge's defaults.

One YAML file per reference lives in ``exoforge/evidence/data/records/``; each
file holds the bibliographic ``reference`` once and a list of ``records``, one
per reported result. :func:`exoforge.evidence.store.load_records` reads them
all and validates them against the models below.

A record says *what* was measured (``metric`` on a ``basis``), *on what*
(cell source, platform, medium), *against what* (``comparator``) and *where in
the paper* it stands (``location``). Fold-changes are stored as ratios
(treated / comparator); absolute values carry a unit that pint understands.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Category = Literal[
    "biogenesis_engineering",
    "culture_condition",
    "dynamic_3d_culture",
    "isolation",
    "baseline",
]
"""Strategy families of the seed review (PMID 36828131) plus ``baseline``
(absolute productivities, growth and metabolism figures with no comparator)."""

Basis = Literal[
    "per_cell",  # particles (or protein) per cell, or per cell per time
    "per_volume",  # per mL of conditioned medium
    "per_run",  # per vessel, culture or batch
    "per_protein",  # particles per µg protein (purity)
    "per_area",  # per cm² of growth surface
    "per_time",  # space-time yield (per volume per day)
    "recovery",  # fraction of input recovered by an isolation step
    "removal",  # fraction of an impurity removed by an isolation step
    "other",
]

CellSource = Literal[
    "bm_msc",
    "ad_msc",
    "uc_msc",
    "ipsc_msc",
    "placental_msc",
    "dental_msc",
    "other_msc",
    "msc_unspecified",
    "non_msc",
]

Species = Literal["human", "mouse", "rat", "pig", "dog", "horse", "other", "not_stated"]

SourceType = Literal[
    "primary",  # read in the primary paper (abstract, table, figure legend or text)
    "secondary",  # read in a review table or another secondary source
]

Method = Literal[
    "NTA",
    "TRPS",
    "nFCM",
    "flow_cytometry",
    "DLS",
    "BCA",
    "microBCA",
    "Bradford",
    "ELISA",
    "western_blot",
    "TEM",
    "cryoEM",
    "qPCR",
    "luciferase",
    "cell_count",
    "metabolite_analyser",
    "oxygen_sensor",
    "CFD",
    "calculation",
    "other",
    "not_stated",
]

_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")

#: ``journal`` values (lower case) of preprint servers: a record from one is not peer reviewed.
PREPRINT_SERVERS = frozenset({"biorxiv", "medrxiv", "chemrxiv", "arxiv", "research square", "ssrn", "preprints.org"})


class Reference(BaseModel):
    """Bibliographic identity of one paper. A DOI or a PMID is required."""

    model_config = ConfigDict(extra="forbid")

    doi: str | None = None
    pmid: int | None = None
    first_author: str
    year: int = Field(ge=1900, le=2100)
    journal: str
    title: str | None = None

    @field_validator("doi")
    @classmethod
    def _doi_form(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not _DOI_RE.match(v):
            raise ValueError(f"'{v}' is not a DOI of the form 10.xxxx/...")
        return v.lower()

    @model_validator(mode="after")
    def _has_identifier(self) -> Reference:
        if self.doi is None and self.pmid is None:
            raise ValueError("a reference needs a doi or a pmid")
        return self

    @property
    def key(self) -> str:
        """Stable identifier: the DOI when known, else ``pmid:<n>``."""
        return self.doi if self.doi else f"pmid:{self.pmid}"

    @property
    def preprint(self) -> bool:
        """Whether the source is a preprint (its ``journal`` names a preprint server), not peer reviewed."""
        return self.journal.strip().lower() in PREPRINT_SERVERS


class Spread(BaseModel):
    """Dispersion as reported. Give whichever the paper gives."""

    model_config = ConfigDict(extra="forbid")

    sd: float | None = Field(default=None, ge=0)
    se: float | None = Field(default=None, ge=0)
    ci95_low: float | None = None
    ci95_high: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    log_se: float | None = Field(default=None, ge=0, description="standard error of ln(fold-change), when derived")


Normalisation = Literal["per_cell", "per_volume", "per_run", "per_area", "per_time", "unknown"]
"""What a published yield ratio is a ratio of: particles per cell-day of conditioning, per mL of
conditioned medium, per culture (run), per cm² of growth surface, per mL per day, or not stated."""


class Arm(BaseModel):
    """One arm of a published comparison, as the source describes it.

    ``platform`` is an expansion platform of the scenario contract; ``settings`` holds the
    scenario keys the source states (dotted, e.g. ``expansion.seeding: {cells: 2.0e8}``,
    ``conditioning.days: 2``). Every key not given takes the platform's default study arm
    (``study_arms.yaml``), and the emulation records it as a default.
    """

    model_config = ConfigDict(extra="forbid")

    platform: str = Field(description="expansion platform of the scenario contract, e.g. planar, hollow_fiber")
    settings: dict[str, Any] = Field(default_factory=dict, description="dotted scenario keys the source states")
    strategies: list[str] = Field(
        default_factory=list,
        description="strategy ids applied in this arm besides the platform (the treated arm of a strategy record "
        "takes the record's strategy and combined_with when this is left empty)",
    )


class Arms(BaseModel):
    """The two arms of a comparison: the model runs both and explains what it can (cells, volume, days)."""

    model_config = ConfigDict(extra="forbid")

    treated: Arm
    control: Arm
    normalisation: Normalisation | None = Field(
        default=None, description="what the ratio is a ratio of; taken from the record's basis when left out"
    )
    note: str | None = Field(default=None, description="how the arms were read from the source")


class Record(BaseModel):
    """One reported result. Either ``fold_change`` or ``value`` is given."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    location: str = Field(min_length=3, description="where in the paper: 'Abstract', 'Table 2', 'Fig. 3B legend'")
    source_type: SourceType = "primary"
    secondary_of: str | None = Field(
        default=None, description="for secondary records: the primary paper the review cites, as text"
    )
    cell_source: CellSource
    species: Species = "human"
    platform: str = Field(
        description="e.g. planar, multilayer, stirred_tank, spinner, vertical_wheel, hollow_fiber, ..."
    )
    medium: str = Field(description="e.g. serum_free, fbs, hpl, ev_depleted_fbs, not_stated")
    strategy: str = Field(description="strategy id from strategies.yaml; 'baseline' for absolute figures")
    category: Category
    combined_with: list[str] = Field(
        default_factory=list,
        description="other strategy ids applied together with `strategy` in the treated arm",
    )
    comparator: str | None = Field(default=None, description="the control arm of a fold-change")
    metric: str = Field(description="what was measured, e.g. 'EV particles per cell'")
    basis: Basis
    fold_change: float | None = Field(default=None, gt=0, description="treated / comparator")
    value: float | None = None
    value_low: float | None = None
    value_high: float | None = None
    unit: str = Field(description="'1' for fold-changes and fractions; else a pint-readable unit")
    n: int | None = Field(default=None, ge=1, description="biological replicates (donors or runs) per arm")
    spread: Spread | None = None
    method: Method = "not_stated"
    direction_only: bool = Field(
        default=False, description="the paper states only the direction of the effect; not poolable"
    )
    derivation: str | None = Field(default=None, description="how a derived number was computed from the reported ones")
    arms: Arms | None = Field(
        default=None,
        description="the two arms of a fold-change, for the emulation that turns it into a per-cell effect",
    )
    arms_unknown: str | None = Field(
        default=None,
        description="why the arms of a fold-change cannot be described; such a record counts as direction-only",
    )
    same_comparison_as: str | None = Field(
        default=None,
        description="id of a record of the same reference that reports this very comparison under another "
        "strategy (a published comparison that stands for two); the pooling then counts the two as one "
        "measurement: their arms are that record's arms",
    )
    notes: str | None = None

    @model_validator(mode="after")
    def _value_present(self) -> Record:
        if not self.direction_only and self.fold_change is None and self.value is None:
            raise ValueError("give fold_change or value, or set direction_only: true")
        if self.fold_change is not None and self.value is not None:
            raise ValueError("give fold_change or value, not both")
        if (self.arms is not None or self.arms_unknown is not None) and self.fold_change is None:
            raise ValueError("arms and arms_unknown belong to fold-change records")
        if self.arms is not None and self.arms_unknown is not None:
            raise ValueError("give arms or arms_unknown, not both")
        if self.same_comparison_as is not None and self.arms is None:
            raise ValueError("same_comparison_as belongs to a fold-change record that describes its arms")
        if self.source_type == "secondary" and not self.secondary_of:
            raise ValueError("a secondary record names the primary paper in secondary_of")
        return self


Effect = Literal["ev_secretion", "growth", "platform", "none"]
"""What a strategy drives in the simulator (a closed set; each has its handler)."""

Family = Literal["dynamic_3d_culture", "preconditioning", "genetic_engineering", "physical_stimulation"]
"""Families of related strategies, pooled together (study < strategy < family)."""


class StrategyEntry(BaseModel):
    """One entry of ``strategies.yaml``, validated at load (a typo in ``effect`` must not pass)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    category: Category
    family: Family | None = None
    label: str = Field(min_length=3)
    effect: Effect
    pool_basis: Basis
    platforms: list[str] = Field(default_factory=list)
    scenario: bool = False

    @model_validator(mode="after")
    def _platform_effects_name_platforms(self) -> StrategyEntry:
        from exoforge.scenario import platform_names

        known = set(platform_names())
        if self.effect == "platform" and not self.platforms:
            raise ValueError("a platform effect names its platforms")
        if self.effect != "platform" and self.platforms:
            raise ValueError("platforms belong to strategies with effect: platform")
        unknown = [p for p in self.platforms if p not in known]
        if unknown:
            raise ValueError(f"unknown platform(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if self.effect in ("ev_secretion", "platform") and self.category != "isolation" and self.family is None:
            raise ValueError("a strategy acting on secretion belongs to a family (partial pooling)")
        return self


class RecordFile(BaseModel):
    """One data file: one reference and its records."""

    model_config = ConfigDict(extra="forbid")

    reference: Reference
    records: list[Record] = Field(min_length=1)
