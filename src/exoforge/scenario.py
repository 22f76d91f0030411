"""The scenario contract (schema_version 1): what a user writes to describe a process.

A scenario file is YAML (or TOML). :func:`load_scenario` reads it, validates it
against the models below and returns a :class:`Scenario`; a file that breaks
the contract raises :class:`ScenarioError`, whose ``problems`` hold one line per
problem naming the key path, the bad value and what is allowed.

The keys are a public contract (see the project's DESIGN.md): add keys freely,
rename or remove one only with a new ``schema_version`` and a migration.
"""

from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = 1

CellSource = Literal["bm_msc", "ad_msc", "uc_msc", "ipsc_msc"]
Platform = Literal[
    "planar",
    "multilayer",
    "spinner",
    "stirred_tank",
    "vertical_wheel",
    "hollow_fiber",
    "fixed_bed",
    "spheroid",
]
ExpansionMedium = Literal["fbs", "hpl", "serum_free", "xeno_free"]
#: Basal media of the catalogue (glucose and glutamine per formulation: ``exoforge parameters basal_``).
BasalMedium = Literal[
    "dmem_low_glucose",
    "dmem_high_glucose",
    "alpha_mem",
    "mem",
    "dmem_f12",
    "proprietary_serum_free",
]
ConditioningMedium = Literal["serum_free", "ev_depleted_fbs", "ev_depleted_hpl", "same"]
MicrocarrierType = Literal["cytodex1", "cytodex3", "hillex2", "synthemax2"]

#: Platforms whose cells grow on microcarriers suspended in a stirred volume.
MICROCARRIER_PLATFORMS = ("spinner", "stirred_tank", "vertical_wheel")
#: Platforms described by a working volume.
VOLUME_PLATFORMS = ("spinner", "stirred_tank", "vertical_wheel", "spheroid")
#: Platforms described by a surface area in m².
SURFACE_PLATFORMS = ("hollow_fiber", "fixed_bed")

NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Microcarrier(_Model):
    type: MicrocarrierType = "cytodex3"
    g_per_l: PositiveFloat = Field(description="microcarrier loading, g per litre of working volume")
    add_g_per_l: PositiveFloat | None = Field(
        default=None, description="fresh microcarriers added during expansion, g per litre (bead-to-bead transfer)"
    )
    add_on_day: PositiveFloat | None = Field(default=None, description="day of the microcarrier addition")

    @model_validator(mode="after")
    def _addition(self) -> Microcarrier:
        if (self.add_g_per_l is None) != (self.add_on_day is None):
            raise ValueError("a microcarrier addition needs both add_g_per_l and add_on_day")
        return self


