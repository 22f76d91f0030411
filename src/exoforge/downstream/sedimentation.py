"""Centrifugal steps: low-speed clarification, ultracentrifugal pelleting, density gradients.

Pelleting is size-resolved (Stokes sedimentation of the EV size distribution
in the rotor geometry, see :mod:`.physics`); losses that sedimentation does not
explain (pellet resuspension, aggregation, wall adsorption) are a separate
per-spin recovery. Lipoprotein particles, lighter than EVs, float or sediment
slowly; a small fraction is trapped in pellets.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from exoforge.downstream.common import full, runs, separate
from exoforge.downstream.physics import (
    clearing_seconds,
    ev_size,
    pelleted_fraction,
    sedimentation_coefficient,
    size_average,
    size_nodes,
)
from exoforge.downstream.registry import operation
from exoforge.downstream.stream import StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import JUDGEMENT, Int, Num, OperationSettings, quantity


def _media(p: UsageLog) -> tuple[np.ndarray, np.ndarray]:
    return p.get("medium_density", "kg/m**3"), p.get("medium_viscosity", "Pa*s")


def _ev_pelleted(
    p: UsageLog, g: np.ndarray, seconds: np.ndarray, r_start: np.ndarray, r_max: np.ndarray, stream: Stream
) -> tuple[np.ndarray, np.ndarray | None]:
    """Size-averaged fraction of product EVs pelleted in one spin, and (for a measured distribution) the
    fraction of each size."""
    rho_m, mu = _media(p)
    rho_ev = p.get("ev_density", "kg/m**3")
    if stream.size is not None:
        per_size = pelleted_fraction(
            sedimentation_coefficient(stream.size.nodes, rho_ev, rho_m, mu), g, seconds, r_start, r_max
        )
        return stream.size.average(per_size), per_size
    median, gsd = ev_size(p)
    s = sedimentation_coefficient(size_nodes(median, gsd), rho_ev, rho_m, mu)
    return size_average(pelleted_fraction(s, g, seconds, r_start, r_max)), None


def _lipoprotein_pelleted(
    p: UsageLog, g: np.ndarray, seconds: np.ndarray, r_start: np.ndarray, r_max: np.ndarray
) -> np.ndarray:
    rho_m, mu = _media(p)
    s = sedimentation_coefficient(
        p.get("lipoprotein.diameter", "nm"), p.get("lipoprotein.density", "kg/m**3"), rho_m, mu
    )
    return pelleted_fraction(s, g, seconds, r_start, r_max)


class Centrifugation(OperationSettings):
    """Low- or high-speed centrifugation that pellets cells, debris or large vesicles (the supernatant goes on)."""

    op: Literal["centrifugation"] = Field(description="unit operation id")
    g: Num = quantity(
        2000,
        10,
        50_000,
        "g",
        "relative centrifugal force",
        basis=f"{JUDGEMENT}: 300 x g clears cells, 2,000 x g debris, 10,000-20,000 x g large vesicles; "
        "high-speed centrifuges reach about 110,000 x g, beyond which use ultracentrifugation",
    )
    minutes: Num = quantity(20, 0.5, 1440, "min", "spin time", basis=f"{JUDGEMENT}: at most a day")


@operation(Centrifugation)
def centrifugation(cfg: Centrifugation, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Low-speed clarification (cells, debris, large vesicles) in a swinging-bucket benchtop centrifuge.

    The small EVs left in the supernatant are those not pelleted at ``g`` for
    ``minutes`` (Stokes, rotor geometry), times the decanting recovery.
    """
    step = StepBuilder(name, cfg.op, s)
    cap = p.get("centrifugation.capacity_per_run", "L")
    n = runs(s.volume_l, cap)
    handling = p.get("centrifugation.handling_hours_per_run", "h")
    hours = n * (cfg.minutes / 60.0 + handling)
    g = full(s.volume_l, cfg.g)
    t = full(s.volume_l, cfg.minutes * 60.0)
    r_max = p.get("centrifugation.rotor_r_max", "m")
    r_min = p.get("centrifugation.rotor_r_min", "m")
    decant = p.get("centrifugation.decant_recovery", "")
    pelleted, per_size = _ev_pelleted(p, g, t, r_min, r_max, s)
    ev_kept = (1.0 - pelleted) * decant
    lipo_kept = (1.0 - _lipoprotein_pelleted(p, g, t, r_min, r_max)) * decant
    out = separate(
        s,
        p,
        ev_kept,
        np.ones_like(ev_kept),
        s.volume_l,
        lipoprotein_recovery=lipo_kept,
        size_kept=None if per_size is None else 1.0 - per_size,
    )
    max_runs = p.get("centrifugation.max_runs_per_batch", "")
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=n * handling,
        resources=(step.uses("centrifuge_bottles_per_run", n, ""),),
        equipment=("benchtop_centrifuge",),
        limits=(
            step.limit(
                "centrifuge runs",
                n,
                max_runs,
                "batch runs of a benchtop centrifuge per batch; above this, clarify by depth filtration "
                "or continuous centrifugation",
            ),
        ),
    )


