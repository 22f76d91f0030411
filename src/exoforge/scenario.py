"""The scenario contract (schema_version 1): what a user writes to describe a process.

A scenario file is YAML (or TOML). :func:`load_scenario` reads it, validates it
against the models below and returns a :class:`Scenario`; a file that breaks
the contract raises :class:`ScenarioError`, whose ``problems`` hold one line per
problem naming the key path, the bad value and what is allowed.

Every field carries a description with its unit, and every number a finite range a real
process can have (``exoforge schema`` shows both). Ranges come from published vessel scales
where a citable figure was read and are otherwise judgements of what a process can sensibly
use, which the description then says; a value outside is refused before anything is computed.

The keys are a public contract (see the project's DESIGN.md): add keys freely,
rename or remove one only with a new ``schema_version`` and a migration.
"""

# Longer than 500 lines: the scenario contract is one pydantic model per block, every field with its
# description, unit and bounds, and the messages that name key paths; one file keeps the public contract in one
# place and in step with `exoforge schema`.

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from exoforge.datafiles import validate_catalogue
from exoforge.downstream.operations import operation_settings
from exoforge.scenario_fields import (
    JUDGEMENT,
    ContractModel,
    Int,
    Num,
    OperationSettings,
    field_range,
    fmt_bound,
    operation_id,
    quantity,
    range_text,
    unit_of,
)
from exoforge.yamlio import FileProblem, load_yaml, read_user_file

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- catalogues


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    """The packaged catalogue of media and microcarriers (``exoforge/data/catalogue.yaml``)."""
    text = resources.files("exoforge.data").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = load_yaml(text)
    validate_catalogue(Path("catalogue.yaml"), text, data)  # an unknown key or use is refused, by line
    return data


#: Media added by plug-ins (:func:`register_medium`), entries as in the catalogue.
_PLUGIN_MEDIA: list[dict[str, Any]] = []


def plugin_media() -> dict[str, list[str]]:
    """The media plug-ins added, with their uses."""
    return {m["id"]: list(m["use"]) for m in _PLUGIN_MEDIA}


def media_for(use: str) -> tuple[str, ...]:
    """Ids of the catalogue's media (and plug-ins') usable for ``use`` ('expansion' or 'conditioning')."""
    return tuple(m["id"] for m in (*_catalogue()["media"], *_PLUGIN_MEDIA) if use in m["use"])


def medium_parameter_names(medium: str, uses: Sequence[str]) -> list[str]:
    """The parameters the model reads for ``medium`` (a medium's data file must give each)."""
    names = [
        f"{prefix}.{medium}"
        for prefix in (
            "medium_glucose",
            "medium_glutamine",
            "medium_protein",
            "medium_background_particles",
            "medium_lipoprotein_share",
        )
    ]
    names.append(f"price.{medium}_medium_per_l")
    if "conditioning" in uses:
        names += [f"conditioning_growth_factor.{medium}", f"conditioning_death_factor.{medium}"]
    return names


#: Microcarriers added by plug-ins (:func:`register_microcarrier`), entries as in the catalogue.
_PLUGIN_MICROCARRIERS: list[dict[str, Any]] = []


def microcarrier_types() -> tuple[str, ...]:
    """Ids of the catalogue's microcarriers (and plug-ins')."""
    return tuple(m["id"] for m in (*_catalogue()["microcarriers"], *_PLUGIN_MICROCARRIERS))


def microcarrier_parameter_names(microcarrier: str) -> list[str]:
    """The parameters the model reads for ``microcarrier`` (a microcarrier's data file must give each)."""
    return [
        f"{prefix}.{microcarrier}"
        for prefix in (
            "microcarrier_area_per_mass",
            "microcarrier_diameter",
            "microcarrier_density",
            "microcarrier_swollen_volume",
        )
    ]


def basal_media() -> tuple[str, ...]:
    """Ids of the catalogue's basal media."""
    return tuple(m["id"] for m in _catalogue()["basal_media"])


def catalogue_labels() -> dict[str, str]:
    """Label of every medium and microcarrier of the catalogue (and of plug-ins' media), by id."""
    cat = _catalogue()
    entries = (*cat["media"], *_PLUGIN_MEDIA, *cat["microcarriers"], *_PLUGIN_MICROCARRIERS, *cat["basal_media"])
    return {m["id"]: m["label"] for m in entries}


@lru_cache(maxsize=1)
def scenario_strategies() -> tuple[str, ...]:
    """Ids of the strategies a scenario may list (``scenario: true`` in the strategy catalogue)."""
    text = resources.files("exoforge.evidence.data").joinpath("strategies.yaml").read_text(encoding="utf-8")
    return tuple(sorted(s["id"] for s in load_yaml(text)["strategies"] if s.get("scenario")))


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
if TYPE_CHECKING:
    ExpansionMedium = str
    ConditioningMedium = str
    MicrocarrierType = str
    BasalMedium = str
else:  # generated from the packaged catalogue (exoforge/data/catalogue.yaml)
    ExpansionMedium = Literal[media_for("expansion")]
    ConditioningMedium = Literal[(*media_for("conditioning"), "same")]
    MicrocarrierType = Literal[microcarrier_types()]
    #: Basal media (glucose and glutamine per formulation: ``exoforge parameters --search basal_``).
    BasalMedium = Literal[basal_media()]

#: Platforms whose cells grow on microcarriers suspended in a stirred volume.
MICROCARRIER_PLATFORMS = ("spinner", "stirred_tank", "vertical_wheel")
#: Platforms described by a working volume.
VOLUME_PLATFORMS = ("spinner", "stirred_tank", "vertical_wheel", "spheroid")
#: Platforms described by a surface area in m².
SURFACE_PLATFORMS = ("hollow_fiber", "fixed_bed")
#: Plug-ins' platforms -> the built-in platform whose scenario keys each takes.
_PLATFORM_LIKE: dict[str, str] = {}


def behaves_like(platform: str) -> str:
    """The built-in platform whose scenario keys ``platform`` takes (itself for a built-in)."""
    return _PLATFORM_LIKE.get(platform, platform)