class Seeding(_Model):
    cells_per_cm2: PositiveFloat | None = None
    cells_per_ml: PositiveFloat | None = None
    cells: PositiveFloat | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Seeding:
        given = [k for k in ("cells_per_cm2", "cells_per_ml", "cells") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of cells_per_cm2, cells_per_ml or cells"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Feeding(_Model):
    exchange_fraction: Fraction | None = None
    every_days: PositiveFloat | None = None
    perfusion_vvd: PositiveFloat | None = Field(default=None, description="vessel volumes per day")
    glucose_setpoint_mM: PositiveFloat | None = Field(
        default=None, description="fed-batch: glucose topped up to this level every every_days (no medium removed)"
    )
    lactate_setpoint_mM: PositiveFloat | None = Field(
        default=None,
        description=(
            "perfusion that follows the culture: the rate rises to hold lactate at this level, from "
            "perfusion_min_vvd up to perfusion_vvd (a hollow fibre's feed: from its starting to its "
            "largest feed rate)"
        ),
    )
    perfusion_min_vvd: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="lowest perfusion rate under lactate control, vessel volumes per day (default 0)"
    )

    @model_validator(mode="after")
    def _one_mode(self) -> Feeding:
        exchange = self.exchange_fraction is not None
        fed = self.glucose_setpoint_mM is not None
        modes = exchange + fed + (self.perfusion_vvd is not None)
        if modes > 1:
            raise ValueError(
                "give one feeding mode: exchange_fraction + every_days, perfusion_vvd, "
                "or glucose_setpoint_mM + every_days"
            )
        controlled = self.lactate_setpoint_mM is not None
        if modes == 0 and not controlled:
            raise ValueError("give exchange_fraction + every_days, perfusion_vvd, or glucose_setpoint_mM + every_days")
        if (exchange or fed) and self.every_days is None:
            raise ValueError("exchange and fed-batch feeding need every_days")
        if self.perfusion_vvd is not None and self.every_days is not None:
            raise ValueError("every_days does not apply to perfusion")
        if controlled and (exchange or fed):
            raise ValueError("lactate_setpoint_mM controls perfusion: give it with perfusion_vvd, not with exchanges")
        if self.perfusion_min_vvd is not None and not controlled:
            raise ValueError("perfusion_min_vvd applies to lactate-controlled perfusion (lactate_setpoint_mM)")
        if (
            self.perfusion_min_vvd is not None
            and self.perfusion_vvd is not None
            and self.perfusion_min_vvd > self.perfusion_vvd
        ):
            raise ValueError(
                f"perfusion_min_vvd {self.perfusion_min_vvd:g} exceeds perfusion_vvd {self.perfusion_vvd:g}"
            )
        return self