class Ultracentrifugation(OperationSettings):
    """Pelleting EVs by ultracentrifugation, with optional washes."""

    op: Literal["ultracentrifugation"] = Field(description="unit operation id")
    g: Num = quantity(
        100_000,
        10_000,
        1_000_000,
        "g",
        "relative centrifugal force",
        basis="floor-model preparative ultracentrifuges reach 548,000-802,400 x g (Beckman Coulter Optima "
        f"brochure, RRID:SCR_019652); {JUDGEMENT}: up to 1e6 x g",
    )
    minutes: Num = quantity(
        70, 1, 1440, "min", "spin time (ignored with cutoff_nm)", basis=f"{JUDGEMENT}: at most a day"
    )
    washes: Int = quantity(1, 0, 5, "1", "wash spins after the first pellet (resuspend in buffer, spin again)")
    resuspension_ml: Num | None = quantity(
        None,
        0.01,
        1000,
        "mL",
        "buffer the final pellet is taken up in (default from the data)",
        basis=f"{JUDGEMENT}: from a 10 uL pellet to a litre",
    )
    rotor: Literal["fixed_angle", "swinging_bucket"] = Field(
        default="fixed_angle", description="rotor type: sets the radial path and the volume per run"
    )
    cutoff_nm: Num | None = quantity(
        None,
        10,
        1000,
        "nm",
        "spin for the k-factor clearing time of EVs of this diameter instead of `minutes`",
        basis=f"{JUDGEMENT}: small EVs are 30-200 nm; 10-1,000 nm spans every vesicle size",
    )


