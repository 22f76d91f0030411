"""Isolation unit operations: each maps a :class:`Stream` to a :class:`StepOutcome`.

Every operation reads its constants from the parameter set under its own
prefix (``tff.recovery``, ``sec.free_protein_retention``, ...), so each number
has its source in the data files. Common structure:

* particles out = particles in × recovery (a fraction, never above 1);
* free protein out = free protein in × free-protein retention;
  EV-associated protein follows the particles (see :mod:`.stream`);
* other particles (medium EVs, lipoproteins) follow the product particles
  unless the step separates them;
* duration from capacity (runs of a rotor, membrane area × flux, column
  cycles), operator hours from hands-on time per run, and the consumables
  used, as :class:`Resource` lines priced by the economics wing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from exoforge.downstream.stream import StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.resources import Resource

OpFunction = Callable[[Any, Stream, UsageLog, str], StepOutcome]


def _separate(
    s: Stream,
    p: UsageLog,
    recovery: np.ndarray,
    free_retention: np.ndarray,
    volume_out: np.ndarray,
    background_recovery: np.ndarray | None = None,
) -> Stream:
    purity = p.get("ev_intrinsic_purity", "particle/ug")
    free = s.free_protein(purity) * free_retention
    particles = s.particles * recovery
    bg = s.background_particles * (recovery if background_recovery is None else background_recovery)
    return Stream(volume_out, particles, bg, particles / purity + free)


def _runs(volume_l: np.ndarray, capacity_l: np.ndarray) -> np.ndarray:
    return np.ceil(volume_l / capacity_l - 1e-9)


def centrifugation(cfg: Any, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Low-speed clarification (cells and debris): batch runs of a swinging-bucket centrifuge."""
    cap = p.get("centrifugation.capacity_per_run", "L")
    runs = _runs(s.volume_l, cap)
    handling = p.get("centrifugation.handling_hours_per_run", "h")
    hours = runs * (cfg.minutes / 60.0 + handling)
    out = _separate(s, p, p.get("centrifugation.recovery", ""), np.ones_like(s.volume_l), s.volume_l)
    return StepOutcome(
        name, cfg.op, s, out, hours, runs * handling, (Resource("centrifuge_bottles_per_run", runs, "", name),)
    )


def ultracentrifugation(cfg: Any, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Pelleting at ~100,000 ×g, with optional washes; fixed rotor volume per run."""
    cap = p.get("ultracentrifugation.capacity_per_run", "L")
    spins = _runs(s.volume_l, cap) + cfg.washes * 1.0
    handling = p.get("ultracentrifugation.handling_hours_per_run", "h")
    hours = spins * (cfg.minutes / 60.0 + handling)
    if cfg.resuspension_ml is not None:
        vol = np.full_like(s.volume_l, cfg.resuspension_ml / 1000.0)
    else:
        vol = np.full_like(s.volume_l, p.get("ultracentrifugation.resuspension_volume", "L"))
    rec = p.get("ultracentrifugation.recovery", "")
    out = _separate(s, p, rec, p.get("ultracentrifugation.free_protein_retention", ""), vol)
    warnings = []
    limit = p.get("ultracentrifugation.practical_volume_limit", "L")
    if np.any(s.volume_l > limit):
        warnings.append(
            f"{name}: ultracentrifuging {float(np.median(s.volume_l)):.3g} L takes "
            f"{float(np.median(spins)):.0f} rotor runs; above about {float(np.median(limit)):.3g} L "
            "ultracentrifugation does not scale (use TFF to concentrate first)"
        )
    return StepOutcome(
        name, cfg.op, s, out, hours, spins * handling, (Resource("uc_tubes_per_run", spins, "", name),), tuple(warnings)
    )


def tff(cfg: Any, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Tangential-flow filtration: concentrate by ``concentration_factor``, then diafilter.

    Time = [V_feed (1 - 1/CF) + N_DV V_feed / CF] / (J A) + set-up. Free protein
    retained = CF^(-S) exp(-S N_DV) for a protein sieving coefficient S
    (permeate concentration / retentate concentration, constant).
    """
    cf = cfg.concentration_factor
    ndv = cfg.diafiltration_volumes
    if cfg.membrane_area_m2 is not None:
        area = np.full_like(s.volume_l, cfg.membrane_area_m2)
    else:
        area = s.volume_l / p.get("tff.membrane_loading", "L/m**2")
        area = np.maximum(area, p.get("tff.minimum_membrane_area", "m**2"))
    flux = p.get("tff.flux", "L/m**2/h")
    retentate = s.volume_l / cf
    permeate = s.volume_l * (1 - 1 / cf) + ndv * retentate
    setup = p.get("tff.setup_hours", "h")
    hours = permeate / (flux * area) + setup
    sieving = p.get("tff.protein_sieving_coefficient", "")
    free_ret = cf ** (-sieving) * np.exp(-sieving * ndv)
    out = _separate(s, p, p.get("tff.recovery", ""), free_ret, retentate)
    return StepOutcome(
        name,
        cfg.op,
        s,
        out,
        hours,
        setup + hours * p.get("tff.attendance_fraction", ""),
        (
            Resource("tff_module_each", np.ones_like(area), "", name),
            Resource("tff_membrane_per_m2", area, "m**2", name),
            Resource("buffer_per_l", ndv * retentate, "L", name),
        ),
    )


def sec(cfg: Any, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Size-exclusion chromatography in group-separation mode.

    The load per cycle is at most ``sec.max_load_fraction`` of the column
    volume; the column is the scenario's or the largest standard column that
    is needed (up to ``sec.max_column_volume``), cycled as often as needed.
    """
    max_frac = p.get("sec.max_load_fraction", "")
    if cfg.column_volume_ml is not None:
        cv = np.full_like(s.volume_l, cfg.column_volume_ml / 1000.0)
    else:
        cv = np.minimum(s.volume_l / max_frac, p.get("sec.max_column_volume", "L"))
        cv = np.maximum(cv, p.get("sec.min_column_volume", "L"))
    cycles = _runs(s.volume_l, cv * max_frac)
    hours = cycles * p.get("sec.cycle_hours", "h")
    vol = s.volume_l * p.get("sec.dilution_factor", "")
    out = _separate(s, p, p.get("sec.recovery", ""), p.get("sec.free_protein_retention", ""), vol)
    return StepOutcome(
        name,
        cfg.op,
        s,
        out,
        hours,
        hours * p.get("sec.attendance_fraction", ""),
        (
            Resource("sec_resin_per_l", cv / p.get("sec.resin_lifetime_batches", ""), "L", name),
            Resource("buffer_per_l", cycles * cv * 1.5, "L", name),
        ),
    )


def sterile_filtration(cfg: Any, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Final 0.22 µm filtration of the product."""
    cap = p.get("sterile_filtration.capacity_per_filter", "L")
    filters = _runs(s.volume_l, cap)
    hours = p.get("sterile_filtration.hours_per_filter", "h") * filters
    out = _separate(s, p, p.get("sterile_filtration.recovery", ""), np.ones_like(s.volume_l), s.volume_l)
    return StepOutcome(name, cfg.op, s, out, hours, hours, (Resource("sterile_filter_each", filters, "", name),))


OPERATIONS: dict[str, OpFunction] = {
    "centrifugation": centrifugation,
    "ultracentrifugation": ultracentrifugation,
    "tff": tff,
    "sec": sec,
    "sterile_filtration": sterile_filtration,
}


def step_name(index: int, op: str) -> str:
    return f"{index + 1}. {op}"


def ceil_int(x: float) -> int:
    return math.ceil(x - 1e-9)