#: Longest culture a scenario may describe [day]: expansion plus every conditioning period.
MAX_CULTURE_DAYS = 365.0
#: Shortest interval between medium exchanges, feeds or collections [day] (one hour).
MIN_INTERVAL_DAYS = 1.0 / 24.0

# --------------------------------------------------------------------------- expansion


class Microcarrier(ContractModel):
    """Microcarriers of a stirred culture (spinner, stirred_tank, vertical_wheel)."""

    type: MicrocarrierType = Field(
        default="cytodex3",
        description="microcarrier product (choices from the packaged catalogue); sets area per gram, bead size "
        "and density",
    )
    g_per_l: Num = quantity(
        ...,
        0.1,
        50,
        "g/L",
        "microcarrier loading per litre of working volume",
        basis=f"{JUDGEMENT}: MSC processes use 1-20 g/L (dextran beads near 1-5 g/L, polystyrene beads more)",
    )
    add_g_per_l: Num | None = quantity(
        None,
        0.1,
        50,
        "g/L",
        "fresh microcarriers added during expansion, per litre of working volume (bead-to-bead transfer); "
        "needs add_on_day",
        basis=f"{JUDGEMENT}, as g_per_l",
    )
    add_on_day: Num | None = quantity(
        None,
        0,
        MAX_CULTURE_DAYS,
        "day",
        "day of expansion on which the fresh microcarriers are added (an addition on or after expansion.days "
        "does not happen); needs add_g_per_l",
        lo_open=True,
        basis=f"{JUDGEMENT}: within the longest culture a scenario may describe",
    )

    @model_validator(mode="after")
    def _addition(self) -> Microcarrier:
        if (self.add_g_per_l is None) != (self.add_on_day is None):
            raise ValueError("a microcarrier addition needs both add_g_per_l and add_on_day")
        return self


