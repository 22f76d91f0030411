"""Chromatographic and affinity steps: SEC, anion exchange, multimodal chromatography, immunoaffinity.

Capacity sets the column and the number of cycles: SEC by load volume (a
fraction of the column volume per cycle), bind-elute anion exchange by
particle binding capacity, multimodal flow-through by the protein capacity of
its core beads, immunoaffinity by the particles its matrix can bind. Time
comes from column volumes pumped at a flow rate in column volumes per hour.

SEC separates by size: species at or above the resin's exclusion diameter
co-elute with the vesicles; smaller ones partly enter the pores and are
resolved, modelled as a co-eluting fraction ``(d / d_excl)^k``.
"""

from __future__ import annotations

from typing import Literal, cast

import numpy as np
from pydantic import Field

from exoforge.downstream.common import full, runs, separate
from exoforge.downstream.physics import ev_size, size_average, size_nodes
from exoforge.downstream.registry import operation
from exoforge.downstream.stream import Limit, StepBuilder, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.scenario_fields import RESIN_BASIS, Num, OperationSettings, quantity


def _column_volume(
    cfg_ml: float | None, needed_l: np.ndarray, p: UsageLog, prefix: str, like: np.ndarray
) -> np.ndarray:
    if cfg_ml is not None:
        return full(like, cfg_ml / 1000.0)
    cv = np.minimum(needed_l, p.get(f"{prefix}.max_column_volume", "L"))
    return cast("np.ndarray", np.maximum(cv, p.get(f"{prefix}.min_column_volume", "L")))


def _coeluting(diameter_nm: np.ndarray, exclusion_nm: np.ndarray, k: np.ndarray) -> np.ndarray:
    extra = (slice(None),) + (None,) * (np.ndim(diameter_nm) - 1)
    ratio = np.asarray(diameter_nm) / exclusion_nm[extra]
    return cast("np.ndarray", np.minimum(ratio, 1.0) ** k[extra])


def _cycles_limit(step: StepBuilder, cycles: np.ndarray, p: UsageLog, prefix: str, what: str) -> Limit:
    return step.limit(
        f"{what} cycles",
        cycles,
        p.get(f"{prefix}.max_cycles", ""),
        f"{what} cycles per batch; "
        "above it the column is too small for the batch (concentrate first or scale the column)",
    )


def _group_separation_column(cfg_ml: float | None, s: Stream, p: UsageLog) -> tuple[np.ndarray, np.ndarray]:
    """Column volume [L] and cycles of a size-exclusion bed loaded at most ``sec.max_load_fraction`` per cycle."""
    max_frac = p.get("sec.max_load_fraction", "")
    cv = _column_volume(cfg_ml, s.volume_l / max_frac, p, "sec", s.volume_l)
    return cv, runs(s.volume_l, cv * max_frac)


def _group_separation_outcome(
    cfg: SEC | Multimodal,
    s: Stream,
    out: Stream,
    hours: np.ndarray,
    cv: np.ndarray,
    cycles: np.ndarray,
    p: UsageLog,
    name: str,
    what: str,
) -> StepOutcome:
    """Outcome of a size-exclusion bed: attended as SEC, its resin (shared over ``sec.resin_lifetime_batches``)
    and buffer, and the ``sec.max_cycles`` limit."""
    step = StepBuilder(name, cfg.op, s)
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=hours * p.get("sec.attendance_fraction", ""),
        resources=(
            step.uses("sec_resin_per_l", cv / p.get("sec.resin_lifetime_batches", ""), "L"),
            step.uses("buffer_per_l", cycles * cv * p.get("sec.buffer_cv_per_cycle", ""), "L"),
        ),
        equipment=("chromatography_system",),
        limits=(_cycles_limit(step, cycles, p, "sec", what),),
    )


class SEC(OperationSettings):
    """Size-exclusion chromatography: EVs elute in the void volume, proteins later."""

    op: Literal["sec"] = Field(description="unit operation id")
    resin: Literal["sepharose_cl2b", "sepharose_cl4b", "sepharose_cl6b", "qev"] = Field(
        default="sepharose_cl4b", description="SEC resin or column type"
    )
    column_volume_ml: Num | None = quantity(
        None, 0.001, 100_000, "mL", "column volume (default: sized from the load)", basis=RESIN_BASIS
    )


