"""Membrane steps: depth, micro- and sterile filtration (normal flow), TFF and centrifugal ultrafiltration.

Normal-flow filters pass particles smaller than the pore rating (the number
fraction of the EV size distribution below it) and lose a fraction of those
by adsorption and hold-up. Ultrafiltration membranes retain EVs and
lipoprotein particles by size: each species of diameter d leaves in the
permeate with the Ferry sieving coefficient through the membrane's nominal
pore (from its cut-off), so the retentate keeps ``CF^(-S) exp(-S N_DV)`` of it
(see :mod:`.physics`); soluble protein has its own measured sieving
coefficient. Time comes from membrane area × flux; area from the scenario or
from a loading rule.
"""

from __future__ import annotations

from typing import Literal, cast

import numpy as np
from pydantic import Field

from exoforge.downstream.common import full, runs, separate
from exoforge.downstream.physics import (
    ev_size,
    ferry_sieving,
    fraction_below,
    mwco_pore_nm,
    retained_through_membrane,
    size_average,
    size_nodes,
)
from exoforge.downstream.registry import operation
from exoforge.downstream.stream import StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import AREA_BASIS, JUDGEMENT, MWCO_BASIS, Num, OperationSettings, quantity


def _area(cfg_area: float | None, s: Stream, p: UsageLog, prefix: str) -> np.ndarray:
    if cfg_area is not None:
        return full(s.volume_l, cfg_area)
    return cast("np.ndarray", s.volume_l / p.get(f"{prefix}.loading", "L/m**2"))


def _passing_fraction(p: UsageLog, pore_um: float, s: Stream) -> tuple[np.ndarray, np.ndarray | None]:
    """Number fraction of product EVs smaller than a filter's pore rating, and (for a measured
    distribution) which sizes pass."""
    pore = full(s.volume_l, pore_um * 1000.0)
    if s.size is not None:
        per_size = s.size.below(pore)
        return s.size.average(per_size), per_size
    median, gsd = ev_size(p)
    return fraction_below(pore, median, gsd), None


def _normal_flow(
    cfg: DepthFiltration | Microfiltration | SterileFiltration,
    s: Stream,
    p: UsageLog,
    name: str,
    prefix: str,
    item: str,
    passing: np.ndarray,
    size_kept: np.ndarray | None = None,
) -> StepOutcome:
    step = StepBuilder(name, cfg.op, s)
    area = _area(getattr(cfg, "area_m2", None), s, p, prefix)
    setup = p.get(f"{prefix}.setup_hours", "h")
    hours = s.volume_l / (p.get(f"{prefix}.flux", "L/m**2/h") * area) + setup
    adsorbed = p.get(f"{prefix}.recovery", "")
    free_ret = p.get(f"{prefix}.free_protein_retention", "") if prefix == "depth_filtration" else np.ones_like(area)
    out = separate(s, p, passing * adsorbed, free_ret, s.volume_l, lipoprotein_recovery=adsorbed, size_kept=size_kept)
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=setup,
        resources=(step.uses(item, area, "m**2"),),
        equipment=("filtration_pump",),
        limits=(
            step.limit(
                "filter area [m2]",
                area,
                p.get(f"{prefix}.max_area", "m**2"),
                "filter area one housing takes; above it the filtration train must be duplicated",
            ),
        ),
    )


class DepthFiltration(OperationSettings):
    """Depth filtration for clarification (cells and debris)."""

    op: Literal["depth_filtration"] = Field(description="unit operation id")
    area_m2: Num | None = quantity(
        None, 0.0001, 100, "m**2", "filter area (default: sized from the volume and the capacity)", basis=AREA_BASIS
    )