class Expansion(_Model):
    platform: Platform
    vessels: PositiveInt = 1
    working_volume_l: PositiveFloat | None = None
    area_cm2: PositiveFloat | None = None
    layers: Annotated[int, Field(ge=1, le=40)] | None = None
    surface_area_m2: PositiveFloat | None = None
    microcarrier: Microcarrier | None = None
    agitation_rpm: PositiveFloat | None = None
    aeration: Literal["surface", "sparged"] | None = Field(
        default=None, description="oxygen supply of stirred vessels (default: surface aeration)"
    )
    ic_volume_ml: PositiveFloat | None = Field(default=None, description="hollow_fiber: intra-capillary volume")
    ec_volume_ml: PositiveFloat | None = Field(default=None, description="hollow_fiber: extra-capillary volume")
    cell_compartment: Literal["ic", "ec"] | None = Field(
        default=None, description="hollow_fiber: compartment holding the cells and EVs (default ic)"
    )
    feed_ml_per_min: PositiveFloat | None = Field(default=None, description="hollow_fiber: medium feed rate")
    bed_volume_l: PositiveFloat | None = Field(default=None, description="fixed_bed: volume of the packed bed")
    linear_velocity_cm_per_s: PositiveFloat | None = Field(
        default=None, description="fixed_bed: superficial velocity of medium recirculated through the bed"
    )
    cells_per_aggregate: PositiveFloat | None = Field(default=None, description="spheroid: cells per aggregate")
    seeding: Seeding
    medium: ExpansionMedium
    basal_medium: BasalMedium | None = Field(
        default=None,
        description=(
            "basal medium formulation the supplement is added to; sets the glucose and glutamine of expansion "
            "(and, unless conditioning.basal_medium says otherwise, conditioning) medium. Default: not stated, "
            "the 5.5 mM glucose usual for MSC media"
        ),
    )
    feeding: Feeding | None = None
    days: PositiveFloat

    @model_validator(mode="after")
    def _platform_keys(self) -> Expansion:
        p = self.platform
        problems: list[str] = []
        if p in VOLUME_PLATFORMS and self.working_volume_l is None:
            problems.append(f"platform '{p}' needs working_volume_l")
        if p in MICROCARRIER_PLATFORMS and self.microcarrier is None:
            problems.append(f"platform '{p}' needs microcarrier: {{type: ..., g_per_l: ...}}")
        if p in SURFACE_PLATFORMS and self.surface_area_m2 is None:
            problems.append(f"platform '{p}' needs surface_area_m2")
        if p == "multilayer" and self.layers is None:
            problems.append("platform 'multilayer' needs layers (1 to 40)")
        if p not in ("planar", "multilayer") and self.area_cm2 is not None:
            problems.append(f"area_cm2 applies to planar and multilayer platforms, not '{p}'")
        if p != "multilayer" and self.layers is not None:
            problems.append(f"layers applies to the multilayer platform, not '{p}'")
        if p not in MICROCARRIER_PLATFORMS and self.microcarrier is not None:
            problems.append(f"microcarrier applies to {', '.join(MICROCARRIER_PLATFORMS)}, not '{p}'")
        if p not in (*MICROCARRIER_PLATFORMS, "spheroid") and self.agitation_rpm is not None:
            problems.append(f"agitation_rpm applies to stirred platforms, not '{p}'")
        if self.seeding.cells_per_ml is not None and p not in VOLUME_PLATFORMS:
            problems.append(f"seeding.cells_per_ml applies to volume-based platforms, not '{p}'")
        if self.seeding.cells_per_cm2 is not None and p == "spheroid":
            problems.append("seeding.cells_per_cm2 does not apply to spheroids; use cells_per_ml or cells")
        problems += _platform_specific_keys(self)
        fd = self.feeding
        if fd is not None and fd.lactate_setpoint_mM is not None and fd.perfusion_vvd is None and p != "hollow_fiber":
            problems.append(
                "feeding.lactate_setpoint_mM needs perfusion_vvd (the largest perfusion rate) except on a hollow fibre"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: Working-volume range [L] of the vessel families the platforms model.
VOLUME_RANGE_L = {"stirred_tank": (0.1, 200.0), "vertical_wheel": (0.1, 80.0)}
#: Keys that apply to one platform only.
PLATFORM_ONLY_KEYS = {
    "ic_volume_ml": ("hollow_fiber",),
    "ec_volume_ml": ("hollow_fiber",),
    "cell_compartment": ("hollow_fiber",),
    "feed_ml_per_min": ("hollow_fiber",),
    "bed_volume_l": ("fixed_bed",),
    "linear_velocity_cm_per_s": ("fixed_bed",),
    "cells_per_aggregate": ("spheroid",),
    "aeration": (*MICROCARRIER_PLATFORMS, "spheroid"),
}


def _platform_specific_keys(exp: Expansion) -> list[str]:
    """Problems with keys that belong to another platform, and with volume ranges."""
    p = exp.platform
    problems = [
        f"{key} applies to {', '.join(owners)}, not '{p}'"
        for key, owners in PLATFORM_ONLY_KEYS.items()
        if getattr(exp, key) is not None and p not in owners
    ]
    if p in VOLUME_RANGE_L and exp.working_volume_l is not None:
        lo, hi = VOLUME_RANGE_L[p]
        if not lo <= exp.working_volume_l <= hi:
            problems.append(f"working_volume_l: {exp.working_volume_l:g} L is outside {lo:g}-{hi:g} L for '{p}'")
    if p == "hollow_fiber" and exp.working_volume_l is not None:
        problems.append("hollow_fiber is described by ic_volume_ml and ec_volume_ml, not working_volume_l")
    return problems


class Conditioning(_Model):
    medium: ConditioningMedium = "serum_free"
    basal_medium: BasalMedium | None = Field(
        default=None,
        description="basal medium of the conditioning medium (default: expansion.basal_medium)",
    )
    days: PositiveFloat = 2
    collections: Annotated[int, Field(ge=1, le=60)] = 1
    strategies: list[str] = Field(default_factory=list)


class _Op(_Model):
    op: str


class Centrifugation(_Op):
    op: Literal["centrifugation"]
    g: PositiveFloat = 2000
    minutes: PositiveFloat = 20


class DepthFiltration(_Op):
    op: Literal["depth_filtration"]
    area_m2: PositiveFloat | None = None


class Microfiltration(_Op):
    op: Literal["microfiltration"]
    pore_um: PositiveFloat = 0.45
    area_m2: PositiveFloat | None = None


class Ultracentrifugation(_Op):
    op: Literal["ultracentrifugation"]
    g: PositiveFloat = 100_000
    minutes: PositiveFloat = 70
    washes: Annotated[int, Field(ge=0, le=5)] = 1
    resuspension_ml: PositiveFloat | None = None
    rotor: Literal["fixed_angle", "swinging_bucket"] = Field(
        default="fixed_angle", description="rotor type: sets the radial path and the volume per run"
    )
    cutoff_nm: PositiveFloat | None = Field(
        default=None,
        description="spin for the k-factor clearing time of EVs of this diameter instead of `minutes`",
    )


class DensityGradient(_Op):
    op: Literal["density_gradient"]
    medium: Literal["iodixanol", "sucrose"] = "iodixanol"
    hours: PositiveFloat = 18


class TFF(_Op):
    op: Literal["tff"]
    mwco_kda: PositiveFloat = 300
    concentration_factor: Annotated[float, Field(ge=1)] = 20
    diafiltration_volumes: NonNegFloat = 5
    membrane_area_m2: PositiveFloat | None = None


class Ultrafiltration(_Op):
    op: Literal["ultrafiltration"]
    mwco_kda: PositiveFloat = 100
    concentration_factor: Annotated[float, Field(ge=1)] = 20


class SEC(_Op):
    op: Literal["sec"]
    resin: Literal["sepharose_cl2b", "sepharose_cl4b", "sepharose_cl6b", "qev"] = "sepharose_cl4b"
    column_volume_ml: PositiveFloat | None = None


class AnionExchange(_Op):
    op: Literal["anion_exchange"]
    resin_volume_ml: PositiveFloat | None = None


class Multimodal(_Op):
    """``core_bead``: ligand-activated core beads in flow-through (proteins bind, vesicles pass);
    ``dual_mode``: size exclusion over a cation exchanger in one column, which also clears
    ApoB lipoproteins (Van Deun et al. 2020, doi:10.1002/adbi.201900310)."""

    op: Literal["multimodal_chromatography"]
    mode: Literal["core_bead", "dual_mode"] = "core_bead"
    resin_volume_ml: PositiveFloat | None = None


class PEGPrecipitation(_Op):
    op: Literal["peg_precipitation"]
    peg_percent: PositiveFloat = 8
    hours: PositiveFloat = 12


class Immunoaffinity(_Op):
    op: Literal["immunoaffinity"]
    marker: Literal["cd9", "cd63", "cd81", "pan_tetraspanin"] = "cd63"


class SterileFiltration(_Op):
    op: Literal["sterile_filtration"]
    pore_um: PositiveFloat = 0.22


class Lyophilization(_Op):
    op: Literal["lyophilization"]
    excipient: Literal["trehalose", "sucrose", "mannitol", "none"] = "trehalose"


class Storage(_Op):
    op: Literal["storage"]
    temperature_c: Literal[4, -20, -80] = -80
    days: NonNegFloat = 28
    freeze_thaw_cycles: Annotated[int, Field(ge=0, le=10)] = 1


class Hold(_Op):
    op: Literal["hold"]
    hours: PositiveFloat = 24
    temperature_c: Literal[4] = 4


UnitOperation = Annotated[
    Centrifugation
    | DepthFiltration
    | Microfiltration
    | Ultracentrifugation
    | DensityGradient
    | TFF
    | Ultrafiltration
    | SEC
    | AnionExchange
    | Multimodal
    | PEGPrecipitation
    | Immunoaffinity
    | SterileFiltration
    | Lyophilization
    | Storage
    | Hold,
    Field(discriminator="op"),
]

#: The model class of every unit operation, in contract order (from the union above).
OPERATION_MODELS: tuple[type[BaseModel], ...] = get_args(get_args(UnitOperation)[0])
#: Operation id -> model class.
_OP_MODELS: dict[str, type[BaseModel]] = {get_args(m.model_fields["op"].annotation)[0]: m for m in OPERATION_MODELS}
UNIT_OPERATION_IDS: tuple[str, ...] = tuple(_OP_MODELS)


class MeasuredSize(_Model):
    """A measured number size distribution of EVs: an NTA export, or its bins."""

    nta_file: str | None = Field(
        default=None,
        description="NanoSight ExperimentSummary.csv or ZetaView .txt export; a relative path starts at the scenario "
        "file's folder (read when the scenario is loaded)",
    )
    diameters_nm: list[Annotated[float, Field(gt=0, le=10_000)]] | None = Field(
        default=None, description="bin centres, increasing [nm] (0-10,000 nm)"
    )
    fractions: list[NonNegFloat] | None = Field(
        default=None, description="number of particles per bin, any scale (normalised to fractions) [-]"
    )
    source: str | None = Field(default=None, description="where the distribution comes from (file and its SHA-256)")

    @model_validator(mode="after")
    def _bins(self) -> MeasuredSize:
        given = (self.diameters_nm is not None, self.fractions is not None)
        if given[0] != given[1]:
            raise ValueError("give diameters_nm and fractions together (one number per bin)")
        if not any(given) and self.nta_file is None:
            raise ValueError("give nta_file, or diameters_nm and fractions")
        if self.diameters_nm is not None and self.fractions is not None:
            d, f = self.diameters_nm, self.fractions
            if len(d) != len(f) or len(d) < 3:
                raise ValueError(f"diameters_nm and fractions need one number per bin, 3 or more ({len(d)}, {len(f)})")
            if any(b <= a for a, b in itertools.pairwise(d)):
                raise ValueError("diameters_nm must increase")
            if sum(f) <= 0:
                raise ValueError("fractions must not all be 0")
        return self


class EVSize(_Model):
    """Measured EV size distributions (NTA) of the process."""

    harvest: MeasuredSize | None = Field(
        default=None,
        description="EVs in the conditioned medium: replaces the default lognormal size of the product EVs, so "
        "size-dependent isolation steps act on this population",
    )
    product: MeasuredSize | None = Field(
        default=None, description="EVs after isolation, measured: compared with the predicted distribution (report)"
    )


class Dose(_Model):
    particles: PositiveFloat | None = None
    protein_ug: PositiveFloat | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Dose:
        if (self.particles is None) == (self.protein_ug is None):
            raise ValueError("give exactly one of particles or protein_ug")
        return self


class Demand(_Model):
    doses_per_year: PositiveFloat
    lot_size_doses: PositiveFloat | None = Field(
        default=None, description="doses per released lot; a batch is filled into whole lots, each tested"
    )


class Economics(_Model):
    currency: Literal["USD"] = "USD"
    prices: dict[str, NonNegFloat] = Field(default_factory=dict)
    labour_rate_per_h: PositiveFloat | None = None
    price_year: Annotated[int, Field(ge=2013, le=2024)] = Field(
        default=2024, description="year of the currency: default prices are escalated to it by a price index"
    )
    facility_use: Literal["dedicated", "shared", "campaign", "cdmo"] = Field(
        default="dedicated",
        description=(
            "dedicated: the lines a demand needs are paid all year; shared: the days a batch occupies plus a "
            "product changeover per batch; campaign: the days used plus one changeover per campaign; cdmo: a "
            "contract manufacturer's day rate for the days booked (no own facility or equipment)"
        ),
    )
    campaigns_per_year: Annotated[int, Field(ge=1, le=365)] = Field(
        default=1, description="campaigns the yearly batches run in (facility_use campaign or cdmo)"
    )


#: Parameters whose override may say what it was measured on (``measured_on``).
MEASURED_ON_PARAMETERS = ("ev_secretion_rate",)


class ParameterOverride(_Model):
    """A user's value for one named parameter (``exoforge parameters`` lists the names)."""

    value: float = Field(description="the value, in `unit`")
    unit: str = Field(description="a unit measuring the same quantity as the default's (e.g. '1/day', 'mM')")
    measured_on: Literal["planar", "this_process"] | None = Field(
        default=None,
        description=(
            "ev_secretion_rate only: what the rate was measured on. 'planar' (the default): a planar culture, so "
            "the platform and strategy effects on EV secretion still multiply it (a warning names them); "
            "'this_process': this very process (platform, conditioning and strategies), so nothing multiplies it"
        ),
    )


class Scenario(_Model):
    """A complete production process, as a user describes it."""

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    cell_source: CellSource
    expansion: Expansion
    conditioning: Conditioning = Field(default_factory=Conditioning)
    isolation: list[UnitOperation] = Field(min_length=1)
    dose: Dose
    demand: Demand | None = None
    economics: Economics = Field(default_factory=Economics)
    parameters: dict[str, ParameterOverride] = Field(default_factory=dict)
    ev_size: EVSize | None = Field(default=None, description="measured EV size distributions (NTA exports or bins)")

    @field_validator("parameters")
    @classmethod
    def _measured_on_only_for_rates(cls, v: dict[str, ParameterOverride]) -> dict[str, ParameterOverride]:
        for name, override in v.items():
            if override.measured_on is not None and name not in MEASURED_ON_PARAMETERS:
                raise ValueError(f"'{name}' does not take measured_on (only {', '.join(MEASURED_ON_PARAMETERS)} does)")
        return v

    def measured_on(self, name: str) -> str:
        """What the user's value of ``name`` was measured on: 'planar' unless the override says otherwise."""
        override = self.parameters.get(name)
        if override is None or override.measured_on is None:
            return "planar"
        return override.measured_on

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (unset optional keys left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level keys replaced, validated again."""
        data = self.model_dump(mode="python")
        data.update(changes)
        return Scenario.model_validate(data)


class ScenarioError(ValueError):
    """A scenario file or mapping breaks the contract. ``problems`` holds one line each."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(problems))


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """YAML loader that reads ``1.0e11`` (no exponent sign) as a float, as users mean it."""


_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_Loader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:float"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or TOML file into a mapping, raising :class:`ScenarioError` on syntax errors."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError([f"file not found: {p}"], None)
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        msg = str(exc).replace("\n", " ")
        raise ScenarioError([f"(file): not valid {'TOML' if p.suffix == '.toml' else 'YAML'}: {msg}"], str(p)) from exc
    if not isinstance(data, dict):
        raise ScenarioError(["(file): the top level must be a mapping of keys to values"], str(p))
    return data


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(loc: tuple[Any, ...], data: Any) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at ``loc`` (for key suggestions)."""
    model: type[BaseModel] | None = Scenario
    node = data
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            # a discriminated-union tag, e.g. 'tff' in ('isolation', 0, 'tff', ...)
            op_model = _OP_MODELS.get(str(part))
            if op_model is not None:
                model = op_model
                continue
            return None
        node = node.get(part) if isinstance(node, dict) else None
        ann = field.annotation
        model = None
        for cand in _flatten_types(ann):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
                break
        if str(part) == "isolation" and isinstance(node, list):
            model = None
    return model


def _flatten_types(ann: Any) -> list[Any]:
    out = [ann]
    for a in get_args(ann):
        out.extend(_flatten_types(a))
    return out


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return repr(v)


def _format_errors(err: ValidationError, data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for e in err.errors():
        raw_loc = tuple(e["loc"])
        # drop discriminator tags from the printed path: isolation.0.tff.x -> isolation[0].x
        parts: list[str] = []
        for i, part in enumerate(raw_loc):
            if isinstance(part, int):
                parts.append(f"[{part}]")
            elif i > 0 and isinstance(raw_loc[i - 1], int) and part in _OP_MODELS:
                continue
            else:
                parts.append(("." if parts else "") + str(part))
        path = "".join(parts) or "(top level)"
        etype = e["type"]
        value = e.get("input")
        if etype == "extra_forbidden":
            owner = _model_at(raw_loc[:-1], data)
            options = _allowed_keys(owner) if owner else []
            key = raw_loc[-1]
            msg = f"{path}: unknown key{_suggest(str(key), options)}"
            if options:
                msg += f"; allowed here: {', '.join(options)}"
        elif etype == "missing":
            msg = f"{path}: required key is missing"
        elif etype in ("literal_error", "enum"):
            expected = e.get("ctx", {}).get("expected", "")
            opts = re.findall(r"'([^']*)'", expected)
            msg = f"{path}: {_fmt_value(value)} is not allowed; choose one of {', '.join(opts) or expected}"
            msg += _suggest(str(value), opts)
        elif etype == "union_tag_invalid":
            opts = list(_OP_MODELS)
            tag = e.get("ctx", {}).get("tag", value)
            msg = f"{path}.op: {_fmt_value(tag)} is not a unit operation; choose one of {', '.join(opts)}"
            msg += _suggest(str(tag), opts)
        elif etype == "union_tag_not_found":
            msg = f"{path}: each isolation step needs 'op' (one of {', '.join(_OP_MODELS)})"
        elif etype == "value_error":
            text = str(e.get("msg", "")).removeprefix("Value error, ")
            msg = f"{path}: {text}"
        else:
            text = e.get("msg", "invalid value")
            msg = f"{path}: {_fmt_value(value)} is invalid: {text[0].lower() + text[1:] if text else text}"
        if msg not in seen:
            seen.add(msg)
            problems.append(msg)
    return problems


def _check_strategies(data: dict[str, Any]) -> list[str]:
    """Problems with ``conditioning.strategies`` (checked on the raw mapping, so that they are
    reported together with every other problem of the file)."""
    from exoforge.evidence.store import load_strategies

    cond = data.get("conditioning")
    listed = cond.get("strategies") if isinstance(cond, dict) else None
    if not isinstance(listed, list):
        return []
    catalogue = {s.id: s for s in load_strategies()}
    allowed = sorted(k for k, s in catalogue.items() if s.scenario)
    problems = []
    for i, sid in enumerate(listed):
        if not isinstance(sid, str):
            continue
        if sid not in catalogue or not catalogue[sid].scenario:
            problems.append(
                f"conditioning.strategies[{i}]: '{sid}' is not a strategy a scenario can use"
                f"{_suggest(sid, allowed)}; choose from {', '.join(allowed)}"
            )
    if len(set(map(str, listed))) != len(listed):
        problems.append("conditioning.strategies: a strategy is listed twice")
    return problems


def parse_scenario(data: dict[str, Any], source: str | None = None) -> Scenario:
    """Validate a mapping against the contract; raise :class:`ScenarioError` listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(["(top level): a scenario must be a mapping of keys to values"], source)
    version = data.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        raise ScenarioError(
            [f"schema_version: {_fmt_value(version)} is not supported; this exoforge reads schema_version 1"],
            source,
        )
    problems = _check_strategies(data)
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, data) + problems, source) from None
    if problems:
        raise ScenarioError(problems, source)
    return scn


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (``.yaml``, ``.yml`` or ``.toml``).

    NTA exports named under ``ev_size`` are read here (relative to the file's folder) into bins.
    """
    scn = parse_scenario(read_mapping(path), str(path))
    if scn.ev_size is not None:
        from exoforge.characterization.size import read_size_files

        scn = read_size_files(scn, Path(path).parent, str(path))
    return scn