@operation(SEC)
def sec(cfg: SEC, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Size-exclusion chromatography in group-separation mode.

    The load per cycle is at most ``sec.max_load_fraction`` of the column
    volume; the column is the scenario's or the largest standard column that
    is needed (up to ``sec.max_column_volume``), cycled as often as needed.
    """
    cv, cycles = _group_separation_column(cfg.column_volume_ml, s, p)
    hours = cycles * p.get("sec.cycle_hours", "h")
    vol = s.volume_l * p.get("sec.dilution_factor", "")
    excl = p.get(f"sec.exclusion_diameter.{cfg.resin}", "nm")
    k = p.get("sec.partition_exponent", "")
    per_size = None
    if s.size is not None:  # a measured distribution: the sizes the pool keeps shape what follows
        per_size = _coeluting(s.size.nodes, excl, k)
        ev_pool = s.size.average(per_size)
    else:
        median, gsd = ev_size(p)
        ev_pool = size_average(_coeluting(size_nodes(median, gsd), excl, k))
    lipo_pool = _coeluting(p.get("lipoprotein.diameter", "nm"), excl, k)
    base = p.get("sec.recovery", "")
    out = separate(
        s,
        p,
        base * ev_pool,
        p.get("sec.free_protein_retention", ""),
        vol,
        lipoprotein_recovery=base * lipo_pool,
        size_kept=per_size,
    )
    return _group_separation_outcome(cfg, s, out, hours, cv, cycles, p, name, "SEC")


class AnionExchange(OperationSettings):
    """Anion-exchange chromatography in bind-and-elute mode."""

    op: Literal["anion_exchange"] = Field(description="unit operation id")
    resin_volume_ml: Num | None = quantity(
        None, 0.001, 100_000, "mL", "resin volume (default: sized from the binding capacity)", basis=RESIN_BASIS
    )


@operation(AnionExchange)
def anion_exchange(cfg: AnionExchange, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Bind-elute anion exchange: every counted particle competes for the resin's binding capacity.

    Column volume = counted particles / (capacity × load fraction), within the
    standard column sizes; cycles as needed; time = load and cycle volumes over
    the flow rate.
    """
    step = StepBuilder(name, cfg.op, s)
    cap = p.get("anion_exchange.binding_capacity", "particle/L") * p.get("anion_exchange.load_fraction", "")
    load = s.counted_particles
    cv = _column_volume(cfg.resin_volume_ml, load / cap, p, "anion_exchange", s.volume_l)
    cycles = runs(load, cap * cv)
    flow = p.get("anion_exchange.flow_cv_per_h", "1/h") * cv
    cycle_cv = p.get("anion_exchange.cycle_cv", "")
    setup = p.get("anion_exchange.setup_hours", "h")
    hours = s.volume_l / flow + cycles * cycle_cv * cv / flow + setup
    vol = cycles * p.get("anion_exchange.elution_cv", "") * cv
    rec = p.get("anion_exchange.recovery", "")
    out = separate(
        s,
        p,
        rec,
        p.get("anion_exchange.free_protein_retention", ""),
        vol,
        lipoprotein_recovery=rec * p.get("anion_exchange.lipoprotein_carryover", ""),
    )
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=setup + hours * p.get("anion_exchange.attendance_fraction", ""),
        resources=(
            step.uses("aex_resin_per_l", cv / p.get("anion_exchange.resin_lifetime_batches", ""), "L"),
            step.uses("buffer_per_l", cycles * cycle_cv * cv, "L"),
        ),
        equipment=("chromatography_system",),
        limits=(_cycles_limit(step, cycles, p, "anion_exchange", "anion-exchange"),),
    )


class Multimodal(OperationSettings):
    """``core_bead``: ligand-activated core beads in flow-through (proteins bind, vesicles pass);
    ``dual_mode``: size exclusion over a cation exchanger in one column, which also clears
    ApoB lipoproteins (Van Deun et al. 2020, doi:10.1002/adbi.201900310)."""

    op: Literal["multimodal_chromatography"] = Field(description="unit operation id")
    mode: Literal["core_bead", "dual_mode"] = Field(
        default="core_bead", description="core_bead flow-through or dual_mode (SEC over a cation exchanger)"
    )
    resin_volume_ml: Num | None = quantity(
        None, 0.001, 100_000, "mL", "resin volume (default: sized from the capacity)", basis=RESIN_BASIS
    )