@operation(DepthFiltration)
def depth_filtration(cfg: DepthFiltration, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Depth filtration (clarification): removes cells and debris; EVs are lost by adsorption."""
    return _normal_flow(cfg, s, p, name, "depth_filtration", "depth_filter_per_m2", np.ones_like(s.volume_l))


class Microfiltration(OperationSettings):
    """Normal-flow microfiltration that removes large particles."""

    op: Literal["microfiltration"] = Field(description="unit operation id")
    pore_um: Num = quantity(0.45, 0.05, 10, "um", "pore rating", basis=f"{JUDGEMENT}: microfilters are rated 0.1-10 um")
    area_m2: Num | None = quantity(
        None, 0.0001, 100, "m**2", "filter area (default: sized from the volume and the capacity)", basis=AREA_BASIS
    )


@operation(Microfiltration)
def microfiltration(cfg: Microfiltration, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Microfiltration (0.45-0.8 µm): large vesicles and aggregates above the pore rating are removed."""
    passing, per_size = _passing_fraction(p, cfg.pore_um, s)
    return _normal_flow(cfg, s, p, name, "microfiltration", "microfilter_per_m2", passing, per_size)


def _membrane_retention(
    p: UsageLog, mwco_kda: float, cf: float, ndv: float, s: Stream
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Size-resolved retention of product EVs and of lipoprotein particles by an ultrafiltration membrane,
    and (for a measured distribution) the retention of each size."""
    pore = mwco_pore_nm(mwco_kda, p)
    lipo = retained_through_membrane(ferry_sieving(p.get("lipoprotein.diameter", "nm"), pore), cf, ndv)
    if s.size is not None:
        per_size = retained_through_membrane(ferry_sieving(s.size.nodes, pore), cf, ndv)
        return s.size.average(per_size), lipo, per_size
    median, gsd = ev_size(p)
    ev = size_average(retained_through_membrane(ferry_sieving(size_nodes(median, gsd), pore), cf, ndv))
    return ev, lipo, None


class TFF(OperationSettings):
    """Tangential-flow filtration: concentration and diafiltration on a membrane."""

    op: Literal["tff"] = Field(description="unit operation id")
    mwco_kda: Num = quantity(300, 1, 5000, "kDa", "membrane molecular-weight cut-off", basis=MWCO_BASIS)
    concentration_factor: Num = quantity(
        20,
        1,
        1000,
        "1",
        "feed volume over retentate volume",
        basis=f"{JUDGEMENT}: TFF of conditioned medium concentrates 10-200-fold",
    )
    diafiltration_volumes: Num = quantity(
        5, 0, 50, "1", "buffer exchanges, in retentate volumes", basis=f"{JUDGEMENT}: 3-10 is usual"
    )
    membrane_area_m2: Num | None = quantity(
        None, 0.0001, 100, "m**2", "membrane area (default: sized from the volume and the flux)", basis=AREA_BASIS
    )


@operation(TFF)
def tff(cfg: TFF, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Tangential-flow filtration: concentrate by ``concentration_factor``, then diafilter.

    Time = [V_feed (1 - 1/CF) + N_DV V_feed / CF] / (J A) + set-up. Free protein
    retained = CF^(-S) exp(-S N_DV) for the protein sieving coefficient S; EVs
    and lipoproteins by their own size-resolved sieving, times the module
    recovery (adsorption and hold-up).
    """
    step = StepBuilder(name, cfg.op, s)
    cf = cfg.concentration_factor
    ndv = cfg.diafiltration_volumes
    if cfg.membrane_area_m2 is not None:
        area = full(s.volume_l, cfg.membrane_area_m2)
    else:
        area = np.maximum(
            s.volume_l / p.get("tff.membrane_loading", "L/m**2"), p.get("tff.minimum_membrane_area", "m**2")
        )
    flux = p.get("tff.flux", "L/m**2/h")
    retentate = s.volume_l / cf
    permeate = s.volume_l * (1 - 1 / cf) + ndv * retentate
    setup = p.get("tff.setup_hours", "h")
    hours = permeate / (flux * area) + setup
    sieving = p.get("tff.protein_sieving_coefficient", "")
    free_ret = retained_through_membrane(sieving, cf, ndv)
    ev_ret, lipo_ret, per_size = _membrane_retention(p, cfg.mwco_kda, cf, ndv, s)
    module = p.get("tff.recovery", "")
    out = separate(
        s, p, module * ev_ret, free_ret, retentate, lipoprotein_recovery=module * lipo_ret, size_kept=per_size
    )
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=setup + hours * p.get("tff.attendance_fraction", ""),
        resources=(
            step.uses("tff_module_each", np.ones_like(area), ""),
            step.uses("tff_membrane_per_m2", area, "m**2"),
            step.uses("buffer_per_l", ndv * retentate, "L"),
        ),
        equipment=("tff_system",),
        limits=(
            step.limit(
                "TFF membrane area [m2]",
                area,
                p.get("tff.max_membrane_area", "m**2"),
                "membrane area one TFF system holds; above it the step needs a larger skid or parallel systems",
            ),
        ),
    )


class Ultrafiltration(OperationSettings):
    """Centrifugal or stirred-cell ultrafiltration (concentration only)."""

    op: Literal["ultrafiltration"] = Field(description="unit operation id")
    mwco_kda: Num = quantity(100, 1, 5000, "kDa", "membrane molecular-weight cut-off", basis=MWCO_BASIS)
    concentration_factor: Num = quantity(
        20, 1, 1000, "1", "feed volume over concentrate volume", basis=f"{JUDGEMENT}: as TFF"
    )


@operation(Ultrafiltration)
def ultrafiltration(cfg: Ultrafiltration, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Dead-end centrifugal ultrafiltration devices: concentrate by ``concentration_factor``.

    Fills of ``device_volume`` are spun ``devices_per_run`` at a time; each
    device is refilled ``fills_per_device`` times. EVs are lost by trapping in
    the membrane (``recovery``) and by size-resolved sieving.
    """
    step = StepBuilder(name, cfg.op, s)
    cf = cfg.concentration_factor
    fills = runs(s.volume_l, p.get("ultrafiltration.device_volume", "L"))
    n = runs(fills, p.get("ultrafiltration.devices_per_run", ""))
    devices = runs(fills, p.get("ultrafiltration.fills_per_device", ""))
    handling = p.get("ultrafiltration.handling_hours_per_run", "h")
    hours = n * (p.get("ultrafiltration.spin_minutes", "h") + handling)
    free_ret = retained_through_membrane(p.get("ultrafiltration.protein_sieving_coefficient", ""), cf, 0.0)
    ev_ret, lipo_ret, per_size = _membrane_retention(p, cfg.mwco_kda, cf, 0.0, s)
    trap = p.get("ultrafiltration.recovery", "")
    out = separate(
        s, p, trap * ev_ret, free_ret, s.volume_l / cf, lipoprotein_recovery=trap * lipo_ret, size_kept=per_size
    )
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=n * handling,
        resources=(step.uses("uf_device_each", devices, ""),),
        equipment=("benchtop_centrifuge",),
        limits=(
            step.limit(
                "ultrafiltration feed volume [L]",
                s.volume_l,
                p.get("ultrafiltration.practical_volume_limit", "L"),
                "feed volume centrifugal devices can take per batch; above it use TFF",
            ),
        ),
    )


class SterileFiltration(OperationSettings):
    """Sterilising-grade filtration of the product."""

    op: Literal["sterile_filtration"] = Field(description="unit operation id")
    pore_um: Num = quantity(
        0.22,
        0.1,
        0.45,
        "um",
        "pore rating",
        basis=f"{JUDGEMENT}: sterilising-grade filters are rated 0.1-0.22 um; 0.45 um is the largest used before them",
    )


@operation(SterileFiltration)
def sterile_filtration(cfg: SterileFiltration, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Final sterilising filtration (0.22 µm) of the product in small filter units.

    EVs above the pore rating are retained; ``recovery`` is the fraction of the
    passing-size particles not lost to adsorption and hold-up.
    """
    step = StepBuilder(name, cfg.op, s)
    cap = p.get("sterile_filtration.capacity_per_filter", "L")
    filters = runs(s.volume_l, cap)
    hours = p.get("sterile_filtration.hours_per_filter", "h") * filters
    passing, per_size = _passing_fraction(p, cfg.pore_um, s)
    adsorbed = p.get("sterile_filtration.recovery", "")
    out = separate(
        s, p, passing * adsorbed, np.ones_like(filters), s.volume_l, lipoprotein_recovery=adsorbed, size_kept=per_size
    )
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=hours,
        resources=(step.uses("sterile_filter_each", filters, ""),),
        equipment=("filter_integrity_tester",),
        limits=(
            step.limit(
                "sterile filter units",
                filters,
                p.get("sterile_filtration.max_filters", ""),
                "small sterilising filter units per batch; above it a process-scale capsule is needed",
            ),
        ),
    )