@operation(Ultracentrifugation)
def ultracentrifugation(cfg: Ultracentrifugation, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Pelleting at ~100,000 ×g with optional washes; a fixed rotor volume per run.

    Each spin pellets the size-resolved fraction of EVs (Stokes over the
    rotor's radial path: along the tube in a swinging bucket, across it in a
    fixed-angle rotor; with ``cutoff_nm`` the spin lasts the k-factor clearing
    time of that diameter) and keeps ``pellet_recovery`` of what it pellets. The feed
    needs ``ceil(V / rotor volume)`` runs; each wash is one more run.
    """
    step = StepBuilder(name, cfg.op, s)
    rotor = f"ultracentrifugation.{cfg.rotor}"
    cap = p.get(f"{rotor}.capacity_per_run", "L")
    r_max = p.get(f"{rotor}.r_max", "m")
    r_start = r_max - p.get(f"{rotor}.radial_path", "m")
    g = full(s.volume_l, cfg.g)
    if cfg.cutoff_nm is not None:
        rho_m, mu = _media(p)
        s_cut = sedimentation_coefficient(full(s.volume_l, cfg.cutoff_nm), p.get("ev_density", "kg/m**3"), rho_m, mu)
        seconds = clearing_seconds(s_cut, g, r_start, r_max)
    else:
        seconds = full(s.volume_l, cfg.minutes * 60.0)
    first = runs(s.volume_l, cap)
    spins = first + cfg.washes * 1.0
    handling = p.get("ultracentrifugation.handling_hours_per_run", "h")
    hours = spins * (seconds / 3600.0 + handling)
    if cfg.resuspension_ml is not None:
        vol = full(s.volume_l, cfg.resuspension_ml / 1000.0)
    else:
        vol = p.get("ultracentrifugation.resuspension_volume", "L") * np.ones_like(s.volume_l)
    kept = p.get("ultracentrifugation.pellet_recovery", "")
    n_pellets = 1 + cfg.washes
    pelleted, per_size = _ev_pelleted(p, g, seconds, r_start, r_max, s)
    size_kept: np.ndarray | None = None
    if per_size is not None and s.size is not None:  # each pellet keeps the sizes it pellets, spin after spin
        size_kept = (per_size * kept[:, None]) ** n_pellets
        ev_rec = s.size.average(size_kept)
    else:
        ev_rec = (pelleted * kept) ** n_pellets
    lipo_pel = _lipoprotein_pelleted(p, g, seconds, r_start, r_max)
    trap = p.get("ultracentrifugation.lipoprotein_trapping", "")
    lipo_rec = ((lipo_pel + trap * (1.0 - lipo_pel)) * kept) ** n_pellets
    free_ret = p.get("ultracentrifugation.free_protein_retention", "")
    out = separate(s, p, ev_rec, free_ret, vol, lipoprotein_recovery=lipo_rec, size_kept=size_kept)
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=spins * handling,
        resources=(step.uses("uc_tubes_per_run", spins, ""),),
        equipment=("ultracentrifuge",),
        limits=(
            step.limit(
                "ultracentrifuge feed volume [L]",
                s.volume_l,
                p.get("ultracentrifugation.practical_volume_limit", "L"),
                "feed volume an ultracentrifugation step can take in a working day of rotor runs; "
                "above it ultracentrifugation does not scale (concentrate by TFF first)",
            ),
        ),
    )


class DensityGradient(OperationSettings):
    """Density-gradient flotation or sedimentation of an EV pellet."""

    op: Literal["density_gradient"] = Field(description="unit operation id")
    medium: Literal["iodixanol", "sucrose"] = Field(default="iodixanol", description="gradient medium")
    hours: Num = quantity(
        18, 0.5, 96, "h", "spin time of the gradient", basis=f"{JUDGEMENT}: published gradients spin 1-90 h"
    )


@operation(DensityGradient)
def density_gradient(cfg: DensityGradient, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Iodixanol or sucrose density gradient: EVs band at their buoyant density, lipoproteins float.

    A small load per tube; ``cfg.hours`` at ~100,000 ×g per run. Recovery of
    the EV band, lipoprotein and soluble-protein carry-over are parameters.
    """
    step = StepBuilder(name, cfg.op, s)
    tubes = p.get("density_gradient.tubes_per_run", "")
    load = p.get("density_gradient.load_per_tube", "L")
    n = runs(s.volume_l, tubes * load)
    handling = p.get("density_gradient.handling_hours_per_run", "h")
    hours = n * (cfg.hours + handling)
    vol = n * tubes * p.get("density_gradient.collected_volume_per_tube", "L")
    out = separate(
        s,
        p,
        p.get("density_gradient.recovery", ""),
        p.get("density_gradient.free_protein_retention", ""),
        vol,
        lipoprotein_recovery=p.get("density_gradient.lipoprotein_carryover", ""),
    )
    gradient_l = n * tubes * p.get("density_gradient.gradient_volume_per_tube", "L")
    medium_item = "iodixanol_per_l" if cfg.medium == "iodixanol" else "sucrose_gradient_per_l"
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=n * handling,
        resources=(step.uses(medium_item, gradient_l, "L"), step.uses("uc_tubes_per_run", n, "")),
        equipment=("ultracentrifuge",),
        limits=(
            step.limit(
                "gradient load volume [L]",
                s.volume_l,
                p.get("density_gradient.practical_volume_limit", "L"),
                "sample volume density gradients can take per batch; a polishing step after concentration",
            ),
        ),
    )