@operation(Multimodal)
def multimodal_chromatography(cfg: Multimodal, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Multimodal chromatography: core-bead flow-through (default) or dual-mode (``cfg.mode``)."""
    if cfg.mode == "dual_mode":
        return _dual_mode(cfg, s, p, name)
    return _core_bead(cfg, s, p, name)


def _dual_mode(cfg: Multimodal, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Dual-mode chromatography: a size-exclusion bed over a cation exchanger in one column.

    The size-exclusion layer resolves soluble protein as SEC does and is sized and
    cycled like an SEC column (``sec.*`` load fraction, column sizes, buffer and
    dilution); the cation exchanger binds the positively charged ApoB100
    lipoprotein particles, of which ``multimodal.dual_mode.apob_lipoprotein_carryover``
    pass. EVs keep ``multimodal.dual_mode.recovery``; a cycle takes
    ``multimodal.dual_mode.cycle_hours`` (Van Deun et al. 2020,
    doi:10.1002/adbi.201900310, Abstract). The bed is costed as SEC resin.
    """
    cv, cycles = _group_separation_column(cfg.resin_volume_ml, s, p)
    hours = cycles * p.get("multimodal.dual_mode.cycle_hours", "h")
    out = separate(
        s,
        p,
        p.get("multimodal.dual_mode.recovery", ""),
        p.get("sec.free_protein_retention", ""),
        s.volume_l * p.get("sec.dilution_factor", ""),
        lipoprotein_recovery=p.get("multimodal.dual_mode.apob_lipoprotein_carryover", ""),
    )
    return _group_separation_outcome(cfg, s, out, hours, cv, cycles, p, name, "dual-mode")


def _core_bead(cfg: Multimodal, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Multimodal flow-through (ligand-activated core beads): proteins enter and bind, vesicles flow through.

    Molecules above the core's exclusion limit (lipoprotein particles, large
    complexes: ``multimodal.unbindable_protein_fraction``) pass with the
    vesicles. The core binds ``protein_capacity`` per column volume; cycles are
    capped at ``max_cycles``, beyond which bindable protein breaks through.
    """
    step = StepBuilder(name, cfg.op, s)
    purity = p.get("ev_intrinsic_purity", "particle/ug")
    free = s.free_protein(purity)
    unbindable = p.get("multimodal.unbindable_protein_fraction", "")
    bindable = free * (1.0 - unbindable)
    cap = p.get("multimodal.protein_capacity", "ug/L")
    cv = _column_volume(cfg.resin_volume_ml, bindable / cap, p, "multimodal", s.volume_l)
    needed = runs(bindable, cap * cv)
    cycles = np.minimum(needed, p.get("multimodal.max_cycles", ""))
    breakthrough = np.maximum(bindable - cap * cv * cycles, 0.0)
    free_ret = np.where(free > 0, (free * unbindable + breakthrough) / np.maximum(free, 1e-300), 1.0)
    flow = p.get("multimodal.flow_cv_per_h", "1/h") * cv
    cycle_cv = p.get("multimodal.cycle_cv", "")
    setup = p.get("multimodal.setup_hours", "h")
    hours = s.volume_l / flow + cycles * cycle_cv * cv / flow + setup
    rec = p.get("multimodal.recovery", "")
    out = separate(s, p, rec, free_ret, s.volume_l * p.get("multimodal.dilution_factor", ""))
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=setup + hours * p.get("multimodal.attendance_fraction", ""),
        resources=(
            step.uses("multimodal_resin_per_l", cv / p.get("multimodal.resin_lifetime_batches", ""), "L"),
            step.uses("buffer_per_l", cycles * cycle_cv * cv, "L"),
        ),
        equipment=("chromatography_system",),
        limits=(
            step.limit(
                "multimodal cycles needed",
                needed,
                p.get("multimodal.max_cycles", ""),
                "flow-through cycles the protein load needs; above the cap, protein breaks through",
            ),
        ),
    )


class Immunoaffinity(OperationSettings):
    """Capture of EVs by an antibody against a surface marker."""

    op: Literal["immunoaffinity"] = Field(description="unit operation id")
    marker: Literal["cd9", "cd63", "cd81", "pan_tetraspanin"] = Field(
        default="cd63", description="captured surface marker"
    )


@operation(Immunoaffinity)
def immunoaffinity(cfg: Immunoaffinity, s: Stream, p: UsageLog, name: str) -> StepOutcome:
    """Immunoaffinity capture (antibody beads or matrix) of marker-positive vesicles, then elution.

    Recovery = marker-positive fraction × capture × elution; the single-use
    matrix is sized by its particle binding capacity. Lipoprotein particles and
    free protein are carried over only non-specifically; medium vesicles are
    captured in proportion to the antibody's cross-reactivity.
    """
    step = StepBuilder(name, cfg.op, s)
    positive = p.get(f"immunoaffinity.marker_positive_fraction.{cfg.marker}", "")
    rec = positive * p.get("immunoaffinity.capture_efficiency", "") * p.get("immunoaffinity.elution_recovery", "")
    matrix = s.particles * positive / p.get("immunoaffinity.binding_capacity", "particle/L")
    hours = p.get("immunoaffinity.incubation_hours", "h") + p.get("immunoaffinity.handling_hours", "h")
    carry = p.get("immunoaffinity.nonspecific_carryover", "")
    out = separate(
        s,
        p,
        rec,
        carry,
        matrix * p.get("immunoaffinity.elution_volume_ratio", ""),
        background_recovery=rec * p.get("immunoaffinity.background_cross_reactivity", ""),
        lipoprotein_recovery=carry,
    )
    return step.outcome(
        out,
        process_hours=hours,
        labour_hours=p.get("immunoaffinity.handling_hours", "h") * np.ones_like(matrix),
        resources=(step.uses("immunoaffinity_matrix_per_ml", matrix * 1000.0, "mL"),),
        equipment=("magnetic_separator",),
        limits=(
            step.limit(
                "affinity matrix volume [L]",
                matrix,
                p.get("immunoaffinity.max_matrix_volume", "L"),
                "antibody matrix a batch needs; immunoaffinity is an analytical or small-batch method",
            ),
        ),
    )