class Seeding(ContractModel):
    """How many cells start the culture: exactly one of the three keys."""

    cells_per_cm2: Num | None = quantity(
        None,
        1,
        1e6,
        "cell/cm**2",
        "cells seeded per cm² of growth surface (planar, multilayer, microcarrier, hollow-fibre and fixed-bed "
        "surfaces)",
        basis=f"{JUDGEMENT}: MSC are seeded at 100-10,000 cells/cm² and are confluent near 2-5e4 cells/cm²; "
        "1e6 cells/cm² is far above any monolayer",
    )
    cells_per_ml: Num | None = quantity(
        None,
        1,
        1e8,
        "cell/mL",
        "cells seeded per mL of working volume (volume-based platforms)",
        basis=f"{JUDGEMENT}: microcarrier cultures start near 1e4-5e4 cells/mL and spheroid cultures near "
        "1e5-1e6 cells/mL; 1e8 cells/mL is a packed cell suspension",
    )
    cells: Num | None = quantity(
        None,
        1,
        1e12,
        "cell",
        "total cells seeded per vessel (any platform; the usual form for hollow-fibre cartridges)",
        basis=f"{JUDGEMENT}: from a single-colony plating to an allogeneic master bank (1e12 cells)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Seeding:
        given = [k for k in ("cells_per_cm2", "cells_per_ml", "cells") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of cells_per_cm2, cells_per_ml or cells"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Feeding(ContractModel):
    """Medium handling during expansion: one mode of exchanges, fed-batch top-ups or perfusion."""

    exchange_fraction: Num | None = quantity(
        None,
        0,
        1,
        "1",
        "fraction of the medium replaced by fresh medium at each exchange (every every_days)",
        lo_open=True,
        basis="by definition: a fraction of the volume",
    )
    every_days: Num | None = quantity(
        None,
        MIN_INTERVAL_DAYS,
        MAX_CULTURE_DAYS,
        "day",
        "interval between exchanges or fed-batch top-ups",
        basis=f"{JUDGEMENT}: from hourly to once in the longest culture a scenario may describe",
    )
    perfusion_vvd: Num | None = quantity(
        None,
        0,
        20,
        "1/day",
        "continuous perfusion in vessel volumes per day (no every_days)",
        lo_open=True,
        basis=f"{JUDGEMENT}: MSC and EV perfusion runs use 0.1-2 vessel volumes per day; 20 is far beyond "
        "what a cell-retention device passes",
    )
    glucose_setpoint_mM: Num | None = quantity(
        None,
        0.1,
        100,
        "mM",
        "fed-batch: glucose topped up to this level every every_days (no medium removed)",
        basis=f"{JUDGEMENT}: culture media hold 5.5-25 mM glucose; 100 mM is hyperosmotic",
    )
    lactate_setpoint_mM: Num | None = quantity(
        None,
        0.1,
        100,
        "mM",
        "perfusion that follows the culture: the rate rises to hold lactate at this level, from "
        "perfusion_min_vvd up to perfusion_vvd (a hollow fibre's feed: from its starting to its largest feed rate)",
        basis=f"{JUDGEMENT}: MSC cultures are held below 10-20 mM lactate; 100 mM is beyond any culture",
    )
    perfusion_min_vvd: Num | None = quantity(
        None,
        0,
        20,
        "1/day",
        "lowest perfusion rate under lactate control, vessel volumes per day (default 0)",
        basis=f"{JUDGEMENT}, as perfusion_vvd",
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


#: Working-volume range [L] of each volume-based platform (checked against the platform).
VOLUME_RANGE_L = {
    "spinner": (0.01, 3.0),
    "stirred_tank": (0.1, 200.0),
    "vertical_wheel": (0.1, 80.0),
    "spheroid": (0.001, 50.0),
    "fixed_bed": (0.01, 2000.0),
    "planar": (0.001, 50.0),
    "multilayer": (0.001, 50.0),
}
#: Surface range [m²] of each surface platform (checked against the platform).
SURFACE_RANGE_M2 = {"hollow_fiber": (0.01, 10.0), "fixed_bed": (0.01, 600.0)}
VOLUME_RANGE_BASIS = (
    "published single-use stirred-tank working volumes span 0.25-2,000 L (BioProcess International, "
    "'Superior scalability of single-use bioreactors'; no DOI); per platform: "
    + "; ".join(f"{p} {fmt_bound(lo)}-{fmt_bound(hi)} L" for p, (lo, hi) in VOLUME_RANGE_L.items())
    + f" ({JUDGEMENT}: stirred tanks as used for MSC on microcarriers, Vertical-Wheel vessels 0.1-80 L and "
    "spinner flasks up to 3 L are vendor ranges not read in a citable source; fixed beds: medium reservoir "
    "volume; planar: medium per vessel)"
)
SURFACE_RANGE_BASIS = (
    "fixed beds of the largest commercial vessel family span 66-500 m² (Cytiva application note 'iCELLis 500+ "
    "bioreactor linear speed characterization', 2025; no DOI); per platform: "
    + "; ".join(f"{p} {fmt_bound(lo)}-{fmt_bound(hi)} m²" for p, (lo, hi) in SURFACE_RANGE_M2.items())
    + f" ({JUDGEMENT}: hollow-fibre cartridges from laboratory modules to the 2.1 m² clinical cartridge, with "
    "room for larger ones)"
)


class Expansion(ContractModel):
    """The expansion phase: platform, its size, seeding, medium, feeding and duration."""

    platform: Platform = Field(description="expansion platform; decides which of the keys below apply")
    vessels: Int = quantity(
        1,
        1,
        1000,
        "1",
        "identical vessels of the platform run in parallel in one batch",
        basis=f"{JUDGEMENT}: a batch of one line; 50-100 ten-layer vessels per lot is the practical handling "
        "limit reported for planar scale-out (American Pharmaceutical Review, cost-effectiveness of single-use "
        "technologies for cell therapy; no DOI)",
    )
    working_volume_l: Num | None = quantity(
        None,
        0.001,
        2000,
        "L",
        "working (medium) volume of one vessel: spinner, stirred_tank, vertical_wheel and spheroid need it; "
        "fixed_bed: the recirculated medium; planar and multilayer: medium per vessel (default from the area)",
        basis=VOLUME_RANGE_BASIS,
    )
    area_cm2: Num | None = quantity(
        None,
        1,
        2000,
        "cm**2",
        "growth area of one planar vessel, or of one layer of a multilayer vessel (default: a T-175 flask, or "
        "the catalogue's layer)",
        basis="T-flasks span 25-225 cm² and roller bottles 850-1,700 cm² (Front Nutr 2020, "
        f"doi:10.3389/fnut.2020.575146, Table 1); {JUDGEMENT}: widened down to dishes and wells",
    )
    layers: Int | None = quantity(
        None,
        1,
        40,
        "1",
        "layers of one multilayer vessel (area per layer from area_cm2 or the default)",
        basis="multilayer vessels span 525-18,000 cm² (Front Nutr 2020, doi:10.3389/fnut.2020.575146, Table 1), "
        "up to 40 layers of about 636 cm²",
    )
    surface_area_m2: Num | None = quantity(
        None,
        0.01,
        600,
        "m**2",
        "growth surface of one hollow-fibre cartridge or fixed bed",
        basis=SURFACE_RANGE_BASIS,
    )
    microcarrier: Microcarrier | None = Field(
        default=None, description="microcarrier type and loading (spinner, stirred_tank, vertical_wheel only)"
    )
    agitation_rpm: Num | None = quantity(
        None,
        1,
        500,
        "rpm",
        "impeller (or wheel) speed of spinner, stirred_tank, vertical_wheel and agitated spheroid cultures; "
        "omitted: the vessel's just-suspended speed N_js (spheroids: static)",
        basis=f"{JUDGEMENT}: MSC on microcarriers are agitated at 20-150 rpm; 500 rpm is far into the range "
        "that damages cells",
    )
    aeration: Literal["surface", "sparged"] | None = Field(
        default=None,
        description="oxygen supply of stirred vessels and spheroid cultures: surface aeration (the default) or "
        "sparged gas",
    )
    ic_volume_ml: Num | None = quantity(
        None,
        0.1,
        10_000,
        "mL",
        "hollow_fiber: intra-capillary volume of the cartridge (default from the surface area)",
        basis=f"{JUDGEMENT}: laboratory cartridges hold a few mL, the 2.1 m² clinical cartridge below 200 mL",
    )
    ec_volume_ml: Num | None = quantity(
        None,
        0.1,
        10_000,
        "mL",
        "hollow_fiber: extra-capillary (shell) volume of the cartridge (default from the surface area)",
        basis=f"{JUDGEMENT}: laboratory cartridges hold a few mL, the 2.1 m² clinical cartridge about 300 mL",
    )
    cell_compartment: Literal["ic", "ec"] | None = Field(
        default=None,
        description="hollow_fiber: compartment holding the cells and their EVs, intra- (ic, the default) or "
        "extra-capillary (ec)",
    )
    feed_ml_per_min: Num | None = quantity(
        None,
        0.001,
        100,
        "mL/min",
        "hollow_fiber: fresh-medium feed rate (default from the surface area)",
        basis=f"{JUDGEMENT}: clinical hollow-fibre MSC runs feed 0.1-2 mL/min on 2.1 m²",
    )
    bed_volume_l: Num | None = quantity(
        None,
        0.001,
        100,
        "L",
        "fixed_bed: volume of the packed bed (default from the surface area)",
        basis=f"{JUDGEMENT}: bench beds hold tens of mL, the largest commercial beds tens of litres",
    )
    linear_velocity_cm_per_s: Num | None = quantity(
        None,
        1e-4,
        10,
        "cm/s",
        "fixed_bed: superficial velocity of the medium recirculated through the bed (default from the data)",
        basis=f"{JUDGEMENT}: vendor characterisations report velocities of the order of 1 cm/s; slower "
        "recirculation is allowed so that the bed oxygen check can flag it",
    )
    cells_per_aggregate: Num | None = quantity(
        None,
        100,
        1e7,
        "cell",
        "spheroid: cells per aggregate (default from the data)",
        basis="MSC spheroids are formed from 1e3 to 6e4 cells (Murphy et al. 2017, see the parameter "
        f"cells_per_aggregate); {JUDGEMENT}: widened a decade below and to 1e7 above, where the oxygen-penetration "
        "check flags the aggregates as too large",
    )
    seeding: Seeding = Field(description="cells that start the culture: cells_per_cm2, cells_per_ml or cells")
    medium: ExpansionMedium = Field(description="expansion medium (choices from the packaged catalogue)")
    basal_medium: BasalMedium | None = Field(
        default=None,
        description=(
            "basal medium formulation the supplement is added to (choices from the packaged catalogue); sets the "
            "glucose and glutamine of expansion (and, unless conditioning.basal_medium says otherwise, "
            "conditioning) medium. Default: not stated, the 5.5 mM glucose usual for MSC media"
        ),
    )
    feeding: Feeding | None = Field(
        default=None, description="medium handling during expansion; omitted: no exchange until conditioning"
    )
    days: Num = quantity(
        ...,
        0,
        MAX_CULTURE_DAYS,
        "day",
        "duration of the expansion phase, from seeding to the start of conditioning",
        lo_open=True,
        basis=f"{JUDGEMENT}: a culture of at most a year (expansion plus conditioning, checked together)",
    )

    @model_validator(mode="after")
    def _platform_keys(self) -> Expansion:
        p = self.platform
        kind = behaves_like(p)  # a plug-in's platform takes the keys of the built-in it is like
        problems: list[str] = []
        if kind in VOLUME_PLATFORMS and self.working_volume_l is None:
            problems.append(f"platform '{p}' needs working_volume_l")
        if kind in MICROCARRIER_PLATFORMS and self.microcarrier is None:
            problems.append(f"platform '{p}' needs microcarrier: {{type: ..., g_per_l: ...}}")
        if kind in SURFACE_PLATFORMS and self.surface_area_m2 is None:
            problems.append(f"platform '{p}' needs surface_area_m2")
        if kind == "multilayer" and self.layers is None:
            problems.append(f"platform '{p}' needs layers (1 to 40)")
        if kind not in ("planar", "multilayer") and self.area_cm2 is not None:
            problems.append(f"area_cm2 applies to planar and multilayer platforms, not '{p}'")
        if kind != "multilayer" and self.layers is not None:
            problems.append(f"layers applies to the multilayer platform, not '{p}'")
        if kind not in MICROCARRIER_PLATFORMS and self.microcarrier is not None:
            problems.append(f"microcarrier applies to {', '.join(MICROCARRIER_PLATFORMS)}, not '{p}'")
        if kind not in (*MICROCARRIER_PLATFORMS, "spheroid") and self.agitation_rpm is not None:
            problems.append(f"agitation_rpm applies to stirred platforms, not '{p}'")
        if self.seeding.cells_per_ml is not None and kind not in VOLUME_PLATFORMS:
            problems.append(f"seeding.cells_per_ml applies to volume-based platforms, not '{p}'")
        if self.seeding.cells_per_cm2 is not None and kind == "spheroid":
            problems.append("seeding.cells_per_cm2 does not apply to spheroids; use cells_per_ml or cells")
        problems += _platform_specific_keys(self)
        fd = self.feeding
        setpoint_alone = fd is not None and fd.lactate_setpoint_mM is not None and fd.perfusion_vvd is None
        if setpoint_alone and kind != "hollow_fiber":
            problems.append(
                "feeding.lactate_setpoint_mM needs perfusion_vvd (the largest perfusion rate) except on a hollow fibre"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


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
    """Problems with keys that belong to another platform, and with each platform's scale range."""
    p = exp.platform
    problems = [
        f"{key} applies to {', '.join(owners)}, not '{p}'"
        for key, owners in PLATFORM_ONLY_KEYS.items()
        if getattr(exp, key) is not None and behaves_like(p) not in owners
    ]
    if p in VOLUME_RANGE_L and exp.working_volume_l is not None:
        lo, hi = VOLUME_RANGE_L[p]
        if not lo <= exp.working_volume_l <= hi:
            problems.append(
                f"working_volume_l: {exp.working_volume_l:g} L is outside {lo:g}-{hi:g} L for '{p}'"
                f" (allowed: {range_text(lo, hi, 'L')})"
            )
    if p in SURFACE_RANGE_M2 and exp.surface_area_m2 is not None:
        lo, hi = SURFACE_RANGE_M2[p]
        if not lo <= exp.surface_area_m2 <= hi:
            problems.append(
                f"surface_area_m2: {exp.surface_area_m2:g} m² is outside the range for '{p}'"
                f" (allowed: {range_text(lo, hi, 'm²')})"
            )
    if behaves_like(p) == "hollow_fiber" and exp.working_volume_l is not None:
        problems.append(f"{p} is described by ic_volume_ml and ec_volume_ml, not working_volume_l")
    return problems


# --------------------------------------------------------------------------- conditioning


def _strategy_enum(schema: dict[str, Any]) -> None:
    """JSON Schema of ``conditioning.strategies``: the ids of the packaged strategy catalogue."""
    schema["items"] = {"type": "string", "enum": list(scenario_strategies())}


class Conditioning(ContractModel):
    """The conditioning phase after expansion: the cells secrete EVs into conditioning medium, which is
    collected ``collections`` times. ``days`` is the length of ONE collection period, so conditioning
    lasts ``days`` x ``collections`` days in all; the medium is renewed after each collection."""

    medium: ConditioningMedium = Field(
        default="serum_free",
        description="conditioning medium (choices from the packaged catalogue); 'same' keeps the expansion medium",
    )
    basal_medium: BasalMedium | None = Field(
        default=None,
        description="basal medium of the conditioning medium (choices from the packaged catalogue; default: "
        "expansion.basal_medium)",
    )
    days: Num = quantity(
        2,
        MIN_INTERVAL_DAYS,
        MAX_CULTURE_DAYS,
        "day",
        "length of one collection period: each collection gathers the medium conditioned over this many days, "
        "so conditioning lasts days x collections in all",
        basis=f"{JUDGEMENT}: from hourly harvests to the longest culture a scenario may describe (expansion "
        "plus all collections at most a year, checked together)",
    )
    collections: Int = quantity(
        1,
        1,
        60,
        "1",
        "conditioned-medium harvests; the medium is renewed after each",
        basis=f"{JUDGEMENT}: hollow-fibre runs collect up to daily for several weeks",
    )
    strategies: list[str] = Field(
        default_factory=list,
        max_length=30,
        description="EV-yield strategies applied during conditioning (ids of the packaged strategy catalogue, "
        "each at most once)",
        json_schema_extra=_strategy_enum,
    )
    oxygen_percent: Num | None = quantity(
        None,
        0.5,
        20.9,
        "percent",
        "O2 in the gas phase during conditioning. Below air (20.9) it is hypoxic conditioning and needs "
        "'hypoxia' under strategies; with 'hypoxia' and no value, 5 (the level of the comparisons the hypoxia "
        "effect is emulated from, Dougherty 2020, doi:10.3389/fcell.2020.00130, and Almeria 2019, "
        "doi:10.3389/fbioe.2019.00292). It sets the dissolved-oxygen saturation "
        "during conditioning and how much of the hypoxia effect applies (full at 5, none at 1 or in air)",
        basis=f"{JUDGEMENT}: from the lowest O2 of MSC hypoxia studies (below 1 %) to air",
    )

    @property
    def gas_oxygen_percent(self) -> float:
        """O2 in the gas phase during conditioning: the set value, 5 with 'hypoxia', else air."""
        if self.oxygen_percent is not None:
            return float(self.oxygen_percent)
        return 5.0 if "hypoxia" in self.strategies else 20.9

    @model_validator(mode="after")
    def _oxygen_and_hypoxia_agree(self) -> Conditioning:
        hypoxic = "hypoxia" in self.strategies
        if self.oxygen_percent is not None and self.oxygen_percent < 20.9 and not hypoxic:
            raise ValueError(
                f"oxygen_percent {self.oxygen_percent:g} is hypoxic conditioning: list 'hypoxia' under "
                "conditioning.strategies (or leave oxygen_percent out for air)"
            )
        if self.oxygen_percent is not None and self.oxygen_percent >= 20.9 and hypoxic:
            raise ValueError("'hypoxia' at air O2 (oxygen_percent 20.9) is not hypoxia: give a lower oxygen_percent")
        return self


#: The settings model of every unit operation, in the order the operation modules register them
#: (each built-in operation defines its settings next to the function that runs it, in
#: :mod:`exoforge.downstream`; a plug-in adds its own with :func:`register_operation_model`).
OPERATION_MODELS: tuple[type[OperationSettings], ...] = operation_settings()
_OP_MODELS: dict[str, type[OperationSettings]] = {operation_id(m): m for m in OPERATION_MODELS}
UNIT_OPERATION_IDS: tuple[str, ...] = tuple(_OP_MODELS)

if TYPE_CHECKING:
    UnitOperation = OperationSettings
else:
    # the union is built at run time from the registered models (not a static type)
    UnitOperation = Annotated[Union[OPERATION_MODELS], Field(discriminator="op")]  # noqa: UP007


def register_medium(medium: str, label: str, uses: Sequence[str]) -> None:
    """Add a plug-in's medium to the scenario's medium choices (``uses``: 'expansion', 'conditioning').

    Its parameters (:func:`medium_parameter_names`) come from the plug-in's parameter folder.
    """
    from exoforge.datafiles import MediumEntry

    entry = MediumEntry(id=medium, label=label, use=list(uses))  # type: ignore[arg-type]
    if medium in catalogue_labels():
        raise ValueError(f"medium '{medium}' is already in the catalogue")
    _PLUGIN_MEDIA.append(entry.model_dump())
    # the choices are built at run time from the catalogue and the plug-ins (not static types)
    expansion_media: Any = Literal[media_for("expansion")]
    conditioning_media: Any = Literal[(*media_for("conditioning"), "same")]
    Expansion.model_fields["medium"].annotation = expansion_media
    Conditioning.model_fields["medium"].annotation = conditioning_media
    for model in (Expansion, Conditioning, Scenario):
        model.model_rebuild(force=True)


def register_microcarrier(microcarrier: str, label: str) -> None:
    """Add a plug-in's microcarrier to ``expansion.microcarrier.type``.

    Its area per mass, bead diameter, density and swollen volume (:func:`microcarrier_parameter_names`)
    come from the plug-in's parameter folder.
    """
    from exoforge.datafiles import CatalogueItem

    entry = CatalogueItem(id=microcarrier, label=label)
    if microcarrier in catalogue_labels():
        raise ValueError(f"microcarrier '{microcarrier}' is already in the catalogue")
    _PLUGIN_MICROCARRIERS.append(entry.model_dump())
    # the choices are built at run time from the catalogue and the plug-ins (not a static type)
    types: Any = Literal[microcarrier_types()]
    Microcarrier.model_fields["type"].annotation = types
    for model in (Microcarrier, Expansion, Scenario):
        model.model_rebuild(force=True)


def platform_names() -> tuple[str, ...]:
    """Every expansion platform a scenario may name: the built-ins and those plug-ins added."""
    return tuple(get_args(Expansion.model_fields["platform"].annotation))


def register_platform(
    name: str,
    like: str,
    volume_range_l: tuple[float, float] | None = None,
    surface_range_m2: tuple[float, float] | None = None,
) -> None:
    """Add a plug-in's platform to the scenario's ``expansion.platform`` choices.

    ``like`` is the built-in platform whose scenario keys it takes (a working volume and microcarriers
    like ``stirred_tank``, a surface like ``hollow_fiber``, ...); its scale ranges are ``like``'s
    unless given.
    """
    names = platform_names()
    if name in names:
        raise ValueError(f"platform '{name}' is already defined")
    if like not in get_args(Platform):
        raise ValueError(f"like: '{like}' is not a built-in platform; built-in: {', '.join(get_args(Platform))}")
    _PLATFORM_LIKE[name] = like
    for ranges, given in ((VOLUME_RANGE_L, volume_range_l), (SURFACE_RANGE_M2, surface_range_m2)):
        if given is not None:
            ranges[name] = (float(given[0]), float(given[1]))
        elif like in ranges:
            ranges[name] = ranges[like]
    # the choices are built at run time from the built-ins and the plug-ins (not a static type)
    platforms: Any = Literal[(*names, name)]
    Expansion.model_fields["platform"].annotation = platforms
    for model in (Expansion, Scenario):
        model.model_rebuild(force=True)


def register_operation_model(model: type[OperationSettings]) -> str:
    """Add a plug-in's operation settings to the scenario's ``isolation`` choices; return its ``op`` id.

    The scenario model is rebuilt with the longer union, so validation, error messages and
    ``exoforge schema`` know the operation like a built-in one.
    """
    global OPERATION_MODELS, UNIT_OPERATION_IDS
    if not (isinstance(model, type) and issubclass(model, OperationSettings)):
        raise TypeError(f"{model!r} is not a subclass of exoforge.scenario_fields.OperationSettings")
    op_id = operation_id(model)
    if op_id in _OP_MODELS:
        raise ValueError(f"unit operation '{op_id}' is already defined")
    _OP_MODELS[op_id] = model
    OPERATION_MODELS = (*OPERATION_MODELS, model)
    UNIT_OPERATION_IDS = tuple(_OP_MODELS)
    union: Any = Annotated[Union[OPERATION_MODELS], Field(discriminator="op")]  # noqa: UP007
    Scenario.model_fields["isolation"].annotation = list[union]
    Scenario.model_rebuild(force=True)
    return op_id


# --------------------------------------------------------------------------- dose, demand, economics


class MeasuredSize(ContractModel):
    """A measured number size distribution of EVs: an NTA export, or its bins."""

    nta_file: str | None = Field(
        default=None,
        max_length=1000,
        description="NanoSight ExperimentSummary.csv or ZetaView .txt export; a relative path starts at the scenario "
        "file's folder (read when the scenario is loaded)",
    )
    diameters_nm: list[Annotated[Num, Field(gt=0, le=10_000)]] | None = Field(
        default=None,
        max_length=10_000,
        description="bin centres, increasing [nm]. Allowed: more than 0 and at most 10,000 nm each, at most 10,000 "
        "bins. Range: by definition of a vesicle size (NTA reads 10-2,000 nm)",
        json_schema_extra={"unit": "nm"},
    )
    fractions: list[Annotated[Num, Field(ge=0, le=1e30)]] | None = Field(
        default=None,
        max_length=10_000,
        description="number of particles per bin, any scale (normalised to fractions) [1]. Allowed: from 0 to 1e+30 "
        "each. Range: any finite count",
        json_schema_extra={"unit": "1"},
    )
    source: str | None = Field(
        default=None, max_length=1000, description="where the distribution comes from (file and its SHA-256)"
    )

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


class EVSize(ContractModel):
    """Measured EV size distributions (NTA) of the process."""

    harvest: MeasuredSize | None = Field(
        default=None,
        description="EVs in the conditioned medium: replaces the default lognormal size of the product EVs, so "
        "size-dependent isolation steps act on this population",
    )
    product: MeasuredSize | None = Field(
        default=None, description="EVs after isolation, measured: compared with the predicted distribution (report)"
    )


class Dose(ContractModel):
    """One dose of product: exactly one of particles or protein_ug."""

    particles: Num | None = quantity(
        None,
        1e3,
        1e15,
        "particle",
        "particles (NTA-equivalent) per dose",
        basis=f"{JUDGEMENT}: MSC-EV doses in trials span about 1e8-1e12 particles; widened by orders of "
        "magnitude for research doses",
    )
    protein_ug: Num | None = quantity(
        None,
        0.001,
        1e6,
        "ug",
        "EV protein per dose",
        basis=f"{JUDGEMENT}: MSC-EV doses are given as 1 ug to tens of mg of protein",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Dose:
        if (self.particles is None) == (self.protein_ug is None):
            raise ValueError("give exactly one of particles or protein_ug")
        return self


class Demand(ContractModel):
    """The supply the process must meet."""

    doses_per_year: Num = quantity(
        ...,
        1,
        1e9,
        "dose/year",
        "doses needed per year",
        basis=f"{JUDGEMENT}: from a single patient to a billion doses a year",
    )
    lot_size_doses: Num | None = quantity(
        None,
        1,
        1e8,
        "dose",
        "doses per released lot; a batch is filled into whole lots, each tested",
        basis=f"{JUDGEMENT}: up to a tenth of the largest yearly demand",
    )


def _price_value(schema: dict[str, Any]) -> None:
    value = schema["additionalProperties"]
    value.update(
        description="price in currency units per the unit of the price parameter (see `exoforge parameters "
        "--search price.`)",
        unit="USD per the price's unit",
    )


class Economics(ContractModel):
    """Prices and rates: the user's own override the defaults."""

    currency: Literal["USD"] = Field(default="USD", description="currency of every cost")
    prices: dict[
        Annotated[str, Field(max_length=100)],
        Annotated[Num, Field(ge=0, le=1e9)],
    ] = Field(
        default_factory=dict,
        max_length=500,
        description="price overrides by name (the part after 'price.' of a price parameter, e.g. "
        "serum_free_medium_per_l) in the price's own unit [USD per unit]. Allowed: from 0 to 1e+09 each. "
        f"Range: {JUDGEMENT}: no consumable or service of a batch costs a billion per unit",
        json_schema_extra=_price_value,
    )
    labour_rate_per_h: Num | None = quantity(
        None,
        0,
        10_000,
        "USD/h",
        "fully loaded labour rate (default from the data)",
        lo_open=True,
        basis=f"{JUDGEMENT}: GMP labour is charged at tens to a few hundred USD per hour",
    )
    price_year: Int = quantity(
        2024,
        2013,
        2024,
        "year",
        "year of the currency: default prices are escalated to it by a price index",
        basis="by definition: the years of the packaged price index",
    )
    facility_use: Literal["dedicated", "shared", "campaign", "cdmo"] = Field(
        default="dedicated",
        description=(
            "dedicated: the lines a demand needs are paid all year; shared: the days a batch occupies plus a "
            "product changeover per batch; campaign: the days used plus one changeover per campaign; cdmo: a "
            "contract manufacturer's day rate for the days booked (no own facility or equipment)"
        ),
    )
    campaigns_per_year: Int = quantity(
        1,
        1,
        365,
        "1/year",
        "campaigns the yearly batches run in (facility_use campaign or cdmo)",
        basis="by definition: at most one a day",
    )


#: Parameters whose override may say what it was measured on (``measured_on``).
MEASURED_ON_PARAMETERS = ("ev_secretion_rate",)

#: Largest magnitude of a parameter override before its own range is checked (in the given unit).
OVERRIDE_MAGNITUDE = 1e30


class ParameterOverride(ContractModel):
    """A user value for one default parameter (``exoforge parameters`` lists them)."""

    value: Num = quantity(
        ...,
        -OVERRIDE_MAGNITUDE,
        OVERRIDE_MAGNITUDE,
        "(unit)",
        "the value, in `unit`; it must also lie in the parameter's own range (positive, a fraction in [0, 1], "
        "and within four orders of magnitude of the default; `exoforge parameters --json` shows each "
        "`override_range`), checked when "
        "the run resolves its parameters",
        basis="any finite number here; the parameter's own range is the binding one",
    )
    unit: str = Field(
        max_length=60,
        description="unit of the value, measuring the same quantity as the parameter's unit; counted entities "
        "may be left implied ('1/day' for particle/cell/day)",
    )
    measured_on: Literal["planar", "this_process"] | None = Field(
        default=None,
        description=(
            "ev_secretion_rate only: what the rate was measured on. 'planar' (the default): a planar culture, so "
            "the platform and strategy effects on EV secretion still multiply it (a warning names them); "
            "'this_process': this very process (platform, conditioning and strategies), so nothing multiplies it"
        ),
    )


# --------------------------------------------------------------------------- the scenario


class Scenario(ContractModel):
    """A complete production process, as a user describes it."""

    schema_version: Literal[1] = Field(description="version of the scenario contract (1)")
    name: str = Field(min_length=1, max_length=300, description="free text naming the scenario")
    cell_source: CellSource = Field(description="tissue source of the MSCs (or iPSC-derived MSCs)")
    expansion: Expansion = Field(description="expansion phase: platform, size, seeding, medium, feeding, days")
    conditioning: Conditioning = Field(
        default_factory=Conditioning,
        description="conditioning phase: medium, days per collection, number of collections, strategies",
    )
    isolation: list[UnitOperation] = Field(
        min_length=1,
        max_length=30,
        description="the isolation train, in order; each step is a mapping with 'op' and that operation's settings",
    )
    dose: Dose = Field(description="one dose: particles or protein_ug")
    demand: Demand | None = Field(default=None, description="the yearly supply the process must meet (optional)")
    economics: Economics = Field(default_factory=Economics, description="prices and rates (optional)")
    parameters: dict[Annotated[str, Field(max_length=120)], ParameterOverride] = Field(
        default_factory=dict,
        max_length=500,
        description="overrides of default parameters by name, each {value, unit} (optional)",
    )
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

    @model_validator(mode="after")
    def _duration(self) -> Scenario:
        cond = self.conditioning
        total = self.expansion.days + cond.days * cond.collections
        if total > MAX_CULTURE_DAYS:
            raise ValueError(
                f"expansion.days + conditioning.days x conditioning.collections = {self.expansion.days:g} + "
                f"{cond.days:g} x {cond.collections} = {total:g} days: the culture may last at most "
                f"{MAX_CULTURE_DAYS:g} days (conditioning.days is per collection)"
            )
        return self

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


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or TOML file into a mapping, raising :class:`ScenarioError` when it cannot be read.

    Reading is bounded and safe (:func:`exoforge.yamlio.read_user_file`): encodings other than
    UTF-8, binary and empty files, deep nesting, alias bombs and duplicate keys are each one line.
    """
    p = Path(path)
    if not p.exists():
        raise ScenarioError([f"file not found: {p}"], None)
    try:
        data = read_user_file(p)
    except FileProblem as exc:
        raise ScenarioError([exc.problem], str(p)) from None
    if not isinstance(data, dict):
        raise ScenarioError(["(file): the top level must be a mapping of keys to values"], str(p))
    return data


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the model a field's values are, whether they sit in a mapping under free keys)."""
    model = next(
        (c for c in _flatten_types(annotation) if isinstance(c, type) and issubclass(c, BaseModel)),
        None,
    )
    origin = getattr(annotation, "__origin__", None)
    return model, origin is dict


def field_at(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> tuple[type[BaseModel] | None, Any]:
    """(owning model, field or None) at a validation location, following nested models, lists,
    mappings of models and unit-operation tags. ``root`` defaults to :class:`Scenario`."""
    model: type[BaseModel] | None = root or Scenario
    field: Any = None
    free_key = False
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if free_key:
            free_key = False
            if last:
                return model, field
            continue
        if isinstance(part, int):
            continue
        if model is None:
            return None, None
        if str(part) in _OP_MODELS and "op" in model.model_fields and str(part) not in model.model_fields:
            model, field = _OP_MODELS[str(part)], None
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            op_model = _OP_MODELS.get(str(part))
            if op_model is not None:
                model, field = op_model, None
                continue
            return model if last else None, None
        if last:
            return model, field
        inner, free_key = _inner_model(field.annotation)
        if inner is None and free_key:
            # a mapping of plain values (economics.prices): the key's value takes the field's range
            owner = model
            if i + 2 == len(loc):
                return owner, field
            return None, None
        model = inner
    return model, field


def _model_at(loc: tuple[Any, ...], data: Any) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at ``loc`` (for key suggestions)."""
    if not loc:
        return Scenario
    model, field = field_at(loc)
    if field is None:
        return model if model is not None and not isinstance(loc[-1], int) else None
    inner, _ = _inner_model(field.annotation)
    if str(loc[-1]) == "isolation":
        return None
    return inner


def _flatten_types(ann: Any) -> list[Any]:
    out = [ann]
    for a in get_args(ann):
        out.extend(_flatten_types(a))
    return out


def _suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return f"'{v}'" if len(v) <= 60 else f"'{v[:57]}...'"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list | tuple | set):
        return "a list"
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        return f"{v:g}" if math.isfinite(v) else repr(v)
    if isinstance(v, int):
        return str(v) if abs(v) < 10**15 else f"an integer of {len(str(abs(v)))} digits"
    return type(v).__name__


#: Validation error types that mean "a number outside its range".
RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number")
#: Most problem lines reported for one file (the rest are counted).
MAX_PROBLEMS = 40


def field_bounds(field: FieldInfo) -> tuple[float | None, float | None, bool, bool]:
    """Bounds of a numeric field, or of the values of a mapping field (``economics.prices``)."""
    bounds = field_range(field)
    if bounds[:2] != (None, None):
        return bounds
    args = get_args(field.annotation)
    for arg in get_args(args[-1])[1:] if args else ():
        if isinstance(arg, FieldInfo):
            return field_range(arg)
    return bounds


def _range_message(
    path: str, loc: tuple[Any, ...], etype: str, value: Any, ctx: dict[str, Any], root: type[BaseModel] | None
) -> str:
    """'<path>: <value> is outside the allowed range: <range>' (or 'is not a finite number')."""
    _, field = field_at(loc, root)
    if isinstance(field, FieldInfo) and field_bounds(field)[:2] != (None, None):
        unit = unit_of(field)
        allowed = range_text(*field_bounds(field)[:2], "" if unit == "1" else unit, *field_bounds(field)[2:])
    else:
        words = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }
        number = next(iter(ctx.values()), "") if ctx else ""
        allowed = f"{words.get(etype, '')} {number}".strip() or "a finite number"
    if etype == "finite_number":
        return f"{path}: {_fmt_value(value)} is not a finite number; allowed: {allowed}"
    return f"{path}: {_fmt_value(value)} is outside the allowed range: {allowed}"


def format_errors(err: ValidationError, data: Any, root: type[BaseModel] | None = None) -> list[str]:
    """One line per problem of a validation error: key path, value, what is allowed."""
    root = root or Scenario
    problems: list[str] = []
    seen: set[str] = set()
    for e in err.errors():
        raw_loc = tuple(e["loc"])
        # drop discriminator tags and validator names from the printed path: isolation.0.tff.x -> isolation[0].x
        parts: list[str] = []
        clean: list[Any] = []
        for i, part in enumerate(raw_loc):
            if isinstance(part, str) and (part.startswith("function-") or part in ("str", "int", "float")):
                continue
            if isinstance(part, int):
                parts.append(f"[{part}]")
            elif i > 0 and isinstance(raw_loc[i - 1], int) and part in _OP_MODELS:
                clean.append(part)
                continue
            else:
                parts.append(("." if parts else "") + str(part))
            clean.append(part)
        loc = tuple(clean)
        path = "".join(parts) or "(top level)"
        etype = e["type"]
        value = e.get("input")
        if etype == "extra_forbidden":
            owner = _model_at(loc[:-1], data) if root is Scenario else field_at(loc[:-1], root)[0]
            options = list(owner.model_fields) if owner else []
            key = loc[-1]
            msg = f"{path}: unknown key{_suggest(str(key), options)}"
            if options:
                msg += f"; allowed here: {', '.join(options)}"
        elif etype == "missing":
            msg = f"{path}: required key is missing"
        elif etype in ("literal_error", "enum"):
            expected = e.get("ctx", {}).get("expected", "")
            opts = re.findall(r"'([^']*)'", expected) or [x.strip() for x in expected.replace(" or ", ",").split(",")]
            msg = f"{path}: {_fmt_value(value)} is not allowed; choose one of {', '.join(o for o in opts if o)}"
            msg += _suggest(str(value), opts)
        elif etype == "union_tag_invalid":
            opts = list(_OP_MODELS)
            tag = e.get("ctx", {}).get("tag", value)
            msg = f"{path}.op: {_fmt_value(tag)} is not a unit operation; choose one of {', '.join(opts)}"
            msg += _suggest(str(tag), opts)
        elif etype == "union_tag_not_found":
            msg = f"{path}: each isolation step needs 'op' (one of {', '.join(_OP_MODELS)})"
        elif etype in RANGE_ERRORS:
            msg = _range_message(path, loc, etype, value, e.get("ctx") or {}, root)
        elif etype == "value_error":
            text = str(e.get("msg", "")).removeprefix("Value error, ")
            msg = text if path == "(top level)" else f"{path}: {text}"
            if text.startswith("is a yes/no"):
                msg = f"{path}: {_fmt_value(value)} {text}"
        elif etype == "too_long":
            limit = (e.get("ctx") or {}).get("max_length", "")
            msg = f"{path}: too many entries (at most {limit})"
        else:
            text = e.get("msg", "invalid value")
            msg = f"{path}: {_fmt_value(value)} is invalid: {text[0].lower() + text[1:] if text else text}"
        if msg not in seen:
            seen.add(msg)
            problems.append(msg)
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"(file): ... and {more} more problem{'s' if more > 1 else ''}"]
    return problems


def _format_errors(err: ValidationError, data: dict[str, Any]) -> list[str]:
    return format_errors(err, data)


def _check_strategies(data: dict[str, Any]) -> list[str]:
    """Problems with ``conditioning.strategies`` (checked on the raw mapping, so that they are
    reported together with every other problem of the file)."""
    cond = data.get("conditioning")
    listed = cond.get("strategies") if isinstance(cond, dict) else None
    if not isinstance(listed, list) or len(listed) > 30:
        return []
    allowed = list(scenario_strategies())
    problems = []
    for i, sid in enumerate(listed):
        if not isinstance(sid, str):
            continue
        if sid not in allowed:
            problems.append(
                f"conditioning.strategies[{i}]: {_fmt_value(sid)} is not a strategy a scenario can use"
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
    from exoforge.plugins import load_plugins

    load_plugins()  # a plug-in's operations are isolation choices
    problems = _check_strategies(data)
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, data) + problems, source) from None
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


def scenario_field(key: str) -> FieldInfo | None:
    """The field of the scenario contract at a dotted key (``expansion.days``, ``isolation[1].mwco_kda``
    needs the op: ``isolation.tff.mwco_kda``), or None."""
    loc = tuple(p for p in re.split(r"[.\[\]]+", key) if p and not p.isdigit())
    _, field = field_at(loc)
    return field if isinstance(field, FieldInfo) else None
